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
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from walks_for_tests import exit_set

import structgen
from structgen import assets
from structgen.automata.grammar import Automaton
from structgen.compiler import Compiled
from structgen.testing import brute_force_mask, token_ids_for_text

GRAMMARS = ["python_expr", "sql", "minic", "json"]
_COMPILED: dict = {}
SAMPLES = Path(__file__).resolve().parent.parent / "grammars" / "samples"


def _sample_ids(tok, gname: str) -> list[int]:
    """The token ids of a grammar's first sample text."""
    text = (SAMPLES / f"{gname}_1.txt").read_text(encoding="utf-8")
    return token_ids_for_text(tok, text)


def _assert_exact(compiled, mask: np.ndarray, config: frozenset, where) -> None:
    """``mask`` equals the brute-force mask of ``config``; else name the first tokens."""
    brute = brute_force_mask(compiled.index.automaton, compiled.vocabulary, config)
    diff = np.flatnonzero(mask != brute)
    assert not diff.size, (where, [compiled.vocabulary.tokens[j] for j in diff[:10]])


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
            _assert_exact(compiled, mask, m.state.config, seed)
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
        # one occurrence of the suffix in the flat token bytes, and its length
        at, size = int(sx.at[i]), int(sx.size[i])
        assert size == len(b) - o and va.flat[at : at + size].tobytes() == b[o:]
        if o == len(b) - 1:
            assert sx.tail[i] == -1
        else:
            assert sx.text[sx.tail[i]] == b[o + 1 :]


@pytest.mark.parametrize("gname", ["python_expr", "sql"])
def test_stacks_are_cut_under_their_first_frame_not_nullable(gname):
    """``Automaton.split`` keeps a stack's top frames down to the first one that is not
    nullable (at most ``_MAX_KEPT``), on the opaque marker, and the part below is the rest
    of the same stack: checked on every stack of every configuration along a sample."""
    import structgen.automata.grammar as grammar_mod

    a = Automaton(structgen.Grammar.builtin(gname).to_grammar())
    text = (SAMPLES / f"{gname}_1.txt").read_bytes()

    def frames(s):
        out = []
        while s is not None:
            out.append(s[0])
            s = s[1]
        return out

    config, seen, runs = a.initial(), 0, 0
    for b in text:
        config = a.step(config, b)
        for _t, _q, stack in config:
            if stack is None:
                continue
            top, below = a.split(stack)
            kept = frames(top)
            nulls = [a.alg.exprs[f].nullable for f in kept[:-1]]
            if below is None:
                assert top is stack and all(nulls)
                continue
            assert kept[-1] == a.opaque[0] and kept[:-1] + frames(below) == frames(stack)
            assert all(nulls[:-1]) and (not nulls[-1] or len(nulls) == grammar_mod._MAX_KEPT)
            assert a.split(stack) == (top, below)  # memoised, and the same objects
            seen += 1
            runs += len(kept) > 2
    assert seen and runs  # stacks were cut, some under a run of nullable frames


@pytest.mark.parametrize("gname", ["arithmetic", "python_expr", "sql"])
def test_a_guard_that_no_first_byte_meets_leaves_the_terminal_itself(gname):
    """A guard of longest match restricts what follows to texts that do not begin with a
    byte continuing the terminal before it. Where no text of a terminal begins with one
    (`+` after a number), the terminal itself follows, not a copy, so what is worked out
    for its elements is shared with where no guard stands; where some does, a copy
    whose first bytes are the terminal's but the forbidden ones (or none at all)."""
    from structgen.automata import terms as T
    from structgen.automata.dfa import bitmask

    a = Automaton(structgen.Grammar.builtin(gname).to_grammar())
    kept = copies = 0
    for forbid in list(a._guard_frames):
        banned = np.array([forbid >> b & 1 for b in range(256)], dtype=bool)
        for t in a.begun_terminals():
            dfa, start = a.dfas[t], a.starts[t]
            fb = dfa.first_bytes(start)
            got = a._restricted_start(t, forbid)
            if not bitmask(fb) & forbid:
                assert got == start
                kept += 1
            elif not got:
                assert not (fb & ~banned).any()
            else:
                assert got != start and dfa.restricted_starts[got] == T.ALL_BYTES & ~forbid
                assert (dfa.first_bytes(got) == (fb & ~banned)).all()
                # after an allowed first byte, the terminal's own states
                for b in np.flatnonzero(fb & ~banned).tolist():
                    assert dfa.step(got, b) == dfa.step(start, b)
                copies += 1
    assert kept and copies
    if gname == "arithmetic":
        ops = {"PLUS", "MINUS", "STAR", "SLASH", "PERCENT"}

        def after(text: bytes) -> set:
            return {(t, q) for t, q, _ in a.run(a.initial(), text) if a.terminal_names[t] in ops}

        assert after(b"3") == after(b"(3)") and len(after(b"3")) == len(ops)


@pytest.mark.parametrize("kept", [None, 1])
@pytest.mark.parametrize("gname", ["python_expr", "minic", "sql", "arithmetic"])
def test_masks_equal_brute_force_along_nested_samples(tokenizers, gname, kept, monkeypatch):
    """Sample texts nest deeper than the top frames of the stacks that element masks are
    first computed on, so partial results shared across depths are checked here: the
    rests of tokens handed down from one cut to the part below it, under the guards of
    longest match too. With ``kept`` 1, stacks are cut below their top frame even where
    it is nullable, so nearly every remainder is handed down, level by level."""
    import structgen.automata.grammar as grammar_mod
    import structgen.index as index

    tok = tokenizers["smollm2"]
    if kept is None:
        if gname not in _COMPILED:
            _COMPILED[gname] = structgen.compile(
                structgen.Grammar.builtin(gname),
                tok,
                vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"],
            )
        compiled = _COMPILED[gname]
    else:
        monkeypatch.setattr(grammar_mod, "_MAX_KEPT", kept)
        base = structgen.compile(
            structgen.Grammar.builtin(gname), tok, vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"]
        )
        # an automaton and an index of their own, with empty caches (compile() shares
        # them per grammar)
        limits = base.index.limits
        automaton = Automaton(structgen.Grammar.builtin(gname).to_grammar(), limits)
        fresh = index.TokenIndex(automaton, base.vocabulary, limits)
        compiled = Compiled(base.spec, fresh)
    ids = _sample_ids(tok, gname)
    m = compiled.matcher()
    deepest = 0
    for i, t in enumerate(ids):
        config = m.state.config
        depth = max(e[2][2] for e in config if e[0] >= 0)  # (a stack: frame, parent, depth)
        if i % 4 == 0 or depth > deepest:
            _assert_exact(compiled, m.mask(), config, i)
            deepest = max(deepest, depth)
        assert m.advance(t)
    assert deepest > 3  # the truncated stacks were exercised


