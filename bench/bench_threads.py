"""Masks of one shared compiled constraint from several threads, while its caches evict.

Each of a few JSON Schemas is compiled once per tokenizer, with a small cache bound
(``--cache-mib``, default 2) so that its caches evict all the time; JSON texts of the
schema (MaskBench-like instances, several spellings) are tokenized with the tokenizer's own
tokenization and fed token by token to a fresh Matcher: ``mask()``, check that the token
is allowed, ``advance()``. Every thread has its own matchers; the compiled constraints are
shared. Reported: the wall time and steps per second with 1 thread, then with
``--threads`` threads (the same work each), and any error a thread raised.

    python bench/bench_threads.py                          # smollm2 and llama3, 1 and 4 threads
    python bench/bench_threads.py --tokenizers llama3 --threads 8 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import structgen  # noqa: E402
from structgen import assets  # noqa: E402
from structgen.testing import token_ids_for_text  # noqa: E402

SCHEMAS = [
    {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0},
            "email": {"type": "string", "format": "email"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "age"],
    },
    {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
            "price": {"type": "number"},
            "status": {"enum": ["open", "closed", "pending"]},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                    "required": ["sku", "qty"],
                },
            },
        },
        "required": ["id", "status"],
    },
    {
        "type": "array",
        "items": {"anyOf": [{"type": "number"}, {"type": "boolean"}, {"type": "null"}]},
    },
]

WORDS = ["alpha", "Bravo", "charlie delta", "écho", "日本", "x" * 30, 'a\\"b', "tab\there"]


def _instances(k: int, rng: random.Random) -> list:
    out = []
    for _ in range(12):
        if k == 0:
            v = {"name": rng.choice(WORDS), "age": rng.randrange(100)}
            if rng.random() < 0.6:
                v["email"] = f"{rng.choice(['ann', 'bo', 'x.y'])}@example.com"
            if rng.random() < 0.6:
                v["tags"] = [rng.choice(WORDS) for _ in range(rng.randrange(4))]
        elif k == 1:
            v = {"id": f"ABC-{rng.randrange(10000):04d}", "status": rng.choice(["open", "closed"])}
            if rng.random() < 0.7:
                v["price"] = round(rng.uniform(-1e3, 1e3), rng.randrange(4))
            v["items"] = [
                {"sku": rng.choice(WORDS), "qty": rng.randrange(-5, 500)}
                for _ in range(rng.randrange(3))
            ]
        else:
            v = [
                rng.choice([rng.uniform(-9, 9), rng.randrange(99), True, False, None])
                for _ in range(rng.randrange(8))
            ]
        out.append(v)
    return out


def _texts(k: int, rng: random.Random) -> list[str]:
    texts = []
    for v in _instances(k, rng):
        texts.append(json.dumps(v))
        texts.append(json.dumps(v, indent=2, ensure_ascii=False))
    return texts


def _work(tokenizers: list[str], cache_mib: float, seed: int, fresh: int) -> list:
    """(compiled, token rows) per (tokenizer, schema), compiled afresh (``fresh`` bytes
    more in the bound make other Limits, hence an index of their own)."""
    rng = random.Random(seed)
    limits = structgen.Limits(max_cache_bytes=int(cache_mib * 2**20) + fresh)
    work = []
    for name in tokenizers:
        tok = assets.load_tokenizer(name)
        for k, schema in enumerate(SCHEMAS):
            c = structgen.compile(
                structgen.JsonSchema(schema, spelling="any"), tok, limits=limits, persist=False
            )
            rows = [token_ids_for_text(tok, t) for t in _texts(k, rng)]
            work.append((name, c, rows))
    return work


def feed(work: list, rounds: int, errors: list) -> int:
    """Step fresh matchers through every row, ``rounds`` times; the number of steps."""
    steps = 0
    try:
        for _ in range(rounds):
            for name, c, rows in work:
                for row in rows:
                    m = c.matcher()
                    for t in row:
                        if not m.mask()[t]:
                            raise AssertionError(f"{name}: token {t} masked out of a valid text")
                        if not m.advance(t):
                            raise AssertionError(f"{name}: token {t} refused in a valid text")
                        steps += 1
                    if not m.is_accepting():
                        raise AssertionError(f"{name}: a valid text did not end accepting")
    except Exception as e:  # noqa: BLE001 - reported
        errors.append(f"{type(e).__name__}: {e}")
    return steps


def run(work: list, threads: int, rounds: int) -> tuple[float, int, list]:
    errors: list = []
    counts = [0] * threads

    def body(i: int) -> None:
        counts[i] = feed(work, rounds, errors)

    ts = [threading.Thread(target=body, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0, sum(counts), errors


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizers", default="smollm2,llama3")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cache-mib", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    names = args.tokenizers.split(",")
    failed = False
    # one thread: the first pass computes every mask (first visits), later passes read them
    work = _work(names, args.cache_mib, args.seed, 0)
    wall, steps, errors = run(work, 1, 1)
    print(f"1 thread, first visits: {steps} steps in {wall:.2f} s, {steps / wall:,.0f} steps/s")
    best = min(run(work, 1, args.rounds)[0] for _ in range(3))
    print(f"1 thread, computed masks: {steps * args.rounds / best:,.0f} steps/s (best of 3)")
    failed = bool(errors)
    # many threads on fresh constraints (other Limits: an index of their own)
    work = _work(names, args.cache_mib, args.seed, args.threads)
    wall, steps, errors = run(work, args.threads, args.rounds)
    print(
        f"{args.threads} threads: {steps} steps in {wall:.2f} s, "
        f"{steps / wall:,.0f} steps/s, {len(errors)} error(s)"
    )
    for e in errors[:5]:
        print("  ", e)
    failed = failed or bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
