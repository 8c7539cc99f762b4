"""The JSON Schema support table is generated from the code and matches what the code does."""

from __future__ import annotations

from pathlib import Path

import pytest

from structgen.errors import UnsupportedSchemaError
from structgen.jsonschema import JsonSchema
from structgen.jsonschema import formats as F
from structgen.jsonschema.lower import ANNOTATIONS, REFUSED
from structgen.jsonschema.support import KEYWORDS, markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "jsonschema-support.md"


def test_committed_doc_is_the_generated_table():
    assert DOC.read_text(encoding="utf-8") == markdown(), (
        "docs/jsonschema-support.md is stale: run "
        "python -m structgen.jsonschema.support > docs/jsonschema-support.md"
    )


def test_registry_statuses_match_the_lowering():
    names = [k.name for k in KEYWORDS]
    assert len(names) == len(set(names))
    assert {k.name for k in KEYWORDS if k.status == "refused"} == set(REFUSED)
    assert not set(names) & ANNOTATIONS
    assert all(k.status in ("exact", "partial", "refused") for k in KEYWORDS)


@pytest.mark.parametrize("kw", [k for k in KEYWORDS if k.example is not None], ids=lambda k: k.name)
def test_keyword_examples(kw):
    assert kw.name in kw.example or kw.name == "if"
    if kw.status == "refused":
        with pytest.raises(UnsupportedSchemaError) as info:
            JsonSchema(kw.example).to_grammar()
        assert info.value.keyword == kw.name
    else:
        JsonSchema(kw.example).to_grammar()


@pytest.mark.parametrize("fmt", sorted(F.KNOWN))
def test_format_rows(fmt):
    schema = {"type": "string", "format": fmt}
    if fmt in F.ENFORCED:
        JsonSchema(schema).to_grammar()
        assert f"| `{fmt}` | exact |" in markdown()
    else:
        with pytest.raises(UnsupportedSchemaError, match="format"):
            JsonSchema(schema).to_grammar()
        assert f"| `{fmt}` | refused |" in markdown()