@pytest.mark.parametrize("maximal", [False, True])
@pytest.mark.parametrize("name", ["llama2", "llama3"])
def test_vectorised_suffix_lexing_equals_scalar(tokenizers, name, maximal):
    """Suffixes lexed from one terminal state at once (:func:`structgen.index._lex_codes`)
    get the same codes and rests as when lexed one by one, for every terminal of a
    grammar at its start and at states reached inside it; for a maximal match too (no
    rest that begins with a byte continuing the terminal)."""
    from structgen.index import _lex_code, _lex_codes, suffix_table, vocab_arrays

    compiled = structgen.compile(
        structgen.Grammar.builtin("python_expr"),
        tokenizers[name],
        vocab_size=assets.MODEL_VOCAB_SIZE[name],
    )
    va = vocab_arrays(compiled.vocabulary)
    sx = suffix_table(va)
    rng = np.random.default_rng(7)
    n = len(sx.text)
    checked = {1: 0, 2: 0, 3: 0}
    dropped = 0
    for dfa in compiled.index.automaton.dfas:
        states = [dfa.start] + [int(q) for q in np.unique(dfa.build(dfa.start)) if q]
        for q in states[:3]:
            # suffixes the state can read at least a byte of, and random others
            first = dfa.first_bytes(q)
            sids = np.flatnonzero(first[sx.first])
            sids = np.union1d(
                rng.choice(sids, min(sids.size, 3000), replace=False) if sids.size else sids,
                rng.integers(0, n, 500),
            ).astype(np.int32)
            got, got_rests = np.zeros(n, dtype=np.int8), {}
            _lex_codes(dfa, q, sids, sx, va.flat, got, got_rests, maximal)
            want, want_rests = np.zeros(n, dtype=np.int8), {}
            for sid in sids.tolist():
                _lex_code(dfa, q, sx.text[sid], sid, sx.tail, want, want_rests, maximal)
            assert (got == want).all()
            assert got_rests == want_rests
            if maximal:  # a subset of the rests of any match
                _, every = np.zeros(n, dtype=np.int8), {}
                for sid in sids.tolist():
                    _lex_code(dfa, q, sx.text[sid], sid, sx.tail, _, every)
                for sid, rests in want_rests.items():
                    assert set(rests) <= set(every[sid])
                dropped += sum(len(r) for r in every.values()) - sum(
                    len(r) for r in want_rests.values()
                )
            for c in checked:
                checked[c] += int((got[sids] == c).sum())
    assert all(checked.values()), checked  # read entirely, dead, and ended inside: all met
    assert dropped > 0 or not maximal


@pytest.mark.parametrize("gname", ["python_expr", "sql"])
@pytest.mark.parametrize("small, vector", [(0, 10**9), (0, 1), (10**9, 10**9), (None, None)])
def test_masks_equal_brute_force_with_each_suffix_check(
    tokenizers, gname, small, vector, monkeypatch
):
    """Suffix checks take one of three ways (suffixes read through the automaton one by
    one, lexed token by token, or lexed vectorised); forcing each, or mixing them as
    shipped, gives the exact masks over every sample of the grammar."""
    from structgen import index as index_mod
    from structgen.index import TokenIndex
    from structgen.matcher import Matcher

    if small is not None:
        monkeypatch.setattr(index_mod, "_RUN_SMALL", small)
        monkeypatch.setattr(index_mod, "_VECTOR_LEX", vector)
    tok = tokenizers["smollm2"]
    compiled = structgen.compile(
        structgen.Grammar.builtin(gname), tok, vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"]
    )
    # a fresh index of the same automaton: nothing memoised under other settings
    index = TokenIndex(compiled.index.automaton, compiled.vocabulary)
    for path in sorted(SAMPLES.glob(f"{gname}_*.txt")):
        m = Matcher(index)
        for i, t in enumerate(token_ids_for_text(tok, path.read_text(encoding="utf-8"))):
            if i % 3 == 0:
                _assert_exact(compiled, m.mask(), m.state.config, (path.name, i))
            assert m.advance(t)


@pytest.mark.parametrize("name", ["smollm2", "llama3"])
def test_derived_walks_equal_their_own(tokenizers, name, monkeypatch):
    """Terminals restricted to texts not beginning with some bytes (longest match's
    guards) begin in a start of their own, whose token walk is taken from the walk from
    the terminal's start (``structgen.index._derived``); each such walk equals the DFA's
    own walk from that state, every token, with exits before a byte that continues the
    terminal left out or not."""
    from structgen import index as index_mod
    from structgen.cache import BoundedCache

    tok = tokenizers[name]
    compiled = structgen.compile(
        structgen.Grammar.builtin("sql"), tok, vocab_size=assets.MODEL_VOCAB_SIZE[name]
    )
    m = compiled.matcher()
    for t in _sample_ids(tok, "sql"):
        m.mask()  # meets the restricted terminals the sample needs
        assert m.advance(t)
    va = index_mod.vocab_arrays(compiled.vocabulary)
    derived = 0
    for dfa in compiled.index.automaton.dfas:
        for q in dfa.restricted_starts:
            for maximal in (False, True):
                monkeypatch.setattr(va, "lexcache", BoundedCache(1 << 30))
                got = index_mod.lex_info(dfa, q, va, True, maximal)
                want = index_mod._lex_walk(dfa, q, va, None, True, False, maximal=maximal)
                assert (got.inside == want.inside).all(), maximal
                assert exit_set(got) == exit_set(want), maximal
            derived += 1
    assert derived


