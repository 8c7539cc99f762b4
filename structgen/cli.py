"""The ``structgen`` command line.

    structgen run schema.json --prompt "..."        generate JSON valid for a schema
    structgen run --regex PATTERN --prompt "..."    ... text matching a regex
    structgen run --grammar FILE.lark|builtin:NAME  ... text of a Lark grammar
    structgen run --type module:Class               ... a pydantic model / Python type
    structgen run ... --input in.jsonl --output out.jsonl   batches, resumable
    structgen grammar schema.json                   print the grammar that is enforced
    structgen check schema.json data.json           is the text accepted? where not?
    structgen models [fetch]                        the built-in model, fetched on demand

Errors print one line (``structgen: error: ...``) and exit with status 2; ``--debug``
shows the traceback instead. ``check`` exits with 1 when the text is not accepted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from .cli_files import (
    MAX_DATA_BYTES,
    MAX_INPUT_BYTES,
    CliError,
    deferred_sigint,
    done_lines,
    interrupted,
    load_json,
    read_text,
)
from .errors import StructgenError

__all__ = ["main", "CliError"]

EXIT_OK, EXIT_REJECTED, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see `{self.prog} --help`)")


# --------------------------------------------------------------------------- specs


@dataclass
class Spec:
    """What the command line was asked to enforce."""

    spec: Any  # compilable by structgen.compile
    kind: str  # "json", "regex", "grammar", "type"
    source: str
    output_type: Any = None  # what structgen.generate is given (default: spec)

    def __post_init__(self) -> None:
        if self.output_type is None:
            self.output_type = self.spec


def _json_schema(schema: Any, args: argparse.Namespace) -> Any:
    try:
        from . import JsonSchema  # type: ignore[attr-defined]
    except ImportError:
        from .jsonschema import JsonSchema
    return JsonSchema(schema, **_spelling_options(args), strict=not getattr(args, "lenient", False))


def _spelling_options(args: argparse.Namespace) -> dict[str, str]:
    """``spelling`` / ``whitespace`` for JsonSchema from the command line: ``run`` and
    ``grammar`` generate the canonical spelling unless told otherwise, ``check`` judges a
    text written elsewhere by every valid spelling."""
    spelling = getattr(args, "spelling", None) or getattr(args, "default_spelling", "canonical")
    out = {"spelling": spelling}
    whitespace = getattr(args, "whitespace", None)
    if getattr(args, "compact", False):
        whitespace = "compact"
    if whitespace is not None:
        out["whitespace"] = whitespace
    if getattr(args, "repeats", None):
        out["repeats"] = args.repeats
    return out


def _lark_grammar(source: str) -> Any:
    try:
        from . import Grammar  # type: ignore[attr-defined]
    except ImportError:
        raise CliError("Lark grammars are not available in this version of structgen") from None
    if source.startswith("builtin:"):
        return Grammar.builtin(source[len("builtin:") :])
    if not os.path.exists(source):
        raise CliError(
            f"grammar {source}: no such file (use a .lark file or builtin:NAME, e.g. builtin:sql)"
        )
    return Grammar(read_text(source, "grammar"), source=source)


def _import_type(ref: str) -> Any:
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise CliError(f"--type expects module:Class (e.g. myapp.models:Person), got {ref!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise CliError(f"--type {ref}: cannot import module {module!r} ({e})") from None
    obj: Any = mod
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CliError(f"--type {ref}: module {module!r} has no attribute {attr!r}") from None
    return obj


def _spec_from_args(args: argparse.Namespace, schema_path: str | None) -> Spec:
    chosen = [
        n
        for n, v in (
            ("a schema file", schema_path),
            ("--regex", args.regex),
            ("--grammar", args.grammar),
            ("--type", args.type),
        )
        if v is not None
    ]
    if not chosen:
        raise CliError("say what to enforce: a schema file, --regex, --grammar or --type")
    if len(chosen) > 1:
        raise CliError(
            f"give only one of a schema file, --regex, --grammar, --type (got {' and '.join(chosen)})"
        )
    if schema_path is not None:
        where = f"schema {schema_path}"
        with _naming(where):
            try:
                schema = load_json(schema_path, "schema")
            except CliError as e:
                if schema_path.endswith(".lark"):
                    raise CliError(
                        f"{e} (a Lark grammar? give it as --grammar {schema_path})"
                    ) from None
                raise
            spec = Spec(_json_schema(schema, args), "json", schema_path)
    elif args.regex is not None:
        from .regex import Regex

        where = "--regex"
        with _naming(where):
            spec = Spec(Regex(args.regex), "regex", args.regex)
    elif args.grammar is not None:
        where = f"grammar {args.grammar}"
        with _naming(where):
            spec = Spec(_lark_grammar(args.grammar), "grammar", args.grammar)
    else:
        where = f"--type {args.type}"
        tp = _import_type(args.type)
        from .types import output_spec

        with _naming(where):
            out = output_spec(
                tp, **_spelling_options(args), strict=not getattr(args, "lenient", False)
            )
            spec = Spec(out.spec, "type", args.type, output_type=out)
    with _naming(where):
        _check_spec(spec)
    return spec


def _check_spec(spec: Spec) -> None:
    """Lower the spec to its byte-level automaton, which needs no tokenizer or model: every
    error in a schema, regex, grammar or type shows here, before a model is loaded. The
    automaton is memoized, so the later compile for the tokenizer reuses it."""
    from .compiler import compile_automaton

    compile_automaton(spec.spec)


@contextlib.contextmanager
def _naming(where: str) -> Any:
    """Re-raise a structgen error from the spec with where it comes from (the file, the flag)
    in front, unless the message names it already."""
    try:
        yield
    except CliError:
        raise
    except StructgenError as e:
        msg = str(e).strip() or type(e).__name__
        if where.split(" ", 1)[-1] in msg:
            raise
        raise CliError(f"{where}: {msg}") from e


def _render(spec: Spec, value: Any, pretty: bool) -> str:
    """The text printed for one result: JSON for schemas and types, the text otherwise."""
    if spec.kind in ("json", "type"):
        return json.dumps(_jsonable(value), indent=2 if pretty else None, ensure_ascii=False)
    return value


def _jsonable(value: Any) -> Any:
    import dataclasses
    import enum

    dump = getattr(value, "model_dump", None)
    if dump is not None:  # a pydantic model
        return dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- models


def load_model(name: str | None, device: str | None, verbose: bool = True) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for ``--model``: None (the built-in default), a local folder,
    a ``.gguf`` file, or a model hub id."""
    from transformers.utils import logging as hf_logging

    from . import assets

    # stderr is for structgen's own messages: no per-load progress bars or notices
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    if name is None or name in ("default", assets.MODEL_NAME):
        model, tok = assets.load_default_model(verbose=verbose)
    else:
        model, tok = _load_transformers_model(name)
    if device and device != "auto":
        try:
            model = model.to(device)
        except (RuntimeError, AssertionError, ValueError) as e:
            raise CliError(f"--device {device}: {str(e).splitlines()[0]}") from None
    elif device == "auto":
        import torch

        if torch.cuda.is_available():
            model = model.to("cuda")
    return model, tok


