"""Attacks on the generation layer: a processor reused for a chained call, a constraint
compiled for another tokenizer or size, and misuse of the processor's arguments.

Each attack must end in a structgen error (that is also the matching builtin) or in
constrained output, within generous time and memory bounds."""

from __future__ import annotations

import contextlib
import re
import time
import tracemalloc

import pytest

import structgen
from structgen import ArgumentError, ArgumentTypeError, StructgenError, VocabularyError

torch = pytest.importorskip("torch")
from transformers import LogitsProcessorList  # noqa: E402

SMOL_WIDTH = 49_152  # SmolLM2's logits


@contextlib.contextmanager
def bounded(seconds: float = 30.0, megabytes: float = 200.0):
    """The block must finish within ``seconds`` and allocate at most ``megabytes`` at its
    peak (tracemalloc): bounds that catch a hang or a blow-up, not a benchmark."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    assert peak < megabytes * 2**20, f"peak {peak / 2**20:.0f} MiB"


def _generate(model, proc, ids, n):
    return model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        logits_processor=LogitsProcessorList([proc]),
        max_new_tokens=n,
        do_sample=False,
        pad_token_id=model.generation_config.eos_token_id or 0,
    )


# ---- a processor reused for a chained call ----------------------------------------------------


def test_chained_generate_on_the_previous_output_is_constrained(smollm2):
    """generate(out, ...) on the previous call's output, which ends in EOS: every row has
    ended, which used to leave the new text unconstrained."""
    model, tok = smollm2
    compiled = structgen.compile(structgen.Regex(r"[0-9]{3}"), tok)
    proc = structgen.LogitsProcessor(compiled)
    prompt = tok("Three digits:", return_tensors="pt")["input_ids"]
    t0 = time.perf_counter()
    out = _generate(model, proc, prompt, 6)
    first = proc.decode(out)[0]
    assert re.fullmatch(r"[0-9]{3}", first) and out[0, -1].item() in compiled.eos_token_ids
    out2 = _generate(model, proc, out, 6)
    assert out2.shape[1] > out.shape[1]
    new = out2[0, out.shape[1] :].tolist()
    # the new part alone is a complete match of the constraint, from its first token
    assert re.fullmatch(r"[0-9]{3}", proc.decode(out2)[0])
    assert re.fullmatch(r"[0-9]{3}", proc.decode(out2, prompt_length=out.shape[1])[0])
    assert new[-1] in compiled.eos_token_ids
    assert time.perf_counter() - t0 < 120


def test_a_row_that_ended_offers_eos_only(tokenizers):
    """In a batch where one row ended and another did not, the ended row is never left
    unconstrained (a chained call cannot be told from a step here: the ended row stays
    ended)."""
    tok = tokenizers["smollm2"]
    compiled = structgen.compile(structgen.Regex(r"[0-9]{2}|[0-9]{4}"), tok)
    eos = next(iter(compiled.eos_token_ids))
    d1, d2, d3 = (tok.convert_tokens_to_ids(d) for d in "123")
    proc = structgen.LogitsProcessor(compiled)
    with bounded():
        ids = torch.tensor([[5], [5]])
        for nxt in ([d1, d1], [d2, d2], [eos, d3]):
            proc(ids, torch.zeros(2, SMOL_WIDTH))
            ids = torch.cat([ids, torch.tensor(nxt)[:, None]], 1)
        out = proc(ids, torch.zeros(2, SMOL_WIDTH))
    assert torch.isfinite(out[0]).nonzero().flatten().tolist() == [eos]
    assert d3 in torch.isfinite(out[1]).nonzero().flatten().tolist()


# ---- a constraint compiled for another tokenizer or size --------------------------------------


@pytest.mark.parametrize("size", [40_000, 60_000])
def test_logits_of_another_width_are_refused(size, tokenizers):
    tok = tokenizers["smollm2"]
    compiled = structgen.compile(structgen.Regex(r"[0-9]+"), tok, vocab_size=size)
    proc = structgen.LogitsProcessor(compiled)
    with bounded(), pytest.raises(VocabularyError) as e:
        proc(torch.tensor([[1, 2]]), torch.zeros(1, SMOL_WIDTH))
    assert isinstance(e.value, ValueError)
    assert str(size) in str(e.value) and str(SMOL_WIDTH) in str(e.value)
    # logits a few padding rows wider than the tokenizer (Qwen2: 151,665 ids, 151,936
    # columns) still fit: those rows are masked, as before
    padded = structgen.compile(structgen.Regex(r"[0-9]+"), tok, vocab_size=SMOL_WIDTH - 271)
    out = structgen.LogitsProcessor(padded)(torch.tensor([[1, 2]]), torch.zeros(1, SMOL_WIDTH))
    assert not torch.isfinite(out[0, SMOL_WIDTH - 271 :]).any() and torch.isfinite(out[0]).any()


def test_constraint_for_llama2_with_smollm2_is_refused(smollm2, tokenizers):
    model, tok = smollm2
    llama2 = structgen.compile(structgen.Regex(r"[a-z]{1,8}"), tokenizers["llama2"])
    with bounded(60, 400):
        with pytest.raises(VocabularyError, match="another tokenizer|compiled for a vocabulary"):
            structgen.generate(model, tok, "A word:", llama2, max_new_tokens=8)
        with pytest.raises(VocabularyError):
            structgen.generate(
                model,
                tok,
                "A word:",
                structgen.Regex(r"[a-z]{1,8}"),
                max_new_tokens=8,
                logits_processor=[structgen.LogitsProcessor(llama2)],
            )
        fn = structgen.function(
            model=model,
            tokenizer=tok,
            max_new_tokens=8,
            logits_processor=[structgen.LogitsProcessor(llama2)],
        )(_a_word)
        with pytest.raises(VocabularyError):
            fn()
        with pytest.raises(VocabularyError, match="another tokenizer|compiled for a vocabulary"):
            structgen.LogitsProcessor(llama2, tokenizer=tok)
        with pytest.raises(VocabularyError):
            structgen.generate_kwargs(llama2, max_new_tokens=8, tokenizer=tok)


def _a_word() -> str:
    """A word:"""


def test_generate_takes_a_constraint_compiled_for_its_tokenizer(smollm2):
    model, tok = smollm2
    compiled = structgen.compile(structgen.Regex(r"[0-9]{2}"), tok)
    structgen.LogitsProcessor(compiled, tokenizer=tok)  # the right tokenizer: no error
    t0 = time.perf_counter()
    got = structgen.generate(model, tok, "Two digits:", compiled, max_new_tokens=5)
    assert re.fullmatch(r"[0-9]{2}", got)
    assert time.perf_counter() - t0 < 60


# ---- misuse: structgen errors that are also the builtin ones ----------------------------------


def _misuses(tok):
    c = structgen.compile(structgen.Regex(r"[0-9]{2}"), tok)
    proc = structgen.LogitsProcessor(c)
    ids, scores = torch.tensor([[1, 2]]), torch.zeros(1, SMOL_WIDTH)
    return {
        "not compiled": (ArgumentTypeError, lambda: structgen.LogitsProcessor("[0-9]+")),
        "no constraint": (ArgumentError, lambda: structgen.LogitsProcessor([])),
        "zero budget": (ArgumentError, lambda: structgen.LogitsProcessor(c, max_new_tokens=0)),
        "bool budget": (ArgumentError, lambda: structgen.LogitsProcessor(c, max_new_tokens=True)),
        "negative margin": (ArgumentError, lambda: structgen.LogitsProcessor(c, margin=-1)),
        "list ids": (ArgumentTypeError, lambda: proc([[1, 2]], scores)),
        "numpy scores": (ArgumentTypeError, lambda: proc(ids, scores.numpy())),
        "1-D ids": (ArgumentError, lambda: proc(ids[0], scores)),
        "3-D scores": (ArgumentError, lambda: proc(ids, scores[None])),
        "rows disagree": (ArgumentError, lambda: proc(torch.tensor([[1], [2]]), scores)),
        "float ids": (ArgumentTypeError, lambda: proc(ids.float(), scores)),
        "integer scores": (ArgumentTypeError, lambda: proc(ids, scores.long())),
        "bad errors=": (ArgumentError, lambda: proc.decode(ids, prompt_length=1, errors="x")),
        "negative prompt_length": (ArgumentError, lambda: proc.decode(ids, prompt_length=-1)),
        "decode of text": (ArgumentTypeError, lambda: proc.decode("12", prompt_length=0)),
        "decode before generating": (ArgumentError, lambda: proc.decode(ids)),
        "mixed generations": (ArgumentError, lambda: _mixed(proc)),
        "no budget": (ArgumentError, lambda: structgen.generate_kwargs(c)),
        "compile without tokenizer": (ArgumentTypeError, lambda: structgen.compile(c.spec)),
    }


def _mixed(proc):
    proc.reset()
    proc(torch.tensor([[1], [1]]), torch.zeros(2, SMOL_WIDTH))
    two = proc.compiled.matcher().allowed_token_ids()[0]
    proc(torch.tensor([[1, two], [7, two]]), torch.zeros(2, SMOL_WIDTH))


def test_every_misuse_raises_a_structgen_error_that_is_the_builtin_too(tokenizers):
    with bounded(60, 300):
        cases = _misuses(tokenizers["smollm2"])
        for name, (cls, call) in cases.items():
            with pytest.raises(cls) as e:
                call()
            assert isinstance(e.value, StructgenError), name
            builtin = TypeError if cls is ArgumentTypeError else ValueError
            assert isinstance(e.value, builtin), name


def test_generate_misuse_is_refused_before_generating(smollm2):
    model, tok = smollm2
    with bounded(60, 300):
        for kwargs, cls in (
            ({"retries": -1}, ArgumentError),
            ({"retries": True}, ArgumentError),
        ):
            with pytest.raises(cls) as e:
                structgen.generate(model, tok, "x", structgen.Regex("a"), **kwargs)
            assert isinstance(e.value, ValueError)
        with pytest.raises(ArgumentTypeError) as e:
            structgen.generate(model, tok, 42, structgen.Regex("a"))
        assert isinstance(e.value, TypeError)
        with pytest.raises(ArgumentError):
            structgen.generate(model, tok, ["a", "b"], [structgen.Regex("a")])