@pytest.mark.parametrize("name", ["smollm2", "llama3"])
def test_walks_inside_a_block_comment_equal_their_own(tokenizers, name, monkeypatch):
    """minic folds its C comments into every terminal (the ``%ignore`` prefix). A state
    inside a comment reads the rest of it, then the terminal: its walk is the comment's
    own, shared by every terminal, and only the tokens that go past the comment's end are
    walked on through the terminal (``structgen.index._split_of``). Each such walk
    equals the state's own walk, every token, with exits before a byte that continues
    the terminal left out or not; the ``%ignore`` terminal itself (a comment, or a
    comment and more) among them."""
    from structgen import index as index_mod
    from structgen.cache import BoundedCache

    tok = tokenizers[name]
    compiled = structgen.compile(
        structgen.Grammar.builtin("minic"), tok, vocab_size=assets.MODEL_VOCAB_SIZE[name]
    )
    A = compiled.index.automaton
    va = index_mod.vocab_arrays(compiled.vocabulary)
    met = set()
    for t in A.begun_terminals():
        dfa = A.dfas[t]
        for text in (b"/* a", b" /**", b"/* x **"):
            q = dfa.start
            for c in text:
                q = dfa.step(q, c)
            if not q or index_mod._split_of(dfa, q) is None:
                continue
            if len(met) >= 8 and A.terminal_names[t] != "%ignore":
                continue
            met.add((A.terminal_names[t], text))
            for maximal in (False, True):
                monkeypatch.setattr(va, "lexcache", BoundedCache(1 << 30))
                got = index_mod.lex_info(dfa, q, va, True, maximal)
                want = index_mod._lex_walk(dfa, q, va, None, True, False, maximal=maximal)
                assert (got.inside == want.inside).all(), (A.terminal_names[t], text, maximal)
                assert exit_set(got) == exit_set(want), (A.terminal_names[t], text, maximal)
    names = {n for n, _ in met}
    assert len(names) >= 3 and "%ignore" in names, met


def _regex_dfa(pattern: str):
    from structgen.automata.dfa import DFA
    from structgen.automata.lower import lower_regex

    return DFA(lower_regex(structgen.Regex(pattern).to_ir()))


def test_same_behaviour_pairs_states_that_read_alike():
    """Two states behave the same when they accept at the same prefixes and die at the
    same bytes of every text; other states, and pairs not shown within the limit, do not."""
    from structgen.automata.dfa import same_behaviour

    spaces = _regex_dfa("( |  )*a")
    after = spaces.step(spaces.start, ord(" "))
    assert after != spaces.start  # two terms, one language
    assert same_behaviour(spaces, spaces.start, spaces, after)
    one, other = _regex_dfa("a(b|c)d"), _regex_dfa("a[bc]d")
    assert same_behaviour(one, one.start, other, other.start)
    for a, b in [("ab", "abc"), ("ab", "a[bc]"), ("a", "a?"), ("a+", "a"), ("[ab]b", "ab")]:
        x, y = _regex_dfa(a), _regex_dfa(b)
        assert not same_behaviour(x, x.start, y, y.start), (a, b)
        assert not same_behaviour(y, y.start, x, x.start), (b, a)
    long1, long2 = _regex_dfa("a{40}"), _regex_dfa("(aa){20}")
    assert not same_behaviour(long1, long1.start, long2, long2.start, limit=16)
    assert same_behaviour(long1, long1.start, long2, long2.start, limit=64)
    # states of one term (terms are interned) read one language: shown at once...
    twin = _regex_dfa("a{40}")
    assert same_behaviour(long1, long1.start, twin, twin.start, limit=1)
    # ...but not where a DFA accepts apart from its terms: a nullable start copied so as
    # not to accept the empty text
    from structgen.automata.dfa import DFA

    plain = _regex_dfa("(ab)*")
    nonempty = DFA(plain.root, nonempty=True)
    assert nonempty.terms[nonempty.start] is plain.terms[plain.start]
    assert not same_behaviour(nonempty, nonempty.start, plain, plain.start)


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(
        [
            r"[a-z_][a-z0-9_]*",
            r"-?[0-9]+(\.[0-9]+)?",
            r"[ \n]*(//[^\n]*\n|ab|-)",
            r"(ab)*",
            r"a|ab|b*c",
        ]
    ),
    st.sets(st.sampled_from(b"ab0-_ /\nc.")),
    st.booleans(),
    st.lists(st.binary(max_size=6).map(lambda b: bytes(x % 8 for x in b)), max_size=20),
)
def test_restricted_dfa_reads_as_the_one_built_from_its_term(pattern, allowed, built, junk):
    """A terminal restricted to texts whose first byte is allowed (longest match's guard)
    begins in a state of its own added to its DFA, the start's row without the other
    bytes (``DFA.restricted_start``): from there it behaves as the DFA built from the
    restricted term, whether the DFA was fully built or not, and matches exactly its
    texts that begin with an allowed byte."""
    from structgen.automata import terms as T
    from structgen.automata.dfa import DFA, same_behaviour

    base = DFA(_regex_dfa(pattern).root, nonempty=True)
    if built:
        todo, seen = [base.start], {base.start}
        while todo:
            for q in set(base.build(todo.pop())) - seen - {0}:
                seen.add(q)
                todo.append(q)
    mask = sum(1 << b for b in allowed)
    term = T.conj(base.root, T.cat(T.byteset(mask), T.TOP))
    got = base.restricted_start(mask, term)
    want = DFA(term, nonempty=True)
    assert (not got) == want.empty
    assert base.restricted_start(mask, term) == got  # (one state per restriction)
    if got:
        assert base.restricted_starts[got] == mask and got != base.start
        assert same_behaviour(base, got, want, want.start, limit=10**4)
    alphabet = b"ab0-_ /\nc."
    for text in [bytes(alphabet[x] for x in j) for j in junk] + [b"ab", b"-1.5", b"// x\nab"]:
        expect = base.matches(text) and bool(text) and text[0] in allowed
        assert want.matches(text) == expect, text
        if got:
            assert base.acc[base.run(text, got)] == expect, text


