"""`structgen grammar` prints a grammar that structgen loads back (`--grammar FILE`) and that
enforces the same language: every shipped grammar, the example schema and type, and schemas
that need structgen's extensions to Lark (`&` and `~` in terminals, bounded repeats)."""

from __future__ import annotations

import json
from pathlib import Path

import lark
import pytest

import structgen
from structgen import cli

from test_jsonschema_canonical import canon, schema_order

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "grammars" / "samples"


def printed(capsys, *spec_args: str) -> str:
    code = cli.main(["grammar", *spec_args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def mutations(text: str) -> list[str]:
    """Deterministic edits of ``text``: deletions, duplications, insertions, truncations."""
    n = len(text)
    spots = sorted({round(k * (n - 1) / 11) for k in range(12)}) if n else [0]
    out = []
    for i in spots:
        out += [text[:i] + text[i + 1 :], text[:i] + text[i] + text[i:], text[:i]]
        out += [text[:i] + c + text[i:] for c in ('"', ",", "}", " ", "0", "a", "\\", "-", "(")]
    return out


def assert_same_language(original, reloaded, texts: list[str]) -> None:
    accepted = rejected = 0
    for t in texts:
        a = cli.check_text(original, t).accepted
        b = cli.check_text(reloaded, t).accepted
        assert a == b, f"{'accepted' if a else 'rejected'} before the round trip only: {t!r}"
        accepted += a
        rejected += not a
    assert accepted and rejected  # the texts tell the languages apart


def reload(capsys, tmp_path, text: str, spec_args: list[str]) -> structgen.Grammar:
    """Load the printed grammar back as `structgen run --grammar FILE` does."""
    path = tmp_path / "printed.lark"
    path.write_text(text, encoding="utf-8")
    # the CLI takes it (a sample check through the command line)...
    assert cli.main(["grammar", "--grammar", str(path)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    return cli._lark_grammar(str(path))


def assert_plain_lark(text: str) -> None:
    """Lark itself loads the printed text: no empty terminal ("" or a zero-width regex),
    no name Lark refuses."""
    lark.Lark(text, parser="earley", lexer="dynamic")


@pytest.mark.parametrize("name", structgen.Grammar.builtin_names())
def test_shipped_grammars_round_trip(capsys, tmp_path, name):
    text = printed(capsys, "--grammar", f"builtin:{name}")
    assert_plain_lark(text)
    again = reload(capsys, tmp_path, text, ["--grammar", f"builtin:{name}"])
    samples = [p.read_text(encoding="utf-8") for p in sorted(SAMPLES.glob(f"{name}_*.txt"))]
    assert samples
    original = structgen.Grammar.builtin(name)
    for s in samples:
        assert cli.check_text(original, s).accepted
        assert_same_language(original, again, [s, *mutations(s)])


PERSON = ROOT / "examples" / "person.schema.json"

SCHEMAS = {
    "person": (
        json.loads(PERSON.read_text()),
        [json.loads((ROOT / "examples" / "person.json").read_text())],
    ),
    "bounds and enums": (
        {
            "type": "object",
            "properties": {
                "n": {"type": "integer", "minimum": -5, "exclusiveMaximum": 120},
                "x": {"type": "number", "minimum": 0.5, "maximum": 9.75},
                "kind": {"enum": ["a&b", "c~d", 3, None]},
                "ok": {"const": True},
            },
            "required": ["n", "kind"],
            "additionalProperties": False,
        },
        [{"n": 7, "kind": "a&b"}, {"n": -5, "x": 2.5, "kind": 3, "ok": True}],
    ),
    "strings, arrays, anyOf": (
        {
            "type": "object",
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3}$"},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "minItems": 1, "maxItems": 3},
                "when": {"type": "string", "format": "date"},
                "v": {"anyOf": [{"type": "integer"}, {"type": "string", "minLength": 2}]},
            },
            "required": ["code"],
        },
        [{"code": "AB-123", "tags": ["x", "yz"]}, {"code": "ZZ-000", "when": "2024-02-29", "v": "hi"}],
    ),
}  # fmt: skip


@pytest.mark.parametrize("spelling", ["canonical", "any"])
@pytest.mark.parametrize("name", SCHEMAS)
def test_schemas_round_trip(capsys, tmp_path, name, spelling):
    schema, instances = SCHEMAS[name]
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    args = ["--spelling", spelling, str(path)]
    text = printed(capsys, *args)
    assert_plain_lark(text)
    again = reload(capsys, tmp_path, text, args)
    original = cli._json_schema(schema, cli.build_parser().parse_args(["grammar", *args]))
    for inst in instances:
        if spelling == "canonical":  # the one text of the value
            texts = [canon(schema_order(schema, inst))]
        else:
            texts = [
                json.dumps(inst),
                json.dumps(inst, indent=2),
                json.dumps(inst, separators=(",", ":")),
            ]
        for t in texts:
            assert cli.check_text(original, t).accepted, t
            assert_same_language(original, again, [t, *mutations(t)])


def test_a_type_and_a_regex_round_trip(capsys, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    text = printed(capsys, "--type", "examples.models:Book")
    again = reload(capsys, tmp_path, text, [])
    original = cli._spec_from_args(
        cli.build_parser().parse_args(["grammar", "--type", "examples.models:Book"]), None
    ).spec
    book = json.dumps({"title": "Emma", "author": "Jane Austen", "year": 1815})
    assert_same_language(original, again, [book, *mutations(book)])

    rx = r"(19|20)\d\d-(0[1-9]|1[0-2])(&|~)?"
    text = printed(capsys, "--regex", rx)
    again = reload(capsys, tmp_path, text, [])
    assert_same_language(
        structgen.Regex(rx), again, [*mutations("1999-12&"), "2024-01~", "2024-01"]
    )


def test_extensions_are_declared_and_literals_stay_literal(capsys, tmp_path):
    """A comment line names structgen's extensions; without it `&` and `~` are characters."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"type": "integer", "minimum": 3, "maximum": 250}))
    text = printed(capsys, str(path))
    assert "\n//! structgen: & and ~ in terminals\n" in text and text.startswith("start:")
    plain = structgen.Grammar("start: /a&~b/")
    assert cli.check_text(plain, "a&~b").accepted
    assert not cli.check_text(plain, "a").accepted
    marked = structgen.Grammar("//! structgen: & and ~ in terminals\nstart: /[a-c]&~b/")
    assert [cli.check_text(marked, t).accepted for t in ("a", "b", "c", "a&~b")] == [
        True, False, True, False,
    ]  # fmt: skip
