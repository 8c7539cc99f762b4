"""Generate text that fully matches a regular expression with the real SmolLM2 model.

python examples/regex_generate.py
python examples/regex_generate.py "(19|20)\\d\\d-\\d\\d-\\d\\d" "When did Apollo 11 land?"
"""

from __future__ import annotations

import re
import sys

import structgen
from structgen import assets


def main() -> None:
    pattern = (
        sys.argv[1] if len(sys.argv) > 1 else r"[A-Z][a-z]{2,12} [A-Z][a-z]{2,12}, \d{2} years old"
    )
    question = sys.argv[2] if len(sys.argv) > 2 else "Invent a person: name and age."
    model, tok = assets.load_model()  # fetched by `python -m structgen.assets fetch`
    compiled = structgen.compile(structgen.Regex(pattern), tok, vocab_size=model.config.vocab_size)
    chat = tok.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )
    enc = tok(chat, return_tensors="pt")
    out = model.generate(
        **enc,
        logits_processor=[structgen.LogitsProcessor(compiled)],
        max_new_tokens=64,
        do_sample=False,
    )
    text = tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    print(text)
    assert re.fullmatch(pattern, text), "structgen guarantees a full match"


if __name__ == "__main__":
    main()
