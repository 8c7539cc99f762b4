"""Token budgets: keep a completion possible within the tokens that are left.

:class:`Budget` lifts :class:`~structgen.automata.distance.Distances` to one
:class:`~structgen.index.TokenIndex`. Distances are computed over the bytes that are
single tokens of the vocabulary (every byte, for byte-level BPE and for SentencePiece with
byte fallback), so a completion of ``n`` bytes can always be written in ``n`` tokens: the
count is conservative (an upper bound on the tokens needed), never optimistic.

``allowed(state, n)`` is the mask of tokens after which the text can still be completed
within ``n - 1`` further tokens. Tokens that stay inside one terminal are checked in one
vectorised walk of the whole vocabulary per parse element; only tokens that may leave a
terminal mid-token are stepped one by one. If no token keeps a completion within the
budget (possible only when the budget was already below the conservative count), the
tokens that get closest are allowed.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .automata.distance import INF, Distances
from .index import State, TokenIndex, vocab_arrays

__all__ = ["Budget", "INF", "budget_for", "single_token_bytes"]


def single_token_bytes(vocab) -> np.ndarray:
    """bool[256]: the bytes that some (non-special) token of ``vocab`` is exactly."""
    out = np.zeros(256, dtype=bool)
    for b in vocab.tokens:
        if b is not None and len(b) == 1:
            out[b[0]] = True
    return out


def budget_for(index: TokenIndex) -> Budget:
    """The :class:`Budget` of ``index`` (built once, kept on the index)."""
    b = getattr(index, "_structgen_budget", None)
    if b is None:
        b = Budget(index)
        index._structgen_budget = b
    return b


class Budget:
    """Minimal completion lengths in tokens (conservative) and budget-restricted masks."""

    def __init__(self, index: TokenIndex):
        self.index = index
        self.alphabet = single_token_bytes(index.vocab)
        self.distances = Distances(index.automaton, self.alphabet)
        self.va = vocab_arrays(index.vocab, index.limits)
        self._walks: OrderedDict = OrderedDict()
        self._masks: OrderedDict = OrderedDict()
        self._next: OrderedDict = OrderedDict()

    def tokens_to_complete(self, st: State) -> float:
        """Tokens that always suffice to complete the text from ``st`` (INF: none do)."""
        return self.distances.config(st.config)

    # ---- one vectorised walk per (terminal, DFA state) ----------------------------------------
    def _walk(self, t: int, q: int):
        """For every token: the DFA state of terminal ``t`` it ends in when read from ``q``
        without dying (``ids``, ``final``), and the tokens that pass through an accepting
        state before their last byte (``exits``: they may leave the terminal mid-token)."""
        key = (t, q)
        hit = self._walks.get(key)
        if hit is not None:
            self._walks.move_to_end(key)
            return hit
        va = self.va
        dfa = self.index.automaton.dfas[t]
        idx = np.arange(va.cnt[0] if va.maxlen else 0, dtype=np.int64)
        st = np.full(idx.size, q, dtype=np.int32)
        done_pos, done_st, exit_pos = [], [], []
        for j in range(va.maxlen):
            if not idx.size:
                break
            dfa.ensure(st)
            st = dfa.table[st, va.cols[j][idx]]
            keep = st != 0
            if not keep.all():
                idx, st = idx[keep], st[keep]
            k = int(np.searchsorted(idx, va.cnt[j + 1]))  # idx[k:] end after byte j
            if k < idx.size:
                done_pos.append(idx[k:])
                done_st.append(st[k:])
                idx, st = idx[:k], st[:k]
            acc = dfa.accepting[st]
            if acc.any():
                exit_pos.append(idx[acc])
        ids = va.ids[np.concatenate(done_pos)] if done_pos else np.zeros(0, dtype=np.int64)
        final = np.concatenate(done_st) if done_st else np.zeros(0, dtype=np.int32)
        exits = va.ids[np.concatenate(exit_pos)] if exit_pos else np.zeros(0, dtype=np.int64)
        out = (ids, final, exits)
        self._walks[key] = out
        while len(self._walks) > 256:
            self._walks.popitem(last=False)
        return out

    def next_distances(self, st: State) -> np.ndarray:
        """float[vocab size]: the completion length after each token (INF when not allowed;
        0 for EOS when the text is complete)."""
        index = self.index
        D = self.distances
        best = np.full(index.size, INF)
        exiting = []
        for t, q, s in st.config:
            if t < 0:
                continue
            ids, final, exits = self._walk(t, q)
            if ids.size:
                d = D.to_accept_many(t, final) + D.stack(s)
                best[ids] = np.minimum(best[ids], d)
            if exits.size:
                exiting.append(exits)
        if exiting:
            # these may leave the terminal mid-token: step them exactly
            allowed = index.mask(st)
            cand = np.unique(np.concatenate(exiting))
            for tok in cand[allowed[cand]].tolist():
                nxt = index.advance(st, tok)
                best[tok] = INF if nxt is None else D.config(nxt.config)
        best[~index.mask(st)] = INF
        if st.accepting and self.va.eos.size:
            best[self.va.eos] = 0
        return best

    def allowed(self, st: State, n: int) -> np.ndarray:
        """bool[vocab size]: tokens after which a completion within ``n - 1`` further
        tokens remains (the closest ones when none does). Memoised per (state, n)."""
        key = (st, n)
        m = self._masks.get(key)
        if m is not None:
            self._masks.move_to_end(key)
            return m
        best = self._next.get(st)
        if best is None:
            best = self._next[st] = self.next_distances(st)
            while len(self._next) > 32:
                self._next.popitem(last=False)
        else:
            self._next.move_to_end(st)
        m = best <= n - 1
        if not m.any():
            lo = best.min()
            m = best == lo if lo < INF else np.zeros_like(m)
        m.flags.writeable = False
        self._masks[key] = m
        while len(self._masks) > 64:
            self._masks.popitem(last=False)
        return m
