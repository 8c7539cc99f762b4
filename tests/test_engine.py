"""The engine on recursive grammars built through the IR, at the byte level and on a
synthetic vocabulary (the real-tokenizer versions live in test_engine_tokens.py)."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from structgen.automata import Automaton
from structgen.errors import GrammarError, LimitError
from structgen.index import TokenIndex
from structgen.ir import Alt, Grammar, Ref, Repeat, Seq, Text
from structgen.limits import Limits
from structgen.matcher import Matcher
from structgen.testing import brute_force_mask
from structgen.vocab import Vocabulary

from grammars_for_tests import GRAMMARS, LISTS

AUTOMATA = {name: Automaton(g) for name, (g, _, _) in GRAMMARS.items()}


@pytest.mark.parametrize("name", sorted(GRAMMARS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_derived_sentences_are_accepted(name, data):
    _, ok, strategy = GRAMMARS[name]
    text = data.draw(strategy)
    assert ok(text), text  # the strategy and the reference agree
    assert AUTOMATA[name].matches(text.encode("utf-8")), text


@pytest.mark.parametrize("name", sorted(GRAMMARS))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_byte_level_agrees_with_reference(name, data):
    _, ok, strategy = GRAMMARS[name]
    alphabet = {
        "brackets": "()[]{}x",
        "lists": '[],"ab0129 \u00e9\u4e00-',
        "arith": "0123456789.+-*/() ",
    }[name]
    if data.draw(st.booleans()):
        text = data.draw(st.text(alphabet=alphabet, max_size=14))
    else:  # mutate a valid sentence
        chars = list(data.draw(strategy))
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.integers(0, len(chars)))
            op = data.draw(st.sampled_from(["ins", "del", "swap"]))
            if op == "ins":
                chars.insert(i, data.draw(st.sampled_from(alphabet)))
            elif chars:
                j = min(i, len(chars) - 1)
                if op == "del":
                    del chars[j]
                else:
                    chars[j] = data.draw(st.sampled_from(alphabet))
        text = "".join(chars)
    assert AUTOMATA[name].matches(text.encode("utf-8")) == ok(text), text


def _toy_vocab(seed: int) -> Vocabulary:
    rng = random.Random(seed)
    alpha = list(b'()[]{}+-*/.0123456789,:" abx') + list("é一".encode())
    toks = [bytes([c]) for c in range(256)]  # every byte, as in byte-level BPE
    while len(toks) < 900:
        toks.append(bytes(rng.choice(alpha) for _ in range(rng.randint(2, 6))))
    toks = list(dict.fromkeys(toks))
    return Vocabulary(toks + [None], eos_ids=[len(toks)])


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_masks_equal_brute_force_on_random_walks(name):
    vocab = _toy_vocab(7)
    a = AUTOMATA[name]
    index = TokenIndex(a, vocab)
    rng = random.Random(3)
    for _ in range(25):
        m = Matcher(index)
        for _ in range(20):
            mask = m.mask()
            assert (mask == brute_force_mask(a, vocab, m.state.config)).all()
            assert mask.any(), "a mask is never empty"
            tok = int(rng.choice(np.flatnonzero(mask)))
            assert m.advance(tok)
            if m.is_ended():
                break


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_random_walks_end_in_valid_text(name):
    _, ok, _ = GRAMMARS[name]
    vocab = _toy_vocab(11)
    index = TokenIndex(AUTOMATA[name], vocab)
    eos = next(iter(vocab.eos_ids))
    rng = random.Random(5)
    finished = 0
    for _ in range(200):
        m = Matcher(index)
        out = b""
        for _ in range(40):
            allowed = np.flatnonzero(m.mask())
            # prefer EOS now and then so walks end
            tok = eos if eos in allowed and rng.random() < 0.3 else int(rng.choice(allowed))
            assert m.advance(tok)
            if tok == eos:
                break
            out += vocab.tokens[tok]
        if m.is_ended():
            finished += 1
            assert ok(out.decode("utf-8")), out
        else:
            assert not m.advance(eos) or m.is_accepting()
    assert finished > 20


def test_rejected_tokens_leave_state_unchanged():
    vocab = _toy_vocab(1)
    m = Matcher(TokenIndex(AUTOMATA["brackets"], vocab))
    tok_close = vocab.tokens.index(b")")
    before = m.state
    assert not m.advance(tok_close)
    assert m.state is before
    eos = next(iter(vocab.eos_ids))
    assert m.is_accepting() and m.advance(eos) and m.is_ended()
    assert not m.advance(vocab.tokens.index(b"("))
    assert not m.mask().any()


def test_fork_is_independent():
    vocab = _toy_vocab(2)
    m = Matcher(TokenIndex(AUTOMATA["brackets"], vocab))
    assert m.advance(vocab.tokens.index(b"("))
    f = m.fork()
    assert f.advance(vocab.tokens.index(b")"))
    assert f.is_accepting() and not m.is_accepting()


def test_left_recursion_is_rewritten_and_empty_cycles_are_refused():
    g = Grammar(rules={"start": Alt((Seq((Ref("start"), Text("+"), Text("1"))), Text("1")))})
    a = Automaton(g)
    assert a.matches(b"1") and a.matches(b"1+1+1")
    assert not a.matches(b"1+") and not a.matches(b"+1")
    with pytest.raises(GrammarError, match="derives itself without reading"):
        Automaton(Grammar(rules={"start": Alt((Ref("start"), Text("x")))}))


def test_undefined_rule_and_unproductive_start():
    with pytest.raises(GrammarError, match="undefined"):
        Automaton(Grammar(rules={"start": Ref("nope")}))
    with pytest.raises(GrammarError, match="unproductive"):
        Automaton(Grammar(rules={"start": Seq((Text("a"), Ref("start")))}))


def test_stack_depth_limit():
    a = Automaton(LISTS, Limits(max_stack_depth=10))
    with pytest.raises(LimitError, match="max_stack_depth"):
        a.run(a.initial(), b"[" * 50)


def test_counted_repetition_in_rules_is_not_unrolled():
    g = Grammar(
        rules={
            "start": Seq((Text("<"), Repeat(Ref("item"), 0, 5000), Text(">"))),
            "item": Alt((Text("a"), Seq((Text("("), Ref("item"), Text(")"))))),
        }
    )
    a = Automaton(g)
    assert a.matches(b"<" + b"a" * 5000 + b">")
    assert not a.matches(b"<" + b"a" * 5001 + b">")
    assert a.matches(b"<(a)a((a))>")


_SHORT_TEXTS = ["".join(p) for n in range(5) for p in itertools.product("abcd", repeat=n)]


@pytest.mark.parametrize("other", ["", "|c", "|c+", "|(cd)*"])
@pytest.mark.parametrize("count", ["{0,}", "{1,}", "{2,}", "{1,3}", "?", "+)+", "+)?"])
@pytest.mark.parametrize("inner", ["a", "ab", "[ab]", "a|bc", "(ab)?", "a*b"])
def test_stars_of_stars_are_one_term_reading_the_same(inner, count, other):
    """``(y+)*``, ``(y*)*``, ``(y?)*`` are built as ``y*``, ``(y+|z)*`` as ``(y|z)*``: the
    same language (every text of up to four letters), and after a first ``y`` the same term
    again, as a folded blank prefix ``([ \\t]+)*`` is in front of every terminal after a
    space. Other repeats keep their count."""
    import structgen
    from structgen.automata import terms as T
    from structgen.automata.lower import lower_regex

    nested = count.endswith(")+") or count.endswith(")?")
    pattern = f"(({inner}){count}{other}" if nested else f"({inner}){count}{other}"
    x = lower_regex(structgen.Regex(pattern).to_ir())
    star = T.star(x)
    for text in _SHORT_TEXTS:
        data = text.encode()
        assert T.matches(star, data) == _matches_star(x, data), (pattern, text)
    starred = count in ("{0,}", "{1,}", "{1,3}", "?")
    plain = not other and inner != "(ab)?"  # (((ab)?){2,} is ((ab)?)* already)
    if plain and not nested:
        assert (star is T.star(x.a)) == starred
    if plain and nested:  # ((y+)+)* and ((y+)?)* are y* too (the counts may be one already)
        y = x
        while y.kind == T.K_REP:
            y = y.a
        assert star is T.star(y)
    if starred and not other and inner in ("a", "[ab]"):
        term = T.cat(star, T.literal(b"!"))
        assert T.deriv(term, ord("a")) is term


def _matches_star(x, data: bytes) -> bool:
    """Whether ``data`` splits into pieces that ``x`` matches (a reference for x*)."""
    from structgen.automata import terms as T

    ok = [True] + [False] * len(data)
    for j in range(1, len(data) + 1):
        ok[j] = any(ok[i] and T.matches(x, data[i:j]) for i in range(j))
    return ok[-1]


def test_emptiness_is_decided_by_parts_and_shared_by_every_dfa():
    """Whether a term's language is empty: a concatenation is empty when one part is, an
    alternation when all are, a repeat of at least one when its body is; intersections
    and complements are searched. The answer is kept on the (interned) term, and agrees
    with the DFA built from the term."""
    from structgen.automata import terms as T
    from structgen.automata.dfa import DFA, is_productive

    digits = T.rep(T.byte_range(0x30, 0x39), 1, None)
    word = T.rep(T.byte_range(0x61, 0x7A), 1, None)
    nothing = T.conj(digits, word)  # no text is both
    kw = T.alt_of([T.literal(b"if"), T.literal(b"in")])
    name = T.conj(word, T.neg(kw))  # an identifier that is not a keyword
    cases = {
        T.cat(T.literal(b"/*"), T.cat(word, nothing)): False,
        T.cat(T.literal(b"/*"), T.cat(word, name)): True,
        T.alt_of([T.cat(word, nothing), T.cat(digits, name)]): True,
        T.alt_of([T.cat(word, nothing), T.cat(nothing, digits)]): False,
        T.rep(nothing, 2, 5): False,
        T.rep(name, 2, 5): True,
        T.conj(name, T.literal(b"if")): False,
        T.conj(name, T.literal(b"iff")): True,
    }
    for term, want in cases.items():
        assert term.boolean
        assert is_productive(term) is want, T.to_text(term)
        assert term._prod is want
        assert DFA(term).empty is not want
