"""structgen: constrained generation for Hugging Face transformers.

``import structgen`` never imports torch or transformers; the generation layer
(:class:`LogitsProcessor`, :func:`generate_kwargs`) is loaded on first use.
"""

from __future__ import annotations

from typing import Any

from . import ir
from .compiler import Compiled, compile
from .errors import (
    ArgumentError,
    ArgumentTypeError,
    EmptyMaskError,
    GrammarError,
    IncompleteOutputError,
    LimitError,
    OutputValidationError,
    RegexError,
    SpecError,
    StructgenError,
    UnsupportedSchemaError,
    VocabularyError,
)
from .function import function
from .generate import generate
from .jsonschema import JsonSchema, SchemaApproximationWarning
from .lark_grammar import Grammar
from .limits import Limits
from .matcher import Matcher
from .regex import Regex
from .vocab import Vocabulary

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "Compiled",
    "EmptyMaskError",
    "Grammar",
    "GrammarError",
    "IncompleteOutputError",
    "JsonSchema",
    "LimitError",
    "Limits",
    "LogitsProcessor",
    "Matcher",
    "OutputValidationError",
    "Regex",
    "RegexError",
    "SchemaApproximationWarning",
    "SpecError",
    "StructgenError",
    "UnsupportedSchemaError",
    "Vocabulary",
    "VocabularyError",
    "__version__",
    "compile",
    "function",
    "generate",
    "generate_kwargs",
    "ir",
]

_LAZY = {
    "LogitsProcessor": ("structgen.hf.processor", "LogitsProcessor"),
    "generate_kwargs": ("structgen.hf.kwargs", "generate_kwargs"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'structgen' has no attribute {name!r}")
