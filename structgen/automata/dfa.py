"""A lazily built byte DFA over derivative terms, with a dense numpy transition table.

State 0 is the dead state; state 1 is the start. Rows are materialised on demand (a row
costs one derivative per byte class), so a terminal like ``\\w{1,1000}`` only ever builds
the states a text actually reaches. ``ensure`` materialises many states at once, for the
vectorised walk of a whole vocabulary.
"""

from __future__ import annotations

import numpy as np

from .. import deadline
from ..errors import LimitError
from ..limits import DEFAULT_LIMITS, Limits
from . import terms as T


def bitmask(member: np.ndarray) -> int:
    """A bool[256] over byte values as a 256-bit mask (bit b for byte b)."""
    return int.from_bytes(np.packbits(member, bitorder="little").tobytes(), "little")


def is_productive(
    term: T.Term, limits: Limits = DEFAULT_LIMITS, name: str = "", root: T.Term | None = None
) -> bool:
    """Whether the term's language is non-empty (only in doubt with & and ~), memoised on
    the term (interned: every DFA and grammar shares the answer).

    A concatenation is non-empty when all its parts are, an alternation when one is, a
    repeat when it may be empty or its body is not: so a terminal with a boolean part
    (an identifier that excludes keywords, an ignored comment folded in front) asks about
    that part once, not about every state of every terminal it is in. An intersection or
    complement is searched breadth-first for a nullable derivative: the shortest witness
    is found first, every term on its path is recorded as productive, and after an
    exhaustive search every term seen is recorded as unproductive, so later checks of
    nearby terms stop at once. ``name`` or ``root`` (its text) names the terminal in a
    LimitError."""
    if term is T.EMPTY:
        return False
    if not term.boolean or term.nullable:
        return True
    known = term._prod
    if known is not None:
        return known
    k = term.kind
    if k == T.K_CAT:
        out = True
        t = term
        while t.kind == T.K_CAT:  # (right-nested: a loop, not one call per part)
            if not is_productive(t.a, limits, name, root):
                out = False
                break
            t = t.b
        else:
            out = is_productive(t, limits, name, root)
        term._prod = out
        return out
    if k == T.K_ALT:
        out = any(is_productive(x, limits, name, root) for x in term.a)
        term._prod = out
        return out
    if k == T.K_REP:  # (lo >= 1: a nullable repeat was answered above)
        out = is_productive(term.a, limits, name, root)
        term._prod = out
        return out
    parent: dict[T.Term, T.Term | None] = {term: None}
    queue = [term]
    hit = None
    i = 0
    while i < len(queue) and hit is None:
        t = queue[i]
        i += 1
        for c in T.partition(t).reps:
            d = T.deriv(t, c)
            if d is T.EMPTY or d in parent:
                continue
            p = d._prod
            if p is False:
                continue
            if p or d.nullable or not d.boolean:
                hit = t
                break
            parent[d] = t
            if len(parent) > limits.max_states:
                raise LimitError(
                    f"emptiness check of terminal {name or T.to_text(root or term)[:60]!r} "
                    f"exceeds Limits.max_states={limits.max_states}"
                )
            queue.append(d)
    if hit is not None:
        while hit is not None:
            hit._prod = True
            hit = parent[hit]
        return True
    for t in parent:
        t._prod = False
    return False


