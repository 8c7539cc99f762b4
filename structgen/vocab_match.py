"""Whether a compiled constraint fits the model and tokenizer it is used with.

A constraint is compiled for one vocabulary: token id ``i`` means the bytes
``vocabulary.tokens[i]``. Used with another tokenizer (a constraint compiled for Llama 2
given to SmolLM2) the ids mean other bytes, and the "constrained" text is garbage; used
with logits of another width, ids past the narrower side are silently dropped. Both are
refused here with a :class:`~structgen.errors.VocabularyError` naming the two sides.

* :func:`check_width`: the logits' width must be the compiled vocabulary's size, or
  exceed it by a few padding rows (models pad their embedding matrix to a round size:
  Qwen2's tokenizer has 151,665 ids and its logits 151,936 columns; a vocabulary compiled
  with the tokenizer's own length then masks those rows). At most
  :func:`padding_allowance` extra rows pass.
* :func:`check_tokenizer`: the tokenizer must spell a few sample strings with ids whose
  bytes in the compiled vocabulary are those strings (a handful of ``encode`` calls,
  whatever the vocabulary's size), and have no more ids than the vocabulary.
"""

from __future__ import annotations

from typing import Any

from .errors import VocabularyError
from .vocab import _SAMPLES, Vocabulary

__all__ = ["check_tokenizer", "check_width", "padding_allowance"]


def padding_allowance(width: int) -> int:
    """How many more logit columns than vocabulary entries pass as embedding padding."""
    return max(256, width // 16)


def check_width(vocab_size: int, width: int, where: str = "") -> None:
    """Raise :class:`VocabularyError` unless logits ``width`` wide fit a constraint
    compiled for ``vocab_size`` ids (equal, or wider by a few padding rows)."""
    if vocab_size == width or 0 < width - vocab_size <= padding_allowance(width):
        return
    side = "narrower" if width < vocab_size else "much wider"
    raise VocabularyError(
        f"{where}the logits are {width} wide but the constraint was compiled for a "
        f"vocabulary of {vocab_size} tokens ({side}): it was compiled for another model's "
        "tokenizer, or for another size; compile it with this model's tokenizer and "
        f"vocab_size=model.config.vocab_size ({width} here)"
    )


def _describe(tokenizer: Any) -> str:
    name = getattr(tokenizer, "name_or_path", None) or ""
    try:
        n = len(tokenizer)
    except TypeError:
        n = None
    return (
        f"{type(tokenizer).__name__}"
        + (f" {name!r}" if name else "")
        + (f" ({n} ids)" if n is not None else "")
    )


def check_tokenizer(vocabulary: Vocabulary, tokenizer: Any, where: str = "") -> None:
    """Raise :class:`VocabularyError` when ``tokenizer`` is not the one ``vocabulary`` was
    built from: it has more ids than the vocabulary, or its ids for a sample string are
    not that string's bytes in the vocabulary. Cheap: a few ``encode`` calls."""
    try:
        n = len(tokenizer)
    except TypeError:
        n = None
    if n is not None and n > vocabulary.size:
        raise VocabularyError(
            f"{where}the constraint was compiled for a vocabulary of {vocabulary.size} tokens "
            f"but the tokenizer is {_describe(tokenizer)}: compile it for this tokenizer"
        )
    encode = getattr(tokenizer, "encode", None)
    decode = getattr(tokenizer, "decode", None)
    if encode is None or decode is None:
        return  # nothing to compare with; the logits' width is still checked
    tokens = vocabulary.tokens
    for text in _SAMPLES:
        ids = [int(i) for i in encode(text, add_special_tokens=False)]
        try:
            back = decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        except TypeError:
            back = decode(ids)
        if back != text:
            continue  # the tokenizer does not round-trip this sample: it says nothing
        if any(not 0 <= i < len(tokens) for i in ids):
            got = "ids past its end"
        else:
            parts = [tokens[i] for i in ids]
            if any(p is None for p in parts):
                continue  # (as when the vocabulary was verified: a token with no bytes)
            data = b"".join(parts)  # type: ignore[arg-type]
            want = text.encode("utf-8")
            if data == want or data == b" " + want:  # (SentencePiece's dummy prefix)
                continue
            got = repr(data[:60])
        raise VocabularyError(
            f"{where}the constraint was compiled for another tokenizer: "
            f"{_describe(tokenizer)} encodes {text!r} as ids {ids[:12]}, which the compiled "
            f"vocabulary ({vocabulary.size} tokens, fingerprint "
            f"{vocabulary.fingerprint[:12]}) spells {got}; compile the constraint for the "
            "tokenizer it is used with"
        )
