"""The Grammar IR: named rules over terminals, terminals being regular expressions.

Every front end (regex, JSON Schema, Lark text) lowers to a :class:`Grammar`; one engine
compiles it. Expressions are immutable and hashable. The same node classes serve both
levels:

* inside a *terminal* (a regular language over bytes) the leaves are :class:`Text`,
  :class:`Chars` (Unicode code point ranges, matched as their UTF-8 encodings) and
  :class:`Bytes` (raw byte ranges); :class:`And` / :class:`Not` are allowed there only;
* inside a *rule* the leaves are also :class:`Ref` (a rule or a named terminal); a regular
  leaf used directly in a rule becomes an anonymous terminal.

``Grammar.to_lark()`` prints the grammar as Lark-compatible text (``&`` and ``~`` inside a
terminal regex are structgen extensions and are marked as such).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

MAX_UNICODE = 0x10FFFF


@dataclass(frozen=True)
class Text:
    """A literal string (encoded as UTF-8)."""

    value: str


@dataclass(frozen=True)
class Chars:
    """One character from a set of Unicode code point ranges (inclusive, sorted, disjoint)."""

    ranges: tuple[tuple[int, int], ...]

    @staticmethod
    def of(ranges) -> Chars:
        return Chars(normalize_ranges(ranges))


@dataclass(frozen=True)
class Bytes:
    """One raw byte from a set of byte ranges (inclusive, sorted, disjoint, within 0..255)."""

    ranges: tuple[tuple[int, int], ...]

    @staticmethod
    def of(ranges) -> Bytes:
        return Bytes(normalize_ranges(ranges))


@dataclass(frozen=True)
class Seq:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Alt:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Repeat:
    """``item{min,max}``; ``max=None`` is unbounded."""

    item: Expr
    min: int = 0
    max: int | None = None


@dataclass(frozen=True)
class And:
    """Intersection of regular languages (terminals only)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """Complement over all byte strings (terminals only)."""

    item: Expr


@dataclass(frozen=True)
class Ref:
    """A reference to a rule (lower-case name) or a named terminal (upper-case name)."""

    name: str


Expr = Union[Text, Chars, Bytes, Seq, Alt, Repeat, And, Not, Ref]

EMPTY = Seq(())  # the empty string
NOTHING = Alt(())  # the empty language


def seq(*items: Expr) -> Expr:
    flat: list[Expr] = []
    for it in items:
        if isinstance(it, Seq):
            flat.extend(it.items)
        else:
            flat.append(it)
    return flat[0] if len(flat) == 1 else Seq(tuple(flat))


def alt(*items: Expr) -> Expr:
    flat: list[Expr] = []
    for it in items:
        if isinstance(it, Alt):
            flat.extend(it.items)
        else:
            flat.append(it)
    return flat[0] if len(flat) == 1 else Alt(tuple(flat))


def opt(item: Expr) -> Expr:
    return Repeat(item, 0, 1)


def star(item: Expr) -> Expr:
    return Repeat(item, 0, None)


def plus(item: Expr) -> Expr:
    return Repeat(item, 1, None)


def normalize_ranges(ranges) -> tuple[tuple[int, int], ...]:
    """Sort and merge inclusive integer ranges."""
    out: list[list[int]] = []
    for lo, hi in sorted((int(a), int(b)) for a, b in ranges):
        if lo > hi:
            continue
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def complement_ranges(ranges, top: int = MAX_UNICODE) -> tuple[tuple[int, int], ...]:
    out = []
    nxt = 0
    for lo, hi in normalize_ranges(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= top:
        out.append((nxt, top))
    return tuple(out)


@dataclass
class Grammar:
    """Named rules and terminals; ``start`` names the start rule.

    ``rules`` map lower-case names to rule expressions; ``terminals`` map upper-case
    names to regular expressions (which may reference other terminals by :class:`Ref`).
    ``ignore`` lists terminal names allowed between any two symbols of the rules.
    ``longest_match`` reads terminals as Lark's (dynamic) lexer does: a terminal may not
    end where the next character could continue it, and each terminal in a rule is a
    token of its own.
    """

    rules: dict[str, Expr]
    terminals: dict[str, Expr] = field(default_factory=dict)
    start: str = "start"
    ignore: tuple[str, ...] = ()
    longest_match: bool = False

    def to_lark(self) -> str:
        from .printer import grammar_to_lark

        return grammar_to_lark(self)

    def __str__(self) -> str:
        return self.to_lark()


def regular_grammar(expr: Expr, name: str = "start") -> Grammar:
    """A grammar whose start rule is one terminal (what the regex front end produces)."""
    return Grammar(rules={name: Ref("PATTERN")}, terminals={"PATTERN": expr}, start=name)
