"""structgen.generate: typed generation with a Hugging Face model in one call.

``generate(model, tokenizer, prompt, output_type, **generate_kwargs)`` compiles
``output_type`` (see :func:`structgen.types.output_spec`) for the tokenizer, runs
``model.generate()`` with a :class:`~structgen.LogitsProcessor`, and returns the parsed,
validated value: a pydantic model instance, a dataclass, ... ; the parsed JSON for a plain
JSON Schema; the ``str`` for a regex or a grammar.

Prompts:

* a ``str``: when the tokenizer has a chat template it is sent as the one user message
  (the template is applied with ``add_generation_prompt=True``); otherwise it is used as
  it is;
* chat messages, a list of ``{"role": ..., "content": ...}``: the chat template is applied
  (a tokenizer without one raises ``ValueError``);
* a list of prompts (each a str or a list of messages): one left-padded batch; the result
  is a list, one value per prompt. ``output_type`` may then be a list too, one per
  prompt, so one batch mixes schemas.

With ``num_return_sequences=k > 1`` each prompt gives a list of ``k`` values.

The token budget: ``max_new_tokens`` (default: that of the ``generation_config`` passed
or the model's, else 256).
When ``steer=True`` (the default) it is checked before generating — if even the shortest
valid output does not fit, :class:`~structgen.errors.IncompleteOutputError` is raised with
an empty ``text`` — and every row is steered to close within it, so a result is always
complete and valid. The count is in tokens of this tokenizer: the shortest valid output
cut into the fewest tokens that spell it, a token sequence the constraint accepts (see
:mod:`structgen.budget`). With ``steer=False`` nothing is checked or steered, and an
output cut off by the budget raises :class:`~structgen.errors.IncompleteOutputError`
carrying the partial ``text``.
"""

from __future__ import annotations

from typing import Any

from .budget import check_budget
from .compiler import Compiled, compile
from .errors import IncompleteOutputError
from .types import Output, output_spec

__all__ = ["generate"]

_DEFAULT_MAX_NEW_TOKENS = 256


def _is_messages(p: Any) -> bool:
    return isinstance(p, (list, tuple)) and all(isinstance(m, dict) for m in p) and len(p) > 0


