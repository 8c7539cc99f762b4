r"""A persistent cache on disk, in safe formats only (numpy ``.npz`` without pickle, JSON).

Three things are worth keeping between processes (measured: see
``docs/guides/caching-and-limits.md``):

* the **vocabulary** of a tokenizer (every token id's exact bytes), keyed by the
  tokenizer's files, the logits width and the EOS ids: mapping a 150k-token vocabulary
  takes most of a second;
* the **masks** a compiled grammar has computed, keyed by the grammar's Lark text, the
  vocabulary fingerprint, the limits and the structgen version. Each mask is stored with
  one token path from the start state that reaches it; loading replays the paths (a few
  dictionary and DFA steps per token) instead of recomputing the masks (a vectorised walk
  of the whole vocabulary each);
* the **Unicode tables** of ``\w``, ``\d`` and ``\s`` (see :mod:`structgen.unicode`), keyed
  by the interpreter's version and Unicode database: each takes one pass of the regex
  engine over every code point, 13-32 ms.

Every entry is one ``.npz`` file written atomically (a temporary file, then a rename) and
read with ``allow_pickle=False``. It carries its full key and format version; an entry
that cannot be read, is truncated, or belongs to another key or version is ignored and
deleted, and the caller rebuilds it. The folder is bounded in bytes (oldest entries go
first).

Settings (environment): ``STRUCTGEN_DISK_CACHE`` — a folder, or ``0``/``off`` to disable
(default: ``<structgen cache>/compiled``); ``STRUCTGEN_DISK_CACHE_BYTES`` — the bound
(default 256 MiB). :func:`configure` sets both from Python.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DiskCache",
    "configure",
    "get_cache",
    "load_ranges",
    "load_vocabulary",
    "save_vocabulary",
    "load_masks",
    "save_compiled",
    "save_ranges",
    "tokenizer_fingerprint",
]

FORMAT = 1
DEFAULT_MAX_BYTES = 256 << 20
_MAX_SAVED_MASKS = 4096
_META = "__meta__"


def _version() -> str:
    from . import __version__

    return __version__


class DiskCache:
    """Entries ``(kind, key) -> (meta dict, arrays)`` as ``.npz`` files under ``path``."""

    def __init__(self, path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES):
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()

    @staticmethod
    def digest(key: Any) -> str:
        text = json.dumps([FORMAT, _version(), key], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _file(self, kind: str, key: Any) -> Path:
        return self.path / f"{kind}-{self.digest(key)[:40]}.npz"

    def get(self, kind: str, key: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        """The entry, or None when it is absent, unreadable, or not exactly for this key."""
        f = self._file(kind, key)
        try:
            with np.load(f, allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
            self._discard(f)
            return None
        try:
            meta = json.loads(arrays.pop(_META).tobytes().decode("utf-8"))
        except (KeyError, ValueError, UnicodeDecodeError):
            self._discard(f)
            return None
        expected = {
            "format": FORMAT,
            "version": _version(),
            "kind": kind,
            "digest": self.digest(key),
        }
        if not isinstance(meta, dict) or any(meta.get(k) != v for k, v in expected.items()):
            self._discard(f)  # stale (another structgen version) or a hash collision
            return None
        try:
            os.utime(f)  # recently used: evicted last
        except OSError:
            pass
        return meta, arrays

    def put(
        self, kind: str, key: Any, arrays: dict[str, np.ndarray], meta: dict | None = None
    ) -> bool:
        """Write an entry (atomically); False when it could not be written or is too big."""
        meta = dict(meta or {})
        meta.update(format=FORMAT, version=_version(), kind=kind, digest=self.digest(key))
        buf = io.BytesIO()
        payload = dict(arrays)
        payload[_META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        np.savez(buf, **payload)
        data = buf.getvalue()
        if len(data) > self.max_bytes:
            return False
        f = self._file(kind, key)
        with self._lock:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.path)
                try:
                    with os.fdopen(fd, "wb") as out:
                        out.write(data)
                    os.replace(tmp, f)
                except BaseException:
                    try:
                        os.unlink(tmp)
                    except OSError:
                        pass
                    raise
            except OSError:
                return False
            self._evict()
        return True

    def _discard(self, f: Path) -> None:
        try:
            f.unlink()
        except OSError:
            pass

    def entries(self) -> list[Path]:
        try:
            return sorted(
                p for p in self.path.iterdir() if p.suffix == ".npz" and not p.name.startswith(".")
            )
        except OSError:
            return []

    def size(self) -> int:
        total = 0
        for p in self.entries():
            try:
                total += p.stat().st_size
            except OSError:
                pass
        return total

    def _evict(self) -> None:
        items = []
        for p in self.entries():
            try:
                st = p.stat()
            except OSError:
                continue
            items.append((st.st_mtime, st.st_size, p))
        total = sum(s for _, s, _ in items)
        items.sort()
        while items and total > self.max_bytes:
            _, s, p = items.pop(0)
            self._discard(p)
            total -= s

    def clear(self) -> None:
        for p in self.entries():
            self._discard(p)


# --------------------------------------------------------------------------- the shared cache

_cache: DiskCache | None | bool = False  # False: not configured yet
_cfg_lock = threading.Lock()


def configure(
    path: str | os.PathLike | None | bool = True, max_bytes: int | None = None
) -> DiskCache | None:
    """Set the disk cache: a folder, ``True`` for the default one, ``None``/``False`` to
    disable it. Returns the cache (None when disabled)."""
    global _cache
    with _cfg_lock:
        if path is None or path is False:
            _cache = None
            return None
        if path is True:
            env = os.environ.get("STRUCTGEN_DISK_CACHE", "").strip()
            if env.lower() in ("0", "off", "false", "no", "none"):
                _cache = None
                return None
            if env:
                path = env
            else:
                from .assets import cache_dir

                path = cache_dir() / "compiled"
        if max_bytes is None:
            env_bytes = os.environ.get("STRUCTGEN_DISK_CACHE_BYTES", "").strip()
            max_bytes = int(env_bytes) if env_bytes.isdigit() else DEFAULT_MAX_BYTES
        _cache = DiskCache(path, max_bytes)
        return _cache


def get_cache() -> DiskCache | None:
    """The configured cache (configured from the environment on first use), or None."""
    c = _cache
    if c is False:
        return configure(True)
    return c  # type: ignore[return-value]


# --------------------------------------------------------------------------- vocabularies

_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
)


def tokenizer_fingerprint(tokenizer: Any) -> str | None:
    """A digest of what defines a tokenizer's vocabulary: the content of its files when it
    was loaded from a local folder (else its serialized fast tokenizer), its length, its
    added tokens and its class. None when it cannot be described (nothing is cached)."""
    h = hashlib.sha256(b"structgen.tokenizer/1\0")
    h.update(type(tokenizer).__name__.encode())
    try:
        h.update(str(len(tokenizer)).encode())
    except TypeError:
        return None
    added = getattr(tokenizer, "added_tokens_decoder", None)
    if added:
        h.update(
            repr(
                sorted((int(k), str(v), getattr(v, "special", None)) for k, v in added.items())
            ).encode()
        )
    h.update(
        repr(
            (getattr(tokenizer, "eos_token_id", None), getattr(tokenizer, "bos_token_id", None))
        ).encode()
    )
    folder = Path(str(getattr(tokenizer, "name_or_path", "") or ""))
    found = False
    if folder.is_dir():
        for name in _TOKENIZER_FILES:
            f = folder / name
            if f.is_file():
                found = True
                h.update(name.encode() + b"\0")
                with open(f, "rb") as fh:
                    for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        h.update(chunk)
    if not found:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            return None
        try:
            h.update(backend.to_str().encode("utf-8"))
        except Exception:
            return None
    return h.hexdigest()


def _vocab_key(tokenizer_fp: str, vocab_size: int | None, eos: Any) -> list:
    if eos is None:
        eos_l = None
    elif isinstance(eos, (int, np.integer)):
        eos_l = [int(eos)]
    else:
        eos_l = sorted(int(e) for e in eos)
    return ["vocab", tokenizer_fp, vocab_size, eos_l]


def load_vocabulary(tokenizer: Any, vocab_size: int | None, eos_token_id: Any) -> Any:
    """The cached Vocabulary for this tokenizer, or None."""
    cache = get_cache()
    if cache is None:
        return None
    fp = tokenizer_fingerprint(tokenizer)
    if fp is None:
        return None
    hit = cache.get("vocab", _vocab_key(fp, vocab_size, eos_token_id))
    if hit is None:
        return None
    meta, arr = hit
    try:
        from .vocab import Vocabulary

        lens, blob, eos = arr["lens"], arr["bytes"], arr["eos"]
        if lens.ndim != 1 or blob.ndim != 1 or int(lens[lens > 0].sum()) != blob.size:
            raise ValueError("inconsistent arrays")
        data = blob.tobytes()
        tokens: list[bytes | None] = []
        pos = 0
        for n in lens.tolist():
            if n < 0:
                tokens.append(None)
            else:
                tokens.append(data[pos : pos + n])
                pos += n
        v = Vocabulary(tokens, eos.tolist(), int(meta["size"]))
        if v.fingerprint != meta["fingerprint"]:
            raise ValueError("fingerprint mismatch")
        return v
    except (KeyError, ValueError, TypeError):
        cache._discard(cache._file("vocab", _vocab_key(fp, vocab_size, eos_token_id)))
        return None


def save_vocabulary(tokenizer: Any, vocab_size: int | None, eos_token_id: Any, vocab: Any) -> bool:
    cache = get_cache()
    if cache is None:
        return False
    fp = tokenizer_fingerprint(tokenizer)
    if fp is None:
        return False
    lens = np.array([-1 if t is None else len(t) for t in vocab.tokens], dtype=np.int32)
    blob = np.frombuffer(b"".join(t for t in vocab.tokens if t is not None), dtype=np.uint8)
    eos = np.array(sorted(vocab.eos_ids), dtype=np.int64)
    return cache.put(
        "vocab",
        _vocab_key(fp, vocab_size, eos_token_id),
        {"lens": lens, "bytes": blob, "eos": eos},
        {"size": vocab.size, "fingerprint": vocab.fingerprint},
    )


# --------------------------------------------------------------------------- compiled masks


def _masks_key(compiled: Any) -> list | None:
    try:
        g = compiled.grammar
        text = g.to_lark()
    except Exception:
        return None
    limits = compiled.index.limits
    return ["masks", text, g.start, compiled.vocabulary.fingerprint, repr(limits)]


def save_compiled(compiled: Any, max_masks: int = _MAX_SAVED_MASKS) -> bool:
    """Store the masks ``compiled`` has computed so far (with one token path to each state),
    merged with what is already stored. Cheap when nothing new was computed."""
    cache = get_cache()
    if cache is None:
        return False
    key = _masks_key(compiled)
    if key is None:
        return False
    index = compiled.index
    # breadth-first over the recorded moves: the shortest known token path to each state
    paths: dict[int, tuple[Any, tuple[int, ...]]] = {id(index.initial): (index.initial, ())}
    order = [index.initial]
    i = 0
    while i < len(order) and len(paths) < 4 * max_masks:
        st = order[i]
        i += 1
        p = paths[id(st)][1]
        for tok, nxt in list(st.next.items()):
            if nxt is not None and id(nxt) not in paths:
                paths[id(nxt)] = (nxt, (*p, tok))
                order.append(nxt)
    items = [(st, p) for st, p in paths.values() if st._mask is not None][:max_masks]
    stored = getattr(index, "_disk_saved", 0)
    if len(items) <= stored:
        return False  # nothing new since the last save or load
    masks = np.stack([np.packbits(st._mask) for st, _ in items])
    flat = np.array([t for _, p in items for t in p], dtype=np.int32)
    offsets = np.cumsum([0] + [len(p) for _, p in items]).astype(np.int64)
    ok = cache.put(
        "masks",
        key,
        {"masks": masks, "tokens": flat, "offsets": offsets},
        {"size": int(index.size), "count": len(items)},
    )
    if ok:
        index._disk_saved = len(items)
    return ok


def load_masks(compiled: Any) -> int:
    """Attach the stored masks to ``compiled``'s states; returns how many were attached."""
    cache = get_cache()
    if cache is None:
        return 0
    key = _masks_key(compiled)
    if key is None:
        return 0
    hit = cache.get("masks", key)
    if hit is None:
        return 0
    meta, arr = hit
    index = compiled.index
    try:
        masks, flat, offsets = arr["masks"], arr["tokens"], arr["offsets"]
        n = masks.shape[0]
        if (
            int(meta["size"]) != index.size
            or masks.ndim != 2
            or masks.shape[1] != (index.size + 7) // 8
            or offsets.shape != (n + 1,)
            or int(offsets[-1]) != flat.size
        ):
            raise ValueError("inconsistent arrays")
        tokens = flat.tolist()
        offs = offsets.tolist()
        states = []
        for k in range(n):  # replay every path first: attach nothing unless all are valid
            st = index.initial
            for t in tokens[offs[k] : offs[k + 1]]:
                st = index.advance(st, t)
                if st is None:
                    raise ValueError("a stored path is not valid for this grammar")
            states.append(st)
        attached = 0
        for k, st in enumerate(states):
            if st._mask is None:
                m = np.unpackbits(masks[k], count=index.size).astype(bool)
                st._mask = m
                index._mask_bytes += m.nbytes
                attached += 1
        index._disk_saved = max(getattr(index, "_disk_saved", 0), n)
        return attached
    except (KeyError, ValueError, TypeError, IndexError):
        cache._discard(cache._file("masks", key))
        return 0


# --------------------------------------------------------------------------- Unicode tables


def load_ranges(key: list) -> tuple | None:
    """Cached code point ranges (``((lo, hi), ...)``) under ``key``, or None."""
    cache = get_cache()
    if cache is None:
        return None
    hit = cache.get("unicode", key)
    if hit is None:
        return None
    r = hit[1].get("ranges")
    if r is None or r.ndim != 2 or r.shape[1] != 2:
        return None
    return tuple((a, b) for a, b in r.tolist())


def save_ranges(key: list, ranges: tuple) -> None:
    """Keep ``ranges`` (``((lo, hi), ...)``) under ``key``, if a disk cache is set."""
    cache = get_cache()
    if cache is not None:
        cache.put("unicode", key, {"ranges": np.asarray(ranges, dtype=np.int64).reshape(-1, 2)})
