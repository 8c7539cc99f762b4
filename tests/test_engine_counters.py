"""Long bounded repeats: the per-token walks of counter states are shared between states
whose counts differ (see ``terms.capped``); masks must stay exact at every count, in
particular where a token crosses the lower or upper bound of the count.

* on synthetic vocabularies (hypothesis): masks equal a brute-force walk of every token;
* on real tokenizers: masks agree with an independent reference written with ``re``, for
  a sample of tokens that includes the longest ones and those with the longest runs;
* the emptiness check of intersections (``&``) stays exact on an email-like format
  intersected with a length bound.
"""

from __future__ import annotations

import random
import re
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from walks_for_tests import brute_walk, exit_set

import structgen
from structgen import assets
from structgen import index as index_mod
from structgen.automata import Automaton, terms
from structgen.automata.dfa import DFA
from structgen.automata.lower import lower_regex
from structgen.index import TokenIndex, lex_info, vocab_arrays
from structgen.ir import Alt, And, Bytes, Chars, Grammar, Not, Repeat, Seq, Text
from structgen.matcher import Matcher
from structgen.testing import brute_force_mask
from structgen.vocab import Vocabulary

ANY = Repeat(Bytes(((0, 255),)), 0, None)


# ---- synthetic vocabularies -------------------------------------------------------------------

_ALPHA = b"ab-c."


@st.composite
def toy_vocabs(draw) -> Vocabulary:
    """Every byte of the alphabet, random short tokens, and runs of one or two bytes long
    enough to be exceptional (more than the 32 longest runs)."""
    toks = [bytes([c]) for c in _ALPHA]
    n_random = draw(st.integers(20, 120))
    toks += draw(
        st.lists(
            st.binary(min_size=2, max_size=8).map(lambda b: bytes(_ALPHA[x % 5] for x in b)),
            min_size=n_random,
            max_size=n_random,
        )
    )
    runs = draw(
        st.lists(
            st.tuples(st.sampled_from([b"a", b"b", b"ab", b"-", b"c"]), st.integers(2, 30)),
            min_size=0,
            max_size=60,
        )
    )
    toks += [(unit * n)[: n + 1] for unit, n in runs]
    toks += [b"x" + b"a" * n for n in draw(st.lists(st.integers(1, 25), max_size=10))]
    toks = list(dict.fromkeys(toks))
    return Vocabulary(toks + [None], eos_ids=[len(toks)])


def _patterns(lo: int, hi: int, lo2: int, hi2: int):
    ab = Chars(((ord("a"), ord("b")),))
    return [
        Repeat(ab, lo, hi),
        Seq((Repeat(ab, lo, hi), Text("-"), Repeat(Text("ab"), lo2, hi2))),
        Repeat(Alt((Text("a"), Seq((Text("b"), Repeat(Text("a"), 0, 3))))), lo, hi),
        Seq(
            (
                Repeat(Seq((Repeat(ab, 1, hi2 + 1), Text("."))), lo2, hi2),
                Repeat(Chars(((ord("a"), ord("c")),)), lo, hi),
            )
        ),
        And((Repeat(Chars(((ord("a"), ord("c")),)), lo, hi), Not(Seq((ANY, Text("cc"), ANY))))),
        Seq(
            (
                Repeat(Text("-"), lo2, hi2),
                And((Repeat(ab, lo, hi), Not(Seq((ANY, Text("bbb"), ANY))))),
            )
        ),
        Alt((Repeat(ab, lo, hi), Seq((Repeat(ab, lo2, hi2), Text("c"))))),
    ]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    vocab=toy_vocabs(),
    which=st.integers(0, 6),
    lo=st.integers(0, 6),
    span=st.integers(0, 60),
    lo2=st.integers(0, 3),
    span2=st.integers(0, 40),
    seed=st.integers(0, 2**16),
)
def test_counter_masks_equal_brute_force(vocab, which, lo, span, lo2, span2, seed):
    expr = _patterns(lo, lo + span, lo2, lo2 + span2)[which]
    a = Automaton(Grammar(rules={"start": expr}))
    index = TokenIndex(a, vocab)
    rng = random.Random(seed)
    eos = next(iter(vocab.eos_ids))
    for _ in range(4):
        m = Matcher(index)
        for _ in range(40):
            mask = m.mask()
            want = brute_force_mask(a, vocab, m.state.config)
            assert (mask == want).all(), repr((vocab.tokens, np.flatnonzero(mask != want)))
            allowed = np.flatnonzero(mask)
            if not allowed.size:
                break
            if rng.random() < 0.6:  # long tokens run the counts down to their bounds
                tok = int(max(allowed, key=lambda i: (len(vocab.tokens[i] or b""), rng.random())))
            else:
                tok = int(rng.choice(allowed))
            assert m.advance(tok)
            if tok == eos:
                break


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    vocab=toy_vocabs(),
    which=st.integers(0, 6),
    lo=st.integers(0, 6),
    span=st.integers(0, 60),
    lo2=st.integers(0, 3),
    span2=st.integers(0, 40),
    path=st.binary(max_size=12),
    ratio=st.sampled_from([0, 30, 10**9]),
)
def test_lex_info_with_and_without_exits(vocab, which, lo, span, lo2, span2, path, ratio):
    """Walks asked without exits (nothing follows the terminal) and later with them, on
    the same cache, both vectorised and token by token: equal to a brute-force walk."""
    term = lower_regex(_patterns(lo, lo + span, lo2, lo2 + span2)[which])
    dfa = DFA(term)
    va = vocab_arrays(vocab)
    saved = index_mod._SCALAR_RATIO
    index_mod._SCALAR_RATIO = ratio
    try:
        q = dfa.start
        for c in path:
            nq = dfa.step(q, _ALPHA[c % len(_ALPHA)])
            if not nq:
                break
            q = nq
        inside, want_exits = brute_walk(dfa, q, va)
        want_inside = {int(va.ids[p]) for p in inside}
        for exits in (False, True):
            info = lex_info(dfa, q, va, exits=exits)
            assert set(np.flatnonzero(info.inside).tolist()) == want_inside
            if exits:
                assert exit_set(info) == want_exits
    finally:
        index_mod._SCALAR_RATIO = saved


