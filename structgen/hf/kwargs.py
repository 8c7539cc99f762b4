"""structgen.generate_kwargs: one budget for the processor and for ``model.generate()``.

A :class:`~structgen.LogitsProcessor` steers every row to close within ``max_new_tokens``
only if it is told the same number ``generate()`` stops at; typed twice, the two drift
apart, and a generation cut off mid-value comes back as a partial text. ::

    kwargs = structgen.generate_kwargs(compiled, max_new_tokens=64)
    out = model.generate(**enc, **kwargs)
    texts = kwargs["logits_processor"][-1].decode(out)  # raises on a cut-off row

The number may also come from a ``GenerationConfig`` (its ``max_new_tokens``). Before
anything is generated, a budget in which no output fits raises
:class:`~structgen.errors.IncompleteOutputError`, as :func:`structgen.generate` does.
"""

from __future__ import annotations

from typing import Any

from transformers import LogitsProcessorList

from ..budget import check_budget
from ..compiler import Compiled
from ..errors import ArgumentError
from .processor import LogitsProcessor

__all__ = ["generate_kwargs"]


def generate_kwargs(
    compiled: Compiled | list[Compiled] | tuple[Compiled, ...],
    *,
    max_new_tokens: int | None = None,
    generation_config: Any = None,
    logits_processor: Any = None,
    margin: int = 32,
    tokenizer: Any = None,
) -> dict[str, Any]:
    """Keyword arguments for ``model.generate(**inputs, **kwargs)`` that constrain it to
    ``compiled`` (one compiled constraint, or a list of them, one per prompt) within one
    token budget: ``{"logits_processor": LogitsProcessorList([..., processor]),
    "max_new_tokens": n}``, the processor built with the same ``n`` (it is the list's last
    item; its :meth:`~structgen.LogitsProcessor.decode` reads the outputs back).

    ``n`` is ``max_new_tokens``, else ``generation_config.max_new_tokens``; one of them
    is required. ``logits_processor``: processors of your own, run before structgen's.
    ``tokenizer`` (optional): the model's tokenizer, to check that ``compiled`` was
    compiled for it (:class:`~structgen.errors.VocabularyError` otherwise).
    Raises :class:`~structgen.errors.IncompleteOutputError` when no output fits in ``n``
    tokens of the tokenizer ``compiled`` was built for."""
    budget = max_new_tokens
    if budget is None and generation_config is not None:
        budget = getattr(generation_config, "max_new_tokens", None)
    if budget is None:
        raise ArgumentError(
            "generate_kwargs needs the token budget: pass max_new_tokens, or a "
            "generation_config whose max_new_tokens is set"
        )
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ArgumentError(f"max_new_tokens must be a positive int, not {budget!r}")
    processor = LogitsProcessor(compiled, max_new_tokens=budget, margin=margin, tokenizer=tokenizer)
    items = compiled if isinstance(compiled, (list, tuple)) else [compiled]
    for i, c in enumerate(items):
        check_budget(c, budget, i if len(items) > 1 else None)
    procs = LogitsProcessorList(list(logits_processor or []))
    procs.append(processor)
    return {"logits_processor": procs, "max_new_tokens": budget}