class DFA:
    """Lazy DFA for one terminal. ``table[s, b]`` is valid once ``built[s]``.

    ``rows[s]`` is a Python list of 256 targets for scalar stepping: None until the state
    is first stepped, -1 for a transition not computed yet (rows fill byte by byte when a
    text walks through, and wholly when ``build`` is called)."""

    def __init__(
        self, root: T.Term, limits: Limits = DEFAULT_LIMITS, name: str = "", nonempty: bool = False
    ):
        self.root = root
        self.name = name
        self.limits = limits
        # set when this DFA reached Limits.max_states: it is shared by every grammar with
        # the same terminal, so it is retired (see grammar.shared_dfa) rather than left to
        # refuse every later grammar's new states
        self.retired = False
        self.terms: list[T.Term] = [T.EMPTY]
        self.ids: dict[T.Term, int] = {T.EMPTY: 0}
        # states added by restricted_start -> the first bytes they allow
        self.restricted_starts: dict[int, int] = {}
        cap = 64
        self.table = np.zeros((cap, 256), dtype=np.int32)
        self.accepting = np.zeros(cap, dtype=bool)
        self.built = np.zeros(cap, dtype=bool)
        self.built[0] = True
        self.rows: list[list[int] | None] = [[0] * 256]
        self.acc: list[bool] = [False]  # accepting, as a Python list for scalar stepping
        self.complete: list[bool] = [True]  # rows[s] holds no -1
        self._classes: dict[int, list[int]] = {}  # per-class targets of incomplete rows
        self._reads_chars: dict[int, bool] = {}  # see reads_characters
        self.terms_built = 0  # new terms its derivatives built (see _target)
        if not self._is_productive(root) or (nonempty and root is T.EPS):
            # keep the numbering convention (start = 1) even for an empty language
            self.start = self._add(T.EMPTY, force=True)
        elif nonempty and root.nullable:
            # the empty string is excluded: the start state is a copy of the root's state
            # that does not accept (derivatives that lead back to the root do accept)
            self.start = self._add(root, register=False)
            self.accepting[self.start] = False
            self.acc[self.start] = False
        else:
            self.start = self.state_of(root)
        self.empty = not bool(self.first_bytes(self.start).any()) and not self.accepting[self.start]

    # -- states ---------------------------------------------------------------------------
    def _add(self, term: T.Term, force: bool = False, register: bool = True) -> int:
        sid = len(self.terms)
        if sid >= self.limits.max_states:
            self.retired = True
            raise LimitError(
                f"terminal {self.name or T.to_text(self.root)[:60]!r} needs more than "
                f"{self.limits.max_states} DFA states (Limits.max_states)"
            )
        deadline.check()
        if sid >= self.table.shape[0]:
            cap = self.table.shape[0] * 2
            self.table = np.concatenate([self.table, np.zeros_like(self.table)])
            self.accepting = np.concatenate([self.accepting, np.zeros(cap // 2, dtype=bool)])
            self.built = np.concatenate([self.built, np.zeros(cap // 2, dtype=bool)])
        self.terms.append(term)
        self.rows.append(None)
        self.complete.append(False)
        if register and not force:
            self.ids[term] = sid
        self.accepting[sid] = term.nullable
        self.acc.append(term.nullable)
        if force:
            self.built[sid] = True
            self.rows[sid] = [0] * 256
            self.complete[sid] = True
        return sid

    def state_of(self, term: T.Term) -> int:
        sid = self.ids.get(term)
        if sid is None:
            sid = self._add(term)
        return sid

    def _is_productive(self, term: T.Term) -> bool:
        return is_productive(term, self.limits, self.name, self.root)

    def _target(self, term: T.Term, rep: int) -> int:
        before = T.built()
        d = T.deriv(term, rep)
        # the memory a DFA holds is its states' terms: a state's term may be large (one
        # part per way the text read so far can split between ambiguous counters), so the
        # terms built are counted as well as the states
        self.terms_built += T.built() - before
        if self.terms_built > self.limits.max_terms:
            raise LimitError(
                f"terminal {self.name or T.to_text(self.root)[:60]!r} built more than "
                f"{self.limits.max_terms} regular-expression terms (Limits.max_terms)"
            )
        if d is T.EMPTY or (d.boolean and not self._is_productive(d)):
            return 0
        return self.state_of(d)

    def build(self, sid: int) -> list[int]:
        """The complete row of ``sid`` (every transition computed)."""
        if self.complete[sid]:
            return self.rows[sid]
        term = self.terms[sid]
        part = T.partition(term)
        known = self._classes.pop(sid, None)
        targets = []
        for k, c in enumerate(part.reps):
            s = -1 if known is None else known[k]
            targets.append(self._target(term, c) if s < 0 else s)
        out = np.asarray(targets, dtype=np.int32)[part.index]
        self.table[sid] = out
        self.built[sid] = True
        row = out.tolist()
        self.rows[sid] = row
        self.complete[sid] = True
        return row

    def ensure(self, states: np.ndarray) -> None:
        """Materialise the rows of every state in ``states`` (an int array)."""
        need = states[~self.built[states]]
        if need.size:
            # (bincount: a few hundred states at most, cheaper than np.unique's sort/hash)
            for s in np.flatnonzero(np.bincount(need)).tolist():
                self.build(s)

    def step(self, sid: int, byte: int) -> int:
        row = self.rows[sid]
        if row is None:
            row = self.rows[sid] = [-1] * 256
        else:
            s = row[byte]
            if s >= 0:
                return s
        # one derivative (for the byte's class), not a whole row: a text walks through
        # many states (a counter's levels) whose other transitions are never taken
        term = self.terms[sid]
        part = T.partition(term)
        k = part.lindex[byte]
        known = self._classes.get(sid)
        if known is None:
            known = self._classes[sid] = [-1] * len(part.reps)
        s = known[k]
        if s < 0:
            s = known[k] = self._target(term, part.reps[k])
        row[byte] = s
        return s

    def run(self, data: bytes, sid: int | None = None) -> int:
        s = self.start if sid is None else sid
        for c in data:
            s = self.step(s, c)
            if s == 0:
                return 0
        return s

    def matches(self, data: bytes) -> bool:
        return self.acc[self.run(data)]  # (run may grow the numpy arrays: read after)

    def first_bytes(self, sid: int) -> np.ndarray:
        """bool[256]: bytes with a live transition out of ``sid``."""
        if not self.complete[sid]:
            self.build(sid)
        return self.table[sid] != 0

    def reads_characters(self, sid: int) -> bool:
        """Whether every character above U+007F leads ``sid`` back to itself through
        states that do not accept, and every ill-formed byte sequence dies on its first
        byte that no character spells: from ``sid``, the bytes above 0x7F read UTF-8
        characters, whatever they are (a string's or a comment's body). Memoised."""
        got = self._reads_chars.get(sid)
        if got is None:
            got = self._reads_chars[sid] = self._reads_characters(sid)
        return got

    def _reads_characters(self, sid: int) -> bool:
        todo = []  # (state, lowest and highest next byte, bytes left in the character)
        row = self.build(sid)
        for b in range(0x80, 0x100):
            spec = _UTF8_LEADS.get(b)
            t = row[b]
            if spec is None or not t or self.acc[t]:
                if spec is not None or t:
                    return False
                continue
            todo.append((t, *spec))
        seen = set()
        while todo:
            item = todo.pop()
            if item in seen:
                continue
            seen.add(item)
            s, lo, hi, left = item
            row = self.build(s)
            for b in range(256):
                t = row[b]
                if not lo <= b <= hi:
                    if t:
                        return False
                elif left == 1:
                    if t != sid:
                        return False
                elif not t or self.acc[t]:
                    return False
                else:
                    todo.append((t, 0x80, 0xBF, left - 1))
        return True

    def restricted_start(self, allowed: int, term: T.Term) -> int:
        """The state of ``term``, this DFA's language restricted to texts whose first
        byte is in ``allowed`` (a 256-bit mask), added to this DFA, or 0 when no text is
        left: after an allowed first byte the restricted language is this one's, so its
        row is the start's row without the other bytes, and every state after it is one
        of this DFA's. Recorded in ``restricted_starts`` (state -> ``allowed``)."""
        sid = self.ids.get(term)
        if sid is not None:
            return sid
        row = self.build(self.start)
        mine = [t if allowed >> b & 1 else 0 for b, t in enumerate(row)]
        if not any(mine):
            return 0
        sid = self._add(term)
        self.rows[sid] = mine
        self.table[sid] = mine
        self.built[sid] = True
        self.complete[sid] = True
        self.restricted_starts[sid] = allowed
        return sid

    def __len__(self) -> int:
        return len(self.terms)


def _utf8_leads() -> dict:
    """Lead byte -> (lowest and highest byte after it, bytes after it): the well-formed
    UTF-8 sequences of the characters above U+007F (The Unicode Standard, table 3-7)."""
    leads = {b: (0x80, 0xBF, 1) for b in range(0xC2, 0xE0)}
    leads.update({b: (0x80, 0xBF, 2) for b in range(0xE1, 0xF0)})
    leads[0xE0] = (0xA0, 0xBF, 2)
    leads[0xED] = (0x80, 0x9F, 2)  # (no surrogates)
    leads.update({b: (0x80, 0xBF, 3) for b in range(0xF1, 0xF4)})
    leads[0xF0] = (0x90, 0xBF, 3)
    leads[0xF4] = (0x80, 0x8F, 3)  # (nothing above U+10FFFF)
    return leads


_UTF8_LEADS = _utf8_leads()


def _language_of(d: DFA, s: int) -> T.Term | None:
    """The term whose language state ``s`` of ``d`` reads exactly, or None where ``d``
    changed the state's accepting (a non-accepting copy of a nullable start)."""
    t = d.terms[s]
    return t if d.ids.get(t) == s else None


def _next_pairs(a: DFA, x: int, b: DFA, y: int) -> list | None:
    """The distinct pairs of states ``a`` from ``x`` and ``b`` from ``y`` reach on one
    byte, building both rows; None when one dies on a byte the other reads."""
    a.build(x)
    b.build(y)
    ra, rb = a.table[x], b.table[y]
    live = ra != 0
    if not np.array_equal(live, rb != 0):
        return None
    pairs = np.unique(ra[live].astype(np.int64) << 32 | rb[live].astype(np.int64))
    return [(pair >> 32, pair & 0xFFFFFFFF) for pair in pairs.tolist()]


def same_behaviour(a: DFA, p: int, b: DFA, q: int, limit: int = 64) -> bool:
    """Whether ``a`` from state ``p`` and ``b`` from state ``q`` behave the same on every
    text: along it, both accept at the same prefixes and die at the same byte. Shown by
    pairing the states the two reach on each byte (a bisimulation), building their rows;
    False when that is not shown within ``limit`` pairs."""
    same = a is b  # (a state behaves as itself)
    seen = {(p, q)}
    todo = [(p, q)]
    while todo:
        x, y = todo.pop()
        tx = _language_of(a, x)
        if tx is not None and tx is _language_of(b, y):
            continue  # (terms are interned: the same language)
        if a.acc[x] != b.acc[y]:
            return False
        pairs = _next_pairs(a, x, b, y)
        if pairs is None:
            return False
        for xy in pairs:
            if xy not in seen and not (same and xy[0] == xy[1]):
                if len(seen) >= limit:
                    return False
                seen.add(xy)
                todo.append(xy)
    return True


def merge_depth(d: DFA, q: int, b: int, limit: int = 64) -> int | None:
    """How many bytes ``d`` from ``q`` may read before it behaves as from ``b``: along
    every text the two die at the same byte, ``q`` accepts only at prefixes where ``b``
    does, and after more bytes than the depth returned both are in states that behave
    the same (the same state or the same language). An identifier that excludes
    keywords, after ``i``, reads as the plain identifier's body does but for ``f``, ``n``
    and ``s`` (``if``, ``in``, ``is``): depth 1. None when that is not shown within
    ``limit`` pairs of states (or the pairs that differ form a cycle: no bound)."""
    succ: dict = {}  # (x, y) -> pairs reached that still differ
    todo = [(q, b)]
    while todo:
        xy = todo.pop()
        if xy in succ:
            continue
        x, y = xy
        if d.acc[x] and not d.acc[y]:
            return None
        pairs = _next_pairs(d, x, d, y)
        if pairs is None:
            return None
        nxt = []
        for x2, y2 in pairs:
            if x2 == y2:
                continue
            tx = _language_of(d, x2)
            if tx is not None and tx is _language_of(d, y2):
                continue  # (terms are interned: the same language)
            nxt.append((x2, y2))
        succ[xy] = nxt
        if len(succ) > limit:
            return None
        todo.extend(nxt)
    # the longest run of differing pairs from (q, b): the graph must have no cycle
    depth: dict = {}
    for start in succ:
        if start in depth:
            continue
        stack = [(start, 0)]
        on_path = {start}
        while stack:
            node, i = stack[-1]
            kids = succ[node]
            if i < len(kids):
                stack[-1] = (node, i + 1)
                kid = kids[i]
                if kid in on_path:
                    return None
                if kid not in depth:
                    on_path.add(kid)
                    stack.append((kid, 0))
                continue
            depth[node] = max((depth[k] + 1 for k in kids), default=0)
            on_path.discard(node)
            stack.pop()
    return depth[(q, b)]
