"""Tokenizer-free automata: byte-level terms, lazy DFAs, and the grammar automaton."""

from __future__ import annotations

from ..ir import Expr
from .dfa import DFA
from .grammar import END, Automaton
from .lower import lower_regex

__all__ = ["DFA", "END", "Automaton", "accepts", "lower_regex"]


def accepts(expr: Expr, data: bytes, terminals: dict | None = None) -> bool:
    """Whether the IR regular expression ``expr`` matches all of ``data`` (UTF-8 bytes)."""
    from .terms import matches

    return matches(lower_regex(expr, terminals), data)
