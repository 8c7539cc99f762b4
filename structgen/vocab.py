"""The Vocabulary: every token id of a model mapped to the exact bytes it produces.

The engine works on bytes, so it needs, for each row of the model's logits, the byte string
that sampling that token appends to the output. :meth:`Vocabulary.from_tokenizer` derives it
from a Hugging Face tokenizer (duck-typed: nothing here imports torch or transformers):

* byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM2, ...): token strings are spelled in GPT-2's
  ``bytes_to_unicode`` alphabet (``Ġ`` is a space, ``Ċ`` a newline) and are mapped back byte
  by byte;
* SentencePiece style (Llama 2, Phi-3, Mistral, ...): ``▁`` is a space and, with byte fallback,
  ``<0xNN>`` is the single byte ``NN``; other pieces are UTF-8;
* added tokens: normal ones produce their content (UTF-8); special ones (BOS, PAD, UNK,
  ``<|im_start|>``, ...) are ``None``, i.e. never generated, and EOS ids are kept apart in
  :attr:`Vocabulary.eos_ids` (with ``None`` bytes too: the engine treats EOS separately).

The scheme is read from the tokenizer's own description (the ``tokenizers`` JSON of a fast
tokenizer: decoder ``ByteLevel``, or ``Metaspace`` / ``Replace('▁', ' ')`` with
``ByteFallback``), never guessed from class names, and the result is checked on a few sample
strings against the tokenizer's own encoding. Anything else raises
:class:`~structgen.errors.VocabularyError`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from structgen.errors import VocabularyError

__all__ = ["Vocabulary", "bytes_to_unicode", "unicode_to_bytes"]

_FINGERPRINT_TAG = b"structgen.Vocabulary/1\0"

# Sample strings the mapping is verified on: ASCII, whitespace runs, accents, CJK, emoji.
_SAMPLES = (
    "Hello, world! 123 + 4.5e-6",
    "  two  spaces\nnew line\ttab\r\n",
    "héllo café naïve Ünïcödé façade",
    "日本語のテキストと中文",
    "emoji 😀🎉👍🏽 ok",
    "x = {'a': [1, 2], \"b\": null}",
    "“quotes” — dash … ellipsis",
)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from each byte to a printable character (``0x20`` -> ``Ġ``)."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs, strict=True)}


def unicode_to_bytes() -> dict[str, int]:
    """The inverse of :func:`bytes_to_unicode`."""
    return {c: b for b, c in bytes_to_unicode().items()}


def _byte_level_table() -> dict[int, int]:
    """A ``str.translate`` table: byte-level character -> that byte as a code point.

    Code points below 256 that are *not* byte-level characters (controls, space, ...) are sent
    to U+FFFF so that ``.encode("latin-1")`` fails on them, like on any other stray character.
    """
    table = {ord(c): b for c, b in unicode_to_bytes().items()}
    for cp in range(256):
        table.setdefault(cp, 0xFFFF)
    return table


_BYTE_LEVEL_TABLE = _byte_level_table()
_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>\Z")


class Vocabulary:
    """Token id -> exact bytes, for a model whose logits have :attr:`size` columns.

    ``tokens[i]`` is the byte string token ``i`` appends to the text, or ``None`` when the token
    may never be generated (special and control tokens, unused ids, EOS). ``size`` is the logits
    width; it defaults to ``len(tokens)``. Ids at or past ``len(tokens)`` are padding and always
    masked; tokens at or past ``size`` are dropped (the model cannot produce them). EOS ids at or
    past ``size`` are dropped too. EOS tokens and empty byte strings (a token that adds nothing
    can never make progress) are stored as ``None``.

    ``fingerprint`` is a sha256 hex digest of the bytes of every token, the EOS ids and the size:
    equal vocabularies have equal fingerprints in every process.
    """

    tokens: list[bytes | None]
    eos_ids: frozenset[int]
    size: int

    def __init__(
        self,
        tokens: Sequence[bytes | None],
        eos_ids: Iterable[int] | int | None,
        size: int | None = None,
    ):
        tokens = list(tokens)
        if size is None:
            size = len(tokens)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise VocabularyError(f"vocabulary size must be a positive integer, got {size!r}")
        size = int(size)
        if len(tokens) > size:
            del tokens[size:]
        elif len(tokens) < size:
            tokens.extend([None] * (size - len(tokens)))
        for i, t in enumerate(tokens):
            if t is None or type(t) is bytes:
                if t == b"":
                    tokens[i] = None
                continue
            if isinstance(t, (bytes, bytearray, memoryview)):
                tokens[i] = bytes(t) or None
            else:
                raise VocabularyError(
                    f"token {i} must be bytes or None, got {type(t).__name__}: {t!r}"
                )
        if eos_ids is None:
            eos_ids = ()
        elif isinstance(eos_ids, (int, np.integer)):
            eos_ids = (eos_ids,)
        eos: set[int] = set()
        for e in eos_ids:
            if isinstance(e, bool) or not isinstance(e, (int, np.integer)) or e < 0:
                raise VocabularyError(f"EOS ids must be non-negative integers, got {e!r}")
            if e < size:
                eos.add(int(e))
        for e in eos:
            tokens[e] = None
        self.tokens = tokens
        self.eos_ids = frozenset(eos)
        self.size = size

    # ------------------------------------------------------------------ basics

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, token_id: int) -> bytes | None:
        return self.tokens[token_id]

    def __repr__(self) -> str:
        n = sum(t is not None for t in self.tokens)
        return (
            f"Vocabulary(size={self.size}, usable={n}, eos_ids={sorted(self.eos_ids)}, "
            f"fingerprint={self.fingerprint[:12]}...)"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self is other or (
            self.size == other.size
            and self.eos_ids == other.eos_ids
            and self.fingerprint == other.fingerprint
        )

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __getstate__(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "eos_ids": self.eos_ids, "size": self.size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.tokens = state["tokens"]
        self.eos_ids = state["eos_ids"]
        self.size = state["size"]

    @cached_property
    def fingerprint(self) -> str:
        """sha256 hex digest over the tokens' bytes, the EOS ids and the size."""
        h = hashlib.sha256(_FINGERPRINT_TAG)
        h.update(np.array([self.size, len(self.eos_ids)], dtype="<i8").tobytes())
        h.update(np.array(sorted(self.eos_ids), dtype="<i8").tobytes())
        lengths = np.array([-1 if t is None else len(t) for t in self.tokens], dtype="<i8")
        h.update(lengths.tobytes())
        h.update(b"".join(t for t in self.tokens if t is not None))
        return h.hexdigest()

    @cached_property
    def usable_ids(self) -> np.ndarray:
        """Sorted ids (int64) of the tokens that have bytes (not EOS, not special, not unused)."""
        return np.fromiter((i for i, t in enumerate(self.tokens) if t is not None), dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> bytes:
        """The bytes of ``ids`` concatenated; EOS ids add nothing, other ``None`` tokens raise."""
        out = []
        for i in ids:
            i = int(i)
            t = self.tokens[i] if 0 <= i < self.size else None
            if t is None:
                if i in self.eos_ids:
                    continue
                raise VocabularyError(f"token id {i} has no bytes in this vocabulary")
            out.append(t)
        return b"".join(out)

    # ------------------------------------------------------------------ from a tokenizer

    @classmethod
    def from_tokenizer(
        cls,
        tokenizer: Any,
        vocab_size: int | None = None,
        eos_token_id: int | Iterable[int] | None = None,
    ) -> Vocabulary:
        """Map every id of a Hugging Face tokenizer to its bytes.

        ``vocab_size`` is the model's logits width (``model.config.vocab_size``); it defaults to
        ``len(tokenizer)``. ``eos_token_id`` (an int or several) defaults to
        ``tokenizer.eos_token_id``. Results are cached (a few, per live tokenizer object).
        Raises :class:`~structgen.errors.VocabularyError` when the tokenizer's scheme is not
        recognised or the mapping does not reproduce its encoding of the sample strings.
        """
        if eos_token_id is None:
            eos_token_id = getattr(tokenizer, "eos_token_id", None)
        if eos_token_id is None:
            eos: tuple[int, ...] = ()
        elif isinstance(eos_token_id, (int, np.integer)):
            eos = (int(eos_token_id),)
        else:
            eos = tuple(sorted({int(e) for e in eos_token_id}))
        try:
            n = len(tokenizer)
        except TypeError:
            n = None
        size = n if vocab_size is None else vocab_size
        if size is None:
            raise VocabularyError("vocab_size is required: the tokenizer has no len()")
        key = (id(tokenizer), n, int(size), eos)
        hit = _cache_get(key, tokenizer)
        if hit is not None:
            return hit
        raw = _tokenizer_bytes(tokenizer)
        vocab = cls(raw.tokens, eos, size)
        _verify(tokenizer, raw)
        _cache_put(key, tokenizer, vocab)
        return vocab


# ---------------------------------------------------------------------------- cache

_CACHE_MAX = 8
_cache: OrderedDict[tuple, tuple[Any, Vocabulary]] = OrderedDict()
_cache_lock = threading.Lock()


def _cache_get(key: tuple, tokenizer: Any) -> Vocabulary | None:
    with _cache_lock:
        hit = _cache.get(key)
        if hit is None:
            return None
        ref, vocab = hit
        if ref() is not tokenizer:  # a dead object's id was reused
            del _cache[key]
            return None
        _cache.move_to_end(key)
        return vocab


def _cache_put(key: tuple, tokenizer: Any, vocab: Vocabulary) -> None:
    try:
        ref = weakref.ref(tokenizer)
    except TypeError:
        return
    with _cache_lock:
        _cache[key] = (ref, vocab)
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_MAX:
            _cache.popitem(last=False)


# ---------------------------------------------------------------------------- schemes


class _Raw:
    """The per-id bytes of a tokenizer before sizing, and how they were derived."""

    def __init__(self, tokens: list[bytes | None], scheme: str):
        self.tokens = tokens
        self.scheme = scheme  # "byte_level" | "sentencepiece"


def _decoder_parts(decoder: Any) -> list[dict]:
    if not decoder:
        return []
    if decoder.get("type") == "Sequence":
        parts = []
        for d in decoder.get("decoders") or ():
            parts.extend(_decoder_parts(d))
        return parts
    return [decoder]


def _scheme_from_json(spec: dict) -> tuple[str, str, bool]:
    """(scheme, space replacement char, byte fallback) from a ``tokenizers`` JSON description."""
    model = spec.get("model") or {}
    parts = _decoder_parts(spec.get("decoder"))
    kinds = [p.get("type") for p in parts]
    byte_level = "ByteLevel" in kinds
    replacement = None
    for p in parts:
        if p.get("type") == "Metaspace":
            replacement = p.get("replacement", "▁")
        elif p.get("type") == "Replace":
            pattern = p.get("pattern") or {}
            if pattern.get("String") is not None and p.get("content") == " ":
                replacement = pattern["String"]
    byte_fallback = "ByteFallback" in kinds or bool(model.get("byte_fallback"))
    known = {"ByteLevel", "Metaspace", "Replace", "ByteFallback", "Fuse", "Strip"}
    unknown = [k for k in kinds if k not in known]
    described = f"model {model.get('type')!r}, decoder {kinds or None}"
    if unknown or (byte_level and replacement) or not (byte_level or replacement):
        raise VocabularyError(
            "unrecognised tokenizer scheme "
            f"({described}): structgen maps byte-level BPE (decoder ByteLevel) and "
            "SentencePiece-style tokenizers (decoder Metaspace or Replace('▁', ' '), "
            "optionally with ByteFallback) to bytes"
        )
    if model.get("type") not in ("BPE", "Unigram", None):
        raise VocabularyError(f"unrecognised tokenizer scheme ({described}): unsupported model")
    if byte_level:
        return "byte_level", "", False
    return "sentencepiece", replacement, byte_fallback


def _model_vocab(spec: dict) -> list[tuple[str, int]]:
    vocab = (spec.get("model") or {}).get("vocab")
    if isinstance(vocab, dict):  # BPE, WordPiece: token -> id
        return list(vocab.items())
    if isinstance(vocab, list):  # Unigram: [[piece, score], ...] in id order
        return [(entry[0], i) for i, entry in enumerate(vocab)]
    raise VocabularyError("the tokenizer JSON has no model vocabulary")


def _byte_level_bytes(token: str) -> bytes | None:
    try:
        return token.translate(_BYTE_LEVEL_TABLE).encode("latin-1")
    except UnicodeEncodeError:
        return None


def _sentencepiece_bytes(token: str, replacement: str, byte_fallback: bool) -> bytes:
    if byte_fallback and len(token) == 6:
        m = _BYTE_TOKEN.match(token)
        if m:
            return bytes((int(m.group(1), 16),))
    return token.replace(replacement, " ").encode("utf-8")


def _tokenizer_bytes(tokenizer: Any) -> _Raw:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and hasattr(backend, "to_str"):
        return _fast_tokenizer_bytes(tokenizer, backend)
    return _slow_tokenizer_bytes(tokenizer)


def _special_ids(tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    try:
        ids.update(int(i) for i in (getattr(tokenizer, "all_special_ids", None) or ()))
    except (TypeError, ValueError):
        pass
    decoder = getattr(tokenizer, "added_tokens_decoder", None)
    if isinstance(decoder, dict):
        ids.update(int(i) for i, t in decoder.items() if getattr(t, "special", False))
    return ids


def _added_tokens(tokenizer: Any, spec: dict | None) -> dict[int, tuple[str, bool]]:
    """id -> (content, special) for every added token the tokenizer knows of."""
    added: dict[int, tuple[str, bool]] = {}
    for a in (spec or {}).get("added_tokens") or ():
        added[int(a["id"])] = (a["content"], bool(a.get("special")))
    decoder = getattr(tokenizer, "added_tokens_decoder", None)
    if isinstance(decoder, dict):
        for i, t in decoder.items():
            content = getattr(t, "content", None)
            if content is None:
                content = str(t)
            special = bool(getattr(t, "special", False))
            prev = added.get(int(i))
            added[int(i)] = (content, special or (prev is not None and prev[1]))
    return added


def _fill(
    pairs: Iterable[tuple[str, int]],
    convert: Any,
    added: dict[int, tuple[str, bool]],
    specials: set[int],
) -> list[bytes | None]:
    pairs = list(pairs)
    top = max([i for _, i in pairs] + list(added) + list(specials) + [-1])
    tokens: list[bytes | None] = [None] * (top + 1)
    for token, i in pairs:
        tokens[i] = convert(token)
    for i, (content, special) in added.items():
        tokens[i] = None if special else content.encode("utf-8")
    for i in specials:
        if 0 <= i < len(tokens):
            tokens[i] = None
    return tokens


def _fast_tokenizer_bytes(tokenizer: Any, backend: Any) -> _Raw:
    try:
        spec = json.loads(backend.to_str())
    except Exception as e:  # noqa: BLE001 - any failure means we cannot read the scheme
        raise VocabularyError(f"cannot read the tokenizer's description: {e}") from e
    scheme, replacement, byte_fallback = _scheme_from_json(spec)
    if scheme == "byte_level":
        convert = _byte_level_bytes
    else:

        def convert(token: str) -> bytes:
            return _sentencepiece_bytes(token, replacement, byte_fallback)

    tokens = _fill(
        _model_vocab(spec), convert, _added_tokens(tokenizer, spec), _special_ids(tokenizer)
    )
    return _Raw(tokens, scheme)


def _slow_tokenizer_bytes(tokenizer: Any) -> _Raw:
    """Python ("slow") tokenizers: GPT-2 style (``byte_decoder``) or SentencePiece (``sp_model``)."""
    get_vocab = getattr(tokenizer, "get_vocab", None)
    byte_decoder = getattr(tokenizer, "byte_decoder", None)
    sp_model = getattr(tokenizer, "sp_model", None)
    if get_vocab is None or (not isinstance(byte_decoder, dict) and sp_model is None):
        raise VocabularyError(
            f"unrecognised tokenizer scheme ({type(tokenizer).__name__}): it has no "
            "`backend_tokenizer` (a fast tokenizer) and is neither a GPT-2 style byte-level "
            "tokenizer (`byte_decoder`) nor a SentencePiece one (`sp_model`)"
        )
    added = _added_tokens(tokenizer, None)
    pairs = [(t, i) for t, i in get_vocab().items() if i not in added]
    if isinstance(byte_decoder, dict):
        table = dict(byte_decoder)

        def convert(token: str) -> bytes | None:
            try:
                return bytes(table[c] for c in token)
            except KeyError:
                return None

        scheme = "byte_level"
    else:

        def convert(token: str) -> bytes:
            return _sentencepiece_bytes(token, "▁", True)

        scheme = "sentencepiece"
    return _Raw(_fill(pairs, convert, added, _special_ids(tokenizer)), scheme)


def _verify(tokenizer: Any, raw: _Raw) -> None:
    """Check the mapping against the tokenizer's own encoding of a few sample strings.

    A sample counts when the tokenizer round-trips it (``decode(encode(s)) == s``): then the
    token bytes must concatenate to ``s`` exactly, or, for SentencePiece tokenizers, to ``" " +
    s`` (the dummy prefix the tokenizer prepends and its decoder strips).
    """
    encode = getattr(tokenizer, "encode", None)
    decode = getattr(tokenizer, "decode", None)
    if encode is None or decode is None:
        raise VocabularyError("the tokenizer has no encode/decode to verify the mapping with")
    tokens = raw.tokens
    checked = 0
    for text in _SAMPLES:
        ids = list(encode(text, add_special_tokens=False))
        try:
            back = decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        except TypeError:
            back = decode(ids)
        if back != text:
            continue
        parts = [tokens[i] if 0 <= i < len(tokens) else None for i in ids]
        if any(p is None for p in parts):
            continue
        got = b"".join(parts)  # type: ignore[arg-type]
        want = text.encode("utf-8")
        if got == want or (raw.scheme == "sentencepiece" and got == b" " + want):
            checked += 1
            continue
        raise VocabularyError(
            f"the {raw.scheme} byte mapping does not reproduce the tokenizer's encoding of "
            f"{text!r}: tokens {ids} give {got!r}"
        )
    if not checked:
        raise VocabularyError(
            "could not verify the byte mapping: the tokenizer round-trips none of the sample "
            "strings"
        )
