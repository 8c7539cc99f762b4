"""The attacks of the security review, one fresh process each: what structgen answers, how
long it took and its peak memory.

    python -m bench.bench_attacks                 # every attack, a Markdown table
    python -m bench.bench_attacks --only enum,dev  # the attacks whose names contain these

Each attack runs in a child process (``resource`` peak RSS is the child's own, so it
includes the interpreter, numpy and, where a tokenizer is loaded, transformers: the
``baseline`` rows give those floors). An attack that runs past ``--timeout`` is reported
as a hang. The tests in ``tests/adversarial/`` assert the same outcomes; this script
prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PRELUDE = """
import json, os, resource, sys, time
import structgen
from structgen import Limits, JsonSchema, Regex, Grammar
from structgen.errors import StructgenError
def tok(name="smollm2"):
    from structgen import assets
    return assets.load_tokenizer(name)
def walk(c, steps):
    m = c.matcher()
    for _ in range(steps):
        ids = [i for i in m.mask().nonzero()[0].tolist() if i not in c.eos_token_ids]
        if not ids:
            break
        m.advance(max(ids, key=lambda i: len(c.vocabulary.tokens[i] or b"")))
    return m
outcome = "ok"
t0 = time.perf_counter()
try:
"""

POSTLUDE = """
except StructgenError as e:
    outcome = type(e).__name__ + ": " + str(e).splitlines()[0][:70]
except BaseException as e:
    outcome = "NOT A STRUCTGEN ERROR " + type(e).__name__ + ": " + str(e)[:60]
if "rss_mb" not in globals():
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - t0, "rss_mb": rss_mb}))
"""

# a small vocabulary (no tokenizer, no transformers) for the disk cache attacks
SMALL = """
tokens = [b"<eos>"] + [bytes([c]) for c in range(32, 127)] + [b"ab", b"cd", b"ef"]
vocab = structgen.Vocabulary(tokens, eos_ids=[0])
R = Regex(r"[a-f]{1,6}(\\.[a-f0-9]{1,4}){0,3}@[a-z]{2,5}\\.(com|org)")
def fill(folder):
    from structgen import diskcache
    diskcache.configure(folder)
    c = structgen.compile(R, vocabulary=vocab)
    walk(c, 20)
    c.save()
    (entry,) = [p for p in diskcache.DiskCache(folder).entries() if p.name.startswith("masks-")]
    return entry
def offered_but_refused(c):
    m, bad = c.matcher(), 0
    for _ in range(20):
        allowed = [int(t) for t in m.mask().nonzero()[0] if t != 0]
        bad += sum(not m.fork().advance(t) for t in allowed)
        if not allowed or not m.advance(allowed[0]):
            break
    return bad
