"""structgen.LogitsProcessor: plugs a compiled constraint into ``model.generate()``.

Rows are matched to parser states by their generated-token prefix, never by position:
at every call each row's parent is found among the previous call's rows (the row minus
its last token), and the parent's matcher is forked and advanced by that token. Beams
may reorder, duplicate or drop rows between calls; finished rows (EOS, then padding) are
left alone. A call whose rows extend none of the previous call's rows starts a new
generation, so one processor can serve several ``generate()`` calls in a row.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np
import torch
from transformers import LogitsProcessor as _HFLogitsProcessor

from ..compiler import Compiled
from ..errors import EmptyMaskError, StructgenError
from ..matcher import Matcher

_MAX_MASKS = 4096


class LogitsProcessor(_HFLogitsProcessor):
    """Mask every token that would break ``compiled`` (greedy, sampling, beams, batches).

    ``compiled`` is the result of :func:`structgen.compile` for the model's tokenizer.
    Measurements of the time spent inside the processor accumulate in ``self.stats``.
    """

    def __init__(self, compiled: Compiled):
        if not isinstance(compiled, Compiled):
            raise TypeError(
                "LogitsProcessor expects the result of structgen.compile(spec, tokenizer), "
                f"got {type(compiled).__name__}"
            )
        self.compiled = compiled
        self._prev_ids: torch.Tensor | None = None
        self._prev_matchers: list[Matcher] = []
        self._masks: OrderedDict = OrderedDict()
        self.stats = {"calls": 0, "seconds": 0.0}
        self._prompt_len = 0

    # ---- row bookkeeping ------------------------------------------------------------------
    def reset(self) -> None:
        self._prev_ids = None
        self._prev_matchers = []

    def _rows(self, input_ids: torch.Tensor) -> list[Matcher]:
        prev = self._prev_ids
        n, length = input_ids.shape
        if prev is not None and prev.shape[1] == length - 1 and prev.shape[1] > 0:
            eq = (input_ids[:, None, :-1] == prev[None, :, :]).all(-1)  # [n, n_prev]
            has = eq.any(1)
            if bool(has.all()):
                parent = eq.float().argmax(1).tolist()
                last = input_ids[:, -1].tolist()
                out = []
                for i in range(n):
                    pm = self._prev_matchers[parent[i]]
                    m = pm.fork()
                    if not m.ended and not m.advance(last[i]):
                        raise StructgenError(
                            f"token {last[i]} chosen for row {i} is not allowed by the "
                            "constraint: another logits processor or warper must have "
                            "overridden structgen's mask"
                        )
                    out.append(m)
                return out
            if bool(has.any()):
                raise StructgenError(
                    "some rows extend the previous step's rows and some do not; structgen "
                    "cannot tell which generation they belong to (call processor.reset() "
                    "between generate() calls)"
                )
        # a new generation: every row is a fresh prompt
        self._prompt_len = length
        return [self.compiled.matcher() for _ in range(n)]

    def _row_mask(self, m: Matcher, width: int, row: torch.Tensor) -> torch.Tensor:
        key = (m.state, width)
        t = self._masks.get(key)
        if t is not None:
            self._masks.move_to_end(key)
            return t
        arr = m.mask()
        if not arr.any():
            raise EmptyMaskError(
                "no token can continue the constrained text and it is not complete: "
                f"{self._text(row)!r}. The constraint needs a byte sequence this "
                "vocabulary cannot produce."
            )
        v = arr.shape[0]
        full = np.zeros(width, dtype=bool)
        k = min(width, v)
        full[:k] = arr[:k]
        if not full.any():
            raise EmptyMaskError(
                f"every allowed token id is >= the logits width {width} (vocabulary size {v})"
            )
        t = torch.from_numpy(full)
        self._masks[key] = t
        if len(self._masks) > _MAX_MASKS:
            self._masks.popitem(last=False)
        return t

    def _text(self, row: torch.Tensor) -> str:
        toks = self.compiled.vocabulary.tokens
        data = b"".join(toks[t] or b"" for t in row[self._prompt_len :].tolist() if t < len(toks))
        return data.decode("utf-8", "replace")

    # ---- the hook -------------------------------------------------------------------------
    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        t0 = time.perf_counter()
        ids = input_ids.detach()
        if ids.device.type != "cpu":
            ids = ids.cpu()
        matchers = self._rows(ids)
        self._prev_ids = ids
        self._prev_matchers = matchers
        width = scores.shape[-1]
        rows = []
        ones = None
        for i, m in enumerate(matchers):
            if m.ended:  # finished row: generate() replaces its token with padding
                if ones is None:
                    ones = torch.ones(width, dtype=torch.bool)
                rows.append(ones)
            else:
                rows.append(self._row_mask(m, width, ids[i]))
        allowed = torch.stack(rows)
        if allowed.device != scores.device:
            allowed = allowed.to(scores.device, non_blocking=True)
        out = scores.masked_fill(~allowed, float("-inf"))
        self.stats["calls"] += 1
        self.stats["seconds"] += time.perf_counter() - t0
        return out
