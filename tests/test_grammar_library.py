"""The shipped grammar library: every grammar against Lark's own Earley parser, on real
tokenizers.

* random derivations (from Lark's compiled BNF) are accepted token by token, each token
  being in the mask, and leave the matcher accepting;
* random mutations are accepted exactly when Lark parses them (both directions);
* random walks through the mask, completed by the shortest completion, parse with Lark.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lark_derivations import derivations, mutate, shortest_completion

import structgen
from structgen import Grammar
from structgen.compiler import compile_automaton
from structgen.testing import token_ids_for_text

GRAMMARS = ["arithmetic", "csv", "json", "minic", "python_expr", "sql"]
TOKENIZERS = ["smollm2", "llama3", "llama2"]
SAMPLES = Path(__file__).resolve().parent.parent / "grammars" / "samples"
_SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def test_builtin_names_list_the_library():
    assert set(GRAMMARS) <= set(Grammar.builtin_names())
    with pytest.raises(structgen.GrammarError, match="no built-in grammar named 'nope'"):
        Grammar.builtin("nope")


@pytest.mark.parametrize("name", GRAMMARS)
def test_samples_parse_with_lark_and_structgen(name):
    g = Grammar.builtin(name)
    d = derivations(name)
    samples = sorted(SAMPLES.glob(f"{name}_*.txt"))
    assert samples, f"no sample for {name}"
    a = compile_automaton(g)
    for path in samples:
        text = path.read_text(encoding="utf-8")
        assert d.lark_accepts(text), path
        assert a.matches(text.encode()), g.explain(text)
        assert g.explain(text) == "accepted"


# the most parses that expect one terminal in one state at once, along the samples: the
# work per token grows with them (see the grammar guide, "Writing a grammar that stays
# fast"); python_expr had 6 before its arguments and dict items were one parse each
_MOST_PARSES = {"arithmetic": 1, "csv": 2, "json": 1, "minic": 3, "python_expr": 2, "sql": 4}


@pytest.mark.parametrize("name", GRAMMARS)
def test_alternatives_that_begin_alike_stay_one_parse(name):
    automaton = compile_automaton(Grammar.builtin(name))
    most = 0
    for path in sorted(SAMPLES.glob(f"{name}_*.txt")):
        config = automaton.initial()
        for b in path.read_bytes():
            config = automaton.step(config, b)
            per_state = Counter((t, q) for t, q, _ in config if t >= 0)
            most = max(most, max(per_state.values(), default=0))
    assert most <= _MOST_PARSES[name]


@pytest.mark.parametrize("name", GRAMMARS)
def test_builtin_lowers_to_the_ir(name):
    g = Grammar.builtin(name)
    ir_grammar = g.to_grammar()
    assert isinstance(ir_grammar, structgen.ir.Grammar)
    assert ir_grammar.longest_match
    assert g.to_lark() == g.text
    assert Grammar.builtin(name) == g and hash(Grammar.builtin(name)) == hash(g)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("name", GRAMMARS)
def test_derived_texts_are_accepted_token_by_token(name, tok_name, tokenizers):
    tok = tokenizers[tok_name]
    compiled = structgen.compile(Grammar.builtin(name), tok)
    d = derivations(name)

    @settings(max_examples=6, **_SETTINGS)
    @given(st.data())
    def check(data):
        text = d.sentence(data)
        try:
            ids = token_ids_for_text(tok, text)
        except ValueError:  # characters this tokenizer normalises
            assume(False)
        m = compiled.matcher()
        for k, t in enumerate(ids):
            assert m.mask()[t], f"token {k} of {text!r} is masked out"
            assert m.advance(t), f"token {k} of {text!r} was refused"
        assert m.is_accepting(), f"{text!r} left the matcher incomplete"
        assert m.mask()[sorted(compiled.eos_token_ids)[0]]

    check()


@pytest.mark.parametrize("name", GRAMMARS)
def test_mutations_are_accepted_exactly_when_lark_parses_them(name, tokenizers):
    d = derivations(name)
    g = Grammar.builtin(name)
    a = compile_automaton(g)
    tok = tokenizers["smollm2"]
    compiled = structgen.compile(g, tok)

    @settings(max_examples=40, **_SETTINGS)
    @given(st.data())
    def check(data):
        text = mutate(data, d.sentence(data))
        lark_ok = d.lark_accepts(text)
        assert a.matches(text.encode()) == lark_ok, (text, lark_ok, g.explain(text))
        if lark_ok:
            return
        # token level: some token is refused (and masked out), or the end is not accepting
        m = compiled.matcher()
        for t in token_ids_for_text(tok, text):
            if not m.advance(t):
                assert not m.mask()[t]
                return
        assert not m.is_accepting()

    check()


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("name", GRAMMARS)
def test_random_walks_through_the_mask_parse_with_lark(name, tok_name, tokenizers):
    g = Grammar.builtin(name)
    compiled = structgen.compile(g, tokenizers[tok_name])
    a = compile_automaton(g)
    d = derivations(name)
    vocab = compiled.vocabulary
    eos = compiled.eos_token_ids
    for seed in range(3):
        rng = random.Random(seed)
        m = compiled.matcher()
        data = b""
        for step in range(24):
            allowed = np.flatnonzero(m.mask())
            assert allowed.size, f"dead end after {data!r}"
            if m.is_accepting() and rng.random() < 0.15 + step / 40:
                break
            choice = [int(t) for t in allowed if int(t) not in eos]
            if not choice:
                break
            t = rng.choice(choice)
            assert m.advance(t)
            data += vocab.tokens[t]
        config = m.state.config
        rest = shortest_completion(a, config)
        assert rest is not None, f"no completion found after {data!r}"
        text = (data + rest).decode("utf-8")
        assert d.lark_accepts(text), f"walk produced {text!r}, which Lark rejects"


def test_the_wheel_ships_every_subpackage_and_the_grammar_library():
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parent.parent
    conf = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    listed = set(conf["packages"])
    found = {
        ".".join(p.parent.relative_to(root).parts)
        for p in (root / "structgen").rglob("__init__.py")
    }
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
    assert conf["package-dir"]["structgen.grammars"] == "grammars"
    shipped = {p.stem for p in (root / "grammars").glob("*.lark")}
    assert set(GRAMMARS) <= shipped
    assert "*.lark" in conf["package-data"]["structgen.grammars"]
