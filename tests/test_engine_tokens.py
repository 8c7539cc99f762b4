"""Token-level properties on every real tokenizer, for regexes and recursive grammars:

* texts drawn from the constraint are accepted token by token through the tokenizer's own
  tokenization and leave the matcher accepting (then EOS is allowed);
* texts the reference rejects are rejected at some token or leave it non-accepting;
* random walks that pick any allowed token until EOS produce text the reference accepts.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import structgen
from structgen import assets
from structgen.testing import token_ids_for_text

from grammars_for_tests import GRAMMARS

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "iota", "kappa", "lambda"]
REGEXES = [
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])",
    r"[a-z0-9._%+-]{1,20}@[a-z0-9-]{1,15}\.(com|org|net|io)",
    r"\(\d{3}\) \d{3}-\d{4}",
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    r"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)",
    r"[A-Za-z_]\w{0,30}",
    r"\w{1,200}",
    r"(?i)(" + "|".join(WORDS) + r")( (" + "|".join(WORDS) + r")){0,3}",
    r"[^\n\"]{0,40}",
    r"[À-ÿ一-龥]{1,10}( \S+)?",
    r" ?-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?",
]

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _compiled(tok, name, spec):
    return structgen.compile(spec, tok, vocab_size=assets.MODEL_VOCAB_SIZE[name])


def _feed(compiled, ids) -> tuple[bool, structgen.Matcher]:
    m = compiled.matcher()
    for t in ids:
        if not m.mask()[t]:
            assert not m.fork().advance(t), "mask and advance disagree"
            return False, m
        assert m.advance(t), "mask and advance disagree"
    return True, m


def _check_accepts(compiled, tok, text: str) -> None:
    try:
        ids = token_ids_for_text(tok, text)
    except ValueError:  # the tokenizer normalises this text: nothing to test
        return
    ok, m = _feed(compiled, ids)
    assert ok, f"valid text rejected: {text!r}"
    assert m.is_accepting(), f"valid text not accepting at the end: {text!r}"
    eos = next(iter(compiled.vocabulary.eos_ids))
    assert m.mask()[eos]


def _check_rejects(compiled, tok, text: str) -> None:
    try:
        ids = token_ids_for_text(tok, text)
    except ValueError:
        return
    ok, m = _feed(compiled, ids)
    assert not (ok and m.is_accepting()), f"invalid text accepted: {text!r}"


def _walk_texts(compiled, n: int, max_len: int, seed: int):
    rng = random.Random(seed)
    vocab = compiled.vocabulary
    eos = sorted(vocab.eos_ids)
    out = []
    for _ in range(n):
        m = compiled.matcher()
        data = b""
        for _ in range(max_len):
            mask = m.mask()
            assert mask.any(), "empty mask"
            allowed = np.flatnonzero(mask)
            if mask[eos[0]] and (rng.random() < 0.3 or len(allowed) == 1):
                assert m.advance(eos[0])
                break
            tok = int(rng.choice(allowed))
            while tok in vocab.eos_ids:
                tok = int(rng.choice(allowed))
            assert m.advance(tok)
            data += vocab.tokens[tok]
        if m.is_ended():
            out.append(data.decode("utf-8"))
    return out


@pytest.mark.parametrize("pattern", REGEXES)
def test_regex_drawn_strings_accepted(tokenizer_name, tokenizer, pattern):
    compiled = _compiled(tokenizer, tokenizer_name, structgen.Regex(pattern))

    @SETTINGS
    @given(st.from_regex(pattern, fullmatch=True))
    def run(text):
        _check_accepts(compiled, tokenizer, text)

    run()


@pytest.mark.parametrize("pattern", REGEXES)
def test_regex_rejects_what_re_rejects(tokenizer_name, tokenizer, pattern):
    compiled = _compiled(tokenizer, tokenizer_name, structgen.Regex(pattern))
    rx = re.compile(pattern)

    @SETTINGS
    @given(st.from_regex(pattern, fullmatch=True), st.text(max_size=4), st.integers(0, 40))
    def run(text, junk, at):
        at = min(at, len(text))
        mutated = text[:at] + junk + text[at + (1 if junk else 0) :]
        if rx.fullmatch(mutated):
            _check_accepts(compiled, tokenizer, mutated)
        else:
            _check_rejects(compiled, tokenizer, mutated)

    run()


@pytest.mark.parametrize("pattern", REGEXES)
def test_regex_random_walks_fullmatch(tokenizer_name, tokenizer, pattern):
    compiled = _compiled(tokenizer, tokenizer_name, structgen.Regex(pattern))
    texts = _walk_texts(compiled, 12, 60, seed=hash(pattern) & 0xFFFF)
    assert texts
    for text in texts:
        assert re.fullmatch(pattern, text), text


@pytest.mark.parametrize("gname", sorted(GRAMMARS))
def test_grammar_on_real_tokenizers(tokenizer_name, tokenizer, gname):
    grammar, ok, strategy = GRAMMARS[gname]
    compiled = _compiled(tokenizer, tokenizer_name, grammar)

    @SETTINGS
    @given(strategy, st.text(alphabet='()[]{}0123456789,+-*/. "ab', max_size=3), st.integers(0, 30))
    def run(text, junk, at):
        _check_accepts(compiled, tokenizer, text)
        at = min(at, len(text))
        mutated = text[:at] + junk + text[at:]
        if ok(mutated):
            _check_accepts(compiled, tokenizer, mutated)
        else:
            _check_rejects(compiled, tokenizer, mutated)

    run()
    for text in _walk_texts(compiled, 10, 40, seed=1):
        assert ok(text), text
