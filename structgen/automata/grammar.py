"""The byte-level grammar automaton: rules over terminals, terminals as lazy DFAs.

A *configuration* is a frozenset of elements ``(t, q, S)``: "inside terminal ``t`` at DFA
state ``q``; when the terminal ends, continue with the parser stack ``S``" — plus the
element ``END`` when the whole text may stop here. Configurations are *closed*: for every
element whose DFA state accepts, the elements that begin the continuation are present too.
Several elements are alive at once when the grammar (or the lexing) is ambiguous, so no
longest-match lexer ever rejects a valid text.

Stacks are interned linked frames; a frame is the *residual* of a rule expression (what
is left of the rule after the symbol just being read), computed by ``firsts``, so EBNF
repetition, bounded counts (``item{0,1000}``) and tail recursion never grow the stack.
A stack is a tuple ``(frame number, parent stack or None, depth)``: built of ints and
tuples only, it and the elements holding it are untracked by Python's garbage collector
(tens of thousands of them would otherwise bring on full collections, each 100+ ms in
a process that has imported torch).
Nothing here knows about tokens; :mod:`structgen.index` lifts it to a vocabulary.

Two grammar features are handled here rather than in the front ends:

* ``Grammar.ignore`` (Lark's ``%ignore``): ignored terminals may come before every token
  and at the end of the text. Those that can be folded into the tokens without changing
  the language (whitespace: nothing but itself can continue it) are: with ``S`` their
  union, every terminal ``T`` of the rules is compiled as ``S* T`` and the end of the
  text may be preceded by ``S+``, so a token such as ``" select"`` stays inside one
  terminal and the vocabulary is walked vectorised. The others (a ``# comment`` that
  longest match must end at a newline) are elements of their own: wherever a symbol may
  begin, they may begin with the *same* continuation stack.
* ``Grammar.longest_match`` (the way Lark's dynamic lexer reads terminals): a terminal may
  not end where the next byte could continue it. The continuation of such a terminal is a
  *guard* frame on the stack; expanding the guard yields the continuation's terminals
  restricted to texts that do not begin with such a byte (the restricted terminal is the
  intersection ``T & [^F].*``, a DFA of its own). Each terminal reference in a rule is
  then one token: sequences of terminals are not merged into one regular terminal.

Left recursion (direct, and indirect through rules at the left edge) is rewritten into
repetition before compiling (``A: A a | b`` becomes ``A: b a*``; indirect recursion by
ordered substitution); a cycle that consumes nothing (``A: A``), or left recursion hidden
behind a nullable prefix, is refused with a :class:`GrammarError`.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import deadline
from ..errors import GrammarError, LimitError
from ..ir import Alt, And, Bytes, Chars, Expr, Grammar, Not, Ref, Repeat, Seq, Text
from ..limits import DEFAULT_LIMITS, Limits
from . import terms as T
from .dfa import DFA, bitmask
from .literals import prefix_free_layers
from .lower import TerminalLowering

END = (-1, 0, None)
# in the expansion of a truncated stack (see Automaton.split): "whatever the part of
# the stack that was cut off expects"; under a guard frame, (-2, the first bytes that
# part may not read, None)
UNKNOWN = (-2, 0, None)
_EMPTY_CONFIG: frozenset = frozenset()
_MAX_STEP_MEMO = 200_000
_MAX_INTERNED_STACKS = 500_000
_MAX_KEPT = 32  # the most frames Automaton.split keeps on top


# ---- rule expressions over symbols (terminal ids >= 0, rule ids < 0) ------------------------

R_EPS, R_SYM, R_CAT, R_ALT, R_REP, R_GUARD = range(6)


class RExpr:
    # idx: the frame's number in its RuleAlgebra (stacks hold numbers, not frames)
    __slots__ = ("kind", "a", "b", "lo", "hi", "nullable", "_firsts", "idx", "__weakref__")

    def __repr__(self) -> str:
        return f"RExpr({self.kind}, {self.a!r}, {self.b!r}, {self.lo}, {self.hi})"


class RuleAlgebra:
    """Interning factory for rule expressions of one grammar."""

    def __init__(self) -> None:
        self._intern: dict = {}
        self.exprs: list[RExpr] = []  # by number
        self.eps = self._mk(R_EPS)

    def number(self, e: RExpr) -> RExpr:
        """Give ``e`` its number (see :attr:`exprs`)."""
        e.idx = len(self.exprs)
        self.exprs.append(e)
        return e

    def _mk(self, kind, a=None, b=None, lo=0, hi=0) -> RExpr:
        key = (kind, a, b, lo, hi)
        e = self._intern.get(key)
        if e is not None:
            return e
        e = RExpr()
        e.kind, e.a, e.b, e.lo, e.hi = kind, a, b, lo, hi
        e._firsts = None
        if kind == R_EPS:
            e.nullable = True
        elif kind == R_SYM:
            e.nullable = False  # terminals are non-empty; nullable rules handled by firsts
        elif kind == R_CAT:
            e.nullable = a.nullable and b.nullable
        elif kind == R_ALT:
            e.nullable = any(x.nullable for x in a)
        else:
            e.nullable = lo == 0 or a.nullable
        self._intern[key] = e
        return self.number(e)

    def sym(self, s: int) -> RExpr:
        return self._mk(R_SYM, s)

    def cat(self, x: RExpr, y: RExpr) -> RExpr:
        if x.kind == R_EPS:
            return y
        if y.kind == R_EPS:
            return x
        if x.kind == R_CAT:
            return self.cat(x.a, self.cat(x.b, y))
        return self._mk(R_CAT, x, y)

    def alt(self, items) -> RExpr | None:
        uniq = []
        seen = set()  # (a set beside the list: thousands of alternatives, not n² tests)
        for x in items:
            if x is None:
                continue
            for y in x.a if x.kind == R_ALT else (x,):
                if y not in seen:
                    seen.add(y)
                    uniq.append(y)
        if not uniq:
            return None  # the empty language
        if len(uniq) == 1:
            return uniq[0]
        return self._mk(R_ALT, tuple(uniq))

    def rep(self, x: RExpr, lo: int, hi: int) -> RExpr:
        """hi = -1: unbounded."""
        if hi == 0 or x.kind == R_EPS:
            return self.eps
        if lo == 1 and hi == 1:
            return x
        return self._mk(R_REP, x, None, lo, hi)

    def firsts(self, e: RExpr) -> tuple:
        """Pairs ``(symbol, residual)`` with ``e = Σ symbol·residual (+ ε if nullable)``."""
        f = e._firsts
        if f is not None:
            return f
        k = e.kind
        if k == R_EPS:
            f = ()
        elif k == R_SYM:
            f = ((e.a, self.eps),)
        elif k == R_CAT:
            f = tuple((s, self.cat(r, e.b)) for s, r in self.firsts(e.a))
            if e.a.nullable:
                f = f + self.firsts(e.b)
        elif k == R_ALT:
            f = tuple(p for x in e.a for p in self.firsts(x))
        else:
            hi = -1 if e.hi == -1 else e.hi - 1
            rest = self.rep(e.a, max(e.lo - 1, 0), hi)
            f = tuple((s, self.cat(r, rest)) for s, r in self.firsts(e.a))
        # left-factor: s·r1 + s·r2 = s·(r1 | r2), so alternatives sharing a first symbol
        # share one residual (one parser stack) instead of one each
        by_sym: dict = {}
        for s, r in f:
            by_sym.setdefault(s, []).append(r)
        f = tuple((s, rs[0] if len(rs) == 1 else self.alt(rs)) for s, rs in by_sym.items())
        e._firsts = f
        return f


# a parser stack: (frame number in RuleAlgebra.exprs, parent stack or None, depth)
Stack = tuple


def _shown(e: Expr) -> str:
    return e.name if isinstance(e, Ref) else repr(e.value)


# alternations of at least this many literal terminals are merged (see _merge_literals)
_MERGE_LITERALS = 16

_DFA_CACHE: OrderedDict = OrderedDict()
_DFA_CACHE_SIZE = 4096


def shared_dfa(term: T.Term, limits: Limits, nonempty: bool) -> DFA:
    """One DFA per distinct terminal term, shared across grammars (bounded LRU). A DFA that
    reached ``Limits.max_states`` for one grammar is retired: the next grammar with the same
    terminal gets a fresh one, so one hostile spec cannot exhaust the terminal for all."""
    key = (term, limits, nonempty)
    d = _DFA_CACHE.get(key)
    if d is None or d.retired:
        d = DFA(term, limits, nonempty=nonempty)
        _DFA_CACHE[key] = d
        while len(_DFA_CACHE) > _DFA_CACHE_SIZE:
            _DFA_CACHE.popitem(last=False)
    else:
        _DFA_CACHE.move_to_end(key)
    return d


def _is_regular(e: Expr, terminals: dict) -> bool:
    if isinstance(e, Ref):
        return e.name in terminals
    if isinstance(e, (Seq, Alt, And)):
        return all(_is_regular(i, terminals) for i in e.items)
    if isinstance(e, (Repeat, Not)):
        return _is_regular(e.item, terminals)
    return isinstance(e, (Text, Chars, Bytes))


class Automaton:
    """A compiled grammar, tokenizer-free: ``initial()``, ``step(config, byte)``."""

    def __init__(self, grammar: Grammar, limits: Limits = DEFAULT_LIMITS):
        with deadline.deadline(
            limits.max_compile_seconds, "compiling the grammar (Limits.max_compile_seconds)"
        ):
            self._build(grammar, limits)

    @property
    def retired(self) -> bool:
        """Whether one of its terminals' DFAs reached ``Limits.max_states`` (then a cached
        automaton is rebuilt rather than reused, see :func:`shared_dfa`)."""
        return any(d.retired for d in self.dfas)

    def _build(self, grammar: Grammar, limits: Limits) -> None:
        self.grammar = grammar
        self.limits = limits
        self.alg = RuleAlgebra()
        self.dfas: list[DFA] = []
        self.terminal_names: list[str] = []
        self._term_ids: dict[T.Term, int] = {}
        self._lowering = TerminalLowering(grammar.terminals)
        self.rule_names: list[str] = []
        self._rule_ids: dict[str, int] = {}
        self.longest_match = bool(getattr(grammar, "longest_match", False))
        # token mode: every terminal reference in a rule is one token (needed for %ignore
        # and longest-match lexing); otherwise regular sub-expressions become one terminal
        self._tokens = self.longest_match or bool(grammar.ignore)
        self.bodies: list[RExpr | None] = []
        if grammar.start not in grammar.rules:
            raise GrammarError(f"start rule {grammar.start!r} is not defined")
        self._ignore_prefix = self._ignore_term()
        self._rule_id(grammar.start)
        i = 0
        while i < len(self.rule_names):  # lower reachable rules (list grows while lowering)
            name = self.rule_names[i]
            self.bodies[i] = self._lower_rule(grammar.rules[name], name)
            i += 1
            deadline.check()
        self._prune_unproductive()
        if self._eliminate_left_recursion():
            self._prune_unproductive()
        self._check_left_recursion()
        self._trail = None
        if self._ignore_prefix is not None:
            x = self._terminal(T.cat(self._ignore_prefix, self._ignore_one), "%ignore")
            self._trail = x.a if x is not None and x.kind == R_SYM else None
        self.ignore_ids = []
        for name, term in self._unfolded:
            if self._ignore_prefix is not None:
                term = T.cat(self._ignore_prefix, term)
            x = self._terminal(term, name)
            if x is not None and x.kind == R_SYM and x.a not in self.ignore_ids:
                self.ignore_ids.append(x.a)
        self._stacks: dict = {}
        self.starts = [d.start for d in self.dfas]
        # (terminal id, accepting state) -> the guard frame after it, or None
        self._guards: dict[tuple, RExpr | None] = {}
        self._guard_frames: dict[int, RExpr] = {}  # forbidden-byte mask -> guard frame
        self._restricted: dict = {}  # (terminal id, mask) -> its restricted start, or 0
        self._restrict_memo: dict = {}
        self._step_memo: dict = {}  # (configuration, byte) -> configuration
        self._expansions: dict[int, tuple] = {}  # id(stack) -> (stack, its expansion)
        self._splits: dict[int, tuple] = {}  # id(stack) -> (stack, top part, part below)
        # stands for "the rest of the stack" in truncated stacks (a frame number no frame has)
        self.opaque: Stack = (-1, None, 0)
        self.final = self.stack(self.alg.eps, None)
        self.root = self.stack(self.alg.sym(-1), None)
        if self.longest_match:
            # every terminal's guards now: each builds the terminal's whole DFA (with a
            # folded %ignore prefix, tens of states), grammar work that the first text to
            # end the terminal would otherwise pay inside one step
            for t in self._rule_terminals():
                self._build_guards(t)
                deadline.check()
        self._initial = self.close(self.expand(self.root))

    # ---- lowering ---------------------------------------------------------------------------
    def _rule_id(self, name: str) -> int:
        rid = self._rule_ids.get(name)
        if rid is None:
            rid = len(self.rule_names)
            self._rule_ids[name] = rid
            self.rule_names.append(name)
            self.bodies.append(None)
        return rid

    def _terminal(self, term: T.Term, name: str) -> RExpr | None:
        if term is T.EMPTY:
            return None
        eps = term.nullable
        tid = self._term_ids.get(term)
        if tid is None:
            dfa = shared_dfa(term, self.limits, nonempty=True)
            if dfa.empty:
                return self.alg.eps if eps else None
            tid = len(self.dfas)
            self._term_ids[term] = tid
            self.dfas.append(dfa)
            self.terminal_names.append(name)
        s = self.alg.sym(tid)
        return self.alg.alt([self.alg.eps, s]) if eps else s

    def _lower_rule(self, e: Expr, where: str) -> RExpr | None:
        A = self.alg
        if self._tokens:
            leaf = isinstance(e, (Text, Chars, Bytes, And, Not)) or (
                isinstance(e, Ref) and e.name in self.grammar.terminals
            )
        else:
            leaf = _is_regular(e, self.grammar.terminals)
        if leaf:
            name = e.name if isinstance(e, Ref) else f"<{where}>"
            term = self._lowering.lower(e)
            if self._ignore_prefix is not None:
                term = T.cat(self._ignore_prefix, term)
            return self._terminal(term, name)
        if isinstance(e, Ref):
            if e.name in self.grammar.rules:
                return A.sym(-1 - self._rule_id(e.name))
            raise GrammarError(f"rule {where!r} refers to undefined symbol {e.name!r}")
        if isinstance(e, Seq):
            out = A.eps
            for item in e.items:
                x = self._lower_rule(item, where)
                if x is None:
                    return None
                out = A.cat(out, x)
            return out
        if isinstance(e, Alt):
            lowered, others = (
                self._merge_literals(e.items, where) if self._tokens else ([], e.items)
            )
            return A.alt(lowered + [self._lower_rule(i, where) for i in others])
        if isinstance(e, Repeat):
            x = self._lower_rule(e.item, where)
            if x is None:
                return A.eps if e.min == 0 else None
            hi = -1 if e.max is None else e.max
            if hi != -1 and hi < e.min:
                return None
            return A.rep(x, e.min, hi)
        raise GrammarError(f"rule {where!r}: {type(e).__name__} is only allowed inside terminals")

    def _literal_of(self, e: Expr) -> bytes | None:
        """The bytes of ``e`` when it is a literal terminal (a ``Text``, or a reference to
        a terminal defined as one), else None."""
        if isinstance(e, Ref) and e.name not in self.grammar.rules:
            e = self.grammar.terminals.get(e.name)
        if isinstance(e, Text) and e.value:
            try:
                return e.value.encode("utf-8")
            except UnicodeEncodeError:  # (a lone surrogate: no text; lowered as it is)
                return None
        return None

    def _merge_literals(self, items: tuple, where: str) -> tuple[list, list]:
        """``(lowered, others)``: the literal terminals among ``items`` merged into one
        terminal per prefix-free layer (see :mod:`structgen.automata.literals`), when
        there are many, and the items left to lower one by one."""
        lits: dict[bytes, Expr] = {}
        others = []
        for i in items:
            b = self._literal_of(i)
            if b is None or b in lits:
                others.append(i)
            else:
                lits[b] = i
        if len(lits) < _MERGE_LITERALS:
            return [], list(items)
        words = list(lits)
        lowered: list = []
        for layer in prefix_free_layers(words):
            if len(layer) == 1:
                others.append(lits[words[layer[0]]])
                continue
            term = T.alt_of([T.literal(words[k]) for k in layer])
            if self._ignore_prefix is not None:
                term = T.cat(self._ignore_prefix, term)
            shown = [_shown(lits[words[k]]) for k in layer[:3]]
            more = f" | ... ({len(layer)} literals)" if len(layer) > 3 else ""
            lowered.append(self._terminal(term, " | ".join(shown) + more))
        return lowered, others

    def _productive(self, e: RExpr | None, prod: set) -> bool:
        if e is None:
            return False
        k = e.kind
        if k == R_EPS:
            return True
        if k == R_SYM:
            return e.a >= 0 or (-1 - e.a) in prod
        if k == R_CAT:
            return self._productive(e.a, prod) and self._productive(e.b, prod)
        if k == R_ALT:
            return any(self._productive(x, prod) for x in e.a)
        return e.lo == 0 or self._productive(e.a, prod)

    def _strip(self, e: RExpr | None, prod: set) -> RExpr | None:
        """Remove unproductive alternatives so every residual can still complete."""
        if e is None or not self._productive(e, prod):
            return None
        A = self.alg
        k = e.kind
        if k in (R_EPS, R_SYM):
            return e
        if k == R_CAT:
            return A.cat(self._strip(e.a, prod), self._strip(e.b, prod))
        if k == R_ALT:
            return A.alt([self._strip(x, prod) for x in e.a])
        inner = self._strip(e.a, prod)
        if inner is None:
            return A.eps
        return A.rep(inner, e.lo, e.hi)

    def _prune_unproductive(self) -> None:
        prod = self._least_fixpoint(self._productive)
        if 0 not in prod:
            raise GrammarError(
                f"the start rule {self.grammar.start!r} derives no finite text (unproductive)"
            )
        self.bodies = [
            self._strip(b, prod) if rid in prod else None for rid, b in enumerate(self.bodies)
        ]
        self.nullable_rules = self._nullable_rules()

    def _nullable_rules(self) -> set:
        nul: set[int] = set()

        def nullable(e: RExpr | None) -> bool:
            if e is None:
                return False
            k = e.kind
            if k == R_EPS:
                return True
            if k == R_SYM:
                return e.a < 0 and (-1 - e.a) in nul
            if k == R_CAT:
                return nullable(e.a) and nullable(e.b)
            if k == R_ALT:
                return any(nullable(x) for x in e.a)
            return e.lo == 0 or nullable(e.a)

        return self._least_fixpoint(lambda body, done: nullable(body), nul)

    def _least_fixpoint(self, holds, done: set | None = None) -> set:
        """The rules whose body ``holds(body, done)``, where ``done`` is the set found so
        far and ``holds`` is monotone in it (productive, nullable): a worklist that tests a
        rule again only when a rule it refers to joined, so a chain of n rules costs n
        tests, not the n² of sweeping every rule until nothing changes."""
        done = set() if done is None else done
        users: dict[int, list[int]] = {}
        for rid, body in enumerate(self.bodies):
            if body is not None:
                for s in _symbols((body,)):
                    if s < 0:
                        users.setdefault(-1 - s, []).append(rid)
        todo = list(range(len(self.bodies) - 1, -1, -1))
        while todo:
            rid = todo.pop()
            if rid in done:
                continue
            deadline.check()
            if holds(self.bodies[rid], done):
                done.add(rid)
                todo.extend(u for u in users.get(rid, ()) if u not in done)
        return done

    def _left_refs(self, e: RExpr | None, out: set) -> bool:
        """Rules reachable at the left edge of ``e``; returns whether ``e`` is nullable."""
        if e is None:
            return False
        k = e.kind
        if k == R_EPS:
            return True
        if k == R_SYM:
            if e.a < 0:
                out.add(-1 - e.a)
                return (-1 - e.a) in self.nullable_rules
            return False
        if k == R_CAT:
            return self._left_refs(e.a, out) and self._left_refs(e.b, out)
        if k == R_ALT:
            res = False
            for x in e.a:
                res = self._left_refs(x, out) or res
            return res
        return self._left_refs(e.a, out) or e.lo == 0

    def _left_edges(self) -> dict[int, set]:
        edges = {}
        for rid, body in enumerate(self.bodies):
            out: set[int] = set()
            self._left_refs(body, out)
            edges[rid] = out
        return edges

    def _eliminate_left_recursion(self) -> bool:
        """Rewrite left recursion into repetition; True when some rule changed.

        Only rules on a left-recursive cycle are touched. Within one strongly connected
        component of the left-edge graph the rules are ordered; a leading reference to an
        earlier rule is replaced by that rule's (already rewritten) body, then direct left
        recursion ``A = A·a | b`` becomes ``A = b·a*``. Left recursion behind a nullable
        prefix is not seen here and is refused by :meth:`_check_left_recursion`.
        """
        edges = self._left_edges()
        sccs = _cyclic_sccs(edges)
        if not sccs:
            return False
        A = self.alg
        for comp in sccs:
            order = sorted(comp)
            for pos, i in enumerate(order):
                earlier = set(order[:pos])
                body = self.bodies[i]
                if body is None:
                    continue
                for _ in range(len(order) + 1):  # substitute leading references to earlier rules
                    pairs = A.firsts(body)
                    if not any(sym < 0 and (-1 - sym) in earlier for sym, _ in pairs):
                        break
                    parts = [A.eps] if body.nullable else []
                    for sym, rest in pairs:
                        r = -1 - sym
                        if sym < 0 and r in earlier:
                            if self.bodies[r] is not None:
                                parts.append(A.cat(self.bodies[r], rest))
                        else:
                            parts.append(A.cat(A.sym(sym), rest))
                    body = A.alt(parts)
                    if body is None:
                        break
                if body is None:
                    self.bodies[i] = None
                    continue
                pairs = A.firsts(body)
                rec = [rest for sym, rest in pairs if sym == -1 - i]
                if not rec:
                    self.bodies[i] = body
                    continue
                tail = A.alt(rec)
                if tail.nullable:
                    raise GrammarError(
                        f"rule {self.rule_names[i]!r} derives itself without reading anything "
                        f"({self.rule_names[i]} -> {self.rule_names[i]}); remove that cycle"
                    )
                base = [A.eps] if body.nullable else []
                base += [A.cat(A.sym(sym), rest) for sym, rest in pairs if sym != -1 - i]
                head = A.alt(base)
                self.bodies[i] = None if head is None else A.cat(head, A.rep(tail, 0, -1))
        return True

    def _check_left_recursion(self) -> None:
        """Refuse a rule that reaches itself through left edges: one in a strongly connected
        component of the left-edge graph with a cycle (Tarjan's algorithm, iterative: linear
        in rules and edges, where a search from every rule was quadratic)."""
        edges = self._left_edges()
        n = len(self.bodies)
        index = [-1] * n
        low = [0] * n
        on_stack = [False] * n
        stack: list[int] = []
        cyclic = [False] * n
        counter = 0
        for root in range(n):
            if index[root] >= 0:
                continue
            work = [(root, iter(edges[root]))]
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack[root] = True
            while work:
                v, it = work[-1]
                advanced = False
                for w in it:
                    if w == v:
                        cyclic[v] = True
                    if index[w] < 0:
                        index[w] = low[w] = counter
                        counter += 1
                        stack.append(w)
                        on_stack[w] = True
                        work.append((w, iter(edges[w])))
                        advanced = True
                        break
                    if on_stack[w]:
                        low[v] = min(low[v], index[w])
                if advanced:
                    continue
                work.pop()
                if work:
                    u = work[-1][0]
                    low[u] = min(low[u], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack[w] = False
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        for w in component:
                            cyclic[w] = True
                if counter & 255 == 0:
                    deadline.check()
        for rid in range(n):
            if cyclic[rid]:
                raise GrammarError(
                    f"rule {self.rule_names[rid]!r} is left-recursive behind a prefix that "
                    "can be empty (or through a cycle that reads nothing); rewrite it with "
                    'repetition (e.g. `expr: term ("+" term)*`)'
                )

    def _ignore_term(self) -> T.Term | None:
        """``S*`` for the union ``S`` of the ignored terminals that fold into tokens (None
        when there are none); the other ignored terms go to ``self._unfolded``."""
        self._unfolded: list[tuple[str, T.Term]] = []
        if not self.grammar.ignore:
            return None
        ignored = []
        for name in self.grammar.ignore:
            if name not in self.grammar.terminals:
                raise GrammarError(f"%ignore names {name!r}, which is not a defined terminal")
            term = self._lowering.named(name)
            if shared_dfa(term, self.limits, nonempty=True).empty:
                raise GrammarError(f"the ignored terminal {name!r} matches no text")
            ignored.append((name, term))
        folded = []
        for name, term in ignored:
            if self._foldable(term, [t for n, t in ignored if n != name]):
                folded.append(term)
            else:
                self._unfolded.append((name, term))
        if not folded:
            return None
        self._ignore_one = T.alt_of(folded)
        return T.star(self._ignore_one)

    def _foldable(self, term: T.Term, others: list) -> bool:
        """Whether ``S* T`` reads the ignored ``term`` as longest match would: without
        longest match always; with it, when no byte that could continue ``term`` can begin
        another terminal, and ``term term`` is ``term`` again (like whitespace)."""
        if not self.longest_match:
            return True
        dfa = shared_dfa(term, self.limits, nonempty=True)
        ext = 0
        for mask in _extension_classes(dfa):
            ext |= mask
        if not ext:
            return True
        twice = T.conj(T.cat(term, term), T.neg(term))
        if not shared_dfa(twice, self.limits, nonempty=False).empty:
            return False
        firsts = 0
        for t in set(self._rule_leaf_terms() + others):
            if t is term:
                continue
            dfa = shared_dfa(t, self.limits, nonempty=True)
            for b in np.flatnonzero(dfa.first_bytes(dfa.start)).tolist():
                firsts |= 1 << b
        return not (ext & firsts)

    def _rule_leaf_terms(self) -> list:
        """The terms of every terminal the rules can use (named and inline)."""
        out = [self._lowering.named(n) for n in self.grammar.terminals]
        todo = list(self.grammar.rules.values())
        while todo:
            e = todo.pop()
            if isinstance(e, (Text, Chars, Bytes, And, Not)):
                out.append(self._lowering.lower(e))
            elif isinstance(e, (Seq, Alt)):
                todo.extend(e.items)
            elif isinstance(e, Repeat):
                todo.append(e.item)
        return out

    @property
    def ignore_prefix(self) -> T.Term | None:
        """The ``%ignore`` text folded in front of every terminal (a term), or None."""
        return self._ignore_prefix

    def begun_terminals(self) -> list[int]:
        """The terminal ids elements begin with: those the rules, the ignored terminals
        and the trail begin."""
        return self._rule_terminals()

    def _rule_terminals(self) -> list[int]:
        """The terminal ids the rules, the ignored terminals and the trail begin."""
        out = set(self.ignore_ids)
        if self._trail is not None:
            out.add(self._trail)
        out.update(a for a in _symbols(b for b in self.bodies if b is not None) if a >= 0)
        return sorted(out)

    # ---- longest match ----------------------------------------------------------------------
    def _guard_frame(self, mask: int) -> RExpr | None:
        if not mask:
            return None
        g = self._guard_frames.get(mask)
        if g is None:
            g = RExpr()
            g.kind, g.a, g.b, g.lo, g.hi = R_GUARD, mask, None, 0, 0
            g.nullable, g._firsts = True, ()
            self._guard_frames[mask] = self.alg.number(g)
        return g

    def _guard_of(self, t: int, q: int) -> RExpr | None:
        """The guard frame after terminal ``t`` ends at its accepting state ``q``: it
        forbids the bytes that would continue the terminal from ``q`` (None when none
        would). Memoised per terminal state; built once per DFA state's full row."""
        key = (t, q)
        g = self._guards.get(key, False)
        if g is False:
            dfa = self.dfas[t]
            dfa.build(q)
            g = self._guards[key] = self._guard_frame(bitmask(dfa.table[q] != 0))
        return g

    def _build_guards(self, t: int) -> None:
        """Build terminal ``t``'s whole DFA and the guard of each of its accepting
        states (see :meth:`_guard_of`)."""
        for mask, states in _extension_classes(self.dfas[t]).items():
            g = self._guard_frame(mask)
            for q in states:
                self._guards[(t, q)] = g

    def _restrict(self, elems: frozenset, forbid: int) -> frozenset:
        """``elems`` with every terminal restricted to texts not starting with a byte of
        ``forbid`` (a 256-bit mask); END stays."""
        key = (elems, forbid)
        res = self._restrict_memo.get(key)
        if res is not None:
            return res
        out = set()
        for e in elems:
            t, q, s = e
            if t < 0:
                # the cut-off part of a truncated stack is restricted too: the marker
                # carries the bytes its rest may not begin with (see split)
                out.add((t, q | forbid, s) if t == UNKNOWN[0] else e)
                continue
            q2 = self._restricted_start(t, forbid)
            if q2:
                out.add((t, q2, s))
        res = frozenset(out)
        self._restrict_memo[key] = res
        return res

    def _restricted_start(self, t: int, forbid: int) -> int:
        """The state of terminal ``t``'s DFA where it begins limited to texts whose
        first byte is not in ``forbid`` (0 when no text is left): its start itself when
        no text of it begins with such a byte, so the elements after the guard, and what
        is worked out for them, are those where no guard stands; else a state of its own
        (:meth:`DFA.restricted_start`), after whose first byte the terminal reads on
        from its usual states."""
        key = (t, forbid)
        q = self._restricted.get(key)
        if q is not None:
            return q
        dfa = self.dfas[t]
        start = self.starts[t]
        if not bitmask(dfa.first_bytes(start)) & forbid:
            q = start  # (nor is any text empty: terminals never are)
        else:
            allowed = T.ALL_BYTES & ~forbid
            q = dfa.restricted_start(allowed, T.conj(dfa.root, T.cat(T.byteset(allowed), T.TOP)))
        self._restricted[key] = q
        return q

    # ---- stacks and configurations -------------------------------------------------------------
    def stack(self, frame: RExpr, parent: Stack | None) -> Stack:
        """The interned stack ``frame`` on ``parent``."""
        return self._stack(frame.idx, parent)

    def _stack(self, f: int, parent: Stack | None) -> Stack:
        # keyed by the parent's identity (the stack holds the parent, so the id is not
        # reused while its entry lives): hashing a stack reads all of it
        key = (f, id(parent))
        s = self._stacks.get(key)
        if s is None:
            if len(self._stacks) >= _MAX_INTERNED_STACKS:
                # bounded: later equal stacks become new objects (results stay exact,
                # only sharing is lost)
                self._stacks.clear()
                self._expansions.clear()
                self._splits.clear()
            depth = 0 if parent is None else parent[2] + 1
            if depth > self.limits.max_stack_depth:
                raise LimitError(
                    f"parser stack deeper than Limits.max_stack_depth={self.limits.max_stack_depth}"
                )
            s = self._stacks[key] = (f, parent, depth)
        return s

    def frame(self, st: Stack) -> RExpr | None:
        """The top frame of ``st`` (None for the opaque marker)."""
        return self.alg.exprs[st[0]] if st[0] >= 0 else None

    def split(self, st: Stack) -> tuple:
        """``(top, below)``: ``st`` cut under its top frames, the frames above the cut on
        an opaque marker (``top``) and the part cut off (``below``); ``(st, None)`` when
        nothing is cut. The cut falls under the first frame that expanding does not pass
        through (one that is not nullable), or under :data:`_MAX_KEPT` frames: a run of
        nullable frames (the precedence levels of an expression that an operand has
        completed) is kept whole, so the continuation of ``top`` reaches the cut-off
        part only through what a frame that is not nullable reads after it.

        Expanding the marker yields the element :data:`UNKNOWN`, which reads nothing: a
        configuration computed on ``top`` is exact except where it holds ``UNKNOWN``,
        which stands for what ``below`` may add there. Under a guard frame (longest
        match) the element is ``(UNKNOWN[0], forbidden first bytes, None)``: what the
        cut-off part may read there, but for texts beginning with one of those bytes."""
        e = self._splits.get(id(st))
        if e is not None and e[0] is st:
            return e[1], e[2]
        exprs = self.alg.exprs
        frames: list | None = []
        s = st
        while len(frames) < _MAX_KEPT:
            if s[2] == 0:  # the last frame: nothing to cut off
                frames = None
                break
            f = s[0]
            frames.append(f)
            s = s[1]
            if not exprs[f].nullable:
                break
        if frames is None:
            top, s = st, None
        else:
            top = self.opaque
            for f in reversed(frames):
                top = self._stack(f, top)
        if len(self._splits) >= _MAX_INTERNED_STACKS:
            self._splits.clear()
        self._splits[id(st)] = (st, top, s)
        return top, s

    def _ret(self, rest: RExpr, parent: Stack | None) -> Stack:
        if rest.kind == R_EPS:
            return self.final if parent is None else parent
        return self.stack(rest, parent)

    def _begin(self, t: int, ret: Stack, out: set) -> None:
        """Add the element that begins terminal ``t`` with continuation ``ret``."""
        out.add((t, self.starts[t], ret))

    def expand(self, st: Stack) -> frozenset:
        """Elements that begin what ``st`` expects next (terminals at their start states)."""
        e = self._expansions.get(id(st))
        if e is not None and e[0] is st:
            return e[1]
        out: set = set()
        frame_of = self.frame
        # (frame, parent) pairs: a rule's body entered is walked without a stack of its
        # own (nothing refers to it; its firsts continue on its parent). A frame None is
        # the opaque marker of a truncated stack: the cut-off part, UNKNOWN.
        seen: set = set()
        top = frame_of(st)
        todo = [(top, st[1])]
        firsts, bodies = self.alg.firsts, self.bodies
        begin = self._begin
        trail = self._trail
        if self.ignore_ids and top is not None and top.kind != R_GUARD:
            for i in self.ignore_ids:
                begin(i, st, out)
        while todo:
            frame, parent = todo.pop()
            key = (id(frame), id(parent))
            if key in seen:
                continue
            seen.add(key)
            if frame is None:
                out.add(UNKNOWN)
                continue
            if frame.kind == R_GUARD:
                out |= self._restrict(self.expand(parent), frame.a)
                continue
            for sym, rest in firsts(frame):
                ret = self._ret(rest, parent)
                if sym >= 0:
                    begin(sym, ret, out)
                else:
                    body = bodies[-1 - sym]
                    if body is not None:
                        todo.append((body, ret))
            if frame.nullable:
                if parent is None:
                    out.add(END)
                    if trail is not None:
                        begin(trail, self.final, out)
                else:
                    todo.append((frame_of(parent), parent[1]))
            if len(seen) > self.limits.max_stacks:
                raise LimitError(
                    f"more than Limits.max_stacks={self.limits.max_stacks} parser stacks"
                )
            if not len(seen) & 255:
                deadline.check()
        res = frozenset(out)
        self._expansions[id(st)] = (st, res)
        return res

    def close(self, elems) -> frozenset:
        """``elems`` with, for every element whose terminal may end here, the elements
        that begin its continuation: under longest match, under the guard that forbids
        the bytes that would continue the terminal (see :meth:`_guard_of`)."""
        out = set(elems)
        dfas = self.dfas
        guarded = self.longest_match
        for e in elems:
            t, q, s = e
            if t >= 0 and dfas[t].acc[q]:
                if guarded:
                    g = self._guard_of(t, q)
                    if g is not None:
                        s = self._stack(g.idx, s)
                out |= self.expand(s)
        if len(out) > self.limits.max_stacks:
            raise LimitError(f"more than Limits.max_stacks={self.limits.max_stacks} live parses")
        return frozenset(out)

    def cut_begins(self) -> list:
        """The elements the rules begin whose stack :meth:`split` cuts within the frames
        the beginning pushed, under one that is not nullable (an operator and its
        operand, ``(`` and what it opens): ``(terminal id, start state, top)``, ``top``
        the part above the cut, on the opaque marker. Such an element has the same top
        whatever stack it was begun on. Found by expanding, on the opaque marker, every
        frame a stack may hold: the residuals the rules reach (a rule's body is walked
        for the residuals in it, but no stack holds it: what it begins, the frames that
        enter it begin too)."""
        firsts, bodies = self.alg.firsts, self.bodies
        seen: set = set()
        frames: dict = {}  # frame number -> the frame, for those a stack may hold
        todo = [(self.frame(self.root), True)]
        while todo:
            deadline.check()
            frame, held = todo.pop()
            if held:
                frames[frame.idx] = frame
            if frame.idx in seen:
                continue
            seen.add(frame.idx)
            for sym, rest in firsts(frame):
                if sym < 0 and bodies[-1 - sym] is not None:
                    todo.append((bodies[-1 - sym], False))
                if rest.kind != R_EPS:
                    todo.append((rest, True))
        out: set = set()
        for frame in frames.values():
            for t, q, ret in self.expand(self.stack(frame, self.opaque)):
                if t >= 0:
                    top, below = self.split(ret)
                    if below is not None:
                        out.add((t, q, top))
        return sorted(out, key=lambda e: (e[0], e[2][0], e[2][2]))

    def initial(self) -> frozenset:
        return self._initial

    def step(self, config: frozenset, byte: int) -> frozenset:
        key = (config, byte)
        memo = self._step_memo
        res = memo.get(key)
        if res is not None:
            return res
        deadline.check()
        nxt = []
        dfas = self.dfas
        for t, q, s in config:
            if t < 0:
                continue
            d = dfas[t]
            row = d.rows[q]  # (DFA.step's first look, inlined)
            q2 = row[byte] if row is not None else -1
            if q2 < 0:
                q2 = d.step(q, byte)
            if q2:
                nxt.append((t, q2, s))
        res = self.close(nxt) if nxt else _EMPTY_CONFIG
        if len(memo) >= _MAX_STEP_MEMO:
            memo.clear()  # bounded; results stay exact
        memo[key] = res
        return res

    def run(self, config: frozenset, data: bytes) -> frozenset:
        for c in data:
            config = self.step(config, c)
            if not config:
                break
        return config

    @staticmethod
    def is_accepting(config: frozenset) -> bool:
        return END in config

    def matches(self, data: bytes) -> bool:
        return END in self.run(self._initial, data)


