r"""A persistent cache on disk, in a format of its own that never runs code or trusts sizes.

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

Every entry is one ``<kind>-<digest>.sgc`` file: a magic line, the length of a JSON
header, the header, then the arrays' raw bytes one after the other. The header carries
the entry's full key digest, the format and structgen version, each array's name, dtype
(a short list of plain numeric types) and shape, and a BLAKE2b checksum over the header
and the payload. A file is read only when it is a regular file (opened without following
links and without blocking, so a FIFO or a device at an entry's path is skipped), no
larger than the cache's bound, and its header's shapes add up to exactly the bytes that
follow and fit what the caller expects (the vocabulary's size, the masks' width) — all
checked before the payload is read, so nothing is allocated on the file's word. An
entry that fails any check (truncated, flipped bits, another key or version) is ignored
and deleted with a warning through :mod:`logging`, and the caller rebuilds it.

Entries are written atomically (a temporary ``.tmp-*`` file, then a rename). The folder
is bounded in bytes, temporary files included: the oldest entries go first, and a
temporary file left by a writer that died (older than :data:`TEMP_MAX_AGE` seconds) is
removed. The folder is created private to its user (mode 0700); a folder that another
user owns, or that anyone may write to, is not used (a warning says so).

Settings (environment): ``STRUCTGEN_DISK_CACHE`` — a folder, or ``0``/``off`` to disable
(default: ``<structgen cache>/compiled``); ``STRUCTGEN_DISK_CACHE_BYTES`` — the bound
(default 256 MiB). :func:`configure` sets both from Python.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Callable
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

log = logging.getLogger(__name__)

FORMAT = 2
SUFFIX = ".sgc"
MAGIC = b"structgen-cache\n"
DEFAULT_MAX_BYTES = 256 << 20
MAX_HEADER_BYTES = 1 << 20
TEMP_MAX_AGE = 300.0
"""Seconds after which a temporary file is taken for a dead writer's and removed (a
writer renames its file within a second or so)."""
_MAX_SAVED_MASKS = 4096
_DTYPES = frozenset({"|b1", "|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f4", "<f8"})
_LEN = struct.Struct("<I")
_OLD_ENTRY = re.compile(r"[a-z]+-[0-9a-f]{40}\.npz")  # format 1 (numpy .npz) entries

Expect = Callable[[dict, dict], bool]
"""``expect(meta, shapes)``: whether an entry's header (its meta dict and ``name ->
(dtype, shape)``) is what the caller can use; called before the payload is read."""


def _version() -> str:
    from . import __version__

    return __version__


class _Bad(Exception):
    """An entry that must be discarded (the message says why)."""


def _canonical(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _checksum(header_bytes: bytes, payload: bytes | bytearray | memoryview) -> str:
    h = hashlib.blake2b(digest_size=32, person=b"structgen.cache")
    h.update(_LEN.pack(len(header_bytes)))
    h.update(header_bytes)
    h.update(payload)
    return h.hexdigest()


def _layout(header: dict, payload_bytes: int) -> list[tuple[str, np.dtype, tuple[int, ...], int]]:
    """``(name, dtype, shape, nbytes)`` per array, checked against the payload's length."""
    specs = header.get("arrays")
    if not isinstance(specs, list) or len(specs) > 64:
        raise _Bad("no array list")
    out = []
    total = 0
    for s in specs:
        if not (isinstance(s, list) and len(s) == 3):
            raise _Bad("malformed array entry")
        name, dt, shape = s
        if not isinstance(name, str) or dt not in _DTYPES or not isinstance(shape, list):
            raise _Bad(f"array {name!r}: unsupported dtype {dt!r}")
        if len(shape) > 4 or not all(type(d) is int and d >= 0 for d in shape):
            raise _Bad(f"array {name!r}: bad shape {shape!r}")
        dtype = np.dtype(dt)
        n = dtype.itemsize
        for d in shape:  # Python integers: a claimed PiB shape cannot overflow
            n *= d
        total += n
        if total > payload_bytes:
            raise _Bad(f"array {name!r}: its shape {shape} claims more bytes than the file has")
        out.append((name, dtype, tuple(shape), n))
    if total != payload_bytes:
        raise _Bad(f"the arrays take {total} bytes, the file holds {payload_bytes}")
    if len({name for name, *_ in out}) != len(out):
        raise _Bad("duplicate array names")
    return out


