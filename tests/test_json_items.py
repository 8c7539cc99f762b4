"""The JSON item tracker behind repeats="avoid", without torch: the items it records, and
the tokens it says would complete a repeated item, checked against every token of a real
vocabulary (SmolLM2's) fed one by one."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from structgen.json_items import ItemTracker, repeat_key_tokens, repeat_tokens, token_table
from structgen.vocab import Vocabulary

from conftest import require_tokenizer

_SEPARATORS = {"spaced": (", ", ": "), "compact": (",", ":")}

# small pools, so that arrays repeat items often
_scalars = st.one_of(
    st.sampled_from(["a", "ab", "abc", "b", "naïve", 'q"t', "x\\y", "日本", "", "a b"]),
    st.sampled_from([0, 1, 12, 123, -4, 2.5, 12.25, 1e20]),
    st.sampled_from([True, False, None]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.sampled_from(["k", "name", "v"]), inner, max_size=3),
    ),
    max_leaves=12,
)
_arrays = st.lists(_values, min_size=1, max_size=6)


@pytest.fixture(scope="module")
def smollm2_vocab():
    tok = require_tokenizer("smollm2")
    return tok, Vocabulary.from_tokenizer(tok)


def _spell(value, style: str) -> str:
    if style == "indent":
        return json.dumps(value, ensure_ascii=False, indent=2)
    return json.dumps(value, ensure_ascii=False, separators=_SEPARATORS[style])


def _expected_items(value, depth=0, out=None):
    """(depth, value, repeat) of every array item, in the order the items end; the depth
    counts the containers around the item."""
    out = [] if out is None else out
    if isinstance(value, list):
        seen = []
        for v in value:
            _expected_items(v, depth + 1, out)
            key = json.dumps(v)
            out.append((depth + 1, v, key in seen))
            seen.append(key)
    elif isinstance(value, dict):
        for v in value.values():
            _expected_items(v, depth + 1, out)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_arrays, style=st.sampled_from(["spaced", "compact", "indent"]), data=st.data())
def test_items_are_recorded_as_spelled(value, style, data):
    """Fed in random pieces, the tracker records every array item as spelled, with its
    depth and whether it repeats an earlier item of its array."""
    raw = _spell(value, style).encode()
    cuts = sorted(data.draw(st.sets(st.integers(1, max(len(raw) - 1, 1)), max_size=12)))
    tracker = ItemTracker()
    items = []
    for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True):
        items += tracker.feed(raw[a:b])
    assert tracker.done
    got = [(i.depth, json.loads(i.text), i.repeat) for i in items]
    assert got == _expected_items(value)
    for i in items:
        assert raw[i.start : i.end] == i.text
        if style != "indent":  # an item is spelled as it would be on its own
            assert i.text == _spell(json.loads(i.text), style).encode()


def _completes_repeat(tracker: ItemTracker, cut: bytes, token: bytes) -> bool:
    """Brute force: feed ``token``; did it complete an item spelled like an earlier one
    of its array, an item that was in progress at the cut or is the next one (only
    whitespace and at most one comma between the cut and its start)?"""
    p = len(cut)
    text = cut + token
    for item in tracker.fork().feed(token):
        if item.repeat and (item.start < p or re.fullmatch(rb"\s*,?\s*", text[p : item.start])):
            return True
    return False


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.lists(_values, min_size=2, max_size=6),
    style=st.sampled_from(["spaced", "compact", "indent"]),
    data=st.data(),
)
def test_refused_tokens_are_exactly_those_completing_a_repeat(smollm2_vocab, value, style, data):
    """Cut the text of an array (tokenized by SmolLM2's tokenizer) after some token:
    repeat_tokens() gives exactly the vocabulary's tokens that, fed next, complete a
    repeated item."""
    tok, vocab = smollm2_vocab
    value = value + [data.draw(st.sampled_from(value))]  # at least one repeat to come
    text = _spell(value, style)
    ids = tok.encode(text, add_special_tokens=False)
    assert b"".join(vocab.tokens[i] for i in ids) == text.encode()
    # the cut: anywhere, or before the token that ends the last item (a repeat), or the
    # token after it (a number ends at the byte after it)
    end = len(text.encode()) - len(b"\n]" if style == "indent" else b"]")
    ends, n = [], 0
    for j, i in enumerate(ids):
        n += len(vocab.tokens[i])
        if n >= end and len(ends) < 2:
            ends.append(j)
    k = data.draw(st.integers(1, len(ids) - 1) | st.sampled_from([max(j, 1) for j in ends]))
    cut = b"".join(vocab.tokens[i] for i in ids[:k])
    tracker = ItemTracker()
    tracker.feed(cut)
    refused = set(repeat_tokens(tracker, token_table(vocab)).tolist())
    brute = {i for i, t in enumerate(vocab.tokens) if t and _completes_repeat(tracker, cut, t)}
    assert refused == brute


@pytest.mark.parametrize(
    "text",
    [
        "[12, 3, 12]",
        "[1.5, 2, 1.5]",
        "[[1, 2], [1, 2]]",
        '[{"a": 1}, {"a": 1}]',
        '[\n  "ab",\n  "ab"\n]',
        "[true, null, true]",
        '["a", "ab", "a"]',
    ],
)
def test_refused_tokens_at_the_end_of_a_repeat(smollm2_vocab, text):
    """The same check at the last cuts of fixed texts, where a repeat ends (numbers end
    at the byte after them)."""
    tok, vocab = smollm2_vocab
    ids = tok.encode(text, add_special_tokens=False)
    hit = []
    for k in range(len(ids) - 4, len(ids)):
        cut = b"".join(vocab.tokens[i] for i in ids[:k])
        tracker = ItemTracker()
        tracker.feed(cut)
        refused = set(repeat_tokens(tracker, token_table(vocab)).tolist())
        brute = {i for i, t in enumerate(vocab.tokens) if t and _completes_repeat(tracker, cut, t)}
        assert refused == brute, (text, cut)
        hit += [ids[k]] if ids[k] in refused else []
    assert len(hit) == 1, (text, [vocab.tokens[i] for i in ids])  # the token ending the repeat


def test_a_repeat_is_refused_where_it_would_end(smollm2_vocab):
    """The tokens of the text itself: the one that ends the repeated item is refused."""
    tok, vocab = smollm2_vocab
    table = token_table(vocab)
    for text in (
        '["ann@x.com", "bob@y.org", "ann@x.com"]',
        "[1, 22, 1, 22]",
        '[{"a": [1]}, {"a": [1]}]',
        "[true, false, true]",
    ):
        ids = tok.encode(text, add_special_tokens=False)
        tracker = ItemTracker()
        hits = []
        for i in ids:
            if i in set(repeat_tokens(tracker, table).tolist()):
                hits.append(vocab.tokens[i])
            tracker.feed(vocab.tokens[i])
        items = [json.dumps(v) for v in json.loads(text)]
        assert len(hits) == len(items) - len(set(items)), (text, hits)  # one per repeat
        # the text with the repeats removed is never refused anything
        clean = json.dumps(list(dict.fromkeys(json.dumps(v) for v in json.loads(text))))
        clean = "[" + ", ".join(json.loads(clean)) + "]"
        tracker = ItemTracker()
        for i in tok.encode(clean, add_special_tokens=False):
            assert i not in set(repeat_tokens(tracker, table).tolist()), clean
            tracker.feed(vocab.tokens[i])


# ---- object keys -------------------------------------------------------------------------
_KEYS = ["a", "ab", "abc", "b", "name", "naïve", 'q"t', "x\\y", "日本", "", "a b"]


def _spell_pairs(pairs, style: str) -> str:
    """An object written from (key, value) pairs, keys possibly repeated."""
    item, colon = _SEPARATORS[style]
    body = item.join(json.dumps(k, ensure_ascii=False) + colon + _spell(v, style) for k, v in pairs)
    return "{" + body + "}"


def _completes_repeated_key(tracker: ItemTracker, cut: bytes, token: bytes) -> bool:
    """Brute force: feed ``token``; did it complete a key spelled like an earlier key of
    its object, a key that was in progress at the cut or is the next one (only whitespace
    and at most one comma between the cut and its start)?"""
    p = len(cut)
    text = cut + token
    keys: list = []
    tracker.fork().feed(token, keys)
    for k in keys:
        if k.repeat and (k.start < p or re.fullmatch(rb"\s*,?\s*", text[p : k.start])):
            return True
    return False


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pairs=st.lists(st.tuples(st.sampled_from(_KEYS), _values), min_size=1, max_size=5),
    style=st.sampled_from(["spaced", "compact"]),
    data=st.data(),
)
def test_keys_are_recorded_and_repeats_refused_exactly(smollm2_vocab, pairs, style, data):
    """An object whose last key repeats an earlier one, tokenized by SmolLM2's tokenizer
    and cut after some token: the tracker records every key as spelled, and
    repeat_key_tokens() gives exactly the vocabulary's tokens that, fed next, complete a
    key spelled like an earlier key of its object."""
    tok, vocab = smollm2_vocab
    last_value = data.draw(_values)
    pairs = pairs + [(data.draw(st.sampled_from([k for k, _ in pairs])), last_value)]
    text = _spell_pairs(pairs, style)
    raw = text.encode()
    # every key recorded, in its object, with its repeat flag
    keys: list = []
    tracker = ItemTracker()
    tracker.feed(raw, keys)
    top = [k for k in keys if k.depth == 1]
    assert [json.loads(k.text) for k in top] == [k for k, _ in pairs]
    assert [k.repeat for k in top] == [
        k in [q for q, _ in pairs[:j]] for j, (k, _) in enumerate(pairs)
    ]
    assert all(raw[k.start : k.end] == k.text for k in keys)
    # the cut: anywhere, or within a few tokens of the last key (the repeat)
    ids = tok.encode(text, add_special_tokens=False)
    assert b"".join(vocab.tokens[i] for i in ids) == raw
    start = top[-1].start
    near, n = [], 0
    for j, i in enumerate(ids):
        if start - 4 <= n <= top[-1].end:
            near.append(max(j, 1))
        n += len(vocab.tokens[i])
    k = data.draw(st.integers(1, len(ids) - 1) | st.sampled_from(near or [1]))
    cut = b"".join(vocab.tokens[i] for i in ids[:k])
    tracker = ItemTracker()
    tracker.feed(cut)
    refused = set(repeat_key_tokens(tracker, token_table(vocab)).tolist())
    brute = {
        i for i, t in enumerate(vocab.tokens) if t and _completes_repeated_key(tracker, cut, t)
    }
    assert refused == brute
    event(f"refused {bool(refused)}")


@pytest.mark.parametrize(
    "text",
    ['{"a": 1, "a": 2}', '{"name": "x", "v": [1], "name": 0}', '{"k": {"k": 1}, "k": 2}'],
)
def test_the_token_ending_a_repeated_key_is_refused(smollm2_vocab, text):
    """Fed the tokens of the text itself, exactly the token that ends the repeated key is
    refused; a key repeated only in an inner object is not a repeat."""
    tok, vocab = smollm2_vocab
    table = token_table(vocab)
    tracker = ItemTracker()
    hits = []
    for i in tok.encode(text, add_special_tokens=False):
        if i in set(repeat_key_tokens(tracker, table).tolist()):
            hits.append(vocab.tokens[i])
        tracker.feed(vocab.tokens[i])
    assert len(hits) == 1 and b'"' in hits[0], hits  # the closing quote
