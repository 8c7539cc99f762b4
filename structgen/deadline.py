"""Wall-clock deadlines that long loops check as they go.

A phase of work (compiling a spec, one step's first-visit work) runs inside
``with deadline(seconds, "what"):``; the loops inside it call :func:`check` every so often
and get a :class:`LimitError` as soon as the time is up, rather than when the phase ends.
The deadline lives in a context variable, so each thread (and each asyncio task) has its
own, and code that runs outside any phase pays one lookup per check.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import LimitError

__all__ = ["Deadline", "deadline", "check", "remaining"]


class Deadline:
    """A point in time (``time.perf_counter()`` scale) and what to say when it passes."""

    __slots__ = ("at", "seconds", "what")

    def __init__(self, seconds: float, what: str):
        self.seconds = float(seconds)
        self.at = time.perf_counter() + self.seconds
        self.what = what

    def check(self) -> None:
        if time.perf_counter() > self.at:
            raise LimitError(f"{self.what} took longer than {self.seconds:g} s")


_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "structgen_deadline", default=None
)


@contextmanager
def deadline(seconds: float | None, what: str) -> Iterator[Deadline | None]:
    """Run the body under a deadline of ``seconds`` (``None``: no new bound).

    Nested phases keep the earlier of the two deadlines, so an inner phase never extends
    the time an outer one allowed.
    """
    outer = _CURRENT.get()
    if seconds is None:
        yield outer
        return
    d = Deadline(seconds, what)
    if outer is not None and outer.at <= d.at:
        d = outer
    token = _CURRENT.set(d)
    try:
        yield d
    finally:
        _CURRENT.reset(token)


def check() -> None:
    """Raise :class:`LimitError` if the current phase's deadline has passed."""
    d = _CURRENT.get()
    if d is not None and time.perf_counter() > d.at:
        raise LimitError(f"{d.what} took longer than {d.seconds:g} s")


def remaining() -> float | None:
    """Seconds left before the current deadline, or ``None`` outside any phase."""
    d = _CURRENT.get()
    return None if d is None else d.at - time.perf_counter()