def test_capped_keeps_counts_under_intersection_and_complement():
    t = lower_regex(And((Repeat(Chars(((97, 98),)), 0, 500), Not(Seq((ANY, Text("bb"), ANY))))))
    key, alphas = terms.capped(t, lambda alpha: 3, {})
    assert key is t and not alphas
    r = lower_regex(Seq((Repeat(Chars(((97, 98),)), 2, 500), Text("-"), Repeat(Text("ab"), 0, 2))))
    key, alphas = terms.capped(r, lambda alpha: 3, {})
    assert terms.to_text(key) == "([2 bytes]){2,3}-(ab){0,2}"
    assert alphas == {0b11 << 97}


# ---- real tokenizers -------------------------------------------------------------------------


def _utf8_prefixes(pred) -> set[bytes]:
    out = set()
    for cp in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if pred(c):
            b = c.encode()
            for k in range(1, len(b)):
                out.add(b[:k])
    return out


_W_PREFIXES: set[bytes] | None = None


def _w_viable(data: bytes, hi: int) -> tuple[bool, bool]:
    """(viable, complete) for ``\\w{1,hi}`` (Unicode), independently of structgen."""
    global _W_PREFIXES
    if _W_PREFIXES is None:
        _W_PREFIXES = _utf8_prefixes(lambda c: re.fullmatch(r"\w", c) is not None)
    for k in range(4):
        head, tail = data[: len(data) - k], data[len(data) - k :]
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if k and tail not in _W_PREFIXES:
            return False, False
        n = len(text) + (1 if k else 0)
        ok = re.fullmatch(r"\w*", text) is not None and n <= hi
        return ok, ok and not k and 1 <= n
    return False, False


def _re_viable(viable: str, complete: str):
    v, c = re.compile(viable.encode()), re.compile(complete.encode())

    def check(data: bytes) -> tuple[bool, bool]:
        return v.fullmatch(data) is not None, c.fullmatch(data) is not None

    return check


EMAIL_LOCAL = r"[a-zA-Z0-9._%+-]"
COUNTERS = {
    "az": (r"[a-z]{3,300}", _re_viable(r"[a-z]{0,300}", r"[a-z]{3,300}")),
    "ab": (r"(ab){2,200}", _re_viable(r"(ab){0,200}|(ab){0,199}a", r"(ab){2,200}")),
    "w": (r"\w{1,500}", lambda data: _w_viable(data, 500)),
    "email": (
        EMAIL_LOCAL + r"{1,64}@[a-z]{2,8}",
        _re_viable(
            EMAIL_LOCAL + r"{0,64}|" + EMAIL_LOCAL + r"{1,64}@[a-z]{0,8}",
            EMAIL_LOCAL + r"{1,64}@[a-z]{2,8}",
        ),
    ),
}


