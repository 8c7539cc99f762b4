"""Helpers for tests that need a real tokenizer's view of a text.

Nothing here imports torch or transformers; tokenizers are duck-typed.
"""

from __future__ import annotations

import json
import threading
import weakref
from typing import Any

from structgen.errors import ArgumentTypeError, VocabularyError
from structgen.vocab import Vocabulary

__all__ = ["brute_force_mask", "token_ids_for_text"]


def token_ids_for_text(tokenizer: Any, text: str) -> list[int]:
    """The tokenizer's own tokenization of ``text`` whose token bytes are exactly ``text``.

    ``tokenizer.encode(text, add_special_tokens=False)`` is returned when the
    :class:`~structgen.vocab.Vocabulary` bytes of its ids concatenate to
    ``text.encode("utf-8")``, which is always so for byte-level BPE tokenizers.

    SentencePiece-style tokenizers (Llama 2, Phi-3, ...) prepend a "dummy prefix" ``▁`` (a
    space) to the text, so their encoding of ``"Hello"`` is ``▁Hello``, i.e. ``b" Hello"``. For
    them the text is encoded again by a copy of the fast tokenizer's pipeline with the prefix
    turned off: ``Prepend`` normalizers are removed and ``Metaspace`` pre-tokenizers get
    ``prepend_scheme="never"``. That is how the tokenizer splits text that continues a
    sequence, which is what generation produces; it is the same model, merges and vocabulary.

    Raises :class:`~structgen.errors.VocabularyError` (a ValueError) when no tokenization with exactly these bytes comes out (``text``
    contains a special token's text, or characters the tokenizer normalizes, such as ``▁``).
    """
    if not isinstance(text, str):
        raise ArgumentTypeError(f"text must be str, got {type(text).__name__}")
    if not text:
        return []
    vocab = Vocabulary.from_tokenizer(tokenizer)
    want = text.encode("utf-8")
    ids = [int(i) for i in tokenizer.encode(text, add_special_tokens=False)]
    got = _concat(vocab, ids)
    if got == want:
        return ids
    first = got
    backend = _without_dummy_prefix(tokenizer)
    if backend is not None:
        ids = [int(i) for i in backend.encode(text, add_special_tokens=False).ids]
        got = _concat(vocab, ids)
        if got == want:
            return ids
    raise VocabularyError(
        f"the tokenizer has no tokenization of {text!r} with exactly its bytes "
        f"(its encoding gives {first!r})"
    )


def _concat(vocab: Vocabulary, ids: list[int]) -> bytes | None:
    parts = []
    for i in ids:
        t = vocab.tokens[i] if 0 <= i < vocab.size else None
        if t is None:
            return None
        parts.append(t)
    return b"".join(parts)


_prefixless: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_NONE = object()
_lock = threading.Lock()


def _without_dummy_prefix(tokenizer: Any) -> Any | None:
    """A copy of the tokenizer's ``tokenizers`` pipeline without the dummy prefix, or None."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not hasattr(backend, "to_str"):
        return None
    with _lock:
        try:
            hit = _prefixless.get(tokenizer)
        except TypeError:
            hit = None
        if hit is not None:
            return None if hit is _NONE else hit
    spec = json.loads(backend.to_str())
    changed = False

    def normalizer(node: Any) -> Any:
        nonlocal changed
        if not isinstance(node, dict):
            return node
        if node.get("type") == "Prepend":
            changed = True
            return None
        if node.get("type") == "Sequence":
            items = [normalizer(n) for n in node.get("normalizers") or ()]
            node["normalizers"] = [n for n in items if n is not None]
        return node

    def pre_tokenizer(node: Any) -> Any:
        nonlocal changed
        if not isinstance(node, dict):
            return node
        if node.get("type") == "Metaspace":
            if node.get("prepend_scheme", "never") != "never":
                node["prepend_scheme"] = "never"
                changed = True
            if node.get("add_prefix_space"):
                node["add_prefix_space"] = False
                changed = True
        elif node.get("type") == "Sequence":
            node["pretokenizers"] = [pre_tokenizer(n) for n in node.get("pretokenizers") or ()]
        return node

    spec["normalizer"] = normalizer(spec.get("normalizer"))
    spec["pre_tokenizer"] = pre_tokenizer(spec.get("pre_tokenizer"))
    result = type(backend).from_str(json.dumps(spec)) if changed else None
    with _lock:
        try:
            _prefixless[tokenizer] = _NONE if result is None else result
        except TypeError:
            pass
    return result


def brute_force_mask(automaton: Any, vocabulary: Vocabulary, config: Any) -> Any:
    """The mask of ``config`` computed the slow way, as a reference for the token index:
    every token's bytes run through ``automaton`` one by one; EOS when accepting."""
    import numpy as np

    out = np.zeros(vocabulary.size, dtype=bool)
    for i, data in enumerate(vocabulary.tokens):
        if data and i not in vocabulary.eos_ids and automaton.run(config, data):
            out[i] = True
    if automaton.is_accepting(config):
        out[sorted(vocabulary.eos_ids)] = True
    return out
