"""TokenIndex: a grammar automaton lifted to one vocabulary.

* Masks are memoised per configuration (a :class:`State`); after the first visit a step
  is a dict lookup.
* First visits are vectorised: every token's bytes sit in per-position numpy columns
  (tokens sorted by length), and all tokens are stepped through a terminal's DFA table
  at once. The result — which tokens stay inside the terminal, and where a token could
  leave it — depends only on (terminal DFA, state) and the vocabulary, so it is cached
  across configurations and across grammars.
* Only tokens that cross a terminal boundary need the parser: their remainders are
  first filtered by the bytes the continuation accepts (vectorised). A remainder is a
  token suffix; suffixes are numbered once per vocabulary (:class:`SuffixTable`), and
  whether one can be read from a continuation configuration is memoised per
  configuration. A configuration reads a suffix when one of its elements does: the
  lexing of suffixes through one terminal state is memoised per (terminal, state) in
  dense code arrays, and the rests, shorter suffixes, are checked against the next
  continuation the same way.
"""

from __future__ import annotations

import time
import weakref

import numpy as np

from . import deadline as _deadline
from .automata import terms as T
from .automata.dfa import DFA, bitmask, merge_depth, same_behaviour
from .automata.grammar import END, UNKNOWN, Automaton, shared_dfa
from .cache import ENGINE_LOCK, BoundedCache, locked
from .deadline import deadline
from .errors import LimitError
from .limits import DEFAULT_LIMITS, Limits

_MARK = UNKNOWN[0]  # the first field of every UNKNOWN element (see Automaton.split)


def _layout(obj, data: list) -> None:
    """Lay ``data`` (byte strings sorted longest first) out in columns on ``obj``:
    ``data``, ``lens``, ``maxlen``, ``cnt[j]`` (how many have more than j bytes),
    ``cols[j]`` (byte j of those) and ``col0`` (byte 0 as indices)."""
    obj.data = data
    obj.lens = np.fromiter((len(b) for b in data), dtype=np.int64, count=len(data))
    obj.maxlen = int(obj.lens[0]) if len(data) else 0
    obj.cnt = [int(np.searchsorted(-obj.lens, -j, side="left")) for j in range(obj.maxlen + 1)]
    obj.cols = []
    for j in range(obj.maxlen):
        n = obj.cnt[j]
        obj.cols.append(np.frombuffer(b"".join(b[j : j + 1] for b in data[:n]), dtype=np.uint8))
    # (a gather with uint8 indices converts them: keep byte 0 as indices)
    obj.col0 = obj.cols[0].astype(np.intp) if obj.maxlen else np.zeros(0, np.intp)


class ReducedVocab:
    """The tokens of a vocabulary with each byte replaced by the representative of its
    class in a DFA's deep partition (:func:`structgen.automata.terms.deep_classes`),
    deduplicated. Bytes of one class are interchangeable in every state of the DFA, so
    from any state it does the same to every token of one reduced string, and a walk of
    the reduced strings (for a regex over a few byte classes, a tenth as many) answers
    for the whole vocabulary. Laid out like :class:`VocabArrays` (longest first);
    ``inv[p]``: the reduced string of the token at position ``p``;
    ``members[start[r]:start[r + 1]]``: the token positions of reduced string ``r``.
    With more than ``most`` reduced strings (``count``), nothing is laid out and ``data``
    is None."""

    def __init__(self, va: VocabArrays, classes: tuple, most: int | None = None):
        table = np.zeros(256, dtype=np.uint8)
        for c in classes:
            member = T.byte_members(c)
            table[member] = (c & -c).bit_length() - 1
        flat = table[va.flat]
        # the tokens of one length are consecutive (longest first), their bytes one block:
        # deduplicate the translated rows of each block; numbering them block after block
        # keeps the reduced strings longest first
        self.inv = np.empty(len(va.data), dtype=np.int32)
        blocks, n = [], 0
        for length in range(va.maxlen, 0, -1):
            lo, hi = va.cnt[length], va.cnt[length - 1]
            if lo == hi:
                continue
            at = int(va.starts[lo])
            rows = flat[at : at + (hi - lo) * length].reshape(hi - lo, length)
            keys = rows.view(np.dtype((np.void, length))).ravel()
            _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
            self.inv[lo:hi] = n + inv.reshape(-1)
            n += first.size
            blocks.append(rows[first])
        self.count = n
        self.data = None
        if most is not None and n > most:
            return  # too many to pay (``data`` stays None)
        # (a stable argsort of 16-bit keys is a radix sort: several times faster)
        key = self.inv.astype(np.uint16) if n <= 1 << 16 else self.inv
        self.members = np.argsort(key, kind="stable")
        self.start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.inv, minlength=n), out=self.start[1:])
        self.maxlen = blocks[0].shape[1] if blocks else 0
        pad = np.zeros((n, self.maxlen), dtype=np.uint8)
        self.lens = np.zeros(n, dtype=np.int64)
        self.data = []
        at = 0
        for b in blocks:
            k, length = b.shape
            pad[at : at + k, :length] = b
            self.lens[at : at + k] = length
            buf = b.tobytes()
            self.data.extend([buf[i : i + length] for i in range(0, k * length, length)])
            at += k
        self.cnt = [
            int(np.searchsorted(-self.lens, -j, side="left")) for j in range(self.maxlen + 1)
        ]
        self.cols = [pad[: self.cnt[j], j].copy() for j in range(self.maxlen)]
        self.col0 = self.cols[0].astype(np.intp) if self.maxlen else np.zeros(0, np.intp)


