"""The logits processor without a model: uniform logits, rows shuffled, duplicated and
dropped between calls (as beam search does), finished rows, reuse, empty masks."""

from __future__ import annotations

import random

import numpy as np
import pytest

import structgen
from structgen.ir import Grammar, Ref, Text, regular_grammar
from structgen.vocab import Vocabulary

from grammars_for_tests import GRAMMARS

torch = pytest.importorskip("torch")


def _vocab() -> Vocabulary:
    rng = random.Random(0)
    alpha = list(b"()[]{}0123456789-+*/.")
    toks = [bytes([c]) for c in range(256)] + [b"12"]
    while len(toks) < 600:
        toks.append(bytes(rng.choice(alpha) for _ in range(rng.randint(2, 5))))
    toks = list(dict.fromkeys(toks))
    # two special ids: EOS and PAD (never allowed); the logits are wider than the vocabulary
    return Vocabulary(toks + [None, None], eos_ids=[len(toks)], size=len(toks) + 2)


VOCAB = _vocab()
EOS = next(iter(VOCAB.eos_ids))
PAD = EOS + 1
WIDTH = VOCAB.size + 5  # padding rows of the embedding matrix


def _text(row: list[int], start: int) -> str:
    out = b""
    for t in row[start:]:
        if t in (EOS, PAD):
            break
        out += VOCAB.tokens[t]
    return out.decode()


def _run(proc, prompts: torch.Tensor, steps: int, rng: random.Random, shuffle: bool):
    """A generate()-like loop: sample an allowed token per row, then reorder rows."""
    ids = prompts
    done = torch.zeros(ids.shape[0], dtype=torch.bool)
    for _ in range(steps):
        scores = torch.zeros(ids.shape[0], WIDTH)
        out = proc(ids, scores)
        assert out.shape == scores.shape
        nxt = []
        for i in range(ids.shape[0]):
            allowed = torch.nonzero(out[i] > -float("inf")).flatten().tolist()
            if done[i]:  # finished rows are offered EOS only (generate() pads them)
                assert allowed == [EOS]
                nxt.append(PAD)
                continue
            assert allowed and all(a < VOCAB.size for a in allowed)
            tok = EOS if EOS in allowed and rng.random() < 0.25 else rng.choice(allowed)
            nxt.append(tok)
        ids = torch.cat([ids, torch.tensor(nxt)[:, None]], dim=1)
        done = done | (ids[:, -1] == EOS)
        if shuffle:  # beams: reorder, duplicate some rows, drop others
            perm = [rng.randrange(ids.shape[0]) for _ in range(ids.shape[0])]
            ids, done = ids[perm], done[perm]
        if bool(done.all()):
            break
    return ids


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_rows_follow_their_prefix(name, shuffle):
    grammar, ok, _ = GRAMMARS[name]
    compiled = structgen.compile(grammar, vocabulary=VOCAB)
    proc = structgen.LogitsProcessor(compiled)
    rng = random.Random(hash((name, shuffle)) & 0xFFFF)
    for _ in range(3):  # the same processor across several generations
        prompts = torch.tensor([[7, 8, 9]] * 6)
        ids = _run(proc, prompts, 30, rng, shuffle)
        for row in ids.tolist():
            text = _text(row, 3)
            if EOS in row[3:]:
                assert ok(text), text


