"""llguidance and XGrammar on structgen's grammars, for ``bench/bench_grammar.py``.

Both are optional bench dependencies (``pip install llguidance`` and
``pip install --no-deps xgrammar apache-tvm-ffi``); structgen never imports them.

Each grammar is converted from structgen's Grammar IR (``Grammar.to_grammar()``: Lark's
own compilation to BNF rules over terminals, with ``%import`` resolved and every terminal
one regular expression) to the peer's syntax:

* llguidance (its Lark dialect): rules over terminals, terminals as Rust regexes, a
  terminal that structgen reads as an intersection or complement (a word minus keywords,
  the shortest-match ``/* ... */`` comment) written with llguidance's ``&`` and ``~``
  terminal operators, and ``%ignore`` kept; llguidance does not take ignored text before
  the first token, so the start rule gets an optional leading ignored terminal. llguidance lexes as Lark's dynamic lexer does
  (each terminal to its longest match), so it reads the same language.
* XGrammar (EBNF): it has no lexer, so each terminal becomes a rule, the ``%ignore``
  terminals are woven in between any two symbols of every rule and around the start rule,
  and a terminal with an intersection or complement becomes the right-linear rules of its
  DFA (built here with Brzozowski derivatives over code-point classes). Without a lexer the
  longest-match reading is lost (``intx`` may read as ``int x``), so XGrammar's language is a
  superset of the grammar's: every valid text is still valid for it.

Every engine is fed the same token ids; a peer that refuses a grammar, a token or the end of
a text says so in its cell instead of a time.
"""

from __future__ import annotations

import json
import time
from functools import cache

import numpy as np

from structgen import ir
from structgen.printer import _quant, regex_text


class Unsupported(Exception):
    """The grammar cannot be written in a peer's syntax."""


# --------------------------------------------------------------------------------------
# names


def _names(g: ir.Grammar, start: str) -> dict[str, str]:
    out = {}
    for name in g.rules:
        out[name] = start if name == g.start else "r_" + name
    for name in g.terminals:
        out[name] = "T_" + name
    return out


def _has_boolean(e: ir.Expr) -> bool:
    if isinstance(e, (ir.And, ir.Not)):
        return True
    if isinstance(e, (ir.Seq, ir.Alt)):
        return any(_has_boolean(i) for i in e.items)
    if isinstance(e, ir.Repeat):
        return _has_boolean(e.item)
    return False


def _check_regular(e: ir.Expr) -> None:
    if isinstance(e, ir.Bytes):
        raise Unsupported("raw byte class in a terminal")
    if isinstance(e, ir.Ref):
        raise Unsupported(f"terminal reference {e.name} inside a terminal")
    if isinstance(e, ir.Alt) and not e.items:
        raise Unsupported("empty language")
    for i in getattr(e, "items", ()):
        _check_regular(i)
    if isinstance(e, (ir.Repeat, ir.Not)):
        _check_regular(e.item)


_ANY_BYTES_PLUS = ir.Repeat(ir.Bytes(((0, 255),)), 1, None)
_ANY_CHARS_PLUS = ir.Repeat(ir.Chars(((0, ir.MAX_UNICODE),)), 1, None)


def _unbyte(e: ir.Expr) -> ir.Expr:
    """``[\\x00-\\xff]+`` (any non-empty byte string, as structgen writes a lazy
    quantifier's "and nothing more") as any non-empty character string: the same texts
    among valid UTF-8."""
    if e == _ANY_BYTES_PLUS:
        return _ANY_CHARS_PLUS
    if isinstance(e, (ir.Seq, ir.Alt, ir.And)):
        return type(e)(tuple(_unbyte(i) for i in e.items))
    if isinstance(e, ir.Repeat):
        return ir.Repeat(_unbyte(e.item), e.min, e.max)
    if isinstance(e, ir.Not):
        return ir.Not(_unbyte(e.item))
    return e


def _split_empty(e: ir.Alt) -> tuple[list[ir.Expr], bool]:
    items = [i for i in e.items if i != ir.EMPTY]
    return items, len(items) < len(e.items)


# --------------------------------------------------------------------------------------
# llguidance: its Lark dialect


