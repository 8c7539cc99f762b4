"""Classification: a Literal return type; the model can only answer one of the labels.

python examples/classify_literal.py
"""

from __future__ import annotations

from typing import Literal

import structgen
from structgen import assets

Label = Literal["billing", "bug report", "feature request", "other"]


def main() -> None:
    model, tok = assets.load_default_model()

    @structgen.function(model=model, tokenizer=tok, max_new_tokens=24)
    def triage(message: str) -> Label:
        """Classify this support message as billing, bug report, feature request or other.

        Message: {message}"""

    messages = [
        "I was charged twice for my subscription this month.",
        "The app crashes when I press the save button.",
        "Could you add a dark mode?",
    ]
    # .map() runs all the prompts as one batched model.generate() call
    for message, label in zip(
        messages, triage.map([{"message": m} for m in messages]), strict=True
    ):
        print(f"{label:>16}  {message}")
        assert label in Label.__args__


if __name__ == "__main__":
    main()
