"""The Lark front end: Lark grammar text → the Grammar IR.

``Grammar(text)`` reads the grammar with Lark's own loader (``lark.load_grammar``), so the
syntax, ``%import`` resolution (``common.lark`` and the grammars shipped with structgen),
``?rule`` / ``_rule`` / aliases and EBNF operators are exactly Lark's. Lark compiles the
grammar to BNF rules and one regular expression per terminal; rules become IR rules over
terminal references, and every terminal regex goes through the regex front end
(:mod:`structgen.regex`), so its language is Python's ``re`` language.

Lexing follows Lark's default parser (Earley with its dynamic lexer): each terminal in a
rule is a token of its own, a terminal is read to its longest match (it may not end where
the next character could continue it; ``ir.Grammar.longest_match``), ``%ignore``
terminals may appear between any two tokens and at both ends. Terminals whose regex has a
lazy quantifier (``/\\/\\*(.|\\n)*?\\*\\//``) are read as their *shortest* match, as
``re.match`` reads them. A leading negative lookahead that excludes keywords from a word
terminal, ``/(?!(?:if|else)\\b)[a-z_]\\w*/``, becomes a terminal subtraction (word minus
keywords). Terminal priorities only steer Lark's choice between parse trees; they do not
change which texts parse, so they are ignored. The grammars ``structgen grammar`` prints
may declare structgen's extensions in comment lines (``&`` and ``~`` in terminals,
terminals that end anywhere; see :mod:`structgen.lark_ext`).
"""

from __future__ import annotations

import bisect
import os
import re
from functools import lru_cache
from pathlib import Path

from . import deadline, ir
from .errors import GrammarError, RegexError, SpecTypeError
from .lark_ext import declared, has_ops, ops_regex_ir
from .limits import DEFAULT_LIMITS, Limits

__all__ = ["Grammar"]

_ANY_BYTES = ir.Repeat(ir.Bytes(((0, 255),)), 1, None)
# common.lark's ESCAPED_STRING uses a lookbehind; this regex has the same language
_KNOWN_REGEX = {
    r'".*?(?<!\\)(\\\\)*?"': r'"(?:[^"\\\n]|\\[^\n])*"',
}


def _grammar_dirs() -> list[Path]:
    """Where the shipped grammars live: inside the installed package, else the checkout."""
    here = Path(__file__).resolve().parent
    return [p for p in (here / "grammars", here.parent / "grammars") if p.is_dir()]


class Grammar:
    """A Lark grammar as a structgen constraint: the text must parse from ``start``.

    ``Grammar(text, start="start")``, ``Grammar.from_file(path)``,
    ``Grammar.builtin("sql")`` (see :meth:`builtin_names`). Errors in the grammar raise
    :class:`~structgen.GrammarError` with the line, column and the offending text.
    """

    __slots__ = ("text", "start", "source", "_ir", "_display")

    def __init__(
        self,
        text: str,
        *,
        start: str = "start",
        source: str = "<string>",
        limits: Limits | None = None,
    ):
        if not isinstance(text, str):
            raise SpecTypeError(f"Grammar text must be a str, not {type(text).__name__}")
        if not isinstance(start, str):
            raise SpecTypeError(f"Grammar start must be a str, not {type(start).__name__}")
        self.text = text
        self.start = start
        self.source = source
        self._display: dict[str, str] = {}
        limits = limits or DEFAULT_LIMITS
        with deadline.deadline(
            limits.max_compile_seconds, "compiling the grammar (Limits.max_compile_seconds)"
        ):
            _check_nesting(text, limits.max_spec_depth)
            try:
                self._ir = _lower(text, start, source, self._display)
            except RecursionError:
                raise _error("the grammar is nested too deeply", text, None) from None
            self._check(limits)

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | os.PathLike, *, start: str = "start") -> Grammar:
        p = Path(path)
        return cls(p.read_text(encoding="utf-8"), start=start, source=str(p))

    @classmethod
    def builtin(cls, name: str) -> Grammar:
        """One of the grammars shipped with structgen (``json``, ``sql``, ...)."""
        for d in _grammar_dirs():
            p = d / f"{name}.lark"
            if p.is_file():
                return cls.from_file(p)
        raise GrammarError(
            f"no built-in grammar named {name!r}; available: {', '.join(cls.builtin_names())}"
        )

    @staticmethod
    def builtin_names() -> list[str]:
        names: set[str] = set()
        for d in _grammar_dirs():
            names.update(p.stem for p in d.glob("*.lark"))
        return sorted(names)

    # -- the spec protocol ----------------------------------------------------------------------
    def to_grammar(self) -> ir.Grammar:
        return self._ir

    def to_lark(self) -> str:
        return self.text

    def explain(self, text: str) -> str:
        """Where and why ``text`` is rejected (or "accepted"): the first offending
        character with a caret and the terminals that could have come there."""
        from .compiler import compile_automaton

        a = compile_automaton(self)
        data = text.encode("utf-8")
        config = a.initial()
        for i, b in enumerate(data):
            nxt = a.step(config, b)
            if not nxt:
                pos = len(data[:i].decode("utf-8", "replace"))
                return _caret(
                    text,
                    pos,
                    f"rejected at character {pos} ({text[pos : pos + 1]!r}); "
                    f"expected {_expected(a, config, self._display)}",
                )
            config = nxt
        if a.is_accepting(config):
            return "accepted"
        return _caret(
            text,
            len(text),
            f"incomplete: the text ends where {_expected(a, config, self._display)} must follow",
        )

    def _check(self, limits: Limits = DEFAULT_LIMITS) -> None:
        from .compiler import compile_automaton

        try:
            compile_automaton(self, limits)
        except GrammarError as e:
            m = re.search(r"rule '(\w+)'", str(e))
            pos = _definition_pos(self.text, m.group(1)) if m else None
            raise _error(str(e), self.text, pos) from None

    # -- value semantics ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grammar):
            return NotImplemented
        return self.text == other.text and self.start == other.start

    def __hash__(self) -> int:
        return hash((Grammar, self.text, self.start))

    def __repr__(self) -> str:
        head = self.source if self.source != "<string>" else repr(self.text[:40])
        return f"Grammar({head}, start={self.start!r})"

    def __reduce__(self):
        return (_rebuild, (self.text, self.start, self.source))


