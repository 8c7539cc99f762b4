"""Typed functions: ``@structgen.function(model=..., tokenizer=...)``.

The decorated function's docstring (or the string it returns) is the prompt template:
each ``{name}`` of a parameter is replaced by the call's argument (with ``str.format``'s
rules for that placeholder, so ``{name!r}``, ``{name:>8}``, ``{name.attr}`` work); every
other brace is left as it is, so a JSON example such as ``{"name": "Ann"}`` needs no
escaping (and ``{{`` stays ``{{``). A ``{word}`` that names no parameter is an error naming
it. The return annotation is the output type. Calling it generates under the output type's grammar and
returns the validated value::

    @structgen.function(model=model, tokenizer=tok)
    def extract(text: str) -> Person:
        \"\"\"Extract the person described in this text as JSON: {text}\"\"\"

    person = extract(text="Ann Lee is 33.")                    # a validated Person
    people = extract.map([{"text": a}, {"text": b}])           # one batched generate()

The output type is anything :func:`structgen.types.output_spec` accepts (pydantic models,
dataclasses, ``Literal`` / ``Enum``, ``list[...]``, ``Annotated[str, structgen.Regex(...)]``,
grammar-typed strings). Generation goes through :func:`structgen.generate`, so the output is
steered to complete within ``max_new_tokens`` and always parses.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, get_type_hints

from .errors import ArgumentTypeError, SpecError

__all__ = ["TypedFunction", "function", "messages"]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- typed functions


def messages(prompt: str, system: str | None = None) -> str | list[dict[str, str]]:
    """The prompt as :func:`structgen.generate` takes it: the bare string, or chat messages
    with a system message first."""
    if not system:
        return prompt
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]


class TypedFunction:
    """A function turned into a constrained generator (see :func:`function`)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        model: Any,
        tokenizer: Any,
        *,
        max_new_tokens: int = 256,
        system: str | None = None,
        annotation_locals: dict[str, Any] | None = None,
        **generate_kwargs: Any,
    ):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.system = system
        self.generate_kwargs = generate_kwargs
        self.signature = inspect.signature(fn)
        try:
            # with `from __future__ import annotations` the return annotation is a string;
            # the names of the scope that defined the function resolve it (a Regex held in
            # a local variable, a model class defined in a test function)
            hints = get_type_hints(fn, localns=annotation_locals, include_extras=True)
        except Exception as e:  # a forward reference that does not resolve
            raise SpecError(f"{fn.__qualname__}: cannot resolve the annotations: {e}") from None
        if "return" not in hints:
            raise SpecError(
                f"{fn.__qualname__} has no return annotation: annotate the output type, "
                "e.g. `def f(text: str) -> Person:`"
            )
        self.output_type = hints["return"]
        self._template = inspect.getdoc(fn)

    @property
    def output(self) -> Any:
        """The :class:`structgen.types.Output` of the return annotation (spec + parser)."""
        from .types import output_spec

        options = {
            k: self.generate_kwargs[k]
            for k in ("whitespace", "spelling", "repeats", "strict")
            if k in self.generate_kwargs
        }
        return output_spec(self.output_type, **options)

    def prompt(self, *args: Any, **kwargs: Any) -> str:
        """The prompt a call with these arguments sends to the model."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise ArgumentTypeError(f"{self.__qualname__}(): {e}") from None
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
        from .generate import generate

        return generate(
            self.model,
            self.tokenizer,
            messages(self.prompt(*args, **kwargs), self.system),
            self.output_type,
            max_new_tokens=self.max_new_tokens,
            **self.generate_kwargs,
        )

    def map(
        self,
        calls: Sequence[dict[str, Any]],
        *,
        batch_size: int = 16,
        progress: bool | None = None,
    ) -> list[Any]:
        """Call the function once per dict of keyword arguments. The prompts run as batched
        ``model.generate()`` calls of up to ``batch_size`` rows (one call when they fit).

        ``progress`` shows a progress bar on stderr (``tqdm``, counting calls); by default
        only when stderr is a terminal."""
        from .generate import generate

        prompts = [messages(self.prompt(**kw), self.system) for kw in calls]
        step = max(1, batch_size)
        out: list[Any] = []
        with _progress(len(prompts), self.__qualname__, progress) as bar:
            for start in range(0, len(prompts), step):
                chunk = prompts[start : start + step]
                out.extend(
                    generate(
                        self.model,
                        self.tokenizer,
                        chunk,
                        self.output_type,
                        max_new_tokens=self.max_new_tokens,
                        **self.generate_kwargs,
                    )
                )
                bar.update(len(chunk))
        log.info(
            "%s: %d calls in %d batches", self.__qualname__, len(prompts), -(-len(prompts) // step)
        )
        return out

    def __repr__(self) -> str:
        return f"<structgen.function {self.__qualname__} -> {self.output_type!r}>"


# a placeholder: {name}, {name.attr}, {name[0]}, {name!r}, {name:>10} (no spaces, no nested
# braces); any other brace (a JSON example such as {"name": "Ann"}, "{{") is plain text
_PLACEHOLDER = re.compile(
    r"\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*|\[[A-Za-z0-9_]+\])*)"
    r"(![rsa])?(:[^{}\s]*)?\}"
)


class _NoBar:
    def update(self, n: int) -> None:
        pass


@contextlib.contextmanager
def _progress(total: int, what: str, show: bool | None) -> Iterator[Any]:
    """A tqdm bar on stderr when ``show`` (default: stderr is a terminal), else a no-op."""
    if show is None:
        isatty = getattr(sys.stderr, "isatty", None)
        show = bool(isatty and isatty())
    if not show or total == 0:
        yield _NoBar()
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=what, unit="call", file=sys.stderr) as bar:
        yield bar


def _format(template: str, arguments: dict[str, Any], where: str) -> str:
    """``template`` with each ``{parameter}`` placeholder replaced (``str.format`` rules for
    that placeholder); every other character, braces included, is kept as it is."""

    def replace(m: re.Match) -> str:
        name = m.group(1)
        if name not in arguments:
            raise SpecError(
                f"{where}: the prompt template refers to {name!r} (in {m.group(0)!r}) which is "
                f"not a parameter (parameters: {', '.join(arguments) or 'none'}); write it "
                "differently if it is not meant as a placeholder"
            )
        try:
            return ("{" + m.group(0)[1:-1] + "}").format(**{name: arguments[name]})
        except (AttributeError, LookupError, ValueError, TypeError) as e:
            raise SpecError(f"{where}: cannot fill {m.group(0)!r} in the prompt: {e}") from None

    return _PLACEHOLDER.sub(replace, template)


def function(
    fn: Callable[..., Any] | None = None,
    *,
    model: Any = None,
    tokenizer: Any = None,
    max_new_tokens: int = 256,
    system: str | None = None,
    **generate_kwargs: Any,
) -> Any:
    """Decorator: the docstring (a ``str.format`` template over the parameters) or the
    returned string is the prompt, the return annotation the output type.
    ``model``/``tokenizer`` default to the built-in SmolLM2 model; ``system`` adds a system
    message. Extra keyword arguments go to :func:`structgen.generate` (``spelling``,
    ``whitespace``, ``repeats``, ``retries``, ``steer``) and from there to ``model.generate()``
    (``temperature``, ``do_sample``, ``num_beams``, ``logits_processor``,
    ``generation_config``, ...)."""
    # the scope of the decorated function, to resolve string annotations with
    caller = sys._getframe(1)
    scope = dict(caller.f_locals) if caller.f_code.co_name != "<module>" else None
    del caller

    def wrap(f: Callable[..., Any]) -> TypedFunction:
        m, t = model, tokenizer
        if m is None or t is None:
            from . import assets

            dm, dt = assets.load_default_model()
            m = dm if m is None else m
            t = dt if t is None else t
        return TypedFunction(
            f,
            m,
            t,
            max_new_tokens=max_new_tokens,
            system=system,
            annotation_locals=scope,
            **generate_kwargs,
        )

    return wrap(fn) if fn is not None else wrap
