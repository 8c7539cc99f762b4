"""Attacks on the command line's files and signals. Each case runs the ``structgen``
command (through the entry point pyproject.toml declares) in a fresh process, under a
time limit, and checks its peak memory: a special or oversized file is one line on
stderr and exit status 2; Ctrl-C at any moment is one line and exit status 130, and a
batch output file interrupted midway holds complete lines only and resumes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from peak_memory import AT_EXIT

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
MAX_RSS = 400 << 20  # the command's own peak stays far below: a blow-up fails the test

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX files and signals")


def _entry() -> str:
    """``import sys; from M import F; sys.exit(F())``: what the console script runs."""
    text = (ROOT / "pyproject.toml").read_text()
    mod, fn = re.search(r'^structgen = "([\w.]+):(\w+)"', text, re.M).groups()
    return f"import sys; from {mod} import {fn}; sys.exit({fn}())"


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def run_cli(*args, stdin=None, stub=False) -> tuple[int, str, int]:
    """(exit status, stderr, peak RSS in bytes) of ``structgen ARGS`` (``stub``: with the
    stand-in model below)."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        env = dict(_env(), STRUCTGEN_TEST_PEAK_FILE=str(peak_file))
        p = subprocess.Popen(
            [sys.executable, "-c", AT_EXIT + (STUB if stub else "") + _entry(), *map(str, args)],
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
        timer = threading.Timer(TIMEOUT, p.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        p.returncode = code = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
        peak = int(peak_file.read_text()) if peak_file.exists() else usage.ru_maxrss * 1024
    assert code != -signal.SIGKILL, f"structgen did not finish within {TIMEOUT} s"
    return code, text, peak


def assert_one_line_error(code: int, err: str, rss: int, pattern: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("structgen: error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    assert rss < MAX_RSS, f"peak RSS {rss >> 20} MiB"


# --------------------------------------------------------------------------- files


@pytest.fixture
def specials(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # nobody writes to it: reading it would block for ever
    big = tmp_path / "big.json"
    with open(big, "wb") as f:  # sparse: 17 MiB claimed, nothing on disk
        f.truncate(17 << 20)
    folder = tmp_path / "folder.json"
    folder.mkdir()
    return {"zero": "/dev/zero", "fifo": fifo, "big": big, "folder": folder}


CASES = {
    "schema": lambda f: ["grammar", f],
    "grammar": lambda f: ["grammar", "--grammar", f],
    "data": lambda f: ["check", "--regex", "a+", f],
    "input": lambda f: ["run", "--regex", "a+", "--input", f],
}
WHY = {
    "zero": "character device",
    "fifo": "FIFO",
    "big": "larger than the limit of 16 MiB",
    "folder": "directory",
}


@pytest.mark.parametrize("kind", ["zero", "fifo", "big", "folder"])
@pytest.mark.parametrize("where", list(CASES))
def test_special_and_oversized_files_are_refused(specials, where, kind):
    if kind == "big" and where in ("data", "input"):
        pytest.skip("their bounds are larger (see the next test)")
    code, err, rss = run_cli(*CASES[where](specials[kind]))
    assert_one_line_error(code, err, rss, WHY[kind])


def test_data_and_input_bounds(tmp_path):
    big = tmp_path / "big.jsonl"
    with open(big, "wb") as f:
        f.truncate(257 << 20)
    code, err, rss = run_cli("run", "--regex", "a+", "--input", big)
    assert_one_line_error(code, err, rss, "larger than the limit of 256 MiB")
    code, err, rss = run_cli("check", "--regex", "a+", big)
    assert_one_line_error(code, err, rss, "larger than the limit of 64 MiB")


def test_endless_stdin_is_bounded():
    with open("/dev/zero", "rb") as zero:
        code, err, rss = run_cli("check", "--regex", "a+", "-", stdin=zero)
    assert_one_line_error(code, err, rss, r"data \(stdin\): larger than the limit of 64 MiB")


def test_an_output_file_that_is_not_a_file(specials, tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('"a"\n')
    code, err, rss = run_cli(
        "run", "--regex", "a+", "--input", prompts, "--output", specials["fifo"]
    )
    assert_one_line_error(code, err, rss, "FIFO")


# --------------------------------------------------------------------------- Ctrl-C

# the command with a stand-in model: loading it announces itself on stderr (and takes
# a minute when argv says "slow-load"); each generation takes 0.2 s and answers "aaa"
STUB = r"""
import sys, time, types
import structgen.cli as cli
import structgen.compiler as compiler

model = types.SimpleNamespace(config=types.SimpleNamespace(vocab_size=10))

def load_model(*a, **kw):
    print("loading", file=sys.stderr, flush=True)
    if "slow-load" in sys.argv:
        time.sleep(60)
    return model, object()

def generate(model, tok, prompts, output_type, **kw):
    time.sleep(0.2)
    return ["aaa" for _ in prompts]

cli.load_model = load_model
compiler.compile = lambda *a, **kw: types.SimpleNamespace()
sys.modules["structgen.generate"].generate = generate
sys.argv = [a for a in sys.argv if a != "slow-load"]
"""


def interrupt(args, *, stub: bool, when, extra=()) -> tuple[int, list[str]]:
    """Run the command, send SIGINT once ``when(stderr lines so far)`` says so; returns
    (exit status, stderr lines other than -X importtime's)."""
    code = (STUB if stub else "") + _entry()
    p = subprocess.Popen(
        [sys.executable, *extra, "-c", code, *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    lines: list[str] = []
    deadline = time.monotonic() + TIMEOUT
    sent = False
    try:
        for line in p.stderr:
            lines.append(line.rstrip("\n"))
            if not sent and when(lines):
                p.send_signal(signal.SIGINT)
                sent = True
            assert time.monotonic() < deadline, "no end in sight"
        p.wait(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
    assert sent, lines
    return p.returncode, [x for x in lines if not x.startswith("import time:")]


def test_ctrl_c_while_structgen_imports():
    """-X importtime reports each import as it finishes: numpy's means the package is
    being imported (structgen imports numpy), and the signal lands there."""
    code, lines = interrupt(
        ["grammar", "--regex", "a+"],
        stub=False,
        when=lambda lines: "numpy" in lines[-1],
        extra=["-X", "importtime"],
    )
    assert (code, lines) == (130, ["structgen: interrupted"])


def test_ctrl_c_while_the_model_loads():
    code, lines = interrupt(
        ["run", "--regex", "a+", "--prompt", "hi", "slow-load"],
        stub=True,
        when=lambda lines: lines[-1] == "loading",
    )
    assert (code, lines) == (130, ["loading", "structgen: interrupted"])


def test_ctrl_c_during_a_batch_leaves_a_valid_resumable_output(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(f"p{i}") + "\n" for i in range(12)))
    out = tmp_path / "out.jsonl"
    args = ["run", "--regex", "a+", "--input", prompts, "--output", out, "--batch-size", "1"]

    def two_rows_written(_lines):  # polled as stderr lines come: wait for the file
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            if out.exists() and out.read_text().count("\n") >= 2:
                return True
            time.sleep(0.02)
        return True

    code, lines = interrupt(args, stub=True, when=two_rows_written)
    assert code == 130, lines
    assert not any("Traceback" in x for x in lines), lines
    assert lines[-1] == "structgen: interrupted", lines
    assert any(x.startswith("structgen: stopped: 12 rows") for x in lines), lines
    text = out.read_text()
    assert text.endswith("\n")
    first = [json.loads(x) for x in text.splitlines()]  # complete lines only
    assert 2 <= len(first) < 12
    with open(out, "a") as f:
        f.write('{"line": 12, "outp')  # and a write cut short by a crash
    code, err, rss = run_cli(*args, stub=True)
    assert code == 0, err
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["line"] for r in recs) == list(range(1, 13))
    assert all(r["output"] == "aaa" for r in recs)
