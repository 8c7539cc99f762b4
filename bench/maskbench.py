"""MaskBench: compile every JSON Schema of the benchmark and teacher-force its test instances.

For each schema: ``structgen.compile(JsonSchema(schema), tokenizer)`` and the first mask are
timed together (TTFM). Each test instance is written with ``json.dumps(data)`` (default
separators), tokenized with the tokenizer's own tokenization
(:func:`structgen.testing.token_ids_for_text`) and fed token by token; every ``mask()`` +
``advance()`` is timed (TBM). A valid instance must be accepted to the end and leave the
matcher accepting; an invalid one must be rejected (a token not allowed, or not accepting at
the end).

Each schema runs in a worker process with a per-schema timeout; workers keep structgen's
caches across schemas, as a server process would. A schema's category is the first that
applies: crash, timeout, compile error, validation error (a valid instance rejected),
accept-at-end error (a valid instance not accepting at its end), invalidation error (an
invalid instance accepted), passing. A :class:`structgen.LimitError` raised by compile()
is a compile error of kind "limit" (refused up front, with a clear error); one raised while
an instance is fed is a "limit error" (the text drove the automaton past
:class:`structgen.Limits`); "crash" is any other exception.

``--spelling any`` (the default here: MaskBench's instances are ``json.dumps`` texts)
compiles ``JsonSchema(schema, spelling="any")``; ``--spelling canonical`` compiles the
generation grammar (one text per value). There, a valid instance whose ``json.dumps`` text is
rejected is re-spelled canonically (``bench/respell.py``: keys in schema order, undeclared
keys dropped where the canonical grammar leaves them out, plain-decimal numbers, raw UTF-8,
the chosen ``--whitespace``); it counts as explained ("respelled"), under each cause that
separates the two texts, when the re-spelling is accepted, and as a validation error with
cause "other" when not. Invalid instances are fed in both spellings and must be rejected.

Schemas with test instances (9,795) and without (1,510: they only need to compile or be
refused with a clear error) are reported in separate tables. ``--census`` only lowers each
schema to the Grammar IR (no tokenizer: seconds per thousand schemas) and lists the refusals
(``--refusals N``), to see which keywords block most schemas. Results are written to
``--out`` as each schema finishes; ``--resume`` keeps them and runs only the rest, so a
full run can be done in several sittings and still report one table.

    python bench/maskbench.py --tokenizer smollm2 --jobs 1 --timeout 60     # the full run
    python bench/maskbench.py --tokenizer smollm2 --jobs 1 --timeout 60 --resume   # go on
    python bench/maskbench.py --subset tests --sample 600 --seed 3 --jobs 1  # a sample
    python bench/maskbench.py --census --subset tests --refusals 40 --jobs 1
    python bench/maskbench.py --tokenizer llama3 --sample 300 --jobs 1
    python bench/maskbench.py --subset tests --spelling canonical --jobs 1   # with causes
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import os
import random
import re
import sys
import time
import traceback
from collections import Counter
from multiprocessing.connection import wait
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
DEFAULT_DATA = next(
    (
        d / "benchdata" / "maskbench.jsonl.gz"
        for d in _CANDIDATES
        if (d / "benchdata" / "maskbench.jsonl.gz").exists()
    ),
    _CANDIDATES[0] / "benchdata" / "maskbench.jsonl.gz",
)

CATEGORIES = [
    "passing",
    "compile error",
    "timeout",
    "validation error",
    "invalidation error",
    "accept-at-end error",
    "limit error",
    "crash",
]

_TOK = None
_TOK_NAME = None


def _load_tokenizer(name: str):
    global _TOK, _TOK_NAME
    if _TOK is None or _TOK_NAME != name:
        from structgen import assets

        _TOK = assets.load_tokenizer(name)
        _TOK_NAME = name
    return _TOK


def _first_keyword(err: Exception) -> str:
    kw = getattr(err, "keyword", None)
    if kw:
        return kw
    msg = str(err)
    if "unsatisfiable" in msg:
        return "(unsatisfiable)"
    m = re.match(r"(\$?[A-Za-z]+) at ", msg)
    return m.group(1) if m else type(err).__name__


def _feed(compiled, tok, text: str, tbm: list) -> tuple[bool, bool, int | None]:
    """Teacher-force ``text``: (every token allowed, accepting at the end, characters
    accepted before the first refused token). ValueError when it cannot be tokenized."""
    from structgen.testing import token_ids_for_text

    ids = token_ids_for_text(tok, text)
    m = compiled.matcher()
    for i, tid in enumerate(ids):
        s = time.perf_counter()
        mask = m.mask()
        ok = bool(mask[tid]) and m.advance(tid)
        tbm.append(time.perf_counter() - s)
        if not ok:
            return False, False, len(tok.decode(ids[:i]))
    return True, m.is_accepting(), None


def run_schema(row: dict, tok_name: str, strict: bool, spec_kw: dict) -> dict:
    """Everything measured for one schema (runs inside a worker)."""
    import structgen
    from structgen import assets
    from structgen.errors import LimitError, SpecError, UnsupportedSchemaError
    from structgen.jsonschema import JsonSchema

    tok = _load_tokenizer(tok_name)
    out: dict = {"id": row["id"], "features": row.get("features", [])}
    t0 = time.perf_counter()
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec = JsonSchema(row["schema"], strict=strict, **spec_kw)
            compiled = structgen.compile(spec, tok, vocab_size=assets.MODEL_VOCAB_SIZE[tok_name])
            first = compiled.matcher()
            first.mask()
    except UnsupportedSchemaError as e:
        out.update(
            category="compile error",
            error_kind="unsupported",
            keyword=_first_keyword(e),
            error=str(e)[:500],
        )
        return out
    except LimitError as e:  # refused up front: the schema exceeds structgen.Limits
        out.update(
            category="compile error", error_kind="limit", keyword="(limit)", error=str(e)[:500]
        )
        return out
    except SpecError as e:
        out.update(
            category="compile error",
            error_kind=type(e).__name__,
            keyword=_first_keyword(e),
            error=str(e)[:500],
        )
        return out
    except Exception as e:  # noqa: BLE001
        out.update(
            category="crash",
            error=f"{type(e).__name__}: {e}"[:500],
            trace=traceback.format_exc()[-2000:],
        )
        return out
    out["ttfm_s"] = time.perf_counter() - t0
    tbm: list[float] = []
    tests = []
    category = "passing"
    canonical = spec.spelling == "canonical"
    respeller = None
    variants: dict = {}
    try:
        for t in row.get("tests", []):
            text = json.dumps(t["data"])
            try:
                allowed_all, accepting, at = _feed(compiled, tok, text, tbm)
            except ValueError:
                tests.append({"valid": t["valid"], "result": "untokenizable"})
                continue
            entry = {"valid": t["valid"]}
            if t["valid"]:
                if not allowed_all:
                    res = "validation error"
                elif not accepting:
                    res = "accept-at-end error"
                else:
                    res = "ok"
                if res != "ok" and canonical:
                    # explained when the instance's canonical re-spelling is accepted
                    from respell import Respeller, candidates

                    respeller = respeller or Respeller(row["schema"])
                    entry["causes"] = ["other"]
                    for cand, causes in candidates(respeller, t["data"], spec.whitespace):
                        try:
                            ok_all, ok_acc, _ = _feed(compiled, tok, cand, [])
                        except ValueError:
                            continue
                        if ok_all and ok_acc:
                            res = "respelled"
                            entry["causes"] = causes or ["other"]
                            break
                    if res != "respelled":
                        # the same text under the canonical grammar with one option
                        # relaxed: undeclared keys the value needs to be valid (a
                        # complement's witness), or a key order the re-spelling misses
                        for opt, cause in (
                            ("extra_keys", "undeclared key"),
                            ("key_order", "key order"),
                        ):
                            relaxed = variants.get(opt)
                            if relaxed is None:
                                relaxed = variants[opt] = structgen.compile(
                                    JsonSchema(
                                        row["schema"], strict=strict, **{**spec_kw, opt: "any"}
                                    ),
                                    tok,
                                    vocab_size=assets.MODEL_VOCAB_SIZE[tok_name],
                                )
                            ok_all, ok_acc, _ = _feed(relaxed, tok, cand, [])
                            if ok_all and ok_acc:
                                res = "respelled"
                                entry["causes"] = sorted(set(causes) | {cause})
                                break
                    if res != "respelled":
                        entry["respelled"] = cand[:300]
            else:
                res = "invalidation error" if accepting else "ok"
                if canonical and res == "ok":
                    # the invalid instance in the canonical spelling must be rejected too
                    from respell import Respeller, dumps

                    respeller = respeller or Respeller(row["schema"])
                    cand = dumps(respeller.respell(t["data"], drop=False), spec.whitespace)
                    try:
                        ok_all, ok_acc, _ = _feed(compiled, tok, cand, [])
                    except ValueError:
                        ok_all = ok_acc = False
                    if ok_all and ok_acc:
                        res = "invalidation error"
                        text = cand
            entry["result"] = res
            if res not in ("ok", "respelled"):
                entry["text"] = text[:300]
                if at is not None:
                    entry["rejected_at"] = at
            tests.append(entry)
            if res not in ("ok", "respelled") and category == "passing":
                category = res
    except LimitError as e:  # a text drove the automaton past structgen.Limits
        out.update(category="limit error", error=f"LimitError: {e}"[:500])
        out["tbm_s"] = tbm
        return out
    except Exception as e:  # noqa: BLE001
        out.update(
            category="crash",
            error=f"{type(e).__name__}: {e}"[:500],
            trace=traceback.format_exc()[-2000:],
        )
        out["tbm_s"] = tbm
        return out
    out.update(category=category, tests=tests, tbm_s=tbm)
    return out


def census_schema(row: dict, tok_name: str, strict: bool, spec_kw: dict) -> dict:
    """Lowering only (no tokenizer): compiles to the Grammar IR or names the refusal."""
    import warnings

    from structgen.errors import SpecError, UnsupportedSchemaError
    from structgen.jsonschema import JsonSchema

    out: dict = {"id": row["id"], "has_tests": bool(row.get("tests"))}
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            JsonSchema(row["schema"], strict=strict, **spec_kw).to_grammar()
    except UnsupportedSchemaError as e:
        out.update(
            category="compile error",
            error_kind="unsupported",
            keyword=_first_keyword(e),
            error=str(e)[:500],
        )
    except SpecError as e:
        out.update(
            category="compile error",
            error_kind=type(e).__name__,
            keyword=_first_keyword(e),
            error=str(e)[:500],
        )
    except Exception as e:  # noqa: BLE001
        out.update(
            category="crash",
            error=f"{type(e).__name__}: {e}"[:500],
            trace=traceback.format_exc()[-2000:],
        )
    else:
        out["category"] = "passing"
    out["lower_s"] = time.perf_counter() - t0
    return out


def _worker(conn, tok_name: str, strict: bool, spec_kw: dict, census: bool = False) -> None:
    if not census:
        _load_tokenizer(tok_name)
    conn.send(("ready", None))
    while True:
        msg = conn.recv()
        if msg is None:
            break
        idx, row = msg
        try:
            res = (census_schema if census else run_schema)(row, tok_name, strict, spec_kw)
        except BaseException as e:  # noqa: BLE001
            res = {"id": row.get("id"), "category": "crash", "error": repr(e)[:500]}
        conn.send((idx, res))


class Pool:
    """Worker processes with a per-task timeout (a timed-out worker is killed and replaced)."""

    def __init__(self, jobs: int, tok_name: str, strict: bool, spec_kw: dict, census: bool = False):
        self.ctx = mp.get_context("fork")
        self.args = (tok_name, strict, spec_kw, census)
        self.workers = [self._spawn() for _ in range(jobs)]

    def _spawn(self):
        parent, child = self.ctx.Pipe()
        p = self.ctx.Process(target=_worker, args=(child, *self.args), daemon=True)
        p.start()
        child.close()
        parent.recv()  # ready
        return {"proc": p, "conn": parent, "task": None, "start": 0.0}

    def run(self, rows: list, timeout: float, on_result) -> None:
        todo = list(enumerate(rows))[::-1]
        while todo or any(w["task"] is not None for w in self.workers):
            for w in self.workers:
                if w["task"] is None and todo:
                    idx, row = todo.pop()
                    w["task"] = (idx, row)
                    w["start"] = time.perf_counter()
                    w["conn"].send((idx, row))
            busy = [w for w in self.workers if w["task"] is not None]
            now = time.perf_counter()
            wait_for = max(0.0, min(w["start"] + timeout - now for w in busy))
            ready = wait([w["conn"] for w in busy], timeout=wait_for)
            now = time.perf_counter()
            for i, w in enumerate(self.workers):
                if w["task"] is None:
                    continue
                if w["conn"] in ready:
                    try:
                        idx, res = w["conn"].recv()
                    except EOFError:
                        idx, row = w["task"]
                        res = {"id": row["id"], "category": "crash", "error": "worker died"}
                        self._replace(i)
                    on_result(idx, res)
                    self.workers[i]["task"] = None
                elif now - w["start"] >= timeout:
                    idx, row = w["task"]
                    on_result(
                        idx,
                        {
                            "id": row["id"],
                            "category": "timeout",
                            "features": row.get("features", []),
                        },
                    )
                    self._replace(i)

    def _replace(self, i: int) -> None:
        w = self.workers[i]
        w["proc"].kill()
        w["proc"].join()
        self.workers[i] = self._spawn()

    def close(self) -> None:
        for w in self.workers:
            try:
                w["conn"].send(None)
            except OSError:
                pass
            w["proc"].join(timeout=5)
            if w["proc"].is_alive():
                w["proc"].kill()


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))
    return xs[k]


def _fmt_ms(x: float) -> str:
    return "n/a" if x != x else f"{x * 1000:.3f}"


def _detail(err: str) -> str:
    """An error message with its JSON pointer left out (to group refusals)."""
    return re.sub(r" at (/\S*|the root)", "", err)[:120]


def _table(results: list, title: str, refusals: int) -> None:
    cats = Counter(r["category"] for r in results)
    n = len(results)
    print(f"\n{title}")
    print(f"{'category':<22}{'schemas':>8}{'share':>9}")
    for c in CATEGORIES:
        print(f"{c:<22}{cats.get(c, 0):>8}{cats.get(c, 0) / max(n, 1):>9.1%}")
    print(f"{'total':<22}{n:>8}")
    compiled = n - cats.get("compile error", 0) - cats.get("timeout", 0) - cats.get("crash", 0)
    if compiled:
        print(
            f"validation errors / compiled schemas: {cats.get('validation error', 0) / compiled:.2%}"
        )
    kinds = Counter(r.get("error_kind") for r in results if r["category"] == "compile error")
    if kinds:
        print("compile errors by kind: " + ", ".join(f"{k}: {v}" for k, v in kinds.most_common()))
    kws = Counter(r.get("keyword") for r in results if r["category"] == "compile error")
    if kws:
        print("compile errors by first keyword:")
        for k, v in kws.most_common(20):
            print(f"  {k:<28}{v:>6}")
    if refusals:
        msgs = Counter(
            _detail(r.get("error", "")) for r in results if r["category"] == "compile error"
        )
        print("compile errors by message:")
        for k, v in msgs.most_common(refusals):
            print(f"  {v:>5}  {k}")


def _causes(tests: list) -> None:
    """Valid instances whose json.dumps text the canonical grammar rejects, by cause (an
    instance counts once under each cause that applies; "other": its canonical
    re-spelling is rejected too)."""
    rejected = [t for t in tests if t["valid"] and "causes" in t]
    if not rejected:
        return
    from respell import CAUSES

    counts = Counter(c for t in rejected for c in t["causes"])
    alone = Counter(t["causes"][0] for t in rejected if len(t["causes"]) == 1)
    print(f"\nvalid instances whose json.dumps text the canonical grammar rejects: {len(rejected)}")
    print(f"{'cause':<24}{'instances':>10}{'sole cause':>12}")
    for c in CAUSES:
        print(f"{c:<24}{counts.get(c, 0):>10}{alone.get(c, 0):>12}")
    for t in [t for t in rejected if "other" in t["causes"]][:10]:
        print(f"  other: {t.get('text', '')[:150]!r} -> {t.get('respelled', '')[:150]!r}")


def _to_line(r: dict) -> str:
    """One result as a JSON line; per-token mask times are kept (in whole microseconds)
    so that percentiles over a resumed run stay exact to the microsecond."""
    r = dict(r)
    xs = r.pop("tbm_s", None)
    if xs:
        r["tbm_us"] = [round(x * 1e6) for x in xs]
    return json.dumps(r, ensure_ascii=False)


def _from_line(r: dict) -> dict:
    r = dict(r)
    us = r.pop("tbm_us", None)
    if us:
        r["tbm_s"] = [x / 1e6 for x in us]
    return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--tokenizer", default="smollm2", choices=["smollm2", "llama3"])
    ap.add_argument(
        "--sample", type=int, default=0, help="random sample of N schemas (0: all: the full run)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per schema (the worker is killed)"
    )
    ap.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) - 0))
    ap.add_argument("--out", default=None, help="per-schema JSONL results")
    ap.add_argument("--no-strict", action="store_true", help="JsonSchema(strict=False)")
    ap.add_argument(
        "--spelling",
        default="any",
        choices=["any", "canonical"],
        help="JsonSchema(spelling=...): canonical re-spells each valid instance its json.dumps "
        "text fails and counts the causes",
    )
    ap.add_argument(
        "--whitespace",
        default=None,
        choices=["bounded", "compact", "spaced", "indent"],
        help="JsonSchema(whitespace=...) (default: the spelling's)",
    )
    ap.add_argument("--ids", default=None, help="only these schema ids (comma-separated)")
    ap.add_argument(
        "--subset",
        default="all",
        choices=["all", "tests", "no-tests"],
        help="schemas with test instances, without, or all (each reported separately)",
    )
    ap.add_argument(
        "--census",
        action="store_true",
        help="lower to the Grammar IR only (no tokenizer): which schemas compile, which are refused",
    )
    ap.add_argument(
        "--refusals", type=int, default=0, help="list the N most frequent refusal messages"
    )
    ap.add_argument(
        "--resume",
        action="store_true",
        help="keep the results already in --out (written as each schema finishes) and run "
        "only the schemas missing there; the tables cover both",
    )
    args = ap.parse_args(argv)

    with gzip.open(args.data, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if args.ids:
        want = set(args.ids.split(","))
        rows = [r for r in rows if r["id"] in want]
    if args.subset != "all":
        rows = [r for r in rows if bool(r.get("tests")) == (args.subset == "tests")]
    if args.sample:
        rows = random.Random(args.seed).sample(rows, min(args.sample, len(rows)))
    mode = "census" if args.census else args.tokenizer
    out_path = args.out or str(ROOT / "bench" / "results" / f"maskbench-{mode}.jsonl")
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    what = "lowering only" if args.census else f"tokenizer {args.tokenizer}"
    print(f"MaskBench: {len(rows)} schemas, {what}, {args.jobs} jobs, timeout {args.timeout:g}s")

    kept: list = []
    if args.resume and Path(out_path).exists():
        have = {}
        with open(out_path, encoding="utf-8") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by an interrupted run: redone
                have[r["id"]] = r
        kept = [_from_line(have[r["id"]]) for r in rows if r["id"] in have]
        rows = [r for r in rows if r["id"] not in have]
        with open(out_path, "w", encoding="utf-8") as f:  # rewritten without broken lines
            for r in kept:
                f.write(_to_line(r) + "\n")
        print(f"resuming: {len(kept)} schemas already in {out_path}, {len(rows)} to run")
    else:
        open(out_path, "w").close()

    results: list = [None] * len(rows)
    t_start = time.perf_counter()
    done = [0]
    out_file = open(out_path, "a", encoding="utf-8")  # noqa: SIM115 - closed below

    def on_result(idx, res):
        res["has_tests"] = bool(rows[idx].get("tests"))
        results[idx] = res
        out_file.write(_to_line(res) + "\n")
        out_file.flush()
        done[0] += 1
        if done[0] % 25 == 0 or done[0] == len(rows):
            el = time.perf_counter() - t_start
            print(f"  {done[0]}/{len(rows)} schemas, {el:.0f}s", flush=True)

    if not args.census and rows:
        _load_tokenizer(args.tokenizer)  # loaded once, inherited by the forked workers
    spec_kw = {"spelling": args.spelling, "whitespace": args.whitespace}
    pool = Pool(args.jobs, args.tokenizer, not args.no_strict, spec_kw, args.census)
    try:
        pool.run(rows, args.timeout, on_result)
    finally:
        pool.close()
        out_file.close()
    results = kept + [r for r in results if r is not None]

    with_tests = [r for r in results if r["has_tests"]]
    without = [r for r in results if not r["has_tests"]]
    if with_tests:
        _table(with_tests, f"schemas with test instances ({len(with_tests)})", args.refusals)
    if without:
        _table(
            without,
            f"schemas without test instances ({len(without)}): compiled or refused",
            args.refusals,
        )
    tests = [t for r in results for t in r.get("tests", [])]
    if not args.census:
        tc = Counter(t["result"] for t in tests)
        print(
            f"\ntest instances run: {len(tests)} ({', '.join(f'{k}: {v}' for k, v in tc.most_common())})"
        )
        _causes(tests)
        ttfm = [r["ttfm_s"] for r in results if "ttfm_s" in r]
        tbm = [x for r in results for x in r.get("tbm_s", [])]
        print(f"\n{'ms':<6}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}{'n':>10}")
        for name, xs in (("TTFM", ttfm), ("TBM", tbm)):
            print(
                f"{name:<6}"
                + "".join(f"{_fmt_ms(_pct(xs, q)):>10}" for q in (50, 90, 99, 100))
                + f"{len(xs):>10}"
            )
    else:
        xs = [r["lower_s"] for r in results if "lower_s" in r]
        print(
            f"\nlowering s: p50 {_pct(xs, 50):.3f}  p99 {_pct(xs, 99):.3f}  max {max(xs, default=0):.3f}"
        )
    print(f"\nwall time {time.perf_counter() - t_start:.0f}s; results in {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
