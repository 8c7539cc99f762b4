"""The exception hierarchy. Every error structgen raises on purpose derives from StructgenError."""

from __future__ import annotations


class StructgenError(Exception):
    """Root of every error raised by structgen on purpose."""


class SpecError(StructgenError, ValueError):
    """A constraint specification (regex, schema, grammar) is invalid or unsupported."""


class RegexError(SpecError):
    """A regular expression cannot be compiled; ``pos`` is the 0-based offset in ``pattern``."""

    def __init__(self, msg: str, pattern: str | None = None, pos: int | None = None):
        self.msg = msg
        self.pattern = pattern
        self.pos = pos
        text = msg
        if pattern is not None and pos is not None:
            text = f"{msg} at position {pos}\n  {pattern}\n  {' ' * pos}^"
        super().__init__(text)


class SpecTypeError(SpecError, TypeError):
    """A spec (pattern, grammar text, flags, start rule) is not of the type it must be."""


class GrammarError(SpecError):
    """A grammar is invalid (undefined rule, left recursion the engine cannot handle, ...)."""


class UnsupportedSchemaError(SpecError):
    """A JSON Schema keyword cannot be enforced exactly."""


class LimitError(StructgenError):
    """A configured structgen.Limits bound was exceeded (states, time, cache size, stacks)."""


class VocabularyError(StructgenError, ValueError):
    """A tokenizer cannot be mapped to byte strings, or sizes do not fit."""


class EmptyMaskError(StructgenError, RuntimeError):
    """No token (and not EOS) can continue the text: the constraint reached a dead end."""


class IncompleteOutputError(StructgenError, RuntimeError):
    """Generation stopped (``max_new_tokens``) before the constrained text was complete.

    ``text`` is the partial output ("" when raised before generating because the budget
    cannot fit any valid output); ``index`` is the batch row it belongs to, if any.
    """

    def __init__(self, msg: str, text: str = "", index: int | None = None):
        super().__init__(msg)
        self.text = text
        self.index = index


class OutputValidationError(StructgenError, ValueError):
    """A generated text the grammar admits was rejected by the output type's own validation
    (a pydantic ``field_validator`` / ``model_validator``, a JSON Schema checker).

    ``text`` is the raw generated text; ``index`` the prompt it belongs to in a batch; the
    validator's exception is the ``__cause__``.
    """

    def __init__(self, msg: str, text: str = "", index: int | None = None):
        super().__init__(msg)
        self.text = text
        self.index = index


class ArgumentError(StructgenError, ValueError):
    """An argument has a bad value: a count that is not positive, an unknown option,
    lengths or tensor shapes that do not agree."""


class ArgumentTypeError(StructgenError, TypeError):
    """An argument has the wrong type (a regex where a compiled constraint is expected, a
    list where a tensor is)."""
