"""output_spec: Python types, regex and grammar annotations and JSON Schemas as output specs.

For every supported type: the derived grammar accepts the JSON pydantic writes for a valid
value, rejects texts of invalid values, and ``parse`` returns a validated instance. A
hypothesis test feeds instances of pydantic models, serialised by ``model_dump_json()``,
token by token through the real tokenizers' masks.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
from typing import Annotated, Literal, NamedTuple, Optional, Union

import pydantic
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

import structgen
from structgen.compiler import compile_automaton
from structgen.ir import regular_grammar
from structgen.jsonschema import JsonSchema
from structgen.testing import token_ids_for_text
from structgen.types import Output, output_spec

from test_jsonschema_canonical import canon, fits


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Size(enum.IntEnum):
    S = 1
    M = 2


class Address(BaseModel):
    street: str
    zip: Annotated[str, Field(pattern=r"^[0-9]{5}$")]


class Person(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    age: int = Field(ge=0, le=130)
    email: str | None = None
    address: Address
    tags: list[str] = Field(default_factory=list, max_length=3)
    color: Color = Color.RED


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = Field(ge=0, le=9)


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Owner(BaseModel):
    pet: Union[Cat, Dog] = Field(discriminator="kind")


class Tree(BaseModel):
    value: int
    children: list[Tree] = []


class Event(BaseModel):
    id: uuid.UUID
    at: datetime.datetime
    day: datetime.date
    start: datetime.time
    score: float
    size: Size


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: str | None = None


class Movie(TypedDict):
    title: str
    year: int


class Pair(NamedTuple):
    a: int
    b: str


def _accepts(out: Output, text: str) -> bool:
    return compile_automaton(out.spec).matches(text.encode("utf-8"))


# (type, valid JSON texts with the value parse must return, invalid JSON texts)
CASES = [
    (int, [("42", 42), ("-7", -7)], ["4.5", '"4"', "true"]),
    (float, [("4.5", 4.5), ("-1e-07", -1e-07), ("3", 3.0)], ['"x"', "null"]),
    (str, [('"hi"', "hi"), ('"caf\\u00e9"', "café")], ["hi", "3"]),
    (bool, [("true", True), ("false", False)], ["1", '"true"']),
    (type(None), [("null", None)], ["0", '""']),
    (Optional[int], [("null", None), ("3", 3)], ['"3"']),  # noqa: UP045 - typing.Optional itself
    (int | None, [("null", None)], ['"3"']),
    (Union[int, str], [("3", 3), ('"3"', "3")], ["null"]),
    (list[int], [("[]", []), ("[1, 2]", [1, 2])], ["[1.5]", "{}"]),
    # inside JSON, Literal and Enum values are JSON values (bare ones: tests/test_choices.py)
    (list[Literal["a", "b"]], [('["a"]', ["a"])], ["[a]", '["c"]']),
    (list[Literal[1, "x", None]], [('[1, "x", null]', [1, "x", None])], ["[2]", "[x]"]),
    (list[Color], [('["green"]', [Color.GREEN])], ['["blue"]', "[green]"]),
    (list[Size], [("[2]", [Size.M])], ["[3]", '["M"]']),
    (tuple[int, str], [('[1,"a"]', (1, "a"))], ["[1]", '[1,"a",2]', '["a",1]']),
    (dict[str, int], [('{"a":1,"b":2}', {"a": 1, "b": 2}), ("{}", {})], ['{"a":"1"}']),
    (Annotated[int, Field(ge=3, lt=10)], [("3", 3), ("9", 9)], ["2", "10"]),
    (
        Annotated[str, Field(min_length=2, max_length=3)],
        [('"ab"', "ab"), ('"日本語"', "日本語")],
        ['"a"', '"abcd"'],
    ),
    (Annotated[list[int], Field(min_length=1, max_length=2)], [("[1]", [1])], ["[]", "[1,2,3]"]),
    (
        datetime.datetime,
        [
            (
                '"2024-02-29T12:30:00Z"',
                datetime.datetime(2024, 2, 29, 12, 30, tzinfo=datetime.timezone.utc),
            )
        ],
        ['"2023-02-29T12:30:00Z"', '"2024-01-01T00:00:00Z\\n"', '"2024-01-01"'],
    ),
    (datetime.date, [('"2024-02-29"', datetime.date(2024, 2, 29))], ['"2024-02-30"', '"2024-2-1"']),
    (
        datetime.time,
        [
            (
                '"12:30:00+02:00"',
                datetime.time(12, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
            )
        ],
        ['"25:00:00Z"', '"12:30:00Z\\n"'],
    ),
    (
        uuid.UUID,
        [
            (
                '"12345678-9abc-def0-1234-56789abcdef0"',
                uuid.UUID("12345678-9abc-def0-1234-56789abcdef0"),
            )
        ],
        [
            '"12345678"',
            '"{12345678-9abc-def0-1234-56789abcdef0}"',
            '"12345678-9abc-def0-1234-56789abcdef0\\n"',
        ],
    ),
]


@pytest.mark.parametrize("tp, good, bad", CASES, ids=[repr(c[0]) for c in CASES])
def test_types_accept_valid_reject_invalid_and_parse(tp, good, bad):
    out = output_spec(tp, spelling="any")
    assert isinstance(out.spec, JsonSchema) and out.json_schema is not None
    for text, value in good:
        assert _accepts(out, text), text
        got = out.parse(text)
        assert got == value and type(got) is type(value), (text, got)
    for text in bad:
        assert not _accepts(out, text), text


def test_pydantic_model_nested_optional_defaults_constraints():
    out = output_spec(Person, spelling="any")
    text = Person(name="Ann", age=30, address=Address(street="Main", zip="12345")).model_dump_json()
    assert _accepts(out, text)
    assert isinstance(out.parse(text), Person)
    # optional fields with defaults may be left out; required ones may not
    assert _accepts(out, '{"name":"Ann","age":3,"address":{"street":"x","zip":"00000"}}')
    assert not _accepts(out, '{"name":"Ann","age":3}')
    assert not _accepts(out, '{"name":"","age":3,"address":{"street":"x","zip":"00000"}}')
    assert not _accepts(out, '{"name":"A","age":131,"address":{"street":"x","zip":"00000"}}')
    assert not _accepts(out, '{"name":"A","age":1,"address":{"street":"x","zip":"0000"}}')
    tags = '"tags":["a","b","c","d"]'
    assert not _accepts(
        out, '{"name":"A","age":1,"address":{"street":"x","zip":"00000"},' + tags + "}"
    )
    # extra keys: pydantic ignores them, so the grammar leaves them out
    assert not _accepts(out, '{"name":"A","age":1,"address":{"street":"x","zip":"00000"},"z":1}')
    assert out.json_schema["additionalProperties"] is False


def test_extra_allow_models_keep_additional_properties():
    class Open(BaseModel):
        model_config = pydantic.ConfigDict(extra="allow")
        a: int

    out = output_spec(Open, spelling="any")
    assert _accepts(out, '{"a":1,"z":[true]}')
    assert out.parse('{"a":1,"z":[true]}').z == [True]


def test_discriminated_union():
    out = output_spec(Owner, spelling="any")
    assert _accepts(out, '{"pet":{"kind":"cat","lives":9}}')
    assert _accepts(out, '{"pet":{"kind":"dog","good":true}}')
    assert not _accepts(out, '{"pet":{"kind":"cat","good":true}}')
    assert not _accepts(out, '{"pet":{"kind":"cat","lives":10}}')
    assert isinstance(out.parse('{"pet":{"kind":"dog","good":false}}').pet, Dog)


def test_recursive_model():
    out = output_spec(Tree, spelling="any")
    value = Tree(value=1, children=[Tree(value=2, children=[Tree(value=3)]), Tree(value=4)])
    assert _accepts(out, value.model_dump_json())
    assert out.parse(value.model_dump_json()) == value
    assert not _accepts(out, '{"value":1,"children":[{"children":[]}]}')


def test_formats_in_a_model():
    out = output_spec(Event, spelling="any")
    text = (
        '{"id":"00000000-0000-4000-8000-000000000000","at":"2020-01-01T00:00:00.5-03:30",'
        '"day":"2000-02-29","start":"23:59:59Z","score":-0.25,"size":1}'
    )
    assert _accepts(out, text)
    ev = out.parse(text)
    assert isinstance(ev.id, uuid.UUID) and ev.size is Size.S and ev.at.microsecond == 500000


def test_dataclass_typeddict_namedtuple():
    out = output_spec(Point, spelling="any")
    assert _accepts(out, '{"x":1,"y":2.5}') and not _accepts(out, '{"x":1}')
    assert out.parse('{"x":1,"y":2.5,"label":"p"}') == Point(1.0, 2.5, "p")
    out = output_spec(Movie, spelling="any")
    assert out.parse('{"title":"Up","year":2009}') == {"title": "Up", "year": 2009}
    assert not _accepts(out, '{"title":"Up"}')
    out = output_spec(Pair, spelling="any")
    assert out.parse('[1,"b"]') == Pair(1, "b")
    assert not _accepts(out, '["b",1]')


def test_regex_and_grammar_outputs_are_strings():
    r = structgen.Regex(r"[0-9]{4}-[0-9]{2}")
    for tp in (r, Annotated[str, r]):
        out = output_spec(tp)
        assert out.spec is r and out.parse("2024-01") == "2024-01" and out.json_schema is None
    g = regular_grammar(structgen.ir.Text("ok"))
    out = output_spec(Annotated[str, g])
    assert out.spec is g and out.parse("ok") == "ok"
    assert output_spec(g).spec is g
    with pytest.raises(structgen.SpecError, match=r"Annotated\[str"):
        output_spec(Annotated[int, r])


def test_json_schema_dicts_parse_with_jsonschema():
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 0}},
        "required": ["n"],
    }
    out = output_spec(schema, spelling="any")
    assert isinstance(out.spec, JsonSchema) and out.json_schema == schema
    assert out.parse('{"n": 3}') == {"n": 3}
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        out.parse('{"n": -1}')
    assert output_spec(JsonSchema(schema)).parse('{"n":0}') == {"n": 0}
    # no additionalProperties added to user schemas: the JSON Schema default (true) holds
    assert _accepts(out, '{"n":1,"other":null}')


def test_dict_keys_that_pydantic_parses_from_strings():
    out = output_spec(dict[int, str], spelling="any")
    assert _accepts(out, '{"12":"a","-3":"b"}') and not _accepts(out, '{"x":"a"}')
    assert out.parse('{"12":"a"}') == {12: "a"}
    out = output_spec(dict[bool, int], spelling="any")
    assert out.parse('{"true":1}') == {True: 1} and not _accepts(out, '{"yes":1}')
    out = output_spec(dict[uuid.UUID, int], spelling="any")
    key = "12345678-1234-1234-1234-123456789abc"
    assert out.parse(f'{{"{key}":1}}') == {uuid.UUID(key): 1}
    assert not _accepts(out, '{"x":1}')
    assert output_spec(dict[Literal["a", "b"], int]).json_schema["propertyNames"] == {
        "enum": ["a", "b"]
    }


def test_formats_pydantic_parses_its_own_way_are_refused_with_the_reason():
    import warnings

    from pydantic import DirectoryPath

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pydantic.color moved elsewhere
        from pydantic.color import Color as PydanticColor

    class Job(BaseModel):
        workdir: DirectoryPath

    with pytest.raises(
        structgen.UnsupportedSchemaError,
        match="format 'color' at / .*pydantic validates values of this type with its own parser",
    ):
        output_spec(PydanticColor)
    with pytest.raises(
        structgen.UnsupportedSchemaError,
        match="at /properties/workdir .*checks that the directory exists",
    ):
        output_spec(Job)


def test_refusals_are_clear():
    with pytest.raises(structgen.SpecError, match="ambiguous"):
        output_spec("[a-z]+")
    with pytest.raises(structgen.SpecError, match="not a supported output type|cannot derive"):
        output_spec(object())
    with pytest.raises(structgen.SpecError, match="is a function"):
        output_spec(lambda x: x)
    with pytest.raises(structgen.UnsupportedSchemaError, match="uniqueItems"):
        output_spec(set[int])


# ---- pydantic instances, token by token on real tokenizers ----------------------------------

# assigned, non-private characters: tokenizers may normalise the others
chars = st.characters(exclude_categories=("Cs", "Cn", "Co"))
addresses = st.builds(
    Address,
    street=st.text(chars, max_size=12),
    zip=st.from_regex(r"\A[0-9]{5}\Z"),
)
people = st.builds(
    Person,
    name=st.text(chars, min_size=1, max_size=20),
    age=st.integers(0, 130),
    email=st.none() | st.emails(),
    address=addresses,
    tags=st.lists(st.text(chars, max_size=6), max_size=3),
    color=st.sampled_from(Color),
)
trees = st.recursive(
    st.builds(Tree, value=st.integers(), children=st.just([])),
    lambda kids: st.builds(Tree, value=st.integers(), children=st.lists(kids, max_size=3)),
    max_leaves=6,
)
events = st.builds(
    Event,
    id=st.uuids(),
    at=st.datetimes(
        timezones=st.sampled_from(
            [datetime.timezone.utc, datetime.timezone(datetime.timedelta(hours=-5))]
        )
    ),
    day=st.dates(),
    start=st.times(timezones=st.just(datetime.timezone.utc)),
    score=st.floats(allow_nan=False, allow_infinity=False),
    size=st.sampled_from(Size),
)
owners = st.builds(
    Owner,
    pet=st.builds(Cat, kind=st.just("cat"), lives=st.integers(0, 9))
    | st.builds(Dog, kind=st.just("dog"), good=st.booleans()),
)
MODELS = {
    "person": (Person, people),
    "tree": (Tree, trees),
    "event": (Event, events),
    "owner": (Owner, owners),
}


def _numbers(v):
    if isinstance(v, dict):
        v = list(v.values())
    if isinstance(v, list):
        return [x for item in v for x in _numbers(item)]
    return [v] if isinstance(v, (int, float)) and not isinstance(v, bool) else []


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("tok_name", ["smollm2", "llama3"])
@pytest.mark.parametrize("spelling", ["any", "canonical"])
def test_model_dump_json_is_accepted_token_by_token(tokenizers, tok_name, name, spelling):
    """Any spelling: pydantic's own JSON, compact or indented. Canonical: the one text
    json.dumps writes of the same data (keys in the model's field order), which is the
    text the model is steered to."""
    tp, strategy = MODELS[name]
    tok = tokenizers[tok_name]
    out = output_spec(tp, spelling=spelling)
    compiled = structgen.compile(out.spec, tok)

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy, st.booleans())
    def check(value, indent):
        text = value.model_dump_json(indent=2 if indent else None)
        if spelling == "canonical":  # numbers within the digits a generated one may have
            data = json.loads(text)
            assume(all(fits(x) for x in _numbers(data)))
            text = canon(data)
        m = compiled.matcher()
        for t in token_ids_for_text(tok, text):
            assert m.mask()[t], (text, t)
            assert m.advance(t)
        assert m.is_accepting(), text
        assert m.mask()[next(iter(compiled.eos_token_ids))]
        assert out.parse(text) == value

    check()


def test_parse_of_every_random_walk_validates():
    """Texts drawn from the grammar (random byte walks) always parse with pydantic."""
    import random

    for tp in (Event, Owner, Person):
        out = output_spec(tp, whitespace="compact")
        a = compile_automaton(out.spec)
        rng = random.Random(7)
        from structgen.automata.distance import Distances

        dist = Distances(a)
        for _ in range(20):
            cfg, data = a.initial(), bytearray()
            while not (a.is_accepting(cfg) and (len(data) > 150 or rng.random() < 0.3)):
                # random next byte among those that keep the text completable, drifting
                # towards completion once the text is long
                opts = [b for b in range(256) if a.step(cfg, b)]
                if not opts:
                    break  # complete, and nothing may follow
                if len(data) > 150:
                    opts = sorted(opts, key=lambda b: dist.config(a.step(cfg, b)))[:1]
                b = rng.choice(opts)
                cfg = a.step(cfg, b)
                data.append(b)
            text = data.decode("utf-8")
            json.loads(text)
            assert isinstance(out.parse(text), tp), text
