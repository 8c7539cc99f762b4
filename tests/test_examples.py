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


def _snippets() -> list:
    """One case per python block of the README and docs/; those that load the model are
    marked ``model`` (the others run in the fast suite)."""
    out = []
    for doc in DOCS:
        for i, block in enumerate(_python_blocks(doc)):
            loads = re.search(r"load_default_model|load_model\(|from_pretrained", block)
            marks = [pytest.mark.model] if loads else []
            where = f"{doc.relative_to(ROOT)}[{i}]"
            out.append(pytest.param(where, block, marks=marks, id=where))
    return out


SNIPPETS = _snippets()


def test_docs_have_python_snippets():
    assert len(SNIPPETS) >= 10
    assert any(s.id.startswith("README.md") for s in SNIPPETS)


@pytest.mark.parametrize("where, block", SNIPPETS)
def test_documented_python_runs_on_its_own(where, block, monkeypatch, capsys, tmp_path):
    """Each python block runs on its own, in a fresh namespace, from the repository root: a
    reader can copy any one of them (no name left over from a block above)."""
    from conftest import require_model, require_tokenizer

    if re.search(r"load_default_model|load_model\(|from_pretrained", block):
        require_model()  # skips (or fails under CI) when the model is not fetched
    for name in re.findall(r"load_tokenizer\(\"(\w+)\"\)", block):
        require_tokenizer(name)
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": "__doc_snippet__"}
    try:
        exec(compile(block, where, "exec"), namespace)
    except Exception as e:
        raise AssertionError(f"{where} does not run on its own: {e!r}") from e
    finally:
        from structgen import diskcache

        diskcache.configure(tmp_path / "diskcache")  # a snippet may have reconfigured it
