"""Start-up cost of structgen, cold (empty disk cache) and warm (second run).

Two measurements, each in fresh processes so nothing is shared in memory:

1. ``structgen run SCHEMA --prompt ... --timings`` end to end (model load, compile,
   generation), twice: with an empty disk cache, then again.
2. The structgen part alone, per tokenizer: vocabulary + compile + the masks along a few
   valid instances (what the first generation computes), cold then warm.

    python bench/bench_startup.py                      # both
    python bench/bench_startup.py --only structgen     # only 2 (no model run)

Figures depend on the machine; on a loaded one they are noisy (run with --repeat 3).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "examples" / "person.schema.json"
INSTANCES = [
    {"name": "Ann Lee", "age": 33, "email": "ann@example.com", "hobbies": ["chess", "running"]},
    {"name": "Bo", "age": 7},
    {"name": "Carla Díaz", "age": 61, "hobbies": []},
]

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import structgen
from structgen import assets
from structgen.jsonschema import JsonSchema
name = sys.argv[1]
tok = assets.load_tokenizer(name)
t1 = time.perf_counter()
c = structgen.compile(JsonSchema(json.load(open(sys.argv[2]))), tok,
                      vocab_size=assets.MODEL_VOCAB_SIZE[name])
t2 = time.perf_counter()
for inst in json.loads(sys.argv[3]):
    m = c.matcher()
    for t in tok(json.dumps(inst), add_special_tokens=False)["input_ids"]:
        m.mask()
        assert m.advance(t)
    m.mask()
t3 = time.perf_counter()
c.save()
print(json.dumps({"compile": t2 - t1, "masks": t3 - t2, "structgen": t3 - t1}))
"""


def run_cli(cache: str, prompt: str, max_new_tokens: int) -> dict[str, float]:
    env = dict(os.environ, STRUCTGEN_DISK_CACHE=cache)
    cmd = [
        sys.executable,
        "-m",
        "structgen.cli",
        "run",
        str(SCHEMA),
        "--prompt",
        prompt,
        "--max-new-tokens",
        str(max_new_tokens),
        "--timings",
        "-q",
    ]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(p.stderr)
    m = re.search(r"timings: (.*) \(total", p.stderr)
    out = {"wall": wall}
    for part in m.group(1).split(", "):
        name, secs = part.rsplit(" ", 1)
        out[name] = float(secs.rstrip("s"))
    return out


def run_structgen(cache: str, name: str) -> dict[str, float]:
    env = dict(os.environ, STRUCTGEN_DISK_CACHE=cache)
    p = subprocess.run(
        [sys.executable, "-c", _CHILD, name, str(SCHEMA), json.dumps(INSTANCES)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if p.returncode != 0:
        raise SystemExit(p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["cli", "structgen"])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--tokenizers", nargs="+", default=["smollm2", "llama3", "qwen2"])
    args = ap.parse_args()
    if args.only != "structgen":
        print("structgen run (seconds; cold = empty disk cache, warm = second run)")
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as cache:
                cold = run_cli(cache, "Invent a person.", 64)
                warm = run_cli(cache, "Invent a person.", 64)
            for label, r in (("cold", cold), ("warm", warm)):
                print(f"  {label}: " + ", ".join(f"{k} {v:.2f}" for k, v in r.items()))
    if args.only != "cli":
        print("structgen part only: vocabulary + compile, masks along 3 instances (seconds)")
        for name in args.tokenizers:
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory() as cache:
                    cold = run_structgen(cache, name)
                    warm = run_structgen(cache, name)
                print(
                    f"  {name:8s} cold: compile {cold['compile']:.3f} masks {cold['masks']:.3f} "
                    f"total {cold['structgen']:.3f} | warm: compile {warm['compile']:.3f} "
                    f"masks {warm['masks']:.3f} total {warm['structgen']:.3f}"
                )


if __name__ == "__main__":
    main()
