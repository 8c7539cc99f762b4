"""Bounds that stop pathological inputs with LimitError instead of exhausting time or memory."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Resource bounds for compiling and running a constraint.

    max_states: DFA states one terminal may build (lazily, counted as they are built).
    max_compile_seconds: wall-clock budget for lowering + building the initial state.
    max_cache_bytes: bound of the shared in-memory caches (token masks, lexer results).
    max_stacks: parser stacks alive at one point (ambiguous grammars multiply them).
    max_stack_depth: nesting depth of the parser stack (recursion depth of the text).
    max_regex_size: nodes in one lowered regular expression (after bounded-repeat counting).
    max_spec_depth: nesting depth of a spec (JSON Schema or model, regex group, grammar rule
        expression); 128: real schemas nest tens of levels, far below Python's recursion limit.
    max_step_seconds: wall-clock budget for one step's first-visit work (a mask, a transition).
    max_terms: regular-expression terms one terminal's DFA may build (the memory of its states).
    """

    max_states: int = 50_000
    max_compile_seconds: float = 30.0
    max_cache_bytes: int = 256 << 20
    max_stacks: int = 10_000
    max_stack_depth: int = 2_000
    max_regex_size: int = 200_000
    max_spec_depth: int = 128
    max_step_seconds: float = 30.0
    max_terms: int = 500_000


DEFAULT_LIMITS = Limits()
