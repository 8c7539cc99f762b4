"""Attack: one compiled constraint shared by several threads while its caches evict.

Every thread walks its own matchers at random through the constraint (each token drawn
from the mask must then be accepted); the caches are bounded at 2 MiB, so masks and
memos are evicted all the time, by one thread while others read or fill them. A switch
interval of a microsecond makes the threads interleave between almost every bytecode.
Before the engine lock this crashed within seconds (``RuntimeError: dictionary changed
size during iteration`` in ``TokenIndex.mask``, ``KeyError`` in the element-mask
bookkeeping and in the lazy DFAs' tables). Eight threads make it fail every time (four do
now and then)."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest
from peak_memory import peak_bytes, reset_peak

import structgen

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "n": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "n"],
}


@pytest.fixture
def interleaved():
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _walks(compiled, seed: int, walks: int, errors: list) -> None:
    rng = np.random.default_rng(seed)
    try:
        for _ in range(walks):
            m = compiled.matcher()
            for _ in range(40):
                t = int(rng.choice(np.flatnonzero(m.mask())))
                if t in compiled.eos_token_ids:
                    break
                if not m.advance(t):
                    raise AssertionError(f"token {t} was in the mask but advance() refused it")
    except Exception as e:  # noqa: BLE001 - every error a thread meets is the failure
        errors.append(f"{type(e).__name__}: {e}")


def test_shared_constraint_from_many_threads_while_caches_evict(tokenizers, interleaved):
    tok = tokenizers["llama3"]  # 128,256 tokens: a 2 MiB bound holds a few masks only
    limits = structgen.Limits(max_cache_bytes=2 << 20)
    compiled = structgen.compile(structgen.JsonSchema(SCHEMA), tok, limits=limits, persist=False)
    errors: list = []
    reset_peak()
    rss0 = peak_bytes()
    threads = [
        threading.Thread(target=_walks, args=(compiled, seed, 200, errors)) for seed in range(8)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    elapsed = time.perf_counter() - t0
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors[:3]
    assert elapsed < 240, f"took {elapsed:.0f} s"
    grown = peak_bytes() - rss0
    assert grown < 1 << 30, f"peak RSS grew by {grown >> 20} MiB"
    # the bound held while four threads filled the caches
    assert compiled.index.cache_bytes() <= 2 * limits.max_cache_bytes
