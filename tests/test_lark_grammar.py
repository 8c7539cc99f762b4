"""The Lark front end: syntax coverage, lexing as Lark's Earley parser does it, left
recursion, %ignore, errors with line/column/caret, explain()."""

from __future__ import annotations

import lark
import pytest

import structgen
from structgen import Grammar, GrammarError
from structgen.compiler import compile_automaton


def accepts(g: Grammar, text: str) -> bool:
    return compile_automaton(g).matches(text.encode())


def lark_accepts(text_grammar: str, text: str, start: str = "start") -> bool:
    try:
        lark.Lark(text_grammar, start=start).parse(text)
    except lark.exceptions.LarkError:
        return False
    return True


def agree(grammar: str, texts: list[str], start: str = "start") -> None:
    """structgen accepts exactly the texts Lark's default (Earley) parser accepts."""
    g = Grammar(grammar, start=start)
    for t in texts:
        assert accepts(g, t) == lark_accepts(grammar, t, start), (t, g.explain(t))


SYNTAX = r"""
start: item+
?item: greeting | count | pair | _wrapped
greeting: "hello"i NAME
count: DIGIT~3 | "#" DIGIT~1..2
pair: "(" [NAME ("," NAME)*] ")"
_wrapped: "<" NAME ">"
NAME: LETTER (LETTER | DIGIT)*
LETTER: "a".."z"
%import common.DIGIT
%ignore " "
"""


def test_syntax_features_against_lark():
    agree(
        SYNTAX,
        [
            "hello bob",
            "HeLLo bob",
            "hellobob",
            "123",
            "12",
            "1234",
            "#1",
            "#12",
            "#123",
            "()",
            "(a, b2)",
            "(a,)",
            "<x>",
            "hello bob 123 (a) <y>",
            "",
            " hello  x ",
            "hello 1",
        ],
    )


def test_terminal_composition_and_regex_flags():
    agree(
        r"""
start: WORD ("," WORD)*
WORD: /[a-z]+/i SUFFIX?
SUFFIX: "-" /\d+/
""",
        ["abc", "ABC-12", "a-1,B", "a-,b", "a-b", "", "a,,b"],
    )


def test_keywords_and_identifiers_follow_lark():
    grammar = r"""
start: "select"i NAME "from"i NAME
NAME: /(?!(?:select|from)\b)[a-z_][a-z0-9_]*/i
%ignore " "
"""
    agree(
        grammar,
        [
            "select a from b",
            "selectx from b",
            "select afrom b",
            "select from from b",
            "select fromx from b",
            "select a fromb",
            "SELECT From from b",
            "select a from select",
        ],
    )


def test_adjacent_terminals_use_longest_match_like_lark():
    agree(
        r"""
start: NAME NAME | NAME "if" NAME
NAME: /[a-z]+/
%ignore " "
""",
        ["ab", "a b", "aif b", "a ifb", "a if b", "ifif"],
    )
    numbers = r"""
start: (NUM | "." | NAME)+
NUM: /[0-9]+(\.[0-9]+)?/
NAME: /[a-z]+/
"""
    agree(numbers, ["1.5", "1.5.x", "15x.5", "1.5.5", "x.1"])
    # the documented difference: a terminal may not end where the next character could
    # continue it, even when that continuation would fail later ("1." is no NUM); Lark's
    # regex engine backtracks to "1" here. structgen is the stricter of the two.
    for text in ["1..5", "1.x"]:
        assert lark_accepts(numbers, text)
        assert not accepts(Grammar(numbers), text)


def test_lazy_terminal_is_the_shortest_match():
    grammar = r"""
start: (NAME | COMMENT)*
NAME: /[a-z]+/
COMMENT: /\/\*(.|\n)*?\*\//
%ignore " "
"""
    agree(grammar, ["/* a */ b /* c */", "/* a */ b */", "/**/", "/* /* */ */", "a /*\n*/"])


def test_common_escaped_string_is_supported():
    agree(
        r"""
start: ESCAPED_STRING ("," ESCAPED_STRING)*
%import common.ESCAPED_STRING
""",
        ['"a"', r'"a\"b"', r'"a\\"', r'"a\\"b"', '"a","b"', '"a\nb"', '""', r'"\"'],
    )


def test_ignore_between_every_pair_of_tokens_and_at_both_ends():
    grammar = r"""
start: "a" "b" NAME
NAME: /[a-z]+/
%ignore /[ \t]+/
%ignore /#[^\n]*\n/
"""
    agree(grammar, ["abc", " a b c ", "a #x\n b\tc #y\n", "a b #c", "ab c#", "a b  cd  "])