def _llg_rule(e: ir.Expr, names: dict[str, str]) -> str:
    if isinstance(e, ir.Ref):
        return names[e.name]
    if isinstance(e, ir.Text):
        return json.dumps(e.value, ensure_ascii=False)
    if isinstance(e, ir.Seq):
        if not e.items:
            raise Unsupported("empty sequence")
        return "(" + " ".join(_llg_rule(i, names) for i in e.items) + ")"
    if isinstance(e, ir.Alt):
        items, empty = _split_empty(e)
        if not items:
            raise Unsupported("empty alternative")
        s = "(" + " | ".join(_llg_rule(i, names) for i in items) + ")"
        return s + "?" if empty else s
    if isinstance(e, ir.Repeat):
        return _llg_rule(e.item, names) + _quant(e.min, e.max)
    _check_regular(e)
    return _llg_terminal(e)


def _llg_terminal(e: ir.Expr) -> str:
    if not _has_boolean(e):
        _check_regular(e)
        return "/" + regex_text(e) + "/"
    if isinstance(e, ir.And):
        return "(" + " & ".join(_llg_terminal(i) for i in e.items) + ")"
    if isinstance(e, ir.Not):
        return "~(" + _llg_terminal(e.item) + ")"
    if isinstance(e, ir.Seq):
        return "(" + " ".join(_llg_terminal(i) for i in e.items) + ")"
    if isinstance(e, ir.Alt):
        return "(" + " | ".join(_llg_terminal(i) for i in e.items) + ")"
    if isinstance(e, ir.Repeat):
        return "(" + _llg_terminal(e.item) + ")" + _quant(e.min, e.max)
    raise Unsupported(f"terminal node {type(e).__name__}")


