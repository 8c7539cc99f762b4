"""JSON number texts as IR regular expressions, with exact value constraints.

Every function returns a terminal expression (``structgen.ir``) over the characters of a
JSON number text. Value constraints are decided on the number's exact decimal value, never
through binary floats.

Number syntax (see the package docstring):

* an unconstrained ``number`` is any JSON number text (:data:`JSON_NUMBER`);
* as soon as a value constraint applies (``integer``, bounds, ``multipleOf``, ``const`` /
  ``enum``), the admitted texts are the *canonical* ones: plain decimals
  ``-?(0|[1-9][0-9]*)(\\.[0-9]+)?`` and normalized scientific notation
  ``-?[1-9](\\.[0-9]+)?[eE][+-]?[0-9]+`` (one non-zero digit before the point), which is
  what ``json.dumps`` and ``JSON.stringify`` write. A value is *integral* when its decimal
  value is (``1.0``, ``1.5e1``), with at most :data:`MAX_SCI_FRACTION` significant
  fraction digits in scientific notation.

Bounds are built as "magnitude >= a" / "magnitude > a" languages over unsigned texts,
intersected (``ir.And``) with the canonical syntax; "<=" and "<" are complements inside it
(``ir.Not``), which the engine evaluates exactly.
"""

from __future__ import annotations

from decimal import Context, Decimal, localcontext
from fractions import Fraction
from functools import lru_cache

from .. import ir
from ..ir import And, Not, Repeat, Text, alt, seq

#: scientific-notation texts are admitted as integers with at most this many significant
#: fraction digits (``1.2345e4`` has 4)
MAX_SCI_FRACTION = 32

DIGIT = ir.Chars(((0x30, 0x39),))
NZDIGIT = ir.Chars(((0x31, 0x39),))
DIGITS = ir.Repeat(DIGIT, 1, None)
ANY_DIGITS = ir.Repeat(DIGIT, 0, None)
EXP_MARK = ir.Chars(((0x45, 0x45), (0x65, 0x65)))  # [Ee]
SIGN = ir.Chars(((0x2B, 0x2B), (0x2D, 0x2D)))  # [+-]
FRAC = seq(Text("."), DIGITS)
UINT = alt(Text("0"), seq(NZDIGIT, ANY_DIGITS))  # canonical unsigned integer
EXPONENT = seq(EXP_MARK, ir.opt(SIGN), DIGITS)

#: any JSON number text
JSON_NUMBER = seq(ir.opt(Text("-")), UINT, ir.opt(FRAC), ir.opt(EXPONENT))
#: unsigned canonical texts: plain decimals and normalized scientific notation
PLAIN = seq(UINT, ir.opt(FRAC))
SCI = seq(NZDIGIT, ir.opt(FRAC), EXPONENT)
UNSIGNED = alt(PLAIN, SCI)
#: the canonical spelling of ``spelling="canonical"``: one text per decimal value, a plain
#: decimal without exponent, leading ``+``, leading zeros, trailing fraction zeros or ``-0``
#: (``0``, ``12``, ``-0.5``, ``1.25``; an integral value has no fraction: ``100``, not
#: ``100.0``)
CANONICAL = alt(
    Text("0"),
    seq(
        ir.opt(Text("-")),
        alt(
            seq(NZDIGIT, ANY_DIGITS, ir.opt(seq(Text("."), ANY_DIGITS, NZDIGIT))),
            seq(Text("0."), ANY_DIGITS, NZDIGIT),
        ),
    ),
)


def digit_class(lo: int, hi: int) -> ir.Expr:
    if lo > hi:
        return ir.NOTHING
    if lo == hi:
        return Text(str(lo))
    return ir.Chars(((0x30 + lo, 0x30 + hi),))


def _digits(n: int) -> ir.Expr:
    if n <= 0:
        return ir.EMPTY
    return DIGIT if n == 1 else Repeat(DIGIT, n, n)


# --------------------------------------------------------------------------- integers


def _fixed_gt(s: str, first_min: int = 0) -> ir.Expr:
    """Digit strings of len(s) whose value is > s (first digit at least ``first_min``)."""
    alts = []
    n = len(s)
    for i, ch in enumerate(s):
        d = int(ch)
        lo = max(d + 1, first_min if i == 0 else 0)
        if lo <= 9:
            alts.append(seq(Text(s[:i]) if i else ir.EMPTY, digit_class(lo, 9), _digits(n - i - 1)))
    return alt(*alts) if alts else ir.NOTHING


