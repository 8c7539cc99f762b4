"""Regular expressions: ISO dates (with valid months and days), written by the model.

python examples/regex_dates.py
"""

from __future__ import annotations

import datetime
import re

import structgen
from structgen import assets

DATE = r"(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"


def main() -> None:
    model, tok = assets.load_default_model()
    questions = [
        "On which date did Apollo 11 land on the Moon?",
        "On which date did the Berlin Wall fall?",
    ]
    answers = structgen.generate(model, tok, questions, structgen.Regex(DATE), max_new_tokens=16)
    for q, date in zip(questions, answers, strict=True):
        print(f"{q} -> {date}")
        assert re.fullmatch(DATE, date)
        try:  # the regex allows 2023-02-31; the calendar does not
            datetime.date.fromisoformat(date)
        except ValueError:
            print("  (well-formed, but not a real calendar date)")


if __name__ == "__main__":
    main()
