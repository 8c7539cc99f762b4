"""Exact Unicode code point sets for Python's ``re``: ``\\w``, ``\\d``, ``\\s`` and IGNORECASE closures.

Everything here is decided by the C regex engine itself (``re`` is the oracle), so the sets
agree with ``re`` of the running interpreter exactly, whatever its Unicode database version.

Range sets are tuples of inclusive ``(lo, hi)`` code point pairs, sorted and disjoint (the
form :class:`structgen.ir.Chars` takes). Code points run over 0..0x10FFFF; surrogates
(0xD800..0xDFFF) are kept in the sets (they cannot be encoded as UTF-8; the engine drops
them when it encodes).

The tables are computed once per process and cached, also on disk (keyed by the
interpreter's version and its Unicode database): the three Unicode category tables together
take about 60 ms to compute (one pass of the C engine over a string holding every code point
per table).
"""

from __future__ import annotations

import bisect
import re
import sys
import threading
import unicodedata
from functools import cache, lru_cache

from . import ir

MAX_UNICODE = 0x10FFFF

Ranges = tuple[tuple[int, int], ...]

_lock = threading.RLock()
_all_chars: str | None = None


def all_chars() -> str:
    """A string holding every code point 0..0x10FFFF in order (surrogates included)."""
    global _all_chars
    if _all_chars is None:
        with _lock:
            if _all_chars is None:
                n = MAX_UNICODE + 1
                buf = bytearray(4 * n)
                # UTF-32-LE: byte 0 = cp & 0xFF, byte 1 = (cp >> 8) & 0xFF, byte 2 = cp >> 16.
                buf[0::4] = bytes(range(256)) * (n // 256)
                buf[1::4] = b"".join(bytes((i,)) * 256 for i in range(256)) * (n // 65536)
                buf[2::4] = b"".join(bytes((p,)) * 65536 for p in range(n // 65536))
                _all_chars = buf.decode("utf-32-le", "surrogatepass")
    return _all_chars


def _runs(regex: re.Pattern, text: str, offsets=None) -> Ranges:
    """Ranges of the code points of ``text`` matched by ``regex`` (a ``X+`` pattern)."""
    out = []
    if offsets is None:
        for m in regex.finditer(text):
            a, b = m.span()
            out.append((a, b - 1))
        return tuple(out)
    for m in regex.finditer(text):
        for i in range(*m.span()):
            out.append((offsets[i], offsets[i]))
    return normalize(out)


@cache
def ranges_matching(char_regex: str, flags: int = 0) -> Ranges:
    """The code points ``c`` such that ``re.fullmatch(char_regex, c, flags)`` (a one-char regex).

    Runs the C engine once over all code points; cached, in memory and on disk.
    """
    from . import diskcache

    key = ["ranges_matching/1", char_regex, flags, sys.version, unicodedata.unidata_version]
    got = diskcache.load_ranges(key)
    if got is None:
        rx = re.compile(f"(?:{char_regex})+", flags)
        got = _runs(rx, all_chars())
        diskcache.save_ranges(key, got)
    return got


def word(ascii: bool = False) -> Ranges:
    """Python ``re``'s ``\\w`` for str patterns (Unicode: ``str.isalnum()`` or ``_``)."""
    return ranges_matching(r"\w", re.ASCII if ascii else 0)


def digit(ascii: bool = False) -> Ranges:
    """Python ``re``'s ``\\d`` (Unicode decimal digits, category Nd)."""
    return ranges_matching(r"\d", re.ASCII if ascii else 0)


def space(ascii: bool = False) -> Ranges:
    """Python ``re``'s ``\\s``."""
    return ranges_matching(r"\s", re.ASCII if ascii else 0)


@cache
def category(letter: str, ascii: bool = False) -> Ranges:
    """The set of one of ``d D w W s S`` (an escape letter), Unicode or ASCII."""
    base = {"d": digit, "w": word, "s": space}[letter.lower()](ascii)
    return complement(base) if letter.isupper() else base


# --------------------------------------------------------------------------- range algebra


def normalize(ranges) -> Ranges:
    """Sort and merge inclusive ranges (touching ranges are merged)."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if lo > hi:
            continue
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1][1] = hi
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def union(*sets: Ranges) -> Ranges:
    nonempty = [s for s in sets if s]
    if len(nonempty) == 1:
        return tuple(nonempty[0])
    return normalize([r for s in nonempty for r in s])


def complement(ranges: Ranges, top: int = MAX_UNICODE) -> Ranges:
    """All code points 0..top not in ``ranges``."""
    return ir.complement_ranges(ranges, top)


def intersect(a: Ranges, b: Ranges) -> Ranges:
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract(a: Ranges, b: Ranges) -> Ranges:
    return intersect(a, complement(b))


def contains(ranges: Ranges, cp: int) -> bool:
    i = bisect.bisect_right(ranges, (cp, MAX_UNICODE + 1)) - 1
    return i >= 0 and ranges[i][0] <= cp <= ranges[i][1]


def size(ranges: Ranges) -> int:
    return sum(hi - lo + 1 for lo, hi in ranges)


def class_regex(ranges: Ranges, negate: bool = False) -> str:
    """A ``[...]`` class (Python ``re`` syntax, escapes only) for a range set."""
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(f"\\U{lo:08x}")
        else:
            parts.append(f"\\U{lo:08x}-\\U{hi:08x}")
    if not parts:
        return "[^\\x00-\\U0010ffff]" if not negate else "[\\x00-\\U0010ffff]"
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


# --------------------------------------------------------------------------- IGNORECASE

_case_points: tuple[int, ...] | None = None
_case_string: str | None = None
_case_ranges: Ranges | None = None


def _compute_case_points() -> None:
    """The code points whose case-insensitive matching can differ from exact matching.

    A code point ``c`` outside this set has ``lower(c) == upper(c) == c``, is nobody's case
    mapping and takes part in none of ``re``'s extra equivalences, so under IGNORECASE it
    matches a class exactly when it matches it case-sensitively. For the points inside it
    the answer is read off the C engine (:func:`ignorecase_oracle`).
    """
    global _case_points, _case_string, _case_ranges
    text = all_chars()
    points: set[int] = set()
    step = 64
    for k in range(0, len(text), step):
        chunk = text[k : k + step]
        if chunk.lower() == chunk and chunk.upper() == chunk:
            continue
        for c in chunk:
            lo, up = c.lower(), c.upper()
            if lo != c or up != c:
                points.add(ord(c))
                for m in lo + up + c.title() + c.casefold():
                    points.add(ord(m))
    try:  # the simple (one code point) mappings the C engine uses
        import _sre

        for cp in list(points):
            points.add(_sre.unicode_tolower(cp))
            points.add(_sre.ascii_tolower(cp))
    except (ImportError, AttributeError):  # pragma: no cover - other implementations
        pass
    for cp in range(128):  # ASCII mode case folding
        c = chr(cp)
        if c.isalpha():
            points.add(cp)
    ordered = tuple(sorted(points))
    _case_string = "".join(map(chr, ordered))
    _case_ranges = normalize((p, p) for p in ordered)
    _case_points = ordered


def case_points() -> tuple[tuple[int, ...], str, Ranges]:
    """(sorted code points, the same as a string, the same as ranges) -- see above."""
    if _case_points is None:
        with _lock:
            if _case_points is None:
                _compute_case_points()
    assert _case_points is not None and _case_string is not None and _case_ranges is not None
    return _case_points, _case_string, _case_ranges


@lru_cache(maxsize=4096)
def ignorecase_oracle(char_regex: str, flags: int) -> Ranges:
    """The case-sensitive code points that ``char_regex`` (one char) matches under ``flags``.

    ``flags`` should include ``re.IGNORECASE`` (and ``re.ASCII`` for ASCII mode).
    """
    points, text, _ = case_points()
    rx = re.compile(f"(?:{char_regex})+", flags)
    return _runs(rx, text, points)


def ignorecase_apply(exact: Ranges, char_regex: str, flags: int) -> Ranges:
    """Combine ``exact`` (the set ``char_regex`` matches case-sensitively) with the oracle.

    Outside :func:`case_points` IGNORECASE changes nothing; inside, ``re`` decides.
    """
    _, _, cased = case_points()
    return union(subtract(exact, cased), ignorecase_oracle(char_regex, flags))


def ignorecase_closure(ranges: Ranges, ascii: bool = False) -> Ranges:
    """The code points that ``re`` matches with the class ``[ranges]`` under IGNORECASE.

    Exact with respect to the running Python's ``re`` (its simple case mappings and its extra
    equivalences such as ``s``/``ſ``, ``k``/KELVIN SIGN, ``ß``/``ẞ``).
    """
    ranges = normalize(ranges)
    if not ranges:
        return ()
    flags = re.IGNORECASE | (re.ASCII if ascii else 0)
    _, _, cased = case_points()
    # Only the part inside case_points() can make a case point match (every simple case
    # mapping of a case point is a case point), so the oracle needs no more than that.
    inside = intersect(ranges, cased)
    if not inside:
        return ranges
    probe = inside if len(inside) < len(ranges) else ranges
    return union(subtract(ranges, cased), ignorecase_oracle(class_regex(probe), flags))
