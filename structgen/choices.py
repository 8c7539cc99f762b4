"""Bare ``Literal`` / ``Enum`` output types: the chosen value's text, unquoted.

A classifier's answer is a word, not a JSON document: ``Literal["yes", "no"]`` is generated
as ``yes`` or ``no`` (not ``"yes"``), and parsed back to the ``Literal`` value; an ``Enum``
as the text of a member's value, parsed back to the member. The text of a value is the
string itself for a ``str``, the JSON text otherwise (``1``, ``true``, ``null``), so a
``Literal[1, 2]`` or an ``IntEnum`` reads as before.

Inside a JSON value (a field of a model, an item of a list) a ``Literal`` or ``Enum`` stays
a JSON string: only the whole output is unquoted. When two values would have the same text
(``Literal["1", 1]``), the output stays JSON so that the text says which one it is.
"""

from __future__ import annotations

import enum
import json
import typing
from typing import Any

from . import ir
from .errors import OutputValidationError

__all__ = ["choice_output", "choices"]


def choices(tp: Any) -> list[Any] | None:
    """The values of a bare ``Literal`` (its arguments) or ``Enum`` (its members), else None."""
    if typing.get_origin(tp) is typing.Literal:
        values: list[Any] = []
        for arg in typing.get_args(tp):
            # Literal[Literal["a"], "b"] is flattened by typing; nested enums are members
            values.append(arg)
        return values
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return list(tp)
    return None


def _text(value: Any) -> str | None:
    """The unquoted text of one value, or None when it has none (a float, a tuple...)."""
    if isinstance(value, enum.Enum):
        return _text(value.value)
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, int)):
        return json.dumps(value)
    return None


def choice_output(tp: Any) -> Any:
    """The :class:`~structgen.types.Output` of a bare ``Literal`` / ``Enum``, or None when
    ``tp`` is not one, or its values have no distinct unquoted texts (then it is JSON)."""
    from .types import Output

    values = choices(tp)
    if not values:
        return None
    by_text: dict[str, Any] = {}
    for v in values:
        t = _text(v)
        if t is None or (t in by_text and by_text[t] != v):
            return None
        by_text.setdefault(t, v)
    expr = ir.alt(*(ir.Text(t) for t in by_text))
    grammar = ir.regular_grammar(expr)

    def parse(text: str) -> Any:
        try:
            return by_text[text]
        except KeyError:
            raise OutputValidationError(f"{text!r} is not one of {list(by_text)}") from None

    return Output(grammar, parse, tp)
