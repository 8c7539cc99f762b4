"""Left-padded batches for ``model.generate()``, whatever the tokenizer's padding setup.

Many tokenizers have no pad token (Llama 2, Llama 3, GPT-2), and ``tokenizer(...,
padding=True)`` refuses them; the usual fix, setting ``tokenizer.pad_token``, changes the
caller's tokenizer for good. Here the prompts are tokenized one by one and left-padded by
hand with an attention mask, so the tokenizer is never modified (neither its pad token
nor its ``padding_side``). The pad id (masked out by the attention mask, and what
``generate()`` writes after a row's EOS) is the tokenizer's pad token, else its EOS token.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Sequence
from typing import Any

__all__ = ["encode_left_padded", "pad_token_id", "run_rows"]


def pad_token_id(tokenizer: Any) -> int:
    """The tokenizer's pad token id, else its (first) EOS token id, else 0."""
    for name in ("pad_token_id", "eos_token_id"):
        value = getattr(tokenizer, name, None)
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if isinstance(value, numbers.Integral):
            return int(value)
    return 0


def encode_left_padded(
    tokenizer: Any, texts: Sequence[str], *, add_special_tokens: bool, pad_id: int
) -> dict[str, Any]:
    """``input_ids`` and ``attention_mask`` tensors of ``texts``, padded on the left."""
    import torch

    ids = [list(tokenizer(t, add_special_tokens=add_special_tokens)["input_ids"]) for t in texts]
    width = max(len(r) for r in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, r in enumerate(ids):
        if r:
            input_ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r) :] = 1
    return {"input_ids": input_ids, "attention_mask": mask}


def _into_config(kwargs: dict[str, Any]) -> dict[str, Any]:
    """With a ``GenerationConfig`` among ``kwargs``, the generation options (``max_new_tokens``,
    ``pad_token_id``, ``do_sample``...) go into a copy of it: ``generate()`` deprecates
    passing both a ``generation_config`` and such options."""
    config = kwargs.get("generation_config")
    if config is None or not hasattr(config, "update"):
        return kwargs
    config = copy.deepcopy(config)
    rest = {k: v for k, v in kwargs.items() if k != "generation_config"}
    unused = config.update(**rest)  # the options the config has no field for
    return {"generation_config": config, **unused}


def run_rows(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    add_special_tokens: bool,
    pad_token_id: int,
    logits_processor: list,
    **generate_kwargs: Any,
) -> list[list[int]]:
    """One ``model.generate()`` call over ``texts``: the new tokens of every row."""
    import torch
    from transformers import LogitsProcessorList

    enc = encode_left_padded(
        tokenizer, texts, add_special_tokens=add_special_tokens, pad_id=pad_token_id
    )
    device = getattr(model, "device", None)
    if device is not None:
        enc = {k: v.to(device) for k, v in enc.items()}
    kwargs = _into_config({"pad_token_id": pad_token_id, **generate_kwargs})
    with torch.no_grad():
        out = model.generate(
            **enc, logits_processor=LogitsProcessorList(logits_processor), **kwargs
        )
    if not torch.is_tensor(out):
        out = out.sequences
    return out[:, enc["input_ids"].shape[1] :].tolist()
