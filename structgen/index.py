"""TokenIndex: a grammar automaton lifted to one vocabulary.

* Masks are memoised per configuration (a :class:`State`); after the first visit a step
  is a dict lookup.
* First visits are vectorised: every token's bytes sit in per-position numpy columns
  (tokens sorted by length), and all tokens are stepped through a terminal's DFA table
  at once. The result — which tokens stay inside the terminal, and where a token could
  leave it — depends only on (terminal DFA, state) and the vocabulary, so it is cached
  across configurations and across grammars.
* Only tokens that cross a terminal boundary need the parser: their remainders are
  first filtered by the bytes the continuation accepts (vectorised), then each distinct
  remainder is run once through the continuation.
"""

from __future__ import annotations

import numpy as np

from .automata.dfa import DFA
from .automata.grammar import END, Automaton, NeedDeeper
from .cache import BoundedCache
from .limits import DEFAULT_LIMITS, Limits


class VocabArrays:
    """Token bytes laid out for vectorised DFA walks (tokens sorted by length, longest
    first; ``cols[j]`` holds byte j of the tokens that have more than j bytes)."""

    def __init__(self, vocab, limits: Limits = DEFAULT_LIMITS):
        self.size = vocab.size
        toks = vocab.tokens
        ids = [i for i, b in enumerate(toks) if b]
        ids.sort(key=lambda i: -len(toks[i]))
        self.ids = np.asarray(ids, dtype=np.int64)
        self.data = [toks[i] for i in ids]
        self.lens = np.fromiter((len(b) for b in self.data), dtype=np.int64, count=len(ids))
        self.maxlen = int(self.lens[0]) if len(ids) else 0
        # cnt[j] = number of tokens with more than j bytes
        self.cnt = [int(np.searchsorted(-self.lens, -j, side="left")) for j in range(self.maxlen + 1)]
        self.cols = []
        for j in range(self.maxlen):
            n = self.cnt[j]
            self.cols.append(np.frombuffer(b"".join(b[j : j + 1] for b in self.data[:n]), dtype=np.uint8))
        self.eos = np.asarray(sorted(vocab.eos_ids), dtype=np.int64)
        self.lexcache = BoundedCache(limits.max_cache_bytes // 4)


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
    consumed entirely without dying) and the *exits*: positions (into the sorted token
    arrays) and offsets ``j`` where the terminal may end before byte ``j`` of the token."""

    __slots__ = ("inside", "ex_pos", "ex_off", "ex_first", "nbytes")


def lex_info(dfa: DFA, q: int, va: VocabArrays) -> LexInfo:
    key = (dfa, q)
    info = va.lexcache.get(key)
    if info is not None:
        return info
    inside = np.zeros(va.size, dtype=bool)
    idx = np.arange(va.cnt[0] if va.maxlen else 0, dtype=np.int64)
    st = np.full(idx.size, q, dtype=np.int32)
    ex_pos, ex_off, ex_first = [], [], []
    for j in range(va.maxlen):
        if not idx.size:
            break
        dfa.ensure(st)
        st = dfa.table[st, va.cols[j][idx]]
        keep = st != 0
        if not keep.all():
            idx, st = idx[keep], st[keep]
        k = int(np.searchsorted(idx, va.cnt[j + 1]))  # idx[k:] have exactly j+1 bytes
        if k < idx.size:
            inside[va.ids[idx[k:]]] = True
            idx, st = idx[:k], st[:k]
        acc = dfa.accepting[st]
        if acc.any():
            p = idx[acc]
            ex_pos.append(p)
            ex_off.append(np.full(p.size, j + 1, dtype=np.int32))
            ex_first.append(va.cols[j + 1][p])
    info = LexInfo()
    info.inside = inside
    if ex_pos:
        info.ex_pos = np.concatenate(ex_pos)
        info.ex_off = np.concatenate(ex_off)
        info.ex_first = np.concatenate(ex_first)
    else:
        info.ex_pos = info.ex_off = info.ex_first = None
    info.nbytes = inside.nbytes + (0 if info.ex_pos is None else info.ex_pos.size * 13) + 200
    va.lexcache.put(key, info, info.nbytes)
    return info


def _valid_remainders(A: Automaton, cont: frozenset, groups: dict) -> list[int]:
    """Token positions whose remainder can be read from ``cont``. Remainders are visited
    in sorted order and the configurations along the previous one are kept, so a shared
    prefix is stepped once (a trie walk without building the trie)."""
    ok: list[int] = []
    step = A.step
    path = [cont]  # path[i]: configuration after the first i bytes of `prev`
    prev = b""
    for rem in sorted(groups):
        n = 0
        lim = min(len(prev), len(rem), len(path) - 1)
        while n < lim and prev[n] == rem[n]:
            n += 1
        del path[n + 1 :]
        cfg = path[n]
        i = n
        while cfg and i < len(rem):
            cfg = step(cfg, rem[i])
            path.append(cfg)
            i += 1
        if cfg and i == len(rem):
            ok.extend(groups[rem])
        prev = rem
    return ok


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
_TRUNCATE_DEPTHS = (3, 12)


class TokenIndex:
    """Automaton × vocabulary. Immutable from the outside; caches are bounded."""

    def __init__(self, automaton: Automaton, vocab, limits: Limits = DEFAULT_LIMITS):
        self.automaton = automaton
        self.vocab = vocab
        self.limits = limits
        self.va = vocab_arrays(vocab, limits)
        self.size = vocab.size
        self._states: dict[frozenset, State] = {}
        self._max_states = 200_000
        self._elem_masks = BoundedCache(limits.max_cache_bytes // 4)
        self._mask_bytes = 0
        self._first_bytes: dict[frozenset, np.ndarray] = {}
        self.initial = self.state(automaton.initial())

    def state(self, config: frozenset) -> State:
        st = self._states.get(config)
        if st is None:
            if len(self._states) >= self._max_states:
                self._states.clear()
                self._first_bytes.clear()
            st = State(config)
            self._states[config] = st
        return st

    # ---- masks --------------------------------------------------------------------------------
    def mask(self, st: State) -> np.ndarray:
        """bool[size]: tokens allowed next (EOS ids when the text so far is complete)."""
        m = st._mask
        if m is not None:
            return m
        m = np.zeros(self.size, dtype=bool)
        for elem in st.config:
            if elem[0] >= 0:
                m |= self._elem_mask(elem)
        if st.accepting and self.va.eos.size:
            m[self.va.eos] = True
        if self._mask_bytes > self.limits.max_cache_bytes // 2:
            for other in self._states.values():
                other._mask = None
            self._mask_bytes = 0
        st._mask = m
        self._mask_bytes += m.nbytes
        return m

    def _elem_mask(self, elem) -> np.ndarray:
        """Tokens allowed by one element. Computed on the element's stack truncated to its
        top frames when that suffices (exactly: see Automaton.truncate), so the result is
        shared by every nesting depth below."""
        m = self._elem_masks.get(elem)
        if m is not None:
            return m
        t, q, ret = elem
        A = self.automaton
        for k in _TRUNCATE_DEPTHS:
            short = A.truncate(ret, k)
            if short is ret:
                break
            key = (t, q, short)
            m = self._elem_masks.get(key)
            if m is None:
                try:
                    m = self._compute_elem_mask(t, q, short)
                except NeedDeeper:
                    continue
                self._elem_masks.put(key, m, m.nbytes)
            self._elem_masks.put(elem, m, 64)
            return m
        m = self._compute_elem_mask(t, q, ret)
        self._elem_masks.put(elem, m, m.nbytes)
        return m

    def _compute_elem_mask(self, t: int, q: int, ret) -> np.ndarray:
        A = self.automaton
        info = lex_info(A.dfas[t], q, self.va)
        m = info.inside
        if info.ex_pos is not None:
            cont = A.close(A.expand(ret))
            fb = self._first_bytes_of(cont)
            sel = fb[info.ex_first]
            if sel.any():
                m = m.copy()
                pos, off = info.ex_pos[sel], info.ex_off[sel]
                groups: dict[bytes, list[int]] = {}
                data = self.va.data
                for p, o in zip(pos.tolist(), off.tolist(), strict=True):
                    groups.setdefault(data[p][o:], []).append(p)
                ok = _valid_remainders(A, cont, groups)
                if ok:
                    m[self.va.ids[np.asarray(ok, dtype=np.int64)]] = True
        return m

    def _first_bytes_of(self, config: frozenset) -> np.ndarray:
        fb = self._first_bytes.get(config)
        if fb is None:
            fb = np.zeros(256, dtype=bool)
            dfas = self.automaton.dfas
            for t, q, _ in config:
                if t >= 0:
                    fb |= dfas[t].first_bytes(q)
            self._first_bytes[config] = fb
        return fb

    # ---- moves --------------------------------------------------------------------------------
    def advance(self, st: State, token: int) -> State | None:
        """The state after ``token`` (not EOS), or None when the token is not allowed."""
        nxt = st.next.get(token, False)
        if nxt is not False:
            return nxt
        data = self.vocab.tokens[token] if 0 <= token < self.size else None
        res = None
        if data:
            config = self.automaton.run(st.config, data)
            if config:
                res = self.state(config)
        if len(st.next) >= _MAX_NEXT:
            st.next.clear()
        st.next[token] = res
        return res

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
