"""Every error structgen raises on purpose is a StructgenError.

A server catches ``StructgenError`` to tell a bad request from a bug; a ``ValueError`` from
deep inside would slip past that. Which classes ``raise`` statements use cannot be seen
from the public API one call at a time, so this reads the package's source: a ``raise`` of
a builtin exception class is allowed only where it never leaves structgen (it is caught
and turned into a structgen error nearby), and then the line says so with an
``# internal:`` comment naming where.
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import structgen
from structgen import errors

PACKAGE = Path(structgen.__file__).parent
BUILTIN_ERRORS = {
    name
    for name, v in vars(builtins).items()
    if isinstance(v, type) and issubclass(v, BaseException)
}


def _raised_name(node: ast.Raise) -> str | None:
    exc = node.exc
    if isinstance(exc, ast.Call):
        exc = exc.func
    return exc.id if isinstance(exc, ast.Name) else None


def _builtin_raises() -> list[str]:
    found = []
    for f in sorted(PACKAGE.rglob("*.py")):
        lines = f.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines), str(f))):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            name = _raised_name(node)
            if name not in BUILTIN_ERRORS:
                continue
            near = " ".join(lines[node.lineno - 2 : node.end_lineno])
            if "# internal:" in near:
                continue
            found.append(f"{f.relative_to(PACKAGE.parent)}:{node.lineno}: raise {name}")
    return found


def test_no_builtin_exception_leaves_structgen():
    # (module __getattr__ must raise AttributeError for hasattr() to work)
    found = [x for x in _builtin_raises() if not x.endswith("raise AttributeError")]
    assert not found, "raise a StructgenError subclass instead:\n" + "\n".join(found)


def test_every_error_class_is_a_structgen_error():
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert len(classes) > 5
    assert all(issubclass(c, errors.StructgenError) for c in classes)
