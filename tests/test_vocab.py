"""Vocabulary: token id -> exact bytes, on synthetic inputs and on every real tokenizer."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from structgen import assets
from structgen.errors import StructgenError, VocabularyError
from structgen.testing import token_ids_for_text
from structgen.vocab import Vocabulary, bytes_to_unicode, unicode_to_bytes

ROOT = Path(__file__).resolve().parents[1]

# The families whose encoder prepends a dummy-prefix space ("▁") to the text.
SENTENCEPIECE = {"llama2", "phi3"}

# --------------------------------------------------------------------------- synthetic


def test_bytes_to_unicode_is_a_bijection():
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256
    assert table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ" and table[ord("A")] == "A"
    assert {c: b for b, c in table.items()} == unicode_to_bytes()


def test_constructor_basics():
    v = Vocabulary([b"a", b"bc", None, b"\xff"], eos_ids=[2])
    assert v.size == len(v) == 4
    assert v.tokens == [b"a", b"bc", None, b"\xff"]
    assert v.eos_ids == frozenset({2})
    assert v[1] == b"bc"
    assert v.decode([0, 1, 3, 2]) == b"abc\xff"  # EOS adds nothing
    assert list(v.usable_ids) == [0, 1, 3]
    with pytest.raises(VocabularyError):
        v.decode([0, 7])


def test_padding_and_truncation():
    padded = Vocabulary([b"a", b"b"], eos_ids=[1], size=5)
    assert padded.size == len(padded) == 5
    assert padded.tokens == [b"a", None, None, None, None]  # EOS is None too
    assert padded.eos_ids == {1}
    cut = Vocabulary([b"a", b"b", b"c", b"d"], eos_ids=[0, 3], size=2)
    assert cut.tokens == [None, b"b"]
    assert cut.eos_ids == {0}  # 3 cannot be produced
    assert Vocabulary([b"a"], eos_ids=5).eos_ids == frozenset()


def test_eos_and_empty_tokens_are_none():
    v = Vocabulary([b"x", b"", bytearray(b"yz")], eos_ids=0)
    assert v.tokens == [None, None, b"yz"]
    assert type(v.tokens[2]) is bytes
    assert v.eos_ids == {0}
    assert Vocabulary([b"x"], eos_ids=None).eos_ids == frozenset()


@pytest.mark.parametrize(
    "tokens, eos, size",
    [
        (["a"], [], None),  # str, not bytes
        ([b"a", 3], [], None),
        ([b"a"], [-1], None),
        ([b"a"], [True], None),
        ([b"a"], [], 0),
        ([b"a"], [], 2.0),
    ],
)
def test_constructor_rejects_bad_input(tokens, eos, size):
    with pytest.raises(VocabularyError) as info:
        Vocabulary(tokens, eos, size)
    assert isinstance(info.value, StructgenError) and isinstance(info.value, ValueError)


def test_fingerprint_sensitivity():
    base = Vocabulary([b"a", b"b", None], eos_ids=[2])
    same = Vocabulary([b"a", b"b", None], eos_ids=[2])
    assert base.fingerprint == same.fingerprint and base == same and hash(base) == hash(same)
    assert len(base.fingerprint) == 64 and int(base.fingerprint, 16) >= 0
    variants = [
        Vocabulary([b"a", b"c", None], eos_ids=[2]),  # bytes
        Vocabulary([b"ab", None, None], eos_ids=[2]),  # same concatenation, other split
        Vocabulary([b"a", None, b"b"], eos_ids=[1]),
        Vocabulary([b"a", b"b", None], eos_ids=[]),  # EOS
        Vocabulary([b"a", b"b", None], eos_ids=[2], size=4),  # size
    ]
    prints = {v.fingerprint for v in variants} | {base.fingerprint}
    assert len(prints) == len(variants) + 1
    assert all(v != base for v in variants)


def test_pickle_round_trip():
    v = Vocabulary([b"a", None, b"\x00\xff"], eos_ids=[1], size=4)
    w = pickle.loads(pickle.dumps(v))
    assert w == v and w.tokens == v.tokens and w.eos_ids == v.eos_ids and w.size == 4
    assert w.fingerprint == v.fingerprint


def test_fingerprint_is_stable_across_processes():
    code = (
        "from structgen.vocab import Vocabulary;"
        "print(Vocabulary([b'a', None, bytes(range(256)), 'é'.encode()], [1], 7).fingerprint)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    here = Vocabulary([b"a", None, bytes(range(256)), "é".encode()], [1], 7).fingerprint
    assert out == here


# --------------------------------------------------------------------------- fake tokenizers


class FakeBackend:
    def __init__(self, spec: dict):
        self.spec = spec

    def to_str(self) -> str:
        return json.dumps(self.spec)


class FakeFastTokenizer:
    """A minimal duck-typed fast tokenizer: one token per character of a tiny vocabulary."""

    eos_token_id = 0
    all_special_ids = [0]

    def __init__(self, decoder: dict | None, vocab: dict[str, int], model_type: str = "BPE"):
        self.vocab = vocab
        self.inverse = {i: t for t, i in vocab.items()}
        spec = {
            "added_tokens": [{"id": 0, "content": "</s>", "special": True}],
            "normalizer": None,
            "pre_tokenizer": None,
            "decoder": decoder,
            "model": {"type": model_type, "vocab": vocab, "byte_fallback": False},
        }
        self.backend_tokenizer = FakeBackend(spec)

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text, add_special_tokens=False):
        return [self.vocab[c] for c in text]

    def decode(self, ids, **kwargs):
        return "".join(self.inverse[i] for i in ids)


def _chars_vocab(text: str) -> dict[str, int]:
    vocab = {"</s>": 0}
    for c in text:
        vocab.setdefault(c, len(vocab))
    return vocab


ALL_SAMPLE_CHARS = "".join(
    sorted(
        set(
            "Hello, world! 123 + 4.5e-6  two  spaces\nnew line\ttab\r\nhéllo café naïve Ünïcödé façade"
            "日本語のテキストと中文emoji 😀🎉👍🏽 okx = {'a': [1, 2], \"b\": null}“quotes” — dash … ellipsis"
        )
    )
)


@pytest.mark.parametrize(
    "decoder",
    [
        {"type": "WordPiece", "prefix": "##", "cleanup": True},
        {"type": "BPEDecoder", "suffix": "</w>"},
        None,
        {"type": "Sequence", "decoders": [{"type": "ByteLevel"}, {"type": "CTC"}]},
        {
            "type": "Sequence",
            "decoders": [
                {"type": "ByteLevel"},
                {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            ],
        },
    ],
)
def test_unrecognised_scheme_raises(decoder):
    tok = FakeFastTokenizer(decoder, _chars_vocab(ALL_SAMPLE_CHARS))
    with pytest.raises(VocabularyError, match="unrecognised tokenizer scheme"):
        Vocabulary.from_tokenizer(tok)


def test_wordpiece_model_raises():
    tok = FakeFastTokenizer({"type": "ByteLevel"}, _chars_vocab(ALL_SAMPLE_CHARS), "WordPiece")
    with pytest.raises(VocabularyError, match="unrecognised tokenizer scheme"):
        Vocabulary.from_tokenizer(tok)


def test_tokenizer_without_backend_raises():
    class Opaque:
        eos_token_id = 0

        def __len__(self):
            return 3

        def encode(self, text, add_special_tokens=False):
            return [1]

        def decode(self, ids, **kwargs):
            return "x"

    with pytest.raises(VocabularyError, match="unrecognised tokenizer scheme"):
        Vocabulary.from_tokenizer(Opaque())


def test_wrong_mapping_is_caught_by_verification():
    # Claims to be byte-level but its vocabulary is plain text: "é" is not spelled in
    # GPT-2's alphabet (it would be "Ã©"), so the verification must refuse it.
    tok = FakeFastTokenizer({"type": "ByteLevel"}, _chars_vocab(ALL_SAMPLE_CHARS))
    with pytest.raises(VocabularyError):
        Vocabulary.from_tokenizer(tok)


def test_fake_sentencepiece_tokenizer():
    decoder = {
        "type": "Sequence",
        "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
        ],
    }
    text = ALL_SAMPLE_CHARS.replace(" ", "▁")
    vocab = _chars_vocab(text)
    vocab["<0x41>"] = len(vocab)

    class Tok(FakeFastTokenizer):
        def encode(self, text, add_special_tokens=False):
            return [self.vocab["▁" if c == " " else c] for c in text]

        def decode(self, ids, **kwargs):
            return super().decode(ids).replace("▁", " ")

    tok = Tok(decoder, vocab)
    v = Vocabulary.from_tokenizer(tok, vocab_size=len(vocab) + 3)
    assert v.tokens[vocab["▁"]] == b" "
    assert v.tokens[vocab["<0x41>"]] == b"A"
    assert v.tokens[vocab["日"]] == "日".encode()
    assert v.tokens[0] is None and v.eos_ids == {0}
    assert v.size == len(vocab) + 3 and v.tokens[-3:] == [None] * 3


def test_slow_byte_level_tokenizer():
    table = bytes_to_unicode()

    class SlowByteLevel:
        """Like GPT-2's Python tokenizer: one token per byte, spelled with byte_decoder."""

        byte_decoder = {c: b for b, c in table.items()}
        eos_token_id = 256
        all_special_ids = [256]
        added_tokens_decoder: dict = {}

        def get_vocab(self):
            vocab = {table[b]: b for b in range(256)}
            vocab["<|endoftext|>"] = 256
            return vocab

        def __len__(self):
            return 257

        def encode(self, text, add_special_tokens=False):
            return list(text.encode("utf-8"))

        def decode(self, ids, **kwargs):
            return bytes(i for i in ids if i < 256).decode("utf-8", "replace")

    v = Vocabulary.from_tokenizer(SlowByteLevel())
    assert v.tokens[:256] == [bytes([b]) for b in range(256)]
    assert v.tokens[256] is None and v.eos_ids == {256}


