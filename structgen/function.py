"""Typed functions: ``@structgen.function(model=..., tokenizer=...)``.

The decorated function's docstring (or the string it returns) is the prompt template,
formatted with the call's arguments (``str.format`` syntax, ``{name}``); its return
annotation is the output type. Calling it generates under the output type's grammar and
returns the validated value::

    @structgen.function(model=model, tokenizer=tok)
    def extract(text: str) -> Person:
        \"\"\"Extract the person described in this text as JSON: {text}\"\"\"

    person = extract(text="Ann Lee is 33.")                    # a validated Person
    people = extract.map([{"text": a}, {"text": b}])           # one batched generate()

The output type is anything :func:`structgen.types.output_spec` accepts (pydantic models,
dataclasses, ``Literal`` / ``Enum``, ``list[...]``, ``Annotated[str, structgen.Regex(...)]``,
grammar-typed strings). :func:`generate_texts` is the batched generation loop underneath,
shared with the command line.
"""

from __future__ import annotations

import functools
import inspect
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, get_type_hints

from .compiler import Compiled
from .errors import SpecError, StructgenError

__all__ = ["GenerationError", "TypedFunction", "function", "format_prompt", "generate_texts"]


class GenerationError(StructgenError, RuntimeError):
    """Generation stopped before the constrained output was complete (``max_new_tokens``)."""


# --------------------------------------------------------------------------- generation


@dataclass
class Generated:
    """One generated row: the exact text, whether the constraint accepts it, token count."""

    text: str
    complete: bool
    num_tokens: int


def format_prompt(tokenizer: Any, prompt: str, system: str | None = None) -> str:
    """``prompt`` wrapped in the tokenizer's chat template (with an optional system message)
    when it has one; the bare prompt (system text prepended) otherwise."""
    if getattr(tokenizer, "chat_template", None):
        messages = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": prompt})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return f"{system}\n\n{prompt}" if system else prompt


