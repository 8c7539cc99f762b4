"""Walks over reduced strings (tokens with each byte replaced by its class representative
in the DFA's byte partition, deduplicated; :class:`structgen.index.ReducedVocab`) must give
exactly what the walk of every token gives: the same tokens read entirely and the same
exits (token, offset, real byte at the offset), also with exceptional tokens skipped.
Checked on real tokenizers (byte-level BPE and SentencePiece with byte fallback) at many
states of regexes over few byte classes, and against a brute-force walk of a sample."""

from __future__ import annotations

import random

import numpy as np
import pytest
from walks_for_tests import brute_walk, exit_set

import structgen
from structgen import assets
from structgen import index as index_mod
from structgen.automata import terms
from structgen.automata.dfa import DFA
from structgen.automata.lower import lower_regex
from structgen.index import ReducedVocab, vocab_arrays

PATTERNS = {
    "email": r"[a-zA-Z0-9._%+-]{1,64}@[a-zA-Z0-9-]{1,63}(\.[a-zA-Z0-9-]{1,63}){0,4}\.[a-zA-Z]{2,12}",
    "json_string": r'"([^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"',
    "number": r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?",
    "snake": r"[a-z]+(_[a-z]+)*( [a-z]+(_[a-z]+)*)*",
    "words": r"(\w+ ){0,20}\w+",
}