def _open_regular(f: Path) -> int | None:
    """A read-only descriptor of ``f`` if it is a regular file (never blocks, never
    follows a link), else None (absent, a FIFO, a device, a folder, a link)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(f, flags)
    except FileNotFoundError:
        return None
    except OSError as e:  # a link (ELOOP), no permission...
        log.warning("structgen disk cache: skipped %s (%s)", f, e.strerror or e)
        return None
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISREG(mode):
        os.close(fd)
        log.warning("structgen disk cache: skipped %s (not a regular file)", f)
        return None
    return fd


def _read_exactly(fd: int, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        if hasattr(os, "readv"):
            k = os.readv(fd, [view[got:]])
        else:
            data = os.read(fd, n - got)
            k = len(data)
            view[got : got + k] = data
        if k <= 0:
            raise _Bad("truncated")
        got += k
    return buf


class DiskCache:
    """Entries ``(kind, key) -> (meta dict, arrays)`` as files under ``path``."""

    def __init__(self, path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES):
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._trusted: bool | None = None

    @staticmethod
    def digest(key: Any) -> str:
        text = json.dumps([FORMAT, _version(), key], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _file(self, kind: str, key: Any) -> Path:
        return self.path / f"{kind}-{self.digest(key)[:40]}{SUFFIX}"

    # ------------------------------------------------------------------ the folder

    def _usable(self, create: bool = False) -> bool:
        """Whether the folder may be used: ours, and not writable by others. Checked once."""
        if self._trusted is not None:
            return self._trusted
        try:
            if create:
                self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = os.stat(self.path)
        except OSError:
            return False  # not there (yet): nothing to read
        reason = None
        if not stat.S_ISDIR(st.st_mode):
            reason = "not a folder"
        elif hasattr(os, "getuid") and st.st_uid != os.getuid():
            reason = f"owned by another user (uid {st.st_uid})"
        elif st.st_mode & stat.S_IWOTH:
            reason = "writable by every user"
        if reason:
            log.warning("structgen disk cache: %s is %s; not using it", self.path, reason)
        self._trusted = reason is None
        return self._trusted

    # ------------------------------------------------------------------ read

    def get(
        self, kind: str, key: Any, expect: Expect | None = None
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        """The entry, or None when it is absent, unreadable, or not exactly for this key.

        ``expect(meta, shapes)`` (``shapes``: ``name -> (dtype str, shape tuple)``) sees
        the header before the payload is read; an entry it refuses is discarded."""
        if not self._usable():
            return None
        f = self._file(kind, key)
        fd = _open_regular(f)
        if fd is None:
            return None
        try:
            meta, arrays = self._read(fd, kind, key, expect)
        except _Bad as e:
            log.warning("structgen disk cache: discarded %s (%s); it will be rebuilt", f.name, e)
            self._discard(f)
            return None
        except OSError as e:
            log.warning("structgen disk cache: cannot read %s (%s)", f.name, e.strerror or e)
            return None
        finally:
            os.close(fd)
        try:
            os.utime(f)  # recently used: evicted last
        except OSError:
            pass
        return meta, arrays

    def _read(
        self, fd: int, kind: str, key: Any, expect: Expect | None
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        size = os.fstat(fd).st_size
        if size > self.max_bytes:
            raise _Bad(f"{size} bytes, over the cache's bound of {self.max_bytes}")
        lead = len(MAGIC) + _LEN.size
        head = _read_exactly(fd, min(size, lead))
        if len(head) < lead or bytes(head[: len(MAGIC)]) != MAGIC:
            raise _Bad("not a structgen cache file")
        (hlen,) = _LEN.unpack_from(head, len(MAGIC))
        if hlen > MAX_HEADER_BYTES or lead + hlen > size:
            raise _Bad(f"a header of {hlen} bytes")
        raw = bytes(_read_exactly(fd, hlen))
        try:
            header = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            raise _Bad("unreadable header") from None
        if not isinstance(header, dict):
            raise _Bad("unreadable header")
        expected = {"format": FORMAT, "version": _version(), "kind": kind}
        if any(header.get(k) != v for k, v in expected.items()):
            raise _Bad("another format or structgen version")
        if header.get("digest") != self.digest(key):
            raise _Bad("another key")
        meta = header.get("meta")
        checksum = header.pop("blake2b", None)
        if not isinstance(meta, dict) or not isinstance(checksum, str):
            raise _Bad("unreadable header")
        layout = _layout(header, size - lead - hlen)
        shapes = {name: (dtype.str, shape) for name, dtype, shape, _ in layout}
        if expect is not None and not expect(meta, shapes):
            raise _Bad(f"arrays of unexpected shapes {shapes}")
        payload = _read_exactly(fd, size - lead - hlen)
        if _checksum(_canonical(header), payload) != checksum:
            raise _Bad("checksum mismatch: the file was altered or damaged")
        arrays = {}
        pos = 0
        for name, dtype, shape, n in layout:
            count = n // dtype.itemsize
            arrays[name] = np.frombuffer(payload, dtype, count, pos).reshape(shape)
            pos += n
        return meta, arrays

    # ------------------------------------------------------------------ write

    def put(
        self, kind: str, key: Any, arrays: dict[str, np.ndarray], meta: dict | None = None
    ) -> bool:
        """Write an entry (atomically); False when it could not be written or is too big."""
        specs = []
        parts = []
        for name, a in arrays.items():
            a = np.asarray(a)
            dt = a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype
            if dt.str not in _DTYPES:
                # internal: a bug: structgen stores its own arrays
                raise TypeError(f"disk cache array {name!r}: unsupported dtype {a.dtype}")
            a = np.ascontiguousarray(a, dtype=dt)
            specs.append([name, dt.str, list(a.shape)])
            parts.append(a.tobytes())
        payload = b"".join(parts)
        header = {
            "format": FORMAT,
            "version": _version(),
            "kind": kind,
            "digest": self.digest(key),
            "meta": dict(meta or {}),
            "arrays": specs,
        }
        header["blake2b"] = _checksum(_canonical(header), payload)
        hb = _canonical(header)
        data = MAGIC + _LEN.pack(len(hb)) + hb + payload
        if len(data) > self.max_bytes or len(hb) > MAX_HEADER_BYTES:
            return False
        f = self._file(kind, key)
        with self._lock:
            if not self._usable(create=True):
                return False
            try:
                fd, tmp = tempfile.mkstemp(
                    prefix=f".tmp-{os.getpid()}-", suffix=SUFFIX, dir=self.path
                )
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

    # ------------------------------------------------------------------ the bound

    def _discard(self, f: Path) -> None:
        try:
            f.unlink()
        except OSError:
            pass

    def _scan(self) -> tuple[list[tuple[float, int, Path]], list[tuple[float, int, Path]]]:
        """``(mtime, size, path)`` of the entries and of the temporary files (``lstat``:
        links are not followed); format 1 entries, which nothing reads, are removed."""
        entries, temps = [], []
        try:
            names = list(os.scandir(self.path))
        except OSError:
            return [], []
        for d in names:
            try:
                st = d.stat(follow_symlinks=False)
            except OSError:
                continue
            p = Path(d.path)
            if d.name.startswith(".tmp-"):
                temps.append((st.st_mtime, st.st_size, p))
            elif d.name.endswith(SUFFIX):
                entries.append((st.st_mtime, st.st_size, p))
            elif _OLD_ENTRY.fullmatch(d.name):
                self._discard(p)
        return entries, temps

    def entries(self) -> list[Path]:
        return sorted(p for _, _, p in self._scan()[0])

    def size(self) -> int:
        """Bytes held: the entries and the temporary files."""
        entries, temps = self._scan()
        return sum(s for _, s, _ in entries) + sum(s for _, s, _ in temps)

    def _evict(self) -> None:
        entries, temps = self._scan()
        now = time.time()
        total = 0
        for mtime, s, p in temps:
            if now - mtime > TEMP_MAX_AGE:  # left by a writer that died
                log.info("structgen disk cache: removed %s, left by an interrupted write", p.name)
                self._discard(p)
            else:
                total += s  # a write in progress: counted, not ours to remove
        total += sum(s for _, s, _ in entries)
        entries.sort()
        while entries and total > self.max_bytes:
            _, s, p = entries.pop(0)
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
    key = _vocab_key(fp, vocab_size, eos_token_id)
    if vocab_size is None:
        try:
            vocab_size = len(tokenizer)
        except TypeError:
            return None
    n = int(vocab_size)

    def expect(meta: dict, shapes: dict) -> bool:
        # one length per token id, EOS ids among them; the bytes are bounded by the file
        return (
            meta.get("size") == n
            and shapes.get("lens") == ("<i4", (n,))
            and shapes.get("bytes", ("", ()))[0] == "|u1"
            and len(shapes["bytes"][1]) == 1
            and shapes.get("eos", ("", ()))[0] == "<i8"
            and len(shapes["eos"][1]) == 1
            and shapes["eos"][1][0] <= n
        )

    hit = cache.get("vocab", key, expect)
    if hit is None:
        return None
    meta, arr = hit
    try:
        from .vocab import Vocabulary

        lens, blob, eos = arr["lens"], arr["bytes"], arr["eos"]
        if int(lens[lens > 0].sum()) != blob.size:
            # internal: caught below: the entry is discarded
            raise ValueError("token lengths do not add up to the stored bytes")
        data = blob.tobytes()
        tokens: list[bytes | None] = []
        pos = 0
        for k in lens.tolist():
            if k < 0:
                tokens.append(None)
            else:
                tokens.append(data[pos : pos + k])
                pos += k
        v = Vocabulary(tokens, eos.tolist(), n)
        if v.fingerprint != meta["fingerprint"]:
            # internal: caught below: the entry is discarded
            raise ValueError("fingerprint mismatch")
        return v
    except (KeyError, ValueError, TypeError) as e:
        log.warning("structgen disk cache: discarded a vocabulary entry (%s)", e)
        cache._discard(cache._file("vocab", key))
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
    index = compiled.index
    width = (index.size + 7) // 8

    def expect(meta: dict, shapes: dict) -> bool:
        # n masks of the index's width, n + 1 path offsets; the paths are bounded by the file
        n = meta.get("count")
        return (
            type(n) is int
            and 0 < n <= _MAX_SAVED_MASKS
            and meta.get("size") == index.size
            and shapes.get("masks") == ("|u1", (n, width))
            and shapes.get("offsets") == ("<i8", (n + 1,))
            and shapes.get("tokens", ("", ()))[0] == "<i4"
            and len(shapes["tokens"][1]) == 1
        )

    hit = cache.get("masks", key, expect)
    if hit is None:
        return 0
    meta, arr = hit
    try:
        masks, flat, offsets = arr["masks"], arr["tokens"], arr["offsets"]
        n = masks.shape[0]
        if (
            int(offsets[0]) != 0
            or int(offsets[-1]) != flat.size
            or bool(np.any(np.diff(offsets) < 0))
            or (flat.size and (int(flat.min()) < 0 or int(flat.max()) >= index.size))
        ):
            # internal: caught below: the entry is discarded
            raise ValueError("inconsistent arrays")
        tokens = flat.tolist()
        offs = offsets.tolist()
        states = []
        for k in range(n):  # replay every path first: attach nothing unless all are valid
            st = index.initial
            for t in tokens[offs[k] : offs[k + 1]]:
                st = index.advance(st, t)
                if st is None:
                    # internal: caught below: the entry is discarded
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
    except (KeyError, ValueError, TypeError, IndexError) as e:
        log.warning("structgen disk cache: discarded a masks entry (%s)", e)
        cache._discard(cache._file("masks", key))
        return 0


# --------------------------------------------------------------------------- Unicode tables


def load_ranges(key: list) -> tuple | None:
    """Cached code point ranges (``((lo, hi), ...)``) under ``key``, or None."""
    cache = get_cache()
    if cache is None:
        return None

    def expect(meta: dict, shapes: dict) -> bool:  # (lo, hi) pairs
        shape = shapes.get("ranges", ("", ()))
        return shape[0] == "<i8" and len(shape[1]) == 2 and shape[1][1] == 2

    hit = cache.get("unicode", key, expect)
    if hit is None:
        return None
    r = hit[1]["ranges"]
    return tuple((a, b) for a, b in r.tolist())


def save_ranges(key: list, ranges: tuple) -> None:
    """Keep ``ranges`` (``((lo, hi), ...)``) under ``key``, if a disk cache is set."""
    cache = get_cache()
    if cache is not None:
        cache.put("unicode", key, {"ranges": np.asarray(ranges, dtype=np.int64).reshape(-1, 2)})
