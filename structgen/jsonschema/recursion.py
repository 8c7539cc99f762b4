"""Calls into ``jsonschema`` with Python's usual recursion budget.

The lowering raises the recursion limit for itself (see ``Lowerer.grammar``). At that limit
a recursion without end in ``jsonschema`` — validating an enum value against
``{"oneOf": [{"$ref": "#"}], "enum": [1]}`` — overflows the C stack and kills the process
instead of raising ``RecursionError``. :func:`shallow_call` gives the callee the default
budget of 1,000 frames above the current depth.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

#: frames a call may add above the current depth (Python's default limit)
BUDGET = 1_000


def shallow_call(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with at most :data:`BUDGET` more frames than the caller's depth (never
    more than the current limit); a deeper recursion raises ``RecursionError``."""
    depth = 0
    f = sys._getframe()
    while f is not None:
        depth += 1
        f = f.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(min(old, depth + BUDGET))
    try:
        return fn(*args)
    finally:
        sys.setrecursionlimit(old)
