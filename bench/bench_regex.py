"""Regex benchmark: compile time, first-visit and steady-state mask+advance per token on
real tokenizers, and time inside the logits processor while SmolLM2 generates.

    python bench/bench_regex.py                 # all of it
    python bench/bench_regex.py --no-model      # tokenizer-only figures
    python bench/bench_regex.py --no-model --tokenizers smollm2 --regexes email

Per-token figures come from random walks through the mask (uniform over allowed tokens,
EOS avoided until the text may end): the first pass over fresh states is the
"first visit", replaying the same token sequences is the "steady state". Compile time
includes the mask of the initial state (computed by ``structgen.compile``); "1st mask" is
what is left of the first ``mask()`` call after that.

The replay section feeds fixed realistic outputs (tokenized) through the logits
processor with random scores, at batch 1 and 4: time inside the processor per step with
no model running. The model section does the same while SmolLM2 generates.

The intersection section times an email format intersected with a length bound (the
emptiness checks of ``&``), compiled as a grammar and walked over a few addresses.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time

import numpy as np

import structgen
from structgen import assets
from structgen import compiler as compile_mod
from structgen.index import vocab_arrays

WORDS = [f"{a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in "lmnprst"][:200]

REGEXES = {
    "date": r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])",
    "email": r"[a-zA-Z0-9._%+-]{1,64}@[a-zA-Z0-9-]{1,63}(\.[a-zA-Z0-9-]{1,63}){0,4}\.[a-zA-Z]{2,12}",
    "phone": r"\+?1? ?\(?\d{3}\)?[ -]?\d{3}-\d{4}",
    "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    "ipv4": r"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)",
    "identifier": r"[A-Za-z_][A-Za-z0-9_]{0,63}",
    "w500": r"\w{1,500}",
    "words200": "(" + "|".join(WORDS) + ")",
}


def pct(xs, p):
    return float(np.percentile(np.asarray(xs), p)) if xs else float("nan")


def walks(compiled, n_walks: int, max_len: int, seed: int = 0):
    rng = random.Random(seed)
    eos = compiled.vocabulary.eos_ids
    first, seqs = [], []
    for _ in range(n_walks):
        m = compiled.matcher()
        seq = []
        for _ in range(max_len):
            t0 = time.perf_counter()
            mask = m.mask()
            allowed = np.flatnonzero(mask)
            eos_ok = [a for a in eos if mask[a]]
            non_eos = [
                a for a in allowed[rng.randrange(len(allowed)) :][:64].tolist() if a not in eos
            ]
            tok = (
                rng.choice(non_eos)
                if non_eos and (not eos_ok or rng.random() < 0.85)
                else eos_ok[0]
            )
            ok = m.advance(tok)
            first.append(time.perf_counter() - t0)
            assert ok
            seq.append(tok)
            if m.is_ended() or m.is_finished():
                break
        seqs.append(seq)
    steady = []
    for seq in seqs:
        m = compiled.matcher()
        for tok in seq:
            t0 = time.perf_counter()
            m.mask()
            m.advance(tok)
            steady.append(time.perf_counter() - t0)
    return first, steady


def bench_tokenizer(name: str, n_walks: int, max_len: int) -> None:
    tok = assets.load_tokenizer(name)
    size = assets.MODEL_VOCAB_SIZE.get(name)
    t0 = time.perf_counter()
    vocab = structgen.Vocabulary.from_tokenizer(tok, vocab_size=size)
    vocab_arrays(vocab)  # per-tokenizer work, not part of any regex's compile time
    _ = vocab.fingerprint  # (the cache key of compile(), computed once per vocabulary)
    print(f"\n## tokenizer {name} (vocabulary {size}, mapped in {time.perf_counter() - t0:.2f} s)")
    print(
        f"{'regex':<11} {'compile ms':>10} {'1st mask ms':>11} {'first p50 us':>12} "
        f"{'first p99 us':>12} {'steady p50 us':>13} {'steady p99 us':>13} {'tokens':>7}"
    )
    for rname, pattern in REGEXES.items():
        compile_mod._AUTOMATA.clear()
        compile_mod._INDEXES.clear()
        gc.collect()
        t0 = time.perf_counter()
        compiled = structgen.compile(structgen.Regex(pattern), tok, vocab_size=size)
        t_compile = time.perf_counter() - t0
        t0 = time.perf_counter()
        compiled.matcher().mask()
        t_first = time.perf_counter() - t0
        first, steady = walks(compiled, n_walks, max_len)
        print(
            f"{rname:<11} {t_compile * 1e3:>10.2f} {t_first * 1e3:>11.2f} {pct(first, 50) * 1e6:>12.1f} "
            f"{pct(first, 99) * 1e6:>12.1f} {pct(steady, 50) * 1e6:>13.2f} {pct(steady, 99) * 1e6:>13.2f} "
            f"{len(steady):>7}"
        )


# realistic outputs, replayed through the processor without the model (bench_replay)
TEXTS = {
    "date": ["2024-03-15", "1999-12-31", "2023-07-04", "2000-01-01"],
    "email": [
        "john.smith@example.com",
        "alice_wonder.land+news@mail.server-01.co.uk",
        "bob@test.io",
        "first.middle.last@department.university.edu",
    ],
    "phone": ["+1 (555) 123-4567", "555-123-4567", "(555) 987-6543", "1 555 234-5678"],
    "uuid": [
        "123e4567-e89b-42d3-a456-426614174000",
        "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "6fa459ea-ee8a-3ca4-894e-db77e160355e",
        "0e4f7c2a-9b1d-5e3f-8a6b-7c8d9e0f1a2b",
    ],
    "ipv4": ["192.168.0.1", "10.0.0.255", "172.16.254.3", "8.8.8.8"],
    "identifier": ["my_variable_name", "parseHttpRequestHeaders", "_private_cache_size", "x1"],
    "w500": [
        "The_quick_brown_fox_jumps_over_the_lazy_dog_" * 6,
        "internationalization_and_localization_of_software_products_" * 4,
        "Zürich_München_Köln_Düsseldorf_Genève_" * 5,
        "hello_world",
    ],
    "words200": [WORDS[0], WORDS[57], WORDS[123], WORDS[-1]],
}


def bench_replay(name: str = "smollm2", batch_sizes=(1, 4)) -> None:
    """Time inside the processor per step, replaying realistic outputs (no model): the
    rows of a batch are the texts of TEXTS (tokenized by the tokenizer) then EOS."""
    import re

    import torch

    tok = assets.load_tokenizer(name)
    size = assets.MODEL_VOCAB_SIZE[name]
    eos = assets.EOS_TOKEN_ID[name]
    print(f"\n## processor replaying fixed outputs (tokenizer {name}), time per decoding step")
    print(f"{'regex':<11} {'batch':>5} {'steps':>5} {'processor ms/step':>17}")
    gen = torch.Generator().manual_seed(0)
    scores_all = torch.randn((max(batch_sizes), size), generator=gen)
    prompt = torch.tensor(tok.encode("Example:", add_special_tokens=False), dtype=torch.long)
    for rname, pattern in REGEXES.items():
        texts = TEXTS[rname]
        for t in texts:
            assert re.fullmatch(pattern, t), (rname, t)
        compile_mod._AUTOMATA.clear()
        compile_mod._INDEXES.clear()
        gc.collect()
        compiled = structgen.compile(structgen.Regex(pattern), tok, vocab_size=size)
        seqs = [tok.encode(t, add_special_tokens=False) + [eos] for t in texts]
        for bs in batch_sizes:
            proc = structgen.LogitsProcessor(compiled)
            rows = seqs[:bs]
            n = max(len(r) for r in rows)
            ids = prompt.repeat(bs, 1)
            for k in range(n):
                proc(ids, scores_all[:bs].clone())
                nxt = torch.tensor([r[k] if k < len(r) else eos for r in rows], dtype=torch.long)
                ids = torch.cat([ids, nxt[:, None]], 1)
            steps = proc.stats["calls"]
            p_ms = proc.stats["seconds"] / steps * 1e3
            print(f"{rname:<11} {bs:>5} {steps:>5} {p_ms:>17.3f}")


def bench_intersection(name: str = "smollm2") -> None:
    from structgen import ir

    tok = assets.load_tokenizer(name)
    size = assets.MODEL_VOCAB_SIZE.get(name)
    print(f"\n## email & .{{0,N}} (tokenizer {name})")
    print(f"{'N':>6} {'compile ms':>10} {'walk ms':>8} {'tokens':>6}")
    email = structgen.Regex(REGEXES["email"]).to_ir()
    texts = [
        "john.smith@example.com",
        "a.b-c_d+e@sub.domain.co.uk",
        "x" * 60 + "@" + "y" * 60 + ".org",
    ]
    for n in (64, 1024):
        bound = ir.Repeat(ir.Chars(((0, 0x10FFFF),)), 0, n)
        grammar = ir.Grammar(rules={"start": ir.And((email, bound))})
        compile_mod._AUTOMATA.clear()
        compile_mod._INDEXES.clear()
        from structgen.automata import grammar as grammar_mod

        grammar_mod._DFA_CACHE.clear()
        gc.collect()
        t0 = time.perf_counter()
        compiled = structgen.compile(grammar, tok, vocab_size=size)
        t_compile = time.perf_counter() - t0
        steps = 0
        t0 = time.perf_counter()
        for text in texts:
            m = compiled.matcher()
            for t in tok.encode(text, add_special_tokens=False):
                m.mask()
                m.advance(t)
                steps += 1
        t_walk = time.perf_counter() - t0
        print(f"{n:>6} {t_compile * 1e3:>10.2f} {t_walk * 1e3:>8.2f} {steps:>6}")


def bench_model(batch_sizes=(1, 4), max_new_tokens: int = 48) -> None:
    import torch

    model, tok = assets.load_model()
    tok.padding_side = "left"
    print("\n## SmolLM2-135M-Instruct generating (greedy), time per decoding step")
    print(
        f"{'regex':<11} {'batch':>5} {'steps':>5} {'processor ms/step':>17} {'model ms/step':>13}"
    )
    prompts = [
        "Write one example value.",
        "Give an example, nothing else.",
        "Example output please.",
        "One sample:",
    ]
    for rname, pattern in REGEXES.items():
        compiled = structgen.compile(
            structgen.Regex(pattern), tok, vocab_size=model.config.vocab_size
        )
        for bs in batch_sizes:
            chats = [
                tok.apply_chat_template(
                    [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
                )
                for p in prompts[:bs]
            ]
            enc = tok(chats, return_tensors="pt", padding=True)
            proc = structgen.LogitsProcessor(compiled)
            t0 = time.perf_counter()
            with torch.no_grad():
                model.generate(
                    **enc,
                    logits_processor=[proc],
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id
                    if tok.pad_token_id is not None
                    else tok.eos_token_id,
                )
            total = time.perf_counter() - t0
            steps = proc.stats["calls"]
            p_ms = proc.stats["seconds"] / steps * 1e3
            m_ms = (total - proc.stats["seconds"]) / steps * 1e3
            print(f"{rname:<11} {bs:>5} {steps:>5} {p_ms:>17.3f} {m_ms:>13.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tokenizers", default="smollm2,llama3")
    ap.add_argument("--walks", type=int, default=30)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--no-model", action="store_true")
    ap.add_argument("--regexes", default=",".join(REGEXES), help="names from REGEXES")
    args = ap.parse_args()
    wanted = args.regexes.split(",")
    for name in list(REGEXES):
        if name not in wanted:
            del REGEXES[name]
    for name in args.tokenizers.split(","):
        bench_tokenizer(name, args.walks, args.max_len)
    bench_intersection()
    bench_replay()
    if not args.no_model:
        bench_model()
    print(
        f"\n(python {statistics.__name__ and __import__('sys').version.split()[0]}, numpy {np.__version__})"
    )


if __name__ == "__main__":
    main()
