"""Output quality on SmolLM2-135M-Instruct: structgen, its peers and free generation.

Every engine gets the same chat-templated prompt (instruction, text, JSON Schema), greedy
decoding and the same ``max_new_tokens``; each constrained engine is a logits processor
given to the same ``model.generate()`` call. The tasks are in ``bench/quality_tasks.py``.

Engines (``--engines``, comma-separated):

* ``structgen``: ``JsonSchema(schema)`` with the library's defaults; ``structgen-X[-Y]``
  sets the options X, Y: a spelling (``any``, ``canonical``) or a whitespace style
  (``compact``, ``spaced``, ``indent``, ``bounded``...), e.g. ``structgen-canonical-indent``.
  Steering gets the same budget (``LogitsProcessor(max_new_tokens=...)``).
* ``free``: no constraint; the first JSON object of the output is scored.
* ``outlines`` (its default backend, outlines-core), ``outlines-llguidance`` (llguidance
  through Outlines' transformers integration) and ``xgrammar`` (``xgrammar.contrib.hf``),
  each with its own defaults, when installed; otherwise reported as not installed.

Per engine: valid outputs (JSON, valid for the schema with its formats, and for the
pydantic model where the task has one), field accuracy (expected fields right over all
expected fields; only a parsed output can have any right), mean tokens generated (EOS
included), mean seconds per task (building the logits processor, grammar compilation
included, plus ``generate()``; one-time per-tokenizer setup is reported apart), and the
spelling audit of ``bench/quality_audit.py`` (occurrences summed over the tasks).

    python -m bench.bench_quality [--engines structgen,free] [--tasks N]
        [--max-new-tokens 160] [--json out.json]

Peers live in a separate virtual environment (see docs/guides/quality.md):
``PYTHONPATH=$PWD /work/peers-venv/bin/python -m bench.bench_quality``.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bench import quality_audit as qa  # noqa: E402
from bench.quality_tasks import TASKS, Task, prompt  # noqa: E402

DEFAULT_ENGINES = "structgen,structgen-any,free,outlines,outlines-llguidance,xgrammar"


class NotAvailable(Exception):
    """The engine cannot run here (not installed, or an option this version lacks)."""


# --------------------------------------------------------------------------------------
# engines: setup() once per run, processors(schema) per task -> a list of logits processors


class Free:
    def __init__(self, name: str):
        self.name = name

    def setup(self, model, tok) -> None:
        pass

    def processors(self, schema: dict, budget: int) -> list:
        return []


class Structgen:
    _SPELLINGS = ("any", "canonical")

    def __init__(self, name: str):
        self.name = name
        self.options: dict[str, str] = {}
        for part in name.split("-")[1:]:
            key = "spelling" if part in self._SPELLINGS else "whitespace"
            self.options[key] = part

    def setup(self, model, tok) -> None:
        import structgen
        from structgen.jsonschema import JsonSchema

        params = inspect.signature(JsonSchema).parameters
        for key in self.options:
            if key not in params:
                raise NotAvailable(f"this structgen's JsonSchema has no {key!r} option")
        try:
            JsonSchema({"type": "integer"}, **self.options)
        except ValueError as e:
            raise NotAvailable(str(e)) from None
        self.structgen, self.JsonSchema = structgen, JsonSchema
        self.tok, self.width = tok, model.config.vocab_size
        self._compile({"type": "boolean"})  # the vocabulary's one-time tables

    def _compile(self, schema: dict):
        return self.structgen.compile(
            self.JsonSchema(schema, **self.options), self.tok, vocab_size=self.width
        )

    def processors(self, schema: dict, budget: int) -> list:
        return [self.structgen.LogitsProcessor(self._compile(schema), max_new_tokens=budget)]


class Outlines:
    def __init__(self, name: str):
        self.name = name
        self.backend = name.split("-", 1)[1] if "-" in name else "outlines_core"

    def setup(self, model, tok) -> None:
        needed = ["outlines", {"outlines_core": "outlines_core"}.get(self.backend, self.backend)]
        for mod in needed:
            if importlib.util.find_spec(mod) is None:
                raise NotAvailable(f"{mod} not installed")
        import outlines
        from outlines.backends import get_json_schema_logits_processor

        self._om = outlines.from_transformers(model, tok)
        self._get = get_json_schema_logits_processor
        self._get(self.backend, self._om, json.dumps({"type": "boolean"}))

    def processors(self, schema: dict, budget: int) -> list:
        return [self._get(self.backend, self._om, json.dumps(schema))]


class XGrammar:
    def __init__(self, name: str):
        self.name = name

    def setup(self, model, tok) -> None:
        if importlib.util.find_spec("xgrammar") is None:
            raise NotAvailable("xgrammar not installed")
        import xgrammar as xgr
        import xgrammar.contrib.hf as xhf

        info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=model.config.vocab_size)
        self._compiler = xgr.GrammarCompiler(info)
        self._processor = xhf.LogitsProcessor
        self._compiler.compile_json_schema(json.dumps({"type": "boolean"}))

    def processors(self, schema: dict, budget: int) -> list:
        return [self._processor(self._compiler.compile_json_schema(json.dumps(schema)))]


def make_engine(name: str):
    if name == "free":
        return Free(name)
    if name == "structgen" or name.startswith("structgen-"):
        return Structgen(name)
    if name == "outlines" or name.startswith("outlines-"):
        return Outlines(name)
    if name == "xgrammar":
        return XGrammar(name)
    raise SystemExit(f"unknown engine {name!r}")


# --------------------------------------------------------------------------------------
# one task


def _eos_ids(model, tok) -> set[int]:
    ids = {tok.eos_token_id}
    cfg = getattr(model.generation_config, "eos_token_id", None)
    ids.update(cfg if isinstance(cfg, (list, tuple)) else [cfg])
    return {i for i in ids if i is not None}


def run_task(
    engine, task: Task, model, tok, budget: int, eos: set[int], style: str = "shape"
) -> dict[str, Any]:
    import torch
    from transformers import LogitsProcessorList

    schema = task.json_schema()
    text = tok.apply_chat_template(
        [{"role": "user", "content": prompt(task, style)}],
        tokenize=False,
        add_generation_prompt=True,
    )
    enc = tok(text, return_tensors="pt", add_special_tokens=False)
    row: dict[str, Any] = {"engine": engine.name, "task": task.name, "kind": task.kind}
    t0 = time.perf_counter()
    try:
        procs = engine.processors(schema, budget)
        t1 = time.perf_counter()
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = model.generate(
                **enc,
                logits_processor=LogitsProcessorList(procs),
                do_sample=False,
                max_new_tokens=budget,
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else min(eos),
            )
    except Exception as e:  # an engine refusing a schema or failing is a result
        row.update(
            error=f"{type(e).__name__}: {str(e)[:160]}",
            valid=False,
            hits=0,
            fields=len(task.expected),
            tokens=0,
            seconds=time.perf_counter() - t0,
            audit=dict.fromkeys(qa.AUDIT_KEYS, 0),
            text="",
        )
        return row
    t2 = time.perf_counter()
    new = out[0, enc["input_ids"].shape[1] :].tolist()
    stop = next((k for k, t in enumerate(new) if t in eos), None)
    content = new if stop is None else new[:stop]
    tokens = len(new) if stop is None else stop + 1
    output = tok.decode(content, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    row.update(
        text=output,
        tokens=tokens,
        eos=stop is not None,
        compile_s=t1 - t0,
        generate_s=t2 - t1,
        seconds=t2 - t0,
    )
    score(row, task, schema, output, constrained=bool(procs))
    return row


def score(row: dict, task: Task, schema: dict, output: str, constrained: bool) -> None:
    if constrained:
        try:
            value, json_text, audited = json.loads(output), output, output
        except ValueError:
            value = json_text = None
            audited = output.lstrip()
    else:
        found = qa.first_json_object(output)
        if found is None:
            value = json_text = None
            audited = ""
        else:
            value, start, end = found
            json_text = output[start:end]
            audited = output[start:]
    if json_text is None:
        row["valid"], row["error"] = False, "not JSON" if output else "empty"
    else:
        row["error"] = qa.validate(value, json_text, schema, task.model)
        row["valid"] = row["error"] is None
    row["hits"] = qa.field_hits(value, task.expected) if json_text is not None else 0
    row["fields"] = len(task.expected)
    row["audit"] = qa.audit(audited, schema)


# --------------------------------------------------------------------------------------
# the table


def summarise(name: str, rows: list[dict], budget: int, note: str | None = None) -> dict[str, Any]:
    if note is not None:
        return {"engine": name, "note": note}
    n = len(rows)
    fields = sum(r["fields"] for r in rows)
    return {
        "engine": name,
        "tasks": n,
        "valid": sum(r["valid"] for r in rows),
        "field_accuracy": sum(r["hits"] for r in rows) / fields if fields else 0.0,
        "mean_tokens": sum(r["tokens"] for r in rows) / n,
        "mean_seconds": sum(r["seconds"] for r in rows) / n,
        "mean_compile_seconds": sum(r.get("compile_s", 0.0) for r in rows) / n,
        "ms_per_token": 1000
        * sum(r.get("generate_s", 0.0) for r in rows)
        / max(1, sum(r["tokens"] for r in rows)),
        "hit_budget": sum(r["tokens"] >= budget for r in rows),
        "audit": {k: sum(r["audit"][k] for r in rows) for k in qa.AUDIT_KEYS},
    }


def table(summaries: list[dict], budget: int) -> str:
    head = (
        "| engine | valid | field acc. | mean tokens | mean s | compile s | ms/token | at budget | "
        "escapes | int spelling | trailing ws | dup items | dup keys |"
    )
    lines = [head, "|---" * 13 + "|"]
    for s in summaries:
        if "note" in s:
            lines.append(f"| {s['engine']} | {s['note']} |" + " |" * 11)
            continue
        a = s["audit"]
        lines.append(
            f"| {s['engine']} | {s['valid']}/{s['tasks']} | {100 * s['field_accuracy']:.1f} % | "
            f"{s['mean_tokens']:.1f} | {s['mean_seconds']:.2f} | "
            f"{s['mean_compile_seconds']:.2f} | {s['ms_per_token']:.0f} | {s['hit_budget']} | "
            + " | ".join(str(a[k]) for k in qa.AUDIT_KEYS)
            + " |"
        )
    return "\n".join(lines) + f"\n\n(max_new_tokens={budget}; greedy; same prompt for all)"


def common_table(rows_by_engine: dict[str, list[dict]]) -> str:
    """Mean tokens and field accuracy on the tasks that every constrained engine of the
    run got valid (free generation left out): the same tasks for every engine."""
    engines = {e: {r["task"]: r for r in rows} for e, rows in rows_by_engine.items()}
    engines = {e: by_task for e, by_task in engines.items() if not e.startswith("free")}
    if not engines:
        return ""
    tasks = set.intersection(*(set(t) for t in engines.values()))
    common = [t for t in tasks if all(by_task[t]["valid"] for by_task in engines.values())]
    if not common:
        return ""
    lines = [
        f"On the {len(common)} tasks every constrained engine got valid:",
        "",
        "| engine | field acc. | mean tokens |",
        "|---|---|---|",
    ]
    for e, by_task in engines.items():
        rs = [by_task[t] for t in common]
        fields = sum(r["fields"] for r in rs)
        acc = 100 * sum(r["hits"] for r in rs) / fields if fields else 0.0
        lines.append(f"| {e} | {acc:.1f} % | {sum(r['tokens'] for r in rs) / len(rs):.1f} |")
    return "\n".join(lines)


def table_from_files(paths: list[str]) -> str:
    summaries, budgets, by_engine = [], set(), {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        budget = data["max_new_tokens"]
        budgets.add(budget)
        here: dict[str, list[dict]] = {}
        for r in data["rows"]:
            here.setdefault(r["engine"], []).append(r)
        for s in data["summary"]:
            rows = here.get(s["engine"])
            summaries.append(summarise(s["engine"], rows, budget) if rows else s)
        by_engine.update(here)
    out = table(summaries, budgets.pop() if len(budgets) == 1 else 0)
    return out + "\n\n" + common_table(by_engine)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default=DEFAULT_ENGINES)
    ap.add_argument("--tasks", type=int, default=None, help="the first N tasks only")
    ap.add_argument("--only", default=None, help="comma-separated task names")
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument(
        "--prompt",
        choices=("shape", "shape-indent", "schema"),
        default="shape",
        help="describe the JSON by its keys and types on one line (default), one key a "
        "line, or give the JSON Schema",
    )
    ap.add_argument("--json", default=None, help="write every output and the summary here")
    ap.add_argument("--show", action="store_true", help="print every output")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1 is fastest on a small shared machine; 0: torch's default)",
    )
    ap.add_argument(
        "--table",
        nargs="+",
        metavar="JSON",
        help="print one table from the outputs saved by earlier --json runs, and exit",
    )
    args = ap.parse_args(argv)
    if args.table:
        print(table_from_files(args.table))
        return

    import torch

    from structgen import assets

    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tok = assets.load_default_model()
    model.eval()
    eos = _eos_ids(model, tok)
    tasks = TASKS[: args.tasks] if args.tasks else TASKS
    if args.only:
        wanted = set(args.only.split(","))
        tasks = [t for t in tasks if t.name in wanted]
    with torch.inference_mode():  # the model's own warm-up
        model.generate(
            **tok("Hi", return_tensors="pt"),
            max_new_tokens=2,
            do_sample=False,
            pad_token_id=min(eos),
        )

    summaries, all_rows, setups, by_engine = [], [], {}, {}
    for name in [e.strip() for e in args.engines.split(",") if e.strip()]:
        engine = make_engine(name)
        t0 = time.perf_counter()
        try:
            engine.setup(model, tok)
        except NotAvailable as e:
            print(f"{name}: not available ({e})", file=sys.stderr, flush=True)
            summaries.append(summarise(name, [], args.max_new_tokens, note=f"not available: {e}"))
            continue
        setups[name] = time.perf_counter() - t0
        rows = []
        for task in tasks:
            row = run_task(engine, task, model, tok, args.max_new_tokens, eos, args.prompt)
            rows.append(row)
            flag = "ok " if row["valid"] else "BAD"
            print(
                f"{name:28} {task.name:16} {flag} {row['hits']}/{row['fields']} "
                f"{row['tokens']:4d} tok {row['seconds']:6.2f} s"
                + (f"  {row['error']}" if row.get("error") else "")
                + (f"\n    {row['text']!r}" if args.show else ""),
                file=sys.stderr,
                flush=True,
            )
        all_rows += rows
        by_engine[name] = rows
        summaries.append(summarise(name, rows, args.max_new_tokens))
    print(table(summaries, args.max_new_tokens))
    print("\n" + common_table(by_engine))
    print(
        "\none-time setup per engine (s): " + ", ".join(f"{k} {v:.1f}" for k, v in setups.items())
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "max_new_tokens": args.max_new_tokens,
                    "tasks": len(tasks),
                    "setup_seconds": setups,
                    "summary": summaries,
                    "rows": all_rows,
                },
                indent=1,
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
