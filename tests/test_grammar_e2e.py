"""End to end: the real SmolLM2-135M-Instruct writing arithmetic, SQL and Python
expressions under the shipped grammars (greedy, sampling, beam search). Every output must
end with EOS within the token budget and parse with Lark's own parser."""

from __future__ import annotations

import lark
import pytest

import structgen

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.model

MAX_NEW_TOKENS = 48
PROMPTS = {
    "arithmetic": "Write an arithmetic expression that multiplies the sum of 3 and 4 by 2. "
    "Reply with the expression only.",
    "sql": "Write a SQL query that selects the name and age of users older than 30 from "
    "the users table. Reply with the query only.",
    "python_expr": "Write a one-line Python expression that uses sum() and range() to compute "
    "the sum of the squares of the numbers from 1 to 10. Reply with the expression only.",
}


def _chat(tok, text: str) -> str:
    return tok.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
    )


def _run(model, tok, name: str, **kw) -> list[tuple[str, bool]]:
    grammar = structgen.Grammar.builtin(name)
    compiled = structgen.compile(grammar, tok, vocab_size=model.config.vocab_size)
    proc = structgen.LogitsProcessor(compiled)
    enc = tok([_chat(tok, PROMPTS[name])], return_tensors="pt")
    out = model.generate(
        **enc,
        logits_processor=[proc],
        max_new_tokens=MAX_NEW_TOKENS,
        pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        **kw,
    )
    vocab = compiled.vocabulary
    results = []
    for row in out[:, enc["input_ids"].shape[1] :].tolist():
        data, ended = b"", False
        for t in row:
            if t in vocab.eos_ids:
                ended = True
                break
            if t == tok.pad_token_id:
                break
            data += vocab.tokens[t]
        results.append((data.decode("utf-8"), ended))
    return results


def _check(name: str, results: list[tuple[str, bool]]) -> None:
    parser = lark.Lark(structgen.Grammar.builtin(name).text)
    for text, ended in results:
        assert ended, f"{name}: no EOS within {MAX_NEW_TOKENS} tokens: {text!r}"
        parser.parse(text)  # raises when Lark rejects the output


@pytest.mark.parametrize("name", sorted(PROMPTS))
def test_greedy(smollm2, name):
    model, tok = smollm2
    _check(name, _run(model, tok, name, do_sample=False))


@pytest.mark.parametrize("name", sorted(PROMPTS))
def test_sampling(smollm2, name):
    model, tok = smollm2
    torch.manual_seed(0)
    results = _run(
        model, tok, name, do_sample=True, temperature=0.7, top_p=0.95, num_return_sequences=2
    )
    assert len(results) == 2
    _check(name, results)


@pytest.mark.parametrize("name", sorted(PROMPTS))
def test_beam_search(smollm2, name):
    model, tok = smollm2
    results = _run(model, tok, name, num_beams=4, num_return_sequences=4, do_sample=False)
    assert len(results) == 4
    _check(name, results)
