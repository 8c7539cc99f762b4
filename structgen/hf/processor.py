"""structgen.LogitsProcessor: plugs a compiled constraint into ``model.generate()``.

Rows are matched to parser states by their generated-token prefix, never by position:
at every call each row's parent is found among the previous call's rows (the row minus
its last token), and the parent's matcher is forked and advanced by that token. Beams
may reorder, duplicate or drop rows between calls; a finished row (EOS, then padding) is
offered EOS only (``generate()`` writes padding there; a row it does not know is finished
stays finished). A call whose rows extend none of the previous call's rows starts a new
generation, so one processor can serve several ``generate()`` calls in a row; so does a
call in which every row has ended (``generate()`` stops once all rows end, so this is a
new call on the previous call's output, ``model.generate(out, ...)``): the text generated
after it must match the constraint from its start.

Every call checks that the logits are as wide as the compiled vocabulary (a few padding
rows more pass, see :mod:`structgen.vocab_match`); given the ``tokenizer``, the processor
also checks that the constraint was compiled for it. Misuse (arguments or tensors of the
wrong type or shape) raises :class:`~structgen.errors.ArgumentError` /
:class:`~structgen.errors.ArgumentTypeError`.

A list of compiled constraints gives one per prompt: at the start of a generation row
``i`` gets constraint ``i // (rows // len(list))``, which is how ``generate()`` lays out
``num_return_sequences`` copies and beams of each prompt; later rows inherit the
constraint of the row they extend.

With ``max_new_tokens`` the processor steers every row to finish within the budget: once
the tokens left come within ``margin`` of the shortest completion (by the byte count, a
cheap bound), or some allowed token would leave a completion longer than the tokens left
(a token that opens an object of many required properties; checked once per parser
state), only tokens after which a completion still fits are allowed (see
:mod:`structgen.budget`): those the byte count lets through, the first token of the
row's token plan, and, among the best-scored tokens the byte count holds back, those
after which a completion fits in tokens. :func:`structgen.generate_kwargs` builds the
processor and ``generate()``'s ``max_new_tokens`` from one number.

:meth:`LogitsProcessor.decode` reads the generated texts back and raises
:class:`~structgen.errors.IncompleteOutputError` for a row that the budget cut off
mid-value (or warns, with ``errors="warn"``), so a partial text never passes for a
complete one.

Rows whose constraint is a JSON Schema also get
:class:`~structgen.hf.fresh_items.FreshItems`, applied to the masked logits: a token that
would complete an object key equal to an earlier key of the same object is refused while
another token is allowed (a repeated key makes the text invalid, and a grammar cannot
forbid it), and with ``repeats="avoid"`` (the canonical default) so is a token that would
complete an array item repeating an earlier one.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from transformers import LogitsProcessor as _HFLogitsProcessor

from ..budget import budget_for
from ..compiler import Compiled
from ..errors import (
    ArgumentError,
    ArgumentTypeError,
    EmptyMaskError,
    IncompleteOutputError,
    StructgenError,
    VocabularyError,
)
from ..matcher import Matcher
from ..vocab_match import check_tokenizer, check_width
from .fresh_items import FreshItems

log = logging.getLogger(__name__)

_MASK_CACHE_BYTES = 64 << 20  # torch copies of recent masks, bounded in bytes
# under a tight budget, the best-scored tokens the byte count holds back that are checked
# against the token bound, per row and step
_WIDEN = 8


_NP_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def _numpy_path(scores: torch.Tensor) -> bool:
    return scores.device.type == "cpu" and scores.dtype in _NP_DTYPES and not scores.requires_grad


class LogitsProcessor(_HFLogitsProcessor):
    """Mask every token that would break ``compiled`` (greedy, sampling, beams, batches).

    ``compiled`` is the result of :func:`structgen.compile` for the model's tokenizer, or a
    list of them, one per prompt of the batch (see the module docstring for how rows map
    to prompts). ``max_new_tokens`` (the same number given to ``generate()``) turns on
    steering: once the tokens left are fewer than ``margin`` more than a row's shortest
    completion, or fewer than some allowed token would need, only tokens that keep a
    completion within the budget are allowed, so the text is complete when the budget
    runs out (:func:`structgen.generate_kwargs` gives both numbers at once). The mask is built in the dtype and on the
    device of the logits (float32/16, bfloat16; CPU or CUDA). Measurements of the time
    spent inside the processor accumulate in ``self.stats``. ``tokenizer`` (optional): the
    model's tokenizer, to check that ``compiled`` was compiled for it.

    A processor follows one generation at a time: give each thread its own (a compiled
    constraint may be shared by many threads, see docs/concepts.md).
    """

    def __init__(
        self,
        compiled: Compiled | list[Compiled] | tuple[Compiled, ...],
        *,
        max_new_tokens: int | None = None,
        margin: int = 32,
        tokenizer: Any = None,
    ):
        many = isinstance(compiled, (list, tuple))
        items = list(compiled) if many else [compiled]
        if not items:
            raise ArgumentError("LogitsProcessor needs at least one compiled constraint")
        for c in items:
            if not isinstance(c, Compiled):
                raise ArgumentTypeError(
                    "LogitsProcessor expects the result of structgen.compile(spec, tokenizer) "
                    f"(or a list of them, one per prompt), got {type(c).__name__}"
                )
        if max_new_tokens is not None and (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, int)
            or max_new_tokens < 1
        ):
            raise ArgumentError(f"max_new_tokens must be a positive int, not {max_new_tokens!r}")
        if isinstance(margin, bool) or not isinstance(margin, int) or margin < 0:
            raise ArgumentError(f"margin must be a non-negative int, not {margin!r}")
        first = items[0].vocabulary
        for i, c in enumerate(items[1:], 1):
            if c.vocabulary is not first and c.vocabulary != first:
                raise VocabularyError(
                    f"constraint {i} was compiled for another vocabulary than constraint 0 "
                    f"({c.vocab_size} and {first.size} tokens): compile every one for the "
                    "model's tokenizer"
                )
        if tokenizer is not None:
            check_tokenizer(first, tokenizer, "LogitsProcessor: ")
        self.compiled = items if many else items[0]
        self._constraints = items
        self.max_new_tokens = max_new_tokens
        self.margin = int(margin)
        self._n_prompts = 1
        self._prev_ids: torch.Tensor | None = None
        self._prev_matchers: list[Matcher] = []
        self._masks: OrderedDict = OrderedDict()
        self.stats = {"calls": 0, "seconds": 0.0}
        self._prompt_len = 0
        self._width_ok = -1  # the logits width checked last
        # refuses repeated keys and array items after the mask (None: no JSON Schema)
        self._fresh = FreshItems.for_constraints(items)

    # ---- row bookkeeping ------------------------------------------------------------------
    def reset(self) -> None:
        self._prev_ids = None
        self._prev_matchers = []
        if self._fresh is not None:
            self._fresh.reset()

    def _parents(self, eq: torch.Tensor) -> list[int]:
        """Parents when rows of different constraints may share a prefix (equal prompts):
        a row keeps its own position if it matches, else a match within its prompt's block
        of rows (beams never leave their prompt's block), else the first match."""
        n, n_prev = eq.shape
        per, per_prev = max(n // self._n_prompts, 1), max(n_prev // self._n_prompts, 1)
        out = []
        for i, row in enumerate(eq.tolist()):
            if n == n_prev and row[i]:
                out.append(i)
                continue
            block = i // per
            cands = [j for j, hit in enumerate(row) if hit]
            same = [j for j in cands if j // per_prev == block]
            out.append((same or cands)[0])
        return out

    def _rows(self, input_ids: torch.Tensor) -> list[Matcher]:
        prev = self._prev_ids
        n, length = input_ids.shape
        if prev is not None and prev.shape[1] == length - 1 and prev.shape[1] > 0:
            eq = (input_ids[:, None, :-1] == prev[None, :, :]).all(-1)  # [n, n_prev]
            has = eq.any(1)
            if bool(has.all()):
                parent = (
                    self._parents(eq)
                    if len(self._constraints) > 1
                    else eq.float().argmax(1).tolist()
                )
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
                if not all(m.ended for m in out):
                    return out
                # every row has ended: generate() stops then, so this is a new call on the
                # previous call's output; its text is constrained from its first token
                log.debug("every row has ended: a new generation begins at %d tokens", length)
            elif bool(has.any()):
                raise ArgumentError(
                    "some rows extend the previous step's rows and some do not; structgen "
                    "cannot tell which generation they belong to (call processor.reset() "
                    "between generate() calls)"
                )
        # a new generation: every row is a fresh prompt
        self._prompt_len = length
        cons = self._constraints
        if len(cons) == 1:
            return [cons[0].matcher() for _ in range(n)]
        if n % len(cons):
            raise ArgumentError(
                f"{len(cons)} constraints (one per prompt) but the batch has {n} rows, "
                "not a multiple of it"
            )
        per = n // len(cons)
        self._n_prompts = len(cons)
        return [cons[i // per].matcher() for i in range(n)]

    def _left(self, m: Matcher, generated: int) -> int | None:
        """Tokens left for this row when the budget is tight enough to steer, else None."""
        if self.max_new_tokens is None:
            return None
        left = self.max_new_tokens - generated
        b = budget_for(m.index)
        room = left - 1
        if room >= b.bytes_to_complete(m.state) + self.margin and room >= b.worst_next(m.state):
            # a completion fits with room to spare after every allowed token: nothing to mask
            return None
        return left

    def _widen(self, m: Matcher, row_scores: torch.Tensor, bias, left: int):
        """``bias`` with 0 also at the best-scored tokens (at most :data:`_WIDEN`) that the
        constraint allows and the byte count held back, but after which a completion fits
        within ``left - 1`` tokens by the token bound."""
        width = row_scores.shape[-1]
        held = m.mask() & ~m.mask_within(left)
        held = held[:width]
        if not held.any():
            return bias
        ids = np.flatnonzero(held)
        sc = row_scores.detach().float().cpu().numpy()[ids]
        order = np.arange(sc.size)
        if sc.size > _WIDEN:  # the best few without sorting them all
            order = np.argpartition(-sc, _WIDEN - 1)[:_WIDEN]
        order = order[np.argsort(-sc[order], kind="stable")]
        b = budget_for(m.index)
        add = [
            int(ids[j])
            for j in order.tolist()
            if sc[j] > -np.inf and b.fits(m.state, int(ids[j]), left)
        ]
        if not add:
            return bias
        if isinstance(bias, np.ndarray):
            out = bias.copy()
            out[add] = 0
        else:
            out = bias.clone()
            out[torch.tensor(add, device=bias.device)] = 0
        return out

    def _row_bias(
        self, m: Matcher, scores: torch.Tensor, row: torch.Tensor, left: int | None = None
    ) -> torch.Tensor:
        """0 where allowed, -inf elsewhere, in the dtype and on the device of ``scores``."""
        width = scores.shape[-1]
        key = (m.state, width, scores.dtype, scores.device, left)
        t = self._masks.get(key)
        if t is not None:
            self._masks.move_to_end(key)
            return t
        arr = m.mask() if left is None else m.mask_within(left)
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
        bias = np.where(full, np.float32(0), np.float32(-np.inf))
        if _numpy_path(scores):
            t = bias.astype(_NP_DTYPES[scores.dtype], copy=False)
        else:
            t = torch.from_numpy(bias).to(device=scores.device, dtype=scores.dtype)
        self._masks[key] = t
        while len(self._masks) * width * 4 > _MASK_CACHE_BYTES and len(self._masks) > 1:
            self._masks.popitem(last=False)
        return t

    def _eos_bias(self, m: Matcher, scores: torch.Tensor):
        """0 at the EOS ids, -inf elsewhere, in the dtype and on the device of ``scores``."""
        width = scores.shape[-1]
        bias = np.full(width, np.float32(-np.inf), dtype=np.float32)
        bias[[e for e in m.index.vocab.eos_ids if e < width]] = 0
        if _numpy_path(scores):
            return bias.astype(_NP_DTYPES[scores.dtype], copy=False)
        return torch.from_numpy(bias).to(device=scores.device, dtype=scores.dtype)

    # ---- reading the outputs back ------------------------------------------------------------
    def decode(
        self, sequences, *, prompt_length: int | None = None, errors: str = "raise"
    ) -> list[str]:
        """The generated text of every row of ``sequences`` (what ``model.generate()``
        returned, or its ``.sequences``), each up to its EOS, replayed through its
        constraint. A row that is not complete (the budget cut it off mid-value) raises
        :class:`~structgen.errors.IncompleteOutputError` carrying its partial ``text`` and
        its row ``index``; with ``errors="warn"`` it is logged as a warning and its partial
        text returned. ``prompt_length``: where the generated tokens begin (default: the
        length of the rows at the first step of this processor's last generation)."""
        if errors not in ("raise", "warn"):
            raise ArgumentError(f"errors must be 'raise' or 'warn', not {errors!r}")
        seqs = getattr(sequences, "sequences", sequences)
        try:
            if isinstance(seqs, (str, bytes)):
                # internal: caught below
                raise TypeError
            rows = seqs.tolist() if torch.is_tensor(seqs) else [list(r) for r in seqs]
            rows = [[int(t) for t in r] for r in rows]
        except (TypeError, ValueError):
            raise ArgumentTypeError(
                "decode() reads what model.generate() returned (a tensor of token ids, "
                f"one row per sequence), not {type(seqs).__name__}"
            ) from None
        start = self._prompt_len if prompt_length is None else int(prompt_length)
        if prompt_length is not None and (
            isinstance(prompt_length, bool)
            or not isinstance(prompt_length, int)
            or prompt_length < 0
        ):
            raise ArgumentError(f"prompt_length must be a non-negative int, not {prompt_length!r}")
        if prompt_length is None and self.stats["calls"] == 0:
            raise ArgumentError(
                "this processor has not generated anything yet: pass prompt_length "
                "(the prompt's length in tokens)"
            )
        cons = self._constraints
        per = max(len(rows) // len(cons), 1)
        out = []
        for i, row in enumerate(rows):
            c = cons[min(i // per, len(cons) - 1)]
            text, complete, bad = _replay(c, row[start:])
            if bad is not None:
                msg = (
                    f"row {i}: token {bad} after {text[-200:]!r} is not allowed by the "
                    "constraint (another logits processor must have overridden structgen's "
                    "mask, or prompt_length is wrong)"
                )
            elif not complete:
                msg = (
                    f"row {i} is incomplete: the generation stopped before the constrained "
                    f"text was complete ({text[-200:]!r}); give the budget to "
                    "structgen.generate_kwargs (or max_new_tokens to the processor) so the "
                    "text closes within it"
                )
            if bad is not None or not complete:
                if errors == "raise":
                    raise IncompleteOutputError(msg, text, i)
                log.warning("%s", msg)
            out.append(text)
        return out

    def _text(self, row: torch.Tensor) -> str:
        toks = self._constraints[0].vocabulary.tokens
        data = b"".join(toks[t] or b"" for t in row[self._prompt_len :].tolist() if t < len(toks))
        return data.decode("utf-8", "replace")

    # ---- the hook -------------------------------------------------------------------------
    def _check_inputs(self, input_ids, scores) -> None:
        """Refuse what ``generate()`` never passes: non-tensors, ids that are not integers,
        logits that are not floats, shapes that do not agree, logits of another width."""
        for name, x in (("input_ids", input_ids), ("scores", scores)):
            if not torch.is_tensor(x):
                raise ArgumentTypeError(
                    f"LogitsProcessor is called by model.generate() with torch tensors; "
                    f"{name} is a {type(x).__name__}"
                )
            if x.dim() != 2:
                raise ArgumentError(
                    f"{name} must be 2-D (rows, {'tokens' if name == 'input_ids' else 'vocabulary'})"
                    f", not of shape {tuple(x.shape)}"
                )
        if (
            input_ids.dtype.is_floating_point
            or input_ids.dtype.is_complex
            or (input_ids.dtype == torch.bool)
        ):
            raise ArgumentTypeError(f"input_ids must hold integer token ids, not {input_ids.dtype}")
        if not scores.dtype.is_floating_point:
            raise ArgumentTypeError(f"scores must be floating-point logits, not {scores.dtype}")
        if input_ids.shape[0] != scores.shape[0]:
            raise ArgumentError(
                f"input_ids has {input_ids.shape[0]} rows but scores has {scores.shape[0]}"
            )
        if input_ids.shape[0] == 0:
            raise ArgumentError("input_ids has no rows")
        width = scores.shape[1]
        if width != self._width_ok:
            for c in self._constraints:
                check_width(c.vocab_size, width, "LogitsProcessor: ")
            self._width_ok = width

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self._check_inputs(input_ids, scores)
        t0 = time.perf_counter()
        ids = input_ids.detach()
        if ids.device.type != "cpu":
            ids = ids.cpu()
        matchers = self._rows(ids)
        self._prev_ids = ids
        self._prev_matchers = matchers
        rows = []
        ended = None
        use_np = _numpy_path(scores)
        generated = ids.shape[1] - self._prompt_len
        tight = []  # per row: steered by the budget (for self._fresh)
        for i, m in enumerate(matchers):
            tight.append(False)
            if m.ended:
                # a finished row: generate() replaces its token with padding; a row it does
                # not know is finished (another EOS id) can only repeat EOS, never go on
                if ended is None:
                    ended = self._eos_bias(m, scores)
                rows.append(ended)
            else:
                left = self._left(m, generated)
                tight[-1] = left is not None
                bias = self._row_bias(m, scores, ids[i], left)
                if left is not None:
                    bias = self._widen(m, scores[i], bias, left)
                rows.append(bias)
        # one vectorised op: adding 0 / -inf (much faster on CPU than masked_fill). On CPU
        # it runs in numpy, single-threaded, so it never fights the model for torch's threads.
        if use_np:
            bias = rows[0][None, :] if len(rows) == 1 else np.stack(rows)
            out = torch.from_numpy(scores.detach().numpy() + bias)
        else:
            bias = rows[0].unsqueeze(0) if len(rows) == 1 else torch.stack(rows)
            out = scores + bias
        if self._fresh is not None:
            out = self._fresh(ids, out, restart=generated == 0, tight=tight)
        self.stats["calls"] += 1
        self.stats["seconds"] += time.perf_counter() - t0
        return out


def _replay(compiled: Compiled, row: list[int]) -> tuple[str, bool, int | None]:
    """The text of the generated tokens ``row`` up to EOS, whether it is complete, and the
    first token the constraint does not allow (None when there is none)."""
    m = compiled.matcher()
    toks = compiled.vocabulary.tokens
    data = []
    bad = None
    for t in row:
        if m.ended:
            break  # padding after EOS
        if not m.advance(t):
            bad = t
            break
        if not m.ended:
            data.append(toks[t])
    text = b"".join(data).decode("utf-8", "replace")
    return text, bad is None and m.is_accepting(), bad