def _rebuild(text: str, start: str, source: str) -> Grammar:
    return Grammar(text, start=start, source=source)


# --------------------------------------------------------------------------- diagnostics


def _expected(a, config, display: dict) -> str:
    names = []
    for t, _q, _s in config:
        if t >= 0:
            n = a.terminal_names[t]
            n = display.get(n, n)
            if n not in names:
                names.append(n)
    names.sort()
    if a.is_accepting(config):
        names.append("the end of the text")
    return "one of: " + ", ".join(names) if names else "nothing (dead end)"


def _check_nesting(text: str, max_depth: int) -> None:
    """Refuse brackets nested deeper than ``max_depth`` (``Limits.max_spec_depth``) in
    the rules, before Lark's loader and the lowering recurse into them: a GrammarError
    at the first bracket too deep, not a RecursionError. Strings, regular expressions
    and comments are skipped."""
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or (c == "/" and text[i + 1 : i + 2] != "/"):
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c == "/":  # a // comment
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "([":
            depth += 1
            if depth > max_depth:
                raise _error(
                    f"the grammar nests brackets deeper than {max_depth} (Limits.max_spec_depth)",
                    text,
                    i,
                )
        elif c in ")]":
            depth = max(depth - 1, 0)
        i += 1


def _linecol(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def _caret(text: str, pos: int, msg: str) -> str:
    line, col = _linecol(text, pos)
    lines = text.split("\n")
    src = lines[line - 1] if line - 1 < len(lines) else ""
    return f"{msg}\nline {line}, column {col}:\n  {src}\n  {' ' * (col - 1)}^"


def _error(msg: str, text: str, pos: int | None) -> GrammarError:
    msg = msg.strip()
    if pos is None:
        return GrammarError(msg)
    return GrammarError(_caret(text, pos, msg))


def _definition_pos(text: str, name: str) -> int | None:
    m = re.search(rf"^[ \t]*[?!]?{re.escape(name)}\b[ \t]*(\.[-\d]+)?[ \t]*:", text, re.M)
    if m:
        return m.start() + len(m.group(0)) - len(m.group(0).lstrip(" \t?!"))
    m = re.search(rf"(?<![\w.]){re.escape(name)}\b", text)
    return m.start() if m else None


def _use_pos(text: str, name: str, inside: str | None) -> int | None:
    start = 0
    if inside:
        d = _definition_pos(text, inside)
        if d is not None:
            start = text.find(":", d) + 1
    m = re.compile(rf"(?<![\w.]){re.escape(name)}\b").search(text, start)
    return m.start() if m else _definition_pos(text, name)


def _position_of(msg: str, text: str) -> int | None:
    m = re.search(r"line (\d+) col(?:umn)? (\d+)", msg)
    if m:
        line, col = int(m.group(1)), int(m.group(2))
        offs = [0]
        for ln in text.split("\n"):
            offs.append(offs[-1] + len(ln) + 1)
        return offs[min(line, len(offs)) - 1] + col - 1
    m = re.search(r"'(\w+)' used but not defined \(in \w+ (\w+)\)", msg)
    if m:
        return _use_pos(text, m.group(1), m.group(2))
    m = re.search(r"(?:defined more than once|already defined)", msg)
    n = re.search(r"'(\w+)'", msg)
    if m and n:
        hits = list(re.finditer(rf"^[ \t]*[?!]?{re.escape(n.group(1))}\b", text, re.M))
        if hits:
            return hits[-1].start()
    m = re.search(r"Terminals \{'(\w+)'", msg)
    if m:
        i = text.find("%ignore")
        return i if i >= 0 else None
    for q in re.findall(r"'([\w.]+)'|`([\w.]+)`", msg):
        name = q[0] or q[1]
        p = _use_pos(text, name.split(".")[-1], None)
        if p is not None:
            return p
    return None


# --------------------------------------------------------------------------- lowering


def _build_lark_meta_parser() -> None:
    """Have Lark build its parser of grammar texts (cached by Lark for the process)
    without its check of its own terminals for regex collisions. With interegular
    installed, Lark runs that check on every lexer it builds; on its grammar of grammars
    it costs about 140 ms, once per process, and could only warn about Lark's own
    terminals. Lark's private hook missing (another version): nothing is done."""
    from lark import lexer, load_grammar

    get = getattr(load_grammar, "_get_parser", None)
    if get is None or hasattr(get, "cache") or not hasattr(lexer, "has_interegular"):
        return
    saved = lexer.has_interegular
    lexer.has_interegular = False
    try:
        get()
    finally:
        lexer.has_interegular = saved


def _lower(text: str, start: str, source: str, display: dict) -> ir.Grammar:
    import lark
    from lark.load_grammar import GrammarBuilder

    _build_lark_meta_parser()
    builder = GrammarBuilder(False, [str(d) for d in _grammar_dirs()])
    try:
        builder.load_grammar(text, source)
        deadline.check()  # (between Lark's phases: inside them only Lark runs)
        for name, d in builder._definitions.items():
            if d.tree is None:
                raise _error(
                    f"%declare is not supported ({name!r} has no definition; a constraint "
                    "needs every terminal's text)",
                    text,
                    _use_pos(text, name, None),
                )
            if d.params:
                raise _error(
                    f"rule templates are not supported ({name!r} takes parameters)",
                    text,
                    _definition_pos(text, name),
                )
        if start not in builder._definitions:
            raise _error(f"the start rule {start!r} is not defined", text, None)
        lg = builder.build()
        deadline.check()
        terminals, rules, ignore = lg.compile([start], set())
        deadline.check()
    except GrammarError:
        raise
    except lark.exceptions.UnexpectedInput as e:
        raise _error(
            f"syntax error in the grammar: {e}", text, _position_of(str(e), text)
        ) from None
    except lark.exceptions.LarkError as e:
        msg = str(e).split("\n\n")[0]
        raise _error(msg, text, _position_of(str(e), text)) from None
    except OSError as e:
        m = re.search(r"([\w/]+)\.lark", str(e))
        what = m.group(1).replace("/", ".") if m else str(e)
        i = text.find(what.split(".")[0]) if m else -1
        raise _error(f"cannot import grammar {what!r}", text, i if i >= 0 else None) from None

    ops, anywhere = declared(text)  # structgen's extensions, as `structgen grammar` prints them
    terms: dict[str, ir.Expr] = {}
    # the names defined in the text (one scan: a search per terminal is n²)
    defined = set(_DEFINED_RX.findall(text))
    for td in terminals:
        deadline.check()
        raw = td.pattern.raw
        if raw and td.name not in defined:
            display[td.name] = raw  # an anonymous terminal: show it as written
        try:
            rx = td.pattern.to_regexp()
            terms[td.name] = ops_regex_ir(rx) if ops and has_ops(rx) else _terminal_ir(rx)
        except RegexError as e:
            raw = td.pattern.raw
            pos = text.find(raw) if raw else -1
            if pos < 0:
                pos = _definition_pos(text, td.name) or -1
            raise _error(
                f"terminal {td.name} cannot be compiled: {e.msg}",
                text,
                pos if pos >= 0 else None,
            ) from None
    bodies: dict[str, list[ir.Expr]] = {}
    for r in rules:
        seq = ir.Seq(tuple(ir.Ref(s.name) for s in r.expansion))
        bodies.setdefault(r.origin.name, []).append(seq.items[0] if len(seq.items) == 1 else seq)
    rule_exprs = {
        n: (alts[0] if len(alts) == 1 else ir.Alt(tuple(alts))) for n, alts in bodies.items()
    }
    if start not in rule_exprs:
        raise _error(
            f"the start rule {start!r} has no alternatives", text, _definition_pos(text, start)
        )
    ordered = {start: rule_exprs.pop(start), **rule_exprs}
    return ir.Grammar(
        rules=ordered,
        terminals=terms,
        start=start,
        ignore=tuple(ignore),
        longest_match=not anywhere,
    )


_DEFINED_RX = re.compile(r"^[ \t]*([\w]+)[ \t]*(?:\.[-\d]+)?[ \t]*:", re.M)


@lru_cache(maxsize=1024)
def _terminal_ir(rx: str) -> ir.Expr:
    from .regex import lower_regex

    rx = _KNOWN_REGEX.get(rx, rx)
    flags, body = _strip_flag_groups(rx)
    if body.startswith("(?!"):
        end = _group_end(body, 0)
        inner = body[3:end]
        rest = body[end + 1 :]
        if end > 0 and inner.endswith(r"\b") and rest:
            words = lower_regex(_wrap(flags, inner[:-2]))
            shape = lower_regex(_wrap(flags, rest))
            _require_words(shape, rx)
            return ir.And((shape, ir.Not(words)))
    expr = lower_regex(rx)
    if _has_lazy(rx):
        # re.match stops at the first place a lazy pattern can end: the shortest match
        expr = ir.And((expr, ir.Not(ir.Seq((expr, _ANY_BYTES)))))
    return expr


def _strip_flag_groups(rx: str) -> tuple[str, str]:
    flags = ""
    while True:
        m = re.match(r"\(\?([aiLmsux]+):", rx)
        if not m or _group_end(rx, 0) != len(rx) - 1:
            return flags, rx
        flags += m.group(1)
        rx = rx[m.end() : -1]


def _wrap(flags: str, rx: str) -> str:
    return f"(?{flags}:{rx})" if flags else rx


def _group_end(rx: str, i: int) -> int:
    """Index of the parenthesis closing the group opened at ``rx[i]`` (-1 if none)."""
    depth = 0
    in_class = False
    j = i
    while j < len(rx):
        c = rx[j]
        if c == "\\":
            j += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if rx[j + 1 : j + 2] == "]":
                j += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return -1


def _require_words(shape: ir.Expr, rx: str) -> None:
    if not _only_word_chars(shape):
        raise RegexError(
            "a leading negative lookahead (?!...\\b) is only supported before a pattern "
            "that matches words (\\w+)",
            rx,
            0,
        )


@lru_cache(maxsize=1)
def _word_ranges() -> tuple[tuple[int, int], ...]:
    from .regex import lower_regex

    w = lower_regex(r"\w")
    assert isinstance(w, ir.Chars)
    return w.ranges


def _only_word_chars(e: ir.Expr) -> bool:
    """Whether every text of ``e`` consists of ``\\w`` characters only (a syntactic check)."""
    if isinstance(e, ir.Text):
        return all(re.fullmatch(r"\w", c) for c in e.value)
    if isinstance(e, ir.Chars):
        words = _word_ranges()
        starts = [a for a, _ in words]
        for lo, hi in e.ranges:
            i = bisect.bisect_right(starts, lo) - 1
            if i < 0 or hi > words[i][1]:
                return False
        return True
    if isinstance(e, (ir.Seq, ir.Alt)):
        return all(_only_word_chars(i) for i in e.items)
    if isinstance(e, ir.Repeat):
        return _only_word_chars(e.item)
    return False


def _has_lazy(rx: str) -> bool:
    try:
        from re import _constants as c
        from re import _parser as p
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_constants as c  # type: ignore[no-redef]
        import sre_parse as p  # type: ignore[no-redef]
    try:
        tree = p.parse(rx)
    except Exception:
        return False

    def walk(items) -> bool:
        for op, av in getattr(items, "data", items):
            if op == c.MIN_REPEAT:
                return True
            if op in (c.MAX_REPEAT, c.MIN_REPEAT) and walk(av[2]):
                return True
            if op == c.SUBPATTERN and walk(av[-1]):
                return True
            if op == c.BRANCH and any(walk(b) for b in av[1]):
                return True
            if op in (c.ASSERT, c.ASSERT_NOT) and walk(av[1]):
                return True
        return False

    return walk(tree)
