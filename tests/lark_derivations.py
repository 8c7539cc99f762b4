"""Random derivations of Lark grammars, built from Lark's own compiled BNF (not from
structgen's lowering), for property tests; and a shortest-completion search used to
finish random walks through the token mask."""

from __future__ import annotations

import re
from collections import deque
from functools import cache

import lark
from hypothesis import strategies as st
from lark.load_grammar import GrammarBuilder

from structgen.lark_grammar import _grammar_dirs

ALPHABET = st.characters(
    min_codepoint=9,
    max_codepoint=0x17F,
    exclude_characters="".join(map(chr, [11, 12, *range(14, 32), *range(0x7F, 0xA0)])),
)
_WORD = re.compile(r"\w")
_OPERATOR = set("<>=!*/+-%&|^~.@:")


class Derivations:
    """Everything needed to derive random sentences of one Lark grammar."""

    def __init__(self, text: str, start: str = "start"):
        self.text = text
        builder = GrammarBuilder(False, [str(d) for d in _grammar_dirs()])
        builder.load_grammar(text, "<string>")
        terminals, rules, ignore = builder.build().compile([start], set())
        self.start = start
        self.rules: dict[str, list[list[str]]] = {}
        for r in rules:
            self.rules.setdefault(r.origin.name, []).append([s.name for s in r.expansion])
        self.patterns = {t.name: t.pattern.to_regexp() for t in terminals}
        self.compiled = {n: re.compile(p) for n, p in self.patterns.items()}
        self.ignore = list(ignore)
        self.height = self._heights()
        self.parser = lark.Lark(text, start=start)  # Earley, Lark's default parser

    def _heights(self) -> dict[str, int]:
        h: dict[str, int] = {}
        changed = True
        while changed:
            changed = False
            for name, exps in self.rules.items():
                best = None
                for exp in exps:
                    sub = [h.get(s) if s in self.rules else 0 for s in exp]
                    if any(x is None for x in sub):
                        continue
                    v = 1 + max(sub, default=0)
                    best = v if best is None else min(best, v)
                if best is not None and h.get(name) != best:
                    h[name] = best
                    changed = True
        return h

    def exp_height(self, exp: list[str]) -> int:
        return 1 + max((self.height[s] if s in self.rules else 0 for s in exp), default=0)

    def lark_accepts(self, text: str) -> bool:
        try:
            self.parser.parse(text)
        except lark.exceptions.LarkError:
            return False
        return True

    # ---- terminals ---------------------------------------------------------------------------
    @cache  # noqa: B019 - one instance per shipped grammar
    def terminal_strategy(self, name: str) -> st.SearchStrategy[str]:
        pattern = self.patterns[name]
        rx = self.compiled[name]
        shape = pattern
        m = re.match(r"^(\(\?\w+:)?\(\?!.*?\\b\)", pattern)
        if m:  # keyword exclusion: draw from the word shape, Python's re filters
            shape = (m.group(1) or "") + pattern[m.end() :]
        if "(?<!" in pattern:  # common.ESCAPED_STRING
            shape = r'"(?:[^"\\\n]|\\[^\n])*"'

        def lark_token(s: str) -> bool:  # what re.match reads, as Lark's lexer does
            mm = rx.match(s)
            return mm is not None and mm.end() == len(s)

        return st.from_regex(shape, fullmatch=True, alphabet=ALPHABET).filter(lark_token)

    def separator_strategy(self) -> st.SearchStrategy[str]:
        spaces = [n for n in self.ignore if self.compiled[n].fullmatch(" ")]
        newline = [n for n in self.ignore if self.compiled[n].fullmatch("\n")]
        if not spaces:
            return st.just("")
        options = [st.sampled_from([" ", " ", "  ", "\n" if newline else " "])]
        for n in self.ignore:
            if n not in spaces and n not in newline and newline:
                options.append(self.terminal_strategy(n).map(lambda s: " " + s + "\n"))
        return st.one_of(options)

    # ---- sentences ---------------------------------------------------------------------------
    def tokens(self, data, extra_depth: int = 6, max_tokens: int = 40) -> list[tuple[str, str]]:
        """A random derivation as (terminal name, text) pairs."""
        out: list[tuple[str, str]] = []
        budget = self.height[self.start] + extra_depth

        def expand(sym: str, depth: int) -> None:
            if sym not in self.rules:
                out.append((sym, data.draw(self.terminal_strategy(sym))))
                return
            exps = self.rules[sym]
            left = budget - depth
            if len(out) >= max_tokens:
                left = 0
            ok = [e for e in exps if self.exp_height(e) <= max(left, 0)]
            if not ok:
                low = min(self.exp_height(e) for e in exps)
                ok = [e for e in exps if self.exp_height(e) == low]
            exp = ok[data.draw(st.integers(0, len(ok) - 1))]
            for s in exp:
                expand(s, depth + 1)

        expand(self.start, 0)
        return out

    def sentence(self, data, **kw) -> str:
        """A derived text that Lark parses: tokens joined by ignored separators, which are
        left out where that is safe and Lark still parses the text."""
        toks = [t for _, t in self.tokens(data, **kw)]
        if not toks:
            return ""
        sep = self.separator_strategy()
        full = []
        tight = []
        for i, t in enumerate(toks):
            if i:
                s = data.draw(sep)
                full.append(s or "")
                a, b = toks[i - 1][-1:], t[:1]
                need = bool(_WORD.match(a) and _WORD.match(b)) or (
                    a in _OPERATOR and b in _OPERATOR
                )
                tight.append(s if need or data.draw(st.booleans()) else "")
            full.append(t)
            tight.append(t)
        lead = data.draw(sep) if data.draw(st.booleans()) else ""
        spaced = lead + "".join(full)
        squeezed = lead + "".join(tight)
        if squeezed != spaced and self.lark_accepts(squeezed):
            return squeezed
        assert self.lark_accepts(spaced), f"derived text that Lark rejects: {spaced!r}"
        return spaced


