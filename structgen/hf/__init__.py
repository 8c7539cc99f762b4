"""The transformers integration (imports torch and transformers)."""

from .processor import LogitsProcessor

__all__ = ["LogitsProcessor"]
