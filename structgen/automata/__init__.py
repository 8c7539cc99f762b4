"""Tokenizer-free automata: byte-level terms, lazy DFAs, and the grammar automaton."""

from __future__ import annotations

from functools import lru_cache

from ..ir import Expr
from .dfa import DFA
from .grammar import END, Automaton
from .lower import lower_regex

__all__ = ["DFA", "END", "Automaton", "accepts", "lower_regex"]


@lru_cache(maxsize=256)
def _lowered(expr: Expr):
    return lower_regex(expr)


def accepts(expr: Expr, data: bytes, terminals: dict | None = None) -> bool:
    """Whether the IR regular expression ``expr`` matches all of ``data`` (UTF-8 bytes)."""
    from .terms import matches

    term = lower_regex(expr, terminals) if terminals else _lowered(expr)
    return matches(term, data)
