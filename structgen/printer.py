"""Print the Grammar IR as Lark text that structgen's Lark front end reads back.

The printed grammar enforces the same language when given back to structgen
(``structgen run --grammar FILE``): names Lark would refuse (``__ANON_0``) are renamed, an
empty alternative is written as an optional group (Lark refuses the empty terminal ``""``),
rules that cannot be reached from the start rule are left out, and where the IR needs
structgen's extensions to Lark (``&`` and ``~`` in terminals; terminals that may end
anywhere) a comment line at the end says so (see :mod:`structgen.lark_ext`).
"""

from __future__ import annotations

import json
import re

from .errors import ArgumentTypeError
from .ir import Alt, And, Bytes, Chars, Expr, Grammar, Not, Ref, Repeat, Seq, Text
from .lark_ext import ANYWHERE_LINE, OPS_LINE

# & and ~ are escaped so that they stay literal where the comment line makes them operators
_REGEX_SPECIAL = set("\\.^$*+?{}[]|()/&~")
_CLASS_SPECIAL = set("\\]^-[/&~")
# the empty language as a regex structgen reads (no lookaround): a class of no character
_NOTHING_RX = "[^\\x00-\\U0010ffff]"


def _char(cp: int, special: set[str]) -> str:
    ch = chr(cp)
    if ch in special:
        return "\\" + ch
    if cp < 0x20 or cp == 0x7F:
        return {9: "\\t", 10: "\\n", 13: "\\r"}.get(cp, f"\\x{cp:02x}")
    if 0xD800 <= cp <= 0xDFFF or not ch.isprintable():
        return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"
    return ch


def _class(ranges, byte: bool = False) -> str:
    if byte:
        parts = [f"\\x{lo:02x}" if lo == hi else f"\\x{lo:02x}-\\x{hi:02x}" for lo, hi in ranges]
        return "[" + "".join(parts) + "]"
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return _char(ranges[0][0], _REGEX_SPECIAL)
    if ranges == ((0, 0x10FFFF),):
        return "(?s:.)"
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(_char(lo, _CLASS_SPECIAL))
        elif hi == lo + 1:
            parts.append(_char(lo, _CLASS_SPECIAL) + _char(hi, _CLASS_SPECIAL))
        else:
            parts.append(_char(lo, _CLASS_SPECIAL) + "-" + _char(hi, _CLASS_SPECIAL))
    return "[" + "".join(parts) + "]"


def regex_text(e: Expr, prec: int = 0, terms: dict[str, Expr] | None = None) -> str:
    """Regex syntax for a terminal expression. prec: 0 alternation, 1 sequence, 2 atom.
    ``terms``: the grammar's terminals, to write a reference to one as its regex."""
    return _regex_text(e, prec, terms or {})


def _regex_text(e: Expr, prec: int, terms: dict[str, Expr]) -> str:
    def regex_text(x: Expr, p: int = 0) -> str:
        return _regex_text(x, p, terms)

    if isinstance(e, Text):
        s = "".join(_char(ord(c), _REGEX_SPECIAL) for c in e.value)
        return s if prec < 2 or len(e.value) == 1 else f"(?:{s})"
    if isinstance(e, Chars):
        return _class(e.ranges)
    if isinstance(e, Bytes):
        if e.ranges == ((0, 255),):
            # any byte: within a terminal every text is UTF-8, so any character reads the same
            return "(?s:.)"
        return _class(e.ranges, byte=True)
    if isinstance(e, Seq):
        if not e.items:
            return "(?:)"
        s = "".join(regex_text(i, 1) for i in e.items)
        return s if prec < 2 and len(e.items) > 0 else f"(?:{s})"
    if isinstance(e, Alt):
        if not e.items:
            return _NOTHING_RX
        s = "|".join(regex_text(i, 0) for i in e.items)
        return s if prec == 0 else f"(?:{s})"
    if isinstance(e, Repeat):
        inner = regex_text(e.item, 2)
        if isinstance(e.item, Repeat) or (isinstance(e.item, Chars) and inner.startswith("(?")):
            inner = f"(?:{inner})"  # a quantifier on a quantifier would read as lazy/possessive
        return inner + _quant(e.min, e.max)
    if isinstance(e, And):
        return "(?:" + "&".join(regex_text(i, 1) for i in e.items) + ")"
    if isinstance(e, Not):
        inner = regex_text(e.item, 0)
        return "~" + (inner if _is_atom(inner) else f"(?:{inner})")
    if isinstance(e, Ref):
        if e.name in terms:
            return f"(?:{regex_text(terms[e.name], 0)})"
        return "{" + e.name + "}"
    raise ArgumentTypeError(f"not an IR expression: {e!r}")


def _is_atom(rx: str) -> bool:
    """Whether ``rx`` is one character, escape, class or group (a quantifier would apply to
    all of it)."""
    if re.fullmatch(r"\\?.|\\[xuU][0-9a-fA-F]+", rx, re.S):
        return True
    if rx.startswith("[") and rx.endswith("]"):
        return "[" not in rx[1:-1].replace("\\[", "") and rx.count("]") - rx.count("\\]") == 1
    if rx.startswith("(") and rx.endswith(")"):
        depth = 0
        i = 0
        while i < len(rx):
            if rx[i] == "\\":
                i += 2
                continue
            if rx[i] == "(":
                depth += 1
            elif rx[i] == ")":
                depth -= 1
                if depth == 0 and i != len(rx) - 1:
                    return False
            i += 1
        return True
    return False