def generate_texts(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    compiled: Compiled | Sequence[Compiled],
    *,
    max_new_tokens: int = 256,
    chat: bool = True,
    system: str | None = None,
    **generate_kwargs: Any,
) -> list[Generated]:
    """Generate one constrained text per prompt, in one batched ``model.generate()`` call.

    ``compiled`` is one constraint for every row, or one per prompt (rows may mix
    constraints). Prompts are wrapped in the chat template when ``chat`` (and the tokenizer
    has one). Texts are decoded from the exact token bytes, up to the first EOS; ``complete``
    tells whether the constraint accepts the text (False when ``max_new_tokens`` ran out).
    With ``num_return_sequences=k`` the result has ``k`` rows per prompt.
    """
    import torch

    from .hf.processor import LogitsProcessor

    prompts = list(prompts)
    if not prompts:
        return []
    per_row = not isinstance(compiled, Compiled)
    rows = list(compiled) if per_row else [compiled] * len(prompts)
    if len(rows) != len(prompts):
        raise ValueError(f"{len(rows)} constraints for {len(prompts)} prompts")
    if all(c is rows[0] for c in rows):
        processor = LogitsProcessor(rows[0])
    else:
        try:
            processor = LogitsProcessor(rows)
        except TypeError as e:
            raise StructgenError(
                "this version of structgen.LogitsProcessor takes one constraint for the whole "
                f"batch; group the prompts by output type ({e})"
            ) from None
    texts = [format_prompt(tokenizer, p, system) if chat else p for p in prompts]
    side = getattr(tokenizer, "padding_side", "right")
    pad_set = False
    try:
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
            pad_set = True
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not chat)
    finally:
        tokenizer.padding_side = side
        if pad_set:
            tokenizer.pad_token = None
    device = getattr(model, "device", None)
    if device is not None:
        enc = {k: v.to(device) for k, v in enc.items()}
    kwargs = dict(generate_kwargs)
    kwargs.setdefault("pad_token_id", tokenizer.pad_token_id or tokenizer.eos_token_id)
    if "do_sample" not in kwargs and "generation_config" not in kwargs:
        kwargs["do_sample"] = False
    processors = list(kwargs.pop("logits_processor", None) or [])
    with torch.no_grad():
        out = model.generate(
            **enc,
            logits_processor=[*processors, processor],
            max_new_tokens=max_new_tokens,
            **kwargs,
        )
    n_prompt = enc["input_ids"].shape[1]
    k = out.shape[0] // len(prompts)
    results = []
    for i, row in enumerate(out[:, n_prompt:].tolist()):
        c = rows[i // k]
        results.append(_decode_row(c, row))
    return results


def _decode_row(compiled: Compiled, ids: list[int]) -> Generated:
    eos = compiled.eos_token_ids
    vocab = compiled.vocabulary
    m = compiled.matcher()
    kept: list[int] = []
    for t in ids:
        if t in eos:
            break
        if not m.advance(t):
            raise StructgenError(
                f"generated token {t} is not allowed by the constraint (another logits "
                "processor overrode structgen's mask)"
            )
        kept.append(t)
    data = vocab.decode(kept)
    return Generated(data.decode("utf-8", "replace"), m.is_accepting(), len(kept))


# --------------------------------------------------------------------------- typed functions


def _output_spec(output_type: Any) -> Any:
    from .types import output_spec

    return output_spec(output_type)


class TypedFunction:
    """A function turned into a constrained generator (see :func:`function`)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        model: Any,
        tokenizer: Any,
        *,
        max_new_tokens: int = 256,
        chat: bool = True,
        system: str | None = None,
        **generate_kwargs: Any,
    ):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.chat = chat
        self.system = system
        self.generate_kwargs = generate_kwargs
        self.signature = inspect.signature(fn)
        try:
            hints = get_type_hints(fn, include_extras=True)
        except Exception as e:  # a forward reference that does not resolve
            raise SpecError(f"{fn.__qualname__}: cannot resolve the annotations: {e}") from None
        if "return" not in hints:
            raise SpecError(
                f"{fn.__qualname__} has no return annotation: annotate the output type, "
                "e.g. `def f(text: str) -> Person:`"
            )
        self.output_type = hints["return"]
        self._output = None
        self._compiled: Compiled | None = None
        self._template = inspect.getdoc(fn)

    @property
    def output(self) -> Any:
        """The :class:`structgen.types.Output` of the return annotation (spec + parser)."""
        if self._output is None:
            self._output = _output_spec(self.output_type)
        return self._output

    @property
    def compiled(self) -> Compiled:
        if self._compiled is None:
            from .compiler import compile

            vocab_size = getattr(getattr(self.model, "config", None), "vocab_size", None)
            self._compiled = compile(self.output.spec, self.tokenizer, vocab_size=vocab_size)
        return self._compiled

    def prompt(self, *args: Any, **kwargs: Any) -> str:
        """The prompt a call with these arguments sends to the model."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.__qualname__}(): {e}") from None
        bound.apply_defaults()
        returned = self.fn(*bound.args, **bound.kwargs)
        if isinstance(returned, str):
            return returned  # the function built its own prompt
        if returned is None and self._template:
            return _format(self._template, bound.arguments, self.__qualname__)
        raise SpecError(
            f"{self.__qualname__}: the prompt is the docstring (a template formatted with the "
            "arguments) or the string the function returns; it "
            + (
                f"returned {type(returned).__name__}"
                if returned is not None
                else "returned None and has no docstring"
            )
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.map([_bind_kwargs(self.signature, args, kwargs)])[0]

    def map(self, calls: Sequence[dict[str, Any]], *, batch_size: int = 16) -> list[Any]:
        """Call the function once per dict of keyword arguments; prompts are generated in
        batches of ``batch_size`` rows, each batch one ``model.generate()`` call."""
        prompts = [self.prompt(**kw) for kw in calls]
        out: list[Any] = []
        for start in range(0, len(prompts), max(1, batch_size)):
            chunk = prompts[start : start + batch_size]
            rows = generate_texts(
                self.model,
                self.tokenizer,
                chunk,
                self.compiled,
                max_new_tokens=self.max_new_tokens,
                chat=self.chat,
                system=self.system,
                **self.generate_kwargs,
            )
            for r in rows:
                if not r.complete:
                    raise GenerationError(
                        f"{self.__qualname__}: the output was cut off after {r.num_tokens} "
                        f"tokens (max_new_tokens={self.max_new_tokens}) before it was "
                        f"complete: {r.text[:200]!r}"
                    )
                out.append(self.output.parse(r.text))
        return out

    def __repr__(self) -> str:
        return f"<structgen.function {self.__qualname__} -> {self.output_type!r}>"


def _bind_kwargs(sig: inspect.Signature, args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(str(e)) from None
    return dict(bound.arguments)


def _format(template: str, arguments: dict[str, Any], where: str) -> str:
    names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    if not names:
        return template
    try:
        return template.format(**arguments)
    except (KeyError, IndexError) as e:
        raise SpecError(
            f"{where}: the prompt template refers to {e} which is not a parameter "
            f"(parameters: {', '.join(arguments) or 'none'})"
        ) from None


def function(
    fn: Callable[..., Any] | None = None,
    *,
    model: Any = None,
    tokenizer: Any = None,
    max_new_tokens: int = 256,
    chat: bool = True,
    system: str | None = None,
    **generate_kwargs: Any,
) -> Any:
    """Decorator: the docstring (or returned string) is the prompt, the return annotation
    the output type. ``model``/``tokenizer`` default to the built-in SmolLM2 model. Extra
    keyword arguments go to ``model.generate()`` (``temperature``, ``num_beams``, ...)."""

    def wrap(f: Callable[..., Any]) -> TypedFunction:
        m, t = model, tokenizer
        if m is None or t is None:
            from . import assets

            dm, dt = assets.load_default_model()
            m = dm if m is None else m
            t = dt if t is None else t
        return TypedFunction(
            f, m, t, max_new_tokens=max_new_tokens, chat=chat, system=system, **generate_kwargs
        )

    return wrap(fn) if fn is not None else wrap
