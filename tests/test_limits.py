"""structgen.Limits stops pathological inputs with LimitError; caches stay bounded."""

from __future__ import annotations

import random

import numpy as np
import pytest

import structgen
from structgen.ir import Alt, Grammar, Ref, Repeat, Seq, Text

from grammars_for_tests import LISTS


def _bytes_vocab() -> structgen.Vocabulary:
    toks = [bytes([c]) for c in range(256)]
    return structgen.Vocabulary(toks + [None], eos_ids=[256])


VOCAB = _bytes_vocab()


def test_state_explosion_is_stopped():
    # the classic exponential DFA: the 25th character from the end is an 'a'
    limits = structgen.Limits(max_states=2_000)
    # every a/b string of 1 to 10 bytes is a token: one mask looks 10 bytes ahead
    toks = [
        bytes(format(i, f"0{n}b").replace("0", "a").replace("1", "b"), "ascii")
        for n in range(1, 11)
        for i in range(2**n)
    ]
    vocab = structgen.Vocabulary(toks + [None], eos_ids=[len(toks)])
    compiled = structgen.compile(
        structgen.Regex(r"[ab]*a[ab]{24}"), vocabulary=vocab, limits=limits
    )
    m = compiled.matcher()
    rng = random.Random(0)
    with pytest.raises(structgen.LimitError, match="max_states"):
        for _ in range(200):
            m.mask()
            assert m.advance(rng.randrange(len(toks)))


def test_default_limits_allow_big_bounded_repeats():
    compiled = structgen.compile(structgen.Regex(r"\w{1,1000}"), vocabulary=VOCAB)
    m = compiled.matcher()
    for _ in range(1000):
        assert m.advance(ord("x"))
    assert m.is_finished() and not m.advance(ord("x"))


def test_compile_time_limit():
    rules = {"start": Alt(tuple(Ref(f"r{i}") for i in range(3000)))}
    for i in range(3000):
        rules[f"r{i}"] = Seq((Text(f"k{i}"), Repeat(Ref(f"r{(i + 1) % 3000}"), 0, 1)))
    with pytest.raises(structgen.LimitError, match="max_compile_seconds"):
        structgen.compile(
            Grammar(rules=rules),
            vocabulary=VOCAB,
            limits=structgen.Limits(max_compile_seconds=0.001),
        )


def test_stack_and_parse_limits():
    limits = structgen.Limits(max_stack_depth=8)
    m = structgen.compile(LISTS, vocabulary=VOCAB, limits=limits).matcher()
    with pytest.raises(structgen.LimitError, match="max_stack_depth"):
        for _ in range(20):
            m.advance(ord("["))
    ambiguous = Grammar(
        rules={"start": Repeat(Alt((Ref("a"), Ref("b"))), 1, None), "a": Text("x"), "b": Text("x")}
    )
    with pytest.raises(structgen.LimitError, match="max_stacks"):
        structgen.compile(
            ambiguous, vocabulary=VOCAB, limits=structgen.Limits(max_stacks=1)
        ).matcher().mask()


def test_mask_caches_are_bounded():
    limits = structgen.Limits(max_cache_bytes=64 * 1024)
    compiled = structgen.compile(LISTS, vocabulary=VOCAB, limits=limits)
    index = compiled.index
    m = compiled.matcher()
    seen = 0
    for _ in range(1, 60):  # new configurations at every depth
        assert m.advance(ord("["))
        mask = m.mask()
        assert mask[ord("]")] and mask[ord("[")]
        seen += 1
        assert index._elem_masks.nbytes <= limits.max_cache_bytes // 4 + mask.nbytes
        assert index._mask_bytes <= limits.max_cache_bytes // 2 + mask.nbytes
    assert seen == 59
    # evicted masks are recomputed identically
    fresh = structgen.compile(LISTS, vocabulary=VOCAB).matcher()
    again = compiled.matcher()
    for _ in range(5):
        assert fresh.advance(ord("[")) and again.advance(ord("["))
        assert np.array_equal(again.mask(), fresh.mask())


def test_compiled_indexes_are_bounded_by_the_bytes_of_their_masks():
    from structgen import compiler

    # a vocabulary of 50,000 tokens: every mask is 50 kB
    toks = [bytes([c]) for c in range(256)] + [b"x%d" % i for i in range(50_000 - 257)]
    vocab = structgen.Vocabulary(toks + [None], eos_ids=[len(toks)])
    limits = structgen.Limits(max_cache_bytes=400_000)
    first = structgen.compile(structgen.Regex("a0"), vocabulary=vocab, limits=limits)
    for i in range(1, 12):
        c = structgen.compile(structgen.Regex(f"a{i}[0-9]*"), vocabulary=vocab, limits=limits)
        m = c.matcher()
        assert m.advance(ord("a"))
        m.mask()  # one more mask held by this index
    held = [ix for ix in compiler._INDEXES.values() if ix.limits == limits]
    assert 1 <= len(held) < 12
    assert sum(ix.cache_bytes() for ix in held) <= limits.max_cache_bytes + held[-1].cache_bytes()
    # the first one was dropped: compiling it again builds a new index
    again = structgen.compile(structgen.Regex("a0"), vocabulary=vocab, limits=limits)
    assert again.index is not first.index