def _quant(lo: int, hi: int | None) -> str:
    if (lo, hi) == (0, None):
        return "*"
    if (lo, hi) == (1, None):
        return "+"
    if (lo, hi) == (0, 1):
        return "?"
    if hi is None:
        return f"{{{lo},}}"
    if lo == hi:
        return f"{{{lo}}}"
    return f"{{{lo},{hi}}}"


def _is_regular(e: Expr) -> bool:
    if isinstance(e, Ref):
        return False
    if isinstance(e, (Seq, Alt, And)):
        return all(_is_regular(i) for i in e.items)
    if isinstance(e, (Repeat, Not)):
        return _is_regular(e.item)
    return True


def _uses_ops(e: Expr) -> bool:
    if isinstance(e, (And, Not)):
        return True
    if isinstance(e, (Seq, Alt)):
        return any(_uses_ops(i) for i in e.items)
    if isinstance(e, Repeat):
        return _uses_ops(e.item)
    return False


def _is_empty(e: Expr) -> bool:
    return isinstance(e, Seq) and all(_is_empty(i) for i in e.items)


def rule_text(e: Expr, prec: int = 0, names: dict[str, str] | None = None) -> str:
    """Lark rule-body syntax ("" for the empty string: an empty rule body). ``names``
    renames rules and terminals."""
    names = names or {}
    if isinstance(e, Ref):
        return names.get(e.name, e.name)
    if isinstance(e, Text):
        return json.dumps(e.value, ensure_ascii=False) if e.value else ""
    if isinstance(e, Seq):
        parts = [t for t in (rule_text(i, 1, names) for i in e.items) if t]
        s = " ".join(parts)
        return s if prec < 2 or len(parts) <= 1 else f"({s})"
    if isinstance(e, Alt):
        if not e.items:
            return f"/{_NOTHING_RX}/"
        parts = [rule_text(i, 0, names) for i in e.items]
        filled = [t for t in parts if t]
        if not filled:
            return ""
        s = " | ".join(filled)
        if len(filled) < len(parts):  # the empty string is one of the alternatives
            return f"[{s}]"
        return s if prec == 0 or len(filled) == 1 else f"({s})"
    if isinstance(e, Repeat):
        inner = rule_text(e.item, 2, names)
        if not inner:
            return ""
        if (e.min, e.max) == (0, 1):
            return f"[{rule_text(e.item, 0, names)}]" if prec < 2 else f"{inner}?"
        if e.max is None and e.min <= 1:
            return inner + ("*" if e.min == 0 else "+")
        if e.max is None:
            return f"{inner}~{e.min} {inner}*"
        return f"{inner}~{e.min}" if e.min == e.max else f"{inner}~{e.min}..{e.max}"
    if _is_regular(e):
        return "/" + regex_text(e) + "/"
    raise ArgumentTypeError(f"not a rule expression: {e!r}")


def _refs(e: Expr, out: set[str]) -> None:
    if isinstance(e, Ref):
        out.add(e.name)
    elif isinstance(e, (Seq, Alt, And)):
        for i in e.items:
            _refs(i, out)
    elif isinstance(e, (Repeat, Not)):
        _refs(e.item, out)


def _reachable(g: Grammar) -> set[str]:
    seen: set[str] = set()
    todo = [g.start, *g.ignore]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        body = g.rules.get(n, g.terminals.get(n))
        if body is not None:
            refs: set[str] = set()
            _refs(body, refs)
            todo.extend(refs - seen)
    return seen


def _lark_names(names: list[str], rule: bool) -> dict[str, str]:
    """Lark's names: rules ``_?[a-z][_a-z0-9]*``, terminals ``_?[A-Z][_A-Z0-9]*``. Names
    Lark made up (``__ANON_0``, ``__start_star_0``) are refused when read back: renamed."""
    ok = re.compile(r"_?[a-z][_a-z0-9]*" if rule else r"_?[A-Z][_A-Z0-9]*")
    out = {n: n for n in names if ok.fullmatch(n)}
    taken = set(out.values())
    for n in names:
        if n in out:
            continue
        base = re.sub(r"[^_a-zA-Z0-9]", "_", n).strip("_")
        base = (base.lower() if rule else base.upper()) or ("rule" if rule else "TERM")
        if not base[0].isalpha():
            base = ("r" if rule else "T") + base
        name, k = base, 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        out[n] = name
        taken.add(name)
    return out


def grammar_to_lark(g: Grammar) -> str:
    keep = _reachable(g)
    rules = [g.start] + [n for n in g.rules if n != g.start and n in keep]
    terms = [n for n in g.terminals if n in keep]
    names = {**_lark_names(rules, rule=True), **_lark_names(terms, rule=False)}
    lines = []
    for name in rules:
        lines.append(f"{names[name]}: {rule_text(g.rules[name], 0, names)}".rstrip())
    for name in terms:
        lines.append(f"{names[name]}: /{regex_text(g.terminals[name], 0, g.terminals)}/")
    for name in g.ignore:
        lines.append(f"%ignore {names.get(name, name)}")
    # the extensions used, last (the text starts with the start rule, as Lark texts do)
    if any(_uses_ops(e) for e in [*g.rules.values(), *g.terminals.values()]):
        lines.append(OPS_LINE)
    if not g.longest_match:
        lines.append(ANYWHERE_LINE)
    return "\n".join(lines) + "\n"
