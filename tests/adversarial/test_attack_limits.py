"""Attacks on the limits of the regex, Lark grammar, automata and token-index layers.

Each attack runs in a child process (so a hang is a timeout, not a stuck suite, and its
peak memory is its own, see peak_memory) and asserts the structgen error class (or a fast
success), and generous bounds on time and memory that catch a hang or a blow-up.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from peak_memory import SOURCE

import structgen
from structgen.errors import GrammarError, LimitError, RegexError, SpecTypeError, StructgenError

# a child that imports structgen and loads a tokenizer peaks near 320 MB; the attacks
# fixed here grew past 1.6 GB
MAX_RSS_MB = 900

_PRELUDE = """
import json, resource, sys, time
import structgen
from structgen import Limits, assets
from structgen.errors import StructgenError
tok = assets.load_tokenizer("smollm2")

def walk(c, steps):
    # the worst path: the longest allowed token at each step
    m = c.matcher()
    for _ in range(steps):
        ids = [i for i in m.mask().nonzero()[0].tolist() if i not in c.eos_token_ids]
        if not ids:
            break
        m.advance(max(ids, key=lambda i: len(c.vocabulary.tokens[i] or b"")))
    return m

t0 = time.perf_counter()
out = {"error": None}
try:
"""

_POSTLUDE = """
except StructgenError as e:
    out["error"] = type(e).__name__
    out["message"] = str(e)[:300]
