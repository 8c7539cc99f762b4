"""Grammar benchmark: for every shipped grammar and several texts, compile time and the
per-token cost of mask + advance on real tokenizers, as one table, side by side with
llguidance and XGrammar when they are installed.

    python -m bench.bench_grammar                       # smollm2 and llama3
    python -m bench.bench_grammar --tokenizers llama3   # one tokenizer
    python -m bench.bench_grammar --grammars sql json
    python -m bench.bench_grammar --no-peers            # structgen only
    python -m bench.bench_grammar --repeat 5            # structgen's figures: medians of 5

structgen columns (each the median over ``--repeat`` runs, 3 by default, every run from
cleared caches: a single run's first-visit p50 moved by up to a fifth with what the process
had done before, such as page faults on memory the allocator had given back; the peers
run once):

* compile ms: ``Grammar.builtin(name)`` (Lark loading, lowering, the automaton) plus
  ``structgen.compile(grammar, vocabulary=...)`` (the token index and its initial state),
  with every cache cleared first, the vocabulary's walks of earlier grammars included
  (``VocabArrays.forget_grammars``). The vocabulary itself is mapped once per tokenizer
  (its byte arrays, the table of token suffixes, its tokens grouped by first bytes).
* first visit: each text is fed token by token through fresh states (``mask()`` then
  ``advance(token)``), the cost a new text pays; texts of one grammar share the caches, as
  generations of one compiled grammar do.
* steady: the same token sequences replayed (memoised masks and moves).

Peers (optional bench dependencies, never runtime ones; columns appear for those
installed)::

    pip install llguidance
    pip install --no-deps xgrammar apache-tvm-ffi   # its declared dependencies pull in
                                                    # CUDA torch and triton; the CPU torch
                                                    # already installed is enough

Each peer gets the same grammar, converted by ``bench/peers.py`` from structgen's Grammar IR
to llguidance's Lark dialect or to XGrammar's EBNF (see there for how ``%ignore`` and
keyword-excluding terminals are written), and the same token ids for the same texts.
Their tokenizer info (``llguidance.hf.from_tokenizer``, ``xgrammar.TokenizerInfo``) is
built once per tokenizer, like structgen's vocabulary. compile ms is the grammar's compile
for that tokenizer (XGrammar with one thread and its cache off); p50/p99 are per token
``fill_next_token_bitmask`` + ``consume_token``/``accept_token`` over all texts, each text
from a fresh matcher of the one compiled grammar: compare them with structgen's first-visit
columns. A peer that cannot take a grammar, refuses a token of a text, or does not accept
a text at its end shows that in its cell instead of times.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import importlib.util
import time
from pathlib import Path

import numpy as np

import structgen
from structgen import assets, lark_grammar, regex
from structgen import compiler as compile_mod
from structgen import index as index_mod
from structgen.automata import grammar as automaton_mod
from structgen.index import suffix_table, vocab_arrays
from structgen.testing import token_ids_for_text

from . import peers as peers_mod

SAMPLES = Path(__file__).resolve().parent.parent / "grammars" / "samples"
EXTRA = {
    "arithmetic": ["1 + 2 * 3", "f(x, y ** 2) / (a - -b) % 7"],
    "csv": ['id,name,score\n1,Ann,9.5\n2,"Bob, Jr.",7\n'],
    "json": ['{"a": 1, "b": [true, null, "x\\n"], "c": {"d": -0.5e-3}}'],
    "minic": ["int main() { return 0; }"],
    "python_expr": ["[f(x) for x in xs if x]", "a.b(c)[1:2] + {'k': lambda y: y * 2}"],
    "sql": [
        "SELECT a FROM t",
        "select count(*) from t1 join t2 on t1.id = t2.id where x in (1, 2)",
    ],
}


def texts_for(name: str) -> list[str]:
    files = sorted(SAMPLES.glob(f"{name}_*.txt"))
    return [p.read_text(encoding="utf-8") for p in files] + EXTRA.get(name, [])


def pct(xs, p) -> float:
    return float(np.percentile(np.asarray(xs), p)) if xs else float("nan")


def clear_caches(vocab=None) -> None:
    """Forget every compiled grammar, lowered regex and terminal DFA, and what the
    vocabulary ``vocab`` learned from walking them (a fresh process, apart from the imports
    and the per-tokenizer mapping of the vocabulary)."""
    if vocab is not None:
        vocab_arrays(vocab).forget_grammars()
    compile_mod._AUTOMATA.clear()
    compile_mod._INDEXES.clear()
    lark_grammar._terminal_ir.cache_clear()
    regex.lower_regex.cache_clear()
    automaton_mod._DFA_CACHE.clear()
    index_mod._BLOCKS.clear()
    gc.collect()


def bench_structgen(name: str, tok, vocab) -> dict:
    clear_caches(vocab)
    t0 = time.perf_counter()
    grammar = structgen.Grammar.builtin(name)
    compiled = structgen.compile(grammar, vocabulary=vocab)
    t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    compiled.matcher().mask()
    t_first_mask = time.perf_counter() - t0
    first, steady, n_tokens = [], [], 0
    seqs = [token_ids_for_text(tok, text) for text in texts_for(name)]
    for seq in seqs:
        m = compiled.matcher()
        for t in seq:
            t0 = time.perf_counter()
            mask = m.mask()
            ok = m.advance(t)
            first.append(time.perf_counter() - t0)
            assert mask[t] and ok, f"{name}: token {t} refused"
        assert m.is_accepting()
        n_tokens += len(seq)
    for seq in seqs:
        m = compiled.matcher()
        for t in seq:
            t0 = time.perf_counter()
            m.mask()
            m.advance(t)
            steady.append(time.perf_counter() - t0)
    return {
        "compile_ms": t_compile * 1e3,
        "first_mask_ms": t_first_mask * 1e3,
        "first_p50_us": pct(first, 50) * 1e6,
        "first_p99_us": pct(first, 99) * 1e6,
        "steady_p50_us": pct(steady, 50) * 1e6,
        "steady_p99_us": pct(steady, 99) * 1e6,
        "tokens": n_tokens,
        "texts": len(seqs),
    }


def installed_peers() -> list[tuple[str, type]]:
    out = []
    for mod, cls in peers_mod.PEERS:
        if importlib.util.find_spec(mod):
            out.append((mod, cls))
    return out


def peer_cell(r) -> str:
    """compile ms, p50 us, p99 us of one peer; or its reason spanning the three columns."""
    if isinstance(r, str):
        return f"{r[:32]:<32}"
    return f"{r['compile_ms']:>10.1f} {r['p50_us']:>10.1f} {r['p99_us']:>10.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tokenizers", nargs="+", default=["smollm2", "llama3"])
    ap.add_argument("--grammars", nargs="+", default=structgen.Grammar.builtin_names())
    ap.add_argument("--no-peers", action="store_true", help="structgen columns only")
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs of structgen per cell (medians; default 3)"
    )
    args = ap.parse_args()
    structgen.Grammar('start: "a"')  # import Lark and build its grammar parser once
    others = [] if args.no_peers else installed_peers()
    labels = [cls.label for _, cls in others]
    print(
        "peers: "
        + (", ".join(f"{mod} {importlib.metadata.version(mod)}" for mod, _ in others) or "none")
    )
    top = f"{'':<22} {'structgen':-^88}" + "".join(f" {label:-^32}" for label in labels)
    head = (
        f"{'tokenizer':<9} {'grammar':<12} {'compile ms':>10} {'1st mask ms':>11} "
        f"{'first p50 us':>12} {'first p99 us':>12} {'steady p50 us':>13} {'steady p99 us':>13} "
        f"{'tokens':>6}" + f" {'compile ms':>10} {'p50 us':>10} {'p99 us':>10}" * len(others)
    )
    print(top)
    print(head)
    for tname in args.tokenizers:
        tok = assets.load_tokenizer(tname)
        vocab_size = assets.MODEL_VOCAB_SIZE.get(tname)
        vocab = structgen.Vocabulary.from_tokenizer(tok, vocab_size=vocab_size)
        # per tokenizer, not part of any grammar's compile time
        suffix_table(vocab_arrays(vocab))
        vocab_arrays(vocab).pairs()
        engines = []
        for _, cls in others:
            try:
                engines.append(cls(tok, vocab_size))
            except Exception as e:  # a peer that cannot read this tokenizer says so
                engines.append(f"tokenizer: {' '.join(str(e).split())}")
        for gname in args.grammars:
            runs = [bench_structgen(gname, tok, vocab) for _ in range(max(1, args.repeat))]
            r = {k: float(np.median([x[k] for x in runs])) for k in runs[0]}
            ir_grammar = structgen.Grammar.builtin(gname).to_grammar()
            seqs = [token_ids_for_text(tok, text) for text in texts_for(gname)]
            cells = "".join(
                " " + peer_cell(e if isinstance(e, str) else e.run(ir_grammar, seqs))
                for e in engines
            )
            print(
                f"{tname:<9} {gname:<12} {r['compile_ms']:>10.1f} {r['first_mask_ms']:>11.1f} "
                f"{r['first_p50_us']:>12.1f} {r['first_p99_us']:>12.1f} {r['steady_p50_us']:>13.2f} "
                f"{r['steady_p99_us']:>13.2f} {r['tokens']:>6.0f}{cells}",
                flush=True,
            )


if __name__ == "__main__":
    main()