def _fixed_lt(s: str, first_min: int = 0) -> ir.Expr:
    """Digit strings of len(s) whose value is < s (first digit at least ``first_min``)."""
    alts = []
    n = len(s)
    for i, ch in enumerate(s):
        d = int(ch)
        lo = first_min if i == 0 else 0
        if lo <= d - 1:
            alts.append(
                seq(Text(s[:i]) if i else ir.EMPTY, digit_class(lo, d - 1), _digits(n - i - 1))
            )
    return alt(*alts) if alts else ir.NOTHING


def uint_ge(x: int, leading_zeros: bool = False) -> ir.Expr:
    """Canonical unsigned integers (with ``leading_zeros``: any digit strings) >= x."""
    x = max(int(x), 0)
    s = str(x)
    n = len(s)
    if x == 0:
        body = UINT
    elif n == 1:
        body = alt(digit_class(x, 9), seq(NZDIGIT, Repeat(DIGIT, 1, None)))
    else:
        body = alt(
            Text(s),
            _fixed_gt(s, first_min=1),
            seq(NZDIGIT, Repeat(DIGIT, n, None)),
        )
    return seq(Repeat(Text("0"), 0, None), body) if leading_zeros else body


def uint_le(x: int, leading_zeros: bool = False) -> ir.Expr:
    """Canonical unsigned integers (with ``leading_zeros``: any digit strings) <= x."""
    if x < 0:
        return ir.NOTHING
    s = str(x)
    n = len(s)
    if n == 1:
        body = digit_class(0, x)
    else:
        parts = [Text("0"), Text(s), _fixed_lt(s, first_min=1)]
        if n >= 2:
            parts.append(seq(NZDIGIT, Repeat(DIGIT, 0, n - 2)))
        body = alt(*parts)
    return seq(Repeat(Text("0"), 0, None), body) if leading_zeros else body


def exp_ge(x: int) -> ir.Expr:
    """Exponent digits ``[+-]?[0-9]+`` (leading zeros allowed) whose value is >= x."""
    plus = ir.opt(Text("+"))
    if x <= 0:
        return alt(seq(plus, DIGITS), seq(Text("-"), uint_le(-x, leading_zeros=True)))
    return seq(plus, uint_ge(x, leading_zeros=True))


def exp_eq(x: int) -> ir.Expr:
    zeros = Repeat(Text("0"), 0, None)
    if x == 0:
        return seq(ir.opt(SIGN), Repeat(Text("0"), 1, None))
    if x > 0:
        return seq(ir.opt(Text("+")), zeros, Text(str(x)))
    return seq(Text("-"), zeros, Text(str(-x)))


# --------------------------------------------------------------------------- decimals


def split_decimal(a: Decimal) -> tuple[str, str]:
    """(integer digits, fraction digits without trailing zeros) of a >= 0."""
    a = Decimal(a)
    t = format(a, "f")
    if "." in t:
        i, f = t.split(".")
    else:
        i, f = t, ""
    i = i.lstrip("0") or "0"
    return i, f.rstrip("0")


def _frac_ge(s: str, strict: bool) -> ir.Expr:
    """Fraction digit strings F (non-empty) with 0.F >= 0.s (> when ``strict``)."""
    alts = []
    for i, ch in enumerate(s):
        d = int(ch)
        if d < 9:
            alts.append(seq(Text(s[:i]) if i else ir.EMPTY, digit_class(d + 1, 9), ANY_DIGITS))
    if strict:
        alts.append(seq(Text(s) if s else ir.EMPTY, ANY_DIGITS, NZDIGIT, ANY_DIGITS))
    else:
        alts.append(seq(Text(s), ANY_DIGITS) if s else DIGITS)
    return alt(*alts)


