"""The regex front end: Python ``re`` syntax, matched with fullmatch semantics, lowered to the IR.

``Regex(pattern, flags)`` parses ``pattern`` with the standard library's own parser (so the
syntax is exactly Python's), checks it for constructs a regular language cannot express
(lookaround, backreferences, conditionals, word boundaries, possessive quantifiers and atomic
groups, anchors away from the ends) and lowers it eagerly to a regular expression over
:class:`~structgen.ir.Text` / :class:`~structgen.ir.Chars` / :class:`~structgen.ir.Seq` /
:class:`~structgen.ir.Alt` / :class:`~structgen.ir.Repeat`.

Semantics follow ``re.fullmatch(pattern, text, flags)`` for str patterns: ``\\d \\w \\s`` are
Unicode unless ASCII is set, IGNORECASE is exactly Python's (the C engine serves as the
oracle, see :mod:`structgen.unicode`), ``.`` excludes ``\\n`` unless DOTALL, lazy quantifiers
match the same language as greedy ones, and bounded repeats stay counted ``Repeat`` nodes.

Every string either lowers or raises :class:`~structgen.errors.RegexError`; ``pos`` is the
0-based offset of the offending construct in the pattern where there is one.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

from . import deadline, ir
from . import unicode as uni
from .errors import RegexError, SpecTypeError
from .limits import DEFAULT_LIMITS, Limits

try:  # Python 3.11+
    from re import _constants as _c
    from re import _parser as _p
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

__all__ = ["Regex", "lower_regex", "SUPPORTED_FLAGS"]

LITERAL = _c.LITERAL
NOT_LITERAL = _c.NOT_LITERAL
ANY = _c.ANY
IN = _c.IN
BRANCH = _c.BRANCH
SUBPATTERN = _c.SUBPATTERN
MAX_REPEAT = _c.MAX_REPEAT
MIN_REPEAT = _c.MIN_REPEAT
AT = _c.AT
NEGATE = _c.NEGATE
RANGE = _c.RANGE
CATEGORY = _c.CATEGORY
ASSERT = _c.ASSERT
ASSERT_NOT = _c.ASSERT_NOT
GROUPREF = _c.GROUPREF
GROUPREF_EXISTS = _c.GROUPREF_EXISTS
MAXREPEAT = _c.MAXREPEAT
POSSESSIVE_REPEAT = getattr(_c, "POSSESSIVE_REPEAT", None)  # 3.11+
ATOMIC_GROUP = getattr(_c, "ATOMIC_GROUP", None)  # 3.11+

_START_ANCHORS = {_c.AT_BEGINNING, _c.AT_BEGINNING_STRING}
_END_ANCHORS = {_c.AT_END, _c.AT_END_STRING}

_CATEGORY_LETTER = {
    _c.CATEGORY_DIGIT: "d",
    _c.CATEGORY_NOT_DIGIT: "D",
    _c.CATEGORY_SPACE: "s",
    _c.CATEGORY_NOT_SPACE: "S",
    _c.CATEGORY_WORD: "w",
    _c.CATEGORY_NOT_WORD: "W",
}

SUPPORTED_FLAGS = int(re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE | re.ASCII | re.UNICODE)
_TYPE_FLAGS = int(re.ASCII | re.LOCALE | re.UNICODE)

_I = int(re.IGNORECASE)
_S = int(re.DOTALL)
_X = int(re.VERBOSE)
_A = int(re.ASCII)
_U = int(re.UNICODE)


def class_end(pattern: str, i: int) -> int:
    """The index just past the character class that opens at ``pattern[i] == "["`` (a
    ``]`` right after ``[`` or ``[^`` is a member; escapes are skipped)."""
    n = len(pattern)
    j = i + 1
    if j < n and pattern[j] == "^":
        j += 1
    if j < n and pattern[j] == "]":
        j += 1
    while j < n and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def _data(sub) -> list:
    """The item list of a parser SubPattern (iterating the object itself is slow)."""
    return getattr(sub, "data", sub)


_SURROGATES = (0xD800, 0xDFFF)
_SURROGATE_ESC = re.compile(
    r"\\(?:u[dD][89a-fA-F][0-9a-fA-F]{2}|U0000[dD][89a-fA-F][0-9a-fA-F]{2})"
)


def _surrogate_pos(pattern: str) -> int | None:
    """The offset of the first lone surrogate in ``pattern``: the character itself, or
    an escape ``\\uD800`` / ``\\U0000D800`` spelling one (escaped backslashes skipped)."""
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if _SURROGATE_ESC.match(pattern, i):
                return i
            i += 2
            continue
        if _SURROGATES[0] <= ord(c) <= _SURROGATES[1]:
            return i
        i += 1
    return None


def check_depth(pattern: str, max_depth: int) -> None:
    """Refuse groups nested deeper than ``max_depth`` (``Limits.max_spec_depth``) before
    the parser and the lowering recurse into them: a RegexError at the first group too
    deep. Escapes and character classes are skipped."""
    depth = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = class_end(pattern, i)
            continue
        if c == "(":
            depth += 1
            if depth > max_depth:
                raise RegexError(
                    f"groups nested deeper than {max_depth} (Limits.max_spec_depth)",
                    pattern,
                    i,
                )
        elif c == ")":
            depth = max(depth - 1, 0)
        i += 1


_ALL = ((0, ir.MAX_UNICODE),)
_NOT_NEWLINE = ((0, 9), (11, ir.MAX_UNICODE))


class Regex:
    """A regular-expression constraint: the generated text must ``re.fullmatch`` ``pattern``.

    ``flags`` are ``re`` flags (IGNORECASE, MULTILINE, DOTALL, VERBOSE, ASCII, UNICODE);
    inline flags in the pattern work as in ``re``. LOCALE and bytes patterns are refused.
    The pattern is parsed and lowered here, so errors surface at construction;
    ``limits.max_regex_size`` bounds the size of the lowered expression.
    """

    __slots__ = ("pattern", "flags", "_ir")

    def __init__(self, pattern: str, flags: int = 0, *, limits: Limits | None = None):
        if isinstance(pattern, (bytes, bytearray, memoryview)):
            raise RegexError("bytes patterns are not supported (use a str pattern)")
        if not isinstance(pattern, str):
            raise SpecTypeError(f"Regex pattern must be a str, not {type(pattern).__name__}")
        if isinstance(flags, bool) or not isinstance(flags, int):
            raise SpecTypeError(
                f"Regex flags must be an int (re flags), not {type(flags).__name__}"
            )
        self.pattern = pattern
        self.flags = int(flags)
        limits = limits or DEFAULT_LIMITS
        with deadline.deadline(
            limits.max_compile_seconds, "compiling the regex (Limits.max_compile_seconds)"
        ):
            self._ir = lower_regex(
                pattern, self.flags, limits.max_regex_size, limits.max_spec_depth
            )

    def to_ir(self) -> ir.Expr:
        """The lowered regular expression (a terminal expression of the IR)."""
        return self._ir

    def to_grammar(self) -> ir.Grammar:
        """A grammar whose start rule is this regex as its one terminal."""
        return ir.regular_grammar(self._ir)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Regex):
            return NotImplemented
        return self.pattern == other.pattern and self.flags == other.flags

    def __hash__(self) -> int:
        return hash((Regex, self.pattern, self.flags))

    def __repr__(self) -> str:
        if not self.flags:
            return f"Regex({self.pattern!r})"
        try:
            flags = repr(re.RegexFlag(self.flags))
        except ValueError:  # pragma: no cover
            flags = str(self.flags)
        return f"Regex({self.pattern!r}, flags={flags})"

    def __reduce__(self):
        return (Regex, (self.pattern, self.flags))


# --------------------------------------------------------------------------- entry point


@lru_cache(maxsize=256)
def lower_regex(
    pattern: str,
    flags: int = 0,
    max_size: int = DEFAULT_LIMITS.max_regex_size,
    max_depth: int = DEFAULT_LIMITS.max_spec_depth,
):
    """Parse, check and lower ``pattern``; raise :class:`RegexError` if that is impossible
    (groups nested deeper than ``max_depth``, a lowered expression of more than
    ``max_size`` nodes, a lone surrogate...)."""
    if flags < 0 or flags & ~(SUPPORTED_FLAGS | int(re.LOCALE)):
        raise RegexError(
            f"unsupported regex flags {flags:#x}"
            " (supported: IGNORECASE, MULTILINE, DOTALL, VERBOSE, ASCII, UNICODE)",
            pattern,
            None,
        )
    if flags & re.LOCALE:
        raise RegexError("the re.LOCALE flag is not supported", pattern, None)
    check_depth(pattern, max_depth)
    tree = _parse(pattern, flags)
    gflags = tree.state.flags
    try:
        forbidden = _find_forbidden(tree.data)
        if forbidden is not None:
            _raise_forbidden(pattern, gflags, forbidden)
        if _has_bad_anchor(tree.data, True, True):
            _raise_bad_anchor(pattern, flags, gflags)
        return _Lowerer(pattern, max_size).lower(tree.data, gflags)
    except RecursionError:
        raise RegexError("pattern too deeply nested", pattern, None) from None


def _parse(pattern: str, flags: int):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _p.parse(pattern, flags)
    except re.error as e:
        raise RegexError(e.msg, pattern, e.pos) from None
    except RecursionError:
        raise RegexError("pattern too deeply nested", pattern, None) from None
    except (OverflowError, MemoryError) as e:
        raise RegexError(f"pattern too large ({e})", pattern, None) from None
    except Exception as e:  # ValueError (flag conflicts) and anything else the parser raises
        raise RegexError(f"invalid pattern: {e}", pattern, None) from None


# --------------------------------------------------------------------------- unsupported constructs

_FORBIDDEN_MSG = {
    "lookahead": "lookahead (?=...) is not supported",
    "neg_lookahead": "negative lookahead (?!...) is not supported",
    "lookbehind": "lookbehind (?<=...) is not supported",
    "neg_lookbehind": "negative lookbehind (?<!...) is not supported",
    "backref": "backreference {text} is not supported",
    "named_backref": "backreference (?P=...) is not supported",
    "conditional": "conditional group (?(...)...) is not supported",
    "atomic": "atomic group (?>...) is not supported",
    "possessive": "possessive quantifier {text} is not supported",
    "boundary": "word boundary \\b is not supported",
    "non_boundary": "non-word-boundary \\B is not supported",
}
_ANCHOR_KINDS = {"bol", "bos", "eol", "eos"}
_ANCHOR_MSG = {
    "bol": "anchor ^ away from the start of the pattern is not supported",
    "bos": "anchor \\A away from the start of the pattern is not supported",
    "eol": "anchor $ away from the end of the pattern is not supported",
    "eos": "anchor \\Z away from the end of the pattern is not supported",
}


def _find_forbidden(items) -> str | None:
    """The kind of some unsupported construct in the tree, or None."""
    stack = [items]
    while stack:
        for op, av in stack.pop():
            if op is ASSERT or op is ASSERT_NOT:
                direction = av[0]
                kind = "lookahead" if direction == 1 else "lookbehind"
                return kind if op is ASSERT else "neg_" + kind
            if op is GROUPREF:
                return "backref"
            if op is GROUPREF_EXISTS:
                return "conditional"
            if ATOMIC_GROUP is not None and op is ATOMIC_GROUP:
                return "atomic"
            if POSSESSIVE_REPEAT is not None and op is POSSESSIVE_REPEAT:
                return "possessive"
            if op is AT and av not in _START_ANCHORS and av not in _END_ANCHORS:
                return "non_boundary" if av == _c.AT_NON_BOUNDARY else "boundary"
            if op is BRANCH:
                stack.extend(_data(alt) for alt in av[1])
            elif op is SUBPATTERN:
                stack.append(_data(av[-1]))
            elif op is MAX_REPEAT or op is MIN_REPEAT:
                stack.append(_data(av[2]))
    return None


def _raise_forbidden(pattern: str, gflags: int, kind: str):
    tokens = _scan(pattern, bool(gflags & _X))
    for pos, end, tkind in tokens:
        if tkind in _FORBIDDEN_MSG:
            text = pattern[pos:end]
            raise RegexError(_FORBIDDEN_MSG[tkind].format(text=text), pattern, pos)
    # The scanner found nothing (should not happen): report the construct without a position.
    raise RegexError(_FORBIDDEN_MSG[kind].format(text=""), pattern, None)


def _empty_only(node) -> bool:
    """Whether a parse node can only match the empty string (anchors, lookarounds, ``()``)."""
    op, av = node
    if op is AT or op is ASSERT or op is ASSERT_NOT:
        return True
    if op is SUBPATTERN:
        return all(_empty_only(n) for n in _data(av[-1]))
    if op is BRANCH:
        return all(_empty_only(n) for alt in av[1] for n in _data(alt))
    if op is MAX_REPEAT or op is MIN_REPEAT:
        return av[1] == 0 or all(_empty_only(n) for n in _data(av[2]))
    return False


def _has_bad_anchor(items, at_start: bool, at_end: bool) -> bool:
    """Whether some ``^ \\A $ \\Z`` sits where it could meet text on its outer side.

    ``at_start``/``at_end``: whether ``items`` begins at the start / ends at the end of every
    match. An anchor is accepted where everything before it (for ``^``/``\\A``) or after it
    (for ``$``/``\\Z``) can only match the empty string; there it is a no-op under fullmatch.
    """
    items = _data(items)
    n = len(items)
    first = 0
    while first < n and _empty_only(items[first]):
        first += 1
    last = n - 1
    while last >= 0 and _empty_only(items[last]):
        last -= 1
    for i, (op, av) in enumerate(items):
        start = at_start and i <= first
        end = at_end and i >= last
        if op is AT:
            if av in _START_ANCHORS and not start:
                return True
            if av in _END_ANCHORS and not end:
                return True
        elif op is BRANCH:
            if any(_has_bad_anchor(alt, start, end) for alt in av[1]):
                return True
        elif op is SUBPATTERN:
            if _has_bad_anchor(av[-1], start, end):
                return True
        elif op is MAX_REPEAT or op is MIN_REPEAT:
            once = av[1] <= 1
            if _has_bad_anchor(av[2], start and once, end and once):
                return True
    return False


def _raise_bad_anchor(pattern: str, flags: int, gflags: int):
    """Find the first misplaced anchor by re-checking variants with later anchors blanked.

    The parse tree carries no positions (and the parser factors common prefixes out of
    alternatives), so the anchors are located lexically; blanking an anchor (``(?:)``) does
    not change whether the others are well placed, so the answer is the smallest ``k`` such
    that keeping only the first ``k`` anchors is already wrong (binary search).
    """
    tokens = [t for t in _scan(pattern, bool(gflags & _X)) if t[2] in _ANCHOR_KINDS]

    def bad_keeping(k: int) -> bool:
        parts = []
        prev = 0
        for pos, end, _ in tokens[k:]:
            parts.append(pattern[prev:pos])
            parts.append("(?:)")
            prev = end
        parts.append(pattern[prev:])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = _p.parse("".join(parts), flags)
        return _has_bad_anchor(tree.data, True, True)

    found = None
    try:
        lo, hi = 0, len(tokens)
        if hi and not bad_keeping(0):
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if bad_keeping(mid):
                    hi = mid
                else:
                    lo = mid
            found = tokens[hi - 1]
    except Exception:  # a failed search only loses the position
        pass
    if found is not None:
        raise RegexError(_ANCHOR_MSG[found[2]], pattern, found[0])
    raise RegexError(
        "anchor away from the start or end of the pattern is not supported", pattern, None
    )


# --------------------------------------------------------------------------- lexical scan

_WHITESPACE = frozenset(" \t\n\r\v\f")
_OCTDIGITS = frozenset("01234567")
_FLAGS_RX = re.compile(r"\(\?([aiLmsux]*)(?:-([aiLmsux]*))?([:)])")
_BRACE_RX = re.compile(r"\{(\d*)(?:,(\d*))?\}")
_NAME_RX = re.compile(r"[^)]*\)")


def _scan(pattern: str, verbose: bool) -> list[tuple[int, int, str]]:
    """Positions of the constructs of interest, as ``(start, end, kind)`` in pattern order.

    A small lexer that mirrors the tokenization of ``re``'s parser: it skips escapes,
    character classes, ``(?#...)`` comments and, in verbose mode, whitespace and ``#``
    comments (tracking scoped ``(?x:...)``/``(?-x:...)``). Only meaningful for patterns the
    parser accepted.
    """
    out: list[tuple[int, int, str]] = []
    n = len(pattern)
    i = 0
    stack: list[bool] = []
    v = verbose

    def quantifier_suffix(qstart: int, qend: int) -> int:
        if qend < n and pattern[qend] == "?":
            return qend + 1
        if qend < n and pattern[qend] == "+":
            out.append((qstart, qend + 1, "possessive"))
            return qend + 1
        return qend

    while i < n:
        c = pattern[i]
        if v and c in _WHITESPACE:
            i += 1
            continue
        if v and c == "#":
            i += 1
            while i < n:
                if pattern[i] == "\\":
                    i += 2
                    continue
                i += 1
                if pattern[i - 1] == "\n":
                    break
            continue
        if c == "\\":
            d = pattern[i + 1 : i + 2]
            if d == "b":
                out.append((i, i + 2, "boundary"))
            elif d == "B":
                out.append((i, i + 2, "non_boundary"))
            elif d == "A":
                out.append((i, i + 2, "bos"))
            elif d == "Z" or d == "z":  # \z: Python 3.14+
                out.append((i, i + 2, "eos"))
            elif d in "123456789" and d:
                if (
                    i + 3 < n
                    and d in _OCTDIGITS
                    and pattern[i + 2] in _OCTDIGITS
                    and pattern[i + 3] in _OCTDIGITS
                ):
                    i += 4  # three-digit octal escape
                    continue
                j = i + 2
                if j < n and pattern[j].isdigit() and pattern[j] in "0123456789":
                    j += 1
                out.append((i, j, "backref"))
                i = j
                continue
            elif d == "N" and pattern[i + 2 : i + 3] == "{":
                j = pattern.find("}", i + 3)
                i = n if j < 0 else j + 1
                continue
            i += 2
            continue
        if c == "[":
            i = class_end(pattern, i)
            continue
        if c == "(":
            if pattern.startswith("(?", i):
                nxt = pattern[i + 2 : i + 3]
                if nxt == "#":
                    j = i + 3
                    while j < n and pattern[j] != ")":
                        j += 2 if pattern[j] == "\\" else 1
                    i = j + 1
                    continue
                m = _FLAGS_RX.match(pattern, i)
                if m is not None:
                    if m.group(3) == ":":
                        stack.append(v)
                        if "x" in m.group(1):
                            v = True
                        if m.group(2) and "x" in m.group(2):
                            v = False
                    i = m.end()
                    continue
                kind = None
                skip = 3
                if nxt == "=":
                    kind = "lookahead"
                elif nxt == "!":
                    kind = "neg_lookahead"
                elif pattern.startswith("(?<=", i):
                    kind, skip = "lookbehind", 4
                elif pattern.startswith("(?<!", i):
                    kind, skip = "neg_lookbehind", 4
                elif nxt == ">":
                    kind = "atomic"
                elif nxt == "(":
                    kind = "conditional"
                    m2 = _NAME_RX.match(pattern, i + 3)
                    skip = (m2.end() - i) if m2 else 3
                elif pattern.startswith("(?P=", i):
                    m2 = _NAME_RX.match(pattern, i + 4)
                    end = m2.end() if m2 else n
                    out.append((i, end, "named_backref"))
                    i = end
                    continue
                elif pattern.startswith("(?P<", i):
                    j = pattern.find(">", i + 4)
                    skip = (j + 1 - i) if j >= 0 else 4
                else:
                    skip = 2
                if kind is not None:
                    out.append((i, i + skip, kind))
                stack.append(v)
                i += skip
                continue
            stack.append(v)
            i += 1
            continue
        if c == ")":
            if stack:
                v = stack.pop()
            i += 1
            continue
        if c == "^":
            out.append((i, i + 1, "bol"))
        elif c == "$":
            out.append((i, i + 1, "eol"))
        elif c in "*+?":
            i = quantifier_suffix(i, i + 1)
            continue
        elif c == "{":
            m = _BRACE_RX.match(pattern, i)
            if m is not None and m.end() - i > 2:
                i = quantifier_suffix(i, m.end())
                continue
        i += 1
    return out


# --------------------------------------------------------------------------- lowering


def _esc(cp: int) -> str:
    return f"\\U{cp:08x}"


@lru_cache(maxsize=4096)
def _class_ranges(items: tuple, flags: int) -> tuple[tuple[int, int], ...]:
    """The code points an ``IN`` class (parser items) matches under ``flags``."""
    ascii_mode = not flags & _U
    negate = False
    sets = []
    for op, av in items:
        if op is NEGATE:
            negate = True
        elif op is LITERAL:
            sets.append(((av, av),))
        elif op is RANGE:
            sets.append(((av[0], av[1]),))
        elif op is CATEGORY:
            letter = _CATEGORY_LETTER.get(av)
            if letter is None:  # pragma: no cover - the parser produces only these
                raise RegexError(f"unsupported character category {av}")
            sets.append(uni.category(letter, ascii_mode))
        else:  # pragma: no cover
            raise RegexError(f"unsupported character class item {op}")
    exact = uni.union(*sets) if sets else ()
    if negate:
        exact = uni.complement(exact)
    if flags & _I:
        parts = ["[^" if negate else "["]
        for op, av in items:
            if op is LITERAL:
                parts.append(_esc(av))
            elif op is RANGE:
                parts.append(_esc(av[0]) + "-" + _esc(av[1]))
            elif op is CATEGORY:
                parts.append("\\" + _CATEGORY_LETTER[av])
        parts.append("]")
        exact = uni.ignorecase_apply(exact, "".join(parts), _oracle_flags(flags))
    return exact


def _oracle_flags(flags: int) -> int:
    return _I | (0 if flags & _U else _A)


@lru_cache(maxsize=8192)
def _literal_ic(cp: int, flags: int) -> tuple[tuple[int, int], ...]:
    """The code points a literal matches under IGNORECASE (``flags``)."""
    points, _, cased = uni.case_points()
    if not uni.contains(cased, cp):
        return ((cp, cp),)
    return uni.ignorecase_oracle(_esc(cp), _oracle_flags(flags))


def _combine_flags(flags: int, add: int, remove: int) -> int:
    if add & _TYPE_FLAGS:
        flags &= ~_TYPE_FLAGS
    return (flags | add) & ~remove


class _Lowerer:
    def __init__(self, pattern: str, max_size: int):
        self.pattern = pattern
        self.max_size = max_size
        self.size = 0
        self.chars: dict[tuple, ir.Chars] = {}

    def count(self, k: int = 1) -> None:
        self.size += k
        if not self.size & 255:
            deadline.check()
        if self.size > self.max_size:
            raise RegexError(
                f"pattern too large (lowered expression exceeds {self.max_size} nodes)",
                self.pattern,
                None,
            )

    def make_chars(self, ranges) -> ir.Expr:
        if not ranges:
            self.count()
            return ir.NOTHING
        if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
            self.count()
            return self.text_of(ranges[0][0])
        node = self.chars.get(ranges)
        if node is None:
            node = self.chars[ranges] = ir.Chars(ranges)
            self.count(len(ranges))
        else:
            self.count()
        return node

    def lower(self, items, flags: int) -> ir.Expr:
        parts: list[ir.Expr] = []
        text: list[str] = []  # pending literal characters
        exact = not flags & _I
        for op, av in items:
            if op is LITERAL and exact:
                if _SURROGATES[0] <= av <= _SURROGATES[1]:
                    self.lone_surrogate()
                text.append(chr(av))
                continue
            e = self.node(op, av, flags)
            if e is None or e == ir.EMPTY:
                continue
            if isinstance(e, ir.Text):
                text.append(e.value)
                continue
            if text:
                parts.append(self.make_text(text))
                text = []
            parts.append(e)
        if text:
            parts.append(self.make_text(text))
        self.count()
        if not parts:
            return ir.EMPTY
        return ir.seq(*parts)

    def text_of(self, cp: int) -> ir.Text:
        if _SURROGATES[0] <= cp <= _SURROGATES[1]:
            self.lone_surrogate()
        return ir.Text(chr(cp))

    def lone_surrogate(self) -> None:
        """Refuse a lone surrogate that must be matched: no UTF-8 text holds one (in a
        class beside other characters, it is only never generated)."""
        raise RegexError(
            "a lone surrogate (U+D800 to U+DFFF) cannot be generated: it is not a character"
            " UTF-8 can encode",
            self.pattern,
            _surrogate_pos(self.pattern),
        )

    def make_text(self, chunks: list[str]) -> ir.Text:
        value = "".join(chunks)
        self.count(len(value))
        return ir.Text(value)

    def node(self, op, av, flags: int) -> ir.Expr | None:
        if op is LITERAL:  # under IGNORECASE (exact literals are handled by lower())
            return self.make_chars(_literal_ic(av, flags))
        if op is NOT_LITERAL:
            return self.make_chars(_class_ranges(((NEGATE, None), (LITERAL, av)), flags))
        if op is ANY:
            return self.make_chars(_ALL if flags & _S else _NOT_NEWLINE)
        if op is IN:
            return self.make_chars(_class_ranges(tuple(av), flags))
        if op is BRANCH:
            alts = [self.lower(_data(alt), flags) for alt in av[1]]
            self.count()
            return ir.alt(*alts)
        if op is SUBPATTERN:
            _group, add, remove, sub = av
            return self.lower(_data(sub), _combine_flags(flags, add, remove))
        if op is MAX_REPEAT or op is MIN_REPEAT:
            lo, hi, sub = av
            hi = None if hi == MAXREPEAT else hi
            item = self.lower(_data(sub), flags)
            self.count()
            if hi == 0 or item == ir.EMPTY:
                return ir.EMPTY
            if lo == 1 and hi == 1:
                return item
            return ir.Repeat(item, lo, hi)
        if op is AT:  # checked: a no-op at the start or end of the match
            return None
        raise RegexError(
            f"unsupported regex construct {op}", self.pattern, None
        )  # pragma: no cover