def test_finished_rows_offer_eos_only_and_a_chained_call_starts_afresh():
    compiled = structgen.compile(regular_grammar(Text("12")), vocabulary=VOCAB)
    proc = structgen.LogitsProcessor(compiled)
    ids = torch.tensor([[5, 5]])
    out = proc(ids, torch.zeros(1, WIDTH))
    allowed = torch.nonzero(out[0] > -float("inf")).flatten().tolist()
    assert sorted(VOCAB.tokens[a] for a in allowed) == [b"1", b"12"]
    ids = torch.tensor([[5, 5, VOCAB.tokens.index(b"12")]])
    out = proc(ids, torch.zeros(1, WIDTH))
    assert torch.nonzero(out[0] > -float("inf")).flatten().tolist() == [EOS]
    # two rows, one finished: it is offered EOS only, the other goes on
    ids = torch.tensor([[5, 5, VOCAB.tokens.index(b"12")], [5, 5, VOCAB.tokens.index(b"1")]])
    proc.reset()
    proc(ids[:, :2], torch.zeros(2, WIDTH))
    out = proc(ids, torch.zeros(2, WIDTH))
    ids = torch.cat([ids, torch.tensor([[EOS], [VOCAB.tokens.index(b"2")]])], 1)
    out = proc(ids, torch.zeros(2, WIDTH))
    assert _allowed(out[0]) == [EOS] and _allowed(out[1]) == [EOS]
    # every row ended: generate() would have stopped, so this is a new call on its output
    ids = torch.cat([ids, torch.tensor([[PAD], [EOS]])], 1)
    out = proc(ids, torch.zeros(2, WIDTH))
    for row in out:
        assert sorted(VOCAB.tokens[a] for a in _allowed(row)) == [b"1", b"12"]


def test_dead_end_raises_a_clear_error():
    # "\x01\x02" is a single token in no vocabulary here once byte 2 is removed
    toks = [bytes([c]) for c in range(256) if c != 2] + [None]
    vocab = Vocabulary(toks, eos_ids=[len(toks) - 1])
    compiled = structgen.compile(regular_grammar(Text("\x01\x02")), vocabulary=vocab)
    proc = structgen.LogitsProcessor(compiled)
    one = toks.index(b"\x01")
    proc(torch.tensor([[0]]), torch.zeros(1, vocab.size))
    with pytest.raises(structgen.EmptyMaskError, match="no token can continue"):
        proc(torch.tensor([[0, one]]), torch.zeros(1, vocab.size))


def test_mask_is_one_vectorised_op_and_dtype_preserved():
    compiled = structgen.compile(GRAMMARS["arith"][0], vocabulary=VOCAB)
    proc = structgen.LogitsProcessor(compiled)
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        proc.reset()
        scores = torch.randn(4, WIDTH).to(dtype)
        out = proc(torch.tensor([[1]] * 4), scores)
        assert out.dtype == dtype
        m = compiled.matcher().mask()
        expect = np.zeros(WIDTH, dtype=bool)
        expect[: VOCAB.size] = m
        assert (torch.isfinite(out[0]).numpy() == expect).all()


def test_processor_rejects_non_compiled():
    with pytest.raises(TypeError, match="structgen.compile"):
        structgen.LogitsProcessor(Grammar(rules={"start": Ref("X")}))


# ---- one constraint per prompt ----------------------------------------------------------------


def _allowed(out_row) -> list[int]:
    return torch.nonzero(out_row > -float("inf")).flatten().tolist()


def test_one_constraint_per_prompt_with_copies_per_prompt():
    """A list of constraints: row i of the first call gets constraint i // rows_per_prompt
    (num_return_sequences / beams lay copies out that way); later rows inherit theirs."""
    a = structgen.compile(regular_grammar(Text("12")), vocabulary=VOCAB)
    b = structgen.compile(regular_grammar(Text("(")), vocabulary=VOCAB)
    one, paren, two = (VOCAB.tokens.index(x) for x in (b"1", b"(", b"2"))
    for prompts in ([3, 4], [3, 3]):  # distinct prompts, and equal prompts
        proc = structgen.LogitsProcessor([a, b])
        ids = torch.tensor([[prompts[0]]] * 3 + [[prompts[1]]] * 3)  # 2 prompts x 3 copies
        out = proc(ids, torch.zeros(6, WIDTH))
        for i in range(6):
            allowed = _allowed(out[i])
            assert (one in allowed) == (i < 3) and (paren in allowed) == (i >= 3), i
        # rows reorder within their prompt's block, as beams do
        nxt = torch.cat([ids[[2, 0, 0, 5, 3, 3]], torch.tensor([[one]] * 3 + [[paren]] * 3)], 1)
        out = proc(nxt, torch.zeros(6, WIDTH))
        for i in range(3):
            assert two in _allowed(out[i])
        for i in range(3, 6):
            assert _allowed(out[i]) == [EOS]
    # distinct prompts: a row is matched to its parent by prefix wherever it moved
    proc = structgen.LogitsProcessor([a, b])
    proc(torch.tensor([[3], [4]]), torch.zeros(2, WIDTH))
    out = proc(torch.tensor([[4, paren], [3, one]]), torch.zeros(2, WIDTH))
    assert _allowed(out[0]) == [EOS] and two in _allowed(out[1])


