"""The typed front door's manners: generate(..., generation_config=...) without
deprecation warnings, a progress bar for .map() on a terminal only, no print() in the
library."""

from __future__ import annotations

import io
import logging
import pathlib
import re
import warnings
from types import SimpleNamespace
from typing import Literal

import pytest

import structgen

torch = pytest.importorskip("torch")


class Greedy:
    """A stand-in model: random logits, greedy, as many rows as it is given."""

    def __init__(self, vocab_size: int, eos: int):
        self.config = SimpleNamespace(vocab_size=vocab_size)
        self.generation_config = SimpleNamespace(max_new_tokens=None, pad_token_id=None)
        self.device = torch.device("cpu")
        self.eos = eos
        self.gen = torch.Generator().manual_seed(0)

    def generate(self, input_ids, attention_mask, logits_processor, max_new_tokens, **kw):
        ids = input_ids
        for _ in range(max_new_tokens):
            scores = torch.randn(ids.shape[0], self.config.vocab_size, generator=self.gen)
            for p in logits_processor:
                scores = p(ids, scores)
            ids = torch.cat([ids, scores.argmax(-1)[:, None]], 1)
            if bool((ids[:, -1] == self.eos).all()):
                break
        return ids


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stderr_cls, shown", [(Terminal, True), (io.StringIO, False)])
def test_map_shows_a_progress_bar_on_a_terminal_only(tokenizers, monkeypatch, stderr_cls, shown):
    tok = tokenizers["smollm2"]
    err = stderr_cls()
    monkeypatch.setattr("sys.stderr", err)

    @structgen.function(model=Greedy(len(tok), tok.eos_token_id), tokenizer=tok, max_new_tokens=4)
    def answer(q: str) -> Literal["yes", "no"]:
        """{q}"""

    got = answer.map([{"q": str(i)} for i in range(5)], batch_size=2)
    assert len(got) == 5 and set(got) <= {"yes", "no"}
    text = err.getvalue()
    if shown:
        assert "answer" in text and "5/5" in text and "100%" in text, text
    else:
        assert text == ""
    err2 = stderr_cls()
    monkeypatch.setattr("sys.stderr", err2)
    answer.map([{"q": "x"}], progress=not shown)  # the option overrides the default
    assert bool(err2.getvalue()) is (not shown)


def test_the_library_never_prints():
    """print() only in the command line and the assets fetcher (their user-facing output)."""
    root = pathlib.Path(structgen.__file__).parent
    allowed = {"cli.py", "cli_files.py", "assets.py", "__main__.py"}
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name in allowed:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"(?<![\w.])print\(", line):
                found.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert not found, found


@pytest.mark.model
def test_generation_config_without_deprecation_warnings(smollm2):
    from transformers import GenerationConfig
    from transformers.utils import logging as hf_logging

    model, tok = smollm2
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.WARNING)
    hf_logger = logging.getLogger("transformers")
    hf_logger.addHandler(handler)
    hf_logging.warning_once.cache_clear()  # warnings said once per process: say them again
    config = GenerationConfig(max_new_tokens=6, do_sample=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = structgen.generate(
                model, tok, "Is the sky blue?", Literal["yes", "no"], generation_config=config
            )
            word = structgen.generate(
                model,
                tok,
                ["Name a colour.", "Name a fruit."],
                structgen.Regex("[a-z]{2,8}"),
                generation_config=config,
                retries=1,
            )
    finally:
        hf_logger.removeHandler(handler)
    assert got in ("yes", "no") and len(word) == 2
    assert not [r.getMessage() for r in records], [r.getMessage() for r in records]
    assert config.max_new_tokens == 6 and config.pad_token_id is None  # the caller's, untouched
