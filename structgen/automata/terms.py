"""Byte-level regular expressions as hash-consed terms with Brzozowski derivatives.

A terminal's DFA is built lazily from derivatives: a DFA state *is* a term (the language
of what may still follow), so nothing is computed for states never reached, bounded
repeats count down (``R{0,999}`` derives to ``R'·R{0,998}``) instead of being unrolled,
and intersection / complement come for free.

Terms are interned: structurally equal terms are the same object, so identity is
equality and hashing is cheap. Simplification (flattening, ACI for alternation and
intersection, identities for the empty string and the empty language) keeps the set of
derivatives of any term finite.
"""

from __future__ import annotations

import weakref

from .. import deadline

ALL_BYTES = (1 << 256) - 1

# kinds
K_EMPTY, K_EPS, K_BYTES, K_CAT, K_ALT, K_AND, K_NOT, K_REP = range(8)

_intern: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_counter = [0]


def built() -> int:
    """How many terms were built so far (in this process): the difference over a piece of
    work is the memory it added."""
    return _counter[0]


class Term:
    """An interned regular expression over bytes. Create through the module functions."""

    __slots__ = (
        "kind",
        "a",
        "b",
        "lo",
        "hi",
        "nullable",
        "boolean",
        "uid",
        "size",
        "maxcnt",
        "_deriv",
        "_classes",
        "_first",
        "_alpha",
        "_prod",
        "__weakref__",
    )

    def __repr__(self) -> str:
        return f"Term({to_text(self)})"


def _mk(kind: int, a=None, b=None, lo: int = 0, hi: int = 0) -> Term:
    key = (kind, a, b, lo, hi)
    t = _intern.get(key)
    if t is not None:
        return t
    _counter[0] += 1
    if not _counter[0] & 255:
        deadline.check()  # (a term is built per new derivative: the loop every phase runs)
    t = Term()
    t.kind, t.a, t.b, t.lo, t.hi = kind, a, b, lo, hi
    t.uid = _counter[0]
    t._deriv = {}
    t._classes = None
    t._first = None
    t._alpha = None
    t._prod = None  # whether the language is non-empty, once known (see dfa.is_productive)
    t.maxcnt = 0
    if kind == K_EMPTY or kind == K_BYTES:
        t.nullable = False
        t.boolean = False
        t.size = 1
    elif kind == K_EPS:
        t.nullable = True
        t.boolean = False
        t.size = 1
    elif kind == K_CAT:
        t.nullable = a.nullable and b.nullable
        t.boolean = a.boolean or b.boolean
        t.size = a.size + b.size + 1
        t.maxcnt = max(a.maxcnt, b.maxcnt)
    elif kind == K_ALT:
        t.nullable = any(x.nullable for x in a)
        t.boolean = any(x.boolean for x in a)
        t.size = sum(x.size for x in a) + 1
        t.maxcnt = max(x.maxcnt for x in a)
    elif kind == K_AND:
        t.nullable = all(x.nullable for x in a)
        t.boolean = True
        t.size = sum(x.size for x in a) + 1
    elif kind == K_NOT:
        t.nullable = not a.nullable
        t.boolean = True
        t.size = a.size + 1
    else:  # K_REP
        t.nullable = lo == 0 or a.nullable
        t.boolean = a.boolean
        t.size = a.size + 1
        t.maxcnt = max(a.maxcnt, lo, hi)
    _intern[key] = t
    return t


EMPTY = _mk(K_EMPTY)  # the empty language
EPS = _mk(K_EPS)  # the empty string
_KEEP = [EMPTY, EPS]  # never collected


def byteset(mask: int) -> Term:
    """One byte out of ``mask`` (bit i set = byte i allowed)."""
    if mask == 0:
        return EMPTY
    return _mk(K_BYTES, mask & ALL_BYTES)


