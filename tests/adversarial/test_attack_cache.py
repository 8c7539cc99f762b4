"""Attacks on the disk cache: whoever can put files in the cache folder (or a crash, or a
flipped bit) must not be able to exhaust memory, hang compile(), or make a compiled
constraint offer tokens its grammar refuses. Every attack runs compile() in a fresh
process (a restart, as a server's would) under a time limit, and checks its peak memory.

An attacked entry is discarded (with a warning through ``logging``) and rebuilt; the
masks that compile() then uses are exactly the grammar's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from diskcache_files import read_entry, write_entry
from peak_memory import SOURCE

from structgen import diskcache

TIMEOUT = 60  # seconds for one compile in a fresh process: a hang fails the test
MEMORY_MARGIN = 200 << 20  # bytes over an intact restart's peak: a blow-up fails the test

# compile a regex for a small vocabulary (no tokenizer: no transformers import) with the
# disk cache at argv[1]; "fill" walks and saves masks, "check" reports whether the entry
# was used and checks every mask met on seeded random walks against advance()
SCRIPT = r"""
import json, logging, random, resource, sys
import structgen
from structgen import diskcache

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
diskcache.configure(sys.argv[1], max_bytes=int(sys.argv[3]))
tokens = [b"<eos>"] + [bytes([c]) for c in range(32, 127)]
tokens += [a + b for a in (b"ab", b"cd", b"ef", b"12", b"9.", b"@x") for b in (b"", b"a", b".")]
vocab = structgen.Vocabulary(tokens, eos_ids=[0])
c = structgen.compile(structgen.Regex(r"[a-f]{1,6}(\.[a-f0-9]{1,4}){0,3}@[a-z]{2,5}\.(com|org)"),
                      vocabulary=vocab)
rebuilt = c.save()  # False when the stored masks were loaded (nothing new to save)
rnd = random.Random(7)
bad = 0
for _ in range(40):
    m = c.matcher()
    for _ in range(24):
        allowed = [int(t) for t in m.mask().nonzero()[0] if t != 0]
        if sys.argv[2] == "check":
            for t in allowed:  # every offered token must be one the grammar takes
                bad += not m.fork().advance(t)
        if not allowed:
            break
        if not m.advance(rnd.choice(allowed)):
            break
if sys.argv[2] == "fill":
    c.save()
rss = peak_bytes()
print(json.dumps({"rebuilt": rebuilt, "bad": bad, "rss": rss}))
"""


def compile_in_fresh_process(folder: Path, mode: str = "check", max_bytes: int = 64 << 20):
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", SOURCE + SCRIPT, str(folder), mode, str(max_bytes)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"compile() did not finish within {TIMEOUT} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["seconds"] = time.monotonic() - t0
    out["stderr"] = proc.stderr
    return out


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A cache folder with the masks of the test grammar, and an intact restart's figures."""
    folder = tmp_path_factory.mktemp("filled")
    compile_in_fresh_process(folder, "fill")
    clean = compile_in_fresh_process(folder)
    assert clean["rebuilt"] is False and clean["bad"] == 0  # a hit after a restart
    return folder, clean


@pytest.fixture
def attacked(filled, tmp_path):
    """A copy of the filled folder and the path of its masks entry."""
    folder = tmp_path / "cache"
    shutil.copytree(filled[0], folder)
    (entry,) = [p for p in diskcache.DiskCache(folder).entries() if p.name.startswith("masks-")]
    return folder, entry


def assert_rebuilt_safely(folder: Path, filled) -> dict:
    got = compile_in_fresh_process(folder)
    assert got["rebuilt"] is True, "the attacked entry was used"
    assert got["bad"] == 0, f"{got['bad']} offered tokens are refused by advance()"
    assert got["rss"] < filled[1]["rss"] + MEMORY_MARGIN, got
    assert compile_in_fresh_process(folder)["rebuilt"] is False  # the rebuilt entry is used
    return got


# --------------------------------------------------------------------------- sizes


def _npz_claiming(shape: tuple[int, ...], dtype: str = "|u1") -> bytes:
    """An .npz whose only member's header claims an array of ``shape`` (no data)."""
    import io

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("masks.npy", head.getvalue())
    return buf.getvalue()


def test_an_npz_claiming_a_pib_array(attacked, filled):
    folder, entry = attacked
    entry.write_bytes(_npz_claiming((1 << 50,)))
    assert_rebuilt_safely(folder, filled)