def to_llguidance_lark(g: ir.Grammar) -> str:
    names = _names(g, "r_" + g.start if g.ignore else "start")
    lines = []
    if g.ignore:
        # llguidance allows %ignore between tokens and after the last, not before the first
        lead = " | ".join(names[n] for n in g.ignore)
        lines.append(f"start: LEADING_IGNORED? {names[g.start]}")
        lines.append(f"LEADING_IGNORED: ({lead})")
    for name, body in g.rules.items():
        lines.append(f"{names[name]}: {_llg_rule(body, names)}")
    for name, body in g.terminals.items():
        lines.append(f"{names[name]}: {_llg_terminal(_unbyte(body))}")
    for name in g.ignore:
        lines.append(f"%ignore {names[name]}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# XGrammar: EBNF


def _ebnf_char(cp: int, in_class: bool) -> str:
    ch = chr(cp)
    specials = "\\]^-[" if in_class else '\\"'
    if ch in specials:
        return "\\" + ch
    if cp < 0x20 or cp == 0x7F:
        return {9: "\\t", 10: "\\n", 13: "\\r"}.get(cp, f"\\x{cp:02x}")
    if cp > 0x7E:
        return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"
    return ch


def _ebnf_class(ranges) -> str:
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(_ebnf_char(lo, True))
        else:
            parts.append(_ebnf_char(lo, True) + "-" + _ebnf_char(hi, True))
    return "[" + "".join(parts) + "]"


def _ebnf(e: ir.Expr, names: dict[str, str], ws: str | None) -> str:
    """EBNF for a rule or terminal body; ``ws`` (a rule name) is woven between symbols."""
    if isinstance(e, ir.Ref):
        return names[e.name]
    if isinstance(e, ir.Text):
        return '"' + "".join(_ebnf_char(ord(c), False) for c in e.value) + '"' if e.value else '""'
    if isinstance(e, ir.Chars):
        return _ebnf_class(e.ranges)
    if isinstance(e, ir.Seq):
        if not e.items:
            return '""'
        sep = f" {ws} " if ws else " "
        return "(" + sep.join(_ebnf(i, names, ws) for i in e.items) + ")"
    if isinstance(e, ir.Alt):
        if not e.items:
            raise Unsupported("empty language")
        return "(" + " | ".join(_ebnf(i, names, ws) for i in e.items) + ")"
    if isinstance(e, ir.Repeat):
        inner = _ebnf(e.item, names, ws)
        if ws is None or (e.min, e.max) == (0, 1):
            return inner + _quant(e.min, e.max)
        if e.max is None and e.min <= 1:
            more = f"({inner} ({ws} {inner})*)"
            return more if e.min == 1 else more + "?"
        raise Unsupported("bounded repeat in a rule")
    if isinstance(e, ir.Bytes):
        raise Unsupported("raw byte class in a terminal")
    raise Unsupported(f"node {type(e).__name__}")


def to_xgrammar_ebnf(g: ir.Grammar) -> str:
    """EBNF text whose root rule is ``root``."""
    names = _names(g, "r_" + g.start)
    names = {k: v.lower() for k, v in names.items()}
    ws = "ignored" if g.ignore else None
    lines = []
    if ws:
        lines.append(f"root ::= {ws} {names[g.start]} {ws}")
        # (x+)* is ambiguous (each run of spaces splits many ways): take x* for an x+
        parts = []
        for n in g.ignore:
            body = _unbyte(g.terminals[n])
            if isinstance(body, ir.Repeat) and (body.min, body.max) == (1, None):
                if not _has_boolean(body.item):
                    parts.append(_ebnf(body.item, names, None))
                    continue
            parts.append(names[n])
        lines.append(f"{ws} ::= (" + " | ".join(parts) + ")*")
    else:
        lines.append(f"root ::= {names[g.start]}")
    for name, body in g.rules.items():
        lines.append(f"{names[name]} ::= {_ebnf(body, names, ws)}")
    for name, body in g.terminals.items():
        body = _unbyte(body)
        if _has_boolean(body):
            lines.extend(_dfa_rules(body, names[name]))
        else:
            lines.append(f"{names[name]} ::= {_ebnf(body, names, None)}")
    return "\n".join(lines) + "\n"


# Brzozowski derivatives over code points, for terminals with & and ~ -----------------
# terms: ("c", ranges) ("eps",) ("none",) ("seq", a, b) ("alt", frozenset) ("and", frozenset)
#        ("not", a) ("star", a)

_EPS = ("eps",)
_NONE = ("none",)
_ALL = ("not", _NONE)


def _seq(a, b):
    if a == _NONE or b == _NONE:
        return _NONE
    if a == _EPS:
        return b
    if b == _EPS:
        return a
    if a[0] == "seq":
        return _seq(a[1], _seq(a[2], b))
    return ("seq", a, b)


def _boolean(kind, items):
    flat = set()
    for i in items:
        if i[0] == kind:
            flat |= i[1]
        else:
            flat.add(i)
    if kind == "alt":
        flat.discard(_NONE)
        if _ALL in flat:
            return _ALL
    else:
        if _NONE in flat:
            return _NONE
        flat.discard(_ALL)
        if not flat:
            return _ALL
    if not flat:
        return _NONE
    if len(flat) == 1:
        return next(iter(flat))
    return (kind, frozenset(flat))


def _not(a):
    return a[1] if a[0] == "not" else ("not", a)


def _star(a):
    if a in (_EPS, _NONE):
        return _EPS
    return a if a[0] == "star" else ("star", a)


def _term(e: ir.Expr):
    if isinstance(e, ir.Text):
        t = _EPS
        for c in reversed(e.value):
            t = _seq((("c", ((ord(c), ord(c)),))), t)
        return t
    if isinstance(e, ir.Chars):
        return ("c", e.ranges) if e.ranges else _NONE
    if isinstance(e, ir.Seq):
        t = _EPS
        for i in reversed(e.items):
            t = _seq(_term(i), t)
        return t
    if isinstance(e, ir.Alt):
        return _boolean("alt", [_term(i) for i in e.items])
    if isinstance(e, ir.And):
        return _boolean("and", [_term(i) for i in e.items])
    if isinstance(e, ir.Not):
        return _not(_term(e.item))
    if isinstance(e, ir.Repeat):
        x = _term(e.item)
        t = _star(x) if e.max is None else _EPS
        if e.max is not None:
            for _ in range(e.max - e.min):
                t = _boolean("alt", [_EPS, _seq(x, t)])
        for _ in range(e.min):
            t = _seq(x, t)
        return t
    raise Unsupported(f"terminal node {type(e).__name__}")


@cache
def _nullable(t) -> bool:
    k = t[0]
    if k in ("eps", "star"):
        return True
    if k in ("c", "none"):
        return False
    if k == "seq":
        return _nullable(t[1]) and _nullable(t[2])
    if k == "alt":
        return any(_nullable(i) for i in t[1])
    if k == "and":
        return all(_nullable(i) for i in t[1])
    return not _nullable(t[1])  # not


@cache
def _deriv(t, cp: int):
    k = t[0]
    if k == "c":
        return _EPS if any(lo <= cp <= hi for lo, hi in t[1]) else _NONE
    if k in ("eps", "none"):
        return _NONE
    if k == "seq":
        d = _seq(_deriv(t[1], cp), t[2])
        return _boolean("alt", [d, _deriv(t[2], cp)]) if _nullable(t[1]) else d
    if k in ("alt", "and"):
        return _boolean(k, [_deriv(i, cp) for i in t[1]])
    if k == "not":
        return _not(_deriv(t[1], cp))
    return _seq(_deriv(t[1], cp), t)  # star


def _bounds(t, out: set) -> None:
    if t[0] == "c":
        for lo, hi in t[1]:
            out.add(lo)
            out.add(hi + 1)
    elif t[0] in ("alt", "and"):
        for i in t[1]:
            _bounds(i, out)
    elif t[0] in ("seq",):
        _bounds(t[1], out)
        _bounds(t[2], out)
    elif t[0] in ("not", "star"):
        _bounds(t[1], out)


def _dfa_rules(e: ir.Expr, name: str, max_states: int = 2000) -> list[str]:
    """Right-linear EBNF rules for the DFA of a terminal; ``name`` is its start state."""
    start = _term(e)
    cuts = {0, ir.MAX_UNICODE + 1}
    _bounds(start, cuts)
    cuts = sorted(cuts)
    intervals = list(zip(cuts, cuts[1:], strict=False))
    ids = {start: 0}
    todo = [start]
    edges: dict[object, dict[object, list[tuple[int, int]]]] = {}
    while todo:
        t = todo.pop()
        moves: dict[object, list[tuple[int, int]]] = {}
        for lo, hi in intervals:
            d = _deriv(t, lo)
            if d != _NONE:
                moves.setdefault(d, []).append((lo, hi - 1))
        edges[t] = moves
        for d in moves:
            if d not in ids:
                ids[d] = len(ids)
                todo.append(d)
                if len(ids) > max_states:
                    raise Unsupported(f"DFA of {name} over {max_states} states")
    # keep only states from which an accepting state can be reached (the derivatives are
    # not minimised, so a dead state need not be the empty term)
    live = {t for t in edges if _nullable(t)}
    grew = True
    while grew:
        grew = False
        for t, moves in edges.items():
            if t not in live and any(d in live for d in moves):
                live.add(t)
                grew = True
    if start not in live:
        raise Unsupported(f"{name} matches nothing")

    def state(t) -> str:
        return name if ids[t] == 0 else f"{name}_s{ids[t]}"

    lines = []
    for t, moves in edges.items():
        if t not in live:
            continue
        alts = [
            f"{_ebnf_class(ir.normalize_ranges(ranges))} {state(d)}"
            for d, ranges in moves.items()
            if d in live
        ]
        if _nullable(t):
            alts.append('""')
        lines.append(f"{state(t)} ::= " + " | ".join(alts))
    return lines


# --------------------------------------------------------------------------------------
# measuring


def _pct(xs, p) -> float:
    return float(np.percentile(np.asarray(xs), p)) if xs else float("nan")


def _short(msg: str, n: int = 30) -> str:
    msg = " ".join(str(msg).split())
    return msg[:n]


def _bit(mask_row, t: int) -> bool:
    return bool((int(mask_row[t >> 5]) >> (t & 31)) & 1)


def _timed(t_compile, seqs, start, step, allowed, accepting, why=lambda m: "") -> dict | str:
    """A peer's figures over the texts: each from a fresh matcher (``start()``), every
    token timed through ``step(m, t)`` (fill the mask, consume the token: whether it was
    consumed), then checked as allowed by the mask (``allowed(t)``), untimed; or the
    first refusal (``why(m)`` adds the peer's reason) or unaccepted end."""
    times = []
    for j, seq in enumerate(seqs):
        m = start()
        for i, t in enumerate(seq):
            t0 = time.perf_counter()
            ok = step(m, t)
            times.append(time.perf_counter() - t0)
            if not ok or not allowed(t):
                return f"refused text {j + 1} token {i + 1}" + why(m)
        if not accepting(m):
            return f"text {j + 1} not accepted at its end"
    return {
        "compile_ms": t_compile * 1e3,
        "p50_us": _pct(times, 50) * 1e6,
        "p99_us": _pct(times, 99) * 1e6,
    }


_LLG_STEP_MAX_ITEMS = 2_000_000


class LLGuidancePeer:
    label = "llguidance"

    def __init__(self, tok, vocab_size: int | None):
        import llguidance
        import llguidance.hf
        import llguidance.numpy

        self.llg = llguidance
        # the tokenizer may hold more entries than the model's logits (Llama 3: one added
        # token past 128256); llguidance wants room for all of them
        vocab_size = max(vocab_size or 0, len(tok)) or None
        self.info = llguidance.hf.from_tokenizer(tok, n_vocab=vocab_size)
        self.n_vocab = vocab_size or self.info.vocab_size
        # its default cap of 50,000 Earley items per mask stops it inside python_expr on
        # Llama 3 (text 1, token 31); a larger cap lets it finish and be timed
        self.limits = llguidance.LLParserLimits(step_max_items=_LLG_STEP_MAX_ITEMS)

    def run(self, g: ir.Grammar, seqs: list[list[int]]) -> dict | str:
        llg = self.llg
        try:
            text = to_llguidance_lark(g)
        except Unsupported as e:
            return "unsupported: " + _short(e)
        t0 = time.perf_counter()
        matcher = llg.LLMatcher(
            self.info, llg.LLMatcher.grammar_from_lark(text), log_level=0, limits=self.limits
        )
        t_compile = time.perf_counter() - t0
        if matcher.is_error():
            return "unsupported: " + _short(matcher.get_error())
        bitmask = llg.numpy.allocate_token_bitmask(1, self.n_vocab)

        def step(m, t: int) -> bool:
            llg.numpy.fill_next_token_bitmask(m, bitmask)
            return m.consume_token(t)

        return _timed(
            t_compile,
            seqs,
            matcher.deep_copy,
            step,
            lambda t: _bit(bitmask[0], t),
            lambda m: m.is_accepting(),
            lambda m: ": " + _short(m.get_error(), 20),
        )


class XGrammarPeer:
    label = "XGrammar"

    def __init__(self, tok, vocab_size: int | None):
        import xgrammar

        self.xgr = xgrammar
        self.info = xgrammar.TokenizerInfo.from_huggingface(tok, vocab_size=vocab_size)

    def run(self, g: ir.Grammar, seqs: list[list[int]]) -> dict | str:
        xgr = self.xgr
        try:
            text = to_xgrammar_ebnf(g)
        except Unsupported as e:
            return "unsupported: " + _short(e)
        # one thread and no cache: a single-core compile from scratch, as structgen's
        compiler = xgr.GrammarCompiler(self.info, max_threads=1, cache_enabled=False)
        t0 = time.perf_counter()
        try:
            compiled = compiler.compile_grammar(text, root_rule_name="root")
        except Exception as e:  # XGrammar raises its own error types for grammar errors
            return "unsupported: " + _short(e)
        t_compile = time.perf_counter() - t0
        bitmask = xgr.allocate_token_bitmask(1, self.info.vocab_size)

        def step(m, t: int) -> bool:
            m.fill_next_token_bitmask(bitmask)
            return m.accept_token(t)

        return _timed(
            t_compile,
            seqs,
            lambda: xgr.GrammarMatcher(compiled),
            step,
            lambda t: _bit(bitmask[0], t),
            lambda m: m.is_completed(),
        )


PEERS = (("llguidance", LLGuidancePeer), ("xgrammar", XGrammarPeer))