@cache
def derivations(name: str) -> Derivations:
    from structgen import Grammar

    return Derivations(Grammar.builtin(name).text)


def mutate(data, text: str) -> str:
    """One random edit: delete, insert, replace, swap or duplicate."""
    pool = st.sampled_from(list("()[]{},;:.'\"+-*/<>= \nab1_") + ["select", "if", "AND", "**"])
    kind = data.draw(st.sampled_from(["delete", "insert", "replace", "swap", "dup"]))
    n = len(text)
    if n == 0:
        return data.draw(pool)
    i = data.draw(st.integers(0, n - 1))
    if kind == "delete":
        j = data.draw(st.integers(i + 1, min(n, i + 4)))
        return text[:i] + text[j:]
    if kind == "insert":
        return text[:i] + data.draw(pool) + text[i:]
    if kind == "replace":
        return text[:i] + data.draw(pool) + text[i + 1 :]
    if kind == "swap" and i + 1 < n:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    j = data.draw(st.integers(i, min(n, i + 6)))
    return text[:j] + text[i:j] + text[j:]


_COMPLETION_BYTES = bytes([9, 10, *range(0x20, 0x7F), *range(0x80, 0xC0)])


def shortest_completion(automaton, config, max_configs: int = 50_000) -> bytes | None:
    """The shortest bytes that take ``config`` to an accepting configuration (BFS over
    distinct configurations; tab, newline, printable ASCII and UTF-8 continuation bytes)."""
    if automaton.is_accepting(config):
        return b""
    seen = {config}
    todo = deque([(config, b"")])
    while todo:
        cfg, path = todo.popleft()
        for b in _COMPLETION_BYTES:
            nxt = automaton.step(cfg, b)
            if not nxt or nxt in seen:
                continue
            p = path + bytes([b])
            if automaton.is_accepting(nxt):
                return p
            seen.add(nxt)
            if len(seen) > max_configs:
                return None
            todo.append((nxt, p))
    return None