out["seconds"] = time.perf_counter() - t0
out["rss_mb"] = peak_bytes() / (1 << 20)
print(json.dumps(out))
"""


def attack(body: str, timeout: float = 60) -> dict:
    """Run ``body`` (indented into a try block, with ``tok`` and ``walk``) in a child."""
    code = SOURCE + _PRELUDE + textwrap.indent(textwrap.dedent(body), "    ") + _POSTLUDE
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the attack ran past {timeout} s (a hang)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["rss_mb"] < MAX_RSS_MB, out
    return out


@pytest.fixture(autouse=True)
def _tokenizer(tokenizers):
    tokenizers["smollm2"]  # skip (or fail under CI) when the tokenizer is not fetched


@pytest.mark.parametrize(
    "pattern",
    [r"((a{1,50}){1,50}){1,50}", r"((\w{1,50}){1,50}){1,50}", r"(a{0,1000}){0,1000}"],
)
def test_nested_counters_stay_small(pattern):
    out = attack(
        f"""
        c = structgen.compile(structgen.Regex({pattern!r}), tok, persist=False)
        m = walk(c, 60)
        assert m.is_accepting()
        """
    )
    assert out["error"] is None, out
    assert out["seconds"] < 20, out


def test_step_bound_stops_an_ambiguous_counter():
    # no collapse applies here: one step's first visit is bounded by max_step_seconds
    out = attack(
        r"""
        lim = Limits(max_step_seconds=2)
        c = structgen.compile(
            structgen.Regex(r"((\w{1,50}a?){1,50}){1,50}"), tok, limits=lim, persist=False
        )
        walk(c, 60)
        """
    )
    assert out["error"] in (None, "LimitError"), out
    assert out["seconds"] < 2 + 2 + 10, out  # compile + one step past its bound


def test_terms_bound_stops_memory():
    out = attack(
        r"""
        lim = Limits(max_terms=20_000, max_step_seconds=60)
        c = structgen.compile(
            structgen.Regex(r"((\w{1,50}a?){1,50}){1,50}"), tok, limits=lim, persist=False
        )
        walk(c, 60)
        """
    )
    assert out["error"] == "LimitError", out
    assert "max_terms" in out["message"], out


def test_lark_rule_with_5000_alternatives():
    out = attack(
        """
        text = "start: " + " | ".join(f'"w{i}"' for i in range(5000)) + "\\n"
        c = structgen.compile(structgen.Grammar(text), tok, persist=False)
        for w in ("w0", "w4999", "w123"):
            m = c.matcher()
            for t in tok.encode(w, add_special_tokens=False):
                assert m.advance(t), w
            assert m.is_accepting(), w
        assert not c.automaton.matches(b"w5000") and not c.automaton.matches(b"w")
        walk(c, 5)
        """
    )
    assert out["error"] is None, out
    assert out["seconds"] < 20, out


def test_lark_5000_chained_rules():
    out = attack(
        """
        text = "start: r0\\n" + "".join(f'r{i}: "x" r{i + 1}\\n' for i in range(5000))
        text += 'r5000: "y"\\n'
        c = structgen.compile(structgen.Grammar(text), tok, persist=False)
        walk(c, 5)
        """
    )
    assert out["error"] is None, out
    assert out["seconds"] < 25, out


def test_compile_deadline_fires_inside_the_work():
    # 6,000 regex terminals (not literals: no trie): seconds of grammar work in structgen
    out = attack(
        """
        lim = Limits(max_compile_seconds=1)
        text = "start: " + " | ".join(f"/w{i}[a-z]*/" for i in range(6000)) + "\\n"
        structgen.Grammar(text, limits=lim)
        """
    )
    assert out["error"] == "LimitError", out
    assert out["seconds"] < 1 + 2, out


@pytest.mark.parametrize(
    "pattern", ["a\ud800", "a\\ud800", "[\udc00]", "x\\U0000dfff", "(?i)\ud800"]
)
def test_lone_surrogate_is_refused_with_its_position(pattern):
    with pytest.raises(RegexError) as e:
        structgen.Regex(pattern)
    assert e.value.pos is not None
    assert "surrogate" in e.value.msg


def test_lone_surrogate_in_a_grammar_literal():
    with pytest.raises(GrammarError, match="surrogate"):
        structgen.Grammar('start: "a" /\\ud800/\n')


def test_deep_regex_groups():
    pattern = "(" * 600 + "a" + ")" * 600
    with pytest.raises(RegexError) as e:
        structgen.Regex(pattern)
    depth = structgen.Limits().max_spec_depth
    assert e.value.pos == depth  # the first group past Limits.max_spec_depth
    assert "max_spec_depth" in e.value.msg
    assert structgen.Regex("(" * (depth - 10) + "a" + ")" * (depth - 10)).to_ir() is not None


def test_deep_grammar_brackets():
    text = "start: " + "(" * 600 + '"a"' + ")" * 600 + "\n"
    with pytest.raises(GrammarError, match="max_spec_depth") as e:
        structgen.Grammar(text)
    depth = structgen.Limits().max_spec_depth
    assert f"line 1, column {len('start: ') + depth + 1}" in str(e.value)
    structgen.Grammar("start: " + "(" * (depth - 10) + '"a"' + ")" * (depth - 10) + "\n")


@pytest.mark.parametrize(
    "build",
    [
        lambda: structgen.Regex(123),
        lambda: structgen.Regex("a", flags="i"),
        lambda: structgen.Grammar(b"start: x"),
        lambda: structgen.Grammar('start: "a"\n', start=3),
    ],
)
def test_wrong_types_are_structgen_errors(build):
    with pytest.raises(StructgenError) as e:
        build()
    assert isinstance(e.value, (SpecTypeError, TypeError))


def test_collapsed_counters_read_what_re_reads():
    """The collapse of directly nested counters keeps the language: every count of
    ``a`` up to the largest the pattern allows, against ``re.fullmatch``."""
    import itertools
    import re

    from structgen.automata import terms as T
    from structgen.automata.lower import lower_regex

    counts = [(0, 0), (0, 1), (1, 1), (0, 3), (1, 3), (2, 3), (2, 2), (3, 5), (0, None), (2, None)]
    for (a, b), (lo, hi) in itertools.product(counts, repeat=2):
        inner = f"a{{{a},{'' if b is None else b}}}"
        pattern = f"({inner}){{{lo},{'' if hi is None else hi}}}"
        term = lower_regex(structgen.Regex(pattern).to_ir())
        for n in range(0, 30):
            want = re.fullmatch(pattern, "a" * n) is not None
            assert T.matches(term, b"a" * n) == want, (pattern, n)


def test_one_spec_exhausting_a_shared_terminal_does_not_poison_the_others():
    """Terminal DFAs are built lazily and shared by every spec with the same terminal (and
    compared across specs). A spec whose walk needs more than max_states of one must get
    its LimitError without leaving the DFA unusable for the next, different spec."""
    lim = structgen.Limits(max_states=120)
    string = {"type": "string", "pattern": "^(a[0-9]{0,150}|b[0-9]{0,50})$"}
    obj = {"type": "object", "properties": {"k": string}, "required": ["k"]}
    tokens = [b"<eos>"] + [bytes([c]) for c in range(32, 127)]
    vocab = structgen.Vocabulary(tokens, eos_ids=[0])

    def feed(schema: dict, value: str) -> bool:
        spec = structgen.JsonSchema(schema, limits=lim)
        m = structgen.compile(spec, vocabulary=vocab, limits=lim).matcher()
        text = json.dumps(value if schema is string else {"k": value})
        for byte in text.encode():
            m.mask()
            if not m.advance(tokens.index(bytes([byte]))):
                return False
        return m.is_accepting()

    with pytest.raises(LimitError, match="max_states"):
        feed(string, "a" + "7" * 150)
    # another spec with the same terminal: its own walk needs about 50 states
    assert feed(obj, "b" + "3" * 50)
    assert not feed(obj, "b" + "3" * 51)
    # and the first spec again, for a text within the bound
    assert feed(string, "a" + "7" * 20)
