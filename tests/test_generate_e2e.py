"""End to end: the real SmolLM2-135M-Instruct generating under regex constraints with
greedy, sampling, beam search and left-padded batches; every output must fully match."""

from __future__ import annotations

import re

import pytest

import structgen

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.model

REGEXES = {
    "date": r"(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])",
    "phone": r"\(\d{3}\) \d{3}-\d{4}",
    "email": r"[a-z]{1,12}@[a-z]{1,10}\.(com|org|net)",
    "ipv4": r"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)",
    "answer": r"(yes|no|maybe)",
    "identifier": r"[A-Za-z_][A-Za-z0-9_]{0,15}",
    "unicode": r"[À-ÿ]{2,6} \d{1,3}",
}
PROMPTS = {
    "date": "When did the first person walk on the moon? Answer with a date.",
    "phone": "Give me a US phone number.",
    "email": "Write the email address of a fictional person.",
    "ipv4": "What is the IP address of a home router?",
    "answer": "Is the sky blue?",
    "identifier": "Name a Python variable that stores a user's age.",
    "unicode": "Write a French word with accents and a number.",
}


@pytest.fixture(scope="module")
def model_and_tokenizer(smollm2):
    return smollm2


def _chat(tok, text: str) -> str:
    return tok.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
    )


def _outputs(compiled, tok, out_ids, prompt_len: int) -> list[str]:
    vocab = compiled.vocabulary
    texts = []
    for row in out_ids[:, prompt_len:].tolist():
        data = b""
        for t in row:
            if t in vocab.eos_ids or t == tok.pad_token_id:
                break
            data += vocab.tokens[t]
        texts.append(data.decode("utf-8"))
    return texts


def _ended_with_eos(compiled, out_ids, prompt_len: int) -> list[bool]:
    eos = compiled.vocabulary.eos_ids
    return [any(t in eos for t in row) for row in out_ids[:, prompt_len:].tolist()]


def _generate(model, tok, compiled, prompts, **kw):
    proc = kw.pop("processor", None) or structgen.LogitsProcessor(compiled)
    tok.padding_side = "left"
    enc = tok([_chat(tok, p) for p in prompts], return_tensors="pt", padding=True)
    out = model.generate(
        **enc,
        logits_processor=[proc],
        max_new_tokens=kw.pop("max_new_tokens", 40),
        pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        **kw,
    )
    n = enc["input_ids"].shape[1]
    return _outputs(compiled, tok, out, n), _ended_with_eos(compiled, out, n), proc


@pytest.mark.parametrize("name", sorted(REGEXES))
def test_greedy_and_sampling(model_and_tokenizer, name):
    model, tok = model_and_tokenizer
    pattern = REGEXES[name]
    compiled = structgen.compile(structgen.Regex(pattern), tok, vocab_size=model.config.vocab_size)
    texts, ended, _ = _generate(model, tok, compiled, [PROMPTS[name]], do_sample=False)
    assert ended == [True] and re.fullmatch(pattern, texts[0]), texts
    torch.manual_seed(0)
    texts, ended, _ = _generate(
        model,
        tok,
        compiled,
        [PROMPTS[name]],
        do_sample=True,
        temperature=1.3,
        top_k=50,
        top_p=0.95,
        num_return_sequences=3,
    )
    assert all(ended), texts
    for t in texts:
        assert re.fullmatch(pattern, t), texts


@pytest.mark.parametrize("name", ["date", "email", "phone", "answer", "ipv4", "identifier"])
def test_beam_search(model_and_tokenizer, name):
    model, tok = model_and_tokenizer
    pattern = REGEXES[name]
    compiled = structgen.compile(structgen.Regex(pattern), tok, vocab_size=model.config.vocab_size)
    texts, ended, _ = _generate(
        model,
        tok,
        compiled,
        [PROMPTS[name]],
        num_beams=4,
        num_return_sequences=4,
        do_sample=False,
    )
    assert len(texts) == 4
    assert all(ended), texts
    for t in texts:
        assert re.fullmatch(pattern, t), texts


def test_left_padded_batch_and_reuse(model_and_tokenizer):
    model, tok = model_and_tokenizer
    pattern = REGEXES["date"]
    compiled = structgen.compile(structgen.Regex(pattern), tok, vocab_size=model.config.vocab_size)
    prompts = [
        "Date?",
        "When did the Berlin wall fall? Reply with the date only, as YYYY-MM-DD.",
        "Pick any day in the twentieth century and write it as a date.",
    ]
    proc = structgen.LogitsProcessor(compiled)
    texts, ended, _ = _generate(model, tok, compiled, prompts, processor=proc, do_sample=False)
    assert all(ended) and len(texts) == 3
    for t in texts:
        assert re.fullmatch(pattern, t), texts
    # the same processor, a second generate() call (different batch size, sampling)
    torch.manual_seed(1)
    texts2, ended2, _ = _generate(
        model, tok, compiled, prompts[:2], processor=proc, do_sample=True, temperature=1.0
    )
    assert all(ended2) and len(texts2) == 2
    for t in texts2:
        assert re.fullmatch(pattern, t), texts2


def test_processor_time_is_recorded(model_and_tokenizer):
    model, tok = model_and_tokenizer
    compiled = structgen.compile(
        structgen.Regex(REGEXES["answer"]), tok, vocab_size=model.config.vocab_size
    )
    texts, ended, proc = _generate(model, tok, compiled, [PROMPTS["answer"]], do_sample=False)
    assert ended == [True] and texts[0] in ("yes", "no", "maybe")
    assert proc.stats["calls"] >= 1 and proc.stats["seconds"] > 0
