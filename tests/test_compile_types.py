"""structgen.compile() takes what generate() takes: pydantic models, Python types, Literal,
JSON Schema dicts, as well as spec objects."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

import structgen

BYTES = structgen.Vocabulary([bytes([b]) for b in range(256)], eos_ids=[])


class Item(BaseModel):
    name: str = Field(max_length=8)
    qty: int = Field(ge=1)


@pytest.mark.parametrize(
    "tp, good, bad",
    [
        (Item, ['{"name": "pen", "qty": 2}'], ['{"name": "pen", "qty": 0}', '{"name": "pen"}']),
        (list[int], ["[1, 2]", "[]"], ["[1.5]", '["1"]']),
        (Literal["yes", "no"], ["yes", "no"], ['"yes"', "maybe"]),
        (dict[str, bool], ['{"a": true}'], ['{"a": 1}']),
        ({"type": "integer", "minimum": 3}, ["3", "40"], ["2", '"3"']),
    ],
    ids=["model", "list", "literal", "dict", "schema-dict"],
)
def test_compile_accepts_output_types(tp, good, bad):
    compiled = structgen.compile(tp, vocabulary=BYTES)
    a = compiled.automaton
    assert all(a.matches(t.encode()) for t in good)
    assert not any(a.matches(t.encode()) for t in bad)


def test_compile_of_a_type_for_a_real_tokenizer(tokenizers):
    tok = tokenizers["smollm2"]
    compiled = structgen.compile(Item, tok)
    assert compiled.matcher().tokens_to_complete() > 0
    assert structgen.compile(Item, tok).index is compiled.index  # cached like a spec


def test_compile_still_refuses_what_no_one_takes():
    with pytest.raises(structgen.SpecError, match="cannot compile .*ambiguous"):
        structgen.compile("[a-z]+", vocabulary=BYTES)
    with pytest.raises(structgen.SpecError, match="cannot compile"):
        structgen.compile(object(), vocabulary=BYTES)