def test_constraint_list_must_divide_the_batch():
    a = structgen.compile(regular_grammar(Text("12")), vocabulary=VOCAB)
    proc = structgen.LogitsProcessor([a, a])
    with pytest.raises(structgen.StructgenError, match="not a multiple"):
        proc(torch.tensor([[3]] * 3), torch.zeros(3, WIDTH))
    with pytest.raises(ValueError, match="at least one"):
        structgen.LogitsProcessor([])
    with pytest.raises(ValueError, match="max_new_tokens"):
        structgen.LogitsProcessor(a, max_new_tokens=0)


# ---- budgets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_budget_steering_always_completes(name):
    """Random walks under a budget: every row ends complete within max_new_tokens, in every
    dtype, as long as the budget covers the shortest completion."""
    grammar, ok, _ = GRAMMARS[name]
    compiled = structgen.compile(grammar, vocabulary=VOCAB)
    need = compiled.matcher().tokens_to_complete()
    rng = random.Random(hash(name) & 0xFFFF)
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        for budget in sorted({max(int(need), 1), int(need) + 1, int(need) + 3, int(need) + 9}):
            proc = structgen.LogitsProcessor(compiled, max_new_tokens=budget, margin=2)
            ids = torch.tensor([[7]] * 4)
            for _ in range(budget):
                if ids.shape[1] > 1 and all(t in (EOS, PAD) for t in ids[:, -1].tolist()):
                    break  # every row ended: generate() stops
                out = proc(ids, torch.randn(ids.shape[0], WIDTH).to(dtype))
                assert out.dtype == dtype
                nxt = []
                for i in range(ids.shape[0]):
                    allowed = _allowed(out[i])
                    if ids[i, -1] in (EOS, PAD) and ids.shape[1] > 1:
                        nxt.append(PAD)
                        continue
                    nxt.append(
                        EOS if EOS in allowed and rng.random() < 0.2 else rng.choice(allowed)
                    )
                ids = torch.cat([ids, torch.tensor(nxt)[:, None]], 1)
            for row in ids.tolist():
                m = compiled.matcher()
                for t in row[1:]:
                    if t == PAD:
                        break
                    assert m.advance(t)
                assert m.is_accepting(), (name, budget, _text(row, 1))
                if EOS in row:
                    assert ok(_text(row, 1))


def test_budget_is_not_consulted_while_there_is_room():
    compiled = structgen.compile(GRAMMARS["arith"][0], vocabulary=VOCAB)
    free = structgen.LogitsProcessor(compiled)
    roomy = structgen.LogitsProcessor(compiled, max_new_tokens=1000)
    ids = torch.tensor([[1]])
    assert torch.equal(free(ids, torch.zeros(1, WIDTH)), roomy(ids, torch.zeros(1, WIDTH)))
    tight = structgen.LogitsProcessor(compiled, max_new_tokens=1)
    allowed = _allowed(tight(ids, torch.zeros(1, WIDTH))[0])
    # one token left: only tokens that complete an expression on their own
    assert allowed and len(allowed) < len(_allowed(free(ids, torch.zeros(1, WIDTH))[0]))
    for t in allowed:
        m = compiled.matcher()
        assert m.advance(t) and m.is_accepting()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_cuda_logits_keep_device_and_dtype(dtype):
    dtype = getattr(torch, dtype)
    compiled = structgen.compile(GRAMMARS["arith"][0], vocabulary=VOCAB)
    proc = structgen.LogitsProcessor(compiled, max_new_tokens=3, margin=0)
    ids = torch.tensor([[1]] * 2, device="cuda")
    scores = torch.randn(2, WIDTH, device="cuda").to(dtype)
    out = proc(ids, scores)
    assert out.device == scores.device and out.dtype == dtype
    for t in torch.nonzero(torch.isfinite(out[0])).flatten().tolist():
        m = compiled.matcher()
        assert m.advance(t) and m.tokens_to_complete() <= 2
