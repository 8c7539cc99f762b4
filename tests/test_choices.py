"""Bare Literal / Enum output types: the value's text, unquoted (structgen.choices)."""

from __future__ import annotations

import enum
from typing import Literal

import pytest
from pydantic import BaseModel

import structgen
from structgen.types import output_spec


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Size(enum.IntEnum):
    S = 1
    M = 2


class Mood(str, enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


class Review(BaseModel):
    verdict: Literal["good", "bad"]
    color: Color


def _language(tp, texts):
    a = structgen.compile(
        tp, vocabulary=structgen.Vocabulary([bytes([b]) for b in range(256)], eos_ids=[])
    ).automaton
    return {t: a.matches(t.encode()) for t in texts}


# (type, {text: parsed value} for the texts the grammar accepts, texts it rejects)
BARE = [
    (Literal["yes", "no"], {"yes": "yes", "no": "no"}, ['"yes"', "ye", "yes ", "maybe"]),
    (Literal[1, "x", None], {"1": 1, "x": "x", "null": None}, ['"x"', "2", "None"]),
    (Literal[True, "on"], {"true": True, "on": "on"}, ["True", '"on"']),
    (Color, {"red": Color.RED, "green": Color.GREEN}, ['"red"', "RED", "blue"]),
    (Size, {"1": Size.S, "2": Size.M}, ["3", '"1"', "S"]),
    (Mood, {"happy": Mood.HAPPY, "sad": Mood.SAD}, ['"happy"']),
]


@pytest.mark.parametrize("tp, good, bad", BARE, ids=[repr(c[0]) for c in BARE])
def test_bare_literal_and_enum_are_unquoted_text(tp, good, bad):
    out = output_spec(tp)
    accepted = _language(tp, [*good, *bad])
    assert all(accepted[t] for t in good), accepted
    assert not any(accepted[t] for t in bad), accepted
    for text, value in good.items():
        got = out.parse(text)
        assert got == value and type(got) is type(value)
    assert out.json_schema is None


def test_inside_json_they_stay_json_strings():
    out = output_spec(Review)
    a = structgen.compile(
        Review, vocabulary=structgen.Vocabulary([bytes([b]) for b in range(256)], eos_ids=[])
    ).automaton
    assert a.matches(b'{"verdict": "good", "color": "red"}')
    assert not a.matches(b'{"verdict": good, "color": red}')
    assert out.parse('{"verdict":"bad","color":"green"}') == Review(
        verdict="bad", color=Color.GREEN
    )


def test_values_with_the_same_text_stay_json():
    out = output_spec(Literal["1", 1])  # 1 and "1" would both be written 1
    assert out.json_schema == {"enum": ["1", 1]}
    assert out.parse('"1"') == "1" and out.parse("1") == 1


class _Model:
    """Enough of a model for generate(): it prefers the token that spells a quote."""

    def __init__(self, tok, vocab_size):
        from types import SimpleNamespace

        import torch

        self.config = SimpleNamespace(vocab_size=vocab_size)
        self.generation_config = SimpleNamespace(max_new_tokens=None, pad_token_id=None)
        self.device = torch.device("cpu")
        self.quote = tok.convert_tokens_to_ids('"')
        self.rows = []

    def generate(self, input_ids, logits_processor=(), max_new_tokens=8, **kw):
        import torch

        ids = input_ids
        for _ in range(max_new_tokens):
            scores = torch.zeros(ids.shape[0], self.config.vocab_size)
            scores[:, self.quote] = 10.0
            for p in logits_processor:
                scores = p(ids, scores)
            ids = torch.cat([ids, scores.argmax(-1)[:, None]], 1)
            if bool((ids[:, -1] == 2).all()):
                break
        self.rows.append(ids[:, input_ids.shape[1] :])
        return ids


def test_generate_writes_the_bare_value(tokenizers):
    tok = tokenizers["smollm2"]
    model = _Model(tok, 49152)
    got = structgen.generate(model, tok, "Yes or no?", Literal["yes", "no"], max_new_tokens=4)
    assert got in ("yes", "no")
    text = tok.decode(model.rows[-1][0], skip_special_tokens=True)
    assert text == got  # no quotes, although the model wanted one
    assert structgen.generate(model, tok, "Color?", Color, max_new_tokens=4) in tuple(Color)
