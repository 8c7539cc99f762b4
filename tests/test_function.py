"""@structgen.function: prompt templates, output types, batched .map(); transformers
conventions (pipeline, GenerationConfig, TextStreamer) with the real SmolLM2."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

import structgen
from structgen.errors import SpecError
from structgen.function import TypedFunction


class City(BaseModel):
    name: str = Field(max_length=30)
    country: str = Field(max_length=30)


@dataclass
class Point:
    x: int
    y: int


@pytest.fixture(autouse=True, scope="module")
def _private_disk_cache(tmp_path_factory):
    """Keep the tests' compiled grammars out of the user's disk cache."""
    from structgen import diskcache

    diskcache.configure(tmp_path_factory.mktemp("diskcache"))
    yield
    diskcache.configure(True)


def _typed(fn, **kw):
    return TypedFunction(fn, model=None, tokenizer=None, **kw)


# --------------------------------------------------------------------------- prompts (no model)


def test_docstring_is_the_template():
    def describe(city: str, words: int = 3) -> City:
        """Describe {city} in {words} words."""

    f = _typed(describe)
    assert f.prompt("Paris") == "Describe Paris in 3 words."
    assert f.prompt(city="Oslo", words=5) == "Describe Oslo in 5 words."
    assert f.output_type is City
    assert f.__name__ == "describe" and f.__doc__.startswith("Describe")


def test_returned_string_is_the_prompt_as_is():
    def ask(n: int) -> Point:
        return f"Give a point with x={n} as JSON like {{'x': 1}}"

    assert _typed(ask).prompt(4) == "Give a point with x=4 as JSON like {'x': 1}"


def test_missing_return_annotation_is_an_error():
    def f(x: str):
        """{x}"""

    with pytest.raises(SpecError, match="no return annotation"):
        _typed(f)


def test_unknown_template_field_is_an_error():
    def f(x: str) -> Point:
        """Use {y}."""

    with pytest.raises(SpecError, match=r"refers to 'y'.*parameters: x"):
        _typed(f).prompt("a")


def test_braces_that_are_not_parameters_are_kept():
    def extract(text: str, n: int = 2) -> Point:
        """Reply with JSON like {"name": "Ann", "address": {"city": "Oslo"}} or {}.
        Text: {text} ({n:>3} words, {text!r}). Sets look like {{1, 2}}; {0} is positional."""

    assert _typed(extract).prompt("Bo is here") == (
        'Reply with JSON like {"name": "Ann", "address": {"city": "Oslo"}} or {}.\n'
        "Text: Bo is here (  2 words, 'Bo is here'). Sets look like {{1, 2}}; {0} is positional."
    )


def test_unknown_placeholder_names_it_even_beside_json():
    def f(text: str) -> Point:
        """Example: {"text": "hi"}. Now do {txt}."""

    with pytest.raises(
        SpecError, match=r"f: the prompt template refers to 'txt' .*parameters: text"
    ):
        _typed(f).prompt("a")


def test_annotations_from_the_enclosing_scope_resolve():
    # this module has `from __future__ import annotations`: the return annotation is the
    # string "Annotated[str, code]", and `code` is a local variable of this test
    code = structgen.Regex(r"[A-Z]{3}")

    class Local(BaseModel):
        n: int

    @structgen.function(model=object(), tokenizer=object())
    def airport(city: str) -> Annotated[str, code]:
        """The IATA code of {city}."""

    @structgen.function(model=object(), tokenizer=object())
    def local(x: str) -> Local:
        """{x}"""

    assert airport.output.spec is code and local.output_type is Local


def test_no_prompt_at_all_is_an_error():
    def f(x: str) -> Point:
        pass

    with pytest.raises(SpecError, match="returned None and has no docstring"):
        _typed(f).prompt("a")


def test_bad_arguments_are_a_type_error():
    def f(x: str) -> Point:
        """{x}"""

    with pytest.raises(TypeError, match="f\\(\\)"):
        _typed(f).prompt("a", "b")


def test_system_message_becomes_chat_messages():
    from structgen.function import messages

    assert messages("hi") == "hi"
    assert messages("hi", "be brief") == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]


# --------------------------------------------------------------------------- with the model


@pytest.mark.model
def test_classification_with_literal(smollm2):
    model, tok = smollm2

    @structgen.function(model=model, tokenizer=tok, max_new_tokens=16)
    def sentiment(review: str) -> Literal["positive", "negative"]:
        """Is this review positive or negative? {review}"""

    assert sentiment(review="I loved it, wonderful film!") in ("positive", "negative")


@pytest.mark.model
def test_pydantic_output_and_batched_map(smollm2):
    model, tok = smollm2
    calls = []

    class Counting:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def generate(self, *a, **kw):
            calls.append(kw["input_ids"].shape[0])
            return self.inner.generate(*a, **kw)

    @structgen.function(model=Counting(model), tokenizer=tok, max_new_tokens=48)
    def city(country: str) -> City:
        """Name the capital of {country} as JSON with keys name and country."""

    got = city.map([{"country": "France"}, {"country": "Japan"}, {"country": "Peru"}])
    assert len(got) == 3 and all(isinstance(c, City) for c in got)
    assert calls == [3]  # one batched generate()


@pytest.mark.model
def test_regex_typed_string(smollm2):
    model, tok = smollm2

    @structgen.function(model=model, tokenizer=tok, max_new_tokens=12)
    def year(event: str) -> Annotated[str, structgen.Regex(r"(1[5-9]|20)\d\d")]:
        """In which year did this happen: {event}? Answer with the year only."""

    assert re.fullmatch(r"(1[5-9]|20)\d\d", year("the first Moon landing"))


# --------------------------------------------------------------------------- transformers conventions


@pytest.mark.model
def test_pipeline_with_logits_processor(smollm2):
    from transformers import LogitsProcessorList, pipeline

    model, tok = smollm2
    pattern = r"[A-Z][a-z]{2,10}"
    compiled = structgen.compile(structgen.Regex(pattern), tok, vocab_size=model.config.vocab_size)
    pipe = pipeline("text-generation", model=model, tokenizer=tok)
    out = pipe(
        "The capital of France is",
        logits_processor=LogitsProcessorList([structgen.LogitsProcessor(compiled)]),
        max_new_tokens=8,
        do_sample=False,
        return_full_text=False,
    )
    assert re.fullmatch(pattern, out[0]["generated_text"]), out


@pytest.mark.model
def test_generation_config_and_text_streamer(smollm2):
    from transformers import GenerationConfig, TextStreamer

    model, tok = smollm2
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    }
    try:
        from structgen import JsonSchema
    except ImportError:  # exported from structgen once the typed-output work is merged
        from structgen.jsonschema import JsonSchema
    compiled = structgen.compile(
        JsonSchema(schema, whitespace="compact"), tok, vocab_size=model.config.vocab_size
    )
    streamed: list[str] = []

    class Collect(TextStreamer):
        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            streamed.append(text)

    chat = tok.apply_chat_template(
        [{"role": "user", "content": "Is the sky blue? Answer as JSON."}],
        tokenize=False,
        add_generation_prompt=True,
    )
    enc = tok(chat, return_tensors="pt", add_special_tokens=False)
    config = GenerationConfig(max_new_tokens=16, do_sample=False, pad_token_id=tok.eos_token_id)
    out = model.generate(
        **enc,
        generation_config=config,
        logits_processor=[structgen.LogitsProcessor(compiled)],
        streamer=Collect(tok, skip_prompt=True, skip_special_tokens=True),
    )
    text = tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert json.loads(text) in ({"ok": True}, {"ok": False})
    # the stream is the same text, and every streamed prefix is a valid partial output
    assert "".join(streamed) == text
    a = compiled.automaton
    prefix = b""
    for piece in streamed:
        prefix += piece.encode()
        assert a.run(a.initial(), prefix), prefix  # still completable
    assert a.matches(prefix)