def _symbols(exprs) -> set[int]:
    """The symbols the rule expressions ``exprs`` refer to (terminal ids, and rules as
    ``-1 - rule id``), each sub-expression read once."""
    out: set[int] = set()
    todo = list(exprs)
    seen: set = set()
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        k = e.kind
        if k == R_SYM:
            out.add(e.a)
        elif k == R_CAT:
            todo += (e.a, e.b)
        elif k == R_ALT:
            todo += e.a
        elif k == R_REP:
            todo.append(e.a)
    return out


def _cyclic_sccs(edges: dict[int, set]) -> list[set]:
    """Strongly connected components of ``edges`` that contain a cycle (Tarjan, iterative)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on: set[int] = set()
    stack: list[int] = []
    out: list[set] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(edges[w])))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in edges[v]:
                    out.append(comp)
    return out


def _extension_classes(dfa: DFA) -> dict[int, list[int]]:
    """The DFA's accepting states grouped by the bytes that continue the match there (a
    256-bit mask), after building every state of the DFA."""
    seen = {dfa.start}
    todo = [dfa.start]
    classes: dict[int, list[int]] = {}
    while todo:
        q = todo.pop()
        row = dfa.build(q)
        if dfa.acc[q]:
            mask = 0
            for b, q2 in enumerate(row):
                if q2:
                    mask |= 1 << b
            classes.setdefault(mask, []).append(q)
        for q2 in set(row):
            if q2 and q2 not in seen:
                seen.add(q2)
                todo.append(q2)
    return classes
