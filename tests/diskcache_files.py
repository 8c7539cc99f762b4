"""Read and write disk cache files directly, as a third party could (for the tests that
damage or forge entries)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from structgen import diskcache


def read_entry(f: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(header, arrays)`` of a cache file (no checks)."""
    data = f.read_bytes()
    n = len(diskcache.MAGIC)
    (hlen,) = struct.unpack_from("<I", data, n)
    header = json.loads(data[n + 4 : n + 4 + hlen])
    pos = n + 4 + hlen
    arrays = {}
    for name, dt, shape in header["arrays"]:
        count = int(np.prod(shape, dtype=np.int64))
        a = np.frombuffer(data, dt, count, pos).reshape(shape)
        arrays[name] = a.copy()
        pos += a.nbytes
    return header, arrays


def write_entry(
    f: Path, header: dict, arrays: dict[str, np.ndarray], fix_checksum: bool = True
) -> None:
    """Write ``arrays`` under ``header`` (its array list rebuilt from them); the checksum
    is recomputed unless ``fix_checksum`` is false (then the old one is kept)."""
    header = dict(header)
    old = header.pop("blake2b", "")
    header["arrays"] = [[k, a.dtype.str, list(a.shape)] for k, a in arrays.items()]
    payload = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays.values())
    header["blake2b"] = (
        diskcache._checksum(diskcache._canonical(header), payload) if fix_checksum else old
    )
    hb = diskcache._canonical(header)
    f.write_bytes(diskcache.MAGIC + struct.pack("<I", len(hb)) + hb + payload)