def byte_range(lo: int, hi: int) -> Term:
    return byteset(((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1))


def literal(data: bytes) -> Term:
    t = EPS
    for c in reversed(data):
        t = cat(byteset(1 << c), t)
    return t


def cat(x: Term, y: Term) -> Term:
    if x is EMPTY or y is EMPTY:
        return EMPTY
    if x is EPS:
        return y
    if y is EPS:
        return x
    if x.kind == K_CAT:  # right-associate
        return cat(x.a, cat(x.b, y))
    return _mk(K_CAT, x, y)


def seq(*items: Term) -> Term:
    t = EPS
    for x in reversed(items):
        t = cat(x, t)
    return t


def alt(*items: Term) -> Term:
    return alt_of(items)


def alt_of(items) -> Term:
    flat: set[Term] = set()
    bytes_mask = 0
    for x in items:
        if x is EMPTY:
            continue
        if x.kind == K_ALT:
            for y in x.a:
                if y.kind == K_BYTES:
                    bytes_mask |= y.a
                else:
                    flat.add(y)
        elif x.kind == K_BYTES:
            bytes_mask |= x.a
        else:
            flat.add(x)
    if bytes_mask:
        flat.add(byteset(bytes_mask))
    if not flat:
        return EMPTY
    if len(flat) == 1:
        return next(iter(flat))
    return _mk(K_ALT, frozenset(flat))


def neg(x: Term) -> Term:
    if x.kind == K_NOT:
        return x.a
    return _mk(K_NOT, x)


TOP = neg(EMPTY)  # every byte string
_KEEP.append(TOP)


def conj(*items: Term) -> Term:
    flat: set[Term] = set()
    for x in items:
        if x is EMPTY:
            return EMPTY
        if x is TOP:
            continue
        if x.kind == K_AND:
            flat.update(x.a)
        else:
            flat.add(x)
    if not flat:
        return TOP
    if len(flat) == 1:
        return next(iter(flat))
    return _mk(K_AND, frozenset(flat))


def rep(x: Term, lo: int, hi: int | None) -> Term:
    """``x{lo,hi}``; ``hi=None`` unbounded."""
    h = -1 if hi is None else hi
    if h != -1 and h < lo:
        return EMPTY
    if h == 0:
        return EPS
    if x is EMPTY:
        return EPS if lo == 0 else EMPTY
    if x is EPS:
        return EPS
    if lo == 1 and h == 1:
        return x
    if x.nullable:
        lo = 0
    if x.kind == K_REP:
        flat = _flat_rep(x, lo, h)
        if flat is not None:
            return rep(x.a, flat[0], None if flat[1] == -1 else flat[1])
    while lo == 0 and h == -1:
        # (y*)*, (y+)* and (y?)* are y*, and (y+|z)* is (y|z)*: an ignored blank folded
        # in front of a terminal, ([ \t]+)*, would otherwise after its first byte be a
        # term of its own, [ \t]*([ \t]+)*, and every terminal a state of its own
        # reading the same
        if _starred(x):
            x = x.a
        elif x.kind == K_ALT and any(_starred(m) for m in x.a):
            x = alt_of([m.a if _starred(m) else m for m in x.a])
        else:
            break
    return _mk(K_REP, x, None, lo, h)


def _flat_rep(x: Term, lo: int, h: int) -> tuple[int, int] | None:
    """``(y{a,b}){lo,h}`` as one count ``y{lo*a, h*b}`` (``-1``: unbounded) when that is
    the same language, else None. ``(y{a,b})^k`` is ``y{k*a, k*b}`` whatever ``y`` is, so
    the whole is the union of those intervals of counts for ``k`` in ``lo..h``: one
    interval when each meets the next, ``(k+1)*a <= k*b + 1``. Nested counters,
    ``((a{1,50}){1,50}){1,50}``, would otherwise derive to a state per way of splitting
    the text read so far into the three counts (millions of terms)."""
    a, b = x.lo, x.hi
    if h == -1 and lo == 0 and a <= 1:
        return None  # (a star: left to the rules below)
    k = max(lo, 1)
    if lo == 0 and a > 1:
        return None  # {0} and {a..b} do not meet
    if h != k:  # intervals k and k+1 must meet (the gap only shrinks as k grows)
        if b == -1:
            pass
        elif (k + 1) * a > k * b + 1:
            return None
    hi = -1 if (h == -1 or b == -1) else h * b
    return lo * a, hi


def _starred(x: Term) -> bool:
    """Whether ``x`` is ``y{0,n}`` or ``y{1,n}`` (``y*``, ``y+``, ``y?``...): inside a
    star, the same as ``y``."""
    return x.kind == K_REP and x.lo <= 1


def star(x: Term) -> Term:
    return rep(x, 0, None)


def deriv(t: Term, c: int) -> Term:
    """The Brzozowski derivative of ``t`` by byte ``c`` (memoised on the term)."""
    d = t._deriv.get(c)
    if d is not None:
        return d
    k = t.kind
    if k == K_BYTES:
        d = EPS if (t.a >> c) & 1 else EMPTY
    elif k == K_EMPTY or k == K_EPS:
        d = EMPTY
    elif k == K_CAT:
        d = cat(deriv(t.a, c), t.b)
        if t.a.nullable:
            d = alt(d, deriv(t.b, c))
    elif k == K_ALT:
        d = alt_of([deriv(x, c) for x in t.a])
    elif k == K_AND:
        d = conj(*[deriv(x, c) for x in t.a])
    elif k == K_NOT:
        d = neg(deriv(t.a, c))
    else:  # K_REP
        hi = -1 if t.hi == -1 else t.hi - 1
        rest = rep(t.a, max(t.lo - 1, 0), None if hi == -1 else hi)
        d = cat(deriv(t.a, c), rest)
    t._deriv[c] = d
    return d


def first_masks(t: Term) -> frozenset:
    """The byte sets that can begin ``t`` (memoised on the term)."""
    f = t._first
    if f is not None:
        return f
    k = t.kind
    if k == K_BYTES:
        f = frozenset((t.a,))
    elif k == K_CAT:
        f = first_masks(t.a)
        if t.a.nullable:
            f = f | first_masks(t.b)
    elif k == K_ALT or k == K_AND:
        f = frozenset().union(*[first_masks(x) for x in t.a])
    elif k == K_NOT or k == K_REP:
        f = first_masks(t.a)
    else:
        f = frozenset()
    t._first = f
    return f


def alphabet(t: Term) -> int:
    """A byte mask holding every byte that can occur in a string of ``t`` (an
    over-approximation under ``~``: every byte)."""
    m = t._alpha
    if m is not None:
        return m
    k = t.kind
    if k == K_BYTES:
        m = t.a
    elif k == K_CAT:
        m = alphabet(t.a) | alphabet(t.b)
    elif k == K_ALT or k == K_AND:
        m = 0
        for x in t.a:
            m |= alphabet(x)
    elif k == K_NOT:
        m = ALL_BYTES
    elif k == K_REP:
        m = alphabet(t.a)
    else:
        m = 0
    t._alpha = m
    return m


_NO_ALPHAS: frozenset = frozenset()


def capped(t: Term, cap, memo: dict) -> tuple[Term, frozenset]:
    """``t`` with the counts of its bounded repeats clamped, to key per-token results.

    ``cap(alphabet)`` is a count ``C`` such that, apart from a few *exceptional* tokens,
    no token holds ``C`` consecutive bytes of ``alphabet``. Reading a token, a repeat
    ``X{lo,hi}`` starts at most one iteration per byte, and the bytes from its first to
    its last started iteration all lie in the alphabet of ``X``; so fewer than ``C``
    iterations start inside an unexceptional token, and ``X{min(lo,C),min(hi,C)}``
    accepts, dies and ends at exactly the same bytes of it as ``X{lo,hi}`` (neither count
    runs out before the token does, or both do at the same byte). Under ``&`` and ``~``
    nothing is clamped: emptiness there depends on the whole future, not on one token.

    Returns the clamped term and the alphabets of the repeats whose counts reach their
    ``C`` (possibly clamped): the exceptional tokens of those alphabets must be walked
    from the real state. The term is a key, never a DFA state."""
    if t.maxcnt <= 1 or t.kind == K_AND or t.kind == K_NOT:
        return t, _NO_ALPHAS
    r = memo.get(t)
    if r is not None:
        return r
    k = t.kind
    alphas = _NO_ALPHAS
    if k == K_CAT:
        items = []
        x = t
        while x.kind == K_CAT:
            items.append(x.a)
            x = x.b
        items.append(x)
        out = EPS
        for y in reversed(items):
            cy, ay = capped(y, cap, memo)
            out = cat(cy, out)
            if ay:
                alphas = alphas | ay
    elif k == K_ALT:
        parts = []
        for x in t.a:
            cx, ax = capped(x, cap, memo)
            parts.append(cx)
            if ax:
                alphas = alphas | ax
        out = alt_of(parts)
    else:  # K_REP
        inner, alphas = capped(t.a, cap, memo)
        alpha = alphabet(t.a)
        c = cap(alpha)
        if t.lo >= c or t.hi >= c:
            alphas = alphas | {alpha}
        hi = t.hi if t.hi == -1 else min(t.hi, c)
        out = rep(inner, min(t.lo, c), None if hi == -1 else hi)
    r = (out, alphas)
    memo[t] = r
    return r


class Partition:
    """Bytes grouped into classes with equal derivatives: ``reps[k]`` is a representative
    byte of class k and ``index[b]`` the class of byte b (a numpy array)."""

    __slots__ = ("classes", "reps", "index", "lindex")


_PARTITIONS: dict[frozenset, Partition] = {}


def _refine(masks) -> list[int]:
    """The coarsest partition of the 256 bytes (as bit masks) that splits no byte set of
    ``masks``: bytes of one class are in the same sets."""
    classes = [ALL_BYTES]
    for m in masks:
        if m == ALL_BYTES:
            continue
        nxt = []
        for c in classes:
            i = c & m
            if i and i != c:
                nxt.append(i)
                nxt.append(c & ~m)
            else:
                nxt.append(c)
        classes = nxt
    return classes


def byte_members(mask: int):
    """The bytes of a 256-bit byte mask, as a numpy bool[256]."""
    import numpy as np

    raw = np.frombuffer(mask.to_bytes(32, "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little").astype(bool)


def partition(t: Term) -> Partition:
    p = t._classes
    if p is not None:
        return p
    fm = first_masks(t)
    p = _PARTITIONS.get(fm)
    if p is None:
        classes = _refine(fm)
        import numpy as np

        index = np.zeros(256, dtype=np.int64)
        for k, c in enumerate(classes):
            index[byte_members(c)] = k
        p = Partition()
        p.classes = classes
        p.reps = [(c & -c).bit_length() - 1 for c in classes]
        p.index = index
        p.lindex = index.tolist()
        if len(_PARTITIONS) > 20_000:
            _PARTITIONS.clear()
        _PARTITIONS[fm] = p
    t._classes = p
    return p


def byte_classes(t: Term) -> list[int]:
    """A partition of the 256 bytes (as bit masks) such that bytes of one class have
    the same derivative."""
    return partition(t).classes


def deep_classes(t: Term) -> tuple[int, ...]:
    """A partition of the 256 bytes (as bit masks) such that bytes of one class are
    interchangeable everywhere in ``t``: in every string of it and in every derivative
    (derivatives are built from subterms, so they hold no byte set that ``t`` lacks).
    The refinement of every byte set in the term; sorted, so equal partitions are equal
    tuples."""
    masks: set[int] = set()
    seen: set[int] = set()
    stack = [t]
    while stack:
        x = stack.pop()
        if x.uid in seen:
            continue
        seen.add(x.uid)
        k = x.kind
        if k == K_BYTES:
            masks.add(x.a)
        elif k == K_CAT:
            stack.append(x.a)
            stack.append(x.b)
        elif k == K_ALT or k == K_AND:
            stack.extend(x.a)
        elif k == K_NOT or k == K_REP:
            stack.append(x.a)
    return tuple(sorted(_refine(masks)))


def matches(t: Term, data: bytes) -> bool:
    for c in data:
        t = deriv(t, c)
        if t is EMPTY:
            return False
    return t.nullable


def to_text(t: Term) -> str:
    k = t.kind
    if k == K_EMPTY:
        return "∅"
    if k == K_EPS:
        return "ε"
    if k == K_BYTES:
        bs = [i for i in range(256) if (t.a >> i) & 1]
        if len(bs) == 1:
            b = bs[0]
            return chr(b) if 0x21 <= b < 0x7F and chr(b) not in "\\[]()|*+?{}.&~" else f"\\x{b:02x}"
        return f"[{len(bs)} bytes]"
    if k == K_CAT:
        return to_text(t.a) + to_text(t.b)
    if k == K_ALT:
        return "(" + "|".join(sorted(to_text(x) for x in t.a)) + ")"
    if k == K_AND:
        return "(" + "&".join(sorted(to_text(x) for x in t.a)) + ")"
    if k == K_NOT:
        return "~(" + to_text(t.a) + ")"
    hi = "" if t.hi == -1 else str(t.hi)
    return f"({to_text(t.a)}){{{t.lo},{hi}}}"
