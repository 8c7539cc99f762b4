"""Grammars: a SQL query from the shipped grammar library (builtin:sql).

python examples/sql_grammar.py
"""

from __future__ import annotations

import structgen
from structgen import assets


def main() -> None:
    model, tok = assets.load_default_model()
    sql = structgen.Grammar.builtin("sql")
    schema = "Table users(id, name, age, city)."
    query = structgen.generate(
        model,
        tok,
        f"{schema} Write one SQL query that lists the names of users older than 30.",
        sql,
        max_new_tokens=48,
    )
    print(query)
    # the text is in the grammar's language: walking it through the automaton accepts it
    assert structgen.compile(sql, tok, vocab_size=model.config.vocab_size).automaton.matches(
        query.encode()
    )


if __name__ == "__main__":
    main()
