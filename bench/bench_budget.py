"""Budget steering cost: what ``max_new_tokens`` steering adds per step, without a model.

For each schema (the four of the end-to-end budget test) on a real tokenizer:

* setup: building the per-vocabulary distance tables (``Matcher.tokens_to_complete`` on
  a fresh compile: terminal and rule minima);
* a relaxed step: ``tokens_to_complete()`` of a state (what every step pays while the
  budget has room), median over the states of random walks;
* a tight step: ``mask_within(n)`` on states not seen before (a vectorised walk of the
  vocabulary per parse element, plus exact steps of the tokens that leave a terminal),
  median and p90, and the same call again (memoised).

    python bench/bench_budget.py [--tokenizer smollm2] [--walks 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_ROOT), str(_ROOT / "tests")]

import structgen  # noqa: E402
from structgen import assets  # noqa: E402
from structgen import compiler as compile_mod  # noqa: E402
from structgen.jsonschema import JsonSchema  # noqa: E402


def _schemas():
    import test_schema_e2e as e2e

    return {n: e2e.CASES[n][0] for n in ("person", "order", "ticket", "glaive")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer", default="smollm2")
    ap.add_argument("--walks", type=int, default=5)
    args = ap.parse_args()
    tok = assets.load_tokenizer(args.tokenizer)
    print(f"tokenizer {args.tokenizer}; times in ms")
    print(
        f"{'schema':8} {'setup':>8} {'relaxed':>8} {'tight p50':>10} {'tight p90':>10} {'again':>8}"
    )
    for name, schema in _schemas().items():
        compile_mod._INDEXES.clear()
        compile_mod._AUTOMATA.clear()
        compiled = structgen.compile(JsonSchema(schema), tok)
        t0 = time.perf_counter()
        need = compiled.matcher().tokens_to_complete()
        setup = time.perf_counter() - t0
        rng = random.Random(0)
        relaxed, tight, again = [], [], []
        for _ in range(args.walks):
            m = compiled.matcher()
            budget = int(need) + 20
            for left in range(budget, 0, -1):
                t0 = time.perf_counter()
                m.tokens_to_complete()
                relaxed.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                mask = m.mask_within(left)
                tight.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                m.mask_within(left)
                again.append(time.perf_counter() - t0)
                ids = np.flatnonzero(mask)
                m.advance(int(rng.choice(list(ids))))
                if m.is_ended():
                    break
        print(
            f"{name:8} {setup * 1e3:8.1f} {statistics.median(relaxed) * 1e3:8.3f} "
            f"{statistics.median(tight) * 1e3:10.2f} {np.percentile(tight, 90) * 1e3:10.2f} "
            f"{statistics.median(again) * 1e3:8.3f}"
        )


if __name__ == "__main__":
    main()