def test_unverifiable_tokenizer_raises():
    # a recognised scheme, but the tokenizer round-trips none of the sample strings
    tok = FakeFastTokenizer({"type": "ByteLevel"}, _chars_vocab(ALL_SAMPLE_CHARS))
    tok.decode = lambda ids, **kwargs: ""
    with pytest.raises(VocabularyError, match="could not verify"):
        Vocabulary.from_tokenizer(tok)


# --------------------------------------------------------------------------- real tokenizers


# SmolLM2's vocabulary has no token for these bytes (so its tokenizer silently drops, e.g.,
# "\x1d" and every character from U+40000 to U+BFFFF, whose UTF-8 starts with F1 or F2).
MISSING_BYTES = {
    "smollm2": {0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2}
    | set(range(0xF5, 0x100))
}


def test_every_byte_is_a_single_token(tokenizer_name, tokenizer):
    v = Vocabulary.from_tokenizer(tokenizer, vocab_size=assets.MODEL_VOCAB_SIZE[tokenizer_name])
    singles = {t[0] for t in v.tokens if t is not None and len(t) == 1}
    assert set(range(256)) - singles == MISSING_BYTES.get(tokenizer_name, set())


def _representable(name: str, text: str) -> bool:
    """Whether every byte of ``text`` is a token of the family (see MISSING_BYTES)."""
    return not set(text.encode("utf-8")) & MISSING_BYTES.get(name, set())


