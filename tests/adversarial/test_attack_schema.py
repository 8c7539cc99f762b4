"""Attacks on the JSON Schema and Python-type front ends: deep nesting, huge objects and
enums, slow lowering under a deadline. Each asserts the structgen error (or the safe
result) and that it stayed within generous time and memory bounds (bounds that catch a
hang or a blow-up, not benchmarks)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from peak_memory import SOURCE, peak_bytes, reset_peak

import structgen
from structgen import JsonSchema, LimitError
from structgen.automata import Automaton
from structgen.deadline import deadline

ROOT = Path(structgen.__file__).resolve().parents[1]  # the structgen under test
SECONDS = 20.0  # per attack: a hang or a quadratic blow-up goes far past it
PEAK_BYTES = 2 << 30  # the whole test process, torch included if loaded


@contextmanager
def bounded(seconds: float = SECONDS, peak: int = PEAK_BYTES):
    """The body ran within ``seconds`` and the process's peak resident size stayed under
    ``peak`` (the high-water mark: cheap enough to leave the timing alone, unlike
    tracemalloc; see peak_memory)."""
    reset_peak()
    t0 = time.perf_counter()
    yield
    elapsed = time.perf_counter() - t0
    rss = peak_bytes()
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    assert rss < peak, f"peak resident size {rss >> 20} MiB"


def _nested(kind: str, n: int) -> dict:
    s: dict = {"type": "integer"}
    for _ in range(n):
        if kind == "properties":
            s = {"type": "object", "properties": {"a": s}, "required": ["a"]}
        elif kind == "items":
            s = {"type": "array", "items": s}
        elif kind == "allOf":
            s = {"allOf": [s]}
        elif kind == "not":
            s = {"not": s}
        else:
            s = {"anyOf": [s, {"type": "null"}]}
    return s


def _deep_text(n: int) -> str:
    return '{"type":"object","properties":{"a":' * n + '{"type":"integer"}' + "}}" * n


@pytest.mark.parametrize("kind", ["properties", "items", "allOf", "not", "anyOf"])
def test_schema_nested_500_deep_is_a_limit_error(kind):
    schema = _nested(kind, 500)
    with bounded():
        with pytest.raises(LimitError, match=r"nested more than \d+ levels deep at /"):
            JsonSchema(schema, spelling="any")
        with pytest.raises(LimitError, match=r"max_spec_depth"):
            structgen.compile(schema)  # an output type: refused before any tokenizer
    # what real schemas nest still lowers
    a = Automaton(JsonSchema(_nested("properties", 40), spelling="any").to_grammar())
    assert a.matches(('{"a": ' * 40 + "7" + "}" * 40).encode())


def test_schema_text_nested_5000_deep_is_a_limit_error():
    with bounded():
        with pytest.raises(LimitError, match=r"at /properties/a/properties/a"):
            JsonSchema(_deep_text(5000))
        with pytest.raises(LimitError):
            JsonSchema(_deep_text(5000).encode())


def test_ref_chain_2000_long_is_a_limit_error():
    n = 2000
    defs = {
        f"d{i}": {"type": "object", "properties": {"x": {"$ref": f"#/$defs/d{i + 1}"}}}
        for i in range(n)
    }
    defs[f"d{n}"] = {"type": "integer"}
    schema = {"$defs": defs, "$ref": "#/$defs/d0"}
    with bounded():
        with pytest.raises(LimitError, match=r"nested more than \d+ levels deep at /\$defs/d"):
            JsonSchema(schema).to_grammar()


def _run_cli(args: list[str]) -> tuple[int, str, int]:
    code = SOURCE + textwrap.dedent(
        f"""
        import sys
        from structgen.cli import main
        rc = main({args!r})
        sys.stderr.write("\\nMAXRSS %d\\n" % (peak_bytes() // 1024))
        sys.exit(rc)
        """
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "STRUCTGEN_DISK_CACHE": "off"},
    )
    err, _, rss = p.stderr.rpartition("\nMAXRSS ")
    return p.returncode, err.strip(), int(rss) * 1024


@pytest.mark.parametrize("command", ["check", "grammar"])
def test_cli_schema_nested_500_deep_is_one_line_and_exit_2(tmp_path, command):
    schema = tmp_path / "deep.json"
    schema.write_text(_deep_text(500))
    data = tmp_path / "data.json"
    data.write_text("{}")
    args = [command, str(schema)] + ([str(data)] if command == "check" else [])
    t0 = time.perf_counter()
    rc, err, rss = _run_cli(args)
    assert time.perf_counter() - t0 < 60
    assert rc == 2, err
    assert "nested more than" in err and "RecursionError" not in err and "Traceback" not in err
    assert rss < 1 << 30


def test_pydantic_models_nested_100_deep_are_a_limit_error():
    pydantic = pytest.importorskip("pydantic")
    model = pydantic.create_model("M0", x=(int, ...))
    for i in range(1, 100):
        model = pydantic.create_model(f"M{i}", child=(model, ...))
    with bounded():
        with pytest.raises(
            LimitError, match=r"nests models more than \d+ levels deep at M99\.child"
        ):
            structgen.compile(model)

    class Tree(pydantic.BaseModel):  # recursion is not depth: a model on the path is not
        value: int  # entered again
        children: list[Tree] = []

    Tree.model_rebuild()
    from structgen.types import output_spec

    a = Automaton(output_spec(Tree).spec.to_grammar())
    assert a.matches(b'{"value": 1, "children": [{"value": 2, "children": []}]}')


def test_object_with_4000_properties_compiles():
    schema = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(4000)}}
    with bounded():
        a = Automaton(JsonSchema(schema, spelling="any").to_grammar())
        assert a.matches(json.dumps({"p0": 1, "p3999": 2}).encode())
        assert not a.matches(json.dumps({"p0": "x"}).encode())
        JsonSchema(schema).to_grammar()  # the canonical spelling too


@pytest.mark.parametrize("kind", ["strings", "numbers"])
def test_enum_of_10000_values_lowers_in_near_linear_time(kind):
    values = [f"value-{i}" for i in range(10_000)] if kind == "strings" else list(range(10_000))
    # 10 s is far above the near-linear time (well under a second here) and far below the
    # quadratic one (minutes), so it is a bound, not a benchmark
    with bounded(seconds=10):
        with deadline(10, "lowering a 10,000-value enum"):
            g = JsonSchema({"enum": values + values[:100]}).to_grammar()
    a = Automaton(g)
    assert a.matches(json.dumps(values[-1]).encode())
    assert not a.matches(json.dumps("value-10000" if kind == "strings" else 10_000).encode())


def test_deadline_fires_during_lowering():
    schema = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(40_000)}}
    spec = JsonSchema(schema)
    t0 = time.perf_counter()
    with bounded():
        with pytest.raises(LimitError, match="took longer than 0.2 s"):
            with deadline(0.2, "lowering"):
                spec.to_grammar()
    assert time.perf_counter() - t0 < 3.0  # the deadline, not the whole lowering (~8 s)


def test_deadline_fires_during_one_of_pairs():
    branches = [{"properties": {"k": {"const": i}}, "required": ["k"]} for i in range(2000)]
    spec = JsonSchema({"oneOf": branches})
    t0 = time.perf_counter()
    with pytest.raises(LimitError, match="took longer than"):
        with deadline(0.2, "lowering"):
            spec.to_grammar()
    assert time.perf_counter() - t0 < 3.0


def test_the_depth_bound_is_the_schemas_own_limits():
    schema = _nested("properties", 150)
    with pytest.raises(LimitError, match="nested more than 128 levels"):
        JsonSchema(schema)
    deeper = structgen.Limits(max_spec_depth=400)
    automaton = Automaton(JsonSchema(schema, limits=deeper).to_grammar())
    instance = 7
    for _ in range(150):
        instance = {"a": instance}
    text = json.dumps(instance).encode()  # (the canonical spelling: json.dumps's)
    assert automaton.matches(text)
    assert not automaton.matches(text.replace(b"7", b'"7"'))
    with pytest.raises(LimitError, match="nested more than 20 levels"):
        JsonSchema(_nested("properties", 30), limits=structgen.Limits(max_spec_depth=20))
