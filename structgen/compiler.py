"""compile(spec, tokenizer): the one-call pipeline spec → IR → automaton → TokenIndex."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from .automata.grammar import Automaton
from .errors import LimitError, SpecError
from .index import TokenIndex
from .ir import Grammar
from .limits import DEFAULT_LIMITS, Limits
from .matcher import Matcher

_AUTOMATA: OrderedDict = OrderedDict()
_INDEXES: OrderedDict = OrderedDict()
_MAX_AUTOMATA = 128
_MAX_INDEXES = 16


def _lru_get(d: OrderedDict, key):
    v = d.get(key)
    if v is not None:
        d.move_to_end(key)
    return v


def _lru_put(d: OrderedDict, key, value, cap: int):
    d[key] = value
    while len(d) > cap:
        d.popitem(last=False)
    return value


def to_grammar(spec: Any) -> Grammar:
    """Lower any supported spec to the Grammar IR."""
    if isinstance(spec, Grammar):
        return spec
    if hasattr(spec, "to_grammar"):
        return spec.to_grammar()
    raise SpecError(
        f"cannot compile {type(spec).__name__}: pass structgen.Regex(...), a structgen "
        "JSON Schema / Grammar spec, or an ir.Grammar"
    )


def _spec_key(spec: Any):
    if isinstance(spec, Grammar):
        return ("grammar", spec.to_lark(), spec.start)
    try:
        hash(spec)
    except TypeError:
        return ("grammar", to_grammar(spec).to_lark())
    return spec


def compile_automaton(spec: Any, limits: Limits = DEFAULT_LIMITS) -> Automaton:
    key = (_spec_key(spec), limits)
    a = _lru_get(_AUTOMATA, key)
    if a is None:
        t0 = time.perf_counter()
        a = Automaton(to_grammar(spec), limits)
        if time.perf_counter() - t0 > limits.max_compile_seconds:
            raise LimitError("compile exceeded Limits.max_compile_seconds")
        _lru_put(_AUTOMATA, key, a, _MAX_AUTOMATA)
    return a


class Compiled:
    """A spec compiled for one vocabulary. ``matcher()`` starts a new sequence."""

    def __init__(self, spec: Any, index: TokenIndex):
        self.spec = spec
        self.index = index
        self.vocabulary = index.vocab
        self.automaton = index.automaton

    @property
    def grammar(self) -> Grammar:
        return self.automaton.grammar

    @property
    def vocab_size(self) -> int:
        return self.index.size

    @property
    def eos_token_ids(self) -> frozenset:
        return self.vocabulary.eos_ids

    def matcher(self) -> Matcher:
        return Matcher(self.index)

    def __repr__(self) -> str:
        return f"Compiled({self.spec!r}, vocab_size={self.vocab_size})"


def compile(  # noqa: A001 - the public name mirrors re.compile
    spec: Any,
    tokenizer: Any = None,
    vocab_size: int | None = None,
    *,
    vocabulary: Any = None,
    eos_token_id: int | list[int] | None = None,
    limits: Limits | None = None,
) -> Compiled:
    """Compile ``spec`` for ``tokenizer`` (or an explicit ``vocabulary``).

    ``vocab_size`` is the model's logits width (``model.config.vocab_size``); it defaults
    to the tokenizer's size. Results are cached per (spec, vocabulary, limits).
    """
    from .vocab import Vocabulary

    limits = limits or DEFAULT_LIMITS
    if vocabulary is None:
        if tokenizer is None:
            raise TypeError("compile() needs a tokenizer or a vocabulary")
        vocabulary = Vocabulary.from_tokenizer(
            tokenizer, vocab_size=vocab_size, eos_token_id=eos_token_id
        )
    key = (_spec_key(spec), vocabulary.fingerprint, limits)
    index = _lru_get(_INDEXES, key)
    if index is None:
        automaton = compile_automaton(spec, limits)
        index = _lru_put(_INDEXES, key, TokenIndex(automaton, vocabulary, limits), _MAX_INDEXES)
    return Compiled(spec, index)