@pytest.mark.parametrize("gname", ["minic", "sql"])
def test_terminal_guards_are_built_at_compile(gname, monkeypatch):
    """Under longest match every terminal the rules begin has the guard of each of its
    accepting states (the bytes that would continue it there, which builds its whole
    DFA) from compile on: reading a text builds guards only for terminals restricted on
    the way. The guard is that of the state the terminal ends in."""
    from structgen.automata import grammar as grammar_mod
    from structgen.automata.dfa import bitmask

    a = Automaton(structgen.Grammar.builtin(gname).to_grammar())
    terminals = a._rule_terminals()
    assert set(a.ignore_ids) <= set(terminals) and len(terminals) > 20
    before = dict(a._guards)
    for t in terminals:
        dfa = a.dfas[t]
        reach, todo = {dfa.start}, [dfa.start]
        while todo:
            q = todo.pop()
            assert dfa.complete[q]
            for q2 in set(dfa.rows[q]) - reach - {0}:
                reach.add(q2)
                todo.append(q2)
        accepting = [q for q in reach if dfa.acc[q]]
        assert accepting
        for q in accepting:
            g = before[(t, q)]
            want = bitmask(dfa.table[q] != 0)
            assert (g is None) == (not want) and (g is None or g.a == want)
    calls = []
    real = grammar_mod._extension_classes
    monkeypatch.setattr(grammar_mod, "_extension_classes", lambda d: calls.append(d) or real(d))
    samples = Path(__file__).resolve().parent.parent / "grammars" / "samples"
    for path in sorted(samples.glob(f"{gname}_*.txt")):
        assert a.matches(path.read_bytes())
    assert not calls
    rule_dfas = {id(a.dfas[t]) for t in terminals}
    new = [k for k in a._guards if k not in before]
    assert not [k for k in new if id(a.dfas[k[0]]) in rule_dfas]


@pytest.mark.parametrize("gname", ["minic", "sql"])
def test_terminal_start_walks_are_part_of_compile(tokenizers, gname, monkeypatch):
    """Under longest match, compiling for a vocabulary walks it through every terminal the
    rules begin, from its start state: reading the samples walks no such state again."""
    from structgen import index as index_mod
    from structgen.cache import BoundedCache
    from structgen.matcher import Matcher

    tok = tokenizers["smollm2"]
    compiled = structgen.compile(structgen.Grammar.builtin(gname), tok)
    A = compiled.index.automaton
    va = index_mod.vocab_arrays(compiled.vocabulary)
    monkeypatch.setattr(va, "lexcache", BoundedCache(1 << 30))
    monkeypatch.setattr(va, "_twins", {})
    monkeypatch.setattr(index_mod, "_START_WALKS_SECONDS", 600.0)
    walked = []
    real = index_mod._lex_walk
    monkeypatch.setattr(
        index_mod,
        "_lex_walk",
        lambda dfa, q, *a, **k: walked.append((dfa, q)) or real(dfa, q, *a, **k),
    )
    starts = {(id(A.dfas[t]), A.starts[t]) for t in A.begun_terminals()}
    m = Matcher(index_mod.TokenIndex(A, compiled.vocabulary))  # (a fresh index)
    assert sum((id(d), q) in starts for d, q in walked) > 10
    walked.clear()
    for t in _sample_ids(tok, gname):
        m.mask()
        assert m.advance(t)
    assert walked  # (other states are still walked as texts reach them)
    assert not [(d, q) for d, q in walked if (id(d), q) in starts]


@pytest.mark.parametrize("name", ["smollm2", "llama3"])
@pytest.mark.parametrize("gname", ["sql", "minic"])
def test_shared_walks_equal_their_own(tokenizers, name, gname, monkeypatch):
    """A state that behaves like one already walked (``same_behaviour``) takes that walk
    (``structgen.index.lex_info``). Walks were shared along a sample, and every walk met
    there, shared or not, equals the state's own walk, every token."""
    from structgen import index as index_mod
    from structgen.cache import BoundedCache
    from structgen.matcher import Matcher

    tok = tokenizers[name]
    compiled = structgen.compile(
        structgen.Grammar.builtin(gname), tok, vocab_size=assets.MODEL_VOCAB_SIZE[name]
    )
    va = index_mod.vocab_arrays(compiled.vocabulary)
    monkeypatch.setattr(va, "lexcache", BoundedCache(1 << 30))
    monkeypatch.setattr(va, "_twins", {})
    shared, met = [], {}
    real_same, real_info = index_mod.same_behaviour, index_mod.lex_info

    def same(a, p, b, q, limit=64):
        res = real_same(a, p, b, q, limit)
        if res:
            shared.append((p, q))
        return res

    def info(dfa, q, va, exits=True, maximal=False):
        res = real_info(dfa, q, va, exits, maximal)
        if res.exits is not None:
            met[(dfa, q, maximal)] = res
        return res

    monkeypatch.setattr(index_mod, "same_behaviour", same)
    monkeypatch.setattr(index_mod, "lex_info", info)
    # a fresh index of the same automaton: no element mask memoised by earlier tests
    m = Matcher(index_mod.TokenIndex(compiled.index.automaton, compiled.vocabulary))
    for t in _sample_ids(tok, gname):
        m.mask()
        assert m.advance(t)
    assert shared  # walks were shared along the sample
    for (dfa, q, maximal), got in met.items():
        want = index_mod._lex_walk(dfa, q, va, None, True, False, maximal=maximal)
        assert (got.inside == want.inside).all(), (q, maximal)
        assert exit_set(got) == exit_set(want), (q, maximal)


