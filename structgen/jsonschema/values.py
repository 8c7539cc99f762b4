"""JSON values as hashable keys under JSON equality, for one-pass deduplication of ``enum``
values (``1`` equals ``1.0``; ``true`` is not ``1``; object key order does not matter)."""

from __future__ import annotations

from .. import deadline

__all__ = ["json_key", "unique"]


def json_key(v):
    """A hashable key equal for JSON-equal values (as ``jsonschema``'s ``equal`` decides)."""
    if isinstance(v, bool):
        return ("b", v)
    if v is None:
        return ("z",)
    if isinstance(v, (int, float)):
        return ("n", v)  # int and float compare (and hash) by exact value
    if isinstance(v, str):
        return ("s", v)
    if isinstance(v, list):
        return ("l", tuple(json_key(x) for x in v))
    if isinstance(v, dict):
        return ("d", frozenset((k, json_key(x)) for k, x in v.items()))
    return ("?", id(v))


def unique(values) -> list:
    """``values`` without later JSON-equal repeats, in order (linear time)."""
    seen: set = set()
    out = []
    for i, v in enumerate(values):
        if not i & 255:
            deadline.check()
        k = json_key(v)
        if k not in seen:
            seen.add(k)
            out.append(v)
    return out
