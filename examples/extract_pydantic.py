"""Typed extraction: a pydantic model as the return type of a prompt function.

python examples/extract_pydantic.py
"""

from __future__ import annotations

from pydantic import BaseModel, Field

import structgen
from structgen import assets


class Person(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    age: int = Field(ge=0, le=130)
    city: str = Field(max_length=40)


def main() -> None:
    model, tok = assets.load_default_model()  # SmolLM2-135M-Instruct, fetched on first use

    @structgen.function(model=model, tokenizer=tok, max_new_tokens=64)
    def extract(text: str) -> Person:
        """Extract the person from this text as JSON with keys name, age and city.

        Text: {text}"""

    person = extract(text="Maria Lopez, 34, moved to Lisbon last spring.")
    print(repr(person))
    assert isinstance(person, Person)  # validated by pydantic: always true


if __name__ == "__main__":
    main()