def _hub_reachable(timeout: float = 3.0) -> bool:
    import socket
    from urllib.parse import urlparse

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = urlparse(endpoint).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _check_hub(name: str) -> None:
    """Fail fast (instead of minutes of retries) when a hub id is neither in the local
    hub cache nor downloadable."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:
        cached = False
    if cached or offline:
        return
    if not _hub_reachable():
        raise CliError(
            f"cannot load model {name!r}: it is not a local folder or .gguf file, not in the "
            "local model hub cache, and the model hub cannot be reached. Omit --model to use "
            "the built-in default model."
        )


def _load_transformers_model(name: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(name).expanduser()
    try:
        if name.endswith(".gguf"):
            if not path.is_file():
                raise CliError(f"--model {name}: no such .gguf file")
            kw = {"gguf_file": path.name}
            model = AutoModelForCausalLM.from_pretrained(
                str(path.parent), dtype=torch.float32, **kw
            )
            tok = AutoTokenizer.from_pretrained(str(path.parent), **kw)
        elif path.is_dir():
            model = AutoModelForCausalLM.from_pretrained(str(path))
            tok = AutoTokenizer.from_pretrained(str(path))
        elif path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
            raise CliError(f"--model {name}: not a model folder or a .gguf file")
        else:
            _check_hub(name)
            model = AutoModelForCausalLM.from_pretrained(name)
            tok = AutoTokenizer.from_pretrained(name)
    except CliError:
        raise
    except (OSError, ValueError, ImportError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CliError(
            f"cannot load model {name!r}: it is not a local folder or .gguf file, and the "
            f"model hub could not provide it ({first}). Omit --model to use the built-in "
            "default model."
        ) from None
    model.eval()
    return model, tok


# --------------------------------------------------------------------------- run


def _gen_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kw: dict[str, Any] = {"do_sample": False}
    if args.temperature is not None and args.temperature > 0:
        kw["do_sample"] = True
        kw["temperature"] = args.temperature
    if args.top_p is not None:
        if not 0 < args.top_p <= 1:
            raise CliError(f"--top-p must be in (0, 1], got {args.top_p}")
        kw["do_sample"] = True
        kw["top_p"] = args.top_p
    if args.num_beams is not None:
        if args.num_beams < 1:
            raise CliError(f"--num-beams must be at least 1, got {args.num_beams}")
        kw["num_beams"] = args.num_beams
    return kw


def _read_inputs(path: str) -> list[tuple[int, str, Any]]:
    """(line number, prompt, id) per non-empty line: a JSON string or an object with a
    ``prompt`` (and optionally an ``id``)."""
    out = []
    for n, line in enumerate(read_text(path, "input", MAX_INPUT_BYTES).splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise CliError(f"input {path}, line {n}: not valid JSON ({e.msg})") from None
        if isinstance(item, str):
            out.append((n, item, None))
        elif isinstance(item, dict) and isinstance(item.get("prompt"), str):
            out.append((n, item["prompt"], item.get("id")))
        else:
            raise CliError(f'input {path}, line {n}: expected a JSON string or {{"prompt": "..."}}')
    return out


class _Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, done: int = 0):
        self.total, self.done = total, done
        self.t0 = time.monotonic()
        try:
            self.on = sys.stderr.isatty()
        except (AttributeError, ValueError):
            self.on = False
        self.draw()

    def draw(self) -> None:
        if not self.on or not self.total:
            return
        width = 30
        k = int(width * self.done / self.total)
        el = time.monotonic() - self.t0
        sys.stderr.write(f"\r[{'#' * k}{'.' * (width - k)}] {self.done}/{self.total}  {el:.0f}s")
        sys.stderr.flush()

    def advance(self, n: int) -> None:
        self.done += n
        self.draw()

    def close(self) -> None:
        if self.on and self.total:
            sys.stderr.write("\n")
            sys.stderr.flush()


class _Tally:
    """What a batch run did, for the line it prints on stderr when it ends (terminal or not,
    finished or interrupted)."""

    def __init__(self, total: int, skipped: int, out_path: Path | None):
        self.total, self.skipped, self.out_path = total, skipped, out_path
        self.ok = self.failed = 0
        self.finished = False

    def count(self, ok: bool) -> None:
        if ok:
            self.ok += 1
        else:
            self.failed += 1

    def summary(self) -> str:
        where = str(self.out_path) if self.out_path is not None else "stdout"
        head = "done" if self.finished else "stopped"
        left = self.total - self.skipped - self.ok - self.failed
        parts = [
            f"{self.ok} generated",
            f"{self.failed} failed",
            f"{self.skipped} skipped (already in the output)",
        ]
        if left:
            parts.append(f"{left} not done")
        return f"structgen: {head}: {self.total} rows: {', '.join(parts)}; output: {where}"


class _Clock:
    """Phase timings for ``--timings`` (on stderr)."""

    def __init__(self, on: bool):
        self.on = on
        self.t = self.t0 = time.perf_counter()
        self.laps: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.append((name, now - self.t))
        self.t = now

    def report(self) -> None:
        if self.on:
            parts = ", ".join(f"{n} {s:.2f}s" for n, s in self.laps)
            total = time.perf_counter() - self.t0
            print(f"structgen: timings: {parts} (total {total:.2f}s)", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    spec = _spec_from_args(args, args.schema)
    if args.prompt is None and args.input is None:
        raise CliError("give --prompt TEXT, or --input FILE.jsonl for a batch")
    if args.prompt is not None and args.input is not None:
        raise CliError("give either --prompt or --input, not both")
    if args.output is not None and args.input is None:
        raise CliError("--output needs --input")
    if args.max_new_tokens < 1:
        raise CliError(f"--max-new-tokens must be at least 1, got {args.max_new_tokens}")
    gen_kwargs = _gen_kwargs(args)
    inputs = _read_inputs(args.input) if args.input is not None else [(0, args.prompt, None)]
    out_path = Path(args.output) if args.output is not None else None
    done = done_lines(out_path) if out_path is not None else set()

    clock = _Clock(args.timings)
    model, tok = load_model(args.model, args.device, verbose=not args.quiet)
    clock.lap("load model")
    if args.seed is not None:
        import torch

        torch.manual_seed(args.seed)
    from . import diskcache
    from .compiler import compile
    from .errors import IncompleteOutputError
    from .function import messages
    from .generate import generate

    vocab_size = getattr(getattr(model, "config", None), "vocab_size", None)
    compiled = compile(spec.spec, tok, vocab_size=vocab_size)  # loads the disk cache
    clock.lap("compile")
    output_type = spec.output_type

    def gen(prompts: list[str]) -> list[Any]:
        return generate(
            model,
            tok,
            [messages(p, args.system) for p in prompts],
            output_type,
            max_new_tokens=args.max_new_tokens,
            **gen_kwargs,
        )

    todo = [x for x in inputs if x[0] not in done]
    progress = None
    tally = _Tally(len(inputs), len(inputs) - len(todo), out_path)
    try:
        if args.input is None:
            try:
                (value,) = gen([inputs[0][1]])
            except IncompleteOutputError as e:
                raise CliError(str(e)) from None
            print(_render(spec, value, args.pretty))
        else:
            progress = _Progress(len(inputs), tally.skipped)
            with (
                open(out_path, "a", encoding="utf-8")
                if out_path is not None
                else contextlib.nullcontext(sys.stdout)
            ) as sink:
                bs = max(1, args.batch_size)
                for start in range(0, len(todo), bs):
                    chunk = todo[start : start + bs]
                    try:
                        results: list[Any] = [("ok", v) for v in gen([p for _, p, _ in chunk])]
                    except IncompleteOutputError:  # find which rows: one at a time
                        results = []
                        for _, p, _ in chunk:
                            try:
                                results.append(("ok", gen([p])[0]))
                            except IncompleteOutputError as e:
                                results.append(("error", str(e)))
                    for (line, _p, ident), (status, value) in zip(chunk, results, strict=True):
                        rec: dict[str, Any] = {"line": line}
                        if ident is not None:
                            rec["id"] = ident
                        if status == "ok":
                            rec["output"] = _jsonable(value)
                        else:
                            rec["error"] = value
                        with deferred_sigint():  # only complete lines: resumable
                            sink.write(json.dumps(rec, ensure_ascii=False) + "\n")
                            sink.flush()
                        tally.count(status == "ok")
                    progress.advance(len(chunk))
            tally.finished = True
            if tally.failed:
                print(
                    f"structgen: {tally.failed} output(s) did not fit in --max-new-tokens "
                    f'{args.max_new_tokens}; their lines hold an "error"',
                    file=sys.stderr,
                )
    finally:
        if progress is not None:
            progress.close()
            print(tally.summary(), file=sys.stderr)
        clock.lap("generate")
        diskcache.save_compiled(compiled)
        clock.lap("save cache")
        clock.report()
    return EXIT_OK


# --------------------------------------------------------------------------- grammar / check


def cmd_grammar(args: argparse.Namespace) -> int:
    from .compiler import to_grammar

    spec = _spec_from_args(args, args.schema)
    sys.stdout.write(to_grammar(spec.spec).to_lark().rstrip("\n") + "\n")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    files = list(args.files)
    uses_flag = args.regex is not None or args.grammar is not None or args.type is not None
    if uses_flag:
        if len(files) != 1:
            raise CliError("check with --regex/--grammar/--type takes one DATA file")
        schema_path, data_path = None, files[0]
    else:
        if len(files) != 2:
            raise CliError("usage: structgen check SCHEMA DATA (or --regex P DATA)")
        schema_path, data_path = files
    spec = _spec_from_args(args, schema_path)
    text = read_text(data_path, "data", MAX_DATA_BYTES)
    if text.endswith("\n") and not args.exact:
        text = text[:-1]  # the newline editors add at the end of a file
    report = check_text(spec.spec, text)
    if report.accepted:
        print(f"{data_path}: accepted")
        return EXIT_OK
    print(f"{data_path}: {report.format()}")
    return EXIT_REJECTED


_NAMES = {0x20: "space", 0x0A: "newline", 0x09: "tab", 0x0D: "carriage return"}


def _byte_name(b: int) -> str:
    if b in _NAMES:
        return _NAMES[b]
    if 0x21 <= b <= 0x7E:
        return repr(chr(b))
    return f"byte 0x{b:02X}"


def describe_bytes(allowed: Any) -> str:
    """A short English list of the bytes set in a bool[256] (``'"' or '}'``, ``'0'-'9'``)."""
    parts: list[str] = []
    ws = (0x09, 0x0A, 0x0D, 0x20)
    skip = set(ws) if all(allowed[x] for x in ws) else set()
    if skip:
        parts.append("whitespace")
    b = 0
    while b < 0x80:
        if not allowed[b] or b in skip:
            b += 1
            continue
        e = b
        while e + 1 < 0x80 and allowed[e + 1] and e + 1 not in skip:
            e += 1
        if e - b >= 2 and 0x21 <= b and e <= 0x7E:
            parts.append(f"{chr(b)!r}-{chr(e)!r}")
        else:
            parts.extend(_byte_name(x) for x in range(b, e + 1))
        b = e + 1
    high = [x for x in range(0x80, 0x100) if allowed[x]]
    if high:
        lead = [x for x in high if x >= 0xC2]
        parts.append("a non-ASCII character" if lead else "a UTF-8 continuation byte")
    if not parts:
        return "nothing"
    if len(parts) == 1:
        return parts[0]
    if len(parts) > 12:
        parts = [*parts[:12], f"... ({len(parts) - 12} more)"]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


@dataclass
class CheckReport:
    """The outcome of :func:`check_text`. When not accepted, ``offset`` is the byte offset
    where the text stopped being valid (``len`` of the text when it ended too early),
    ``line``/``column`` are 1-based (column in characters), ``expected`` describes the bytes
    that could come there and ``end_ok`` tells whether the text could have ended there."""

    accepted: bool
    text: str
    offset: int = 0
    line: int = 1
    column: int = 1
    expected: str = ""
    end_ok: bool = False
    at_end: bool = False

    def format(self) -> str:
        if self.accepted:
            return "accepted"
        exp = self.expected
        if self.end_ok:
            exp = f"{exp} or the end of the text" if exp != "nothing" else "the end of the text"
        data = self.text.encode("utf-8")
        if self.at_end:
            head = f"not accepted: the text ends too early (byte {self.offset}, line {self.line}, column {self.column}); expected {exp}"
        else:
            found = _byte_name(data[self.offset])
            head = (
                f"not accepted at byte {self.offset} (line {self.line}, column {self.column}): "
                f"expected {exp}, found {found}"
            )
        line_text = (
            self.text.splitlines()[self.line - 1]
            if self.text.splitlines()[self.line - 1 : self.line]
            else ""
        )
        shown = line_text.expandtabs(1)
        return f"{head}\n  {shown}\n  {' ' * (self.column - 1)}^"


def check_text(spec: Any, text: str) -> CheckReport:
    """Walk ``text`` byte by byte through the compiled automaton of ``spec`` (no tokenizer)
    and report whether it is accepted, or where it stops being valid and what was expected."""
    import numpy as np

    from .automata.grammar import END
    from .compiler import compile_automaton

    a = compile_automaton(spec)
    data = text.encode("utf-8")
    config = a.initial()

    def first_bytes(cfg: frozenset) -> Any:
        fb = np.zeros(256, dtype=bool)
        for t, q, _ in cfg:
            if t >= 0:
                fb |= a.dfas[t].first_bytes(q)
        return fb

    for i, b in enumerate(data):
        nxt = a.step(config, b)
        if not nxt:
            return _report(text, data, i, first_bytes(config), END in config, at_end=False)
        config = nxt
    if END in config:
        return CheckReport(True, text)
    return _report(text, data, len(data), first_bytes(config), False, at_end=True)


def _report(text: str, data: bytes, i: int, fb: Any, end_ok: bool, at_end: bool) -> CheckReport:
    before = data[:i].decode("utf-8", "replace")
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    return CheckReport(False, text, i, line, col, describe_bytes(fb), end_ok, at_end)


# --------------------------------------------------------------------------- models


def cmd_models(args: argparse.Namespace) -> int:
    from . import assets

    if args.action == "fetch":
        names = list(assets.TOKENIZERS) if args.all else []
        assets.fetch(names, model=True, verbose=True)
        return EXIT_OK
    rows = assets.models()
    print(f"cache: {assets.cache_dir()}")
    for r in rows:
        mark = "fetched" if r["fetched"] else "not fetched"
        print(f"  {r['name']:<24} {r['kind']:<16} {mark:<12} from {r['source']}")
    if not rows[0]["fetched"]:
        print("fetch the default model with `structgen models fetch` (or on first `structgen run`)")
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def _add_spec_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--regex", metavar="PATTERN", help="a Python regular expression (fullmatch)")
    p.add_argument(
        "--grammar", metavar="FILE|builtin:NAME", help="a Lark grammar file or a built-in grammar"
    )
    p.add_argument("--type", metavar="MODULE:CLASS", help="a pydantic model or Python type")
    p.add_argument(
        "--spelling",
        choices=["canonical", "any"],
        help="JSON: one spelling per value (canonical; default of run and grammar) or every "
        "valid spelling (any; default of check)",
    )
    p.add_argument(
        "--whitespace",
        choices=["compact", "spaced", "indent", "bounded"],
        help="JSON layout (default: spaced for canonical, bounded for any)",
    )
    p.add_argument("--compact", action="store_true", help="the same as --whitespace compact")
    p.add_argument(
        "--repeats",
        choices=["avoid", "allow"],
        help="JSON: refuse array items repeating an earlier item while generating (avoid; "
        "default of canonical) or leave them to the model (allow)",
    )
    p.add_argument(
        "--lenient",
        action="store_true",
        help="ignore schema keywords that cannot be enforced exactly (with a warning)",
    )


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="structgen",
        description="Constrained generation: JSON Schema, regex and grammars, enforced token by token.",
    )
    parser.add_argument("--version", action="version", version=f"structgen {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    run = sub.add_parser(
        "run", help="generate under a constraint", description="Generate text under a constraint."
    )
    run.add_argument("schema", nargs="?", help="a JSON Schema file")
    _add_spec_options(run)
    run.add_argument("--prompt", "-p", help="the prompt")
    run.add_argument("--input", metavar="FILE.jsonl", help="prompts, one per line")
    run.add_argument("--output", metavar="FILE.jsonl", help="results (resumable); default stdout")
    run.add_argument("--pretty", action="store_true", help="indent the printed JSON")
    run.add_argument(
        "--model",
        "-m",
        help="a local folder, a .gguf file or a hub id (default: built-in SmolLM2-135M-Instruct)",
    )
    run.add_argument("--device", help="cpu, cuda, cuda:1, auto (default: where the model loads)")
    run.add_argument("--max-new-tokens", type=int, default=256)
    run.add_argument(
        "--temperature", type=float, help="sample at this temperature (default: greedy)"
    )
    run.add_argument("--top-p", type=float, help="nucleus sampling")
    run.add_argument("--seed", type=int, help="random seed for sampling")
    run.add_argument("--num-beams", type=int, help="beam search with this many beams")
    run.add_argument("--system", help="a system message")
    run.add_argument(
        "--batch-size", type=int, default=8, help="rows per generate() call with --input"
    )
    run.add_argument("--quiet", "-q", action="store_true", help="no progress messages")
    run.add_argument("--timings", action="store_true", help="print where the time went (stderr)")
    run.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)

    gram = sub.add_parser("grammar", help="print the Lark grammar that is enforced")
    gram.add_argument("schema", nargs="?", help="a JSON Schema file")
    _add_spec_options(gram)
    gram.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    gram.set_defaults(func=cmd_grammar)

    chk = sub.add_parser(
        "check",
        help="check a text against a schema / regex / grammar",
        description="Exit 0 when DATA is accepted, 1 (with where and what was expected) when not.",
    )
    chk.add_argument(
        "files",
        nargs="+",
        metavar="[SCHEMA] DATA",
        help="schema file (unless --regex/--grammar/--type) and the text ('-' for stdin)",
    )
    _add_spec_options(chk)
    chk.add_argument(
        "--exact",
        action="store_true",
        help="keep a final newline of the data file (dropped by default)",
    )
    chk.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    chk.set_defaults(func=cmd_check, default_spelling="any")

    mod = sub.add_parser("models", help="list (or fetch) the built-in model and tokenizers")
    mod.add_argument("action", nargs="?", choices=["list", "fetch"], default="list")
    mod.add_argument("--all", action="store_true", help="with fetch: the test tokenizers too")
    mod.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    mod.set_defaults(func=cmd_models)
    return parser


def _message(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 not accepted, 2 error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except SystemExit as e:  # --help, --version
        return int(e.code or 0) if isinstance(e.code, int) else EXIT_ERROR
    except KeyboardInterrupt:
        if debug:
            raise
        return interrupted()
    except BrokenPipeError:
        return EXIT_OK
    except (StructgenError, OSError, ValueError, ImportError, TypeError, RuntimeError) as e:
        if debug:
            raise
        _print_error(e)
        return EXIT_ERROR


def _print_error(e: BaseException) -> None:
    msg = _message(e)
    lines = msg.splitlines()
    if isinstance(e, StructgenError) or len(lines) <= 1:
        text = msg
    else:
        text = lines[0]
    name = "" if isinstance(e, (StructgenError, OSError)) else f"{type(e).__name__}: "
    print(f"structgen: error: {name}{text}", file=sys.stderr)
    if not isinstance(e, StructgenError):
        print("structgen: (run with --debug for the traceback)", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
