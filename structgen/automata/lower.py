"""Lower IR regular expressions (terminals) to byte-level terms; Unicode as UTF-8."""

from __future__ import annotations

from ..errors import GrammarError
from ..ir import Alt, And, Bytes, Chars, Expr, Not, Ref, Repeat, Seq, Text
from . import terms as T

_SURROGATES = (0xD800, 0xDFFF)
_BOUNDS = (0x7F, 0x7FF, 0xFFFF, 0x10FFFF)


def _split_surrogates(lo: int, hi: int):
    if hi < _SURROGATES[0] or lo > _SURROGATES[1]:
        yield lo, hi
        return
    if lo < _SURROGATES[0]:
        yield lo, _SURROGATES[0] - 1
    if hi > _SURROGATES[1]:
        yield _SURROGATES[1] + 1, hi


def _encode(cp: int) -> bytes:
    return chr(cp).encode("utf-8")


def _utf8_split(lo: int, hi: int, out: list) -> None:
    # split by encoded length
    for bound in _BOUNDS:
        if lo <= bound < hi:
            _utf8_split(lo, bound, out)
            _utf8_split(bound + 1, hi, out)
            return
    if hi <= 0x7F:
        out.append(((lo, hi),))
        return
    n = len(_encode(lo))
    for i in range(1, n):
        m = (1 << (6 * i)) - 1
        if (lo & ~m) != (hi & ~m):
            if lo & m:
                _utf8_split(lo, lo | m, out)
                _utf8_split((lo | m) + 1, hi, out)
                return
            if (hi & m) != m:
                _utf8_split(lo, (hi & ~m) - 1, out)
                _utf8_split(hi & ~m, hi, out)
                return
    a, b = _encode(lo), _encode(hi)
    out.append(tuple(zip(a, b, strict=True)))


def utf8_sequences(ranges) -> list[tuple[tuple[int, int], ...]]:
    """Byte-range sequences whose union is exactly the UTF-8 encodings of ``ranges``."""
    out: list = []
    for lo, hi in ranges:
        lo, hi = max(lo, 0), min(hi, 0x10FFFF)
        for a, b in _split_surrogates(lo, hi):
            if a <= b:
                _utf8_split(a, b, out)
    return out


def _factor(seqs) -> T.Term:
    groups: dict[tuple[int, int], list] = {}
    ends = False
    for s in seqs:
        if not s:
            ends = True
            continue
        groups.setdefault(s[0], []).append(s[1:])
    alts = [T.cat(T.byte_range(lo, hi), _factor(rest)) for (lo, hi), rest in groups.items()]
    if ends:
        alts.append(T.EPS)
    return T.alt_of(alts)


def chars_term(ranges) -> T.Term:
    return _factor(utf8_sequences(ranges))


class TerminalLowering:
    """Lowers IR expressions to terms, resolving named terminals (cycles are errors)."""

    def __init__(self, terminals: dict[str, Expr] | None = None):
        self.terminals = terminals or {}
        self._done: dict[str, T.Term] = {}
        self._busy: set[str] = set()
        self._memo: dict[int, T.Term] = {}

    def named(self, name: str) -> T.Term:
        t = self._done.get(name)
        if t is not None:
            return t
        if name not in self.terminals:
            raise GrammarError(f"undefined terminal {name!r}")
        if name in self._busy:
            raise GrammarError(f"terminal {name!r} is defined in terms of itself")
        self._busy.add(name)
        t = self.lower(self.terminals[name])
        self._busy.discard(name)
        self._done[name] = t
        return t

    def lower(self, e: Expr) -> T.Term:
        if isinstance(e, Text):
            try:
                return T.literal(e.value.encode("utf-8"))
            except UnicodeEncodeError:  # a lone surrogate: no UTF-8 text holds one
                return T.EMPTY
        if isinstance(e, Chars):
            return chars_term(e.ranges)
        if isinstance(e, Bytes):
            m = 0
            for lo, hi in e.ranges:
                m |= ((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)
            return T.byteset(m)
        if isinstance(e, Seq):
            return T.seq(*[self.lower(i) for i in e.items])
        if isinstance(e, Alt):
            return T.alt_of([self.lower(i) for i in e.items])
        if isinstance(e, Repeat):
            return T.rep(self.lower(e.item), e.min, e.max)
        if isinstance(e, And):
            return T.conj(*[self.lower(i) for i in e.items])
        if isinstance(e, Not):
            return T.neg(self.lower(e.item))
        if isinstance(e, Ref):
            return self.named(e.name)
        raise GrammarError(f"not a regular expression node: {e!r}")


def lower_regex(e: Expr, terminals: dict[str, Expr] | None = None) -> T.Term:
    return TerminalLowering(terminals).lower(e)
