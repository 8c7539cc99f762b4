"""Beam search under a constraint: every returned beam is valid.

python examples/beam_search.py
"""

from __future__ import annotations

import re

import structgen
from structgen import assets

PATTERN = r"[A-Z][a-z]+( [A-Z][a-z]+)?"


def main() -> None:
    model, tok = assets.load_default_model()
    compiled = structgen.compile(structgen.Regex(PATTERN), tok, vocab_size=model.config.vocab_size)
    chat = tok.apply_chat_template(
        [{"role": "user", "content": "Name a famous painter."}],
        tokenize=False,
        add_generation_prompt=True,
    )
    enc = tok(chat, return_tensors="pt", add_special_tokens=False)
    out = model.generate(
        **enc,
        logits_processor=[structgen.LogitsProcessor(compiled)],
        num_beams=4,
        num_return_sequences=4,
        max_new_tokens=12,
        do_sample=False,
        pad_token_id=tok.eos_token_id,
    )
    for row in out:
        ids = row[enc["input_ids"].shape[1] :].tolist()
        m = compiled.matcher()
        for t in ids:  # replay the beam: the matcher is the referee
            if not m.advance(t):
                break  # padding after EOS
        text = tok.decode(ids, skip_special_tokens=True)
        print(repr(text), "complete" if m.is_accepting() else "cut off by max_new_tokens")
        assert re.fullmatch(PATTERN, text) or not m.is_accepting()


if __name__ == "__main__":
    main()
