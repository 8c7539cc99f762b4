"""compile(spec, tokenizer): the one-call pipeline spec → IR → automaton → TokenIndex."""

from __future__ import annotations

import numbers
from collections import OrderedDict
from typing import Any

from . import diskcache
from .automata.grammar import Automaton
from .cache import ENGINE_LOCK, locked
from .deadline import deadline
from .errors import ArgumentTypeError, LimitError, SpecError
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


def _is_spec(spec: Any) -> bool:
    return isinstance(spec, Grammar) or (hasattr(spec, "to_grammar") and not isinstance(spec, type))


def as_spec(spec: Any) -> Any:
    """``spec`` itself when it lowers to the IR (``ir.Grammar``, ``to_grammar()``), else
    the spec of the output type ``generate()`` takes (a pydantic model, a Python type such
    as ``list[int]`` or ``Literal[...]``, a JSON Schema dict; see
    :func:`structgen.types.output_spec`)."""
    if _is_spec(spec):
        return spec
    from .types import Output, output_spec

    if isinstance(spec, Output):
        return spec.spec
    try:
        return output_spec(spec).spec
    except SpecError as e:
        raise SpecError(
            f"cannot compile {spec!r}: pass structgen.Regex(...), structgen.JsonSchema(...), "
            f"structgen.Grammar(...), an ir.Grammar, or an output type ({e})"
        ) from None


def to_grammar(spec: Any) -> Grammar:
    """Lower any supported spec (or output type, see :func:`as_spec`) to the Grammar IR."""
    spec = as_spec(spec)
    if isinstance(spec, Grammar):
        return spec
    return spec.to_grammar()


def _spec_key(spec: Any):
    if isinstance(spec, Grammar):
        # the printed text carries rules, terminals and %ignore; not the lexing mode
        return ("grammar", spec.to_lark(), spec.start, spec.longest_match)
    try:
        hash(spec)
    except TypeError:
        g = to_grammar(spec)
        return ("grammar", g.to_lark(), g.start, g.longest_match)
    return spec


@locked
def compile_automaton(spec: Any, limits: Limits = DEFAULT_LIMITS) -> Automaton:
    spec = as_spec(spec)
    with deadline(limits.max_compile_seconds, "compiling the spec (Limits.max_compile_seconds)"):
        key = (_spec_key(spec), limits)
        a = _lru_get(_AUTOMATA, key)
        if a is None or a.retired:
            a = _guarded(lambda: Automaton(to_grammar(spec), limits))
            _lru_put(_AUTOMATA, key, a, _MAX_AUTOMATA)
    return a


def _guarded(build):
    """``build()``, with a recursion that a deeply nested spec drove past Python's limit
    reported as a structgen error (the front ends bound nesting by
    ``Limits.max_spec_depth``; this is the backstop for IR built by hand)."""
    try:
        return build()
    except RecursionError:
        raise LimitError("the spec is nested too deeply to compile") from None


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

    def save(self) -> bool:
        """Store the masks computed so far in the disk cache (so the next process that
        compiles the same grammar for the same vocabulary starts with them)."""
        with ENGINE_LOCK:
            return diskcache.save_compiled(self)

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
    persist: bool = True,
) -> Compiled:
    """Compile ``spec`` for ``tokenizer`` (or an explicit ``vocabulary``).

    ``spec`` is a :class:`~structgen.Regex`, :class:`~structgen.JsonSchema`,
    :class:`~structgen.Grammar` or ``ir.Grammar``, or anything :func:`structgen.generate`
    takes as an output type: a pydantic model, a dataclass, a Python type (``list[int]``,
    ``Literal["yes", "no"]``), a JSON Schema ``dict`` (compiled with ``JsonSchema``'s
    defaults).

    ``vocab_size`` is the model's logits width (``model.config.vocab_size``); it defaults
    to the tokenizer's size. Results are cached per (spec, vocabulary, limits) in memory,
    and on disk (the vocabulary and the masks computed so far, see
    :mod:`structgen.diskcache`) unless ``persist=False`` or the disk cache is disabled;
    :meth:`Compiled.save` stores the masks a generation has computed.
    """
    limits = limits or DEFAULT_LIMITS
    spec = as_spec(spec)
    if vocabulary is None:
        if tokenizer is None:
            raise ArgumentTypeError("compile() needs a tokenizer or a vocabulary")
        vocabulary = _vocabulary(tokenizer, vocab_size, eos_token_id)
    key = (_spec_key(spec), vocabulary.fingerprint, limits)
    # the automata, DFAs and indexes are shared (see structgen.cache); one phase holds the
    # lowering, the automaton, and the index with the initial state's mask
    with (
        ENGINE_LOCK,
        deadline(limits.max_compile_seconds, "compiling the spec (Limits.max_compile_seconds)"),
    ):
        index = _lru_get(_INDEXES, key)
        if index is None or index.automaton.retired:
            automaton = compile_automaton(spec, limits)
            index = _guarded(lambda: TokenIndex(automaton, vocabulary, limits))
            index = _lru_put(_INDEXES, key, index, _MAX_INDEXES)
            compiled = Compiled(spec, index)
            if persist:
                diskcache.load_masks(compiled)
        else:
            compiled = Compiled(spec, index)
        _bound_indexes(limits.max_cache_bytes)
    return compiled


def _bound_indexes(max_bytes: int) -> None:
    """Drop the least recently compiled indexes while the masks they hold add up to more
    than ``max_bytes`` (indexes grow as generation visits new states, so this is checked
    at every compile; the most recent one always stays)."""
    total = sum(ix.cache_bytes() for ix in _INDEXES.values())
    while total > max_bytes and len(_INDEXES) > 1:
        _, old = _INDEXES.popitem(last=False)
        total -= old.cache_bytes()


def _vocabulary(tokenizer: Any, vocab_size: int | None, eos_token_id: Any):
    """Vocabulary.from_tokenizer, backed by the disk cache (see structgen.diskcache)."""
    from . import vocab as V

    # the same in-process key as Vocabulary.from_tokenizer: a hit there costs nothing
    eos = eos_token_id if eos_token_id is not None else getattr(tokenizer, "eos_token_id", None)
    if eos is None:
        eos_t: tuple[int, ...] = ()
    elif isinstance(eos, numbers.Integral):
        eos_t = (int(eos),)
    else:
        eos_t = tuple(sorted({int(e) for e in eos}))
    try:
        n = len(tokenizer)
    except TypeError:
        n = None
    size = n if vocab_size is None else vocab_size
    if size is not None:
        hit = V._cache_get((id(tokenizer), n, int(size), eos_t), tokenizer)
        if hit is not None:
            return hit
        cached = diskcache.load_vocabulary(tokenizer, size, eos_t)
        if cached is not None:
            V._cache_put((id(tokenizer), n, int(size), eos_t), tokenizer, cached)
            return cached
    vocabulary = V.Vocabulary.from_tokenizer(
        tokenizer, vocab_size=vocab_size, eos_token_id=eos_token_id
    )
    if size is not None:
        diskcache.save_vocabulary(tokenizer, size, eos_t, vocabulary)
    return vocabulary