@pytest.mark.parametrize("kept", [None, 1, 2])
def test_guard_restricts_what_the_cut_off_part_reads(tokenizers, kept, monkeypatch):
    """Under longest match, ``A`` read as ``e`` may not be followed by ``l`` (``el`` would
    continue it). Here, with ``kept`` frames at most on top of a cut, the ``lf`` that
    would follow is expected below the stack's top frames (all nullable), in the part
    that the cut leaves off: the token ``self`` must stay masked while ``sel`` (``A``
    read as ``el``) is allowed."""
    import structgen.automata.grammar as grammar_mod
    import structgen.index as index

    if kept is not None:
        monkeypatch.setattr(grammar_mod, "_MAX_KEPT", kept)
    grammar = structgen.Grammar(
        'start: a "lf"\na: b "p"?\nb: c "q"?\nc: d "r"?\nd: "s" A?\nA: "e" | "el"\n'
    )
    tok = tokenizers["smollm2"]
    base = structgen.compile(grammar, tok, vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"])
    automaton = Automaton(grammar.to_grammar())
    compiled = Compiled(base.spec, index.TokenIndex(automaton, base.vocabulary))
    vocab = compiled.vocabulary
    m = compiled.matcher()
    mask = m.mask()
    _assert_exact(compiled, mask, m.state.config, "start")
    ids = {t: i for i, t in enumerate(vocab.tokens)}
    assert not mask[ids[b"self"]]
    assert mask[ids[b"sel"]] and mask[ids[b"s"]]
    assert not compiled.automaton.matches(b"self") and compiled.automaton.matches(b"sellf")


def _from_parts(ix, parts):
    packed, ids, blank = parts
    if ids is None:
        return np.unpackbits(packed, count=ix.size).view(bool)
    m = ix._blank_mask.copy() if blank else np.zeros(ix.size, dtype=bool)
    m[ids] = True
    return m


def _python_expr_compiled(tokenizers, limits=None) -> Compiled:
    """python_expr on SmolLM2 with a token index of its own (fresh caches, ``limits``)."""
    import structgen.index as index

    base = structgen.compile(
        structgen.Grammar.builtin("python_expr"),
        tokenizers["smollm2"],
        vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"],
    )
    ix = index.TokenIndex(base.automaton, base.vocabulary, *([limits] if limits else []))
    return Compiled(base.spec, ix)


def test_mask_parts_are_never_those_of_another_mask(tokenizers):
    """The parts of element masks (packed bits, or token ids) are memoised by the mask's
    id and hold it weakly: an entry whose mask is gone (its id may now be another mask's)
    is not reused."""
    ix = _python_expr_compiled(tokenizers).index
    a = np.zeros(ix.size, dtype=bool)
    a[:5] = True
    ix._parts_of(a)
    b = np.zeros(ix.size, dtype=bool)
    b[7] = True
    # b under a's id, holding a's entry: as when a dies and b is given its address
    ix._packed.put(id(b), ix._packed.get(id(a)))
    assert np.array_equal(_from_parts(ix, ix._parts_of(b)), b)
    assert np.array_equal(_from_parts(ix, ix._parts_of(a)), a)


def test_masks_are_combined_exactly(tokenizers):
    """A state's mask is the exact union of its element masks, whichever way each is
    set: ORed (as packed bits past three), by its token ids, or by its ids but the blank
    tokens' (spaces and tabs in python_expr), which it holds all of; the larger parts
    (many tokens, or many ids) through the memoised union of them, which no mask given
    out shares."""
    import structgen.index as index

    ix = _python_expr_compiled(tokenizers).index
    w = ix._blank_mask
    assert w is not None and 10 < w.sum() < index._FEW_TOKENS
    rng = np.random.default_rng(7)

    def mask(n, blank=False):
        m = np.zeros(ix.size, dtype=bool)
        m[rng.choice(ix.size, n, replace=False)] = True
        return m | w if blank else m

    many = [mask(index._FEW_TOKENS + 1 + 100 * i) for i in range(5)]
    few = [mask(30, blank=True) for _ in range(4)] + [mask(20) for _ in range(3)]
    some_blank = mask(20)
    some_blank[np.flatnonzero(w)[:3]] = True  # a few blank tokens only: set by ids
    few.append(some_blank)
    # few, but enough ids to be ORed with the larger parts (their union memoised)
    grouped = [mask(index._GROUP_IDS + 40, blank=True), mask(index._GROUP_IDS + 10)]
    assert [ix._parts_of(m)[2] for m in few] == [True] * 4 + [False] * 4
    assert all(ix._parts_of(m)[1] is None for m in many)
    assert all(ix._parts_of(m)[1].size >= index._GROUP_IDS for m in grouped)
    extras = [rng.choice(ix.size, 50), rng.choice(ix.size, 3)]
    big_extra = [rng.choice(ix.size, index._GROUP_IDS)]
    for n_many in range(len(many) + 1):
        for chosen in (few, few[4:], few[:1], [], grouped, grouped[1:] + few[5:]):
            bases = many[:n_many] + chosen
            for xs in ([], extras, big_extra + extras, big_extra):
                for eos in (False, True):
                    if not bases:
                        continue
                    want = np.zeros(ix.size, dtype=bool)
                    for m in bases:
                        want |= m
                    for x in xs:
                        want[x] = True
                    if eos:
                        want[ix.va.eos] = True
                    for _ in range(2):  # (the second time, the larger parts' union is known)
                        got = ix._union(bases, xs, eos)
                        assert np.array_equal(got, want), (n_many, len(chosen), len(xs), eos)
                        assert all(got is not m for m in bases)
                        got[:] = False  # (a mask given out is its own: the memo is unchanged)
    assert len(ix._groups_memo) > 10


@pytest.mark.parametrize("name", ["smollm2", "llama3"])
def test_rests_are_checked_only_where_no_element_reads_the_whole(tokenizers, name, monkeypatch):
    """After a binary ``-`` in SQL, a run of dashes is read whole by the ``--`` comment
    (ignored) and also, one ``-`` at a time, by unary minus, whose rest check would recurse
    a level per dash: every element is lexed before any rest is checked, so once the
    tokens of dashes after ``SELECT a`` have their rests checked after the binary ``-``,
    no check below that level is asked about a run of two dashes or more. The mask is the same
    either way (the brute-force tests check masks)."""
    from structgen import index as index_mod
    from structgen.matcher import Matcher

    tok = tokenizers[name]
    compiled = structgen.compile(structgen.Grammar.builtin("sql"), tok)
    idx = index_mod.TokenIndex(compiled.index.automaton, compiled.vocabulary)  # (fresh)
    m = Matcher(idx)
    for t in token_ids_for_text(tok, "SELECT a"):
        m.mask()
        assert m.advance(t)
    sx = index_mod.suffix_table(idx.va)
    depth = [0]
    nested_runs = []
    real = index_mod.TokenIndex._suffixes_valid

    def spy(self, cont, s, sx_):
        depth[0] += 1
        try:
            if depth[0] > 1:
                nested_runs.extend(sid for sid in s.tolist() if _dashes(bytes(sx.text[sid])))
            return real(self, cont, s, sx_)
        finally:
            depth[0] -= 1

    monkeypatch.setattr(index_mod.TokenIndex, "_suffixes_valid", spy)
    mask = m.mask()
    runs = [i for i, b in enumerate(compiled.vocabulary.tokens) if b and _dashes(b)]
    assert len(runs) > 3 and mask[runs].all()  # (every run of dashes may follow)
    assert depth[0] == 0 and not nested_runs


def _dashes(b: bytes) -> bool:
    """A run of two ``-`` or more (the start of an SQL comment)."""
    return len(b) >= 2 and set(b) == {ord("-")}


def test_rest_checks_stay_shallow_through_nested_parentheses(tokenizers, monkeypatch):
    """A rest checked against a deep stack is checked on its top frames, then what is
    left of it where the stack's cut-off part begins on that part: the configurations
    met in checking the tokens that open many parentheses at once do not deepen with
    the run (they recur, and their checks are memoised). The runs are still allowed,
    and a run of ``)`` is not."""
    from structgen import index as index_mod

    tok = tokenizers["smollm2"]
    grammar = structgen.Grammar.builtin("arithmetic")
    real = index_mod.TokenIndex._suffixes_valid

    def deepest(tokens: list) -> int:
        vocab = structgen.Vocabulary(tokens, eos_ids=[len(tokens) - 1])
        depth = []

        def spy(self, cont, s, sx):
            depth.append(max((e[2][2] for e in cont if e[2] is not None), default=0))
            return real(self, cont, s, sx)

        monkeypatch.setattr(index_mod.TokenIndex, "_suffixes_valid", spy)
        compiled = structgen.compile(grammar, vocabulary=vocab)
        monkeypatch.setattr(index_mod.TokenIndex, "_suffixes_valid", real)
        mask = compiled.matcher().mask()
        for i, t in enumerate(tokens):
            if t and t.startswith(b"((") and (t[-1:].isalnum() or t[-1:] == b"("):
                assert mask[i], t
            elif t and not t.strip(b")"):
                assert not mask[i], t
        return max(depth)

    base = structgen.Vocabulary.from_tokenizer(tok).tokens
    # (runs of "(" before many operands: more at each level than are read one by one)
    runs = [
        b"(" * n + c.encode() for n in range(1, 17) for c in "abcdefghijklmnopqrstuvwxyz0123456789"
    ]
    runs += [b"(" * n for n in range(2, 25)] + [b")" * n for n in range(1, 25)]
    assert deepest([*base, b"<eos>"]) == deepest([*base, *runs, b"<eos>"])


@pytest.mark.parametrize("name", ["smollm2", "llama3"])
def test_rests_no_terminal_begins_with_are_not_handed_below(tokenizers, name, monkeypatch):
    """What is left of a token where the cut-off part of a truncated stack would begin is
    handed to that part only when some terminal of the grammar begins with its first
    byte (``TokenIndex._holes_of``): python_expr ignores spaces and tabs only, so after an
    operand inside brackets, the many tokens ending in a newline or a semicolon are
    refused there, not carried down the stack's levels. The masks are the same either way
    (the brute-force tests check masks)."""
    from structgen import index as index_mod
    from structgen.matcher import Matcher

    tok = tokenizers[name]
    compiled = structgen.compile(
        structgen.Grammar.builtin("python_expr"), tok, vocab_size=assets.MODEL_VOCAB_SIZE[name]
    )
    idx = index_mod.TokenIndex(compiled.index.automaton, compiled.vocabulary)  # (fresh)
    A = idx.automaton
    firsts = np.zeros(256, dtype=bool)
    for t in A.begun_terminals():
        firsts |= A.dfas[t].first_bytes(A.starts[t])
    assert not firsts[[ord("\n"), ord(";")]].any()
    sx = index_mod.suffix_table(idx.va)
    handed = []
    real = index_mod.TokenIndex._readable

    def spy(self, st, s):
        handed.extend(sx.first[s].tolist())
        return real(self, st, s)

    monkeypatch.setattr(index_mod.TokenIndex, "_readable", spy)
    m = Matcher(idx)
    text = "f([a, (b + c) * d], {k: v for k in x})"
    for t in token_ids_for_text(tok, text):
        m.mask()
        assert m.advance(t)
    assert handed  # rests were handed below
    assert firsts[handed].all(), sorted({chr(b) for b in handed if not firsts[b]})
    # (tokens that close a bracket and go on with a semicolon exist: the rests were there)
    assert sum(1 for b in compiled.vocabulary.tokens if b and b[:1] in b")]" and b";" in b) > 1


@pytest.mark.parametrize("gname", ["json", "minic"])
def test_compiling_walks_the_bodies_of_strings_and_comments(tokenizers, gname):
    """Compiling for a vocabulary walks it through the states that loop on most bytes (a
    string's body, a comment's, an identifier's), which most tokens go through: once for
    a comment of the folded ``%ignore`` prefix (the walk every terminal's copy of it
    shares), never per terminal's copy."""
    import structgen.index as index_mod

    tok = tokenizers["llama3"]
    compiled = structgen.compile(
        structgen.Grammar.builtin(gname), tok, vocab_size=assets.MODEL_VOCAB_SIZE["llama3"]
    )
    A = compiled.index.automaton
    begun = A.begun_terminals()
    ix = index_mod.TokenIndex(A, compiled.vocabulary)
    bodies = ix._body_states(begun)
    va = ix.va
    for dfa, q, maximal in bodies:
        assert np.count_nonzero(dfa.table[q] == q) >= index_mod._BODY_BYTES
        assert va.lexcache.get((dfa, va.lexkey(dfa, q)[0], maximal)) is not None
    names = {A.terminal_names[A.dfas.index(d)] for d, _, _ in bodies if d in A.dfas}
    assert "STRING" in names
    if gname == "minic":
        assert "NAME" in names  # (63 bytes: letters, digits and the underscore)
    shared = [d for d, _, _ in bodies if d not in A.dfas]
    if gname == "minic":
        # the block comment's own DFA, once; no terminal's copy of the prefix
        assert len(shared) == len({id(d) for d in shared}) >= 1
        for d, q, _ in bodies:
            if d in A.dfas:
                assert not index_mod._has_factor(d.terms[q], A.ignore_prefix)
    else:  # (whitespace only is folded in front of JSON's terminals)
        assert not shared


@pytest.mark.parametrize("gname", ["python_expr", "sql", "minic"])
def test_identifiers_part_way_into_a_keyword_walk_as_their_body(tokenizers, gname, monkeypatch):
    """An identifier that excludes keywords reads, part way into one (``i``, ``no``,
    ``SEL``), as its body does but that it does not accept the keyword itself: its walk
    is the body's, with the exits within the keyword's reach read again
    (``structgen.index._merge_of``). Each such walk equals the state's own walk, every
    token, with exits before a byte that continues the identifier left out or not; the
    body itself and the start state are walked as they are."""
    from structgen import index as index_mod
    from structgen.cache import BoundedCache

    tok = tokenizers["llama3"]
    compiled = structgen.compile(
        structgen.Grammar.builtin(gname), tok, vocab_size=assets.MODEL_VOCAB_SIZE["llama3"]
    )
    A = compiled.index.automaton
    va = index_mod.vocab_arrays(compiled.vocabulary)
    dfa = A.dfas[A.terminal_names.index("NAME")]
    # the keywords: words of the terminals' names that NAME does not read whole
    words = {v.encode() for n in A.terminal_names if n.isalpha() for v in (n, n.lower(), n.title())}
    keywords = sorted(w for w in words if dfa.run(w) and not dfa.acc[dfa.run(w)])
    body = dfa.run(b"xyz")
    assert index_mod._merge_of(dfa, body) is None
    assert index_mod._merge_of(dfa, dfa.start) is None  # (no digit first)
    met = set()
    for kw in keywords[:12]:
        for n in range(1, len(kw) + 1):
            q = dfa.run(kw[:n])
            merge = index_mod._merge_of(dfa, q)
            assert merge is not None and merge[0] == body, kw[:n]
            assert not dfa.acc[q] or n < len(kw)  # (the keyword itself is no identifier)
            if q in met:
                continue
            met.add(q)
            for maximal in (False, True):
                monkeypatch.setattr(va, "lexcache", BoundedCache(1 << 30))
                got = index_mod.lex_info(dfa, q, va, True, maximal)
                want = index_mod._lex_walk(dfa, q, va, None, True, False, maximal=maximal)
                assert (got.inside == want.inside).all(), (kw[:n], maximal)
                assert exit_set(got) == exit_set(want), (kw[:n], maximal)
    assert len(met) >= 8, met


def test_merge_depth_bounds_where_two_states_may_differ():
    """``merge_depth(d, q, b)``: how many bytes in ``q`` may still accept less than ``b``
    before the two behave the same; None where ``q`` accepts where ``b`` does not, or
    where they differ on texts of every length."""
    from structgen.automata.dfa import merge_depth

    d = _regex_dfa("ab*|cb+|e(bb)*")
    a, c, e = d.run(b"a"), d.run(b"c"), d.run(b"e")
    assert merge_depth(d, a, a) == 0
    assert merge_depth(d, c, a) == 0  # b+ accepts less than b*, at the start only
    assert merge_depth(d, a, c) is None  # b* accepts where b+ does not
    assert merge_depth(d, e, a) is None  # (bb)* differs from b* after every odd run
    assert merge_depth(d, a, e) is None
    kw = _regex_dfa("x[a-z]*|i(f[a-z]+|[a-eg-z][a-z]*)?")
    assert merge_depth(kw, kw.run(b"i"), kw.run(b"x")) == 1  # all but "if"
    assert merge_depth(kw, kw.run(b"if"), kw.run(b"x")) == 0


def test_a_run_of_blanks_is_read_by_one_terminal_state_only_where_it_reads_it(tokenizers):
    """The blanks after a line comment (the bytes the folded ``%ignore`` prefix begins
    with) are answered read, without stepping the automaton, where one terminal state of
    the configuration reads them whole (``TokenIndex._one_reads``): never where the
    automaton itself reads nothing of them, and along a SQL text with comments, masks
    stay exact where the shortcut answers."""
    from structgen.matcher import Matcher

    tok = tokenizers["smollm2"]
    compiled = structgen.compile(
        structgen.Grammar.builtin("sql"), tok, vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"]
    )
    index = compiled.index
    A = index.automaton
    assert index._blank == frozenset(b" \t\r\n")
    text = "SELECT a -- the first\n, b FROM t -- all rows\n\nWHERE a > 1 -- done\n"
    m = Matcher(index)
    seen = {True: 0, False: 0}
    for i, t in enumerate(token_ids_for_text(tok, text)):
        mask = m.mask()
        if i % 2 == 0:
            _assert_exact(compiled, mask, m.state.config, i)
        for config in [m.state.config] + [frozenset({e}) for e in m.state.config]:
            for data in (b"\n", b"\n\n", b" \t\n", b"  "):
                got = index._one_reads(config, data)
                assert not got or A.run(config, data), (i, data)
                seen[got] += 1
        assert m.advance(t)
    assert seen[True] and seen[False], seen


def test_continuation_groups_are_bounded_in_bytes(tokenizers, monkeypatch):
    """The elements of a continuation are kept grouped by terminal state with a matrix of
    their first bytes (256 bytes a group): those matrices are bounded in bytes together
    (a sixteenth of ``Limits.max_cache_bytes``), and masks stay exact as they are let go."""
    from structgen.limits import Limits

    tok = tokenizers["smollm2"]
    limits = Limits(max_cache_bytes=1 << 20)
    compiled = _python_expr_compiled(tokenizers, limits)
    ix = compiled.index
    m = compiled.matcher()
    peak = 0
    for i, t in enumerate(_sample_ids(tok, "python_expr")):
        if i % 8 == 0:
            _assert_exact(compiled, m.mask(), m.state.config, i)
        m.mask()
        peak = max(peak, ix._groups_bytes)
        widest = max((g[1].nbytes for g in ix._groups.values()), default=0)
        assert ix._groups_bytes <= limits.max_cache_bytes // 16 + widest
        assert m.advance(t)
    assert peak > limits.max_cache_bytes // 32  # the bound was approached


def test_element_masks_found_by_identity_are_those_the_mask_cache_holds(tokenizers):
    """An element's mask is also memoised by the element's identity (no hashing of its
    stack): an entry whose element is gone (its id may now be another's) is not used,
    and every mask held so is one the bounded mask cache holds (all are forgotten when
    it drops one), while masks stay exact as the cache lets them go. The cache counts
    each base (a walk's array, shared by the elements in that state) once."""
    from structgen.limits import Limits

    tok = tokenizers["smollm2"]
    limits = Limits(max_cache_bytes=8 << 20)
    compiled = _python_expr_compiled(tokenizers, limits)
    ix = compiled.index
    m = compiled.matcher()
    found = 0
    for i, t in enumerate(_sample_ids(tok, "python_expr")):
        if i % 8 == 0:
            _assert_exact(compiled, m.mask(), m.state.config, i)
        m.mask()
        held = {id(v) for v, _ in ix._elem_masks._d.values()}
        by_id = ix._elems_by_id()
        assert all(id(em) in held for _, em in by_id.values())
        found += len(by_id)
        # each base (a walk's array) counted once while an entry holds it
        bases = {}
        for v, _ in ix._elem_masks._d.values():
            b = v[0][0] if isinstance(v[0], tuple) else v[0]
            bases[id(b)] = b
        assert ix._elem_masks.extra == sum(b.nbytes for b in bases.values())
        assert ix._elem_masks.nbytes + ix._elem_masks.extra <= ix._elem_masks.max_bytes
        assert m.advance(t)
    assert ix._elem_masks.evictions > 0 and found > 0  # both ways were met
    # an entry left under another element's id: as when an element dies and another is
    # given its address
    from structgen.index import State

    elems = [e for e in m.state.config if e[0] >= 0]
    a, b = elems[0], (elems[0][0], elems[0][1], elems[0][2])  # equal, not the same
    assert b is not a
    want = ix.mask(State(frozenset([a])))
    assert want.any()
    ix._elem_by_id[id(b)] = (a, (np.zeros(ix.size, dtype=bool), None, None))
    assert np.array_equal(ix.mask(State(frozenset([b]))), want)


@pytest.mark.parametrize("gname", ["arithmetic", "minic", "sql", "python_expr"])
def test_element_masks_on_a_frame_not_nullable_are_made_when_compiling(
    tokenizers, gname, monkeypatch
):
    """An element whose stack is cut within the frames its own beginning pushed, under
    one that is not nullable (an operator and its operand), has the same top part, and
    so the same partial mask, whatever stack it was begun on: ``Automaton.cut_begins``
    lists every such element (all those met expanding the stacks along the samples) and
    compiling for a vocabulary computes their masks."""
    import structgen.index as index_mod

    monkeypatch.setattr(index_mod, "_START_WALKS_SECONDS", 60.0)
    tok = tokenizers["smollm2"]
    base = structgen.compile(
        structgen.Grammar.builtin(gname), tok, vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"]
    )
    A = Automaton(structgen.Grammar.builtin(gname).to_grammar(), base.index.limits)
    listed = set(A.cut_begins())
    ix = index_mod.TokenIndex(A, base.vocabulary, base.index.limits)
    for t, q, top in listed:
        assert ix._elem_masks.get((t, ix.va.lexkey(A.dfas[t], q)[0], top)) is not None
    met = 0
    for path in sorted(SAMPLES.glob(f"{gname}_*.txt"))[:2]:
        config = A.initial()
        for b in path.read_bytes():
            config = A.step(config, b)
            for stack in {ret for t, _q, ret in config if t >= 0}:
                tails = set()
                s = stack
                while s is not None:
                    tails.add(id(s))
                    s = s[1]
                begun = A.expand(stack)
                for t, q, ret in begun:
                    # (terminals restricted by the guard of the one before: starts of
                    # their own)
                    if t < 0 or q in A.dfas[t].restricted_starts:
                        continue
                    pushed, s = 0, ret
                    while s is not None and id(s) not in tails:  # the frames it pushed
                        pushed, s = pushed + 1, s[1]
                    top, below = A.split(ret)
                    if below is None:
                        continue
                    kept, s = 0, top
                    while s[0] >= 0:
                        kept, s = kept + 1, s[1]
                    if kept <= pushed:
                        assert (t, q, top) in listed, (path.name, A.terminal_names[t])
                        met += 1
    assert met


def test_a_vocabulary_that_forgets_its_grammars_walks_them_again_alike(tokenizers):
    """``VocabArrays.forget_grammars`` (the grammar bench's fresh-process timing) drops the
    walks and what was learned with them, not the vocabulary's layout: a grammar compiled
    again walks anew and gets the same masks along its sample."""
    import structgen.index as index

    tok = tokenizers["smollm2"]
    gram = structgen.Grammar.builtin("sql")
    ids = _sample_ids(tok, "sql")
    first = structgen.compile(gram, tok, vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"])
    va = index.vocab_arrays(first.vocabulary)
    m = first.matcher()
    want = []
    for t in ids:
        want.append(np.flatnonzero(m.mask()))
        assert m.advance(t)
    assert len(va.lexcache) and va._twins and va._lexkeys
    layout = (va.flat, va.ids, va.pairs())
    va.forget_grammars()
    assert not len(va.lexcache) and not va._twins and not va._lexkeys
    assert all(a is b for a, b in zip((va.flat, va.ids, va.pairs()), layout, strict=True))
    again = Compiled(first.spec, index.TokenIndex(first.automaton, first.vocabulary))
    assert len(va.lexcache)  # (walked anew)
    m = again.matcher()
    for i, t in enumerate(ids):
        assert np.array_equal(np.flatnonzero(m.mask()), want[i]), i
        assert m.advance(t)