"""

ONEOF = {
    "oneOf": [
        {"properties": {"bar": {"type": "integer"}}, "required": ["bar"]},
        {"properties": {"foo": {"type": "string"}}, "required": ["foo"]},
    ]
}


# the command line, as the console script runs it, on a file argument
CLI = """
import resource, subprocess
p = subprocess.run([sys.executable, "-c", "import sys; from _structgen_main import main; sys.exit(main())",
                    *ARGS], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
outcome = f"exit {p.returncode}: " + " / ".join(p.stderr.strip().splitlines())[:90]
"""

# the restart after a damaged entry: compile with the cache folder argv[1]
RESTART = (
    "import json, resource, sys\n"
    "import structgen\n"
    "from structgen import Regex, diskcache\n" + SMALL + "diskcache.configure(sys.argv[1])\n"
    "c = structgen.compile(R, vocabulary=vocab)\n"
    "print(json.dumps({'rebuilt': c.save(), 'bad': offered_but_refused(c),"
    " 'rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
)

ATTACKS: list[tuple[str, str]] = [
    ("baseline: import structgen", "pass"),
    ("baseline: import + SmolLM2 tokenizer", "tok()"),
    # ---- silent invalid output
    (
        "chained generate() on the previous output (SmolLM2)",
        """
        from structgen import assets
        model, t = assets.load_model()
        c = structgen.compile(Regex("[0-9]{3}"), t)
        kw = structgen.generate_kwargs(c, max_new_tokens=6)
        enc = t("Pick a number:", return_tensors="pt")
        out = model.generate(**enc, **kw, do_sample=False)
        out2 = model.generate(out, attention_mask=out.new_ones(out.shape), **kw, do_sample=False)
        new = t.decode(out2[0, out.shape[1]:], skip_special_tokens=True)
        import re
        outcome = f"second call constrained: {new!r}" if re.fullmatch("[0-9]{3}", new) else f"UNCONSTRAINED {new!r}"
        """,
    ),
    (
        "constraint compiled for 40,000 tokens, logits 49,152 wide",
        """
        import torch
        t = tok()
        c = structgen.compile(Regex("[0-9]+"), t, vocab_size=49152)
        v = structgen.Vocabulary(list(c.vocabulary.tokens[:40000]), eos_ids=list(c.eos_token_ids))
        c2 = structgen.compile(Regex("[0-9]+"), vocabulary=v)
        p = structgen.LogitsProcessor(c2)
        p(torch.tensor([[1, 2]]), torch.zeros(1, 49152))
        """,
    ),
    (
        "constraint for Llama 2 used with SmolLM2 in generate()",
        """
        from structgen import assets
        model, t = assets.load_model()
        c = structgen.compile(Regex("[0-9]+"), tok("llama2"))
        structgen.generate(model, t, "Pick:", c, max_new_tokens=4)
        """,
    ),
    ("regex with a lone surrogate \\ud800", "structgen.compile(Regex('a\\ud800'), tok())"),
    (
        "oneOf of open objects: {foo, bar} valid under both branches",
        f"""
        from structgen.compiler import compile_automaton
        a = compile_automaton(JsonSchema({ONEOF!r}, spelling="any"))
        outcome = "accepted (WRONG)" if a.matches(b'{{"foo": "baz", "bar": 2}}') else "rejected"
        """,
    ),
    (
        "format without type: 12 and null",
        """
        from structgen.compiler import compile_automaton
        a = compile_automaton(JsonSchema({"format": "date"}, spelling="any"))
        got = [a.matches(x) for x in [b"12", b"null", b'"2024-02-29"', b'"x"']]
        outcome = "12, null, a date accepted; 'x' rejected" if got == [True, True, True, False] else f"WRONG {got}"
        """,
    ),
    # ---- limits
    *[
        (f"regex {p} + 60 steps", f"walk(structgen.compile(Regex({p!r}), tok()), 60)")
        for p in [r"((a{1,50}){1,50}){1,50}", r"((\w{1,50}){1,50}){1,50}", r"(a{0,1000}){0,1000}"]
    ],
    (
        "enum of 10,000 strings + 10 steps",
        """
        c = structgen.compile(JsonSchema({"enum": [f"value-{i}" for i in range(10000)]}), tok())
        walk(c, 10)
        """,
    ),
    (
        "enum of 1,500 strings, max_compile_seconds=5",
        """
        structgen.compile(JsonSchema({"enum": [f"v{i}" for i in range(1500)]}), tok(),
                          limits=Limits(max_compile_seconds=5))
        """,
    ),
    (
        "6,000 regex terminals, max_compile_seconds=1",
        """
        lim = Limits(max_compile_seconds=1)
        structgen.Grammar("start: " + " | ".join(f"/w{i}[a-z]*/" for i in range(6000)) + "\\n",
                          limits=lim)
        """,
    ),
    (
        "a spec exhausting a shared terminal (max_states=120), then another spec",
        """
        lim = Limits(max_states=120)
        string = {"type": "string", "pattern": "^(a[0-9]{0,150}|b[0-9]{0,50})$"}
        tokens = [b"<eos>"] + [bytes([c]) for c in range(32, 127)]
        vocab = structgen.Vocabulary(tokens, eos_ids=[0])
        def feed(schema, text):
            m = structgen.compile(JsonSchema(schema, limits=lim), vocabulary=vocab, limits=lim).matcher()
            for b in text.encode():
                m.mask()
                m.advance(tokens.index(bytes([b])))
            return m.is_accepting()
        try:
            feed(string, json.dumps("a" + "7" * 150))
            first = "accepted (WRONG)"
        except StructgenError as e:
            first = type(e).__name__
        obj = {"type": "object", "properties": {"k": string}, "required": ["k"]}
        second = feed(obj, json.dumps({"k": "b" + "3" * 50}))
        outcome = f"first: {first}; the next spec: {'accepted' if second else 'REJECTED'}"
        """,
    ),
    (
        "Lark rule with 5,000 alternatives + 5 steps",
        """
        g = "start: " + " | ".join(f'"w{i}x"' for i in range(5000))
        walk(structgen.compile(Grammar(g), tok()), 5)
        """,
    ),
    (
        "Lark grammar of 5,000 chained rules + 5 steps",
        """
        g = "start: r0\\n" + "".join(f'r{i}: "a" r{i+1} | "b"\\n' for i in range(4999)) + 'r4999: "c"\\n'
        walk(structgen.compile(Grammar(g), tok()), 5)
        """,
    ),
    (
        "schema nested 500 deep",
        """
        s = {"type": "string"}
        for _ in range(500):
            s = {"type": "object", "properties": {"a": s}}
        structgen.compile(JsonSchema(s), tok())
        """,
    ),
    (
        "object with 4,000 properties",
        """
        props = {f"p{i}": {"type": "integer"} for i in range(4000)}
        structgen.compile(JsonSchema({"type": "object", "properties": props}), tok())
        """,
    ),
    (
        "processor misuse: 1-D scores",
        """
        import torch
        c = structgen.compile(Regex("a+"), tok())
        structgen.LogitsProcessor(c)(torch.tensor([[1]]), torch.zeros(49152))
        """,
    ),
    (
        "8 threads share one constraint while its 2 MiB cache evicts",
        """
        import threading, random
        c = structgen.compile(JsonSchema({"type": "array", "items": {"type": "string"}}), tok(),
                              limits=Limits(max_cache_bytes=2 << 20))
        errors = []
        def run(seed):
            r = random.Random(seed)
            try:
                for _ in range(30):
                    m = c.matcher()
                    for _ in range(12):
                        ids = m.mask().nonzero()[0].tolist()
                        ids = [i for i in ids if i not in c.eos_token_ids]
                        if not ids or not m.advance(r.choice(ids)):
                            break
            except BaseException as e:
                errors.append(repr(e))
        ts = [threading.Thread(target=run, args=(i,)) for i in range(8)]
        [x.start() for x in ts]; [x.join() for x in ts]
        outcome = f"{len(errors)} errors" if errors else "no error"
        """,
    ),
    # ---- the command line's files
    *[
        (f"CLI: /dev/zero as {what}", f"ARGS = {args!r}\n" + CLI)
        for what, args in [
            ("the schema", ["grammar", "/dev/zero"]),
            ("the grammar", ["grammar", "--grammar", "/dev/zero"]),
            ("check's data", ["check", "--regex", "a+", "/dev/zero"]),
            ("--input", ["run", "--regex", "a+", "--input", "/dev/zero"]),
        ]
    ],
    # ---- the disk cache (a small vocabulary: no tokenizer loaded)
    *[
        (
            f"disk cache entry: {name}",
            SMALL
            + textwrap.dedent(f"""
        import subprocess, tempfile
        folder = tempfile.mkdtemp()
        entry = fill(folder)
        {damage}
        # a restart: a fresh process compiles with the damaged folder
        t0 = time.perf_counter()
        r = json.loads(subprocess.run([sys.executable, "-c", {RESTART!r}, folder],
                                      capture_output=True, text=True, timeout=60).stdout.splitlines()[-1])
        rss_mb = r["rss"]
        outcome = ("discarded and rebuilt" if r["rebuilt"] else "used (a hit)") + f"; {{r['bad']}} refused tokens offered"
        """),
        )
        for name, damage in [
            (
                "header claims a 1 PiB array",
                "from diskcache_files import read_entry\n"
                "        n0 = read_entry(entry)[1]['masks'].shape[0]\n"
                "        entry.write_bytes(entry.read_bytes().replace("
                'f\'["masks","|u1",[{n0},\'.encode(), f\'["masks","|u1",[{1 << 50},\'.encode()))',
            ),
            ("intact (the control)", "pass"),
            (
                "one payload bit flipped",
                "d = bytearray(entry.read_bytes()); d[-5] ^= 1; entry.write_bytes(bytes(d))",
            ),
            (
                "a zip bomb (512 MiB deflated to 0.5 MB) in its place",
                "import zipfile\n"
                "        with zipfile.ZipFile(entry, 'w', zipfile.ZIP_DEFLATED, compresslevel=1) as z:\n"
                "            with z.open('masks.npy', 'w', force_zip64=True) as f:\n"
                "                [f.write(bytes(16 << 20)) for _ in range(32)]",
            ),
            ("a FIFO in its place", "entry.unlink(); os.mkfifo(entry)"),
        ]
    ],
]


def run(name: str, body: str, timeout: float) -> dict:
    code = PRELUDE + textwrap.indent(textwrap.dedent(body).strip() + "\n", "    ") + POSTLUDE
    path = [str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    with tempfile.TemporaryDirectory() as cache:
        env["STRUCTGEN_DISK_CACHE"] = cache  # a cold disk cache of its own
        t0 = time.monotonic()
        try:
            p = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
            )
        except subprocess.TimeoutExpired:
            return {
                "outcome": f"HANG (killed after {timeout:g} s)",
                "seconds": timeout,
                "rss_mb": float("nan"),
            }
    lines = p.stdout.strip().splitlines()
    if p.returncode or not lines:
        return {
            "outcome": "CRASH " + p.stderr.strip().splitlines()[-1][:80],
            "seconds": time.monotonic() - t0,
            "rss_mb": float("nan"),
        }
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated parts of attack names")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    only = [s.strip().lower() for s in args.only.split(",") if s.strip()]
    print("| attack | error or behaviour | seconds | peak RSS (MB) |")
    print("|---|---|---|---|")
    for name, body in ATTACKS:
        if only and not any(o in name.lower() for o in only):
            continue
        r = run(name, body, args.timeout)
        outcome = r["outcome"].replace("|", "\\|")
        print(f"| {name} | {outcome} | {r['seconds']:.2f} | {r['rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
