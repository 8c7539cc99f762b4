"""A bounded LRU cache accounted in bytes (every in-memory cache of structgen is bounded)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class BoundedCache:
    def __init__(self, max_bytes: int, max_items: int | None = None):
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._d: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, default=None):
        item = self._d.get(key)
        if item is None:
            self.misses += 1
            return default
        self._d.move_to_end(key)
        self.hits += 1
        return item[0]

    def put(self, key: Hashable, value: Any, nbytes: int = 64) -> Any:
        old = self._d.pop(key, None)
        if old is not None:
            self.nbytes -= old[1]
        self._d[key] = (value, nbytes)
        self.nbytes += nbytes
        while self._d and (
            self.nbytes > self.max_bytes
            or (self.max_items is not None and len(self._d) > self.max_items)
        ):
            _, (_, n) = self._d.popitem(last=False)
            self.nbytes -= n
        return value

    def clear(self) -> None:
        self._d.clear()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._d
