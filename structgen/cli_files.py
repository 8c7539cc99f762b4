"""The command line's files and signals.

Files come from the user, and a server may run the command on files its own users sent:
only regular files (and ``-``, stdin) are read, never more than a bound, and anything
else is a :class:`CliError` (one line, exit status 2) before a byte is read:

=============================  ==========  ==========================================
what                           at most     why
=============================  ==========  ==========================================
a schema or grammar file       16 MiB      specs are small; bigger is an attack or a
                                           mistake (the largest real schemas are ~1 MB)
``check``'s DATA               64 MiB      the text is walked byte by byte
``run --input`` (prompts)      256 MiB     read whole, then run in batches
``run --output`` (resumed)     any size    read line by line; one line at most 64 MiB
=============================  ==========  ==========================================

A FIFO, a device (``/dev/zero``), a folder or a socket is refused: the file is opened
with ``O_NONBLOCK`` and looked at with ``fstat`` first, so even a FIFO nobody writes to
answers at once.

Ctrl-C (SIGINT): :func:`deferred_sigint` holds it off while one output line is written,
so a batch output file only ever holds complete lines and a rerun resumes it;
:func:`interrupted` prints the one line and gives exit status 130.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import StructgenError

__all__ = [
    "CliError",
    "MAX_DATA_BYTES",
    "MAX_INPUT_BYTES",
    "MAX_LINE_BYTES",
    "MAX_SPEC_BYTES",
    "deferred_sigint",
    "done_lines",
    "interrupted",
    "load_json",
    "read_text",
]

MAX_SPEC_BYTES = 16 << 20
MAX_DATA_BYTES = 64 << 20
MAX_INPUT_BYTES = 256 << 20
MAX_LINE_BYTES = 64 << 20


class CliError(StructgenError):
    """A usage error reported by the command line (bad file, bad flag, unknown model...)."""


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n} bytes"


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str | os.PathLike, what: str, mode: str = "rb") -> Any:
    """``path`` opened (binary) if it is a regular file; a CliError otherwise. Never
    blocks: a FIFO is opened without waiting for a writer, then refused."""
    flags = os.O_RDWR if "+" in mode else os.O_RDONLY
    flags |= getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise CliError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{what} {path}: is a directory, not a file") from None
    except OSError as e:
        raise CliError(f"{what} {path}: cannot read it ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CliError(f"{what} {path}: is {_kind(st.st_mode)}, not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def _read_bounded(f: Any, limit: int, where: str) -> bytes:
    data = f.read(limit + 1)
    if len(data) > limit:
        raise CliError(f"{where}: larger than the limit of {_mib(limit)}")
    return data


def read_text(path: str, what: str, limit: int = MAX_SPEC_BYTES) -> str:
    """The UTF-8 text of ``path`` (``-``: stdin), at most ``limit`` bytes."""
    if path == "-":
        data = _read_bounded(getattr(sys.stdin, "buffer", sys.stdin), limit, f"{what} (stdin)")
        if isinstance(data, str):
            data = data.encode("utf-8")
    else:
        with open_regular(path, what) as f:
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                raise CliError(
                    f"{what} {path}: {_mib(size)}, larger than the limit of {_mib(limit)}"
                )
            data = _read_bounded(f, limit, f"{what} {path}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CliError(f"{what} {path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def load_json(path: str, what: str, limit: int = MAX_SPEC_BYTES) -> Any:
    text = read_text(path, what, limit)
    from .jsonschema.depth import check_text

    # a spec nested deeper than Limits.max_spec_depth: refused with its JSON pointer
    check_text(text, what=f"{what} {path}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise CliError(
            f"{what} {path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        ) from None
    except RecursionError:
        raise CliError(f"{what} {path}: JSON nested too deeply to read") from None


def done_lines(path: Path) -> set[int]:
    """Input line numbers already in a batch output file, read line by line; a trailing
    partial line (an interrupted write) is cut off. Nothing when the file is absent."""
    if not os.path.lexists(path):
        return set()
    done: set[int] = set()
    with open_regular(path, "--output", "r+b") as f:
        keep = 0
        while True:
            line = f.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            if not line.endswith(b"\n"):
                if len(line) > MAX_LINE_BYTES:
                    raise CliError(
                        f"--output {path}: a line longer than {_mib(MAX_LINE_BYTES)}; "
                        "not a structgen output file"
                    )
                break  # the partial last line of an interrupted write
            keep += len(line)
            try:
                item = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(item, dict) and isinstance(item.get("line"), int):
                done.add(item["line"])
        if keep < os.fstat(f.fileno()).st_size:
            f.truncate(keep)
    return done


# --------------------------------------------------------------------------- Ctrl-C


@contextlib.contextmanager
def deferred_sigint() -> Iterator[None]:
    """Hold SIGINT off for the body (one output line's write and flush); a Ctrl-C that
    came meanwhile raises KeyboardInterrupt when the body is done. Outside the main
    thread, or when SIGINT is not Python's to handle, the body just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        # internal: the entry point turns it into one line and exit 130
        raise KeyboardInterrupt


def interrupted() -> int:
    """Say so on stderr (once, whatever more Ctrl-C come) and return exit status 130."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    if main:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        print("structgen: interrupted", file=sys.stderr)
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGINT, previous)
    return 130
