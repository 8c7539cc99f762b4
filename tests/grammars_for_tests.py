"""Recursive test grammars built directly through the IR, with reference recognisers and
hypothesis strategies that derive random sentences."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from structgen.ir import Alt, Chars, Grammar, Ref, Repeat, Seq, Text

# ---- balanced brackets -------------------------------------------------------------------
BRACKETS = Grammar(
    rules={
        "start": Repeat(
            Alt(
                (
                    Seq((Text("("), Ref("start"), Text(")"))),
                    Seq((Text("["), Ref("start"), Text("]"))),
                    Seq((Text("{"), Ref("start"), Text("}"))),
                )
            )
        )
    }
)


def brackets_ok(s: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    for c in s:
        if c in "([{":
            stack.append(c)
        elif c in pairs:
            if not stack or stack.pop() != pairs[c]:
                return False
        else:
            return False
    return not stack


brackets_text = st.recursive(
    st.just(""),
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["()", "[]", "{}"]), inner).map(
            lambda p: p[0][0] + p[1] + p[0][1]
        ),
        st.lists(inner, min_size=2, max_size=3).map("".join),
    ),
    max_leaves=12,
)

# ---- nested lists of integers and words, with optional spaces after commas ----------------
DIGITS = Chars.of([(48, 57)])
LISTS = Grammar(
    rules={
        "start": Ref("value"),
        "value": Alt((Ref("list"), Ref("INT"), Ref("WORD"))),
        "list": Seq(
            (
                Text("["),
                Repeat(
                    Seq(
                        (
                            Ref("value"),
                            Repeat(Seq((Text(","), Repeat(Text(" "), 0, 1), Ref("value")))),
                        )
                    ),
                    0,
                    1,
                ),
                Text("]"),
            )
        ),
    },
    terminals={
        "INT": Alt((Text("0"), Seq((Chars.of([(49, 57)]), Repeat(DIGITS))))),
        "WORD": Seq(
            (
                Text('"'),
                Repeat(Chars.of([(97, 122), (0xE0, 0xFF), (0x4E00, 0x4E0F)]), 1, 8),
                Text('"'),
            )
        ),
    },
)


def lists_ok(s: str) -> bool:
    try:
        v = json.loads(s)
    except ValueError:
        return False

    # exact surface syntax: json.dumps with either separator style must reproduce it
    def shape_ok(x) -> bool:
        if isinstance(x, bool):
            return False
        if isinstance(x, int):
            return x >= 0
        if isinstance(x, str):
            return 1 <= len(x) <= 8 and all(
                "a" <= c <= "z" or 0xE0 <= ord(c) <= 0xFF or 0x4E00 <= ord(c) <= 0x4E0F for c in x
            )
        if isinstance(x, list):
            return all(shape_ok(i) for i in x)
        return False

    if not shape_ok(v) or "-" in s or "\\" in s or "\n" in s or "  " in s or " ]" in s or "[ " in s:
        return False
    return s.replace(", ", ",") == json.dumps(v, separators=(",", ":"), ensure_ascii=False)


word = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=97, max_codepoint=122),
        st.characters(min_codepoint=0xE0, max_codepoint=0xFF),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x4E0F),
    ),
    min_size=1,
    max_size=8,
)
lists_value = st.recursive(
    st.one_of(st.integers(min_value=0, max_value=10**6), word),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=10,
)


@st.composite
def lists_text(draw):
    v = draw(lists_value)
    sep = draw(st.sampled_from([",", ", "]))
    return json.dumps(v, separators=(sep, ":"), ensure_ascii=False)


# ---- arithmetic with precedence and parentheses -----------------------------------------
ARITH = Grammar(
    rules={
        "start": Ref("expr"),
        "expr": Seq((Ref("term"), Repeat(Seq((Alt((Text("+"), Text("-"))), Ref("term")))))),
        "term": Seq((Ref("factor"), Repeat(Seq((Alt((Text("*"), Text("/"))), Ref("factor")))))),
        "factor": Alt(
            (
                Ref("NUMBER"),
                Seq((Text("("), Ref("expr"), Text(")"))),
                Seq((Text("-"), Ref("factor"))),
            )
        ),
    },
    terminals={
        "NUMBER": Seq(
            (Repeat(DIGITS, 1, None), Repeat(Seq((Text("."), Repeat(DIGITS, 1, None))), 0, 1))
        )
    },
)


def arith_ok(s: str) -> bool:
    """Recursive descent recogniser (the grammar is LL(1), so this is exact)."""
    import re

    num = re.compile(r"[0-9]+(\.[0-9]+)?")
    pos = 0

    def peek() -> str:
        return s[pos] if pos < len(s) else ""

    def factor() -> bool:
        nonlocal pos
        c = peek()
        if c == "(":
            pos += 1
            if not expr() or peek() != ")":
                return False
            pos += 1
            return True
        if c == "-":
            pos += 1
            return factor()
        m = num.match(s, pos)
        if not m:
            return False
        pos = m.end()
        return True

    def chain(sub, ops) -> bool:
        nonlocal pos
        if not sub():
            return False
        while peek() and peek() in ops:
            pos += 1
            if not sub():
                return False
        return True

    def term() -> bool:
        return chain(factor, "*/")

    def expr() -> bool:
        return chain(term, "+-")

    try:
        return expr() and pos == len(s)
    except RecursionError:
        return False


number = st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,3})?", fullmatch=True)
arith_text = st.recursive(
    number,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from("+-*/"), inner).map(lambda t: t[0] + t[1] + t[2]),
        inner.map(lambda x: "(" + x + ")"),
        inner.map(lambda x: "-" + x),
    ),
    max_leaves=10,
)

GRAMMARS = {
    "brackets": (BRACKETS, brackets_ok, brackets_text),
    "lists": (LISTS, lists_ok, lists_text()),
    "arith": (ARITH, arith_ok, arith_text),
}
