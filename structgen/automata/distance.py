"""Minimal completion lengths: how many more bytes any text needs to become complete.

For a configuration of an :class:`~structgen.automata.grammar.Automaton` the distance is
the length of the shortest byte string that leads to an accepting configuration:

* inside a terminal, the shortest path from its DFA state to an accepting state (a
  breadth-first search over the lazily built DFA, bounded by ``Limits.max_states``);
* for a parser frame (the residual of a rule), the length of its shortest derivation,
  from the shortest lengths of the terminals and a fixpoint over the rules;
* for a stack, the sum over its frames; for a configuration, the minimum over its
  elements (0 when it is already accepting).

The search can be restricted to an *alphabet* (a subset of the 256 bytes): then every
distance counts only completions spelled with those bytes. With the bytes that are single
tokens of a vocabulary, a distance of ``n`` bytes is a completion in at most ``n`` tokens.
Everything is memoised; results are exact, or :data:`INF` where no completion over the
alphabet exists (or the search bound was hit, which only overestimates).

:meth:`Distances.shortest` spells one shortest completion out, byte by byte, by stepping
the automaton along bytes that bring the distance down by one (the token budget counts
the tokens of that text, see :mod:`structgen.budget`).
"""

from __future__ import annotations

import math

import numpy as np

from .grammar import END, R_ALT, R_CAT, R_EPS, R_SYM, Automaton, RExpr, Stack

INF = math.inf
_MAX_MEMO = 200_000
# Distances.shortest spells no completion longer than this (the caller falls back on the
# byte count)
MAX_SPELLED = 4096


def _by_terminal(e: tuple) -> tuple:
    return e[0], e[1]


