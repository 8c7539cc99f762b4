"""Print the Grammar IR as Lark-compatible text."""

from __future__ import annotations

import json

from .ir import Alt, And, Bytes, Chars, Expr, Grammar, Not, Ref, Repeat, Seq, Text

_REGEX_SPECIAL = set("\\.^$*+?{}[]|()/")
_CLASS_SPECIAL = set("\\]^-[/")


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
        parts = [
            f"\\x{lo:02x}" if lo == hi else f"\\x{lo:02x}-\\x{hi:02x}" for lo, hi in ranges
        ]
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


def regex_text(e: Expr, prec: int = 0) -> str:
    """Regex syntax for a terminal expression. prec: 0 alternation, 1 sequence, 2 atom."""
    if isinstance(e, Text):
        s = "".join(_char(ord(c), _REGEX_SPECIAL) for c in e.value)
        return s if prec < 2 or len(e.value) == 1 else f"(?:{s})"
    if isinstance(e, Chars):
        return _class(e.ranges)
    if isinstance(e, Bytes):
        return _class(e.ranges, byte=True)
    if isinstance(e, Seq):
        if not e.items:
            return "(?:)"
        s = "".join(regex_text(i, 1) for i in e.items)
        return s if prec < 2 and len(e.items) > 0 else f"(?:{s})"
    if isinstance(e, Alt):
        if not e.items:
            return "(?!)"
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
        return "~" + regex_text(e.item, 2)
    if isinstance(e, Ref):
        return "{" + e.name + "}"
    raise TypeError(f"not an IR expression: {e!r}")


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


def rule_text(e: Expr, prec: int = 0) -> str:
    """Lark rule-body syntax."""
    if isinstance(e, Ref):
        return e.name
    if isinstance(e, Text):
        return json.dumps(e.value, ensure_ascii=False)
    if isinstance(e, Seq):
        if not e.items:
            return '""'
        s = " ".join(rule_text(i, 1) for i in e.items)
        return s if prec < 2 or len(e.items) == 1 else f"({s})"
    if isinstance(e, Alt):
        if not e.items:
            return "/(?!)/"
        s = " | ".join(rule_text(i, 0) for i in e.items)
        return s if prec == 0 else f"({s})"
    if isinstance(e, Repeat):
        inner = rule_text(e.item, 2)
        if (e.min, e.max) == (0, 1):
            return f"[{rule_text(e.item, 0)}]" if prec < 2 else f"{inner}?"
        if e.max is None and e.min <= 1:
            return inner + ("*" if e.min == 0 else "+")
        if e.max is None:
            return f"{inner}~{e.min} {inner}*"
        return f"{inner}~{e.min}" if e.min == e.max else f"{inner}~{e.min}..{e.max}"
    if _is_regular(e):
        return "/" + regex_text(e) + "/"
    raise TypeError(f"not a rule expression: {e!r}")


def grammar_to_lark(g: Grammar) -> str:
    lines = []
    names = [g.start] + [n for n in g.rules if n != g.start]
    for name in names:
        lines.append(f"{name}: {rule_text(g.rules[name])}")
    for name, e in g.terminals.items():
        lines.append(f"{name}: /{regex_text(e)}/")
    for name in g.ignore:
        lines.append(f"%ignore {name}")
    return "\n".join(lines) + "\n"
