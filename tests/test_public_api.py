"""The public surface: import cost, exported names, errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

import structgen


def test_import_does_not_load_torch_or_transformers():
    code = (
        "import sys, structgen, structgen.compiler, structgen.automata, structgen.index\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "structgen.Regex('a+')\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_logits_processor_is_loaded_lazily():
    code = (
        "import sys, structgen\n"
        "assert 'torch' not in sys.modules\n"
        "structgen.LogitsProcessor\n"
        "assert 'torch' in sys.modules and 'transformers' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_all_is_sorted_and_complete():
    assert structgen.__all__ == sorted(structgen.__all__)
    for name in structgen.__all__:
        assert getattr(structgen, name) is not None


def test_errors_share_one_root():
    for name in (
        "RegexError",
        "GrammarError",
        "LimitError",
        "EmptyMaskError",
        "VocabularyError",
        "UnsupportedSchemaError",
    ):
        assert issubclass(getattr(structgen, name), structgen.StructgenError)


def test_compile_refuses_unknown_specs():
    with pytest.raises(structgen.SpecError, match="cannot compile"):
        structgen.compile("a+", vocabulary=structgen.Vocabulary([b"a"], eos_ids=[]))


def test_printed_regex_of_nested_repeats_is_valid_python_regex():
    import re

    from structgen.ir import Repeat, Text
    from structgen.printer import regex_text

    a = Text("a")
    for e, ok, bad in [
        (Repeat(Repeat(a, 1, None), 0, 1), ["", "a", "aaa"], ["b"]),
        (Repeat(Repeat(a, 0, None), 0, None), ["", "aa"], ["ab"]),
        (Repeat(Repeat(a, 2, 3), 1, None), ["aa", "aaaaa"], ["a"]),
    ]:
        rx = re.compile(regex_text(e))
        assert all(rx.fullmatch(s) for s in ok) and not any(rx.fullmatch(s) for s in bad)


def test_compile_cache_tells_lexing_modes_apart():
    import dataclasses

    g = structgen.Grammar('start: WORD " " WORD\nWORD: /[a-z]+/').to_grammar()
    other = dataclasses.replace(g, longest_match=not g.longest_match)
    vocab = structgen.Vocabulary([bytes([c]) for c in range(256)] + [None], eos_ids=[256])
    a = structgen.compile(g, vocabulary=vocab)
    b = structgen.compile(other, vocabulary=vocab)
    assert a.automaton is not b.automaton
    assert a.grammar.longest_match != b.grammar.longest_match