class Distances:
    """Memoised minimal completion lengths (in bytes) over one automaton."""

    def __init__(self, automaton: Automaton, alphabet: np.ndarray | None = None):
        self.automaton = automaton
        if alphabet is None:
            alphabet = np.ones(256, dtype=bool)
        alphabet = np.asarray(alphabet, dtype=bool)
        if alphabet.shape != (256,):
            # internal: a bug: callers pass the lexer's own alphabet
            raise ValueError("alphabet must be a bool array of 256 entries")
        self.alphabet = alphabet
        self._bytes = np.flatnonzero(alphabet)
        self._acc: dict[tuple[int, int], float] = {}
        self._via: dict[tuple[int, int], int] = {}  # see _bfs
        self._expr: dict[RExpr, float] = {}
        self._stack: dict[int, tuple] = {}  # id(stack) -> (stack, its distance)
        self._config: dict[frozenset, float] = {}
        self._search_bound = automaton.limits.max_states
        self.terminal_min = [
            self.to_accept(t, automaton.starts[t]) for t in range(len(automaton.dfas))
        ]
        self.rule_min = self._rule_fixpoint()

    # ---- terminals ----------------------------------------------------------------------------
    def to_accept(self, t: int, q: int) -> float:
        """Shortest number of bytes from state ``q`` of terminal ``t`` to an accepting state."""
        key = (t, q)
        d = self._acc.get(key)
        if d is not None:
            return d
        dfa = self.automaton.dfas[t]
        if q == 0:
            d = INF
        elif dfa.acc[q]:
            d = 0
        else:
            d = self._bfs(dfa, q, key)
        if len(self._acc) >= _MAX_MEMO:
            self._acc.clear()
            self._via.clear()
        self._acc[key] = d
        return d

    def _bfs(self, dfa, q: int, key: tuple) -> float:
        """The depth of the nearest accepting state; records in ``_via[key]`` the state
        after ``q`` on a shortest path to it (for :meth:`shortest`)."""
        via = {q: 0}  # state -> the state after q on the path that found it
        frontier = [q]
        depth = 0
        cols = self._bytes
        while frontier:
            depth += 1
            nxt = []
            for s in frontier:
                if not dfa.complete[s]:
                    dfa.build(s)
                first = via[s]
                for s2 in np.unique(dfa.table[s, cols]).tolist():
                    if s2 == 0 or s2 in via:
                        continue
                    if dfa.acc[s2]:
                        self._via[key] = first or s2
                        return depth
                    via[s2] = first or s2
                    nxt.append(s2)
            if len(via) > self._search_bound:
                return INF  # gave up: INF overestimates, which is the safe side
            frontier = nxt
        return INF

    def to_accept_many(self, t: int, states: np.ndarray) -> np.ndarray:
        """``to_accept`` for an array of states of terminal ``t`` (float array)."""
        uniq, inv = np.unique(states, return_inverse=True)
        vals = np.asarray([self.to_accept(t, int(s)) for s in uniq.tolist()], dtype=np.float64)
        return vals[inv]

    # ---- rules --------------------------------------------------------------------------------
    def _rule_fixpoint(self) -> list[float]:
        bodies = self.automaton.bodies
        rmin = [INF] * len(bodies)
        tmin = self.terminal_min

        def ml(e: RExpr, memo: dict) -> float:
            v = memo.get(e)
            if v is not None:
                return v
            k = e.kind
            if k == R_EPS:
                v = 0
            elif k == R_SYM:
                v = tmin[e.a] if e.a >= 0 else rmin[-1 - e.a]
            elif k == R_CAT:
                v = ml(e.a, memo) + ml(e.b, memo)
            elif k == R_ALT:
                v = min(ml(x, memo) for x in e.a)
            else:
                v = 0 if e.lo == 0 else e.lo * ml(e.a, memo)
            memo[e] = v
            return v

        changed = True
        while changed:
            changed = False
            memo: dict = {}
            for rid, body in enumerate(bodies):
                if body is None:
                    continue
                v = ml(body, memo)
                if v < rmin[rid]:
                    rmin[rid] = v
                    changed = True
        return rmin

    def frame(self, e: RExpr) -> float:
        """Shortest derivation length of a rule expression (a parser frame)."""
        v = self._expr.get(e)
        if v is not None:
            return v
        # iterative over right-nested sequences, recursive elsewhere (shallow)
        k = e.kind
        if k == R_EPS:
            v = 0
        elif k == R_SYM:
            v = self.terminal_min[e.a] if e.a >= 0 else self.rule_min[-1 - e.a]
        elif k == R_CAT:
            v = 0
            x = e
            while x.kind == R_CAT:
                v += self.frame(x.a)
                x = x.b
            v += self.frame(x)
        elif k == R_ALT:
            v = min(self.frame(x) for x in e.a)
        else:
            v = 0 if e.lo == 0 else e.lo * self.frame(e.a)
        if len(self._expr) >= _MAX_MEMO:
            self._expr.clear()
        self._expr[e] = v
        return v

    def stack(self, s: Stack | None) -> float:
        """Shortest completion of a parser stack: the sum over its frames."""
        if s is None:
            return 0
        # keyed by identity (hashing a stack reads all of it); the entry holds the stack
        memo = self._stack
        e = memo.get(id(s))
        if e is not None and e[0] is s:
            return e[1]
        path = []
        x = s
        while x is not None:
            e = memo.get(id(x))
            if e is not None and e[0] is x:
                break
            path.append(x)
            x = x[1]
        total = 0 if x is None else e[1]
        if len(memo) + len(path) >= _MAX_MEMO:
            memo.clear()
        frame = self.automaton.frame
        for y in reversed(path):
            total = total + self.frame(frame(y))
            memo[id(y)] = (y, total)
        return total

    # ---- configurations -----------------------------------------------------------------------
    def config(self, config: frozenset) -> float:
        """Shortest number of bytes (over the alphabet) that completes ``config``."""
        v = self._config.get(config)
        if v is not None:
            return v
        if END in config:
            v = 0
        else:
            v = INF
            for t, q, s in config:
                if t < 0:
                    continue
                d = self.to_accept(t, q)
                if d < v:
                    d += self.stack(s)
                    if d < v:
                        v = d
        if len(self._config) >= _MAX_MEMO:
            self._config.clear()
        self._config[config] = v
        return v

    # ---- one shortest completion, spelled out -------------------------------------------------
    def shortest(self, config: frozenset, order: np.ndarray | None = None) -> bytes | None:
        """One shortest completion of ``config`` over the alphabet (``len`` is
        :meth:`config`), or None when there is none, it is longer than
        :data:`MAX_SPELLED`, or the automaton does not follow the distances (each byte
        must bring the distance down by one, checked by stepping the automaton).
        ``order``: the bytes in the order they are preferred where several would do (a
        permutation of 0..255; default: ascending)."""
        d = self.config(config)
        if d == INF or d > MAX_SPELLED:
            return None
        rank = None
        if order is not None:
            rank = np.empty(256, dtype=np.int64)
            rank[np.asarray(order, dtype=np.int64)] = np.arange(256)
        out = bytearray()
        step = self.automaton.step
        while d > 0:
            c = self._next_byte(config, d, rank)
            if c is None:
                return None
            config = step(config, c)
            out.append(c)
            d -= 1
        return bytes(out)

    def _next_byte(self, config: frozenset, d: float, rank: np.ndarray | None) -> int | None:
        """A byte after which ``config`` is ``d - 1`` bytes from complete: first along the
        terminal of an element that realises ``d``, else any byte the alphabet has; the
        lowest ``rank`` first."""
        step = self.automaton.step
        cols = self._bytes
        for t, q, s in sorted((e for e in config if e[0] >= 0), key=_by_terminal):
            a = self.to_accept(t, q)
            if a < 1 or a + self.stack(s) != d:
                continue
            dfa = self.automaton.dfas[t]
            q1 = self._via.get((t, q))
            if q1 is None:  # (its memo was cleared: find it again)
                self._acc.pop((t, q), None)
                self.to_accept(t, q)
                q1 = self._via.get((t, q))
            if not dfa.complete[q]:
                dfa.build(q)
            cands = cols[dfa.table[q, cols] == q1]
            if rank is not None:
                cands = cands[np.argsort(rank[cands], kind="stable")]
            for c in cands.tolist():
                if self.config(step(config, c)) == d - 1:
                    return c
        cands = cols if rank is None else cols[np.argsort(rank[cols], kind="stable")]
        for c in cands.tolist():
            nxt = step(config, c)
            if nxt and self.config(nxt) == d - 1:
                return c
        return None