def _states(dfa: DFA, n: int, rng: random.Random) -> list[int]:
    """Up to ``n`` live states: breadth first from the start, then random ones."""
    seen = [dfa.start]
    i = 0
    while i < len(seen) and len(seen) < 4 * n:
        row = dfa.build(seen[i])
        for s in sorted(set(row)):
            if s and s not in seen:
                seen.append(s)
        i += 1
    head = seen[: n // 2]
    rest = seen[n // 2 :]
    return head + rng.sample(rest, min(len(rest), n - len(head)))


@pytest.mark.parametrize("name", ["smollm2", "llama2", "llama3"])
@pytest.mark.parametrize("which", sorted(PATTERNS))
def test_reduced_walks_equal_full_walks(tokenizers, name, which):
    compiled = structgen.compile(
        structgen.Regex(PATTERNS[which]), tokenizers[name], vocab_size=assets.MODEL_VOCAB_SIZE[name]
    )
    va = vocab_arrays(compiled.vocabulary)
    dfa = DFA(lower_regex(structgen.Regex(PATTERNS[which]).to_ir()))
    classes = terms.deep_classes(dfa.root)
    rv = ReducedVocab(va, classes)
    # the reduction is real: bytes of one class are interchangeable, so fewer strings
    assert len(rv.data) < len(va.data)
    assert all(len(rv.data[r]) == len(va.data[p]) for p, r in enumerate(rv.inv[:2000].tolist()))
    rng = random.Random(f"{name}-{which}")
    skip = np.unique(np.asarray(rng.sample(range(len(va.data)), 300), dtype=np.int64))
    for q in _states(dfa, 24, rng):
        for s, mx in ((None, False), (skip, False), (skip, True)):
            full = index_mod._lex_walk(dfa, q, va, s, True, reduced=False, maximal=mx)
            red = index_mod._lex_walk(dfa, q, va, s, True, reduced=rv, maximal=mx)
            assert (full.inside == red.inside).all(), (which, q)
            assert exit_set(full) == exit_set(red), (which, q, mx)
            bare = index_mod._lex_walk(dfa, q, va, s, False, reduced=rv)
            assert bare.exits is None and (bare.inside == full.inside).all()


@pytest.mark.parametrize("which", sorted(PATTERNS))
def test_reduced_walks_equal_brute_force(tokenizers, which):
    """The reduced walk against a token-by-token walk, on a sample of smollm2's tokens."""
    compiled = structgen.compile(
        structgen.Regex(PATTERNS[which]),
        tokenizers["smollm2"],
        vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"],
    )
    va = vocab_arrays(compiled.vocabulary)
    dfa = DFA(lower_regex(structgen.Regex(PATTERNS[which]).to_ir()))
    rv = ReducedVocab(va, terms.deep_classes(dfa.root))
    rng = random.Random(which)
    sample = set(rng.sample(range(len(va.data)), 3000)) | set(range(200))
    for q in _states(dfa, 8, rng):
        info = index_mod._lex_walk(dfa, q, va, None, True, reduced=rv)
        got_exits = {e for e in exit_set(info) if e[0] in sample}
        want_inside, want_exits = brute_walk(dfa, q, va, positions=sorted(sample))
        got_inside = {p for p in sample if info.inside[va.ids[p]]}
        assert got_inside == want_inside, (which, q)
        assert got_exits == want_exits


def test_reduction_is_used_and_pays(tokenizers):
    """A regex over few byte classes whose walks step through many tokens goes through
    the reduced strings after a walk or two; cheap walks do not pay for building them."""
    compiled = structgen.compile(
        structgen.Regex(PATTERNS["email"]),
        tokenizers["smollm2"],
        vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"],
    )
    va = vocab_arrays(compiled.vocabulary)
    dfa = DFA(lower_regex(structgen.Regex(PATTERNS["email"]).to_ir()))
    assert va.reduced_for(dfa) is None  # not walked yet
    walks = 0
    while va.reduced_for(dfa) is None and walks < 5:
        index_mod._lex_walk(dfa, dfa.start, va, None, False)
        walks += 1
    rv = va.reduced_for(dfa)
    assert rv is not None and walks <= 3
    assert len(rv.data) <= index_mod._REDUCE_MAX_SHARE * len(va.data)
    print(f"email: {len(va.data)} tokens -> {len(rv.data)} reduced strings after {walks} walks")
    # a keyword's walks go past the first bytes of few tokens: not reduced until they
    # have cost, all together, about what building the reduced strings costs
    keyword = DFA(lower_regex(structgen.Regex("[ ]?[sS][eE][lL][eE][cC][tT]").to_ir()))
    for _ in range(3):
        index_mod._lex_walk(keyword, keyword.start, va, None, False)
        if keyword._stepped < index_mod._REDUCE_AFTER * len(va.data):
            assert va.reduced_for(keyword) is None


KEYWORDS = {
    "ws_keyword": r"[ \t\n]*([sS][eE][lL][eE][cC][tT]|FROM)",
    "comma": r",",
    "op": r"[ ]*(==|!=|<=|>=|<|>)",
    "ws_name": r"[ \t\n]*[a-zA-Z_][a-zA-Z0-9_]*",
}

# bodies whose loop state reads characters (runs go through UTF-8 at once), and two
# whose do not (one leaves out a character above U+007F, one wants a digit after it)
BODIES = {
    "block_comment": r"/\*([^*]|\*+[^*/])*\*+/",
    "line_comment": r"#[^\n]*",
    "csv_text": r'[^",\n\r]+',
    "string_but_e_acute": r'"[^"\u00e9]*"',
    "string_e_acute_digit": r'"([^"\u00e9]|\u00e9[0-9])*"',
}


@pytest.mark.parametrize("name", ["smollm2", "llama2", "llama3"])
@pytest.mark.parametrize("which", ["json_string", "words"] + sorted(KEYWORDS) + sorted(BODIES))
def test_grouped_walks_equal_brute_force(tokenizers, name, which, monkeypatch):
    """The walk of every token with its shortcuts (a loop state's runs read at once,
    :func:`structgen.index._walk_runs`; the first two bytes read through the groups of
    tokens by their first two bytes, :func:`structgen.index._walk_pairs`) against a
    token-by-token walk of the whole vocabulary, at several states (loops, few tokens
    left or many), with exceptional tokens skipped or not, the groups always taken and
    never, for a maximal match (exits before a byte that continues the terminal left
    out) or not."""
    pattern = {**PATTERNS, **KEYWORDS, **BODIES}[which]
    compiled = structgen.compile(
        structgen.Regex(pattern), tokenizers[name], vocab_size=assets.MODEL_VOCAB_SIZE[name]
    )
    va = vocab_arrays(compiled.vocabulary)
    dfa = DFA(lower_regex(structgen.Regex(pattern).to_ir()))
    rng = random.Random(f"pairs-{name}-{which}")
    skip = np.unique(np.asarray(rng.sample(range(len(va.data)), 300), dtype=np.int64))
    used = {"pairs": 0, "runs": 0}
    for fn in used:
        orig = getattr(index_mod, f"_walk_{fn}")

        def spy(*a, _orig=orig, _fn=fn):
            r = _orig(*a)
            used[_fn] += r is not None
            return r

        monkeypatch.setattr(index_mod, f"_walk_{fn}", spy)
    by_chars = []
    runs = index_mod.VocabArrays.runs
    monkeypatch.setattr(
        index_mod.VocabArrays, "runs", lambda va, b, c=False: by_chars.append(c) or runs(va, b, c)
    )
    for q in _states(dfa, 6, rng):
        for s, maximal in ((None, False), (skip, False), (None, True), (skip, True)):
            inside, exits = brute_walk(dfa, q, va, skip=s, maximal=maximal)
            for share in (-1.0, 2.0):
                monkeypatch.setattr(index_mod, "_PAIRS_SHARE", share)
                info = index_mod._lex_walk(dfa, q, va, s, True, reduced=False, maximal=maximal)
                got = {int(p) for p in np.flatnonzero(info.inside[va.ids])}
                assert got == inside, (which, q, share, maximal)
                assert exit_set(info) == exits, (which, q, share, maximal)
                bare = index_mod._lex_walk(dfa, q, va, s, False, reduced=False, maximal=maximal)
                assert bare.exits is None and (bare.inside == info.inside).all()
    assert used["pairs"]  # the shortcuts were taken
    if which != "comma":  # (no state of it loops on a byte)
        assert used["runs"]
    # runs through characters, where the loop state reads them all
    assert any(by_chars) == (which in ("json_string", *BODIES) and "e_acute" not in which)


@pytest.mark.parametrize("name", ["smollm2", "llama2", "llama3"])
def test_runs_from_breaks_equal_runs_read_byte_by_byte(tokenizers, name, monkeypatch):
    """The run lengths of :meth:`VocabArrays.runs` come two ways (reading byte j of the
    runs still going, for every j; or from the bytes outside the set, for sets holding
    nearly every byte); both equal each other on every token, and a plain count on a
    sample, for loop sets of real terminals and random ones, dense and sparse."""
    va = vocab_arrays(
        structgen.Vocabulary.from_tokenizer(
            tokenizers[name], vocab_size=assets.MODEL_VOCAB_SIZE[name]
        )
    )
    rng = random.Random(f"runs-{name}")

    def of(pred) -> np.ndarray:
        return np.asarray([bool(pred(b)) for b in range(256)])

    sets = []
    for high in (True, False):  # a terminal of bytes, or of characters (UTF-8 checked)
        sets += [
            of(lambda b, h=high: b not in b'"\\' and b >= 0x20 and (h or b < 0x80)),
            of(lambda b, h=high: b != ord("*") and (h or b < 0x80)),  # a block comment
            of(lambda b, h=high: b != ord("\n") and (h or b < 0x80)),  # a line comment
        ]
    sets += [
        of(lambda b: chr(b).isalnum() or b == ord("_") if b < 128 else False),
        of(lambda b: b in b" \t\n"),
    ]
    for k in (1, 3, 20, 128, 250):
        out = set(rng.sample(range(256), k))
        sets.append(of(lambda b, out=out: b not in out))
    sample = rng.sample(range(len(va.data)), 2000)
    from_breaks = []
    real = va._runs_by_breaks
    monkeypatch.setattr(va, "_runs_by_breaks", lambda *a: from_breaks.append(1) or real(*a))
    va._runs.clear()  # (a cache: runs() computes each set anew)
    for member in sets:
        pos = np.flatnonzero(member[va.col0])
        by_bytes = va._runs_by_bytes(member, pos)
        assert (real(member, pos) == by_bytes).all()
        got = va.runs(index_mod.bitmask(member))
        assert (got[0] == pos).all() and (got[1] == by_bytes).all()
        at = {int(p): i for i, p in enumerate(pos)}
        for p in sample:
            data = va.data[p]
            if p in at:
                n = next((i for i, b in enumerate(data) if not member[b]), len(data))
                assert by_bytes[at[p]] == n, (data, n)
            else:
                assert not member[data[0]]
    assert len(from_breaks) >= 3  # runs() takes the breaks for the bodies
