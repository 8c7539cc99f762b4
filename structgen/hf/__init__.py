"""The transformers integration (imports torch and transformers)."""

from .kwargs import generate_kwargs
from .processor import LogitsProcessor

__all__ = ["LogitsProcessor", "generate_kwargs"]
