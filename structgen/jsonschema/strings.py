"""JSON string texts: every spelling of a decoded string, as IR regular expressions.

A JSON string body is a sequence of *elements*, each spelling exactly one code point:

* the code point itself (UTF-8), for U+0020..U+10FFFF except ``"`` and ``\\``;
* a short escape ``\\" \\\\ \\/ \\b \\f \\n \\r \\t``;
* ``\\uXXXX`` (hex digits in either case) for a code point of the BMP that is not a
  surrogate;
* a surrogate pair ``\\uD8xx\\uDCxx`` for a code point above U+FFFF.

A lone surrogate escape is never produced.

The *canonical* spelling (:data:`CANONICAL`, what ``json.dumps(s, ensure_ascii=False)``
writes) has one element per code point: the code point itself, except ``\\"`` and ``\\\\``,
the short escapes ``\\b \\f \\n \\r \\t`` for those control characters and ``\\u00xx``
(lowercase hex) for the other controls below U+0020. :class:`Spelling` bundles the
functions below for either spelling; the module-level ones are those of :data:`ANY`. The decoding is a function (each element
decodes to one code point, and element boundaries are unambiguous), so :func:`spell` maps
a regular expression over *decoded* strings to the regular expression of exactly the JSON
bodies whose decoding it matches, and lengths count code points, as ``len()`` of the
decoded Python string does.
"""

from __future__ import annotations

from functools import lru_cache

from .. import ir
from ..ir import Alt, And, Chars, Not, Repeat, Seq, Text, alt, seq
from ..unicode import intersect as _intersect

MAX_CP = ir.MAX_UNICODE
SURROGATES = (0xD800, 0xDFFF)
_SHORT = {0x22: '"', 0x5C: "\\", 0x2F: "/", 0x08: "b", 0x0C: "f", 0x0A: "n", 0x0D: "r", 0x09: "t"}
_RAW = ir.normalize_ranges([(0x20, 0x21), (0x23, 0x5B), (0x5D, MAX_CP)])
_ALL = ((0, SURROGATES[0] - 1), (SURROGATES[1] + 1, MAX_CP))


def _hex_digit_class(lo: int, hi: int) -> ir.Expr:
    """Hex digits (both cases) with values lo..hi."""
    if lo == hi and lo < 10:
        return Text(str(lo))
    rng = []
    for v in range(lo, hi + 1):
        if v < 10:
            rng.append((0x30 + v, 0x30 + v))
        else:
            rng.append((0x41 + v - 10, 0x41 + v - 10))
            rng.append((0x61 + v - 10, 0x61 + v - 10))
    return Chars.of(rng)


HEX = _hex_digit_class(0, 15)


@lru_cache(maxsize=4096)
def _hex_ranges(ranges: tuple, ndigits: int) -> ir.Expr:
    """``ndigits`` hex digits whose value lies in ``ranges`` (within 0..16**ndigits-1)."""
    if not ranges:
        return ir.NOTHING
    if ndigits == 0:
        return ir.EMPTY
    size = 16 ** (ndigits - 1)
    if ranges == ((0, 16**ndigits - 1),):
        return Repeat(HEX, ndigits, ndigits) if ndigits > 1 else HEX
    by_sub: dict[tuple, list[int]] = {}
    for d in range(16):
        sub = _intersect(ranges, ((d * size, d * size + size - 1),))
        if not sub:
            continue
        shifted = tuple((lo - d * size, hi - d * size) for lo, hi in sub)
        by_sub.setdefault(shifted, []).append(d)
    alts = []
    for sub, ds in by_sub.items():
        # group consecutive digit runs into classes
        if len(ds) == 1:
            head = _hex_digit_class(ds[0], ds[0])
        else:
            rng = []
            for d in ds:
                c = _hex_digit_class(d, d)
                rng.extend(((ord(c.value), ord(c.value)),) if isinstance(c, Text) else c.ranges)
            head = ir.Chars.of(rng)
        alts.append(seq(head, _hex_ranges(sub, ndigits - 1)))
    return alt(*alts)


def _hex4(ranges) -> ir.Expr:
    return _hex_ranges(tuple(ranges), 4)


def _raw_and_short(ranges: tuple, short_escapes: dict) -> tuple[list, list]:
    """The raw element of ``ranges`` (as alternatives) and the short escapes of its code
    points in ``short_escapes`` (the escape letters, each to follow a backslash)."""
    alts: list[ir.Expr] = []
    raw = _intersect(ranges, _RAW)
    if raw:
        alts.append(Text(chr(raw[0][0])) if raw == ((raw[0][0], raw[0][0]),) else Chars(raw))
    esc: list[ir.Expr] = []
    short = [c for c in sorted(short_escapes) if _intersect(ranges, ((c, c),))]
    if len(short) == 1:
        esc.append(Text(short_escapes[short[0]]))
    elif short:
        esc.append(Chars.of((ord(short_escapes[c]), ord(short_escapes[c])) for c in short))
    return alts, esc