class VocabArrays:
    """Token bytes laid out for vectorised DFA walks (tokens sorted by length, longest
    first; ``cols[j]`` holds byte j of the tokens that have more than j bytes)."""

    def __init__(self, vocab, limits: Limits = DEFAULT_LIMITS):
        self.size = vocab.size
        toks = vocab.tokens
        ids = [i for i, b in enumerate(toks) if b]
        ids.sort(key=lambda i: -len(toks[i]))
        self.ids = np.asarray(ids, dtype=np.int64)
        _layout(self, [toks[i] for i in ids])
        # every token's bytes end to end (``starts[p]``: where the token at p begins)
        self.flat = np.frombuffer(b"".join(self.data), dtype=np.uint8)
        self.starts = np.zeros(len(ids), dtype=np.int64)
        if len(ids) > 1:
            np.cumsum(self.lens[:-1], out=self.starts[1:])
        self.ends = self.starts + self.lens
        self._reduced: dict[tuple, ReducedVocab | None] = {}
        # how many tokens begin with each byte
        self.eos = np.asarray(sorted(vocab.eos_ids), dtype=np.int64)
        self.lexcache = BoundedCache(limits.max_cache_bytes // 4)
        self._caps: dict[int, list[tuple[int, np.ndarray]]] = {}
        self._exc: dict[tuple, np.ndarray | None] = {}
        self._capmemo: list[dict] = [{} for _ in _EXCEPTIONAL_LEVELS]
        self._capfns = [
            (lambda alpha, level=level: self._cap_of(alpha)[level][0])
            for level in range(len(_EXCEPTIONAL_LEVELS))
        ]
        self._lexkeys: dict = {}
        self._pairs = None
        self._first_in: dict[bytes, np.ndarray] = {}
        self._first_by_id: np.ndarray | None = None
        self._runs: dict[tuple, tuple] = {}
        self._starting: dict[tuple, tuple] = {}  # see starting_with
        self.byte_counts = np.bincount(self.flat, minlength=256)  # each byte's occurrences
        # where each byte value occurs in ``flat``: byte c at byte_at[byte_off[c]:byte_off[c + 1]]
        self.byte_at = np.argsort(self.flat, kind="stable").astype(np.int32)
        self.byte_off = np.zeros(257, dtype=np.int64)
        np.cumsum(self.byte_counts, out=self.byte_off[1:])
        # the token position of every byte of ``flat``
        self.token_at = np.repeat(np.arange(len(ids), dtype=np.int32), self.lens)
        # where in ``flat`` each token's first byte above 0x7F is (``flat.size``: none): a
        # loop state that reads characters, not bytes, has its runs broken by every such byte
        self.high_at = self._first_breaks(np.flatnonzero(self.flat >= 0x80))
        self.ill_formed = self._ill_formed_at()
        self._twins: dict[tuple, list] = {}
        self._made_of: dict[frozenset, np.ndarray] = {}

    def forget_grammars(self) -> None:
        """Drop everything learned from the grammars walked so far (the walks, the
        states that share them, per-state keys, the per-byte-set memos they filled),
        keeping the vocabulary's own layout, as a process that maps it and has walked
        nothing yet (the benchmarks time each grammar so)."""
        self.lexcache.clear()
        memos = [self._reduced, self._exc, self._lexkeys, self._first_in, self._runs]
        memos += [self._starting, self._twins, self._made_of, self._caps, *self._capmemo]
        for memo in memos:
            memo.clear()

    def twins_of(self, signature: tuple) -> list:
        """The walked ``(DFA, state, lexcache key)`` with this signature (whether a walk
        is of a maximal match, whether the state accepts, its live bytes): the candidates
        for sharing a walk (see :func:`structgen.automata.dfa.same_behaviour`). Bounded."""
        t = self._twins.get(signature)
        if t is None:
            if len(self._twins) >= 4096:
                self._twins.clear()
            t = self._twins[signature] = []
        return t

    def made_of(self, byteset: frozenset) -> np.ndarray:
        """bool[size] by token id: the tokens whose bytes are all in ``byteset``
        (memoised; a grammar's blanks: the tokens that are only spaces or tabs)."""
        m = self._made_of.get(byteset)
        if m is None:
            inside = np.zeros(256, dtype=bool)
            inside[list(byteset)] = True
            others = np.bincount(self.token_at[~inside[self.flat]], minlength=len(self.ids))
            m = np.zeros(self.size, dtype=bool)
            m[self.ids[others == 0]] = True
            self._made_of[byteset] = m
        return m

    def runs(self, byteset: int, chars: bool = False) -> tuple:
        """``(positions, lengths, order, off)``: the tokens that begin with a byte of
        ``byteset`` (a 256-bit mask), ascending, and how many of their first bytes are in
        it; grouped by the byte after that run (256 when it is the whole token): the
        group of byte ``c`` is ``order[off[c]:off[c + 1]]`` (indices into the positions).
        With ``chars`` (a set of bytes below 0x80 only) the runs also go through the
        well-formed UTF-8 characters above U+007F, to an ill-formed sequence's first byte
        (a character cut off by the token's end belongs to its run). Cached per set (a
        loop state's bytes: whitespace, an identifier's, a string's body)."""
        key = (byteset, chars)
        r = self._runs.get(key)
        if r is None:
            member = T.byte_members(byteset)
            col0 = self.col0
            if chars:
                assert not member[0x80:].any()
                bad = self.ill_formed
                pos = np.flatnonzero(member[col0] | ((col0 >= 0x80) & (bad != self.starts)))
                n = self._runs_by_breaks(member, pos, bad)
            else:
                pos = np.flatnonzero(member[col0])
                listed, _ = self._listed_breaks(member)
                # (the breaks cost about as much per listed byte as reading does per token)
                if self.byte_counts[listed].sum() < pos.size:
                    n = self._runs_by_breaks(member, pos)
                else:
                    n = self._runs_by_bytes(member, pos)
            full = n == self.lens[pos]
            after = self.flat[self.starts[pos] + np.where(full, 0, n)].astype(np.int64)
            after[full] = 256
            order = np.argsort(after.astype(np.uint16), kind="stable")
            off = np.zeros(258, dtype=np.int64)
            np.cumsum(np.bincount(after, minlength=257), out=off[1:])
            if len(self._runs) >= 64:
                self._runs.clear()
            r = self._runs[key] = (pos, n, order, off)
        return r

    def starting_with(self, runs: tuple, member: np.ndarray) -> np.ndarray:
        """bool per token of ``runs`` (a result of :meth:`runs`): whether its first byte is
        in ``member`` (a bool[256]). Cached: the terminals that share an ``%ignore``
        prefix all ask it of the whitespace runs with the same bytes."""
        key = (id(runs), member.tobytes())
        got = self._starting.get(key)
        if got is None or got[0] is not runs:
            if len(self._starting) >= 256:
                self._starting.clear()
            got = self._starting[key] = (runs, member[self.col0[runs[0]]])
        return got[1]

    def _runs_by_bytes(self, member: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """For :meth:`runs`: the run lengths of the tokens at ``pos`` in bytes of
        ``member`` (a bool[256]), reading byte j of the runs still going, for every j."""
        n = np.ones(pos.size, dtype=np.int64)
        at = np.arange(pos.size)  # the runs still going, as indices into pos
        for j in range(1, self.maxlen):
            at = at[pos[at] < self.cnt[j]]
            at = at[member[self.cols[j][pos[at]]]]
            if not at.size:
                break
            n[at] += 1
        return n

    @staticmethod
    def _listed_breaks(member: np.ndarray) -> tuple:
        """``(bytes, high)``: the bytes outside ``member`` whose occurrences
        :meth:`_runs_by_breaks` reads, and whether every byte above 0x7F is outside it
        (then those are not listed: their first per token is :attr:`high_at`)."""
        if member[0x80:].any():
            return np.flatnonzero(~member), False
        return np.flatnonzero(~member[:0x80]), True

    def _ill_formed_at(self) -> np.ndarray:
        """Per token position: where in ``flat`` the first ill-formed UTF-8 sequence of
        the token begins, reading it from its first byte (``flat.size``: none; a character
        cut off by the token's end is not ill-formed)."""
        bad = np.full(len(self.data), self.flat.size, dtype=np.int64)
        data, starts = self.data, self.starts
        for p in np.flatnonzero(self.high_at < self.flat.size).tolist():
            try:
                data[p].decode("utf-8")
            except UnicodeDecodeError as e:
                if e.reason != "unexpected end of data":
                    bad[p] = starts[p] + e.start
        return bad

    def _first_breaks(self, brk: np.ndarray) -> np.ndarray:
        """Per token position: the first of the ``flat`` offsets ``brk`` (ascending) inside
        the token, or ``flat.size``."""
        tok = self.token_at[brk]
        first = np.ones(tok.size, dtype=bool)
        np.not_equal(tok[1:], tok[:-1], out=first[1:])
        at = np.full(len(self.data), self.flat.size, dtype=np.int64)
        at[tok[first]] = brk[first]
        return at

    def _runs_by_breaks(
        self, member: np.ndarray, pos: np.ndarray, high_at: np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`_runs_by_bytes` from the bytes outside the set, each token's first one
        found through the token that holds it (the occurrences of each such byte are
        listed once per vocabulary): for a set that holds most bytes of the vocabulary's
        tokens (a string's or a comment's body), the faster way. ``high_at``: where each
        token's run breaks above 0x7F, for a set without such bytes (default
        :attr:`high_at`, at the first)."""
        listed, high = self._listed_breaks(member)
        brk = _ranges(self.byte_at, self.byte_off[listed], self.byte_off[listed + 1])
        brk.sort()
        at = self._first_breaks(brk)
        if high:
            np.minimum(at, self.high_at if high_at is None else high_at, out=at)
        b = at[pos]
        np.minimum(b, self.ends[pos], out=b)
        b -= self.starts[pos]
        return b

    def first_in(self, member: np.ndarray) -> np.ndarray:
        """bool[size], by token id: whether the token's first byte is in ``member`` (a
        bool[256]; False for an empty token). Cached per set."""
        key = member.tobytes()
        f = self._first_in.get(key)
        if f is None:
            if self._first_by_id is None:  # each token's first byte by id, 256: empty
                self._first_by_id = np.full(self.size, 256, dtype=np.intp)
                self._first_by_id[self.ids] = self.col0
            f = np.append(member, False)[self._first_by_id]
            if len(self._first_in) >= 64:
                self._first_in.clear()
            self._first_in[key] = f
        return f

    def pairs(self) -> tuple:
        """``(order, off, count)``: the token positions grouped by their first two bytes.
        Group ``k = b0 * 257 + (0 for a one-byte token, else 1 + b1)`` is
        ``order[off[k]:off[k + 1]]`` (positions ascending), ``count[b0, k - b0 * 257]``
        its size. The groups of one first byte are consecutive."""
        p = self._pairs
        if p is None:
            key = self.col0 * 257
            if self.maxlen > 1:
                key[: self.cnt[1]] += self.cols[1].astype(np.intp) + 1
            order = np.argsort(key, kind="stable")
            count = np.bincount(key, minlength=256 * 257)
            off = np.zeros(count.size + 1, dtype=np.int64)
            np.cumsum(count, out=off[1:])
            p = self._pairs = (order, off, count.reshape(256, 257))
        return p

    def _cap_of(self, alphabet: int) -> list[tuple[int, np.ndarray]]:
        """Per level of :data:`_EXCEPTIONAL_LEVELS`: a count ``C`` that no run of bytes
        from ``alphabet`` (a byte mask) inside one token reaches, except in at most that
        many exceptional tokens, and their sorted positions (see
        :func:`structgen.automata.terms.capped`)."""
        c = self._caps.get(alphabet)
        if c is None:
            member = T.byte_members(alphabet)
            n0 = self.cnt[0] if self.maxlen else 0
            best = np.zeros(n0, dtype=np.int32)  # longest run of alphabet bytes per token
            run = best
            for j in range(self.maxlen):
                n = self.cnt[j]
                run = np.where(member[self.cols[j]], run[:n] + 1, 0)
                np.maximum(best[:n], run, out=best[:n])
            # at_least[r] = number of tokens whose longest run is >= r
            at_least = np.cumsum(np.bincount(best, minlength=1)[::-1])[::-1]
            c = []
            for most in _EXCEPTIONAL_LEVELS:
                # the smallest cap such that at most `most` tokens have runs >= cap
                cap = int(np.searchsorted(-at_least, -most, side="left"))
                cap = max(cap, 1)
                c.append((cap, np.flatnonzero(best >= cap)))
            if len(self._caps) > 4096:
                self._caps.clear()
                self._exc.clear()
            self._caps[alphabet] = c
        return c

    def exceptional(self, alphas: frozenset, level: int) -> np.ndarray | None:
        """Sorted positions of the exceptional tokens of all ``alphas`` (None if none)."""
        key = (alphas, level)
        e = self._exc.get(key)
        if e is None and key not in self._exc:
            parts = [self._cap_of(a)[level][1] for a in alphas]
            e = np.unique(np.concatenate(parts)) if parts else None
            if e is not None and not e.size:
                e = None
            self._exc[key] = e
        return e

    def lexkey(self, dfa: DFA, q: int) -> tuple:
        """``(ident, key, exceptional)`` for ``dfa`` state ``q``.

        What an unexceptional token does from ``q`` depends only on ``key`` (the state's
        term with repeat counts clamped to what one token can consume); the tokens at
        the sorted positions ``exceptional`` (None if none) must be walked from ``q``
        itself. Two states share unexceptional results only if both treat the same
        tokens as exceptional, so with exceptions the key carries them. ``ident``
        determines what every token does: ``key`` itself without exceptions, else the
        term with counts clamped to the longest run of any token.

        The counts are clamped at the first level of :data:`_EXCEPTIONAL_LEVELS` that
        clamps anything: far from their bounds, counters share everything; nearer, they
        share all but the fewest exceptional tokens that allow it."""
        k = self._lexkeys.get((dfa, q))
        if k is None:
            if len(self._lexkeys) > 200_000:
                self._lexkeys.clear()
                for memo in self._capmemo:
                    memo.clear()
            term = dfa.terms[q]
            full = None
            for level, capfn in enumerate(self._capfns):
                ck, alphas = T.capped(term, capfn, self._capmemo[level])
                if level == 0:
                    full = ck
                if ck is not term:
                    break
            exc = self.exceptional(alphas, level) if alphas else None
            if exc is None:
                k = (ck, ck, None)
            else:
                k = (("all", full), (ck, alphas, level), exc)
            self._lexkeys[(dfa, q)] = k
        return k

    def reduced_for(self, dfa: DFA) -> ReducedVocab | None:
        """The :class:`ReducedVocab` of ``dfa``'s byte classes, or None where it would not
        pay: until the DFA's walks so far have stepped, beyond the tokens' first byte, as
        many rows as :data:`_REDUCE_AFTER` times the vocabulary (building it costs as much
        as walks that step several times that many; a keyword's walks, over the few
        tokens that begin with it, never do),
        with many classes, or reduced strings not much fewer than tokens. Shared by every
        DFA with the same partition."""
        if getattr(dfa, "_stepped", 0) < _REDUCE_AFTER * len(self.data):
            return None
        key = getattr(dfa, "_deep", None)
        if key is None:
            key = dfa._deep = T.deep_classes(dfa.root)
        if len(key) > _REDUCE_MAX_CLASSES:
            return None
        r = self._reduced.get(key, 0)
        if r == 0:
            if len(self._reduced) >= 32:
                self._reduced.clear()
            r = ReducedVocab(self, key, int(_REDUCE_MAX_SHARE * len(self.data)))
            if r.data is None:
                r = None
            self._reduced[key] = r
        return r


# walked states remembered per signature as candidates for sharing a walk
_MAX_TWINS = 8

# how many exceptional tokens (walked per state) each level of clamping allows: none
# first, then a few more, each level clamping nearer to the bounds of the counts
_EXCEPTIONAL_LEVELS = (0, 2, 8, 32)

# a DFA's tokens are walked as reduced strings (ReducedVocab) when its bytes fall in at
# most this many classes and the reduced strings are at most this share of the tokens
_REDUCE_MAX_CLASSES = 24
_REDUCE_MAX_SHARE = 0.5
# ... once its walks have stepped this many times as many rows as there are tokens (on
# Llama 3 a build costs 15-25 ms, as much as email's walks stepping 12 times as many rows
# and more than most grammars' walks of one terminal ever step: it is paid once the
# walks show they are the repeated kind)
_REDUCE_AFTER = 3

# a walk from tokens' own offsets (_walk_flat) finishes token by token with this few left
_SCALAR_FLAT = 16

# the vectorised walk of a whole vocabulary finishes token by token once the bytes left
# in all are fewer than this many times the bytes left in the longest
_SCALAR_RATIO = 30


def vocab_arrays(vocab, limits: Limits = DEFAULT_LIMITS) -> VocabArrays:
    arr = getattr(vocab, "_structgen_arrays", None)
    if arr is None:
        arr = VocabArrays(vocab, limits)
        try:
            vocab._structgen_arrays = arr
        except AttributeError:
            pass
    return arr


class LexInfo:
    """What all tokens do from one DFA state: ``inside`` (bool mask over the vocabulary:
    consumed entirely without dying) and the *exits*: where the terminal may end before
    byte ``j`` of a token, as a tuple of one part ``(positions into the sorted token
    arrays, offsets j, the bytes at j)`` or of none; None when they were not asked for
    (nothing can follow the terminal: recording them costs a third of some walks).
    Walked for a maximal match (terminals read as by longest match: the text after a
    terminal never begins with a byte that would continue it), the exits before a byte
    that continues the terminal are left out."""

    __slots__ = ("inside", "exits", "nbytes", "__weakref__")


def lex_info(
    dfa: DFA, q: int, va: VocabArrays, exits: bool = True, maximal: bool = False
) -> LexInfo:
    """What every token does from ``dfa`` state ``q``, cached per (DFA,
    :meth:`VocabArrays.lexkey`): the states of a long counter share one entry until the
    counter comes within one token's reach of its bounds. Nearer the bounds they still
    share the walk of all but a few exceptional tokens (the longest runs of the counted
    bytes), which are walked from each state.

    Without ``exits`` the result may lack them (``exits`` None); an entry without them
    is replaced by one with them when they are asked for. ``maximal``: see
    :class:`LexInfo`."""
    _deadline.check()
    ident, ck, exc = va.lexkey(dfa, q)
    cache = va.lexcache
    key = (dfa, ident, maximal)
    info = cache.get(key)
    if info is not None and (info.exits is not None or not exits):
        return info
    if (
        _source_of(dfa, q) is not None
        or _split_of(dfa, q) is not None
        or (exc is None and _merge_of(dfa, q) is not None)
    ):
        # derived from another walk: cheaper than looking for a twin
        return _lex_info(dfa, q, va, exits, maximal, key, ck, exc)
    # a state of this or another terminal that behaves the same walks the same
    twins = va.twins_of((maximal, dfa.acc[q], dfa.first_bytes(q).tobytes()))
    for other, q2, key2 in twins:
        info = cache.get(key2)
        if info is None or (info.exits is None and exits) or other.retired:
            continue
        try:
            same = same_behaviour(dfa, q, other, q2)
        except LimitError:
            # the twin's DFA (another grammar's, maybe) reached max_states while being
            # compared: it is retired, and this terminal is walked on its own
            if not other.retired:
                raise
            continue
        if same:
            cache.put(key, info, 64)
            return info
    info = _lex_info(dfa, q, va, exits, maximal, key, ck, exc)
    if len(twins) < _MAX_TWINS and not any(o is dfa and x == q for o, x, _ in twins):
        twins.append((dfa, q, key))
    return info


def _lex_info(dfa: DFA, q: int, va: VocabArrays, exits, maximal, key, ck, exc) -> LexInfo:
    """:func:`lex_info` without its shortcuts, cached under ``key``: walked, or derived
    from a source's walk."""
    cache = va.lexcache
    src = _source_of(dfa, q)
    if src is not None:
        info = _derived(dfa, q, va, lex_info(src[0], src[1], va, exits, maximal))
        cache.put(key, info, info.nbytes)
        return info
    split = _split_of(dfa, q)
    if split is not None:
        info = _split_walk(dfa, va, split, exits, maximal)
        cache.put(key, info, info.nbytes)
        return info
    merge = _merge_of(dfa, q) if exc is None else None
    if merge is not None:
        b, depth = merge
        info = _merged(dfa, q, va, lex_info(dfa, b, va, exits, maximal), depth)
        cache.put(key, info, info.nbytes)
        return info
    if exc is None:
        info = _lex_walk(dfa, q, va, None, exits, maximal=maximal)
        cache.put(key, info, info.nbytes)
        return info
    bkey = (dfa, ck, maximal)
    base = cache.get(bkey)
    if base is None or (base.exits is None and exits):
        base = _lex_walk(dfa, q, va, exc, exits, maximal=maximal)
        cache.put(bkey, base, base.nbytes)
    ins: list = []
    more: list | None = [] if base.exits is not None else None
    _lex_scalar(dfa, va, exc, np.full(exc.size, q, dtype=np.int32), 0, ins, more, maximal)
    if not ins and not more:
        info = base
    else:
        inside = base.inside
        if ins:
            inside = inside.copy()
            inside[va.ids[ins[0]]] = True
        info = _lex_result(inside, None if more is None else base.exits + tuple(more))
    cache.put(key, info, info.nbytes if info is not base else 64)
    return info


def _source_of(dfa: DFA, q: int) -> tuple | None:
    """``(DFA, state)`` whose walk gives ``dfa``'s from ``q`` but for the first byte (see
    :func:`_derived`), or None: the DFA's start, when ``q`` is the start restricted to
    texts not beginning with some bytes (:meth:`DFA.restricted_start`), the same language
    after an allowed first byte."""
    if q in dfa.restricted_starts:
        return dfa, dfa.start
    return None


def _split_of(dfa: DFA, q: int) -> tuple | None:
    """``(X's DFA, R's state)`` when ``dfa``'s state ``q`` reads a text ``X`` then ``R``
    (its term is ``X·R``), where ``X`` is prefix-free (once it ends it can read nothing
    more) and loops on most bytes: a block comment of a folded ``%ignore`` prefix that a
    token has entered, after which every terminal's copy reads its own ``R``. Tokens then
    follow ``X`` alone, whose walk all the copies share, until it ends; only the few
    tokens that go past its end are walked on through ``R`` (see :func:`_split_walk`).
    None otherwise. Memoised per state."""
    memo = dfa.__dict__.setdefault("_splits", {})
    if q in memo:
        return memo[q]
    res = None
    term = dfa.terms[q]
    # X·R, or X·R1 | X·R2 | ... | X read as X·(R1 | R2 | ... | ε)
    members = (term,) if term.kind == T.K_CAT else term.a if term.kind == T.K_ALT else ()
    heads, rests = set(), []
    for m in members:
        if m.kind == T.K_CAT:
            heads.add(m.a)
            rests.append(m.b)
        else:
            heads.add(m)
            rests.append(T.EPS)
    if len(heads) == 1:
        dx = _block_dfa(heads.pop(), dfa.limits)
        if dx is not None:
            res = (dx, dfa.state_of(T.alt_of(rests)))
    memo[q] = res
    return res


# X (see _split_of) loops on at least this many byte values somewhere, and has at most
# this many states
_SPLIT_LOOP_BYTES = 64
_SPLIT_MAX_STATES = 64
_BLOCKS: dict = {}  # (term, limits) -> whether it is a block (see _block_dfa)


def _has_factor(term: T.Term, x: T.Term) -> bool:
    """Whether ``term``, or a member of it where it is an alternation, is a
    concatenation with ``x`` among its factors."""
    for m in term.a if term.kind == T.K_ALT else (term,):
        while m.kind == T.K_CAT:
            if m.a is x:
                return True
            m = m.b
        if m is x:
            return True
    return False


def _block_dfa(x: T.Term, limits: Limits) -> DFA | None:
    """The DFA of ``x`` when its language is prefix-free and some state of it loops on at
    least :data:`_SPLIT_LOOP_BYTES` byte values (a block comment's body), with at most
    :data:`_SPLIT_MAX_STATES` states; else None. The verdict is memoised per term
    (bounded), the DFA shared like every terminal's."""
    if x.nullable or x.kind == T.K_BYTES:
        return None
    key = (x, limits)
    known = _BLOCKS.get(key)
    if known is not None:
        return shared_dfa(x, limits, nonempty=False) if known else None
    d = shared_dfa(x, limits, nonempty=False)
    seen = {d.start}
    todo = [d.start]
    loops = False
    res = d
    while todo:
        s = todo.pop()
        row = d.build(s)
        if d.acc[s] and any(row):  # a text of x is a prefix of another
            res = None
            break
        loops = loops or row.count(s) >= _SPLIT_LOOP_BYTES
        for s2 in set(row):
            if s2 and s2 not in seen:
                seen.add(s2)
                todo.append(s2)
        if len(seen) > _SPLIT_MAX_STATES:
            res = None
            break
    if not loops or d.acc[d.start]:
        res = None
    if len(_BLOCKS) >= 1024:
        _BLOCKS.clear()
    _BLOCKS[key] = res is not None
    return res


def _split_walk(dfa: DFA, va: VocabArrays, split: tuple, exits: bool, maximal: bool) -> LexInfo:
    """The walk of every token from a state that reads ``X`` then ``R`` (see
    :func:`_split_of`): ``X``'s own walk (shared), then, for the tokens where ``X`` ends
    before their last byte, the rest walked from ``R``'s state. ``X`` being prefix-free,
    a token is in exactly one of them at each byte: before ``X`` ends the state cannot
    accept (``X`` is not over), at its end it is ``R``'s start, after it ``R``'s walk."""
    dx, r = split
    xi = lex_info(dx, dx.start, va, exits=True)
    ins: list = []
    more: list | None = [] if exits else None
    if xi.exits:
        pos = np.concatenate([p for p, _, _ in xi.exits])
        off = np.concatenate([o for _, o, _ in xi.exits]).astype(np.int64)
        st = np.full(pos.size, r, dtype=np.int64)
        _walk_flat(dfa, va, pos, off, st, ins, more, maximal)
    inside = xi.inside
    if ins:
        inside = inside.copy()
        inside[va.ids[np.concatenate(ins)]] = True
    return _lex_result(inside, None if more is None else tuple(more))


def _derived(dfa: DFA, q: int, va: VocabArrays, base: LexInfo) -> LexInfo:
    """``dfa``'s walk from its restricted start ``q`` out of ``base``, the walk from its
    start (see :func:`_source_of`): the same but for the tokens whose first byte ``q``
    cannot read."""
    dfa.build(q)
    allowed = dfa.table[q] != 0
    drop = va.first_in(~allowed) & base.inside
    inside = base.inside & ~drop if drop.any() else base.inside
    if base.exits is None:
        return _lex_result(inside, None)
    # after an allowed first byte it is its source's language: the same exits (all after
    # the first byte), but for the tokens it cannot begin
    exits = []
    for pos, off, first in base.exits:
        keep = allowed[va.col0[pos]]
        if keep.all():
            exits.append((pos, off, first))
        elif keep.any():
            exits.append((pos[keep], off[keep], first[keep]))
    return _lex_result(inside, tuple(exits))


def _states_after(dfa: DFA, q: int, va: VocabArrays, pos: np.ndarray, off: np.ndarray):
    """The state of ``dfa`` from ``q`` after reading the first ``off`` bytes of each token
    at ``pos`` (sorted token arrays), none of them dying on the way."""
    # reading the prefixes longest first: those still being read after j bytes are a
    # prefix of this order
    order = np.argsort(-off, kind="stable")
    neg = -off[order]
    at = va.starts[pos[order]]
    st = np.full(pos.size, q, dtype=np.int64)
    for j in range(-int(neg[0]) if pos.size else 0):
        k = int(np.searchsorted(neg, -j, side="left"))
        s = st[:k]
        if not dfa.built[s].all():
            dfa.ensure(s)
        st[:k] = dfa.table.reshape(-1).take(s * 256 + va.flat[at[:k] + j])
    out = np.empty(pos.size, dtype=np.int64)
    out[order] = st
    return out


def _merge_of(dfa: DFA, q: int) -> tuple | None:
    """``(b, depth)`` when ``dfa`` from ``q`` behaves as from ``b``, a body (a state that
    loops on at least :data:`_BODY_BYTES` byte values), but that it may not accept
    within the first ``depth`` bytes where ``b`` does (see
    :func:`structgen.automata.dfa.merge_depth`): an identifier that excludes keywords,
    part way into one (after ``i``, ``n``, ``no``). Its walk is then the body's, but for
    the exits at most ``depth`` bytes in (see :func:`_merged`); ``b`` is the state most
    of ``q``'s bytes lead to. None otherwise. Memoised per state."""
    memo = dfa.__dict__.setdefault("_merges", {})
    if q in memo:
        return memo[q]
    res = None
    dfa.build(q)
    row = dfa.table[q]
    live = row[row != 0]
    if live.size:
        b = int(np.bincount(live).argmax())
        if b != q:
            dfa.build(b)
            if np.count_nonzero(dfa.table[b] == b) >= _BODY_BYTES:
                depth = merge_depth(dfa, q, b)
                if depth is not None:
                    res = (b, depth)
    memo[q] = res
    return res


def _merged(dfa: DFA, q: int, va: VocabArrays, base: LexInfo, depth: int) -> LexInfo:
    """``dfa``'s walk from ``q`` out of ``base``, the walk from the body ``b`` it behaves
    as (see :func:`_merge_of`): the same tokens inside (the two die at the same byte) and
    the same exits, but that those at most ``depth`` bytes in are kept only where ``q``
    accepts there (read from ``q``)."""
    if base.exits is None:
        return _lex_result(base.inside, None)
    exits = []
    for pos, off, first in base.exits:
        near = np.flatnonzero(off <= depth)
        if near.size:
            drop = near[~dfa.accepting[_states_after(dfa, q, va, pos[near], off[near])]]
            if drop.size:
                keep = np.ones(pos.size, dtype=bool)
                keep[drop] = False
                pos, off, first = pos[keep], off[keep], first[keep]
        if pos.size:
            exits.append((pos, off, first))
    return _lex_result(base.inside, tuple(exits))


def _lex_result(inside: np.ndarray, exits: tuple) -> LexInfo:
    if exits is not None and len(exits) > 1:
        # one part: a walk makes one per byte offset (a comment's exits, one per length
        # of its text, come in a dozen), and every element of the terminal state filters
        # them by the bytes its continuation may read
        exits = (tuple(np.concatenate(x) for x in zip(*exits, strict=True)),)
    info = LexInfo()
    info.inside = inside
    info.exits = exits
    info.nbytes = inside.nbytes + sum(p.size * 13 for p, _, _ in exits or ()) + 200
    return info


def _lex_walk(
    dfa: DFA,
    q: int,
    va: VocabArrays,
    skip: np.ndarray | None,
    want_exits: bool = True,
    reduced: ReducedVocab | bool | None = None,
    *,
    maximal: bool = False,
) -> LexInfo:
    """The vectorised walk of every token (but those at positions ``skip``) from ``q``
    (recording exits only if ``want_exits``); over the reduced strings of the DFA's byte
    classes where that pays (:meth:`VocabArrays.reduced_for`; ``reduced``: None to
    decide so, False never, or the :class:`ReducedVocab` to use), expanded to the
    tokens."""
    rv = va.reduced_for(dfa) if reduced is None else reduced or None
    if rv is None:
        ins, exits, stepped = _walk(dfa, q, va, skip, want_exits, maximal)
        dfa._stepped = getattr(dfa, "_stepped", 0) + stepped
        inside = np.zeros(va.size, dtype=bool)
        if ins:
            inside[va.ids[np.concatenate(ins)]] = True
        return _lex_result(inside, None if exits is None else tuple(exits))
    ins, rexits, _ = _walk(dfa, q, rv, None, want_exits, maximal)
    hit = np.zeros(len(rv.data), dtype=bool)
    if ins:
        hit[np.concatenate(ins)] = True
    tok = hit[rv.inv]  # per token position
    if skip is not None:
        tok[skip] = False
    inside = np.zeros(va.size, dtype=bool)
    inside[va.ids] = tok
    if rexits is None:
        return _lex_result(inside, None)
    exits = []
    alive = None
    if skip is not None:
        alive = np.ones(len(va.data), dtype=bool)
        alive[skip] = False
    for rpos, off, _ in rexits:
        # the token positions of every reduced string, each run of members in turn
        lo, hi = rv.start[rpos], rv.start[rpos + 1]
        pos = _ranges(rv.members, lo, hi)
        offs = np.repeat(off, hi - lo)
        if alive is not None:
            keep = alive[pos]
            pos, offs = pos[keep], offs[keep]
        if pos.size:
            exits.append((pos, offs, va.flat[va.starts[pos] + offs]))
    return _lex_result(inside, tuple(exits))


def _walk(
    dfa: DFA, q: int, va, skip: np.ndarray | None, want_exits: bool, maximal: bool = False
) -> tuple:
    """The vectorised walk of the strings of ``va`` (a :class:`VocabArrays` or a
    :class:`ReducedVocab`) but those at positions ``skip``, from ``q``: ``(ins, exits,
    stepped)``, a list of arrays of the positions of strings read entirely, (None unless
    ``want_exits``) the exits as parts ``(positions, offsets, bytes at the offsets)``, and
    how many rows the vectorised steps beyond the first byte took. ``maximal``: leave out
    the exits before a byte that continues the terminal (see :class:`LexInfo`)."""
    ins: list = []  # positions of tokens read entirely
    ex_pos, ex_off, ex_first = [], [], []  # exits: position, offset, byte at the offset
    exits: list | None = [] if want_exits else None
    lens, cnt, cols = va.lens, va.cnt, va.cols
    j = 0  # bytes read so far (minus one): idx/st are the tokens alive after byte j
    stepped = 0
    if va.maxlen:
        dfa.build(q)
        row = dfa.table[q]
        # (the shortcuts need the whole vocabulary's layout, not a ReducedVocab's)
        whole = isinstance(va, VocabArrays)
        if whole:
            row, stepped = _walk_loops(dfa, q, row, va, skip, ins, exits, maximal)
        few = None
        if whole and va.maxlen > 1:
            few = _walk_pairs(dfa, row, va, skip, ins, exits, maximal)
        if few is not None:
            idx, st = few
            j = 1
        else:
            st = row.take(va.col0)  # byte 0 of every token, from one row
            if skip is not None:
                st[skip] = 0
            idx = np.flatnonzero(st != 0)  # (faster on bools than on ints)
            st = st[idx].astype(np.int64)
    else:
        idx = st = np.zeros(0, dtype=np.int64)
    built = dfa.built
    while idx.size:
        k = int(np.searchsorted(idx, cnt[j + 1]))  # idx[k:] have exactly j+1 bytes
        if k < idx.size:
            ins.append(idx[k:])
            idx, st = idx[:k], st[:k]
            if not k:
                break
        if want_exits and (acc := dfa.accepting[st]).any():
            p = idx[acc]
            b = cols[j + 1][p]
            if maximal:
                sa = st[acc]
                if not dfa.built[sa].all():
                    dfa.ensure(sa)
                    built = dfa.built
                ends = dfa.table.reshape(-1).take(sa * 256 + b) == 0
                p, b = p[ends], b[ends]
            ex_pos.append(p)
            ex_off.append(np.full(p.size, j + 1, dtype=np.int32))
            ex_first.append(b)
        j += 1
        # few bytes left in all: finish token by token (a numpy call costs as much as a
        # few hundred scalar steps)
        n = idx.size
        if n <= 8 or (
            n <= 2048 and int(lens[idx].sum()) - n * j <= _SCALAR_RATIO * (int(lens[idx[0]]) - j)
        ):
            _lex_scalar(dfa, va, idx, st, j, ins, exits, maximal)
            break
        if not built[st].all():
            dfa.ensure(st)
            built = dfa.built
        stepped += n
        flat = st * 256
        flat += cols[j].take(idx)
        st = dfa.table.reshape(-1).take(flat)
        keep = st != 0
        if not keep.all():
            idx, st = idx[keep], st[keep]
    if ex_pos:
        exits.insert(0, (np.concatenate(ex_pos), np.concatenate(ex_off), np.concatenate(ex_first)))
    return ins, exits, stepped


def _ranges(order: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``order[lo[i]:hi[i]]`` for every i, end to end."""
    n = hi - lo
    total = int(n.sum())
    if not total:
        return np.zeros(0, dtype=order.dtype)
    shift = np.repeat(lo - (np.cumsum(n) - n), n)
    return order[shift + np.arange(total)]


# the first two bytes of every token are read through the groups of VocabArrays.pairs
# when the tokens they leave (alive or exiting) are at most this share of all
_PAIRS_SHARE = 0.125


def _walk_pairs(
    dfa: DFA, row: np.ndarray, va: VocabArrays, skip, ins: list, exits: list | None, maximal: bool
):
    """The first two bytes of :func:`_walk` through the groups of tokens by their first
    two bytes, without touching the others (a keyword keeps a few hundred of a
    vocabulary's tokens), from a state's ``row``: appends the one-byte tokens read to ``ins``
    and the exits after byte 0 to ``exits``, and returns ``(positions, states)`` of the
    tokens alive after two bytes (ascending). None, having appended nothing, when more
    than :data:`_PAIRS_SHARE` of the tokens are left: the plain walk costs less."""
    order, off, count = va.pairs()
    live = np.flatnonzero(row)
    if not live.size:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    s1 = row[live].astype(np.int64)
    if not dfa.built[s1].all():
        dfa.ensure(s1)
    rows = dfa.table[s1]
    cnt = count[live]
    acc = dfa.accepting[s1] if exits is not None else np.zeros(live.size, dtype=bool)
    alive = rows != 0
    ending = ~alive[acc] if maximal else np.ones((int(acc.sum()), 256), dtype=bool)
    left = int((cnt[:, 1:] * alive).sum()) + int((cnt[acc, 1:] * ending).sum())
    if left > _PAIRS_SHARE * len(va.data):
        return None
    base = live * 257
    one = _ranges(order, off[base], off[base + 1])  # one-byte tokens
    if skip is not None and one.size:
        one = one[~np.isin(one, skip)]
    if one.size:
        ins.append(one)
    if acc.any():
        if maximal:  # the groups of (b0, b1) where b1 does not continue the terminal
            i, b1 = np.nonzero(ending)
            keys = base[acc][i] + 1 + b1
            p = _ranges(order, off[keys], off[keys + 1])
        else:
            p = _ranges(order, off[base[acc] + 1], off[base[acc] + 257])
        if skip is not None and p.size:
            p = p[~np.isin(p, skip)]
        if p.size:
            p.sort()
            exits.append((p, np.ones(p.size, dtype=np.int32), va.cols[1][p]))
    i, b1 = np.nonzero(alive)
    keys = base[i] + 1 + b1
    nonempty = off[keys + 1] > off[keys]
    keys, s2 = keys[nonempty], rows[i[nonempty], b1[nonempty]]
    lo, hi = off[keys], off[keys + 1]
    pos = _ranges(order, lo, hi)
    st = np.repeat(s2.astype(np.int64), hi - lo)
    if skip is not None and pos.size:
        keep = ~np.isin(pos, skip)
        pos, st = pos[keep], st[keep]
    at = np.argsort(pos)
    return pos[at], st[at]


def _walk_loops(
    dfa: DFA, q: int, row: np.ndarray, va: VocabArrays, skip, ins, exits, maximal
) -> tuple:
    """The part of :func:`_walk` from state ``q`` (its ``row``) for the tokens whose
    first byte leads into a state that loops on it (whitespace, an identifier's letters,
    a string's body): ``(row without those bytes, rows stepped)``; see
    :func:`_walk_runs`. A loop state that reads characters (see
    :meth:`DFA.reads_characters`) runs through them too, and from ``q`` itself so do
    the tokens that begin with a character above U+007F."""
    live = np.flatnonzero(row)
    if not live.size:
        return row, 0
    to = row[live].astype(np.int64)
    if not dfa.built[to].all():
        dfa.ensure(to)
    table = dfa.table
    enters = table[to, live] == to
    if not enters.any():
        return row, 0
    row = row.copy()
    stepped = 0
    for s1 in np.unique(to[enters]).tolist():
        first = live[enters & (to == s1)]
        loop = dfa.table[s1] == s1
        # (between a character's bytes a run through characters is in other states: where
        # exits inside runs are wanted, which fall only between characters, runs stay
        # bytewise)
        chars = (
            not loop[0x80:].any()
            and not (exits is not None and dfa.acc[s1] and not maximal)
            and dfa.reads_characters(s1)
        )
        if chars and s1 == q:
            first = np.concatenate([first, live[live >= 0x80]])
        member = np.zeros(256, dtype=bool)
        member[first] = True
        runs = va.runs(bitmask(loop), chars)
        sel = va.starting_with(runs, member)
        stepped += _walk_runs(dfa, s1, va, runs, sel, skip, ins, exits, maximal)
        row[first] = 0
    return row, stepped


def _walk_runs(dfa: DFA, q: int, va: VocabArrays, runs, sel, skip, ins, exits, maximal) -> int:
    """The tokens of ``runs`` (:meth:`VocabArrays.runs` of the bytes on which ``q``
    loops) selected by ``sel`` are in state ``q`` after their first byte and stay there
    for their whole run: each is read entirely if that is all of it, may end before the
    byte after the run, and else goes on from there (:func:`_walk_flat`); only the
    groups of bytes after the run that ``q`` reads are touched. Returns the rows
    stepped."""
    pos, n, order, off = runs

    def group(after: np.ndarray) -> np.ndarray:
        """Indices of the selected tokens whose run is followed by a byte of ``after``."""
        idx = _ranges(order, off[after], off[after + 1])
        idx = idx[sel[idx]]
        if skip is not None and idx.size:
            idx = idx[~np.isin(pos[idx], skip)]
        return idx

    full = group(np.asarray([256]))
    if full.size:
        ins.append(pos[full])
    row = dfa.table[q]
    if exits is not None and dfa.acc[q]:
        if not maximal:  # the terminal may end after every byte of the run but its last
            idx = group(np.arange(257))
            k = n[idx] - 1
            total = int(k.sum())
            if total:
                p = np.repeat(pos[idx], k)
                o = np.arange(total) - np.repeat(np.cumsum(k) - k, k) + 1
                exits.append((p, o.astype(np.int32), va.flat[va.starts[p] + o]))
        # ... and before the byte after it (for a maximal match, one that q cannot read)
        idx = group(np.flatnonzero(row == 0) if maximal else np.arange(256))
        if idx.size:
            p, o = pos[idx], n[idx]
            exits.append((p, o.astype(np.int32), va.flat[va.starts[p] + o]))
    idx = group(np.flatnonzero(row))
    if not idx.size:
        return 0
    p, o = pos[idx], n[idx]
    st = row.take(va.flat[va.starts[p] + o]).astype(np.int64)
    o = o + 1
    done = o == va.lens[p]
    if done.any():
        ins.append(p[done])
    more = ~done
    return idx.size + _walk_flat(dfa, va, p[more], o[more], st[more], ins, exits, maximal)


def _walk_flat(dfa: DFA, va: VocabArrays, pos, off, st, ins: list, exits, maximal: bool) -> int:
    """Walk the tokens at ``pos`` on from their own offsets ``off`` (each short of its
    token's end) in states ``st``: appends those read entirely to ``ins`` and the exits to
    ``exits`` (the terminal may end before byte o > 0 when its state there accepts).
    Returns the rows stepped."""
    lens, flat, starts = va.lens, va.flat, va.starts
    stepped = 0
    table = dfa.table.reshape(-1)
    while pos.size:
        if pos.size <= _SCALAR_FLAT:  # a few left (some long): token by token
            _lex_scalar(dfa, va, pos, st, off.tolist(), ins, exits, maximal, entry=True)
            break
        at = starts[pos] + off
        b = flat[at]
        if not dfa.built[st].all():
            dfa.ensure(st)
            table = dfa.table.reshape(-1)
        stepped += pos.size
        nxt = table.take(st * 256 + b)
        if exits is not None:
            acc = dfa.accepting[st]
            if maximal:
                acc &= nxt == 0
            if acc.any():
                exits.append((pos[acc], off[acc].astype(np.int32), b[acc]))
        st = nxt
        off = off + 1
        alive = st != 0
        done = alive & (off == lens[pos])
        if done.any():
            ins.append(pos[done])
        alive &= ~done
        pos, off, st = pos[alive], off[alive], st[alive]
    return stepped


def _lex_scalar(
    dfa: DFA,
    va: VocabArrays,
    idx,
    st,
    j: int | list,
    ins: list,
    exits: list | None,
    maximal=False,
    entry: bool = False,
) -> None:
    """The end of :func:`lex_info` for the few tokens still alive after ``j`` bytes (one
    count, or one per token) in states ``st`` (exits appended to ``exits`` unless it is
    None, from the byte after ``j`` on, or from ``j`` itself with ``entry``; for a
    ``maximal`` match only before bytes that do not continue the terminal)."""
    data, step, acc, rows = va.data, dfa.step, dfa.acc, dfa.rows
    done, xp, xo, xf = [], [], [], []
    want = exits is not None
    offs = [j] * len(idx) if isinstance(j, int) else j
    for p, s, o in zip(idx.tolist(), st.tolist(), offs, strict=True):
        tok = data[p]
        n = len(tok)
        if entry and want and acc[s] and not (maximal and step(s, tok[o])):
            xp.append(p)
            xo.append(o)
            xf.append(tok[o])
        while True:
            c = tok[o]
            row = rows[s]
            t = -1 if row is None else row[c]
            s2 = step(s, c) if t < 0 else t
            if not s2:
                break
            o += 1
            if s2 == s and o < n and tok[o] == c and (maximal or not want or not acc[s]):
                # more of a byte on which s loops (a long token of '*', '-' or spaces): s
                # reads them all, and no exit falls before them (they continue the match)
                rest = tok[o:]
                o += len(rest) - len(rest.lstrip(tok[o : o + 1]))
            s = s2
            if o == n:
                done.append(p)
                break
            if acc[s] and want and not (maximal and step(s, tok[o])):
                xp.append(p)
                xo.append(o)
                xf.append(tok[o])
    if done:
        ins.append(np.asarray(done, dtype=np.int64))
    if xp:
        exits.append(
            (
                np.asarray(xp, dtype=np.int64),
                np.asarray(xo, dtype=np.int32),
                np.asarray(xf, dtype=np.uint8),
            )
        )


class SuffixTable:
    """Every distinct suffix of every token, numbered: ``sid[start[p] + o]`` is the number
    of ``data[p][o:]`` (``p`` a position in the sorted token arrays of
    :class:`VocabArrays`), ``text[sid]`` its bytes, ``tail[sid]`` the number of the suffix
    one byte shorter (-1 for a single byte) and ``first[sid]`` its first byte. Remainders
    of tokens that cross a terminal boundary are suffixes, so their checks are memoised
    per suffix number."""

    def __init__(self, va: VocabArrays):
        data = va.data
        flat = [b[o:] for b in data for o in range(len(b))]
        num: dict[bytes, int] = {}
        sid = np.fromiter((num.setdefault(x, len(num)) for x in flat), np.int32, len(flat))
        del flat
        self.sid = sid
        self.text = list(num)
        del num
        n = len(self.text)
        self.start = np.zeros(len(data), dtype=np.int64)
        if len(data) > 1:
            np.cumsum(va.lens[:-1], out=self.start[1:])
        self.first = np.zeros(n, dtype=np.uint8)
        self.first[sid] = np.frombuffer(b"".join(data), dtype=np.uint8)
        # flat position k + 1 holds the tail of position k unless k ends its token
        more = np.ones(sid.size, dtype=bool)
        if len(data):
            more[self.start + va.lens - 1] = False
        k = np.flatnonzero(more)
        tail = np.full(n, -1, dtype=np.int32)
        tail[sid[k]] = sid[k + 1]
        self.tail = tail.tolist()
        # where one occurrence of each suffix begins in the flat token bytes, and its length
        self.at = np.empty(n, dtype=np.int64)
        self.at[sid] = np.arange(sid.size)
        ends = np.repeat(self.start + va.lens, va.lens)
        self.size = np.empty(n, dtype=np.int64)
        self.size[sid] = ends - np.arange(sid.size)
        del ends
        self.nbytes = sid.nbytes + self.start.nbytes + n * 106 + sum(len(b) for b in self.text)


def suffix_table(va: VocabArrays) -> SuffixTable:
    """The :class:`SuffixTable` of a vocabulary, built once (per tokenizer, like ``va``)."""
    sx = getattr(va, "_suffix_table", None)
    if sx is None:
        sx = va._suffix_table = SuffixTable(va)
    return sx


def _nbytes(a: np.ndarray | None) -> int:
    return 0 if a is None else a.nbytes


def _unique(s: np.ndarray, n: int) -> np.ndarray:
    """The sorted distinct suffix numbers of ``s`` (numbers below ``n``)."""
    if s.size <= 64:
        return np.asarray(sorted(set(s.tolist())), dtype=np.int32)
    if s.size <= 4096:
        # (np.unique took 99 against 8 us for 2,000 numbers here)
        a = np.sort(s)
        keep = np.empty(a.size, dtype=bool)
        keep[0] = True
        np.not_equal(a[1:], a[:-1], out=keep[1:])
        return a[keep]
    # many: mark them over all suffix numbers rather than sort
    seen = np.zeros(n, dtype=bool)
    seen[s] = True
    return np.flatnonzero(seen).astype(np.int32)


def _find(keys: np.ndarray, s: np.ndarray) -> tuple:
    """``(at, hit)``: where each of ``s`` would be in the sorted ``keys``, and whether it
    is there."""
    if not keys.size:
        return np.zeros(s.size, dtype=np.intp), np.zeros(s.size, dtype=bool)
    at = np.searchsorted(keys, s)
    np.minimum(at, keys.size - 1, out=at)
    return at, keys[at] == s


def _merge(keys: np.ndarray, vals: np.ndarray, new: np.ndarray, nvals: np.ndarray) -> tuple:
    """Sorted ``keys`` and their ``vals`` with the sorted ``new`` keys (none of them in
    ``keys``) and their values added."""
    if not keys.size:
        return new, nvals
    # (np.insert costs several times more, checking its arguments in Python)
    put = np.searchsorted(keys, new)
    put += np.arange(new.size)  # where each new key lands in the result
    old = np.ones(keys.size + new.size, dtype=bool)
    old[put] = False
    k = np.empty(old.size, dtype=keys.dtype)
    k[put] = new
    k[old] = keys
    v = np.empty(old.size, dtype=vals.dtype)
    v[put] = nvals
    v[old] = vals
    return k, v


def _spread(res: np.ndarray, s: np.ndarray, holes: dict) -> tuple:
    """``(at, rests)``: the rests of the suffixes ``s`` answered "maybe" in ``res`` (see
    :meth:`TokenIndex._suffixes_valid`), each with the index into ``s`` it belongs to."""
    k = np.flatnonzero(res == _VIA_SELF)
    at, rests = [k], [s[k]]
    k = np.flatnonzero(res == _VIA_RESTS)
    if k.size:
        a, r = [], []
        for i, x in zip(k.tolist(), s[k].tolist(), strict=True):
            for y in holes[x]:
                a.append(i)
                r.append(y)
        at.append(np.asarray(a, dtype=np.int64))
        rests.append(np.asarray(r, dtype=np.int32))
    if len(at) == 1:
        return at[0], rests[0]
    return np.concatenate(at), np.concatenate(rests)


def _record(res: np.ndarray, holes: dict, s: np.ndarray, at: np.ndarray, ok, ha, hr) -> None:
    """Answers ``res`` (with their ``holes``) of the suffix numbers ``s``, those of the
    suffixes at ``at``: marks ``ok`` where read, and appends to ``ha``/``hr`` the rests
    that the cut-off part of a truncated stack may read (see :func:`_spread`)."""
    ok[at[res == _YES]] = True
    if (res >= _VIA_RESTS).any():
        k, r = _spread(res, s, holes)
        ha.append(at[k])
        hr.append(r)


def _lex_code(
    dfa: DFA, q: int, text: bytes, sid: int, tail: list, codes, exd: dict, maximal: bool = False
) -> int:
    """Record in ``codes[sid]`` what ``dfa`` does from ``q`` over the suffix ``text``: 1
    read entirely, 3 the terminal may end inside (``exd[sid]``: the rests), 2 neither.
    ``maximal``: as in :class:`LexInfo`, no end before a byte that continues the
    terminal (the guard after it would refuse the rest)."""
    inside, exits = _lex_suffix(dfa, q, text, sid, tail, maximal)
    c = 1 if inside else 3 if exits else 2
    if c == 3:
        exd[sid] = exits
    codes[sid] = c
    return c


def _lex_codes(
    dfa: DFA, q: int, sids: np.ndarray, sx: SuffixTable, flat, codes, exd, maximal: bool = False
) -> None:
    """:func:`_lex_code` for many suffix numbers ``sids`` at once, vectorised: each
    suffix is read from one of its occurrences in the token bytes ``flat``."""
    k = np.arange(sids.size)
    at = sx.at[sids]
    size = sx.size[sids]
    st = np.full(sids.size, q, dtype=np.int64)
    out = np.full(sids.size, 2, dtype=np.int8)
    xk, xr = [], []  # exits: the suffix (index into sids) and the rest's number
    j = 0
    while k.size:
        if k.size <= _SCALAR_LEX:  # a few left (some long: a run of spaces): one by one
            _lex_codes_scalar(dfa, k, at, size, st, j, flat, sx.sid, out, xk, xr, maximal)
            break
        if not dfa.built[st].all():
            dfa.ensure(st)
        st = dfa.table.reshape(-1).take(st * 256 + flat.take(at + j))
        live = st != 0
        if not live.all():
            k, at, size, st = k[live], at[live], size[live], st[live]
        j += 1
        last = size == j
        if last.any():
            out[k[last]] = 1
            more = ~last
            k, at, size, st = k[more], at[more], size[more], st[more]
        a = dfa.accepting[st]
        if a.any():
            ka, sa, ata = k[a], st[a], at[a] + j
            if maximal:  # not before a byte that continues the terminal
                if not dfa.built[sa].all():
                    dfa.ensure(sa)
                end = dfa.table.reshape(-1).take(sa * 256 + flat.take(ata)) == 0
                ka, ata = ka[end], ata[end]
            if ka.size:
                xk.append(ka)
                xr.append(sx.sid.take(ata))
    if xk:
        ek = np.concatenate(xk)
        er = np.concatenate(xr)
        order = np.argsort(ek, kind="stable")  # by suffix, each one's rests in order
        ek, er = ek[order], er[order]
        has = np.zeros(sids.size, dtype=bool)
        has[ek] = True
        has &= out != 1
        out[has] = 3
        bounds = np.flatnonzero(np.diff(ek)) + 1
        firsts = np.concatenate(([0], bounds)).tolist()
        ends = np.concatenate((bounds, [ek.size])).tolist()
        erl = er.tolist()
        sl = sids.tolist()
        for a0, b0, kk in zip(firsts, ends, ek[firsts].tolist(), strict=True):
            if has[kk]:
                exd[sl[kk]] = tuple(erl[a0:b0])
    codes[sids] = out


# _lex_codes finishes suffix by suffix with this few left
_SCALAR_LEX = 32


def _lex_codes_scalar(dfa: DFA, k, at, size, st, j: int, flat, sid, out, xk, xr, maximal):
    """The end of :func:`_lex_codes` for the suffixes ``k`` still being read after ``j``
    bytes, in states ``st`` (their occurrences at ``at`` in ``flat``, of ``size`` bytes):
    sets ``out`` to 1 where read entirely and appends their exits to ``xk``/``xr``."""
    step, acc = dfa.step, dfa.acc
    ek, er = [], []
    for kk, a, n, s in zip(k.tolist(), at.tolist(), size.tolist(), st.tolist(), strict=True):
        text = flat[a : a + n].tobytes()
        o = j
        while s:
            s = step(s, text[o])
            o += 1
            if not s:
                break
            if o == n:
                out[kk] = 1
                break
            if acc[s] and not (maximal and step(s, text[o])):
                ek.append(kk)
                er.append(a + o)
    if ek:
        xk.append(np.asarray(ek, dtype=np.int64))
        xr.append(sid.take(np.asarray(er, dtype=np.int64)))


def _lex_suffix(
    dfa: DFA, q: int, text: bytes, sid: int, tail: list, maximal: bool = False
) -> tuple:
    """``dfa`` from state ``q`` over the suffix ``text`` (number ``sid``): ``(inside,
    exits)`` where ``inside`` says the whole suffix is read without dying and ``exits``
    are the numbers of the shorter suffixes left where the terminal may end before
    (``maximal``: not before a byte that continues it)."""
    step, acc = dfa.step, dfa.acc
    exits = []
    last = len(text) - 1
    for i, c in enumerate(text):
        q = step(q, c)
        if not q:
            return False, tuple(exits)
        sid = tail[sid]
        if i < last and acc[q] and not (maximal and step(q, text[i + 1])):
            exits.append(sid)
    return True, tuple(exits)


class State:
    """An interned configuration of one TokenIndex, with its memoised mask and moves."""

    __slots__ = ("config", "accepting", "_mask", "_finished", "next")

    def __init__(self, config: frozenset):
        self.config = config
        self.accepting = END in config
        self._mask = None
        self._finished = None
        self.next: dict[int, State | None] = {}


_MAX_NEXT = 4096
# an element mask of at most this many tokens is set by its ids when masks are combined
_FEW_TOKENS = 2048
# id arrays of at least this many tokens are ORed with the bases of many tokens, their
# union memoised (see TokenIndex._union)
_GROUP_IDS = 512
# at most this many new suffixes are checked against a configuration by running the
# automaton over each (see TokenIndex._suffixes_valid); more are lexed per terminal state
_RUN_SMALL = 32
# suffixes lexed from one terminal state at once, vectorised, from this many on
_VECTOR_LEX = 48
# TokenIndex._walk_terminal_starts stops after this long (a grammar of many terminals)
_START_WALKS_SECONDS = 0.1
# a state that loops on at least this many byte values is a body (see _body_states): a
# string's, a comment's, an identifier's (63 bytes: letters, digits and the underscore)
_BODY_BYTES = 60
# answers of TokenIndex._suffixes_valid: not read; read; not read, but the cut-off part
# of a truncated stack may read rests of it (recorded), or the whole of it (not recorded)
_NO, _YES, _VIA_RESTS, _VIA_SELF = 0, 1, 2, 3


class TokenIndex:
    """Automaton × vocabulary. Immutable from the outside; caches are bounded."""

    def __init__(self, automaton: Automaton, vocab, limits: Limits = DEFAULT_LIMITS):
        self.automaton = automaton
        self.vocab = vocab
        self.limits = limits
        self.va = vocab_arrays(vocab, limits)
        self.size = vocab.size
        # terminals read by longest match: a walk leaves out the exits before a byte that
        # continues the terminal (its guard forbids that byte after it)
        self.maximal = bool(getattr(automaton, "longest_match", False))
        self._states: dict[frozenset, State] = {}
        self._max_states = 200_000
        # (t, lexkey, stack) -> an element's mask (see _elem_mask). Its base, the tokens
        # the terminal state reads whole, is the walk's own array, shared by every
        # element in that state (tens of them): each distinct base is counted once, as
        # long as an entry holds it (see _put_elem)
        self._elem_masks = BoundedCache(
            limits.max_cache_bytes // 4, max_items=200_000, on_evict=self._elem_dropped
        )
        self._elem_bases: dict[int, list] = {}  # id(base) -> [entries holding it, base]
        self._elem_by_id: dict[int, tuple] = {}  # id(element) -> (element, its mask)
        self._elem_by_id_ev = 0  # (_elem_masks.evictions when it was last cleared)
        # id(element mask) -> (weak reference to the mask, its parts: see _parts_of)
        self._packed = BoundedCache(limits.max_cache_bytes // 8)
        # the unions of the larger parts of masks (see _union)
        self._groups_memo = BoundedCache(limits.max_cache_bytes // 16)
        # continuation configuration -> (sorted suffix numbers, their answers, rests)
        self._rem_memo = BoundedCache(limits.max_cache_bytes // 8)
        # id(stack) -> (stack, sorted suffix numbers, whether its continuation reads each)
        self._below_memo = BoundedCache(limits.max_cache_bytes // 16)
        # (terminal, DFA state) -> suffix lexing codes and rests (see _lex_code)
        self._suffix_lex = BoundedCache(limits.max_cache_bytes // 4)
        self._conts: dict = {}  # stack -> its continuation configuration
        self._groups: dict = {}  # configuration -> its elements by (terminal, state)
        self._groups_bytes = 0  # (their first-byte matrices)
        self._mask_bytes = 0
        self._first_bits: dict[frozenset, int] = {}  # see _first_bits_of
        # (id(walk), first bytes) -> (the walk, weakly; positions, suffix numbers)
        self._exits_memo = BoundedCache(limits.max_cache_bytes // 16)
        self._hole_bits: dict[frozenset, int] = {}  # see _holes_of
        self._stack_fb: dict[int, tuple] = {}  # id(stack) -> (stack, first bytes)
        self._byte_masks: dict[int, np.ndarray] = {}
        self._state_bits: dict = {}  # (terminal, state) -> its first bytes, a 256-bit mask
        # the bytes a text read anywhere in the grammar may begin with (those of every
        # terminal an element may begin): the cut-off part of a truncated stack reads
        # nothing that begins otherwise
        begun = automaton.begun_terminals()
        firsts = np.zeros(256, dtype=bool)
        for t in begun:
            firsts |= automaton.dfas[t].first_bytes(automaton.starts[t])
        self._any_first = bitmask(firsts)
        # the bytes the ignored text folded in front of every terminal may begin with
        prefix = automaton.ignore_prefix
        self._blank: frozenset = frozenset()
        if prefix is not None:
            d = shared_dfa(prefix, limits, nonempty=False)
            self._blank = frozenset(np.flatnonzero(d.first_bytes(d.start)).tolist())
        # the tokens made only of those bytes: part of most element masks (every terminal
        # with the prefix folded in front reads them), set once per mask (see _parts_of)
        self._blank_mask = self.va.made_of(self._blank) if self._blank else None
        if self._blank_mask is not None:
            self._blank_ids = np.flatnonzero(self._blank_mask)
            if not self._blank_ids.size:
                self._blank_mask = None
        self.initial = self.state(automaton.initial())
        # every sequence starts here: its mask is part of compiling for the vocabulary
        self.mask(self.initial)
        if self.maximal:
            self._walk_terminal_starts(begun)

    def _walk_terminal_starts(self, begun: list[int]) -> None:
        """Walk the vocabulary through every terminal the rules begin (``begun``), from its
        start state (a longest-match variant's walk is its terminal's, filtered), then
        through their bodies (see :meth:`_body_states`), then compute the masks of the
        elements whose top part is the same on every stack (``Automaton.cut_begins``:
        an operator and its operand), for at most :data:`_START_WALKS_SECONDS` in all:
        part of compiling for the vocabulary. Identifiers, keywords, numbers and strings
        are begun within a text's first tokens, and each walk (up to 10 ms for an
        identifier that excludes keywords; 4-6 ms for a string's or a comment's body,
        which most tokens go through) would otherwise fall inside one step, as would the
        check of what follows each operator in the tokens that cross it (2-4 ms for `(`
        on Llama 3, which has 2,652 tokens beginning with it); the masks are the same
        either way."""
        A = self.automaton
        t0 = time.perf_counter()
        for t in begun:
            lex_info(A.dfas[t], A.starts[t], self.va, maximal=True)
            if time.perf_counter() - t0 > _START_WALKS_SECONDS:
                return
        for dfa, q, maximal in self._body_states(begun):
            lex_info(dfa, q, self.va, exits=True, maximal=maximal)
            if time.perf_counter() - t0 > _START_WALKS_SECONDS:
                return
        for t, q, top in self.automaton.cut_begins():
            self._cut_elem_mask(t, q, top)
            if time.perf_counter() - t0 > _START_WALKS_SECONDS:
                return

    def _body_states(self, begun: list[int]) -> list:
        """``(DFA, state, maximal)`` for the bodies of the terminals ``begun``: states that
        loop on at least :data:`_BODY_BYTES` byte values (a string's body, a comment's).
        Inside a comment of a folded ``%ignore`` prefix, every terminal has its own copy
        of the body, so only the walk they share is listed (the comment's own DFA, see
        :func:`_split_of`); a body that no split shares (a line comment's, which ends
        with a newline after a body that may be empty) is left to the step that enters
        it, or there would be one per terminal."""
        A = self.automaton
        prefix = A.ignore_prefix
        out, blocks = [], set()
        for t in begun:
            dfa = A.dfas[t]
            for q in range(1, len(dfa)):
                if not dfa.complete[q] or np.count_nonzero(dfa.table[q] == q) < _BODY_BYTES:
                    continue
                split = _split_of(dfa, q)
                if split is not None:
                    if split[0] not in blocks:
                        blocks.add(split[0])
                        out.append((split[0], split[0].start, False))
                elif prefix is None or not _has_factor(dfa.terms[q], prefix):
                    out.append((dfa, q, True))
        return out

    def cache_bytes(self) -> int:
        """Bytes held by this index's masks and memos (the larger caches; each is bounded
        on its own, and compile()'s cache of indexes is bounded by their sum)."""
        return (
            self._mask_bytes
            + self._elem_masks.nbytes
            + self._elem_masks.extra
            + self._rem_memo.nbytes
            + self._suffix_lex.nbytes
            + self._below_memo.nbytes
            + self._exits_memo.nbytes
            + self._packed.nbytes
            + self._groups_memo.nbytes
            + self._groups_bytes
        )

    def state(self, config: frozenset) -> State:
        st = self._states.get(config)
        if st is None:
            if len(self._states) >= self._max_states:
                self._states.clear()
                self._first_bits.clear()
            st = State(config)
            self._states[config] = st
        return st

    # ---- masks --------------------------------------------------------------------------------
    def mask(self, st: State) -> np.ndarray:
        """bool[size]: tokens allowed next (EOS ids when the text so far is complete).
        Read without a lock once computed; computed under ENGINE_LOCK (see cache.py)."""
        m = st._mask
        if m is not None:
            return m
        # a state seen the first time: its mask is one step's first-visit work, done under
        # the engine lock (the DFAs and caches are shared, see structgen.cache)
        with (
            ENGINE_LOCK,
            deadline(
                self.limits.max_step_seconds,
                "a step's first-visit work, a mask (Limits.max_step_seconds)",
            ),
        ):
            return self._first_mask(st)

    def _first_mask(self, st: State) -> np.ndarray:
        m = st._mask
        if m is not None:
            return m  # (another thread computed it first)
        # an element's tokens are those a terminal state reads whole (one array, shared by
        # every element of that state) and a few more, some of them shared by every stack
        # with the same top frames: OR the distinct arrays, then set the few
        bases, extras = {}, {}
        by_id = self._elems_by_id()
        for e in st.config:
            if e[0] >= 0:
                _deadline.check()
                # the same element (a tuple) is in many configurations: those that an
                # expansion, memoised, brings in; found by its identity, without a call
                x = by_id.get(id(e))
                base, extra, more = x[1] if x is not None and x[0] is e else self._elem_mask(e)
                bases[id(base)] = base
                if extra is not None:
                    extras[id(extra)] = extra
                if more is not None:
                    extras[id(more)] = more
        eos = st.accepting and self.va.eos.size
        if len(bases) == 1 and not extras and not eos:
            m = next(iter(bases.values()))  # shared, never written to
        else:
            m = self._union(list(bases.values()), list(extras.values()), eos)
        if self._mask_bytes > self.limits.max_cache_bytes // 2:
            for other in self._states.values():
                other._mask = None
            self._mask_bytes = 0
        st._mask = m
        self._mask_bytes += m.nbytes
        return m

    def _union(self, bases: list, extras: list, eos: bool) -> np.ndarray:
        """A new bool[size]: the union of the element masks ``bases`` (distinct), the
        token ids ``extras`` and, if ``eos``, the EOS ids. A base of few tokens is set by
        its ids (and the blank tokens once for all, see :meth:`_parts_of`). The larger
        parts (bases of many tokens, and id arrays of at least :data:`_GROUP_IDS`) recur
        together in state after state (those of the elements that begin an operand, with
        the same top frames): their union is memoised per set of parts (see
        :meth:`_group_union`) and copied; only the few ids left are set one by one."""
        group, ids, blank = [], [], False
        for base in bases:
            packed, few, b = self._parts_of(base)
            if few is None:
                group.append((base, packed))
            elif few.size >= _GROUP_IDS:
                group.append((None, few))
                blank = blank or b
            else:
                ids.append(few)
                blank = blank or b
        for x in extras:
            if x.size >= _GROUP_IDS:
                group.append((None, x))
            else:
                ids.append(x)
        if len(group) > 1 or (group and group[0][0] is None):
            m = self._group_union(group, blank).copy()
        elif group:
            m = group[0][0].copy()
            if blank:
                m |= self._blank_mask
        else:
            m = self._blank_mask.copy() if blank else np.zeros(self.size, dtype=bool)
        if ids:
            m[np.concatenate(ids) if len(ids) > 1 else ids[0]] = True
        if eos:
            m[self.va.eos] = True
        return m

    def _group_union(self, group: list, blank: bool) -> np.ndarray:
        """The union (shared: not to be written to) of the parts ``group``, each
        ``(bool mask, its packed bits)`` or ``(None, token ids)``, and of the blank tokens
        if ``blank``; memoised per set of parts (least recently used first out). An entry
        holds its parts weakly, so parts the other caches let go do not stay alive here;
        a dead reference (its id may have been reused) is a miss."""
        key = (frozenset(id(p[1]) for p in group), blank)
        e = self._groups_memo.get(key)
        if e is not None and all(r() is not None for r in e[0]):
            return e[1]
        dense = [(m, packed) for m, packed in group if m is not None]
        if len(dense) > 3:  # eight times fewer bytes per mask
            acc = dense[0][1].copy()
            for _, packed in dense[1:]:
                acc |= packed
            m = np.unpackbits(acc, count=self.size).view(bool)
        elif dense:
            m = dense[0][0].copy()
            for base, _ in dense[1:]:
                m |= base
        else:
            m = np.zeros(self.size, dtype=bool)
        ids = [x for m0, x in group if m0 is None]
        if ids:
            m[np.concatenate(ids) if len(ids) > 1 else ids[0]] = True
        if blank:
            m |= self._blank_mask
        refs = tuple(weakref.ref(p[1]) for p in group)
        self._groups_memo.put(key, (refs, m), m.nbytes + 100 * len(refs))
        return m

    def _parts_of(self, m: np.ndarray) -> tuple:
        """``(packed, ids, blank)`` for an element mask, memoised (bounded, the oldest
        first out: a dozen lookups per new mask, each a plain dict lookup, see
        :meth:`BoundedCache.peek`): a mask of many tokens as ``np.packbits(m)`` (``ids``
        None); one of few as its token ids, but for the blank tokens (see
        ``_blank_mask``) when it holds them all (``blank``). The entry holds ``m`` weakly,
        so an element mask the mask cache let go does not stay alive here; a dead
        reference (its id may have been reused) is a miss."""
        p = self._packed.peek(id(m))
        if p is not None and p[0]() is m:
            return p[1]
        if np.count_nonzero(m) > _FEW_TOKENS:
            parts = (np.packbits(m), None, False)
        else:
            ids = np.flatnonzero(m)
            w = self._blank_mask
            blank = w is not None and bool(m[self._blank_ids].all())
            parts = (None, ids[~w[ids]] if blank else ids, blank)
        self._packed.put(
            id(m), (weakref.ref(m), parts), _nbytes(parts[0]) + _nbytes(parts[1]) + 150
        )
        return parts

    def _elem_mask(self, elem) -> tuple:
        """``(base, extra, more)``: the tokens one element allows, those of the bool
        array ``base`` (the tokens its terminal state reads whole, shared by every element
        of that state) and the token ids ``extra`` and ``more`` (None when none).
        Computed first on the element's stack cut under its top frames (see
        Automaton.split), which settles most tokens for every nesting depth below
        (``extra``, shared by every stack with that top); only the rests of the tokens
        that reached the cut-off part are then checked against that part
        (:meth:`_readable`), which allows ``more``. (:meth:`mask` first looks the element
        up by its identity, see :meth:`_elems_by_id`.)"""
        t, q, ret = elem
        A = self.automaton
        # the mask depends on q only through lex_info, hence through the lexkey
        ck = self.va.lexkey(A.dfas[t], q)[0]
        full = (t, ck, ret)
        em = self._elem_masks.get(full)
        if em is not None:
            self._remember_elem(elem, em)
            return em
        short, below = A.split(ret)
        if below is None:
            (base, extra), _, _ = self._compute_elem_mask(t, q, ret)
            em = (base, extra, None)
            self._put_elem(full, em, base, 64 + _nbytes(extra))
            self._remember_elem(elem, em)
            return em
        (base, extra), hp, hr = self._cut_elem_mask(t, q, short, ck)
        more = None
        if hp is not None:
            ok = self._readable(below, hr)
            if ok.any():
                more = self.va.ids[hp[ok]]
        em = (base, extra, more)
        self._put_elem(full, em, base, 64 + _nbytes(more))
        self._remember_elem(elem, em)
        return em

    def _put_elem(self, key, value, base: np.ndarray, nbytes: int) -> None:
        """Keep an element's mask (or its top part's) in ``_elem_masks``: ``nbytes`` for
        its own arrays, and its ``base`` counted once among all entries (the cache's
        ``extra`` bytes) while some entry holds it."""
        r = self._elem_bases.get(id(base))
        if r is None:
            self._elem_bases[id(base)] = [1, base]
            self._elem_masks.extra += base.nbytes
        else:
            r[0] += 1
        self._elem_masks.put(key, value, nbytes)

    def _elem_dropped(self, key, value) -> None:
        """``_elem_masks`` let an entry go: one entry fewer holds its base."""
        base = value[0]
        if isinstance(base, tuple):  # (a top part's: ((base, extra), positions, rests))
            base = base[0]
        r = self._elem_bases[id(base)]
        r[0] -= 1
        if not r[0]:
            del self._elem_bases[id(base)]
            self._elem_masks.extra -= base.nbytes

    def _elems_by_id(self) -> dict:
        """id(element) -> (element, its mask): :meth:`_elem_mask`'s answers by the
        element's identity (an entry holds the element, so its id is not reused while
        the entry lives), found without hashing its stack, which reads all of it. Every
        answer kept here is one that ``_elem_masks`` holds (which bounds their bytes):
        all are forgotten once it has dropped one."""
        ev = self._elem_masks.evictions
        if ev != self._elem_by_id_ev:
            self._elem_by_id.clear()
            self._elem_by_id_ev = ev
        return self._elem_by_id

    def _remember_elem(self, elem: tuple, em: tuple) -> None:
        by_id = self._elems_by_id()
        if len(by_id) >= 50_000:
            by_id.clear()
        by_id[id(elem)] = (elem, em)

    def _cut_elem_mask(self, t: int, q: int, top, ck=None) -> tuple:
        """:meth:`_compute_elem_mask` on ``top``, a stack cut under its top frames
        (``split(ret)[0]``), memoised: the part of an element's mask that serves every
        stack with that top. ``ck``: the lexkey of ``(t, q)`` where known."""
        if ck is None:
            ck = self.va.lexkey(self.automaton.dfas[t], q)[0]
        key = (t, ck, top)
        part = self._elem_masks.get(key)
        if part is None:
            part = self._compute_elem_mask(t, q, top)
            em, hp, hr = part
            nb = 64 + _nbytes(em[1]) + _nbytes(hp) + _nbytes(hr)
            self._put_elem(key, part, em[0], nb)
        return part

    def _compute_elem_mask(self, t: int, q: int, ret) -> tuple:
        """``((base, extra), positions, rests)``: the tokens ``(t, q, ret)`` allows (see
        :meth:`_elem_mask`) and, for a truncated ``ret`` (None when there are none), the
        tokens the cut-off part may still allow: their positions in the sorted token
        arrays, each with one *rest*, the suffix number of what is left of the token
        where the cut-off part may begin (a position repeats for several rests). A token
        is allowed when the cut-off part reads one of its rests."""
        A = self.automaton
        va = self.va
        info = lex_info(A.dfas[t], q, va, maximal=self.maximal)
        alone = (info.inside, None)
        if not info.exits:
            return alone, None, None
        cont = self._cont(ret)
        # the bytes the configuration, or the cut-off part through it, may read first
        need = self._first_bits_of(cont) | self._holes_of(cont)
        if not need:
            return alone, None, None
        p, s = self._exits_into(info, need)
        if p is None:
            return alone, None, None
        sx = suffix_table(va)
        res, holes = self._answers_on(cont, s, sx)
        ok = res == _YES
        em = (info.inside, va.ids[p[ok]]) if ok.any() else alone
        if not (res >= _VIA_RESTS).any():
            return em, None, None
        at, rests = _spread(res, s, holes)
        return em, p[at], rests

    def _exits_into(self, info: LexInfo, need: int) -> tuple:
        """``(positions, suffix numbers)`` of the exits of the walk ``info`` whose rest
        begins with a byte of ``need`` (a 256-bit mask), or ``(None, None)``. Memoised:
        the continuations of many stacks begin with the same bytes (those of the
        operators after an operand), and an identifier's walk has tens of thousands of
        exits."""
        key = (id(info), need)
        e = self._exits_memo.get(key)
        if e is not None and e[0]() is info:
            return e[1], e[2]
        sel_of = self._hole_bytes(need)
        sx = suffix_table(self.va)
        ps, ss = [], []
        for pos, off, first in info.exits:
            sel = sel_of[first]
            if sel.any():
                p = pos[sel]
                ps.append(p)
                ss.append(sx.sid[sx.start[p] + off[sel]])
        if not ps:
            p = s = None
        else:
            p = np.concatenate(ps) if len(ps) > 1 else ps[0]
            s = np.concatenate(ss) if len(ss) > 1 else ss[0]
        # (the walk held weakly: one the cache of walks lets go does not stay alive here)
        self._exits_memo.put(key, (weakref.ref(info), p, s), 100 + _nbytes(p) + _nbytes(s))
        return p, s

    def _readable(self, st, s: np.ndarray) -> np.ndarray:
        """bool per suffix number of ``s``: whether the continuation of the stack ``st``
        (exact, at any depth) reads it. Checked on the top frames of ``st`` (its split),
        whose continuations recur across stacks (and their checks are memoised), then
        the rests left where the cut-off part begins on that part, and so on down. The
        answers are memoised per stack (the elements of a configuration share the
        stacks below their top frames)."""
        A = self.automaton
        sx = suffix_table(self.va)
        top, asked = st, s
        # (suffixes left out here are not read: no memo entry answers "no")
        keep = self._stack_firsts(st)[sx.first[s]]
        s = s[keep]
        read, miss = self._answers_below(st, s)
        if not miss.any():  # all known (the most common)
            ans = np.zeros(asked.size, dtype=bool)
            ans[keep] = read
            return ans
        # (stack, suffix numbers new there, their answers so far, maybe rests and below)
        levels = []
        while True:
            new = _unique(s[miss], len(sx.text))
            short, below = A.split(st)
            res, holes = self._answers_on(self._cont(short), new, sx)
            if below is None or not (res >= _VIA_RESTS).any():
                levels.append((st, new, res == _YES, None))
                break
            at, rests = _spread(res, new, holes)
            levels.append((st, new, res == _YES, (at, rests, below)))
            st = below
            s = rests[self._stack_firsts(st)[sx.first[rests]]]
            _, miss = self._answers_below(st, s)
            if not miss.any():
                break
        # up again: a suffix is read when its part or one of its rests below is
        for st, new, yes, maybe in reversed(levels):
            if maybe is not None:
                at, rests, below = maybe
                hit, _ = self._answers_below(below, rests)
                yes[at[hit]] = True
            self._remember_below(st, new, yes)
        ans, _ = self._answers_below(top, asked)
        return ans

    def _answers_on(self, cont: frozenset, s: np.ndarray, sx: SuffixTable) -> tuple:
        """:meth:`_suffixes_valid` of the suffix numbers ``s``, but that a suffix whose
        first byte only the cut-off part of a truncated stack may read (an UNKNOWN
        element of ``cont`` itself) is passed on whole (``_VIA_SELF``) unwalked, and one
        that nothing in ``cont`` can begin with is ``_NO``."""
        first = sx.first[s]
        sel = self._first_bytes_of(cont)[first]
        res = np.zeros(s.size, dtype=np.int8)
        bits = self._holes_of(cont)
        if bits:
            res[self._hole_bytes(bits)[first] & ~sel] = _VIA_SELF
        holes: dict = {}
        if sel.any():
            res[sel], holes = self._suffixes_valid(cont, s[sel], sx)
        return res, holes

    def _stack_firsts(self, st) -> np.ndarray:
        """bool[256]: the first bytes the continuation of stack ``st`` (at any depth)
        reads, from those of its truncations, memoised per stack."""
        A = self.automaton
        chain = []
        while True:
            e = self._stack_fb.get(id(st))
            if e is not None and e[0] is st:
                fb = e[1]
                break
            short, below = A.split(st)
            cont = self._cont(short)
            chain.append((st, self._first_bytes_of(cont), self._holes_of(cont)))
            if below is None:
                fb = None
                break
            st = below
        for st, known, bits in reversed(chain):
            if bits and fb is not None:
                fb = known | (self._hole_bytes(bits) & fb)
            else:
                fb = known
            if len(self._stack_fb) > 50_000:
                self._stack_fb.clear()
            self._stack_fb[id(st)] = (st, fb)
        return fb

    def _answers_below(self, st, s: np.ndarray) -> tuple:
        """``(read, unknown)``: :meth:`_readable`'s memoised answers for stack ``st``,
        and which of ``s`` have none yet."""
        known = self._below_memo.get(id(st))
        if known is None or known[0] is not st:
            return np.zeros(s.size, dtype=bool), np.ones(s.size, dtype=bool)
        _, keys, vals = known
        at, hit = _find(keys, s)
        return hit & vals[at], ~hit

    def _remember_below(self, st, new: np.ndarray, yes: np.ndarray) -> None:
        """Add answers (``new`` sorted, unique and unknown so far) to the memo of stack
        ``st`` (the entry holds ``st``, so its id is not reused while the entry lives)."""
        known = self._below_memo.get(id(st))
        if known is not None and known[0] is st:
            keys, vals = _merge(known[1], known[2], new, yes)
        else:
            keys, vals = new, yes
        self._below_memo.put(id(st), (st, keys, vals), keys.nbytes + vals.nbytes + 100)

    def _suffixes_valid(self, cont: frozenset, s: np.ndarray, sx: SuffixTable) -> tuple:
        """``(answers, holes)``: for each suffix number of ``s``, whether ``cont`` reads
        it (``_YES``), does not (``_NO``), or does not but the cut-off part of a
        truncated stack may read what is left of it where an UNKNOWN element was met on
        the way: its *rests* (``_VIA_RESTS``: their suffix numbers in ``holes``;
        ``_VIA_SELF``: the suffix itself, its only rest). Memoised per configuration
        (sorted known numbers, their answers and rests), so elements and states that
        share a continuation walk each remainder once."""
        known = self._rem_memo.get(cont)
        if known is None:
            keys = np.zeros(0, dtype=np.int32)
            vals = np.zeros(0, dtype=np.int8)
            holes: dict = {}
            miss = np.ones(s.size, dtype=bool)
            res = np.zeros(s.size, dtype=np.int8)
        else:
            keys, vals, holes = known
            at, hit = _find(keys, s)
            res = np.where(hit, vals[at], 0).astype(np.int8)
            miss = ~hit
        if miss.any():
            sm = s[miss]
            new = _unique(sm, len(sx.text))
            if new.size <= _RUN_SMALL:
                # a few: read each through the automaton itself (its steps are memoised)
                codes = np.zeros(new.size, dtype=np.int8)
                for i, sid in enumerate(new.tolist()):
                    codes[i] = self._run_code(cont, sid, sx, holes)
            else:
                codes = self._walk_suffixes(cont, new, sx, holes)
            if sm.size <= 4096:
                res[miss] = codes[np.searchsorted(new, sm)]
            else:
                tmp = np.zeros(len(sx.text), dtype=np.int8)
                tmp[new] = codes
                res[miss] = tmp[sm]
            keys, vals = _merge(keys, vals, new, codes)
            nb = keys.nbytes + vals.nbytes + 200 + 100 * len(holes)
            self._rem_memo.put(cont, (keys, vals, holes), nb)
        return res, holes

    def _run_code(self, cont: frozenset, sid: int, sx: SuffixTable, holes: dict) -> int:
        """:meth:`_suffixes_valid`'s answer for suffix ``sid``, read byte by byte through
        the automaton from ``cont``. Its rests begin where a configuration on the way
        (the first included) held UNKNOWN allowing the next byte. A run of the bytes
        that the ignored text folded in front of every terminal begins with (the blanks
        after a line comment) is read when one terminal state of ``cont`` reads it whole,
        without the configurations on the way (new ones on every new stack); other
        suffixes are seldom read whole, and share their first configurations."""
        data = sx.text[sid]
        if self._blank.issuperset(data) and self._one_reads(cont, data):
            return _YES
        step = self.automaton.step
        holes_of = self._holes_of
        tail = sx.tail
        rests = []
        r = sid
        for c in data:
            if holes_of(cont) >> c & 1:
                rests.append(r)
            cont = step(cont, c)
            if not cont:
                if not rests:
                    return _NO
                if len(rests) == 1 and rests[0] == sid:
                    return _VIA_SELF
                holes[sid] = tuple(rests)
                return _VIA_RESTS
            r = tail[r]
        return _YES

    def _one_reads(self, cont: frozenset, data: bytes) -> bool:
        """Whether some element of ``cont`` reads all of ``data`` inside its terminal."""
        dfas = self.automaton.dfas
        bits = self._state_bits
        first = data[0]
        seen = set()
        for t, q, _ in cont:
            if t < 0 or (t, q) in seen:
                continue
            seen.add((t, q))
            b = bits.get((t, q))
            if b is None:
                b = self._bits_of(t, q)
            if b >> first & 1:
                d = dfas[t]
                for c in data:
                    q = d.step(q, c)
                    if not q:
                        break
                else:
                    return True
        return False

    def _walk_suffixes(
        self, cont: frozenset, new: np.ndarray, sx: SuffixTable, holes: dict
    ) -> np.ndarray:
        """:meth:`_suffixes_valid`'s answers for the (unique) suffix numbers ``new``,
        recording in ``holes`` the rests of those answered ``_VIA_RESTS``.

        A configuration reads a text when one of its elements does, and an element
        ``(t, q, ret)`` reads it when terminal ``t`` reads all of it from ``q``, or ends
        before some byte and the continuation of ``ret`` reads the rest. The lexing part
        depends only on ``(t, q)`` and is memoised per suffix; the rests, shorter suffixes,
        are checked (memoised) against the continuation configuration, and only for the
        suffixes that no element reads entirely: every element is lexed first. (A rest
        check can recurse a level per byte, as ``-`` after unary minus does through a run
        of dashes that a comment terminal beside it reads whole.)"""
        n = new.size
        text, tail = sx.text, sx.tail
        firsts = sx.first[new]
        ok = np.zeros(n, dtype=bool)
        ha: list = []  # rests where the cut-off part may begin: index into new, rest
        hr: list = []
        exiting = []  # per element: the suffixes it ends inside, their rests to check
        groups, fbs = self._groups_of(cont)
        # which group may begin which suffix: a continuation of many groups (the
        # precedence levels of an expression) begins few of the suffixes asked
        may = fbs[:, firsts]
        for gi in np.flatnonzero(may.any(axis=1)).tolist():
            t, q, dfa, rets = groups[gi]
            sel = may[gi]
            sel &= ~ok
            idx = np.flatnonzero(sel)
            if not idx.size:
                continue
            codes, exd = self._suffix_lex_of(t, q, len(text))
            sidx = new[idx]
            c = codes[sidx]
            unk = c == 0
            if unk.any():
                todo = sidx[unk]
                if todo.size >= _VECTOR_LEX:
                    _lex_codes(dfa, q, todo, sx, self.va.flat, codes, exd, self.maximal)
                else:
                    for sid in todo.tolist():
                        _lex_code(dfa, q, text[sid], sid, tail, codes, exd, self.maximal)
                c = codes[sidx]
            ok[idx[c == 1]] = True
            e = c == 3
            if e.any():
                exiting.append((idx[e], sidx[e], exd, rets))
        for idx, sidx, exd, rets in exiting:
            keep = ~ok[idx]
            if not keep.any():
                continue
            if not keep.all():
                idx, sidx = idx[keep], sidx[keep]
            rest_at, rest = [], []
            for k, sid in zip(idx.tolist(), sidx.tolist(), strict=True):
                for x in exd[sid]:
                    rest_at.append(k)
                    rest.append(x)
            rest = np.asarray(rest, dtype=np.int32)
            at = np.asarray(rest_at, dtype=np.int64)
            self._read_rests(rets, rest, at, ok, ha, hr, sx)
        bits = self._holes_of(cont)
        if bits:  # the cut-off part may begin right here
            k = np.flatnonzero(self._hole_bytes(bits)[firsts])
            ha.append(k)
            hr.append(new[k])
        codes = np.where(ok, _YES, _NO).astype(np.int8)
        if ha:
            at = np.concatenate(ha)
            r = np.concatenate(hr)
            keep = ~ok[at]
            if keep.any():
                at, r = at[keep], r[keep]
                order = np.argsort(at, kind="stable")
                at, r = at[order], r[order]
                bounds = np.flatnonzero(np.diff(at)) + 1
                lo = np.concatenate(([0], bounds))
                hi = np.concatenate((bounds, [at.size]))
                alone = (hi - lo == 1) & (r[lo] == new[at[lo]])
                codes[at[lo[alone]]] = _VIA_SELF  # the most common: no rests to record
                lo, hi = lo[~alone], hi[~alone]
                if lo.size:
                    rl = r.tolist()
                    for a, b, i in zip(lo.tolist(), hi.tolist(), at[lo].tolist(), strict=True):
                        sid = int(new[i])
                        rs = tuple(set(rl[a:b]))
                        if rs == (sid,):
                            codes[i] = _VIA_SELF
                        else:
                            codes[i] = _VIA_RESTS
                            holes[sid] = rs
        return codes

    def _read_rests(self, rets, rest, at, ok, ha, hr, sx) -> None:
        """Check the rests ``rest`` (of the suffixes at ``at``) against the continuations
        of the stacks ``rets``: marks ``ok`` where one reads them, and appends to
        ``ha``/``hr`` the rests the cut-off part may read. A deep stack is checked on its
        top frames (their continuation recurs across stacks, as nested parentheses do),
        then the rests left where its own cut-off part begins on that part."""
        A = self.automaton
        plain, cut = [], []
        for r in rets:
            short, below = A.split(r)
            if below is None:
                plain.append(r)
            else:
                cut.append((short, below))
        if plain:
            # a rest is readable after the terminal when one of the continuations reads
            # it: check it once against their union
            res, h2 = self._suffixes_valid(self._cont_of(tuple(plain)), rest, sx)
            _record(res, h2, rest, at, ok, ha, hr)
        for short, below in cut:
            res, h2 = self._suffixes_valid(self._cont(short), rest, sx)
            ok[at[res == _YES]] = True
            if not (res >= _VIA_RESTS).any():
                continue
            k, rr = _spread(res, rest, h2)
            res, h2 = self._suffixes_valid(self._cont(below), rr, sx)
            _record(res, h2, rr, at[k], ok, ha, hr)

    def _suffix_lex_of(self, t: int, q: int, n: int) -> tuple:
        """``(codes, exits)`` memoising :func:`_lex_code` for terminal ``t`` at ``q``."""
        key = (t, q)
        m = self._suffix_lex.get(key)
        if m is None:
            m = (np.zeros(n, dtype=np.int8), {}, [0])
            self._suffix_lex.put(key, m, n + 1000)
        elif len(m[1]) > m[2][0] + 256:  # account for the rests recorded since
            m[2][0] = len(m[1])
            self._suffix_lex.put(key, m, n + 1000 + 150 * len(m[1]))
        return m[0], m[1]

    def _groups_of(self, cont: frozenset) -> tuple:
        """The elements of ``cont`` grouped by (terminal, DFA state): ``([(t, q, dfa, the
        stacks)], bool[groups, 256] the first bytes of each group)``."""
        g = self._groups.get(cont)
        if g is None:
            by: dict = {}
            for t, q, ret in cont:
                if t >= 0:
                    by.setdefault((t, q), []).append(ret)
            dfas = self.automaton.dfas
            sb = self._state_bits
            groups = []
            firsts = np.zeros((len(by), 256), dtype=bool)
            for i, ((t, q), rets) in enumerate(by.items()):
                b = sb.get((t, q))
                if b is None:
                    b = self._bits_of(t, q)
                firsts[i] = self._hole_bytes(b)
                groups.append((t, q, dfas[t], tuple(rets)))
            self._groups_bytes += firsts.nbytes
            if len(self._groups) > 20_000 or self._groups_bytes > self.limits.max_cache_bytes // 16:
                self._groups.clear()
                self._groups_bytes = firsts.nbytes
            g = self._groups[cont] = (groups, firsts)
        return g

    def _cont(self, ret) -> frozenset:
        """The configuration that continues after a terminal with stack ``ret`` ends."""
        c = self._conts.get(ret)
        if c is None:
            A = self.automaton
            c = A.close(A.expand(ret))
            if len(self._conts) > 20_000:
                self._conts.clear()
            self._conts[ret] = c
        return c

    def _cont_of(self, rets: tuple) -> frozenset:
        """The union of the continuations of the stacks ``rets``."""
        if len(rets) == 1:
            return self._cont(rets[0])
        c = self._conts.get(rets)
        if c is None:
            c = frozenset().union(*(self._cont(r) for r in rets))
            if len(self._conts) > 20_000:
                self._conts.clear()
            self._conts[rets] = c
        return c

    def _first_bytes_of(self, config: frozenset) -> np.ndarray:
        """bool[256]: the bytes some element of ``config`` may read first (shared: not to
        be written to)."""
        return self._hole_bytes(self._first_bits_of(config))

    def _first_bits_of(self, config: frozenset) -> int:
        """The bytes some element of ``config`` may read first, a 256-bit mask: the OR of
        each terminal state's, memoised per state and per configuration."""
        bits = self._first_bits.get(config)
        if bits is None:
            bits = 0
            sb = self._state_bits
            for t, q, _ in config:
                if t >= 0:
                    b = sb.get((t, q))
                    if b is None:
                        b = self._bits_of(t, q)
                    bits |= b
            self._first_bits[config] = bits
        return bits

    def _bits_of(self, t: int, q: int) -> int:
        """The first bytes of terminal ``t`` at state ``q``, a 256-bit mask, memoised."""
        sb = self._state_bits
        if len(sb) > 100_000:
            sb.clear()
        b = sb[(t, q)] = bitmask(self.automaton.dfas[t].first_bytes(q))
        return b

    def _holes_of(self, config: frozenset) -> int:
        """The first bytes (a 256-bit mask) with which the cut-off part of a truncated
        stack may read on from ``config`` (its UNKNOWN elements, but for the bytes no
        terminal begins with; 0 when none)."""
        h = self._hole_bits.get(config)
        if h is None:
            h = 0
            for e in config:
                if e[0] == _MARK:
                    h |= self._any_first & ~e[1]
            if len(self._hole_bits) > 50_000:
                self._hole_bits.clear()
            self._hole_bits[config] = h
        return h

    def _hole_bytes(self, bits: int) -> np.ndarray:
        """:func:`terms.byte_members` of a byte mask, memoised (shared: not to be written
        to)."""
        a = self._byte_masks.get(bits)
        if a is None:
            if len(self._byte_masks) > 50_000:
                self._byte_masks.clear()
            a = self._byte_masks[bits] = T.byte_members(bits)
        return a

    # ---- moves --------------------------------------------------------------------------------
    def advance(self, st: State, token: int) -> State | None:
        """The state after ``token`` (not EOS), or None when the token is not allowed.
        Read without a lock once computed; computed under ENGINE_LOCK (see cache.py)."""
        nxt = st.next.get(token, False)
        if nxt is not False:
            return nxt
        with ENGINE_LOCK:
            return self._advance(st, token)

    def _advance(self, st: State, token: int) -> State | None:
        nxt = st.next.get(token, False)
        if nxt is not False:
            return nxt
        data = self.vocab.tokens[token] if 0 <= token < self.size else None
        res = None
        if data:
            with deadline(
                self.limits.max_step_seconds,
                "a step's first-visit work, a token (Limits.max_step_seconds)",
            ):
                config = self.automaton.run(st.config, data)
            if config:
                res = self.state(config)
        if len(st.next) >= _MAX_NEXT:
            st.next.clear()
        st.next[token] = res
        return res

    @locked
    def is_finished(self, st: State) -> bool:
        """Accepting, and no token other than EOS can follow."""
        f = st._finished
        if f is None:
            if not st.accepting:
                f = False
            else:
                m = self.mask(st).copy()
                m[self.va.eos] = False
                f = not m.any()
            st._finished = f
        return f
