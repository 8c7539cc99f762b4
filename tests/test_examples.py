"""Every example script, and every `structgen ...` command in the README and docs, runs as
written against the real SmolLM2 model."""

from __future__ import annotations

import re
import runpy
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from structgen import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if "__main__" in p.read_text())
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@pytest.fixture(autouse=True, scope="module")
def _private_disk_cache(tmp_path_factory):
    """Keep the tests' compiled grammars out of the user's disk cache."""
    from structgen import diskcache

    diskcache.configure(tmp_path_factory.mktemp("diskcache"))
    yield
    diskcache.configure(True)


def test_there_are_examples():
    names = {p.name for p in EXAMPLES}
    for expected in (
        "extract_pydantic.py",
        "classify_literal.py",
        "regex_dates.py",
        "sql_grammar.py",
        "beam_search.py",
        "batch_mixed.py",
        "existing_generate.py",
    ):
        assert expected in names


@pytest.mark.model
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, smollm2, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(path)])
    runpy.run_path(str(path), run_name="__main__")  # the examples assert their own results
    assert capsys.readouterr().out.strip()


def _documented_commands() -> list[tuple[str, str]]:
    """(where, command) for every distinct `structgen ...` line in a shell code block."""
    out: dict[str, str] = {}
    for doc in DOCS:
        text = doc.read_text()
        for block in re.findall(r"```(?:bash|sh|console|shell)\n(.*?)```", text, re.S):
            for line in block.splitlines():
                line = line.split("  #")[0].strip().removeprefix("$ ")
                if line.startswith("structgen ") and line not in out:
                    out[line] = doc.name
    return [(where, command) for command, where in out.items()]


COMMANDS = _documented_commands()


def test_docs_have_commands():
    assert any(c.startswith("structgen run examples/person.schema.json") for _, c in COMMANDS)


@pytest.mark.model
@pytest.mark.parametrize("where, command", COMMANDS, ids=[f"{w}:{c[:60]}" for w, c in COMMANDS])
def test_documented_command_runs(where, command, smollm2, tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(command)[1:]
    if "|" in argv or ">" in argv:
        pytest.skip("pipelines are shown for illustration")
    code = cli.main(argv)
    out, err = capsys.readouterr()
    expected = 1 if argv[0] == "check" and "bad" in command else 0
    assert code == expected, f"{where}: {command}\n{err}"


def _python_blocks(doc: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)


PY_DOCS = [d for d in DOCS if _python_blocks(d)]


@pytest.mark.model
@pytest.mark.parametrize("doc", PY_DOCS, ids=[d.name for d in PY_DOCS])
def test_documented_python_runs(doc, smollm2, monkeypatch, capsys):
    """The python blocks of a page run in order, in one namespace, from the repository root."""
    blocks = _python_blocks(doc)
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": "__doc_example__"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"{doc.name}[block {i}]", "exec"), namespace)
        except Exception as e:  # show which block failed
            raise AssertionError(f"{doc.name}, python block {i} failed: {e!r}") from e
