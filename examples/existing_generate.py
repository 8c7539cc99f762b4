"""Plugging structgen into an existing model.generate() call: one extra logits processor.

python examples/existing_generate.py

prints, on the built-in SmolLM2 model (greedy, the canonical spelling):

    {"sentiment": "positive", "confidence": 1.0}
"""

from __future__ import annotations

import json

import structgen
from structgen import assets

SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"enum": ["positive", "neutral", "negative"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["sentiment", "confidence"],
    "additionalProperties": False,
}


def main() -> None:
    model, tok = assets.load_default_model()

    # ---- the call you already have ----
    chat = tok.apply_chat_template(
        [{"role": "user", "content": "Rate the sentiment of: 'What a lovely day!' as JSON."}],
        tokenize=False,
        add_generation_prompt=True,
    )
    inputs = tok(chat, return_tensors="pt", add_special_tokens=False)

    # ---- the two lines structgen adds ----
    try:
        from structgen import JsonSchema
    except ImportError:  # older layout
        from structgen.jsonschema import JsonSchema
    compiled = structgen.compile(JsonSchema(SCHEMA), tok, vocab_size=model.config.vocab_size)

    # the processor and max_new_tokens from one number: the output closes within it
    kwargs = structgen.generate_kwargs(compiled, max_new_tokens=48)

    out = model.generate(
        **inputs,
        **kwargs,  # <- here
        do_sample=False,
        pad_token_id=tok.eos_token_id,
    )
    # the generated text, replayed through the constraint (a row cut off mid-value raises)
    (text,) = kwargs["logits_processor"][-1].decode(out)
    print(text)
    value = json.loads(text)  # valid JSON, valid for SCHEMA
    assert value["sentiment"] in ("positive", "neutral", "negative")


if __name__ == "__main__":
    main()
