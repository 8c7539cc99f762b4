"""The persistent cache: safe formats, exact keys, bounded size, corrupted/stale entries rebuilt."""

from __future__ import annotations

import numpy as np
import pytest
from diskcache_files import read_entry, write_entry

import structgen
from structgen import compiler, diskcache
from structgen.diskcache import DiskCache


@pytest.fixture
def cache(tmp_path):
    c = diskcache.configure(tmp_path / "dc")
    yield c
    diskcache.configure(True)


def _forget_in_memory():
    """Drop the in-process compile caches, as a new process would start."""
    compiler._INDEXES.clear()
    compiler._AUTOMATA.clear()
    from structgen import vocab

    vocab._cache.clear()


# --------------------------------------------------------------------------- DiskCache


def test_roundtrip_and_exact_keys(tmp_path):
    c = DiskCache(tmp_path)
    arrays = {"a": np.arange(10, dtype=np.int32), "b": np.frombuffer(b"xyz", dtype=np.uint8)}
    assert c.put("k", ["key", 1], arrays, {"note": "hi"})
    meta, got = c.get("k", ["key", 1])
    assert meta["note"] == "hi"
    assert set(got) == {"a", "b"}
    assert np.array_equal(got["a"], arrays["a"])
    assert c.get("k", ["key", 2]) is None
    assert c.get("other", ["key", 1]) is None


@pytest.mark.parametrize("damage", ["garbage", "truncate", "flip"])
def test_corrupted_entries_are_ignored_and_removed(tmp_path, damage):
    c = DiskCache(tmp_path)
    c.put("k", "key", {"a": np.arange(1000, dtype=np.int64)})
    (f,) = c.entries()
    data = f.read_bytes()
    if damage == "garbage":
        f.write_bytes(b"not a zip file at all")
    elif damage == "truncate":
        f.write_bytes(data[: len(data) // 2])
    else:  # one byte changed inside the stored array: the checksum catches it
        i = data.index(np.arange(1000, dtype=np.int64).tobytes()[800:816])
        f.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :])
    assert c.get("k", "key") is None
    assert not f.exists()
    c.put("k", "key", {"a": np.arange(1000, dtype=np.int64)})  # rebuilt
    assert c.get("k", "key") is not None


def test_stale_version_is_ignored(tmp_path):
    c = DiskCache(tmp_path)
    c.put("k", "key", {"a": np.zeros(3)})
    (f,) = c.entries()
    # an entry written by another version under the same file name
    header, arrays = read_entry(f)
    header["version"] = "0.0.0-old"
    write_entry(f, header, arrays)
    assert c.get("k", "key") is None
    assert not f.exists()


def test_pickled_payloads_are_never_loaded(tmp_path):
    c = DiskCache(tmp_path)
    c.put("k", "key", {"a": np.zeros(3)})
    (f,) = c.entries()
    with open(f, "wb") as out:  # an .npz that needs pickle to load, at the entry's path
        np.savez(out, a=np.array([object()], dtype=object))
    assert c.get("k", "key") is None
    assert not f.exists()


def test_bounded_in_bytes_oldest_first(tmp_path):
    import os
    import time

    c = DiskCache(tmp_path, max_bytes=30_000)
    for i in range(5):
        c.put("k", i, {"a": np.zeros(1000, dtype=np.int64)})  # ~8 KB each
        f = c._file("k", i)
        os.utime(f, (time.time() - 100 + i, time.time() - 100 + i))
    assert c.size() <= 30_000
    assert c.get("k", 4) is not None
    assert c.get("k", 0) is None
    assert not c.put("k", "huge", {"a": np.zeros(10_000, dtype=np.int64)})  # over the bound


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("STRUCTGEN_DISK_CACHE", "off")
    try:
        assert diskcache.configure(True) is None
        assert diskcache.get_cache() is None
    finally:
        monkeypatch.delenv("STRUCTGEN_DISK_CACHE")
        diskcache.configure(True)


# --------------------------------------------------------------------------- vocabularies


@pytest.mark.assets
def test_vocabulary_roundtrip(cache, tokenizers):
    tok = tokenizers["smollm2"]
    fresh = structgen.Vocabulary.from_tokenizer(tok, vocab_size=49152)
    assert diskcache.load_vocabulary(tok, 49152, (2,)) is None
    assert diskcache.save_vocabulary(tok, 49152, (2,), fresh)
    got = diskcache.load_vocabulary(tok, 49152, (2,))
    assert got is not None and got is not fresh
    assert got.tokens == fresh.tokens and got.eos_ids == fresh.eos_ids and got.size == fresh.size
    # another logits width or EOS set is another entry
    assert diskcache.load_vocabulary(tok, 49153, (2,)) is None
    assert diskcache.load_vocabulary(tok, 49152, (0, 2)) is None


