"""The ``structgen`` command line, run in-process through ``structgen.cli.main``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from structgen import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PERSON = EXAMPLES / "person.schema.json"


@pytest.fixture(autouse=True)
def _private_disk_cache(tmp_path_factory, monkeypatch):
    from structgen import diskcache

    monkeypatch.setenv("STRUCTGEN_DISK_CACHE", str(tmp_path_factory.mktemp("diskcache")))
    diskcache.configure(True)
    yield
    diskcache.configure(True)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error(code: int, err: str, pattern: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines[0].startswith("structgen: error: "), err
    assert re.search(pattern, lines[0]), lines[0]


# --------------------------------------------------------------------------- grammar


def test_grammar_prints_lark_of_the_schema(capsys):
    code, out, err = run(capsys, "grammar", PERSON)
    assert code == 0, err
    assert out.startswith("start:")
    assert "KEY_NAME" in out or '"name"' in out


def test_grammar_of_a_regex(capsys):
    code, out, _ = run(capsys, "grammar", "--regex", r"\d{4}")
    assert code == 0
    assert "start" in out and "PATTERN" in out


# --------------------------------------------------------------------------- errors: exit 2


def test_missing_schema_file(capsys, tmp_path):
    code, _, err = run(capsys, "grammar", tmp_path / "nope.json")
    assert_one_error(code, err, r"nope\.json: no such file")


def test_invalid_json_schema_file(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "type": "object",\n  "properties": {,}\n}\n')
    code, _, err = run(capsys, "grammar", bad)
    assert_one_error(code, err, r"bad\.json is not valid JSON: .* line 3, column 18")


def test_unsupported_keyword_names_keyword_and_pointer(capsys, tmp_path):
    schema = tmp_path / "s.json"
    schema.write_text(
        json.dumps(
            {"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True}}}
        )
    )
    code, _, err = run(capsys, "grammar", schema)
    assert_one_error(code, err, r"uniqueItems.*/properties/tags")


def test_bad_regex_reports_position(capsys):
    code, _, err = run(capsys, "grammar", "--regex", r"(a|b")
    assert code == 2
    assert "Traceback" not in err
    assert "structgen: error: " in err and "position" in err


def test_unknown_model(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run(
        capsys, "run", PERSON, "--prompt", "x", "--model", "no-such-org/no-such-model-xyz"
    )
    assert_one_error(code, err, r"cannot load model 'no-such-org/no-such-model-xyz'")


def test_unreachable_hub_fails_fast(capsys, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(cli, "_hub_reachable", lambda timeout=3.0: False)
    code, _, err = run(capsys, "run", "--regex", "a", "--prompt", "x", "--model", "org/nope-xyz")
    assert_one_error(code, err, r"model hub cannot be reached")


def test_missing_local_model_folder(capsys, tmp_path):
    code, _, err = run(capsys, "run", PERSON, "--prompt", "x", "--model", tmp_path / "m.gguf")
    assert_one_error(code, err, r"no such \.gguf file")


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (
            ["run", PERSON, "--prompt", "x", "--max-new-tokens", "many"],
            r"--max-new-tokens.*invalid int",
        ),
        (["run", PERSON, "--prompt", "x", "--frobnicate"], r"unrecognized arguments: --frobnicate"),
        (["run", "--prompt", "x"], r"say what to enforce"),
        (["run", PERSON, "--regex", "a", "--prompt", "x"], r"only one of"),
        (["run", PERSON], r"--prompt"),
        (["run", PERSON, "--prompt", "x", "--input", "in.jsonl"], r"either --prompt or --input"),
        (["run", PERSON, "--prompt", "x", "--top-p", "2"], r"--top-p"),
        (["run", "--type", "nocolon", "--prompt", "x"], r"module:Class"),
        (["run", "--type", "no_such_module_xyz:Thing", "--prompt", "x"], r"cannot import module"),
        (["nosuchcommand"], r"invalid choice"),
        (["check", PERSON], r"SCHEMA DATA"),
    ],
)
def test_bad_flags_exit_2(capsys, argv, pattern):
    code, _, err = run(capsys, *argv)
    assert_one_error(code, err, pattern)


def test_bad_input_line(capsys, tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"prompt": "a"}\n{"prompt": 3}\n')
    code, _, err = run(capsys, "run", "--regex", "a", "--input", inp)
    assert_one_error(code, err, r"in\.jsonl, line 2")


def test_debug_shows_the_traceback(capsys, tmp_path):
    with pytest.raises(cli.CliError):
        cli.main(["--debug", "grammar", str(tmp_path / "nope.json")])


# --------------------------------------------------------------------------- check


def test_check_accepts_a_valid_instance(capsys, tmp_path):
    data = tmp_path / "ok.json"
    data.write_text(json.dumps({"name": "Ann", "age": 33, "hobbies": ["chess"]}, indent=2) + "\n")
    code, out, _ = run(capsys, "check", PERSON, data)
    assert code == 0
    assert out.strip().endswith("accepted")


@pytest.mark.parametrize(
    "text",
    [
        '{"age": 33, "name": "Ann"}',  # keys out of schema order
        '{"name": "\\u0041nn", "age": 33}',  # an escaped letter
        '{"name": "Ann", "age": 33.0}',  # an integer with a fraction
        '{"name":"Ann","age":33}',  # another layout
    ],
)
def test_check_judges_every_valid_spelling_and_run_generates_one(capsys, tmp_path, text):
    """check accepts any valid spelling of an instance (the data was written elsewhere);
    the grammar that run enforces (structgen grammar, the same options) is the canonical
    one, which rejects these spellings unless --spelling any is given."""
    data = tmp_path / "data.json"
    data.write_text(text)
    jsonschema.validate(json.loads(text), json.loads(PERSON.read_text()))
    code, out, _ = run(capsys, "check", PERSON, data)
    assert code == 0, out
    code, out, _ = run(capsys, "check", "--spelling", "canonical", PERSON, data)
    assert code == 1, out
    canonical = json.dumps({"name": "Ann", "age": 33})
    data.write_text(canonical)
    code, out, _ = run(capsys, "check", "--spelling", "canonical", PERSON, data)
    assert code == 0, out


def test_grammar_prints_the_canonical_spelling_unless_asked(capsys):
    _, canonical, _ = run(capsys, "grammar", PERSON)
    _, compact, _ = run(capsys, "grammar", "--whitespace", "compact", PERSON)
    _, any_, _ = run(capsys, "grammar", "--spelling", "any", PERSON)
    assert len({canonical, compact, any_}) == 3


def test_check_reports_where_and_what(capsys, tmp_path):
    data = tmp_path / "bad.json"
    data.write_text('{\n  "name": "Ann",\n  "age": 3x\n}\n')
    code, out, _ = run(capsys, "check", PERSON, data)
    assert code == 1
    offset = data.read_bytes().index(b"x")
    assert f"at byte {offset} (line 3, column 11)" in out
    assert "found 'x'" in out and "'0'-'9'" in out and "'}'" in out
    lines = out.splitlines()
    assert lines[1] == '    "age": 3x'
    assert lines[2].index("^") == lines[1].index("x")


def test_check_reports_an_early_end(capsys, tmp_path):
    data = tmp_path / "short.json"
    data.write_text('{"name": "Ann"')
    code, out, _ = run(capsys, "check", PERSON, data)
    assert code == 1
    assert "ends too early" in out and "','" in out


def test_check_rejects_invalid_values_the_schema_forbids(capsys, tmp_path):
    # age > maximum: the text is well-formed JSON but not a valid instance
    data = tmp_path / "old.json"
    data.write_text('{"name": "Ann", "age": 131}')
    code, out, _ = run(capsys, "check", PERSON, data)
    assert code == 1
    schema = json.loads(PERSON.read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(data.read_text()), schema)


def test_check_with_a_regex(capsys, tmp_path):
    data = tmp_path / "d.txt"
    data.write_text("2024-13-01")
    code, out, _ = run(capsys, "check", "--regex", r"\d{4}-(0[1-9]|1[0-2])-\d\d", data)
    assert code == 1
    assert "at byte 6" in out and "'0'-'2'" in out
    data.write_text("2024-12-01")
    assert run(capsys, "check", "--regex", r"\d{4}-(0[1-9]|1[0-2])-\d\d", data)[0] == 0


def test_describe_bytes():
    import numpy as np

    fb = np.zeros(256, dtype=bool)
    fb[[ord('"'), ord("}")]] = True
    assert cli.describe_bytes(fb) == "'\"' or '}'"
    fb[ord("0") : ord("9") + 1] = True
    fb[0xC3] = True
    assert "'0'-'9'" in cli.describe_bytes(fb)
    assert cli.describe_bytes(fb).endswith("or a non-ASCII character")


# --------------------------------------------------------------------------- models


def test_models_lists_the_default_model(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0
    assert "smollm2-135m-instruct" in out and "model (default)" in out


# --------------------------------------------------------------------------- run (real model)


@pytest.mark.model
def test_run_prints_one_line_of_valid_json(capsys, smollm2):
    code, out, err = run(
        capsys,
        "run",
        PERSON,
        "--prompt",
        "Invent a person. Answer in JSON.",
        "--max-new-tokens",
        "96",
        "-q",
    )
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1
    jsonschema.validate(json.loads(lines[0]), json.loads(PERSON.read_text()))


@pytest.mark.model
def test_run_regex_and_a_budget_too_small(capsys, smollm2):
    code, out, err = run(capsys, "run", "--regex", r"(yes|no)", "--prompt", "Is water wet?", "-q")
    assert code == 0, err
    assert out.strip() in ("yes", "no")
    code, _, err = run(
        capsys,
        "run",
        "--regex",
        r"[a-z]{20}",
        "--prompt",
        "Say a long word.",
        "--max-new-tokens",
        "2",
        "-q",
    )
    assert_one_error(code, err, r"max_new_tokens=2 is too small")


@pytest.mark.model
def test_run_batch_output_is_resumable(capsys, smollm2, tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text(
        json.dumps({"id": "a", "prompt": "Pick a number."})
        + "\n"
        + json.dumps("Another number?")
        + "\n"
    )
    outp = tmp_path / "out.jsonl"
    argv = [
        "run",
        "--regex",
        r"[1-9]\d?",
        "--input",
        inp,
        "--output",
        outp,
        "-q",
        "--max-new-tokens",
        "4",
    ]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert out == ""
    assert "[#" not in err  # no progress bar when stderr is not a terminal
    assert (
        f"structgen: done: 2 rows: 2 generated, 0 failed, 0 skipped (already in the output); output: {outp}"
        in err
    )
    recs = [json.loads(x) for x in outp.read_text().splitlines()]
    assert [r["line"] for r in recs] == [1, 2]
    assert recs[0]["id"] == "a"
    assert all(re.fullmatch(r"[1-9]\d?", r["output"]) for r in recs)
    # an interrupted run left a partial line; the rerun drops it and redoes line 2 only
    first = outp.read_text().splitlines()[0]
    outp.write_text(first + "\n" + '{"line": 2, "out')
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    recs2 = [json.loads(x) for x in outp.read_text().splitlines()]
    assert [r["line"] for r in recs2] == [1, 2]
    assert recs2[1] == recs[1]
    # nothing left to do: the file is unchanged
    before = outp.read_text()
    assert run(capsys, *argv)[0] == 0
    assert outp.read_text() == before
    # without --output the records go to stdout, one JSON object per line
    code, out, err = run(capsys, *argv[:5], "-q", "--max-new-tokens", "4")
    assert code == 0, err
    assert [json.loads(x)["line"] for x in out.splitlines()] == [1, 2]


def test_default_model_is_fetched_on_first_use(monkeypatch, capsys):
    from structgen import assets

    calls = []
    monkeypatch.setattr(assets, "_is_complete", lambda folder, marker: False)
    monkeypatch.setattr(assets, "fetch", lambda *a, **kw: calls.append((a, kw)))
    monkeypatch.setattr(assets, "load_model", lambda: ("model", "tok"))
    assert assets.load_default_model() == ("model", "tok")
    assert calls == [(([],), {"model": True, "verbose": True})]  # the model only
    assert "first use: fetching the default model" in capsys.readouterr().err


@pytest.mark.model
def test_unavailable_device_is_an_error(capsys, smollm2):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    code, _, err = run(capsys, "run", "--regex", "a", "--prompt", "x", "--device", "cuda", "-q")
    assert_one_error(code, err, r"--device cuda: ")
    assert next(smollm2[0].parameters()).device.type == "cpu"


def test_type_from_a_module(capsys, tmp_path, monkeypatch):
    (tmp_path / "mymodels.py").write_text(
        "from pydantic import BaseModel\n\nclass Pet(BaseModel):\n    name: str\n    legs: int\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = run(capsys, "grammar", "--type", "mymodels:Pet", "--compact")
    assert code == 0, err
    assert out.startswith("start:")
    data = tmp_path / "pet.json"
    data.write_text('{"name":"Rex","legs":4}')
    assert run(capsys, "check", "--type", "mymodels:Pet", "--compact", data)[0] == 0
    data.write_text('{"name":"Rex","legs":"4"}')
    code, out, _ = run(capsys, "check", "--type", "mymodels:Pet", "--compact", data)
    assert code == 1 and "at byte 21" in out
    code, _, err = run(capsys, "grammar", "--type", "mymodels:Cat")
    assert_one_error(code, err, r"has no attribute 'Cat'")


# --------------------------------------------------------------------------- run: the spec first


def _no_model_loading(monkeypatch):
    """Make loading a model a test failure: the spec must be refused before it."""

    def load_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the spec was checked")

    monkeypatch.setattr(cli, "load_model", load_model)


def _spec_files(tmp_path):
    (tmp_path / "typo.json").write_text(
        '{"type": "object", "properties": {"a": {"type": "strin"}}}'
    )
    (tmp_path / "unsupported.json").write_text(
        json.dumps(
            {"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True}}}
        )
    )
    (tmp_path / "undefined.lark").write_text('start: "a" foo\n')
    (tmp_path / "unclosed.lark").write_text('start: "a" (\n')
    (tmp_path / "badtypes.py").write_text("class Plain:\n    pass\n")


@pytest.mark.parametrize(
    "spec_args, named",
    [
        (["{tmp}/typo.json"], r"schema \S*typo\.json: type at /properties/a: invalid type 'strin'"),
        (
            ["{tmp}/unsupported.json"],
            r"schema \S*unsupported\.json: uniqueItems at /properties/tags",
        ),
        (["--grammar", "{tmp}/undefined.lark"], r"grammar \S*undefined\.lark: Rule 'foo'"),
        (["--grammar", "{tmp}/unclosed.lark"], r"grammar \S*unclosed\.lark: Unclosed parenthesis"),
        (["--grammar", "builtin:nope"], r"grammar builtin:nope: no built-in grammar named 'nope'"),
        (["--regex", "(a"], r"--regex: missing \), unterminated subpattern at position 0"),
        (["--type", "badtypes:Plain"], r"--type badtypes:Plain: cannot derive a JSON Schema"),
    ],
)
def test_run_refuses_a_bad_spec_before_loading_the_model(
    capsys, tmp_path, monkeypatch, spec_args, named
):
    # --model names no model at all: had loading come first, its error would be the one shown
    _spec_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("STRUCTGEN_CACHE", str(tmp_path / "empty-cache"))
    _no_model_loading(monkeypatch)
    argv = [a.format(tmp=tmp_path) for a in spec_args]
    code, out, err = run(
        capsys, "run", *argv, "--prompt", "x", "--model", tmp_path / "no-such-model", "-q"
    )
    assert_one_error(code, err, named)
    assert out == ""
    assert not (tmp_path / "empty-cache").exists()  # nothing fetched either


def test_run_refuses_a_bad_spec_in_a_fresh_process(tmp_path):
    """The same through the installed entry point, with an empty asset cache and a model
    path that does not exist: the schema's error, naming the file, is what comes out."""
    import os
    import subprocess
    import sys

    _spec_files(tmp_path)
    env = dict(os.environ, STRUCTGEN_CACHE=str(tmp_path / "empty-cache"), HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "structgen.cli", "run", "typo.json", "--prompt", "x",
         "--model", str(tmp_path / "no-such-model")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("structgen: error: schema typo.json: type at /properties/a")
    assert not (tmp_path / "empty-cache").exists()


def test_a_lark_file_given_as_a_schema_gets_a_hint(capsys, tmp_path):
    g = tmp_path / "g.lark"
    g.write_text('start: "a"\n')
    code, _, err = run(capsys, "grammar", g)
    assert_one_error(code, err, r"not valid JSON.*give it as --grammar \S*g\.lark")


# --------------------------------------------------------------------------- run: batch summary


class _Terminal:
    """A stand-in stderr that says it is a terminal."""

    def __init__(self):
        import io

        self.buf = io.StringIO()

    def isatty(self):
        return True

    def write(self, s):
        return self.buf.write(s)

    def flush(self):
        pass


@pytest.fixture
def stub_generation(monkeypatch, tokenizers):
    """The real SmolLM2 tokenizer with a stand-in for the model's generation: each prompt's
    answer is "7", and a prompt containing "long" does not fit in the budget."""
    import sys
    import types

    from structgen.errors import IncompleteOutputError

    tok = tokenizers["smollm2"]
    model = types.SimpleNamespace(config=types.SimpleNamespace(vocab_size=49152))
    monkeypatch.setattr(cli, "load_model", lambda *a, **kw: (model, tok))

    def generate(model, tok, prompts, output_type, **kw):
        texts = [p if isinstance(p, str) else p[-1]["content"] for p in prompts]
        for i, t in enumerate(texts):
            if "long" in t:
                raise IncompleteOutputError("max_new_tokens ran out", "", i)
        return ["7" for _ in texts]

    monkeypatch.setattr(sys.modules["structgen.generate"], "generate", generate)


def _batch_files(tmp_path):
    inp = tmp_path / "prompts.jsonl"
    inp.write_text(
        "\n".join(json.dumps(p) for p in ["a number", "a long number", "one more", "last"]) + "\n"
    )
    outp = tmp_path / "results.jsonl"
    outp.write_text(json.dumps({"line": 1, "output": "3"}) + "\n")  # done by an earlier run
    return inp, outp


def _summary(err: str) -> str:
    lines = [x for x in err.splitlines() if x.startswith("structgen: done:")]
    assert len(lines) == 1, err
    return lines[0]


def test_batch_run_says_what_it_did(capsys, tmp_path, stub_generation):
    inp, outp = _batch_files(tmp_path)
    code, out, err = run(
        capsys, "run", "--regex", r"\d", "--input", inp, "--output", outp, "--batch-size", "2"
    )
    assert code == 0, err
    assert out == ""
    recs = [json.loads(x) for x in outp.read_text().splitlines()]
    assert [r["line"] for r in recs] == [1, 2, 3, 4] and "error" in recs[1]
    assert _summary(err) == (
        "structgen: done: 4 rows: 2 generated, 1 failed, 1 skipped (already in the output); "
        f"output: {outp}"
    )
    # a rerun has nothing left to do, and says so
    code, _, err = run(capsys, "run", "--regex", r"\d", "--input", inp, "--output", outp, "-q")
    assert code == 0
    assert _summary(err) == (
        "structgen: done: 4 rows: 0 generated, 0 failed, 4 skipped (already in the output); "
        f"output: {outp}"
    )


def test_batch_run_summary_on_a_terminal_and_to_stdout(
    capsys, tmp_path, monkeypatch, stub_generation
):
    inp, _ = _batch_files(tmp_path)
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    code = cli.main(["run", "--regex", r"\d", "--input", str(inp)])
    err = term.buf.getvalue()
    assert code == 0, err
    assert "[#" in err  # the progress bar, drawn on a terminal
    assert _summary(err) == (
        "structgen: done: 4 rows: 3 generated, 1 failed, 0 skipped (already in the output); "
        "output: stdout"
    )
    assert len(capsys.readouterr().out.splitlines()) == 4


def test_an_interrupted_batch_run_says_how_far_it_got(
    capsys, tmp_path, monkeypatch, stub_generation
):
    import sys

    inp, outp = _batch_files(tmp_path)
    real = sys.modules["structgen.generate"].generate

    def interrupted(model, tok, prompts, output_type, **kw):
        if "last" in prompts:
            raise KeyboardInterrupt  # Ctrl-C during the last row
        return real(model, tok, prompts, output_type, **kw)

    monkeypatch.setattr(sys.modules["structgen.generate"], "generate", interrupted)
    argv = ["run", "--regex", r"\d", "--input", inp, "--output", outp, "--batch-size", "1"]
    code, _, err = run(capsys, *argv)
    assert code == 130
    lines = [x for x in err.splitlines() if x.startswith("structgen: stopped:")]
    assert lines == [
        "structgen: stopped: 4 rows: 1 generated, 1 failed, 1 skipped (already in the output), "
        f"1 not done; output: {outp}"
    ], err
    assert [json.loads(x)["line"] for x in outp.read_text().splitlines()] == [1, 2, 3]