def plain_ge(a: Decimal, strict: bool = False, single_digit: bool = False) -> ir.Expr:
    """Plain texts ``I(.F)?`` whose value is >= a (> a when ``strict``); a >= 0.

    ``single_digit``: the integer part is one digit 1-9 (a scientific mantissa)."""
    ai, af = split_decimal(a)
    opt_frac = ir.opt(FRAC)
    if single_digit:
        gt_int = digit_class(max(int(ai) + 1, 1), 9) if len(ai) == 1 else ir.NOTHING
    else:
        gt_int = uint_ge(int(ai) + 1)
    alts = [seq(gt_int, opt_frac)]
    if not single_digit or (len(ai) == 1 and ai != "0"):
        if not af and not strict:
            alts.append(seq(Text(ai), opt_frac))
        else:
            alts.append(seq(Text(ai), Text("."), _frac_ge(af, strict)))
    elif single_digit and ai == "0":
        # mantissa >= 0.x: every mantissa 1-9 is greater
        alts = [seq(NZDIGIT, opt_frac)]
    return alt(*alts)


def normalize(a: Decimal) -> tuple[Decimal, int]:
    """a > 0 as (m, e) with a = m * 10**e and 1 <= m < 10."""
    sign, digits, exp = Decimal(a).normalize(_CTX).as_tuple()
    e = len(digits) + exp - 1
    m = Decimal((0, digits, -(len(digits) - 1)))
    return m, e


def sci_ge(a: Decimal, strict: bool = False) -> ir.Expr:
    """Scientific texts ``d(.F)?[eE]E`` (d in 1-9) whose value is >= a (> a); a >= 0."""
    if a == 0:
        return SCI
    m, e = normalize(a)
    head = seq(NZDIGIT, ir.opt(FRAC), EXP_MARK)
    return alt(
        seq(head, exp_ge(e + 1)),
        seq(plain_ge(m, strict, single_digit=True), EXP_MARK, exp_eq(e)),
    )


def mag_ge(a: Decimal, strict: bool = False) -> ir.Expr:
    """Unsigned canonical texts whose value is >= a (> a when ``strict``); a >= 0."""
    return alt(plain_ge(a, strict), sci_ge(a, strict))


# --------------------------------------------------------------------------- integral, multipleOf

INTEGRAL_PLAIN = seq(UINT, ir.opt(seq(Text("."), Repeat(Text("0"), 1, None))))


@lru_cache(maxsize=64)
def integral_sci(extra_zeros: int = 0) -> ir.Expr:
    """Scientific texts whose value is an integer with ``extra_zeros`` more trailing zeros
    (exponent >= significant fraction digits + extra_zeros)."""
    alts = [seq(ir.opt(seq(Text("."), Repeat(Text("0"), 1, None))), EXP_MARK, exp_ge(extra_zeros))]
    for f in range(1, MAX_SCI_FRACTION + 1):
        alts.append(
            seq(
                Text("."),
                _digits(f - 1),
                NZDIGIT,
                Repeat(Text("0"), 0, None),
                EXP_MARK,
                exp_ge(f + extra_zeros),
            )
        )
    return seq(NZDIGIT, alt(*alts))


INTEGRAL = alt(INTEGRAL_PLAIN, integral_sci(0))

# digit sum divisible by 3 ('.' counts as a zero): Z = [0369.], O = [147], T = [258]
_Z = ir.Chars(((0x2E, 0x2E), (0x30, 0x30), (0x33, 0x33), (0x36, 0x36), (0x39, 0x39)))
_O = ir.Chars(((0x31, 0x31), (0x34, 0x34), (0x37, 0x37)))
_T = ir.Chars(((0x32, 0x32), (0x35, 0x35), (0x38, 0x38)))
_ZS = Repeat(_Z, 0, None)
DIGIT_SUM_MOD3 = Repeat(
    alt(
        _Z,
        seq(_O, _ZS, _T),
        seq(
            alt(_T, seq(_O, _ZS, _O)),
            Repeat(alt(_Z, seq(_T, _ZS, _O)), 0, None),
            alt(_O, seq(_T, _ZS, _T)),
        ),
    ),
    0,
    None,
)

_MAX_SUFFIXES = 2000


def _factor_2_5(k: int) -> tuple[int, int, int]:
    a = b = 0
    while k % 2 == 0:
        k //= 2
        a += 1
    while k % 5 == 0:
        k //= 5
        b += 1
    return a, b, k


