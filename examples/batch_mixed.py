"""One batch, several output types: each prompt gets its own constraint.

python examples/batch_mixed.py

prints, on the built-in SmolLM2 model (greedy; JSON in the canonical spelling, a bare
Literal as its text):

    Invent a person as JSON.
      -> {'name': 'Mara', 'age': 25, 'hobbies': ['Fishing', 'Fishing with a friend', 'Fishing with a friend']}
    Name a classic novel and its publication year, as JSON.
      -> Book(title='The Night of the Revenge', year=2023)
    Is Python a programming language? Answer yes or no.
      -> 'yes'
    Give a UK postcode.
      -> 'AU22 2AU'
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel

import structgen
from structgen import assets


class Book(BaseModel):
    title: str
    year: int


def main() -> None:
    model, tok = assets.load_default_model()
    with open(__file__.replace("batch_mixed.py", "person.schema.json")) as f:
        person_schema = json.load(f)
    prompts = [
        "Invent a person as JSON.",
        "Name a classic novel and its publication year, as JSON.",
        "Is Python a programming language? Answer yes or no.",
        "Give a UK postcode.",
    ]
    types = [
        person_schema,  # a JSON Schema (dict): parsed JSON comes back
        Book,  # a pydantic model: a Book instance
        Literal["yes", "no"],
        structgen.Regex(r"[A-Z]{1,2}\d{1,2} \d[A-Z]{2}"),  # a regex: the text
    ]
    # one model.generate() call; the logits processor holds one constraint per row
    results = structgen.generate(model, tok, prompts, types, max_new_tokens=64)
    for p, r in zip(prompts, results, strict=True):
        print(f"{p}\n  -> {r!r}")
    assert isinstance(results[1], Book) and results[2] in ("yes", "no")


if __name__ == "__main__":
    main()
