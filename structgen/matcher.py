"""Matcher: the per-sequence cursor over a TokenIndex."""

from __future__ import annotations

import numpy as np

from .index import State, TokenIndex


class Matcher:
    """Follows one sequence: ``mask()``, ``advance(token)``, ``is_accepting()``,
    ``is_finished()``, ``fork()``. Cheap to fork: the state is an immutable value."""

    __slots__ = ("index", "state", "ended", "_eos")

    def __init__(self, index: TokenIndex, state: State | None = None, ended: bool = False):
        self.index = index
        self.state = index.initial if state is None else state
        self.ended = ended
        self._eos = index.vocab.eos_ids

    def mask(self) -> np.ndarray:
        """bool[vocab size], True = may come next; EOS is included when accepting.
        The array is shared and read-only."""
        if self.ended:
            return _zeros(self.index)
        m = self.index.mask(self.state)
        m.flags.writeable = False
        return m

    def advance(self, token_id: int) -> bool:
        """Consume ``token_id``; False (and no change) when it is not allowed."""
        if self.ended:
            return False
        token_id = int(token_id)
        if token_id in self._eos:
            if self.state.accepting:
                self.ended = True
                return True
            return False
        nxt = self.index.advance(self.state, token_id)
        if nxt is None:
            return False
        self.state = nxt
        return True

    def is_accepting(self) -> bool:
        """The text so far is a complete match."""
        return self.ended or self.state.accepting

    def is_finished(self) -> bool:
        """EOS was consumed, or the text is complete and nothing but EOS can follow."""
        return self.ended or self.index.is_finished(self.state)

    def is_ended(self) -> bool:
        """EOS was consumed."""
        return self.ended

    def fork(self) -> Matcher:
        return Matcher(self.index, self.state, self.ended)

    def tokens_to_complete(self) -> float:
        """A number of tokens that suffices to complete the text (``math.inf`` when none
        does; 0 when accepting): the length of a token sequence this matcher accepts that
        ends complete, or, when that is longer or none was found, one token per byte of
        the shortest completion (see :mod:`structgen.budget`)."""
        if self.ended:
            return 0
        from .budget import budget_for

        return budget_for(self.index).tokens_to_complete(self.state)

    def completion_tokens(self) -> list[int] | None:
        """A token sequence that completes the text (each token allowed in turn, the last
        leaving it complete; EOS not included), ``tokens_to_complete()`` tokens long.
        ``[]`` when the text is complete; None when none was found (then
        ``tokens_to_complete()`` is the byte count)."""
        if self.ended or self.state.accepting:
            return []
        from .budget import budget_for

        plan = budget_for(self.index).plan(self.state)
        return None if plan is None else list(plan)

    def mask_within(self, n: int) -> np.ndarray:
        """Like :meth:`mask`, restricted to the tokens after which the text can still be
        completed within ``n - 1`` more tokens (see :mod:`structgen.budget`)."""
        if self.ended:
            return _zeros(self.index)
        from .budget import budget_for

        return budget_for(self.index).allowed(self.state, int(n))

    def allowed_token_ids(self) -> np.ndarray:
        return np.flatnonzero(self.mask())

    def __repr__(self) -> str:
        return (
            f"Matcher(accepting={self.is_accepting()}, ended={self.ended}, "
            f"live_parses={len(self.state.config)})"
        )


def _zeros(index: TokenIndex) -> np.ndarray:
    z = getattr(index, "_zeros", None)
    if z is None:
        z = np.zeros(index.size, dtype=bool)
        z.flags.writeable = False
        index._zeros = z
    return z