def _sample(vocab: Vocabulary, rng: random.Random) -> np.ndarray:
    """Token ids to check at every state: the 400 longest tokens, the 300 with the longest
    runs of one byte, and a random sample."""
    va = vocab_arrays(vocab)
    longest = va.ids[:400]
    runs = []
    for i in va.ids[:20000].tolist():
        b = vocab.tokens[i]
        best = cur = 1
        for x, y in zip(b, b[1:], strict=False):
            cur = cur + 1 if x == y else 1
            best = max(best, cur)
        runs.append((best, i))
    runs.sort(reverse=True)
    rand = rng.sample(range(vocab.size), min(vocab.size, 2500))
    return np.unique(np.concatenate([longest, [i for _, i in runs[:300]], rand]))


@pytest.mark.parametrize("name", ["smollm2", "llama3"])
@pytest.mark.parametrize("which", sorted(COUNTERS))
def test_counter_masks_on_real_tokenizers(tokenizers, name, which):
    pattern, reference = COUNTERS[which]
    tok = tokenizers[name]
    compiled = structgen.compile(
        structgen.Regex(pattern), tok, vocab_size=assets.MODEL_VOCAB_SIZE[name]
    )
    vocab = compiled.vocabulary
    rng = random.Random(f"{name}-{which}")
    sample = _sample(vocab, rng)
    eos = sorted(vocab.eos_ids)
    for walk in range(3):
        m = compiled.matcher()
        text = b""
        for _ in range(200):
            mask = m.mask()
            allowed = np.flatnonzero(mask)
            check = np.union1d(sample, rng.sample(allowed.tolist(), min(allowed.size, 1500)))
            for i in check.tolist():
                t = vocab.tokens[i] if i < len(vocab.tokens) else None
                if t is None:
                    continue
                ok, _ = reference(text + t)
                assert mask[i] == ok, (which, text, t)
            complete = reference(text)[1]
            assert m.is_accepting() == complete, (which, text)
            assert bool(mask[eos[0]]) == complete
            non_eos = [i for i in allowed.tolist() if i not in vocab.eos_ids]
            if not non_eos:
                break
            if walk < 2:  # the longest tokens drive the count to its bound
                best = max(len(vocab.tokens[i]) for i in non_eos)
                tok_id = rng.choice([i for i in non_eos if len(vocab.tokens[i]) == best])
            else:
                tok_id = rng.choice(non_eos)
            assert m.advance(tok_id)
            text += vocab.tokens[tok_id]


# ---- emptiness of intersections ------------------------------------------------------------------

EMAIL = r"[a-zA-Z0-9._%+-]{1,64}@[a-zA-Z0-9-]{1,63}(\.[a-zA-Z0-9-]{1,63}){0,4}\.[a-zA-Z]{2,12}"


def test_intersection_with_length_bound_is_exact():
    email = structgen.Regex(EMAIL).to_ir()
    bound = Repeat(Chars(((0, 0x10FFFF),)), 0, 1024)
    dfa = DFA(lower_regex(And((email, bound))), nonempty=True)
    rx = re.compile(EMAIL)
    rng = random.Random(1)
    texts = [
        "a@b.cd",
        "john.smith@example.com",
        "a@b",
        "@b.cd",
        "a" * 64 + "@b.cd",
        "a" * 65 + "@b.cd",
    ]
    texts += ["x@" + ".".join(["d" * 63] * 5) + ".com", "x@" + ".".join(["d" * 63] * 6) + ".com"]
    for _ in range(200):
        texts.append("".join(rng.choice("ab.@-Z9") for _ in range(rng.randint(1, 14))))
    for t in texts:
        want = rx.fullmatch(t) is not None and len(t) <= 1024
        assert dfa.matches(t.encode()) == want, t
    # a state that can still complete is live; one that cannot (too long) is dead
    s = dfa.run(b"x@" + b"d" * 60)
    assert s and not dfa.accepting[s]
    assert dfa.run(b"x@" + b".".join([b"d" * 63] * 5) + b".") != 0
    long_ok = b"x@" + b".".join([b"d" * 63] * 5) + b".c"
    assert len(long_ok) < 1024 and dfa.run(long_ok) != 0
    tight = Repeat(Chars(((0, 0x10FFFF),)), 0, 8)
    d2 = DFA(lower_regex(And((email, tight))), nonempty=True)
    assert d2.run(b"abc@de.") == 0  # needs two more letters: 9 > 8
    assert d2.run(b"abc@d.") != 0 and d2.matches(b"abc@d.ef")