def multiple_supported(k) -> str | None:
    """None when ``multipleOf: k`` can be enforced exactly, else the reason."""
    if isinstance(k, bool) or not isinstance(k, (int, float)):
        return "multipleOf must be a number"
    if isinstance(k, float) and not k.is_integer():
        return f"multipleOf {k} is not an integer"
    k = int(k)
    if k <= 0:
        return "multipleOf must be positive"
    a, b, r = _factor_2_5(k)
    if r not in (1, 3):
        return f"multipleOf {k}: only 2^a*5^b*(1 or 3) are supported"
    s = max(a, b)
    if 10**s // (2**a * 5**b) > _MAX_SUFFIXES:
        return f"multipleOf {k} is too large"
    return None


def _trie(strings: list[str]) -> ir.Expr:
    """A compact regex for a finite set of strings (a trie, common prefixes shared)."""
    if not strings:
        return ir.NOTHING
    groups: dict[str, list[str]] = {}
    end = False
    for s in strings:
        if not s:
            end = True
        else:
            groups.setdefault(s[0], []).append(s[1:])
    # merge first characters that lead to the same sub-trie
    by_rest: dict[tuple, list[str]] = {}
    for c, rest in groups.items():
        by_rest.setdefault(tuple(sorted(set(rest))), []).append(c)
    alts = []
    for rest, cs in by_rest.items():
        head = Text(cs[0]) if len(cs) == 1 else ir.Chars.of((ord(c), ord(c)) for c in cs)
        alts.append(seq(head, _trie(list(rest))))
    if end:
        alts.append(ir.EMPTY)
    return alt(*alts)


@lru_cache(maxsize=64)
def multiple_of(k: int) -> ir.Expr:
    """Unsigned canonical texts of integers divisible by k (see :func:`multiple_supported`).

    Scientific notation is exact up to :data:`MAX_SCI_FRACTION` significant fraction digits."""
    a, b, r = _factor_2_5(k)
    s = max(a, b)
    m = 2**a * 5**b
    if s == 0:
        plain = INTEGRAL_PLAIN
    else:
        suffixes = [str(v).zfill(s) for v in range(0, 10**s, m)]
        short = [str(v) for v in range(0, 10 ** (s - 1), m)]
        tail = alt(seq(ANY_DIGITS, _trie(suffixes)), _trie(short))
        plain = And((INTEGRAL_PLAIN, seq(tail, ir.opt(seq(Text("."), Repeat(Text("0"), 1, None))))))
    sci = [integral_sci(s)]
    zeros = Repeat(Text("0"), 0, None)
    for j in range(s):  # exponent = significant fraction digits + j: few trailing zeros
        mj = 2 ** max(a - j, 0) * 5 ** max(b - j, 0)
        lj = max(a - j, b - j)
        sufs = [str(v).zfill(lj) for v in range(mj, 10**lj, mj) if v % 10]
        for f in range(0, MAX_SCI_FRACTION + 1):
            if f == 0:
                mant = seq(
                    _trie([str(d) for d in range(1, 10) if d % mj == 0]),
                    ir.opt(seq(Text("."), Repeat(Text("0"), 1, None))),
                )
            elif f + 1 <= lj:
                ms = [str(v) for v in range(10**f, 10 ** (f + 1)) if v % 10 and v % mj == 0]
                mant = seq(_trie([x[0] + "." + x[1:] for x in ms]), zeros)
            else:
                mant = seq(NZDIGIT, Text("."), _digits(f - lj), _trie(sufs), zeros)
            sci.append(seq(mant, EXP_MARK, exp_eq(f + j)))
    out = alt(plain, *sci)
    if r == 3:
        out = And((out, seq(DIGIT_SUM_MOD3, ir.opt(EXPONENT))))
    return out


def decimal_places(k) -> int | None:
    """``e`` when ``k`` is ``10**-e`` (``0.1``, ``0.01``...; e >= 1), else None."""
    if isinstance(k, bool) or not isinstance(k, float) or not k > 0 or k.is_integer():
        return None
    d = Decimal(repr(k)).normalize()
    sign, digits, exp = d.as_tuple()
    if digits == (1,) and exp < 0:
        return -exp
    return None


