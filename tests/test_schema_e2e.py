"""End to end: the real SmolLM2-135M-Instruct generating typed outputs with
``structgen.generate`` for JSON Schemas and pydantic models, under greedy decoding,
sampling and beam search; every output must validate.

``test_budget_of_128_tokens`` is the setting peers fail in (greedy, ``max_new_tokens=128``:
a small model rambles inside strings until the budget runs out): steering closes every
output within the budget. Model runs are batched to keep the file's run time moderate.
"""

from __future__ import annotations

import datetime
from typing import Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

import structgen

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.model

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "email": {"type": "string", "format": "email"},
    },
    "required": ["name", "age", "email"],
}
ORDER = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "customer": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "city": {"type": "string"}},
            "required": ["name", "city"],
        },
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {
                    "product": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "price": {"type": "number", "exclusiveMinimum": 0},
                },
                "required": ["product", "quantity", "price"],
            },
        },
    },
    "required": ["order_id", "customer", "items"],
}
TICKET = {  # enum and anyOf
    "type": "object",
    "properties": {
        "priority": {"enum": ["low", "medium", "high"]},
        "status": {"type": "string", "enum": ["open", "closed"]},
        "assignee": {
            "anyOf": [
                {"type": "null"},
                {"type": "string", "maxLength": 20},
                {
                    "type": "object",
                    "properties": {"team": {"type": "string"}},
                    "required": ["team"],
                },
            ]
        },
    },
    "required": ["priority", "status", "assignee"],
}
GLAIVE_CALL = {  # a GlaiveAI function call: the function's name and its arguments
    "type": "object",
    "properties": {
        "name": {"const": "calculate_loan_payment"},
        "arguments": {
            "type": "object",
            "properties": {
                "principal": {"type": "number", "description": "The loan amount"},
                "interest_rate": {"type": "number", "description": "The annual interest rate"},
                "loan_term": {"type": "integer", "description": "The loan term in months"},
            },
            "required": ["principal", "interest_rate", "loan_term"],
        },
    },
    "required": ["name", "arguments"],
}
TREE = {  # recursive $ref
    "$defs": {
        "category": {
            "type": "object",
            "properties": {
                "title": {"type": "string", "maxLength": 30},
                "children": {"type": "array", "items": {"$ref": "#/$defs/category"}, "maxItems": 3},
            },
            "required": ["title", "children"],
        }
    },
    "$ref": "#/$defs/category",
}
EVENT = {  # formats
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "starts": {"type": "string", "format": "date-time"},
        "server": {"type": "string", "format": "ipv4"},
    },
    "required": ["title", "date", "starts", "server"],
}
PLACE = {  # numeric bounds
    "type": "object",
    "properties": {
        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        "elevation": {"type": "integer", "exclusiveMinimum": -500, "multipleOf": 10},
    },
    "required": ["latitude", "longitude", "rating", "elevation"],
}
TAGS = {  # arrays with bounds
    "type": "object",
    "properties": {
        "tags": {
            "type": "array",
            "items": {"type": "string", "minLength": 2, "maxLength": 12},
            "minItems": 2,
            "maxItems": 4,
        },
        "scores": {"type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 3},
    },
    "required": ["tags", "scores"],
}
COMPANY = {  # nested objects
    "type": "object",
    "properties": {
        "company": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "address": {
                    "type": "object",
                    "properties": {"street": {"type": "string"}, "country": {"type": "string"}},
                    "required": ["street", "country"],
                    "additionalProperties": False,
                },
            },
            "required": ["name", "address"],
            "additionalProperties": False,
        }
    },
    "required": ["company"],
    "additionalProperties": False,
}


class Book(BaseModel):
    title: str = Field(max_length=60)
    author: str
    year: int = Field(ge=1400, le=2030)
    genre: Literal["fiction", "science", "history", "poetry"]
    in_print: bool


class Meeting(BaseModel):
    topic: str
    when: datetime.date
    attendees: list[str] = Field(min_length=1, max_length=4)
    minutes: int = Field(gt=0, le=240)


CASES = {
    "person": (PERSON, "Give the name, age and email of a fictional person as JSON."),
    "order": (ORDER, "Create a JSON order: an id, a customer (name, city) and the items bought."),
    "ticket": (TICKET, "Write a support ticket as JSON with priority, status and assignee."),
    "glaive": (
        GLAIVE_CALL,
        "You can call the function calculate_loan_payment(principal, interest_rate, "
        "loan_term). Call it for a $20000 loan at 5% over 60 months. Reply with the call as JSON.",
    ),
    "tree": (TREE, "Describe a small category tree of a web shop as JSON."),
    "event": (EVENT, "Describe a conference event as JSON: title, date, start time and server IP."),
    "place": (PLACE, "Describe a mountain hut as JSON: latitude, longitude, rating and elevation."),
    "tags": (TAGS, "Give tags and three integer scores for a blog post about Python, as JSON."),
    "company": (COMPANY, "Give a company and its address as JSON."),
    "book": (Book, "Describe a famous novel as JSON."),
    "meeting": (Meeting, "Describe a team meeting as JSON."),
}


@pytest.fixture(scope="module")
def model_and_tokenizer(smollm2):
    return smollm2


def _check(name, value):
    spec, _ = CASES[name]
    if isinstance(spec, dict):
        jsonschema.validate(
            value, spec, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
    else:
        assert isinstance(value, spec), value


@pytest.mark.parametrize("name", ["person", "order", "ticket", "glaive"])
def test_budget_of_128_tokens(model_and_tokenizer, name):
    """Greedy, max_new_tokens=128, one prompt per call: every output validates."""
    model, tok = model_and_tokenizer
    spec, prompt = CASES[name]
    value = structgen.generate(model, tok, prompt, spec, max_new_tokens=128, do_sample=False)
    _check(name, value)


def test_greedy_batch_of_every_schema(model_and_tokenizer):
    """Eleven schemas in one left-padded batch, one output type per prompt."""
    model, tok = model_and_tokenizer
    names = sorted(CASES)
    values = structgen.generate(
        model,
        tok,
        [CASES[n][1] for n in names],
        [CASES[n][0] for n in names],
        max_new_tokens=128,
        do_sample=False,
    )
    assert len(values) == len(names)
    for n, v in zip(names, values, strict=True):
        _check(n, v)


def test_sampling(model_and_tokenizer):
    model, tok = model_and_tokenizer
    names = ["book", "tree", "place"]
    torch.manual_seed(0)
    values = structgen.generate(
        model,
        tok,
        [CASES[n][1] for n in names],
        [CASES[n][0] for n in names],
        max_new_tokens=96,
        do_sample=True,
        temperature=1.0,
        top_p=0.95,
        num_return_sequences=2,
    )
    for n, vs in zip(names, values, strict=True):
        assert len(vs) == 2
        for v in vs:
            _check(n, v)


def test_beam_search(model_and_tokenizer):
    model, tok = model_and_tokenizer
    names = ["ticket", "meeting"]
    values = structgen.generate(
        model,
        tok,
        [CASES[n][1] for n in names],
        [CASES[n][0] for n in names],
        max_new_tokens=80,
        num_beams=4,
        num_return_sequences=2,
        do_sample=False,
    )
    for n, vs in zip(names, values, strict=True):
        assert len(vs) == 2
        for v in vs:
            _check(n, v)