def test_unfoldable_ignore_keeps_longest_match():
    grammar = r"""
start: NAME (";" NAME)*
NAME: /[a-z]+/
%ignore /[ \n]+/
%ignore /--[^\n]*/
"""
    agree(grammar, ["a;b", "a --x\n;b", "a --x;b", "a;b --end", "a --x\n --y\n; b"])


def test_left_recursion_direct_and_indirect():
    direct = r"""
start: start "+" term | start "-" term | term
term: term "*" NUM | NUM
NUM: /[0-9]+/
"""
    agree(direct, ["1", "1+2*3-4", "1+", "+1", "1**2", "2*3*4+5"])
    indirect = r"""
start: a "x" | "y"
a: start "z" | "w"
"""
    agree(indirect, ["y", "wx", "yzx", "wxzx", "yz", "w", "yzxzx"])


def test_cycle_without_progress_is_refused_with_position():
    with pytest.raises(GrammarError, match="derives itself without reading") as e:
        Grammar('start: "a" | b\nb: start | b')
    assert "line" in str(e.value)


def test_errors_carry_line_column_and_caret():
    cases = [
        ("start: foo\n", "used but not defined", 1, 8),
        ('start: "a"\nstart: "b"\n', "defined more than once", 2, 1),
        ('start: "a" (\n', "", 1, None),
        ("start: A\nA: /a(?=b)/\n", "lookahead", 2, 4),
        ('start: "a"\n%declare B\n', "%declare is not supported", 2, 10),
        ('start: "a"\n%import nosuch.X\n', "cannot import", 2, None),
        ("start: x\nx: x", "unproductive", 1, None),
        ("start{a}: a\n", "", None, None),
    ]
    for text, msg, line, col in cases:
        with pytest.raises(GrammarError) as e:
            Grammar(text)
        s = str(e.value)
        assert msg in s, s
        if line is not None:
            assert f"line {line}" in s, s
            assert "^" in s, s
        if col is not None:
            assert f"column {col}" in s, s


def test_missing_start_rule_and_bad_types():
    with pytest.raises(GrammarError, match="start rule 'main' is not defined"):
        Grammar('start: "a"', start="main")
    with pytest.raises(TypeError):
        Grammar(b'start: "a"')  # type: ignore[arg-type]


def test_import_of_a_shipped_grammar():
    g = Grammar('start: "[" value "]"\n%import json.value\n%import json.WS\n%ignore WS\n')
    assert accepts(g, '[ {"a": [1, 2.5e3, null]} ]')
    assert not accepts(g, "[ {a: 1} ]")


def test_explain_points_at_the_first_bad_character():
    g = Grammar.builtin("arithmetic")
    assert g.explain("1 + 2") == "accepted"
    msg = g.explain("1 + * 2")
    assert "rejected at character 4" in msg and "line 1, column 5" in msg
    assert msg.rstrip().endswith("^")
    assert "NUMBER" in msg
    assert "incomplete" in g.explain("(1 + 2")


def test_compile_with_a_vocabulary_and_printing():
    g = Grammar('start: "a" NAME\nNAME: /[b-c]+/\n%ignore " "')
    vocab = structgen.Vocabulary([b"a", b" ", b"b", b"bc", b"a b", b"<eos>"], eos_ids=[5])
    m = structgen.compile(g, vocabulary=vocab).matcher()
    assert list(m.allowed_token_ids()) == [0, 1, 4]
    assert m.advance(4) and m.is_accepting()
    assert list(m.allowed_token_ids()) == [1, 2, 3, 5]
    text = g.to_grammar().to_lark()
    assert "%ignore" in text and "NAME" in text
    assert g.to_lark() == g.text


def test_from_file_and_equality(tmp_path):
    p = tmp_path / "g.lark"
    p.write_text('start: "x"+\n', encoding="utf-8")
    g = Grammar.from_file(p)
    assert g == Grammar('start: "x"+\n') and accepts(g, "xxx")
    assert "g.lark" in repr(g)


def test_lark_meta_parser_is_built_without_its_collision_check():
    """Lark checks every lexer's terminals for regex collisions when interegular is
    installed; the first Grammar of a process builds Lark's parser of grammar texts
    without that check (about 140 ms that could only warn about Lark's own terminals),
    leaves the switch as it was, and Lark still checks the lexers of users' parsers."""
    import subprocess
    import sys

    code = (
        "import lark, lark.lexer as L, structgen\n"
        "calls = []\n"
        "real = L._check_regex_collisions\n"
        "L._check_regex_collisions = lambda *a, **k: calls.append(1) or real(*a, **k)\n"
        "assert L.has_interegular\n"
        "structgen.Grammar('start: \"a\"')\n"
        "assert not calls, 'checked Lark meta-grammar'\n"
        "assert L.has_interegular\n"
        "lark.Lark('start: A | B\\nA: /a+/\\nB: /ab/', parser='lalr')\n"
        "assert calls, 'a user parser was not checked'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
