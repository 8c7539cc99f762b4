"""A bounded LRU cache accounted in bytes (every in-memory cache of structgen is bounded),
and the lock that makes the engine's caches safe to share between threads.

Thread safety: a compiled constraint (its TokenIndex, the automaton and DFAs it shares
with other constraints, the vocabulary's arrays) may be used by many threads at once, each
with its own Matcher or LogitsProcessor. A state's mask and moves, once computed, are read
without any lock; everything that computes or evicts (a first visit, a cache eviction,
compiling) runs under :data:`ENGINE_LOCK`, one thread at a time. The caches are shared
far and wide (a DFA serves every constraint compiled from the same grammar, and
``%ignore`` DFAs every grammar), so a finer lock would have to guard each of them;
first visits are Python code under the GIL and would not run in parallel anyway.
:class:`BoundedCache` itself takes no lock: its users hold :data:`ENGINE_LOCK`.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

# held while the engine computes or evicts anything (see the module docstring); re-entrant:
# a first visit computes other states' masks, compile() builds an index
ENGINE_LOCK = threading.RLock()

_F = TypeVar("_F", bound=Callable[..., Any])


def locked(fn: _F) -> _F:
    """``fn`` run under :data:`ENGINE_LOCK`."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with ENGINE_LOCK:
            return fn(*args, **kwargs)

    return run  # type: ignore[return-value]


class BoundedCache:
    """``max_bytes`` bounds the entries' bytes plus ``extra``: bytes their owner counts
    for them together (arrays several entries share). ``on_evict(key, value)`` is called
    for every entry let go (evicted, replaced or cleared)."""

    def __init__(self, max_bytes: int, max_items: int | None = None, on_evict=None):
        self.max_bytes = max_bytes
        self.max_items = max_items
        self.on_evict = on_evict
        self._d: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.nbytes = 0
        self.extra = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0  # entries let go so far

    def get(self, key: Hashable, default=None):
        item = self._d.get(key)
        if item is None:
            self.misses += 1
            return default
        self._d.move_to_end(key)
        self.hits += 1
        return item[0]

    def peek(self, key: Hashable, default=None):
        """:meth:`get` without refreshing the entry's place or counting a hit: for a
        lookup made many times per operation (a plain dict lookup), where the order of
        insertion is order enough."""
        item = self._d.get(key)
        return default if item is None else item[0]

    def put(self, key: Hashable, value: Any, nbytes: int = 64) -> Any:
        old = self._d.pop(key, None)
        if old is not None:
            self._dropped(key, old)
        self._d[key] = (value, nbytes)
        self.nbytes += nbytes
        while self._d and (
            self.nbytes + self.extra > self.max_bytes
            or (self.max_items is not None and len(self._d) > self.max_items)
        ):
            self._dropped(*self._d.popitem(last=False))
        return value

    def _dropped(self, key: Hashable, item: tuple) -> None:
        self.nbytes -= item[1]
        self.evictions += 1
        if self.on_evict is not None:
            self.on_evict(key, item[0])

    def clear(self) -> None:
        items, self._d = self._d, OrderedDict()
        for key, item in items.items():
            self._dropped(key, item)

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._d
