"""structgen.generate: typed generation with a Hugging Face model in one call.

``generate(model, tokenizer, prompt, output_type, **generate_kwargs)`` compiles
``output_type`` (see :func:`structgen.types.output_spec`) for the tokenizer, runs
``model.generate()`` with a :class:`~structgen.LogitsProcessor`, and returns the parsed,
validated value: a pydantic model instance, a dataclass, ... ; the parsed JSON for a plain
JSON Schema; the ``str`` for a regex or a grammar.

``output_type`` may also be a :class:`~structgen.Compiled` (``structgen.compile(spec,
tokenizer)``), used as it is (its spec's value: parsed JSON for a schema, the ``str`` for
a regex or a grammar). It, and the constraints of any structgen ``LogitsProcessor`` among
``logits_processor``, must have been compiled for ``tokenizer`` and the model's logits
width: otherwise :class:`~structgen.errors.VocabularyError` is raised before generating.

Prompts:

* a ``str``: when the tokenizer has a chat template it is sent as the one user message
  (the template is applied with ``add_generation_prompt=True``); otherwise it is used as
  it is;
* chat messages, a list of ``{"role": ..., "content": ...}``: the chat template is applied
  (a tokenizer without one raises ``ValueError``);
* a list of prompts (each a str or a list of messages): one left-padded batch; the result
  is a list, one value per prompt. ``output_type`` may then be a list too, one per
  prompt, so one batch mixes schemas.

Prompts are tokenized one by one and left-padded by hand (:mod:`structgen.hf.batch`), so
tokenizers without a pad token (Llama 2 and 3, GPT-2) work and the tokenizer is never
modified. With ``num_return_sequences=k > 1`` each prompt gives a list of ``k`` values.
A ``generation_config`` receives structgen's options (``max_new_tokens``,
``pad_token_id``) in a copy, as transformers wants them.

An output the type's own validation rejects raises
:class:`~structgen.errors.OutputValidationError` with its ``text``; ``retries=N`` samples
such rows again first (see :func:`generate`).

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

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from .budget import check_budget
from .compiler import Compiled, compile
from .errors import ArgumentError, ArgumentTypeError, IncompleteOutputError, OutputValidationError
from .types import Output, output_spec
from .vocab_match import check_tokenizer, check_width

log = logging.getLogger(__name__)

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
            raise ArgumentError(
                "the prompt is a list of chat messages but the tokenizer has no chat "
                "template: pass the prompt as a string"
            )
        messages = list(prompt)
    else:
        raise ArgumentTypeError(
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
    whitespace: str | None = None,
    spelling: str | None = None,
    strict: bool = True,
    repeats: str | None = None,
    retries: int = 0,
    seed: int = 0,
    **generate_kwargs: Any,
) -> Any:
    """Generate a value of ``output_type`` for ``prompt`` (see the module docstring).

    ``generate_kwargs`` go to ``model.generate()`` (``max_new_tokens``, ``do_sample``,
    ``temperature``, ``num_beams``, ``num_return_sequences``, ``logits_processor``,
    ``streamer``, ``generation_config``, ...). ``whitespace``, ``spelling``, ``repeats`` and
    ``strict`` apply to JSON Schemas (all but ``strict`` are passed on only when given):
    ``repeats="allow"`` lets array items repeat, which the canonical spelling's
    ``"avoid"`` refuses where another token is allowed.

    An output that the grammar admits but the output type's own validation rejects (a
    pydantic ``field_validator`` / ``model_validator``, a JSON Schema check) raises
    :class:`~structgen.errors.OutputValidationError` carrying the generated ``text``. With
    ``retries=N`` such rows are first sampled again, up to ``N`` times (``do_sample=True``,
    torch seeded with ``seed``, ``seed + 1``, ... without disturbing the caller's random
    state).
    """
    from .hf.batch import pad_token_id, run_rows

    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ArgumentError(f"retries must be a non-negative int, not {retries!r}")
    batch = isinstance(prompt, (list, tuple)) and not _is_messages(prompt)
    prompts = list(prompt) if batch else [prompt]
    if not prompts:
        return []
    if isinstance(output_type, (list, tuple)):
        if not batch or len(output_type) != len(prompts):
            raise ArgumentError(
                "a list of output types needs a list of prompts of the same length "
                "(one output type per prompt)"
            )
        types = list(output_type)
    else:
        types = [output_type] * len(prompts)
    # (output_spec passes each option to JsonSchema only when it is given)
    options = {"strict": strict, "whitespace": whitespace, "spelling": spelling, "repeats": repeats}
    width = _logits_width(model)
    outputs: list[Output] = []
    compiled: list[Compiled] = []
    by_id: dict[int, tuple[Output, Compiled]] = {}
    for t in types:  # compile each distinct output type once
        hit = by_id.get(id(t))
        if hit is None:
            if isinstance(t, Compiled):  # compiled already: for this tokenizer?
                _check_fits(t, tokenizer, width)
                hit = (output_spec(t.spec, **options), t)
            else:
                o = output_spec(t, **options)
                hit = (o, compile(o.spec, tokenizer, vocab_size=width))
            by_id[id(t)] = hit
        outputs.append(hit[0])
        compiled.append(hit[1])

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
        raise ArgumentError("mix of chat and plain prompts in one batch")
    add_special = not templated.pop()
    from .hf.processor import LogitsProcessor

    user_procs = list(generate_kwargs.pop("logits_processor", None) or [])
    for proc in user_procs:  # structgen processors of the caller's: for this tokenizer?
        if isinstance(proc, LogitsProcessor):
            own = proc.compiled if isinstance(proc.compiled, list) else [proc.compiled]
            for c in own:
                _check_fits(c, tokenizer, width)
    pad = generate_kwargs.pop("pad_token_id", None)
    if pad is None:
        pad = getattr(gen_cfg, "pad_token_id", None)
    if pad is None:
        pad = pad_token_id(tokenizer)

    def rows_of(which: list[int], **kwargs: Any) -> list[list[int]]:
        """Generate for the prompts ``which``: the new tokens of every returned row."""
        rows_compiled = [compiled[p] for p in which]
        processor = LogitsProcessor(rows_compiled, max_new_tokens=budget if steer else None)
        return run_rows(
            model,
            tokenizer,
            [rendered[p][0] for p in which],
            add_special_tokens=add_special,
            pad_token_id=pad,
            logits_processor=[*user_procs, processor],
            max_new_tokens=budget,
            **kwargs,
        )

    def value_of(p: int, row: list[int]) -> Any:
        """The parsed value of one generated row of prompt ``p``; raises on failure."""
        text, complete = _decode(compiled[p], row)
        if not complete:
            where = f" for prompt {p}" if batch else ""
            raise IncompleteOutputError(
                f"the output{where} is incomplete after max_new_tokens={budget} tokens: "
                f"{text[-200:]!r}" + ("" if steer else " (steer=True closes it within the budget)"),
                text,
                p if batch else None,
            )
        try:
            return outputs[p].parse(text)
        except Exception as e:  # the output type's own validation (pydantic, jsonschema)
            raise _rejected(e, text, p if batch else None, outputs[p]) from e

    rows = rows_of(list(range(len(prompts))), **generate_kwargs)
    per = len(rows) // len(prompts)
    results: list[Any] = [None] * len(rows)
    failed: dict[int, OutputValidationError] = {}
    for i, row in enumerate(rows):
        try:
            results[i] = value_of(i // per, row)
        except OutputValidationError as e:
            failed[i] = e
    retry_kwargs = {**generate_kwargs, "do_sample": True, "num_return_sequences": 1}
    for attempt in range(retries):
        if not failed:
            break
        which = sorted(failed)
        log.info("retry %d of %d for %d rejected output(s)", attempt + 1, retries, len(which))
        with _seeded(seed + attempt, getattr(model, "device", None)):
            again = rows_of([i // per for i in which], **retry_kwargs)
        for i, row in zip(which, again, strict=True):
            try:
                results[i] = value_of(i // per, row)
                del failed[i]
            except OutputValidationError as e:
                failed[i] = e
    if failed:
        err = failed[min(failed)]
        if retries:
            err.args = (f"{err.args[0]} (after {retries} retries)",)
        raise err
    if per > 1:
        results = [results[k * per : (k + 1) * per] for k in range(len(prompts))]
    return results if batch else results[0]


def _check_fits(compiled: Compiled, tokenizer: Any, width: int | None) -> None:
    """Raise :class:`~structgen.errors.VocabularyError` unless ``compiled`` was compiled
    for ``tokenizer`` and the model's logits ``width`` (see :mod:`structgen.vocab_match`)."""
    check_tokenizer(compiled.vocabulary, tokenizer, "generate(): ")
    if width is not None:
        check_width(compiled.vocab_size, int(width), "generate(): ")


def _rejected(e: Exception, text: str, index: int | None, output: Output) -> OutputValidationError:
    """The :class:`OutputValidationError` for a parse of ``text`` that raised ``e``."""
    what = getattr(output.output_type, "__name__", None) or repr(output.output_type)
    where = f" for prompt {index}" if index is not None else ""
    return OutputValidationError(
        f"the output{where} matches the grammar but {what}'s validation rejects it: "
        f"{type(e).__name__}: {str(e).strip()[:500]}\n  text: {text[:300]!r}",
        text,
        index,
    )


@contextlib.contextmanager
def _seeded(seed: int, device: Any) -> Iterator[None]:
    """torch seeded with ``seed`` inside, the caller's random state restored after."""
    import torch

    devices = []
    if device is not None and getattr(device, "type", None) == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
