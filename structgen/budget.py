"""Token budgets: keep a completion possible within the tokens that are left.

:class:`Budget` lifts :class:`~structgen.automata.distance.Distances` to one
:class:`~structgen.index.TokenIndex`. Two upper bounds on the tokens a completion needs:

* the byte count: distances are computed over the bytes that are single tokens of the
  vocabulary (every byte, for byte-level BPE and for SentencePiece with byte fallback), so
  a completion of ``n`` bytes can always be written in ``n`` tokens. Cheap (memoised
  tables), but one token per byte: ``"neutral"`` counts 9;
* the token plan: a shortest completion spelled out
  (:meth:`~structgen.automata.distance.Distances.shortest`; twice, preferring low bytes
  and then letters where several would do, the spelling of fewer tokens kept), cut into
  the fewest tokens of this vocabulary that spell it (a shortest path over its byte
  positions, the tokens its edges), then replayed through the index: a real token
  sequence the matcher accepts and that ends complete, so its length is an honest bound
  (``"neutral"``: 3 tokens on SmolLM2). A plan is remembered for every state along it,
  so the rest of a plan is always a plan of the state it leads to.

:meth:`Budget.tokens_to_complete` is the smaller of the two. ``allowed(state, n)`` is the
mask of tokens after which the text can still be completed within ``n - 1`` further
tokens: those the byte count lets through (one vectorised walk of the whole vocabulary
per parse element; only tokens that may leave a terminal mid-token are stepped one by
one), plus, when the byte count of the state itself is over the budget, the first token
of its plan; :meth:`Budget.fits` checks any other token against the token bound (the
logits processor asks it about the model's best-scored tokens). Every token let through
leaves a completion that fits, and while the state's own bound fits some token is let
through. If none is (possible only when the budget was already below both bounds), the
tokens that get closest are allowed.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import numpy as np

from .automata.distance import INF, Distances
from .cache import ENGINE_LOCK, locked
from .errors import IncompleteOutputError
from .index import State, TokenIndex, vocab_arrays

__all__ = ["Budget", "INF", "budget_for", "check_budget", "single_token_bytes"]

log = logging.getLogger(__name__)

_MAX_PLANS = 65_536  # states whose plan is remembered (LRU)


def _letters_first() -> np.ndarray:
    first = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return np.asarray(list(first) + [c for c in range(256) if c not in first])


# where a shortest completion may use several bytes (a string's characters), one is
# spelled with each of these byte preferences and the one of fewest tokens kept: the
# lowest bytes (spaces: many vocabularies have tokens of runs of them) and letters
# (GPT-2 has no runs of spaces, but has runs of letters)
_ORDERS = (None, _letters_first())


def single_token_bytes(vocab) -> np.ndarray:
    """bool[256]: the bytes that some (non-special) token of ``vocab`` is exactly."""
    out = np.zeros(256, dtype=bool)
    for b in vocab.tokens:
        if b is not None and len(b) == 1:
            out[b[0]] = True
    return out


def budget_for(index: TokenIndex) -> Budget:
    """The :class:`Budget` of ``index`` (built once, kept on the index). Its methods run
    under the engine lock (see :mod:`structgen.cache`)."""
    b = getattr(index, "_structgen_budget", None)
    if b is None:
        with ENGINE_LOCK:
            b = getattr(index, "_structgen_budget", None)
            if b is None:
                b = Budget(index)
                index._structgen_budget = b
    return b


def check_budget(compiled, max_new_tokens: int, prompt: int | None = None) -> None:
    """Raise :class:`~structgen.errors.IncompleteOutputError` (with an empty ``text``) when
    no output of ``compiled`` fits in ``max_new_tokens`` tokens, counted by
    :meth:`Budget.tokens_to_complete`; ``prompt``: the batch index named in the error."""
    need = compiled.matcher().tokens_to_complete()
    if need <= max_new_tokens:
        return
    where = "" if prompt is None else f" (prompt {prompt})"
    if need == INF:
        msg = f"no valid output{where} can be spelled with this vocabulary"
    else:
        need = int(need)
        msg = (
            f"max_new_tokens={max_new_tokens} is too small{where}: the shortest valid output "
            f"takes {need} tokens of this tokenizer; raise max_new_tokens to at least {need}"
        )
    raise IncompleteOutputError(msg, "", prompt)


def _spellings(vocab) -> dict:
    """bytes -> the lowest token id spelling exactly them (non-special tokens; one dict
    per vocabulary, kept on it)."""
    d = getattr(vocab, "_structgen_spellings", None)
    if d is None:
        d = {}
        for i, b in enumerate(vocab.tokens):
            if b and b not in d:
                d[b] = i
        vocab._structgen_spellings = d
    return d


class Budget:
    """Upper bounds on the tokens a completion needs, and budget-restricted masks."""

    def __init__(self, index: TokenIndex):
        self.index = index
        self.alphabet = single_token_bytes(index.vocab)
        self.distances = Distances(index.automaton, self.alphabet)
        self.va = vocab_arrays(index.vocab, index.limits)
        self._spell = _spellings(index.vocab)
        self._walks: OrderedDict = OrderedDict()
        self._masks: OrderedDict = OrderedDict()
        self._next: OrderedDict = OrderedDict()
        # config -> (tokens, start): the plan of that state is tokens[start:]; None: no plan
        self._plans: OrderedDict = OrderedDict()
        self._worst: dict = {}  # config -> worst_next

    @locked
    def bytes_to_complete(self, st: State) -> float:
        """The byte count: tokens that always suffice, one per byte of the shortest
        completion (INF: no completion)."""
        return self.distances.config(st.config)

    @locked
    def tokens_to_complete(self, st: State) -> float:
        """Tokens that suffice to complete the text from ``st`` (INF: none do): the
        smaller of the byte count and the length of the state's plan."""
        d = self.distances.config(st.config)
        if d <= 1:
            return d
        p = self.plan(st)
        return d if p is None else min(d, len(p))

    # ---- token plans --------------------------------------------------------------------------
    @locked
    def plan(self, st: State) -> tuple | None:
        """A token sequence the index accepts from ``st`` that ends complete, as short as
        one shortest completion cut into the fewest tokens gives (None when none was
        found: no completion, or one too long to spell). Memoised per configuration;
        computing it records the rest of the plan for every state it passes through."""
        key = st.config
        hit = self._plans.get(key, False)
        if hit is not False:
            self._plans.move_to_end(key)
            return None if hit is None else hit[0][hit[1] :]
        spelled = []
        for order in _ORDERS:
            data = self.distances.shortest(key, order)
            toks = None if data is None else self._segment(data)
            if toks is not None:
                spelled.append((len(toks), data, toks))
        for _, data, toks in sorted(spelled, key=lambda x: x[0]):
            states = self._replay(st, toks)
            if states is not None:
                break
            log.debug("token plan %r is not accepted by the index", data)
        else:
            self._remember(key, None)
            return None
        for i, s in enumerate(states):
            old = self._plans.get(s.config)
            if old is None or len(old[0]) - old[1] > len(toks) - i:
                self._remember(s.config, (toks, i))
        return toks

    def _replay(self, st: State, toks: tuple) -> list | None:
        """The states ``toks`` lead through from ``st`` (``st`` first), when the index
        accepts them all and the last is complete; else None."""
        cur, states = st, [st]
        for t in toks:
            cur = self.index.advance(cur, t)
            if cur is None:
                return None
            states.append(cur)
        return states if cur.accepting else None

    def _remember(self, key, value) -> None:
        self._plans[key] = value
        self._plans.move_to_end(key)
        while len(self._plans) > _MAX_PLANS:
            self._plans.popitem(last=False)

    def _segment(self, data: bytes) -> tuple | None:
        """The fewest tokens whose bytes, end to end, are ``data`` (None: no spelling)."""
        spell = self._spell
        n = len(data)
        longest = min(self.va.maxlen, n)
        best = [0] + [n + 1] * n
        back = [0] * (n + 1)
        for i in range(1, n + 1):
            bi = best[i]
            for j in range(max(0, i - longest), i):
                if best[j] + 1 < bi and data[j:i] in spell:
                    bi = best[j] + 1
                    back[i] = j
            best[i] = bi
        if best[n] > n:
            return None
        out = []
        i = n
        while i:
            j = back[i]
            out.append(spell[data[j:i]])
            i = j
        return tuple(reversed(out))

    @locked
    def fits(self, st: State, token: int, n: int) -> bool:
        """Whether after ``token`` (not EOS) the text can be completed within ``n - 1``
        more tokens, by the token bound (a plan is computed when the byte count does
        not fit)."""
        nxt = self.index.advance(st, int(token))
        if nxt is None:
            return False
        d = self.distances.config(nxt.config)
        if d <= n - 1:
            return True
        if d > (n - 1) * self.va.maxlen:
            return False  # no spelling of d bytes in n - 1 tokens: no plan to compute
        return self.tokens_to_complete(nxt) <= n - 1

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

    @locked
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

    def _next_of(self, st: State) -> np.ndarray:
        """:meth:`next_distances`, memoised for the last few states."""
        best = self._next.get(st)
        if best is None:
            best = self._next[st] = self.next_distances(st)
            while len(self._next) > 32:
                self._next.popitem(last=False)
        else:
            self._next.move_to_end(st)
        return best

    @locked
    def worst_next(self, st: State) -> float:
        """The largest byte count after any token the constraint allows at ``st`` (INF
        when one leaves no completion): with more than that many tokens left, every
        allowed token keeps a completion within the budget, so nothing needs masking.
        Memoised per configuration (one vectorised walk of the vocabulary per state)."""
        key = st.config
        w = self._worst.get(key)
        if w is None:
            best = self._next_of(st)
            allowed = self.index.mask(st)
            w = float(best[allowed].max()) if allowed.any() else INF
            if len(self._worst) >= _MAX_PLANS:
                self._worst.clear()
            self._worst[key] = w
        return w

    @locked
    def allowed(self, st: State, n: int) -> np.ndarray:
        """bool[vocab size]: tokens after which a completion within ``n - 1`` further
        tokens remains by the byte count, and the first token of the state's plan when it
        fits (the closest ones when none does). Memoised per (state, n)."""
        key = (st, n)
        m = self._masks.get(key)
        if m is not None:
            self._masks.move_to_end(key)
            return m
        best = self._next_of(st)
        m = best <= n - 1
        if self.distances.config(st.config) > n:
            # the byte count says no: the first token of the plan may still fit (the rest
            # of the plan is the plan of the state it leads to)
            p = self.plan(st)
            if p and len(p) <= n:
                m[p[0]] = True
        if not m.any():
            p = self.plan(st)
            lo = best.min()
            if p:
                m[p[0]] = True
            elif lo < INF:
                m = best == lo
        m.flags.writeable = False
        self._masks[key] = m
        while len(self._masks) > 64:
            self._masks.popitem(last=False)
        return m
