"""The output-quality bench's scoring (bench/quality_audit.py) and its task set: no model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import quality_audit as qa  # noqa: E402
from bench.quality_tasks import TASKS, prompt  # noqa: E402

PERSON = {
    "type": "object",
    "properties": {
        "age": {"anyOf": [{"$ref": "#/$defs/Age"}, {"type": "null"}]},
        "score": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "kids": {"type": "array", "items": {"$ref": "#/$defs/Kid"}},
    },
    "$defs": {
        "Age": {"type": "integer", "minimum": 0},
        "Kid": {"type": "object", "properties": {"age": {"type": "integer"}}},
    },
}


def test_clean_json_dumps_text_audits_to_zero():
    text = '{"age": 41, "score": 1.0, "tags": ["a/b", "é"], "kids": [{"age": 3}]}'
    assert qa.audit(text, PERSON) == dict.fromkeys(qa.AUDIT_KEYS, 0)


@pytest.mark.parametrize(
    "text, key, count",
    [
        ('{"t\\u0061gs": ["\\u00e9", "\\/"]}', "escapes", 3),
        ('{"tags": ["\\n\\"\\u0022\\u001f"]}', "escapes", 0),
        ('{"age": 41.0}', "int_spelling", 1),  # through anyOf and $ref
        ('{"kids": [{"age": 3e0}, {"age": -0}]}', "int_spelling", 2),
        ('{"score": 41.0}', "int_spelling", 0),  # a number may have a fraction
        ('{"age": 1}\n\n', "trailing_ws", 1),
        ('{"age": 1}\n\nThat is all.', "trailing_ws", 0),
        ('{"tags": ["a", "b", "a"]}', "dup_items", 1),
        ('{"kids": [{"age": 1}, {"age": 1}]}', "dup_items", 1),
        ('{"age": 1, "age": 1}', "dup_keys", 1),
    ],
)
def test_audit_counts(text, key, count):
    assert qa.audit(text, PERSON)[key] == count


def test_cut_off_text_is_audited_up_to_its_end():
    counts = qa.audit('{"date": "1", "date": "2", "tags": ["x", "x", "x', {})
    assert counts["dup_keys"] == 1 and counts["dup_items"] == 1
    assert counts["trailing_ws"] == 0


def test_same_normalises_strings_numbers_and_lists():
    assert qa.same("  Marta ", "marta")
    assert qa.same(349.0, 349) and not qa.same(True, 1) and not qa.same(0, False)
    assert qa.same(["b", "A"], ["a", "b"]) and not qa.same(["a", "a"], ["a"])
    assert qa.same([{"name": "Ana", "age": 3}], [{"age": 3.0, "name": "ana"}])


def test_first_json_object_skips_prose_and_broken_braces():
    value, start, end = qa.first_json_object('Sure! {oops} here: {"a": [1]} done')
    assert value == {"a": [1]} and start == 19 and end == 29


def test_field_hits_by_dotted_path():
    value = {"name": "Ana", "address": {"city": "Porto"}}
    expected = {"name": "ana", "address.city": "Lisbon", "address.zip": "1"}
    assert qa.field_hits(value, expected) == 1


def _paths(schema, root, prefix=""):
    from bench.quality_tasks import _deref

    s = _deref(schema, root)
    out = {prefix[:-1]} if prefix else set()
    for b in s.get("anyOf", ()):
        out |= _paths(b, root, prefix)
    for k, v in (s.get("properties") or {}).items():
        out |= _paths(v, root, f"{prefix}{k}.")
    return out


def test_tasks_are_many_distinct_and_expect_declared_fields():
    assert len(TASKS) >= 30
    assert len({t.name for t in TASKS}) == len(TASKS)
    assert {t.kind for t in TASKS} == {"extraction", "classification", "record"}
    for t in TASKS:
        schema = t.json_schema()
        assert t.expected, t.name
        assert set(t.expected) <= _paths(schema, schema), t.name
        assert t.text in prompt(t) and t.text in prompt(t, "schema")
