"""Token masks of the shipped grammars on a real vocabulary equal the brute-force masks.

The index shares work between elements and states (element masks on truncated stacks,
remainder checks memoised per continuation configuration, suffix lexing memoised per
terminal state); here every mask met on random walks is compared with the definition:
token ``t`` is allowed iff the automaton can read its bytes from the configuration (EOS
iff the configuration accepts). Walks of one grammar share one index, so later masks are
computed from caches filled by earlier ones, in a fresh order per example.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import structgen
from structgen import assets
from structgen.testing import brute_force_mask

GRAMMARS = ["python_expr", "sql", "minic", "json"]
_COMPILED: dict = {}


@pytest.mark.parametrize("gname", GRAMMARS)
def test_masks_equal_brute_force_on_real_vocabulary(tokenizers, gname):
    tok = tokenizers["smollm2"]
    key = gname
    if key not in _COMPILED:
        _COMPILED[key] = structgen.compile(
            structgen.Grammar.builtin(gname), tok, vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"]
        )
    compiled = _COMPILED[key]
    eos = compiled.vocabulary.eos_ids

    @settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.integers(0, 2**32 - 1))
    def run(seed):
        rng = random.Random(seed)
        m = compiled.matcher()
        for _ in range(4):
            mask = m.mask()
            brute = brute_force_mask(compiled.index.automaton, compiled.vocabulary, m.state.config)
            diff = np.flatnonzero(mask != brute)
            assert not diff.size, [(int(i), compiled.vocabulary.tokens[i]) for i in diff[:10]]
            allowed = [int(i) for i in np.flatnonzero(mask) if int(i) not in eos]
            if not allowed:
                break
            # prefer multi-byte tokens: they cross terminal boundaries
            long = [i for i in allowed if len(compiled.vocabulary.tokens[i]) > 2]
            assert m.advance(rng.choice(long or allowed))

    run()


def test_suffix_table_numbers_every_token_suffix(tokenizers):
    from structgen.index import suffix_table, vocab_arrays

    vocab = structgen.Vocabulary.from_tokenizer(
        tokenizers["smollm2"], vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"]
    )
    va = vocab_arrays(vocab)
    sx = suffix_table(va)
    assert len(set(sx.text)) == len(sx.text)
    rng = random.Random(0)
    for _ in range(3000):
        p = rng.randrange(len(va.data))
        b = va.data[p]
        o = rng.randrange(len(b))
        i = int(sx.sid[sx.start[p] + o])
        assert sx.text[i] == b[o:]
        assert sx.first[i] == b[o]
        if o == len(b) - 1:
            assert sx.tail[i] == -1
        else:
            assert sx.text[sx.tail[i]] == b[o + 1 :]


@pytest.mark.parametrize("gname", ["python_expr", "minic", "sql"])
def test_masks_equal_brute_force_along_nested_samples(tokenizers, gname):
    """Sample texts nest deeper than the truncated stacks that element masks are first
    computed on, so partial results shared across depths are checked here."""
    from pathlib import Path

    from structgen.testing import token_ids_for_text

    tok = tokenizers["smollm2"]
    if gname not in _COMPILED:
        _COMPILED[gname] = structgen.compile(
            structgen.Grammar.builtin(gname), tok, vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"]
        )
    compiled = _COMPILED[gname]
    samples = Path(__file__).resolve().parent.parent / "grammars" / "samples"
    text = (samples / f"{gname}_1.txt").read_text(encoding="utf-8")
    ids = token_ids_for_text(tok, text)
    m = compiled.matcher()
    deepest = 0
    for i, t in enumerate(ids):
        config = m.state.config
        depth = max(e[2].depth for e in config if e[0] >= 0)
        if i % 4 == 0 or depth > deepest:
            mask = m.mask()
            diff = np.flatnonzero(
                mask != brute_force_mask(compiled.index.automaton, compiled.vocabulary, config)
            )
            assert not diff.size, (i, [compiled.vocabulary.tokens[j] for j in diff[:10]])
            deepest = max(deepest, depth)
        assert m.advance(t)
    assert deepest > 3  # the truncated stacks were exercised