def _normal(tok: Any, text: str) -> bool:
    """Whether the Unicode normal forms in the tokenizer's normalizer (Qwen2: NFC) keep ``text``."""
    normalizer = repr(tok.backend_tokenizer.normalizer)
    forms = [f for f in ("NFKC", "NFKD", "NFC", "NFD") if re.search(rf"\b{f}\(", normalizer)]
    return all(unicodedata.is_normalized(f, text) for f in forms)


def test_specials_are_none_and_not_eos(tokenizer_name, tokenizer):
    v = Vocabulary.from_tokenizer(tokenizer)
    eos = assets.EOS_TOKEN_ID[tokenizer_name]
    assert v.eos_ids == {eos}
    assert v.tokens[eos] is None
    specials = set(tokenizer.all_special_ids)
    specials |= {i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    if tokenizer_name != "gpt2":  # GPT-2's only special token is <|endoftext|>, the EOS
        assert specials - {eos}, "every other family has special tokens besides EOS"
    for i in specials:
        assert v.tokens[i] is None, (i, tokenizer.convert_ids_to_tokens(i))
    assert not (specials - {eos}) & v.eos_ids
    bos = tokenizer.bos_token_id
    if bos is not None and bos != eos:
        assert v.tokens[bos] is None and bos not in v.eos_ids


def test_normal_added_tokens_keep_their_text(tokenizer_name, tokenizer):
    v = Vocabulary.from_tokenizer(tokenizer)
    normal = {i: t.content for i, t in tokenizer.added_tokens_decoder.items() if not t.special}
    for i, content in normal.items():
        assert v.tokens[i] == content.encode("utf-8")


def test_eos_per_family(tokenizers):
    expected = {
        "smollm2": ("<|im_end|>", 2),
        "llama3": ("<|end_of_text|>", 128001),
        "llama2": ("</s>", 2),
        "qwen2": ("<|endoftext|>", 151643),
        "phi3": ("<|endoftext|>", 32000),
        "gpt2": ("<|endoftext|>", 50256),
    }
    for name, (text, eos) in expected.items():
        tok = tokenizers[name]
        assert tok.eos_token == text and tok.eos_token_id == eos
        assert Vocabulary.from_tokenizer(tok).eos_ids == {eos}


def test_known_tokens(tokenizers):
    gpt2 = Vocabulary.from_tokenizer(tokenizers["gpt2"])
    assert gpt2.tokens[220] == b" " and gpt2.tokens[198] == b"\n" and gpt2.tokens[995] == b" world"
    llama2 = Vocabulary.from_tokenizer(tokenizers["llama2"])
    assert llama2.tokens[13] == b"\n"  # <0x0A>
    assert llama2.tokens[3] == b"\x00" and llama2.tokens[258] == b"\xff"  # <0x00>, <0xFF>
    assert llama2.tokens[29871] == b" "  # ▁
    assert llama2.tokens[3186] == b" world"  # ▁world
    assert llama2.tokens[0] is None and llama2.tokens[1] is None  # <unk>, <s>
    phi3 = Vocabulary.from_tokenizer(tokenizers["phi3"])
    assert phi3.tokens[2] == b"</s>"  # a normal (non-special) added token in Phi-3
    assert all(phi3.tokens[i] is None for i in range(32000, 32011))  # <|endoftext|> ... <|user|>
    qwen2 = Vocabulary.from_tokenizer(tokenizers["qwen2"])
    assert qwen2.tokens[151644] is None  # <|im_start|>
    assert qwen2.tokens[151646] == b"[PAD151646]"  # the GGUF's filler rows are normal tokens
    smollm2 = Vocabulary.from_tokenizer(tokenizers["smollm2"])
    assert all(smollm2.tokens[i] is None for i in range(17))  # <|endoftext|> ... specials


def test_llama3_vocab_size_drops_the_spurious_token(tokenizers):
    tok = tokenizers["llama3"]
    assert len(tok) == 128257
    assert tok.convert_ids_to_tokens(128256) == "<|endoftext|>"
    full = Vocabulary.from_tokenizer(tok)
    assert full.size == 128257 and full.tokens[128256] is None
    v = Vocabulary.from_tokenizer(tok, vocab_size=assets.MODEL_VOCAB_SIZE["llama3"])
    assert v.size == len(v.tokens) == 128256
    assert v.eos_ids == {128001}
    assert v.tokens[:128000] == full.tokens[:128000]


def test_vocab_size_padding_and_truncation(tokenizers):
    tok = tokenizers["qwen2"]
    base = Vocabulary.from_tokenizer(tok)
    assert base.size == len(tok) == assets.MODEL_VOCAB_SIZE["qwen2"]
    wide = Vocabulary.from_tokenizer(tok, vocab_size=152064)  # Qwen2-7B's logits width
    assert wide.size == 152064 and wide.tokens[: base.size] == base.tokens
    assert wide.tokens[base.size :] == [None] * (152064 - base.size)
    narrow = Vocabulary.from_tokenizer(tok, vocab_size=151643)  # cuts the EOS off
    assert narrow.size == 151643 and narrow.eos_ids == frozenset()
    assert narrow.tokens == base.tokens[:151643]
    eos_list = Vocabulary.from_tokenizer(tok, eos_token_id=[151643, 151645])
    assert eos_list.eos_ids == {151643, 151645} and eos_list.tokens[151645] is None


def test_fingerprints_differ_across_tokenizers(tokenizers):
    prints = {
        name: Vocabulary.from_tokenizer(tokenizers[name], assets.MODEL_VOCAB_SIZE[name]).fingerprint
        for name in assets.TOKENIZERS
    }
    assert len(set(prints.values())) == len(prints)


def test_fingerprint_of_a_real_vocabulary_is_stable_across_processes(tokenizers):
    v = Vocabulary.from_tokenizer(tokenizers["llama2"])
    code = (
        "from structgen import assets; from structgen.vocab import Vocabulary;"
        "print(Vocabulary.from_tokenizer(assets.load_tokenizer('llama2')).fingerprint)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == v.fingerprint


def test_from_tokenizer_is_cached(tokenizers):
    tok = tokenizers["gpt2"]
    a = Vocabulary.from_tokenizer(tok)
    assert Vocabulary.from_tokenizer(tok) is a
    b = Vocabulary.from_tokenizer(tok, vocab_size=50304)
    assert b is not a and b.size == 50304


def test_qwen2_vocabulary_is_built_from_scratch(tokenizers):
    # (its build time is a figure of bench/bench_startup.py, not a test)
    from structgen import vocab as vocab_module

    tok = tokenizers["qwen2"]
    vocab_module._cache.clear()
    v = Vocabulary.from_tokenizer(tok)
    assert v.size == 151936
    assert v.tokens[tok.convert_tokens_to_ids("Ġthe")] == b" the"


# --------------------------------------------------------------------------- properties

_CHARS = st.one_of(
    st.characters(codec="utf-8"),  # any scalar value (no surrogates)
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, codec="utf-8"),  # non-BMP
    st.sampled_from(list(" \t\n\r\n\u3000\u00a0\u2028\x0b\x0c")),  # whitespace
    st.sampled_from(list("aZ0 é日本😀🎉ß'\"{}<>")),
)
TEXTS = st.text(_CHARS, max_size=40)
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=False,
)


