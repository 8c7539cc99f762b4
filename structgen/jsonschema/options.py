"""The spelling options of :class:`~structgen.jsonschema.JsonSchema` and the whitespace layouts.

``spelling="canonical"`` admits one text per value (see the package docstring);
``spelling="any"`` admits every valid JSON spelling. The other options default from it:

=============  =================================  ===========
option         canonical                          any
=============  =================================  ===========
whitespace     :data:`DEFAULT_CANONICAL_WHITESPACE`  ``"bounded"``
key_order      ``"schema"``                       ``"any"``
extra_keys     ``"explicit"``                     ``"any"``
repeats        ``"avoid"``                        ``"allow"``
=============  =================================  ===========

``repeats`` is not part of the grammar: with ``"avoid"``, generation refuses an array item
spelled like an earlier item of its array wherever another continuation is allowed
(:mod:`structgen.hf.fresh_items`); ``"allow"`` leaves repeats to the model.

A :class:`Layout` gives the punctuation terminals of one whitespace style, per nesting depth
(only ``"indent"`` depends on it).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from ..errors import ArgumentError
from ..ir import Repeat, Text, seq

SPELLINGS = ("canonical", "any")
WHITESPACES = ("compact", "spaced", "indent", "bounded")
KEY_ORDERS = ("schema", "any")
EXTRA_KEYS = ("explicit", "any")
REPEATS = ("avoid", "allow")

#: the whitespace style of ``spelling="canonical"`` when none is given: ``json.dumps``'
#: default separators, ``", "`` and ``": "``
DEFAULT_CANONICAL_WHITESPACE = "spaced"

#: whitespace allowed in one gap in "bounded" mode: [ \t\n\r]{0,MAX_WS}
MAX_WS = 20
WS_CHAR = ir.Chars(((0x09, 0x0A), (0x0D, 0x0D), (0x20, 0x20)))

#: "indent": containers nested deeper than this are not generated (their values are
#: written as scalars or not at all); ``json.dumps(indent=2)`` layout up to this depth
MAX_INDENT_DEPTH = 24
INDENT = "  "


def _check(name: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ArgumentError(f"{name} must be one of {allowed}, not {value!r}")


@dataclass(frozen=True)
class Options:
    """Resolved spelling options (no ``None`` left)."""

    spelling: str = "canonical"
    whitespace: str = DEFAULT_CANONICAL_WHITESPACE
    key_order: str = "schema"
    extra_keys: str = "explicit"
    repeats: str = "avoid"

    @classmethod
    def resolve(
        cls, spelling="canonical", whitespace=None, key_order=None, extra_keys=None, repeats=None
    ):
        _check("spelling", spelling, SPELLINGS)
        canonical = spelling == "canonical"
        if whitespace is None:
            whitespace = DEFAULT_CANONICAL_WHITESPACE if canonical else "bounded"
        if key_order is None:
            key_order = "schema" if canonical else "any"
        if extra_keys is None:
            extra_keys = "explicit" if canonical else "any"
        if repeats is None:
            repeats = "avoid" if canonical else "allow"
        _check("whitespace", whitespace, WHITESPACES)
        _check("key_order", key_order, KEY_ORDERS)
        _check("extra_keys", extra_keys, EXTRA_KEYS)
        _check("repeats", repeats, REPEATS)
        return cls(spelling, whitespace, key_order, extra_keys, repeats)

    @property
    def canonical(self) -> bool:
        return self.spelling == "canonical"

    def non_defaults(self) -> dict:
        """The options that differ from what ``spelling`` alone gives (for ``repr``)."""
        base = Options.resolve(self.spelling)
        out = {}
        if self.spelling != "canonical":
            out["spelling"] = self.spelling
        for name in ("whitespace", "key_order", "extra_keys", "repeats"):
            if getattr(self, name) != getattr(base, name):
                out[name] = getattr(self, name)
        return out


class Layout:
    """Punctuation of one whitespace style: ``{`` ``}`` ``[`` ``]`` ``,`` ``:`` with the
    whitespace that goes with them, at a nesting depth (0: the top-level value)."""

    def __init__(self, style: str):
        _check("whitespace", style, WHITESPACES)
        self.style = style
        self.depth_aware = style == "indent"
        self.gap = Repeat(WS_CHAR, 0, MAX_WS) if style == "bounded" else ir.EMPTY
        self.colon = {
            "compact": Text(":"),
            "spaced": Text(": "),
            "indent": Text(": "),
            "bounded": seq(self.gap, Text(":"), self.gap),
        }[style]

    def _inner(self, depth: int) -> ir.Expr:
        """Whitespace after an opening bracket or a comma at ``depth``."""
        if self.style == "indent":
            return Text("\n" + INDENT * (depth + 1))
        return self.gap

    def _outer(self, depth: int) -> ir.Expr:
        """Whitespace before a closing bracket at ``depth``."""
        if self.style == "indent":
            return Text("\n" + INDENT * depth)
        return self.gap

    def open(self, ch: str, depth: int) -> ir.Expr:
        return seq(Text(ch), self._inner(depth))

    def close(self, ch: str, depth: int) -> ir.Expr:
        return seq(self._outer(depth), Text(ch))

    def empty(self, pair: str, depth: int) -> ir.Expr:
        return seq(Text(pair[0]), self.gap, Text(pair[1]))

    def comma(self, depth: int) -> ir.Expr:
        if self.style == "spaced":
            return Text(", ")
        return seq(self.gap, Text(","), self._inner(depth))
