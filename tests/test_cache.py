"""The bounded in-memory cache: least recently used first out, bounded in bytes (with
bytes its owner counts for the entries together) and in items."""

from __future__ import annotations

from structgen.cache import BoundedCache


def test_least_recently_used_goes_first_and_every_drop_is_reported():
    dropped = []
    c = BoundedCache(300, on_evict=lambda k, v: dropped.append((k, v)))
    c.put("a", 1, 100)
    c.put("b", 2, 100)
    c.put("c", 3, 100)
    assert c.get("a") == 1  # a is now the most recent
    c.put("d", 4, 100)
    assert "b" not in c and dropped == [("b", 2)]
    c.put("a", 5, 100)  # replaced
    assert dropped[-1] == ("a", 1) and c.get("a") == 5
    c.clear()
    assert sorted(dropped[2:]) == [("a", 5), ("c", 3), ("d", 4)]
    assert len(c) == 0 and c.nbytes == 0 and c.evictions == 5


def test_extra_bytes_count_toward_the_bound():
    c = BoundedCache(1000)
    for k in range(5):
        c.put(k, k, 100)
    assert len(c) == 5
    c.extra = 700  # shared arrays the owner counts once for all entries
    c.put(5, 5, 100)
    assert c.nbytes + c.extra <= 1000 and len(c) == 3 and c.get(0) is None


def test_items_are_bounded_too():
    c = BoundedCache(1 << 20, max_items=2)
    for k in range(3):
        c.put(k, k)
    assert len(c) == 2 and 0 not in c


def test_peek_finds_an_entry_without_refreshing_it():
    c = BoundedCache(200)
    c.put("a", 1, 100)
    c.put("b", 2, 100)
    assert c.peek("a") == 1 and c.peek("z", 0) == 0 and c.hits == 0
    c.put("c", 3, 100)  # a, peeked but not refreshed, is still the oldest
    assert "a" not in c and c.peek("b") == 2 and c.get("c") == 3 and c.hits == 1