def test_a_header_claiming_a_pib_array(attacked, filled):
    folder, entry = attacked
    header, arrays = read_entry(entry)
    write_entry(entry, header, arrays)
    data = entry.read_bytes()
    n = len(json.dumps(arrays["masks"].shape[0]))
    claimed = data.replace(
        f'["masks","|u1",[{arrays["masks"].shape[0]},'.encode(),
        f'["masks","|u1",[{1 << 50:>{n}},'.encode(),
    )
    assert claimed != data
    entry.write_bytes(claimed)
    got = assert_rebuilt_safely(folder, filled)
    assert "discarded" in got["stderr"]


def test_a_zip_bomb(attacked, filled):
    """512 MiB of zeros deflated to half a megabyte, under an npy header that matches."""
    import io

    folder, entry = attacked
    size = 512 << 20
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": "|u1", "fortran_order": False, "shape": (size,)}
    )
    with zipfile.ZipFile(entry, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("masks.npy", "w", force_zip64=True) as m:
            m.write(head.getvalue())
            chunk = bytes(16 << 20)
            for _ in range(size // len(chunk)):
                m.write(chunk)
    assert entry.stat().st_size < 4 << 20
    assert_rebuilt_safely(folder, filled)


# --------------------------------------------------------------------------- integrity


def test_altered_mask_bits(attacked, filled):
    """Every mask set to all ones: a compile that used them would offer tokens that
    advance() refuses."""
    folder, entry = attacked
    if entry.read_bytes()[:2] == b"PK":  # an .npz (format 1): re-saved as numpy would
        with np.load(entry, allow_pickle=False) as z:
            arrays = {n: z[n] for n in z.files}
        arrays["masks"] = np.full_like(arrays["masks"], 0xFF)
        with open(entry, "wb") as out:
            np.savez(out, **arrays)
    else:  # the bytes changed in place: the stored checksum no longer matches
        header, arrays = read_entry(entry)
        arrays["masks"][:] = 0xFF
        write_entry(entry, header, arrays, fix_checksum=False)
    got = assert_rebuilt_safely(folder, filled)
    assert "checksum" in got["stderr"]


# --------------------------------------------------------------------------- not a file


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("how", ["fifo", "link to a fifo"])
def test_a_fifo_at_an_entrys_path(attacked, filled, how):
    folder, entry = attacked
    entry.unlink()
    if how == "fifo":
        os.mkfifo(entry)
    else:
        os.mkfifo(folder / "elsewhere")
        entry.symlink_to(folder / "elsewhere")
    got = compile_in_fresh_process(folder)
    assert got["bad"] == 0 and got["rebuilt"] is True
    assert "skipped" in got["stderr"]
    assert entry.is_file() and not entry.is_symlink()  # the save replaced it


# --------------------------------------------------------------------------- temp files


def test_temp_files_of_dead_writers_are_removed_and_counted(tmp_path):
    """A writer killed mid-write leaves its temporary file: counted against the bound, and
    removed once it is older than any write takes."""
    cache = diskcache.DiskCache(tmp_path, max_bytes=4 << 20)
    hour_ago = time.time() - 3600
    orphans = [tmp_path / ".tmp-k2j4h1.npz", tmp_path / f".tmp-{os.getpid() + 1}-x1y2.sgc"]
    for f in orphans:
        with open(f, "wb") as out:
            out.truncate(61 << 20)
        os.utime(f, (hour_ago, hour_ago))
    live = tmp_path / ".tmp-1-now.sgc"  # a write in progress, 3 MiB so far
    live.write_bytes(bytes(3 << 20))
    assert cache.size() >= 3 << 20
    assert cache.put("k", 1, {"a": np.zeros(1000, dtype=np.int64)})
    assert not any(f.exists() for f in orphans)
    assert live.exists()  # not old enough to be taken for an orphan
    # 1.6 MB more: over the bound only with the live temp file counted
    assert cache.put("k", 2, {"a": np.zeros(200_000, dtype=np.int64)})
    assert cache.get("k", 1) is None  # evicted
    assert cache.size() <= 4 << 20


# --------------------------------------------------------------------------- the folder


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_folder_anyone_may_write_to_is_not_used(filled, tmp_path, caplog):
    """Whoever may write there could plant entries: such a folder is neither read nor
    written, and a warning says why."""
    folder = tmp_path / "shared"
    shutil.copytree(filled[0], folder)
    folder.chmod(0o777)
    cache = diskcache.DiskCache(folder)
    before = sorted(p.name for p in folder.iterdir())
    with caplog.at_level("WARNING", logger="structgen.diskcache"):
        assert cache.put("k", 1, {"a": np.zeros(3)}) is False
    assert sorted(p.name for p in folder.iterdir()) == before
    assert "writable by every user" in caplog.text
    got = compile_in_fresh_process(folder)
    assert got["bad"] == 0 and "not using it" in got["stderr"]  # compiled without it
