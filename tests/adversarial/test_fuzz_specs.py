"""Fuzz the regex and Lark front ends, the automata and the token index: whatever the
spec text, only structgen errors come out, and each example stays within small limits."""

from __future__ import annotations

import functools
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import structgen
from structgen import Limits
from structgen.errors import StructgenError
from structgen.ir import Grammar as IRGrammar

LIMITS = Limits(
    max_compile_seconds=2,
    max_step_seconds=1,
    max_states=5_000,
    max_terms=50_000,
    max_regex_size=20_000,
)
# compiling, then three steps, each under its bound; the slack covers what runs between
# the checks (a vectorised walk, Lark's loader)
BOUND = LIMITS.max_compile_seconds + 3 * LIMITS.max_step_seconds + 3

_REGEX_PIECES = [
    *"ab.|*+?()[]{}^$-,\\",
    "a{2,5}",
    "{0,1000}",
    "{1,50}",
    "(?:",
    "(?i)",
    "(?x)",
    "(?=",
    "(?!",
    "(?<=",
    "(?P<n>",
    "(?P=n)",
    "\\1",
    "\\b",
    "\\d",
    "\\w",
    "\\s",
    "\\W",
    "\\ud800",
    "\\U0001f600",
    "\\x00",
    "\\N{SNOWMAN}",
    "[^",
    "[a-z]",
    "\ud800",
    "é",
    "\U0001f600",
    "#",
    "\n",
    "*?",
    "++",
    "(?>",
    "(?(1)a|b)",
    "\\Z",
    "\\A",
    "&",
    "~",
]

_ATOMS = ["a", "b", "ab", "[a-c]", "\\w", "\\d", ".", "\\s", "é", "[^a]", "\\ud800"]
_QUANTS = ["*", "+", "?", "{3}", "{0,1000}", "{1,50}", "{2,5}", "*?", "{,7}", ""]


def _structured(children):
    return st.one_of(
        st.tuples(children, children).map("".join),
        st.tuples(children, children).map("|".join),
        st.tuples(children, st.sampled_from(_QUANTS)).map(lambda t: f"({t[0]}){t[1]}"),
    )


# pieces glued at random (mostly invalid), and well-formed nestings (mostly valid:
# counters inside counters, alternations under repeats)
regexes = st.one_of(
    st.lists(st.sampled_from(_REGEX_PIECES), max_size=14).map("".join),
    st.recursive(st.sampled_from(_ATOMS), _structured, max_leaves=12),
)


@functools.lru_cache(maxsize=1)
def _seeds() -> tuple[str, ...]:
    seeds = [structgen.Grammar.builtin(n).text for n in structgen.Grammar.builtin_names()]
    try:
        from tests.grammars_for_tests import GRAMMARS
    except ImportError:  # (tests is not a package here)
        from grammars_for_tests import GRAMMARS
    for entry in GRAMMARS.values():
        seeds += [g.to_lark() for g in entry if isinstance(g, IRGrammar)]
    return tuple(seeds)


_LARK_PIECES = [
    "(",
    ")",
    "[",
    "]",
    "|",
    "*",
    "+",
    "?",
    "~ 3",
    "~ 2..5",
    ":",
    "\n",
    '"x"',
    "/a+/",
    "/(?!if)\\w+/",
    '"\\ud800"',
    "start",
    "rule",
    "RULE",
    "%ignore ",
    "%import common.WS",
    "%declare X",
    "->",
    ".",
    "..",
    "_",
    "?",
    "!",
    "{",
    "}",
    "/[/",
    '"',
    "//",
    "\\",
]


@st.composite
def lark_texts(draw) -> str:
    seeds = _seeds()
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 40)))
        op = draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(st.sampled_from(_LARK_PIECES)) + text[i:]
        else:
            text = text[:j] + text[i:j] * draw(st.integers(1, 30)) + text[j:]
    return text


def _exercise(build, tok) -> None:
    """Build and compile the spec, then take three steps on the longest allowed tokens;
    anything but a structgen error fails."""
    t0 = time.perf_counter()
    try:
        spec = build()
        c = structgen.compile(spec, tok, limits=LIMITS, persist=False)
        m = c.matcher()
        for _ in range(3):
            ids = [i for i in m.mask().nonzero()[0].tolist() if i not in c.eos_token_ids]
            if not ids:
                break
            assert m.advance(max(ids, key=lambda i: len(c.vocabulary.tokens[i] or b"")))
    except StructgenError:
        pass
    assert time.perf_counter() - t0 < BOUND


@pytest.fixture(scope="module")
def tok(tokenizers):
    return tokenizers["smollm2"]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(pattern=regexes, flags=st.sampled_from([0, 2, 8, 64, 256, 4, 16, 1 << 20]))
def test_regex_text(tok, pattern, flags):
    _exercise(lambda: structgen.Regex(pattern, flags, limits=LIMITS), tok)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=lark_texts())
def test_lark_text(tok, text):
    _exercise(lambda: structgen.Grammar(text, limits=LIMITS), tok)