@lru_cache(maxsize=64)
def max_decimals(e: int) -> ir.Expr:
    """Unsigned canonical texts whose value has at most ``e`` digits after the decimal point
    (a multiple of ``10**-e``). Scientific notation is exact up to :data:`MAX_SCI_FRACTION`
    significant fraction digits, as for integers."""
    zeros = Repeat(Text("0"), 0, None)
    plain = seq(UINT, ir.opt(seq(Text("."), Repeat(DIGIT, 1, e), zeros)))
    alts = [seq(NZDIGIT, ir.opt(seq(Text("."), Repeat(Text("0"), 1, None))), EXP_MARK, exp_ge(-e))]
    for f in range(1, MAX_SCI_FRACTION + 1):
        # f significant fraction digits: the value has max(f - exponent, 0) decimals
        alts.append(
            seq(NZDIGIT, Text("."), _digits(f - 1), NZDIGIT, zeros, EXP_MARK, exp_ge(f - e))
        )
    return alt(plain, *alts)


# --------------------------------------------------------------------------- signed ranges


def _to_decimal(x) -> Decimal | None:
    if x is None:
        return None
    if isinstance(x, Decimal):
        return x
    if isinstance(x, float):
        return Decimal(repr(x))
    if isinstance(x, Fraction):
        raise TypeError("fractions are not supported")
    return Decimal(x)


def _magnitude(lo, lo_x, hi, hi_x, extra) -> ir.Expr:
    """Unsigned canonical texts with lo <(=) value <(=) hi (lo >= 0 known; hi may be None)."""
    if hi is not None and (hi < lo or (hi == lo and (lo_x or hi_x))):
        return ir.NOTHING
    parts = [UNSIGNED]
    if lo > 0 or lo_x:
        parts.append(mag_ge(lo, strict=lo_x))
    if hi is not None:
        parts.append(Not(mag_ge(hi, strict=not hi_x)))
    parts.extend(extra)
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def number_text(
    minimum=None,
    exclusive_minimum: bool = False,
    maximum=None,
    exclusive_maximum: bool = False,
    integer: bool = False,
    multiple: int | None = None,
    decimals: int | None = None,
) -> ir.Expr:
    """JSON number texts whose exact value satisfies the constraints.

    With no constraint at all this is :data:`JSON_NUMBER`; otherwise canonical texts only
    (module docstring). ``multiple`` implies ``integer``."""
    with localcontext(_CTX):
        return _number_text(
            _to_decimal(minimum),
            exclusive_minimum,
            _to_decimal(maximum),
            exclusive_maximum,
            integer,
            multiple,
            decimals,
        )


_CTX = Context(prec=100_000)


def _number_text(
    lo, exclusive_minimum, hi, exclusive_maximum, integer, multiple, decimals=None
) -> ir.Expr:
    if lo is None and hi is None and not integer and multiple is None and decimals is None:
        return JSON_NUMBER
    extra: list[ir.Expr] = []
    if decimals is not None and not integer and multiple is None:
        extra.append(max_decimals(decimals))
    if multiple is not None and multiple != 1:
        extra.append(multiple_of(int(multiple)))
    elif integer or multiple == 1:
        extra.append(INTEGRAL)
    # positive texts (no sign): value = magnitude
    if lo is None or lo < 0:
        p_lo, p_lo_x = Decimal(0), False
    else:
        p_lo, p_lo_x = lo, exclusive_minimum
    if hi is not None and (hi < 0 or (hi == 0 and exclusive_maximum)):
        pos = ir.NOTHING
    else:
        pos = _magnitude(p_lo, p_lo_x, hi, exclusive_maximum, extra)
    # negative texts: value = -magnitude
    if hi is None or hi > 0:
        n_lo, n_lo_x = Decimal(0), False
    else:
        n_lo, n_lo_x = -hi, exclusive_maximum
    n_hi = None if lo is None else -lo
    if n_hi is not None and (n_hi < 0 or (n_hi == 0 and exclusive_minimum)):
        neg = ir.NOTHING
    else:
        neg = _magnitude(n_lo, n_lo_x, n_hi, exclusive_minimum, extra)
    items = []
    if pos != ir.NOTHING:
        items.append(pos)
    if neg != ir.NOTHING:
        items.append(seq(Text("-"), neg))
    return alt(*items) if items else ir.NOTHING


def value_text(v) -> ir.Expr:
    """Canonical texts of numbers equal to ``v`` (an int or float)."""
    return number_text(minimum=v, maximum=v)
