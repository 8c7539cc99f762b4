"""structgen's extensions to Lark grammar text, used where the Grammar IR has no Lark spelling.

``structgen grammar`` prints the Grammar IR as Lark text (:mod:`structgen.printer`); the
structgen Lark front end (:mod:`structgen.lark_grammar`) reads it back. Two things in the IR
have no Lark syntax; the printed text then ends with a comment line per extension used
(Lark itself ignores comments; structgen reads such a line anywhere in a grammar):

``//! structgen: & and ~ in terminals``
    In terminal regexes, ``A&B`` is the intersection of two regular languages and ``~A``
    the complement of one (over all byte strings). ``~`` binds tighter than a quantifier
    (``~(?:ab)*`` is ``(~(?:ab))*``), ``&`` looser than concatenation and tighter than
    ``|``. Literal ``&`` and ``~`` are escaped (``\\&``, ``\\~``). Without that line, ``&``
    and ``~`` are ordinary characters, as in Python's ``re``.
``//! structgen: terminals end anywhere``
    A terminal may end anywhere its regex allows, not only at its longest match (the
    grammars compiled from JSON Schemas, regexes and types are read that way; Lark grammars
    are read at the longest match, as Lark's lexer reads them).

Bounded repeats ``item~n`` and ``item~n..m`` are Lark's own syntax.
"""

from __future__ import annotations

import re

from . import ir
from .errors import RegexError
from .limits import DEFAULT_LIMITS

__all__ = ["OPS_LINE", "ANYWHERE_LINE", "declared", "has_ops", "ops_regex_ir"]

OPS_LINE = "//! structgen: & and ~ in terminals"
ANYWHERE_LINE = "//! structgen: terminals end anywhere"


def declared(text: str) -> tuple[bool, bool]:
    """``(ops, anywhere)``: which extensions the grammar text declares (its ``//!`` lines)."""
    lines = {line.strip() for line in text.splitlines() if line.startswith("//!")}
    return OPS_LINE in lines, ANYWHERE_LINE in lines


_QUANT = re.compile(r"\*|\+|\?|\{(\d+)(,(\d*))?\}")


def ops_regex_ir(rx: str) -> ir.Expr:
    """The IR of a terminal regex that may use ``&`` and ``~`` (see the module's text)."""
    from .regex import check_depth

    check_depth(rx, DEFAULT_LIMITS.max_spec_depth)  # (the parser below recurses per group)
    p = _Parser(rx)
    e = p.alt()
    if p.i != len(rx):
        raise RegexError(f"unbalanced {rx[p.i]!r}", rx, p.i)
    return e


class _Parser:
    def __init__(self, rx: str):
        self.rx, self.i = rx, 0

    def peek(self) -> str:
        return self.rx[self.i] if self.i < len(self.rx) else ""

    def alt(self) -> ir.Expr:
        items = [self.conj()]
        while self.peek() == "|":
            self.i += 1
            items.append(self.conj())
        return items[0] if len(items) == 1 else ir.Alt(tuple(items))

    def conj(self) -> ir.Expr:
        items = [self.seq()]
        while self.peek() == "&":
            self.i += 1
            items.append(self.seq())
        return items[0] if len(items) == 1 else ir.And(tuple(items))

    def seq(self) -> ir.Expr:
        from .regex import lower_regex

        items: list[ir.Expr] = []
        start = self.i

        def flush(end: int) -> None:
            if end > start:
                items.append(lower_regex(self.rx[start:end]))

        while self.i < len(self.rx) and self.peek() not in "|&)":
            c = self.peek()
            if c == "~" or (c == "(" and has_ops(self.rx[self.i : self._skip(self.i)])):
                flush(self.i)
                items.append(self._quantified(self._ops_atom()))
                start = self.i
            else:
                self.i = self._skip(self.i)
        flush(self.i)
        if not items:
            return ir.EMPTY
        return items[0] if len(items) == 1 else ir.Seq(tuple(items))

    def _ops_atom(self) -> ir.Expr:
        rx = self.rx
        if rx[self.i] == "~":
            self.i += 1
            if self.i >= len(rx) or rx[self.i] in "|&)*+?{":
                raise RegexError("~ must be followed by an atom", rx, self.i)
            end = self._skip(self.i)
            inner = rx[self.i : end]
            self.i = end
            return ir.Not(ops_regex_ir(_ungroup(inner)) if inner.startswith("(") else _lower(inner))
        end = self._skip(self.i)
        inner = rx[self.i : end]
        if not (inner.startswith("(?:") or not inner.startswith("(?")):
            raise RegexError("& and ~ are only supported in plain groups (?:...)", rx, self.i)
        self.i = end
        return ops_regex_ir(_ungroup(inner))

    def _quantified(self, e: ir.Expr) -> ir.Expr:
        m = _QUANT.match(self.rx, self.i)
        if not m:
            return e
        self.i = m.end()
        if self.peek() in ("?", "+"):
            raise RegexError("lazy or possessive quantifiers on & or ~", self.rx, self.i)
        q = m.group(0)
        if q == "*":
            return ir.Repeat(e, 0, None)
        if q == "+":
            return ir.Repeat(e, 1, None)
        if q == "?":
            return ir.Repeat(e, 0, 1)
        lo = int(m.group(1))
        if m.group(2) is None:
            return ir.Repeat(e, lo, lo)
        return ir.Repeat(e, lo, int(m.group(3)) if m.group(3) else None)

    def _skip(self, i: int) -> int:
        """The index after the atom starting at ``i`` (an escape, a class, a group or a
        character), not counting a quantifier."""
        rx = self.rx
        c = rx[i]
        if c == "\\":
            return i + 2
        if c == "[":
            j = i + 1
            if rx[j : j + 1] == "^":
                j += 1
            if rx[j : j + 1] == "]":
                j += 1
            while j < len(rx) and rx[j] != "]":
                j += 2 if rx[j] == "\\" else 1
            return j + 1
        if c == "(":
            depth, j = 0, i
            while j < len(rx):
                if rx[j] == "\\":
                    j += 2
                    continue
                if rx[j] == "[":
                    j = self._skip(j)
                    continue
                if rx[j] == "(":
                    depth += 1
                elif rx[j] == ")":
                    depth -= 1
                    if depth == 0:
                        return j + 1
                j += 1
            raise RegexError("missing )", rx, i)
        return i + 1


def _ungroup(group: str) -> str:
    return group[3:-1] if group.startswith("(?:") else group[1:-1]


def _lower(rx: str) -> ir.Expr:
    from .regex import lower_regex

    return lower_regex(rx)


def has_ops(rx: str) -> bool:
    """Whether ``rx`` has an unescaped ``&`` or ``~`` outside character classes."""
    j = 0
    in_class = False
    while j < len(rx):
        c = rx[j]
        if c == "\\":
            j += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if rx[j + 1 : j + 2] == "^":
                j += 1
            if rx[j + 1 : j + 2] == "]":
                j += 1
        elif c in "&~":
            return True
        j += 1
    return False
