"""Budget steering cost: what ``max_new_tokens`` steering adds per step, without a model.

For each schema (the four of the end-to-end budget test, and a three-label enum) on a real
tokenizer, the byte count (the budget before it was counted in tokens) against the token
count, in one run:

* ``bytes`` / ``tokens``: the shortest output's length in bytes, and the tokens
  ``tokens_to_complete()`` counts for it (the length of its token plan);
* setup: the per-vocabulary distance tables (``Budget(index)``: terminal and rule
  minima), and the first token plan of the schema (``plan``);
* a relaxed step (tokens to spare), on the states of the same walks: ``old``, the byte
  count against the margin alone (what a step cost before: it let through tokens that
  open more than the tokens left can close); ``new``, that plus
  ``Budget.worst_next`` (the largest byte count after any allowed token, one vectorised
  walk per parser state, memoised), median and mean;
* a tight step, on states not seen before along random walks under a budget a few tokens
  over the token count: ``old``, the byte-count mask alone (what a step cost before);
  ``new``, the mask with the token plan (``Budget.allowed``) plus the check of the 8
  best-scored tokens the byte count held back (random scores, as the logits processor
  does with the model's), median and p90.

    python bench/bench_budget.py [--tokenizer smollm2] [--walks 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_ROOT), str(_ROOT / "tests")]

import structgen  # noqa: E402
from structgen import assets  # noqa: E402
from structgen import compiler as compile_mod  # noqa: E402
from structgen.budget import Budget  # noqa: E402
from structgen.jsonschema import JsonSchema  # noqa: E402

_WIDEN = 8


def _schemas():
    import test_schema_e2e as e2e

    out = {n: e2e.CASES[n][0] for n in ("person", "order", "ticket", "glaive")}
    out["enum3"] = {"enum": ["positive", "negative", "neutral"]}
    return out


def _old_mask(b: Budget, st, n: int) -> np.ndarray:
    """The byte-count mask alone (the steering step before budgets counted tokens)."""
    best = b.next_distances(st)
    m = best <= n - 1
    if not m.any():
        lo = best.min()
        m = best == lo
    return m


def _new_mask(b: Budget, st, n: int, rng: np.random.Generator) -> np.ndarray:
    m = b.allowed(st, n)
    held = b.index.mask(st) & ~m
    if held.any():
        ids = np.flatnonzero(held)
        top = ids[np.argsort(-rng.standard_normal(ids.size))[:_WIDEN]]
        extra = [int(t) for t in top if b.fits(st, int(t), n)]
        if extra:
            m = m.copy()
            m[extra] = True
    return m


def _ms(xs, q=50) -> str:
    return f"{np.percentile(xs, q) * 1e3:.2f}" if xs else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer", default="smollm2")
    ap.add_argument("--walks", type=int, default=5)
    args = ap.parse_args()
    tok = assets.load_tokenizer(args.tokenizer)
    print(f"tokenizer {args.tokenizer}; times in ms")
    print(
        f"{'schema':8} {'bytes':>5} {'tokens':>6} {'setup':>7} {'plan':>6} "
        f"{'old p50':>8} {'old p90':>8} {'new p50':>8} {'new p90':>8} "
        f"{'relaxed old':>11} {'new p50':>8} {'new mean':>8}"
    )
    for name, schema in _schemas().items():
        compile_mod._INDEXES.clear()
        compile_mod._AUTOMATA.clear()
        compiled = structgen.compile(JsonSchema(schema), tok)
        index = compiled.matcher().index
        t0 = time.perf_counter()
        old_b = Budget(index)
        setup = time.perf_counter() - t0
        new_b = Budget(index)
        st0 = index.initial
        nbytes = old_b.bytes_to_complete(st0)
        t0 = time.perf_counter()
        ntok = new_b.tokens_to_complete(st0)
        plan = time.perf_counter() - t0
        rng = random.Random(0)
        nrng = np.random.default_rng(0)
        old, new, r_old, r_new = [], [], [], []
        relax_b = Budget(index)
        seen = set()
        for _ in range(args.walks):
            m = compiled.matcher()
            for left in range(int(ntok) + 4, 0, -1):
                st = m.state
                index.mask(st)  # both steps see the index's mask memoised
                room = int(ntok) + 40
                t0 = time.perf_counter()
                _ = room >= old_b.bytes_to_complete(st) + 32
                r_old.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                _ = room >= relax_b.bytes_to_complete(st) + 32 and room >= relax_b.worst_next(st)
                r_new.append(time.perf_counter() - t0)
                if st.config not in seen:
                    seen.add(st.config)
                    t0 = time.perf_counter()
                    _old_mask(old_b, st, left)
                    old.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    mask = _new_mask(new_b, st, left, nrng)
                    new.append(time.perf_counter() - t0)
                else:
                    mask = _new_mask(new_b, st, left, nrng)
                ids = np.flatnonzero(mask)
                m.advance(int(rng.choice(list(ids))))
                if m.is_ended():
                    break
            assert m.is_accepting(), name
        print(
            f"{name:8} {int(nbytes):5d} {int(ntok):6d} {setup * 1e3:7.1f} {plan * 1e3:6.1f} "
            f"{_ms(old):>8} {_ms(old, 90):>8} {_ms(new):>8} {_ms(new, 90):>8} "
            f"{_ms(r_old):>11} {_ms(r_new):>8} {np.mean(r_new) * 1e3:8.2f}"
        )


if __name__ == "__main__":
    main()
