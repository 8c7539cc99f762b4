"""Shared fixtures: the real tokenizers and model fetched by ``python -m structgen.assets fetch``.

When an asset is missing, tests that need it are skipped, or fail when the ``CI`` environment
variable is set (CI must have fetched them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from structgen import assets

FETCH_HINT = "run `python -m structgen.assets fetch --all`"


@pytest.fixture(autouse=True, scope="session")
def _hermetic_disk_cache(tmp_path_factory) -> Iterator[None]:
    """Compiled grammars written during the tests go to a temporary folder, never to the
    user's disk cache (tests that exercise the cache configure their own)."""
    from structgen import diskcache

    folder = tmp_path_factory.mktemp("structgen-disk-cache")
    before = os.environ.get("STRUCTGEN_DISK_CACHE")
    os.environ["STRUCTGEN_DISK_CACHE"] = str(folder)  # for subprocesses (the CLI tests)
    diskcache.configure(folder)
    yield
    if before is None:
        os.environ.pop("STRUCTGEN_DISK_CACHE", None)
    else:
        os.environ["STRUCTGEN_DISK_CACHE"] = before
    diskcache.configure(True)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def assets_missing(what: str) -> None:
    """Skip the current test because ``what`` is not fetched; fail instead under CI."""
    msg = f"{what} is not in {assets.cache_dir()}: {FETCH_HINT}"
    if in_ci():
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def require_tokenizer(name: str) -> Any:
    """The real tokenizer ``name`` (see ``structgen.assets.TOKENIZERS``), or skip/fail."""
    try:
        return assets.load_tokenizer(name)
    except assets.AssetsMissingError:
        assets_missing(f"tokenizer {name!r}")
        raise  # unreachable: skip/fail raise


def require_model() -> tuple[Any, Any]:
    """``(model, tokenizer)`` for SmolLM2-135M-Instruct, or skip/fail."""
    try:
        return assets.load_model()
    except assets.AssetsMissingError:
        assets_missing("the SmolLM2 model")
        raise


class _Tokenizers(Mapping):
    """name -> tokenizer, loaded on first use; a missing one skips (or fails under CI)."""

    def __getitem__(self, name: str) -> Any:
        if name not in assets.TOKENIZERS:
            raise KeyError(name)
        return require_tokenizer(name)

    def __iter__(self) -> Iterator[str]:
        return iter(assets.TOKENIZERS)

    def __len__(self) -> int:
        return len(assets.TOKENIZERS)


_ASSET_FIXTURES = {"tokenizers", "tokenizer", "tokenizer_name", "smollm2"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses a real-asset fixture with ``assets`` (``-m "not assets"``)."""
    for item in items:
        if _ASSET_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.assets)


@pytest.fixture(scope="session")
def tokenizers() -> Mapping[str, Any]:
    """Every real tokenizer by name, loaded lazily: ``tokenizers["qwen2"]``."""
    return _Tokenizers()


@pytest.fixture(scope="session", params=assets.TOKENIZERS)
def tokenizer_name(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over every real tokenizer's name."""
    return request.param


@pytest.fixture(scope="session")
def tokenizer(tokenizer_name: str) -> Any:
    """The real tokenizer named by ``tokenizer_name`` (one test per tokenizer)."""
    return require_tokenizer(tokenizer_name)


@pytest.fixture(scope="session")
def smollm2() -> tuple[Any, Any]:
    """``(model, tokenizer)``: the real SmolLM2-135M-Instruct model, float32, on CPU."""
    return require_model()