@lru_cache(maxsize=4096)
def spell_set(ranges: tuple) -> ir.Expr:
    """Every element spelling a code point of ``ranges`` (surrogates are never spelled)."""
    ranges = _intersect(ir.normalize_ranges(ranges), _ALL)
    alts, esc = _raw_and_short(ranges, _SHORT)
    bmp = _intersect(ranges, ((0, 0xFFFF),))
    if bmp:
        esc.append(seq(Text("u"), _hex4(bmp)))
    astral = _intersect(ranges, ((0x10000, MAX_CP),))
    if astral:
        pairs = []
        for lo, hi in astral:
            hlo, llo = _pair(lo)
            hhi, lhi = _pair(hi)
            if hlo == hhi:
                pairs.append(((hlo, hlo), (llo, lhi)))
            else:
                pairs.append(((hlo, hlo), (llo, 0xDFFF)))
                if hhi - hlo > 1:
                    pairs.append(((hlo + 1, hhi - 1), (0xDC00, 0xDFFF)))
                pairs.append(((hhi, hhi), (0xDC00, lhi)))
        # group by low range
        by_low: dict[tuple, list] = {}
        for hr, lr in pairs:
            by_low.setdefault(lr, []).append(hr)
        for lr, hrs in by_low.items():
            esc.append(seq(Text("u"), _hex4(ir.normalize_ranges(hrs)), Text("\\u"), _hex4((lr,))))
    if esc:
        alts.append(seq(Text("\\"), alt(*esc)))
    return alt(*alts) if alts else ir.NOTHING


def _pair(cp: int) -> tuple[int, int]:
    v = cp - 0x10000
    return 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)


#: one element: any code point except a surrogate
CHAR = spell_set(_ALL)
#: any string body
BODY = Repeat(CHAR, 0, None)


@lru_cache(maxsize=16384)
def spell_char(cp: int) -> ir.Expr:
    return spell_set(((cp, cp),))


def spell_text(s: str) -> ir.Expr:
    """Every spelling of the string ``s`` (its body, without quotes)."""
    return seq(*[spell_char(ord(c)) for c in s]) if s else ir.EMPTY


def spell(e: ir.Expr) -> ir.Expr:
    """Map a regular expression over decoded strings to one over JSON string bodies."""
    return _spell_with(e, spell_text, spell_set, BODY)


def quoted(body: ir.Expr) -> ir.Expr:
    return seq(Text('"'), body, Text('"'))


#: any JSON string
STRING = quoted(BODY)


def length_body(min_len: int = 0, max_len: int | None = None) -> ir.Expr:
    if min_len == 0 and max_len is None:
        return BODY
    return Repeat(CHAR, min_len, max_len)


# --------------------------------------------------------------------------- canonical

#: escapes json.dumps writes: the short ones, and \u00xx for the other controls
_CANON_SHORT = {0x22: '"', 0x5C: "\\", 0x08: "b", 0x0C: "f", 0x0A: "n", 0x0D: "r", 0x09: "t"}
_CONTROLS = (0x00, 0x1F)


@lru_cache(maxsize=4096)
def canonical_set(ranges: tuple) -> ir.Expr:
    """The one element ``json.dumps(..., ensure_ascii=False)`` writes for each code point of
    ``ranges`` (surrogates are never spelled)."""
    ranges = _intersect(ir.normalize_ranges(ranges), _ALL)
    alts, esc = _raw_and_short(ranges, _CANON_SHORT)
    for lo, hi in _intersect(ranges, (_CONTROLS,)):
        for cp in range(lo, hi + 1):
            if cp not in _CANON_SHORT:
                esc.append(Text(f"u{cp:04x}"))
    if esc:
        alts.append(seq(Text("\\"), alt(*esc)))
    return alt(*alts) if alts else ir.NOTHING


class Spelling:
    """The string functions of one spelling: every JSON spelling (``canonical=False``) or
    the one ``json.dumps(..., ensure_ascii=False)`` writes (``canonical=True``)."""

    def __init__(self, canonical: bool):
        self.canonical = canonical
        self.spell_set = canonical_set if canonical else spell_set
        self.CHAR = self.spell_set(_ALL)
        self.BODY = Repeat(self.CHAR, 0, None)
        self.STRING = quoted(self.BODY)
        self._chars: dict[int, ir.Expr] = {}

    def spell_char(self, cp: int) -> ir.Expr:
        e = self._chars.get(cp)
        if e is None:
            e = self._chars[cp] = self.spell_set(((cp, cp),))
        return e

    def spell_text(self, s: str) -> ir.Expr:
        """The spellings of the string ``s`` (its body, without quotes)."""
        return seq(*[self.spell_char(ord(c)) for c in s]) if s else ir.EMPTY

    def spell(self, e: ir.Expr) -> ir.Expr:
        """Map a regular expression over decoded strings to one over JSON string bodies."""
        return _spell_with(e, self.spell_text, self.spell_set, self.BODY)

    def length_body(self, min_len: int = 0, max_len: int | None = None) -> ir.Expr:
        if min_len == 0 and max_len is None:
            return self.BODY
        return Repeat(self.CHAR, min_len, max_len)


def _spell_with(e: ir.Expr, text, chars, body: ir.Expr) -> ir.Expr:
    """``e`` with each string ``text`` and each set of code points ``chars`` spell, and each
    complement taken within the string bodies ``body``."""
    memo: dict = {}

    def go(x: ir.Expr) -> ir.Expr:
        r = memo.get(x)
        if r is not None:
            return r
        if isinstance(x, Text):
            r = text(x.value)
        elif isinstance(x, Chars):
            r = chars(x.ranges)
        elif isinstance(x, Seq):
            r = seq(*[go(i) for i in x.items]) if x.items else ir.EMPTY
        elif isinstance(x, Alt):
            r = alt(*[go(i) for i in x.items]) if x.items else ir.NOTHING
        elif isinstance(x, Repeat):
            r = Repeat(go(x.item), x.min, x.max)
        elif isinstance(x, And):
            r = And(tuple(go(i) for i in x.items))
        elif isinstance(x, Not):
            r = And((body, Not(go(x.item))))
        else:
            # internal: a bug: every IR node type is spelled above
            raise TypeError(f"cannot spell {type(x).__name__}")
        memo[x] = r
        return r

    return go(e)


#: every JSON spelling
ANY = Spelling(False)
#: the json.dumps(ensure_ascii=False) spelling
CANONICAL = Spelling(True)