def _render(tokenizer: Any, prompt: Any) -> tuple[str, bool]:
    """The prompt text and whether it already carries the special tokens of a template."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if isinstance(prompt, str):
        if not has_template:
            return prompt, False
        messages = [{"role": "user", "content": prompt}]
    elif _is_messages(prompt):
        if not has_template:
            raise ValueError(
                "the prompt is a list of chat messages but the tokenizer has no chat "
                "template: pass the prompt as a string"
            )
        messages = list(prompt)
    else:
        raise TypeError(
            "a prompt is a str or a list of {'role': ..., 'content': ...} messages, "
            f"not {type(prompt).__name__}"
        )
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text, True


def _logits_width(model: Any) -> int | None:
    cfg = getattr(model, "config", None)
    width = getattr(cfg, "vocab_size", None)
    if width is None and hasattr(cfg, "get_text_config"):
        width = getattr(cfg.get_text_config(), "vocab_size", None)
    if width is None and hasattr(model, "get_output_embeddings"):
        emb = model.get_output_embeddings()
        if emb is not None:
            width = emb.weight.shape[0]
    return width


def _decode(compiled: Compiled, row: list[int]) -> tuple[str, bool]:
    """Replay the generated tokens of one row: its text and whether it is complete."""
    m = compiled.matcher()
    data = []
    toks = compiled.vocabulary.tokens
    for t in row:
        if m.ended:
            break  # padding after EOS
        if t in compiled.eos_token_ids:
            m.advance(t)
            break
        if not m.advance(t):
            raise IncompleteOutputError(
                f"token {t} of the output is not allowed by the constraint (another "
                "logits processor must have overridden structgen's mask)",
                b"".join(data).decode("utf-8", "replace"),
            )
        data.append(toks[t])
    raw = b"".join(data)
    complete = m.is_accepting()
    return raw.decode("utf-8") if complete else raw.decode("utf-8", "replace"), complete


def generate(
    model: Any,
    tokenizer: Any,
    prompt: Any,
    output_type: Any,
    *,
    steer: bool = True,
    whitespace: str = "bounded",
    strict: bool = True,
    **generate_kwargs: Any,
) -> Any:
    """Generate a value of ``output_type`` for ``prompt`` (see the module docstring).

    ``generate_kwargs`` go to ``model.generate()`` (``max_new_tokens``, ``do_sample``,
    ``temperature``, ``num_beams``, ``num_return_sequences``, ``logits_processor``,
    ``streamer``, ...). ``whitespace`` and ``strict`` apply to JSON Schemas.
    """
    import torch
    from transformers import LogitsProcessorList

    from .hf.processor import LogitsProcessor

    batch = isinstance(prompt, (list, tuple)) and not _is_messages(prompt)
    prompts = list(prompt) if batch else [prompt]
    if not prompts:
        return []
    if isinstance(output_type, (list, tuple)):
        if not batch or len(output_type) != len(prompts):
            raise ValueError(
                "a list of output types needs a list of prompts of the same length "
                "(one output type per prompt)"
            )
        types = list(output_type)
    else:
        types = [output_type] * len(prompts)
    outputs: list[Output] = []
    by_id: dict[int, Output] = {}
    for t in types:  # compile each distinct output type once
        o = by_id.get(id(t))
        if o is None:
            o = by_id[id(t)] = output_spec(t, whitespace=whitespace, strict=strict)
        outputs.append(o)
    width = _logits_width(model)
    compiled_by_id: dict[int, Compiled] = {}
    compiled = []
    for o in outputs:
        c = compiled_by_id.get(id(o))
        if c is None:
            c = compiled_by_id[id(o)] = compile(o.spec, tokenizer, vocab_size=width)
        compiled.append(c)

    gen_cfg = generate_kwargs.get("generation_config") or getattr(model, "generation_config", None)
    budget = generate_kwargs.pop("max_new_tokens", None)
    if budget is None:
        budget = getattr(gen_cfg, "max_new_tokens", None) or _DEFAULT_MAX_NEW_TOKENS
    if steer:
        for i, c in enumerate(compiled):
            check_budget(c, budget, i if batch else None)

    rendered = [_render(tokenizer, p) for p in prompts]
    templated = {flag for _, flag in rendered}
    if len(templated) > 1:
        raise ValueError("mix of chat and plain prompts in one batch")
    old_side = getattr(tokenizer, "padding_side", None)
    tokenizer.padding_side = "left"
    try:
        enc = tokenizer(
            [text for text, _ in rendered],
            return_tensors="pt",
            padding=True,
            add_special_tokens=not templated.pop(),
        )
    finally:
        if old_side is not None:
            tokenizer.padding_side = old_side
    device = getattr(model, "device", None)
    if device is not None:
        enc = {k: v.to(device) for k, v in enc.items()}

    processor = LogitsProcessor(compiled, max_new_tokens=budget if steer else None)
    procs = LogitsProcessorList(generate_kwargs.pop("logits_processor", None) or [])
    procs.append(processor)
    pad = generate_kwargs.pop("pad_token_id", None)
    if pad is None:
        pad = getattr(gen_cfg, "pad_token_id", None)
    if pad is None:
        pad = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
    with torch.no_grad():
        out = model.generate(
            **enc,
            logits_processor=procs,
            max_new_tokens=budget,
            pad_token_id=pad,
            **generate_kwargs,
        )
    if not torch.is_tensor(out):
        out = out.sequences
    n_prompt = enc["input_ids"].shape[1]
    rows = out[:, n_prompt:].tolist()
    per = len(rows) // len(prompts)
    results: list[Any] = []
    for i, row in enumerate(rows):
        p = i // per
        text, complete = _decode(compiled[p], row)
        if not complete:
            where = f" for prompt {p}" if batch else ""
            raise IncompleteOutputError(
                f"the output{where} is incomplete after max_new_tokens={budget} tokens: "
                f"{text[-200:]!r}" + ("" if steer else " (steer=True closes it within the budget)"),
                text,
                p if batch else None,
            )
        results.append(outputs[p].parse(text))
    if per > 1:
        results = [results[k * per : (k + 1) * per] for k in range(len(prompts))]
    return results if batch else results[0]