@pytest.mark.assets
def test_compile_uses_and_rebuilds_the_vocabulary_entry(cache, tokenizers):
    tok = tokenizers["smollm2"]
    _forget_in_memory()
    a = structgen.compile(structgen.Regex("[ab]+"), tok, vocab_size=49152)
    assert any(p.name.startswith("vocab-") for p in cache.entries())
    (f,) = [p for p in cache.entries() if p.name.startswith("vocab-")]
    f.write_bytes(f.read_bytes()[:100])  # corrupted
    _forget_in_memory()
    b = structgen.compile(structgen.Regex("[ab]+"), tok, vocab_size=49152)
    assert b.vocabulary.fingerprint == a.vocabulary.fingerprint
    assert f.exists() and f.stat().st_size > 100  # rebuilt


# --------------------------------------------------------------------------- masks


def _walk(compiled, tok, texts):
    masks = []
    for text in texts:
        m = compiled.matcher()
        for t in tok(text, add_special_tokens=False)["input_ids"]:
            masks.append(m.mask().copy())
            assert m.advance(t)
        masks.append(m.mask().copy())
    return masks


@pytest.mark.assets
def test_masks_are_stored_and_reattached_exactly(cache, tokenizers):
    tok = tokenizers["smollm2"]
    spec = structgen.Regex(r"(\d{1,3}\.){3}\d{1,3}|[a-z]+@[a-z]+\.com")
    texts = ["192.168.0.1", "ann@example.com"]
    _forget_in_memory()
    c1 = structgen.compile(spec, tok, vocab_size=49152)
    expected = _walk(c1, tok, texts)
    assert c1.save()
    assert not c1.save()  # nothing new
    _forget_in_memory()
    c2 = structgen.compile(spec, tok, vocab_size=49152)
    assert c2.index is not c1.index
    # the states along the walked texts already carry their masks
    m = c2.matcher()
    assert m.state._mask is not None
    assert all(np.array_equal(x, y) for x, y in zip(_walk(c2, tok, texts), expected, strict=True))
    # and a different grammar does not see them
    _forget_in_memory()
    c3 = structgen.compile(structgen.Regex(r"[a-z]+@[a-z]+\.com"), tok, vocab_size=49152)
    m3 = c3.matcher()  # (the initial mask is computed by compile itself)
    assert m3.advance(tok("ann@example.com", add_special_tokens=False)["input_ids"][0])
    assert m3.state._mask is None


@pytest.mark.assets
def test_corrupted_masks_entry_is_rebuilt(cache, tokenizers):
    tok = tokenizers["smollm2"]
    spec = structgen.Regex(r"[a-z]{2,8}")
    _forget_in_memory()
    c1 = structgen.compile(spec, tok, vocab_size=49152)
    expected = _walk(c1, tok, ["hello"])
    c1.save()
    (f,) = [p for p in cache.entries() if p.name.startswith("masks-")]
    # a well-formed file whose stored path is not valid for the grammar
    header, arrays = read_entry(f)
    arrays["tokens"][:] = tok("!!", add_special_tokens=False)["input_ids"][0]
    write_entry(f, header, arrays)
    _forget_in_memory()
    c2 = structgen.compile(spec, tok, vocab_size=49152)
    assert not f.exists()  # the bad entry was dropped, nothing attached from it
    assert all(
        np.array_equal(x, y) for x, y in zip(_walk(c2, tok, ["hello"]), expected, strict=True)
    )
    assert c2.save() and f.exists()


# --------------------------------------------------------------------------- Unicode tables


def test_unicode_tables_are_kept_on_disk(cache):
    """The tables of \\w, \\d and \\s are written on first use and read back, equal to
    computing them; an unreadable entry is computed again; with no disk cache they are
    computed as before."""
    import re

    from structgen import unicode

    def fresh(letter):
        unicode.ranges_matching.cache_clear()
        return unicode.category(letter)

    try:
        unicode.category.cache_clear()
        first = {c: fresh(c) for c in "wds"}
        files = sorted(cache.path.glob("unicode-*.sgc"))
        assert len(files) == 3
        for c in "wds":  # what the regex engine says, on a sample of code points
            rx = re.compile(rf"\{c}")
            for cp in range(0, 0x10FFFF, 997):
                inside = any(a <= cp <= b for a, b in first[c])
                assert inside == bool(rx.fullmatch(chr(cp))), (c, hex(cp))
        unicode.category.cache_clear()
        assert {c: fresh(c) for c in "wds"} == first  # read back
        for f in files:
            f.write_bytes(b"not a zip file")
        unicode.category.cache_clear()
        assert {c: fresh(c) for c in "wds"} == first  # rebuilt
        diskcache.configure(None)
        unicode.category.cache_clear()
        assert {c: fresh(c) for c in "wds"} == first
    finally:
        unicode.ranges_matching.cache_clear()
        unicode.category.cache_clear()