def _expected_bytes(name: str, text: str) -> bytes:
    """What the tokenizer's encoding of ``text`` spells: SentencePiece adds a dummy-prefix space."""
    want = text.encode("utf-8")
    if name in SENTENCEPIECE and text:
        return b" " + want
    return want


@pytest.mark.parametrize("name", assets.TOKENIZERS)
@PROPERTY
@given(text=TEXTS)
@example(text="\uf900")  # Qwen2 normalizes it (NFC) to U+8C48
def test_encoding_bytes_concatenate_to_the_text(tokenizers, name, text):
    tok = tokenizers[name]
    vocab = Vocabulary.from_tokenizer(tok, vocab_size=assets.MODEL_VOCAB_SIZE[name])
    ids = tok.encode(text, add_special_tokens=False)
    round_trips = tok.decode(ids, clean_up_tokenization_spaces=False) == text
    if name not in SENTENCEPIECE and _representable(name, text) and _normal(tok, text):
        # byte-level BPE is lossless on the bytes it has tokens for, once normalized
        assert round_trips
    assume(round_trips)
    assert all(vocab.tokens[i] is not None for i in ids)
    assert vocab.decode(ids) == _expected_bytes(name, text)


@pytest.mark.parametrize("name", assets.TOKENIZERS)
@PROPERTY
@given(text=TEXTS)
@example(text="\uf900")  # Qwen2 normalizes it (NFC) to U+8C48
def test_token_ids_for_text_is_exact(tokenizers, name, text):
    tok = tokenizers[name]
    vocab = Vocabulary.from_tokenizer(tok)
    if (
        (name in SENTENCEPIECE and "\u2581" in text)
        or not _representable(name, text)
        or not _normal(tok, text)
    ):
        # "▁" is how SentencePiece spells a space: a literal one cannot be told apart;
        # SmolLM2 cannot spell some bytes at all; Qwen2 encodes the NFC form of the text
        with pytest.raises(ValueError):
            token_ids_for_text(tok, text)
        return
    ids = token_ids_for_text(tok, text)
    assert vocab.decode(ids) == text.encode("utf-8")
    if name not in SENTENCEPIECE:
        assert ids == tok.encode(text, add_special_tokens=False)


@pytest.mark.parametrize(
    "name, text",
    [
        ("llama2", "Hello"),
        ("llama2", " leading space"),
        ("phi3", "Hello world\n"),
        ("phi3", "x</s>y"),  # </s> is a normal added token in Phi-3
        ("qwen2", "日本語 😀"),
        ("llama3", "  two"),
    ],
)
def test_token_ids_for_text_examples(tokenizers, name, text):
    tok = tokenizers[name]
    ids = token_ids_for_text(tok, text)
    assert Vocabulary.from_tokenizer(tok).decode(ids) == text.encode()
    if name in SENTENCEPIECE:
        plain = tok.encode(text, add_special_tokens=False)
        assert tok.convert_ids_to_tokens(plain)[0].startswith("▁")  # the dummy prefix
        assert not tok.convert_ids_to_tokens(ids)[0].startswith("▁") or text[0] == " "


def test_token_ids_for_text_rejects_special_text(tokenizers):
    with pytest.raises(ValueError):
        token_ids_for_text(tokenizers["qwen2"], "a<|im_start|>b")
    assert token_ids_for_text(tokenizers["gpt2"], "") == []
