"""Nesting bounds for specs: a schema nested deeper than ``Limits.max_spec_depth`` is
refused with :class:`~structgen.errors.LimitError` naming the JSON pointer where it goes too
deep, before any recursive walk (``json.dumps``, the document index, the lowering,
``jsonschema``) can meet Python's recursion limit.

The depth is counted in JSON containers (objects and arrays) of the schema document, and
while lowering in nested rules (``$ref`` chains and subschemas lowered inside one another).
"""

from __future__ import annotations

import json
import re

from ..errors import LimitError
from ..limits import DEFAULT_LIMITS
from .document import join, show

__all__ = ["check_value", "check_text", "too_deep"]


def too_deep(ptr: str, limit: int, what: str = "the schema") -> LimitError:
    return LimitError(
        f"{what} is nested more than {limit} levels deep at {show(ptr)} (Limits.max_spec_depth)"
    )


def check_value(value, limit: int | None = None, what: str = "the schema") -> None:
    """Raise :class:`LimitError` if ``value`` nests containers more than ``limit`` deep."""
    limit = DEFAULT_LIMITS.max_spec_depth if limit is None else limit
    stack = [(value, "", 0)]
    while stack:
        v, ptr, d = stack.pop()
        if isinstance(v, dict):
            items = v.items()
        elif isinstance(v, list):
            items = enumerate(v)
        else:
            continue
        if d >= limit:
            raise too_deep(ptr, limit, what)
        for k, x in items:
            if isinstance(x, (dict, list)):
                stack.append((x, join(ptr, str(k)), d + 1))


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]')


def check_text(text: str, limit: int | None = None, what: str = "the schema") -> None:
    """:func:`check_value` on JSON text, before it is parsed (a linear scan of its brackets;
    malformed text is left for the parser to report)."""
    limit = DEFAULT_LIMITS.max_spec_depth if limit is None else limit
    frames: list = []  # [kind, pointer, current key, current index]
    last = None
    for m in _TOKEN.finditer(text):
        t = m.group()
        if t in "{[":
            if not frames:
                ptr = ""
            else:
                kind, pptr, key, index = frames[-1]
                ptr = join(pptr, key if kind == "{" else str(index))
            if len(frames) >= limit:
                raise too_deep(ptr, limit, what)
            frames.append([t, ptr, "", 0])
        elif t in "}]":
            if frames:
                frames.pop()
        elif t == ":":
            if frames and last is not None:
                try:
                    frames[-1][2] = json.loads(last)
                except ValueError:
                    frames[-1][2] = last[1:-1]
        elif t == ",":
            if frames and frames[-1][0] == "[":
                frames[-1][3] += 1
        else:
            last = t


#: nested model levels allowed per level of ``max_spec_depth``: pydantic writes a model's
#: JSON Schema with ~16 Python frames per nested model and meets the recursion limit (1000)
#: near 60 levels; 128 // 4 = 32 levels stays well below it
MODEL_LEVELS_DIVISOR = 4


def _field_types(tp) -> list:
    """(name, annotation) of a pydantic model's, dataclass's or TypedDict's fields."""
    fields = getattr(tp, "model_fields", None)
    if isinstance(fields, dict):
        return [(k, getattr(f, "annotation", None)) for k, f in fields.items()]
    hints = None
    if isinstance(tp, type) and (
        hasattr(tp, "__dataclass_fields__") or hasattr(tp, "__required_keys__")
    ):
        import typing

        try:
            hints = typing.get_type_hints(tp)
        except Exception:  # noqa: BLE001 - unresolvable hints: pydantic reports them
            hints = None
    return list(hints.items()) if hints else []


def _nested(annotation) -> list:
    """The classes with fields inside an annotation (``list[M]``, ``M | None``...)."""
    import typing

    out, todo = [], [annotation]
    while todo:
        a = todo.pop()
        if isinstance(a, type) and _field_types(a):
            out.append(a)
        else:
            todo.extend(x for x in typing.get_args(a) if x is not None)
    return out


def check_type(tp, limit: int | None = None) -> None:
    """Raise :class:`LimitError` if models nest more than ``limit // 4`` levels inside one
    another (recursive models are fine: a model already on the path is not entered again)."""
    limit = DEFAULT_LIMITS.max_spec_depth if limit is None else limit
    levels = max(limit // MODEL_LEVELS_DIVISOR, 1)
    name = getattr(tp, "__name__", repr(tp))
    stack = [(t, name, (t,)) for t in _nested(tp)]
    while stack:
        t, path, on_path = stack.pop()
        if len(on_path) > levels:
            raise LimitError(
                f"the output type {name} nests models more than {levels} levels deep at "
                f"{path} (Limits.max_spec_depth // {MODEL_LEVELS_DIVISOR})"
            )
        for field, ann in _field_types(t):
            for child in _nested(ann):
                if child not in on_path:
                    stack.append((child, f"{path}.{field}", on_path + (child,)))
