"""Lowering a JSON Schema document to the Grammar IR.

Every schema position is named by its JSON pointer in the document. A *conjunction* (a
sorted tuple of pointers, ``()`` being ``true``) stands for the ``allOf`` of those schemas;
each conjunction that a value position needs becomes one grammar rule, so ``$ref``
recursion becomes rule recursion. A conjunction is first flattened to a :class:`Node`
(``$ref``, ``allOf`` merged keyword by keyword, exactly), then lowered by JSON type:

* scalars become single terminals (a whole string value with its quotes; a whole number);
* objects and arrays become rules over punctuation terminals (with the bounded whitespace
  folded in), key terminals (quote, key, quote, colon) and the value rules;
* ``anyOf`` / provably disjoint ``oneOf`` and ``dependentRequired`` / ``dependentSchemas``
  become alternatives (each branch merged with its siblings);
* ``enum`` / ``const`` become the finite set of their values that satisfy the whole
  conjunction, checked with ``jsonschema`` itself.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass, field, replace
from decimal import Decimal

from .. import deadline, ir
from ..errors import LimitError, RegexError, SpecError, UnsupportedSchemaError
from ..ir import Ref, Repeat, Text, alt, seq
from ..limits import DEFAULT_LIMITS
from ..regex import Regex, class_end
from . import formats as F
from . import numbers as N
from . import strings as S
from .depth import check_value, too_deep
from .document import FALSE_PTR, Document, join, show
from .options import MAX_INDENT_DEPTH, MAX_WS, WS_CHAR, Layout, Options  # noqa: F401
from .recursion import shallow_call
from .values import unique

try:  # Python 3.11+
    from re import _constants as _c
    from re import _parser as _p
except ImportError:  # pragma: no cover
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

KINDS = frozenset({"null", "boolean", "object", "array", "string", "int", "frac"})
_TYPE_KINDS = {
    "null": {"null"},
    "boolean": {"boolean"},
    "object": {"object"},
    "array": {"array"},
    "string": {"string"},
    "number": {"int", "frac"},
    "integer": {"int"},
}

_WS_CHAR = WS_CHAR

ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "example",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$schema",
        "$id",
        "id",
        "$anchor",
        "$dynamicAnchor",
        "$recursiveAnchor",
        "$vocabulary",
        "$defs",
        "definitions",
        "contentMediaType",
        "contentEncoding",
        "contentSchema",
    }
)
#: keywords of the JSON Schema vocabularies that are never enforced here
REFUSED = frozenset(
    {
        "unevaluatedProperties",
        "unevaluatedItems",
        "$dynamicRef",
        "$recursiveRef",
    }
)

#: synthetic pointer prefix: the complement of the schema at the pointer that follows
NOT_PREFIX = "!not:"

#: objects with at most this many declared properties accept them in any order
ANY_ORDER_MAX = 6
#: larger objects with at most this many required keys (and no min/maxProperties) accept
#: their keys in any order too, a declared key possibly repeated
ANY_ORDER_REQUIRED_MAX = 8

_MAX_PATTERN_REGIONS = 4
#: seconds of emptiness checks (intersections of patterns, formats, complements) one
#: schema may spend before it is refused
EMPTINESS_BUDGET_S = 15.0
_MAX_UNIQUE_DOMAIN = 10
_MAX_ALTERNATIVES = 256
_MAX_COUNTED_RULES = 4000


_PUNCTUATION = ("LBRACE", "RBRACE", "EMPTY_OBJECT", "LBRACKET", "RBRACKET", "EMPTY_ARRAY", "COMMA")


def _complement_ptr(p: str) -> str:
    return p[len(NOT_PREFIX) :] if p.startswith(NOT_PREFIX) else NOT_PREFIX + p


class _NoComplement(UnsupportedSchemaError):
    """The complement of a schema cannot be written exactly."""

    def __init__(self, ptr: str, detail: str):
        ptr = _real(ptr)
        super().__init__(f"not at {show(ptr)} is not supported: {detail}")
        self.keyword = "not"
        self.pointer = show(ptr)
        self.ptr = ptr
        self.detail = detail


class SchemaApproximationWarning(UserWarning):
    """A keyword was ignored or approximated (``strict=False``)."""


def _real(ptr: str) -> str:
    """The document pointer behind a synthetic one (complements, pieces of a rewrite)."""
    while ptr.startswith("!") and ptr != FALSE_PTR:
        if ptr.startswith("!not:"):
            ptr = ptr[len("!not:") :]
        elif ptr.startswith("!part:"):
            ptr = ptr.split(":", 2)[2].rsplit("#", 1)[0]
        else:
            break
    return ptr


def _err(keyword: str, ptr: str, detail: str = "") -> UnsupportedSchemaError:
    ptr = _real(ptr)
    msg = f"{keyword} at {show(ptr)} is not supported"
    if detail:
        msg += f": {detail}"
    e = UnsupportedSchemaError(msg)
    e.keyword = keyword
    e.pointer = show(ptr)
    return e


def unsatisfiable(ptr: str, detail: str = "") -> UnsupportedSchemaError:
    ptr = _real(ptr)
    msg = f"the schema at {show(ptr)} is unsatisfiable"
    if detail:
        msg += f" ({detail})"
    e = UnsupportedSchemaError(msg)
    e.keyword = None
    e.pointer = show(ptr)
    return e


def conj(*parts) -> tuple:
    out = set()
    for p in parts:
        out.update(p)
    return tuple(sorted(out))


# --------------------------------------------------------------------------- nodes


@dataclass
class Node:
    """A flattened conjunction: constraints per JSON type, plus what lowers to alternatives."""

    ptr: str
    srcs: tuple = ()
    kinds: frozenset = KINDS
    enum: tuple | None = None
    # numbers
    lo: Decimal | None = None
    lo_x: bool = False
    hi: Decimal | None = None
    hi_x: bool = False
    mult: int | None = None
    decimals: int | None = None  # multipleOf 10**-decimals
    # strings
    min_len: int = 0
    max_len: int | None = None
    patterns: tuple = ()  # (pattern, ptr)
    formats: tuple = ()  # (name, ptr)
    not_patterns: tuple = ()  # (pattern, ptr): strings the pattern finds no match in
    not_formats: tuple = ()  # (name, ptr): strings that are not of the format
    # objects
    props: dict = field(default_factory=dict)  # name -> conj (insertion order = key order)
    required: tuple = ()
    layers: tuple = ()  # ((pattern, conj, ptr)...), additional conj, additional explicit
    prop_names: tuple = ()
    min_props: int = 0
    max_props: int | None = None
    # arrays
    prefix: tuple = ()
    rest: tuple = ()
    min_items: int = 0
    max_items: int | None = None
    unique: bool = False  # uniqueItems: true
    contains: tuple = ()  # (pointer, min, max or None): min <= #items matching <= max
    # alternatives and exclusions
    groups: tuple = ()  # tuple of tuples of branch pointers (anyOf)
    deps: tuple = ()  # (key, required names tuple, schema conj or None, ptr)
    not_values: tuple = ()  # excluded scalar values
    forbidden: tuple = ()  # keys that must be absent

    def eff(self, key: str) -> tuple:
        """The conjunction a property ``key`` must satisfy."""
        if key in self.props:
            return self.props[key]
        out: tuple = ()
        for patterns, additional, _ in self.layers:
            matched = [c for p, c, _ in patterns if re.search(p, key)]
            if matched:
                out = conj(out, *matched)
            else:
                out = conj(out, additional)
        return out

    def item(self, i: int) -> tuple:
        return self.prefix[i] if i < len(self.prefix) else self.rest

    def trivial(self) -> bool:
        return self == Node(self.ptr, self.srcs)


def _max_lo(a, ax, b, bx):
    if a is None:
        return b, bx
    if b is None:
        return a, ax
    if a > b:
        return a, ax
    if b > a:
        return b, bx
    return a, ax or bx


def _min_hi(a, ax, b, bx):
    if a is None:
        return b, bx
    if b is None:
        return a, ax
    if a < b:
        return a, ax
    if b < a:
        return b, bx
    return a, ax or bx


def merge(a: Node, b: Node) -> Node:
    """The node of ``a`` and ``b`` both (exact)."""
    lo, lo_x = _max_lo(a.lo, a.lo_x, b.lo, b.lo_x)
    hi, hi_x = _min_hi(a.hi, a.hi_x, b.hi, b.hi_x)
    mult = a.mult if b.mult is None else b.mult if a.mult is None else math.lcm(a.mult, b.mult)
    props = {}
    for k in list(a.props) + [k for k in b.props if k not in a.props]:
        props[k] = conj(a.eff(k), b.eff(k))
    n = max(len(a.prefix), len(b.prefix))
    prefix = tuple(conj(a.item(i), b.item(i)) for i in range(n))
    enum = a.enum if b.enum is None else b.enum if a.enum is None else a.enum + b.enum
    if a.enum is not None and b.enum is not None:
        enum = tuple(v for v in a.enum if any(_json_equal(v, w) for w in b.enum))
    return Node(
        ptr=a.ptr,
        srcs=tuple(dict.fromkeys(a.srcs + b.srcs)),
        kinds=a.kinds & b.kinds,
        enum=enum,
        lo=lo,
        lo_x=lo_x,
        hi=hi,
        hi_x=hi_x,
        mult=mult,
        decimals=a.decimals
        if b.decimals is None
        else b.decimals
        if a.decimals is None
        else min(a.decimals, b.decimals),
        min_len=max(a.min_len, b.min_len),
        max_len=b.max_len
        if a.max_len is None
        else a.max_len
        if b.max_len is None
        else min(a.max_len, b.max_len),
        patterns=a.patterns + b.patterns,
        formats=a.formats + b.formats,
        not_patterns=a.not_patterns + b.not_patterns,
        not_formats=a.not_formats + b.not_formats,
        props=props,
        required=tuple(dict.fromkeys(a.required + b.required)),
        layers=a.layers + b.layers,
        prop_names=conj(a.prop_names, b.prop_names),
        min_props=max(a.min_props, b.min_props),
        max_props=b.max_props
        if a.max_props is None
        else a.max_props
        if b.max_props is None
        else min(a.max_props, b.max_props),
        prefix=prefix,
        rest=conj(a.rest, b.rest),
        min_items=max(a.min_items, b.min_items),
        max_items=b.max_items
        if a.max_items is None
        else a.max_items
        if b.max_items is None
        else min(a.max_items, b.max_items),
        unique=a.unique or b.unique,
        contains=a.contains + b.contains,
        groups=a.groups + b.groups,
        deps=a.deps + b.deps,
        not_values=a.not_values + b.not_values,
        forbidden=tuple(dict.fromkeys(a.forbidden + b.forbidden)),
    )


def _trivial_on(n: Node, kind: str) -> bool:
    """Whether ``n`` accepts every value of ``kind`` (a JSON type; int / frac numbers)."""
    if n.enum is not None or n.groups or kind not in n.kinds:
        return False
    if kind in ("null", "boolean"):
        return not any(v is None or isinstance(v, bool) for v in n.not_values)
    if kind in ("int", "frac"):
        return (
            n.lo is None
            and n.hi is None
            and n.mult is None
            and n.decimals is None
            and not any(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in n.not_values
            )
        )
    if kind == "string":
        return (
            n.min_len == 0
            and n.max_len is None
            and not n.patterns
            and not n.formats
            and not n.not_patterns
            and not n.not_formats
            and not any(isinstance(v, str) for v in n.not_values)
        )
    if kind == "object":
        return (
            not n.props
            and not n.required
            and not n.prop_names
            and not n.forbidden
            and not n.deps
            and n.min_props == 0
            and n.max_props is None
            and all(not ps and not add for ps, add, _ in n.layers)
        )
    if kind == "array":
        return (
            not n.prefix
            and not n.rest
            and n.min_items == 0
            and n.max_items is None
            and not n.unique
            and not n.contains
        )
    return False


def _prune(n: Node) -> Node:
    """``n`` without the JSON types its own constraints contradict (cheap, sound checks)."""
    if n.enum is not None:
        return n
    drop = set()
    if "object" in n.kinds:
        if (
            set(n.required) & set(n.forbidden)
            or (
                n.max_props is not None
                and (n.max_props < n.min_props or n.max_props < len(n.required))
            )
            or any(FALSE_PTR in n.props.get(k, ()) for k in n.required)
        ):
            drop.add("object")
    if "array" in n.kinds and n.max_items is not None and n.max_items < n.min_items:
        drop.add("array")
    if "string" in n.kinds and n.max_len is not None and n.max_len < n.min_len:
        drop.add("string")
    if n.kinds & {"int", "frac"} and n.lo is not None and n.hi is not None:
        if n.hi < n.lo or (n.hi == n.lo and (n.lo_x or n.hi_x)):
            drop |= {"int", "frac"}
    return replace(n, kinds=n.kinds - drop) if drop else n


def _kind_of(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "int" if v.is_integer() else "frac"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    raise SpecError(f"not a JSON value: {v!r}")


def _json_equal(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _number(v, kw: str, ptr: str) -> Decimal:
    if (
        isinstance(v, bool)
        or not isinstance(v, (int, float))
        or (isinstance(v, float) and not math.isfinite(v))
    ):
        raise SpecError(f"{kw} at {show(ptr)} must be a number")
    return Decimal(repr(v)) if isinstance(v, float) else Decimal(v)


def _names(v, kw: str, ptr: str) -> list:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise SpecError(f"{kw} at {show(ptr)} must be an array of strings")
    return v


def _count(v, kw: str, ptr: str) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise SpecError(f"{kw} at {show(ptr)} must be a non-negative integer")
    return v


# --------------------------------------------------------------------------- patterns

_START = {_c.AT_BEGINNING, _c.AT_BEGINNING_STRING}
_END = {_c.AT_END, _c.AT_END_STRING}
_ANY_CHAR = ir.Chars(((0, ir.MAX_UNICODE),))


def _count_anchors(items) -> int:
    n = 0
    for op, av in items:
        if op is _c.AT and (av in _START or av in _END):
            n += 1
        elif op is _c.BRANCH:
            n += sum(_count_anchors(x) for x in av[1])
        elif op is _c.SUBPATTERN:
            n += _count_anchors(av[-1])
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) or op is getattr(_c, "POSSESSIVE_REPEAT", None):
            n += _count_anchors(av[2])
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            n += _count_anchors(av[1])
    return n


_GLOBAL_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")


def split_alternatives(pattern: str) -> list[str] | None:
    """The top-level alternatives of a pattern (one group around the whole pattern is
    looked through), or None when there is only one."""
    flags = ""
    m = _GLOBAL_FLAGS.match(pattern)
    if m:
        flags, pattern = m.group(0), pattern[m.end() :]
    if "x" in flags:
        return None
    parts, depth, i, start, n = [], 0, 0, 0, len(pattern)
    spans = []  # (open index, close index) of depth-0 groups
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = class_end(pattern, i)
            continue
        if c == "(":
            if depth == 0:
                spans.append([i, None])
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0 and spans:
                spans[-1][1] = i
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    if len(parts) > 1:
        return [flags + p for p in parts]
    if len(spans) == 1 and spans[0] == [0, n - 1]:
        inner = pattern[1:-1]
        if inner.startswith("?:"):
            inner = inner[2:]
        elif inner.startswith("?P<"):
            inner = inner[inner.index(">") + 1 :]
        elif inner.startswith("?"):
            return None
        return split_alternatives(flags + inner) or [flags + inner]
    return None


def search_regex(pattern: str) -> ir.Expr:
    """The decoded strings ``re.search(pattern, s)`` finds a match in, as an IR regex.

    A pattern whose anchors sit inside top-level alternatives (``^a|b$``) is the union of
    its alternatives' searches. Raises RegexError / ValueError for patterns that cannot be
    handled exactly."""
    try:
        return _search_regex(pattern)
    except ValueError as e:
        if "anchors other than" not in str(e):
            raise
        alts = split_alternatives(pattern)
        if not alts:
            raise
        return alt(*[search_regex(a) for a in alts])


def _search_regex(pattern: str) -> ir.Expr:
    if not isinstance(pattern, str):
        # internal: the callers refuse the pattern with its JSON pointer
        raise ValueError("the pattern is not a string")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = _p.parse(pattern, 0)
    except Exception as e:  # re.error and friends
        # internal: the callers refuse the pattern with its JSON pointer
        raise ValueError(f"invalid regex: {e}") from None
    items = list(tree.data)
    start = bool(items) and items[0][0] is _c.AT and items[0][1] in _START
    end_op = items[-1][1] if items and items[-1][0] is _c.AT and items[-1][1] in _END else None
    if start and len(items) == 1:
        end_op = None
    n = _count_anchors(items)
    if n != int(start) + int(end_op is not None):
        # internal: the callers refuse the pattern with its JSON pointer
        raise ValueError("anchors other than a leading ^ and a trailing $ are not supported")
    if n and tree.state.flags & re.MULTILINE:
        # internal: the callers refuse the pattern with its JSON pointer
        raise ValueError("anchors in MULTILINE mode are not supported")
    body = Regex(pattern).to_ir()
    anything = Repeat(_ANY_CHAR, 0, None)
    prefix = ir.EMPTY if start else anything
    if end_op is None:
        suffix = anything
    elif end_op == _c.AT_END:
        suffix = ir.opt(Text("\n"))
    else:
        suffix = ir.EMPTY
    return seq(prefix, body, suffix)


# --------------------------------------------------------------------------- the lowerer


class Lowerer:
    """Lowers one schema document (see the module docstring)."""

    def __init__(
        self,
        schema,
        options: Options | str = "bounded",
        strict: bool = True,
        max_depth: int | None = None,
    ):
        if not isinstance(schema, (dict, bool)):
            raise SpecError(
                f"a JSON Schema must be an object or a boolean, not {type(schema).__name__}"
            )
        if isinstance(options, str):  # a whitespace style: the any-spelling grammar
            options = Options.resolve("any", whitespace=options)
        self.opts = options
        self.max_depth = DEFAULT_LIMITS.max_spec_depth if max_depth is None else max_depth
        self._nesting = 0  # rules being lowered inside one another
        check_value(schema, self.max_depth)
        self.doc = Document(schema)
        self.strict = strict
        self.sp = S.CANONICAL if options.canonical else S.ANY
        self.layout = Layout(options.whitespace)
        self.depth = 0  # nesting depth of the value being lowered ("indent" only)
        self.terminals: dict[str, ir.Expr] = {}
        self._term_names: dict[ir.Expr, str] = {}
        self.rules: dict[str, ir.Expr] = {}
        self._rule_of: dict[tuple, str | None] = {}
        self._nodes: dict[str, Node] = {}
        self._busy: set[str] = set()
        self._validators: dict[tuple, object] = {}
        self._warned: set = set()
        self._counter = 0
        self._empty_time = 0.0
        self._keys: dict[str, Ref] = {}
        self._memo_terms: dict = {}
        self._punct: dict[tuple, Ref] = {}
        self.colon = self.layout.colon
        for what in _PUNCTUATION:  # the top level's, declared first (a stable grammar text)
            self._p(what)

    # ---- punctuation (at the current depth) -------------------------------------------------
    def _level(self) -> int:
        return self.depth if self.layout.depth_aware else 0

    def _p(self, what: str) -> Ref:
        """The terminal of a punctuation mark (one of :data:`_PUNCTUATION`) at this depth."""
        d = self._level()
        r = self._punct.get((what, d))
        if r is None:
            L = self.layout
            e = {
                "LBRACE": lambda: L.open("{", d),
                "RBRACE": lambda: L.close("}", d),
                "EMPTY_OBJECT": lambda: L.empty("{}", d),
                "LBRACKET": lambda: L.open("[", d),
                "RBRACKET": lambda: L.close("]", d),
                "EMPTY_ARRAY": lambda: L.empty("[]", d),
                "COMMA": lambda: L.comma(d),
            }[what]()
            r = self._punct[(what, d)] = self.term(e, what)
        return r

    LBRACE = property(lambda self: self._p("LBRACE"))
    RBRACE = property(lambda self: self._p("RBRACE"))
    EMPTY_OBJ = property(lambda self: self._p("EMPTY_OBJECT"))
    LBRACK = property(lambda self: self._p("LBRACKET"))
    RBRACK = property(lambda self: self._p("RBRACKET"))
    EMPTY_ARR = property(lambda self: self._p("EMPTY_ARRAY"))
    COMMA = property(lambda self: self._p("COMMA"))

    def child_rule(self, c: tuple) -> Ref | None:
        """:meth:`rule` for an item or a member value (one level deeper)."""
        self.depth += 1
        try:
            return self.rule(c)
        finally:
            self.depth -= 1

    def child_value(self, v) -> ir.Expr:
        self.depth += 1
        try:
            return self.value_expr(v)
        finally:
            self.depth -= 1

    def nested_ok(self) -> bool:
        """Whether containers may be generated at the current depth ("indent" caps it)."""
        return not self.layout.depth_aware or self.depth < MAX_INDENT_DEPTH

    # ---- names ------------------------------------------------------------------------------
    def term(self, e: ir.Expr, hint: str = "T") -> Ref:
        name = self._term_names.get(e)
        if name is None:
            name = hint
            i = 1
            while name in self.terminals:
                i += 1
                name = f"{hint}_{i}"
            self.terminals[name] = e
            self._term_names[e] = name
        return Ref(name)

    def new_rule(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}{self._counter}"

    # ---- refusals ---------------------------------------------------------------------------
    def refuse(self, keyword: str, ptr: str, detail: str = "") -> None:
        """Strict: raise. Otherwise warn (once) and let the caller ignore the keyword."""
        if self.strict:
            raise _err(keyword, ptr, detail)
        ptr = _real(ptr)
        key = (keyword, ptr)
        if key not in self._warned:
            self._warned.add(key)
            msg = f"{keyword} at {show(ptr)} is not enforced exactly"
            if detail:
                msg += f": {detail}"
            warnings.warn(msg, SchemaApproximationWarning, stacklevel=4)

    # ---- validation with jsonschema (enum filtering, disjointness) ------------------------
    def valid(self, value, ptrs, members: bool = False) -> bool:
        """Whether ``value`` satisfies every schema of ``ptrs``; ``members``: it is known to
        be in their top-level ``enum`` / ``const`` (not checked again: linear, not
        quadratic, in the size of an enum)."""
        import jsonschema

        for ptr in ptrs:
            if ptr.startswith(NOT_PREFIX):
                if self.valid(value, (ptr[len(NOT_PREFIX) :],)):
                    return False
                continue
            if ptr.startswith("!") and ptr != FALSE_PTR:
                continue  # pieces of a rewrite: their sources are listed beside them
            v = self._validators.get((ptr, members))
            if v is None:
                sub = self.doc.get(ptr)
                if not isinstance(sub, (dict, bool)):
                    raise SpecError(f"the schema at {show(ptr)} is not an object or a boolean")
                root = self.doc.root
                cls = jsonschema.validators.validator_for(
                    root if isinstance(root, dict) else {}, default=jsonschema.Draft202012Validator
                )
                v = cls(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
                if members and isinstance(sub, dict) and ("enum" in sub or "const" in sub):
                    sub = {k: x for k, x in sub.items() if k not in ("enum", "const")}
                    v = v.evolve(schema=sub)
                elif ptr != "":
                    v = v.evolve(schema=sub)
                self._validators[(ptr, members)] = v
            try:
                if not shallow_call(v.is_valid, value):
                    return False
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:  # noqa: BLE001 - a schema jsonschema itself cannot run
                # (a RecursionError inside referencing's Rust code is a PanicException,
                # which derives from BaseException)
                raise _err(
                    "enum", ptr, f"jsonschema cannot evaluate it ({type(e).__name__}: {e})"
                ) from None
        return True

    def empty(self, e: ir.Expr, keyword: str, ptr: str) -> bool:
        """Whether a terminal expression matches nothing; refused (naming ``keyword``) when
        deciding it exceeds the engine's state limit or the lowering's time budget."""
        import time

        t0 = time.perf_counter()
        try:
            return _empty(e)
        except LimitError:
            raise _err(
                keyword,
                ptr,
                "deciding whether the intersection of its string constraints is empty "
                "exceeds the engine's state limit",
            ) from None
        finally:
            self._empty_time += time.perf_counter() - t0
            if self._empty_time > EMPTINESS_BUDGET_S:
                raise _err(
                    keyword,
                    ptr,
                    f"more than {EMPTINESS_BUDGET_S:g} s spent deciding emptiness of "
                    "intersected string / number constraints",
                )

    # ---- nodes ------------------------------------------------------------------------------
    def node_of(self, ptr: str) -> Node:
        n = self._nodes.get(ptr)
        if n is not None:
            return n
        if ptr in self._busy:
            raise _err("$ref", ptr, "the reference cycle never reaches a schema")
        if len(self._busy) >= self.max_depth:
            raise too_deep(_real(ptr), self.max_depth)
        deadline.check()
        self._busy.add(ptr)
        try:
            if ptr.startswith(NOT_PREFIX):
                try:
                    n = self._negation(ptr[len(NOT_PREFIX) :])
                except _NoComplement as e:
                    if self.strict:
                        raise
                    self.refuse("not", e.ptr, e.detail)  # warns; the complement is not applied
                    n = Node(ptr, (ptr,))
            else:
                n = self._build_node(ptr)
        finally:
            self._busy.discard(ptr)
        self._nodes[ptr] = n
        return n

    def node_for(self, c: tuple) -> Node:
        if not c:
            return Node("", ())
        n = self.node_of(c[0])
        for p in c[1:]:
            n = merge(n, self.node_of(p))
        return n

    def _build_node(self, ptr: str) -> Node:
        s = self.doc.get(ptr)
        if s is True:
            return Node(ptr, (ptr,))
        if s is False:
            return Node(ptr, (ptr,), kinds=frozenset())
        if not isinstance(s, dict):
            raise SpecError(f"the schema at {show(ptr)} is not an object or a boolean")
        node = Node(ptr, (ptr,))
        if "$ref" in s:
            if not isinstance(s["$ref"], str):
                raise SpecError(f"$ref at {show(ptr)} must be a string")
            target = self.doc.resolve(s["$ref"], ptr)
            tnode = self.node_of(target)
            if self.doc.draft_old:
                return replace(tnode, ptr=ptr)
            node = merge(node, tnode)
        if "enum" in s or "const" in s:
            values = None
            if "enum" in s:
                if not isinstance(s["enum"], list):
                    raise SpecError(f"enum at {show(ptr)} must be an array")
                values = tuple(s["enum"])
            if "const" in s:
                c = (s["const"],)
                values = c if values is None else tuple(v for v in values if _json_equal(v, c[0]))
            # every other keyword is enforced by filtering the values with jsonschema
            return merge(node, Node(ptr, (ptr,), enum=values))
        own = Node(ptr, (ptr,))
        if any(k in s for k in ("properties", "additionalProperties", "patternProperties")):
            own = merge(own, self._object_keywords(s, ptr))
        for kw, v in s.items():
            deadline.check()
            own = self._keyword(own, s, kw, v, ptr)
        return merge(node, own)

    def _object_keywords(self, s: dict, ptr: str) -> Node:
        props_v = s.get("properties", {})
        pats_v = s.get("patternProperties", {})
        if not isinstance(props_v, dict):
            raise SpecError(f"properties at {show(ptr)} must be an object")
        if not isinstance(pats_v, dict):
            raise SpecError(f"patternProperties at {show(ptr)} must be an object")
        patterns = []
        for p in pats_v:
            try:
                re.compile(p)
            except re.error as e:
                raise SpecError(
                    f"patternProperties at {show(ptr)}: invalid regex {p!r}: {e}"
                ) from None
            patterns.append(
                (p, (join(ptr, "patternProperties", p),), join(ptr, "patternProperties"))
            )
        add = s.get("additionalProperties", True)
        if add is True:
            add_c: tuple = ()
        elif add is False:
            add_c = (FALSE_PTR,)
        else:
            add_c = (join(ptr, "additionalProperties"),)
        props = {}
        for k in props_v:
            matched = [c for p, c, _ in patterns if re.search(p, k)]
            props[k] = conj((join(ptr, "properties", k),), *matched)
        explicit = "additionalProperties" in s
        return Node(ptr, (), props=props, layers=((tuple(patterns), add_c, explicit),))

    def _keyword(self, node: Node, s: dict, kw: str, v, ptr: str) -> Node:  # noqa: C901
        if kw in ANNOTATIONS or kw == "$ref":
            return node
        if kw == "type":
            types = [v] if isinstance(v, str) else v
            if not isinstance(types, list) or not all(
                isinstance(t, str) and t in _TYPE_KINDS for t in types
            ):
                raise SpecError(f"type at {show(ptr)}: invalid type {v!r}")
            kinds = set()
            for t in types:
                kinds |= _TYPE_KINDS[t]
            return replace(node, kinds=node.kinds & frozenset(kinds))
        if kw in ("minimum", "exclusiveMinimum"):
            if isinstance(v, bool):  # draft-04 form
                if kw == "exclusiveMinimum" and v and "minimum" in s:
                    return (
                        replace(node, lo_x=True)
                        if node.lo == _number(s["minimum"], "minimum", ptr)
                        else node
                    )
                return node
            x = _number(v, kw, ptr)
            excl = kw == "exclusiveMinimum" or (s.get("exclusiveMinimum") is True)
            lo, lo_x = _max_lo(node.lo, node.lo_x, x, excl)
            return replace(node, lo=lo, lo_x=lo_x)
        if kw in ("maximum", "exclusiveMaximum"):
            if isinstance(v, bool):
                if kw == "exclusiveMaximum" and v and "maximum" in s:
                    return (
                        replace(node, hi_x=True)
                        if node.hi == _number(s["maximum"], "maximum", ptr)
                        else node
                    )
                return node
            x = _number(v, kw, ptr)
            excl = kw == "exclusiveMaximum" or (s.get("exclusiveMaximum") is True)
            hi, hi_x = _min_hi(node.hi, node.hi_x, x, excl)
            return replace(node, hi=hi, hi_x=hi_x)
        if kw == "multipleOf":
            e = N.decimal_places(v)
            if e is not None:
                return replace(node, decimals=e if node.decimals is None else min(node.decimals, e))
            why = N.multiple_supported(v)
            if why is not None:
                if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
                    self.refuse("multipleOf", ptr, why)
                    return node
                raise SpecError(f"multipleOf at {show(ptr)}: {why}")
            k = int(v)
            mult = k if node.mult is None else math.lcm(node.mult, k)
            return replace(node, mult=mult)
        if kw == "minLength":
            return replace(node, min_len=max(node.min_len, _count(v, kw, ptr)))
        if kw == "maxLength":
            x = _count(v, kw, ptr)
            return replace(node, max_len=x if node.max_len is None else min(node.max_len, x))
        if kw == "pattern":
            if not isinstance(v, str):
                raise SpecError(f"pattern at {show(ptr)} must be a string")
            return replace(node, patterns=node.patterns + ((v, ptr),))
        if kw == "format":
            if not isinstance(v, str) or v not in F.KNOWN:
                return node  # unknown formats are annotations
            if v not in F.ENFORCED:
                self.refuse(
                    "format",
                    ptr,
                    f"format {v!r} cannot be matched exactly (strict=False generates "
                    "its canonical form only)",
                )
            return replace(node, formats=node.formats + ((v, ptr),))
        if kw in ("properties", "additionalProperties", "patternProperties"):
            return node  # see _object_keywords
        if kw == "required":
            _names(v, kw, ptr)
            return replace(node, required=tuple(dict.fromkeys(node.required + tuple(v))))
        if kw == "propertyNames":
            return replace(node, prop_names=conj(node.prop_names, (join(ptr, kw),)))
        if kw == "minProperties":
            return replace(node, min_props=max(node.min_props, _count(v, kw, ptr)))
        if kw == "maxProperties":
            x = _count(v, kw, ptr)
            return replace(node, max_props=x if node.max_props is None else min(node.max_props, x))
        if kw in ("dependentRequired", "dependentSchemas", "dependencies"):
            if not isinstance(v, dict):
                raise SpecError(f"{kw} at {show(ptr)} must be an object")
            deps = list(node.deps)
            for k, d in v.items():
                if isinstance(d, list):
                    _names(d, kw, ptr)
                    deps.append((k, tuple(d), None, ptr))
                else:
                    deps.append((k, (), (join(ptr, kw, k),), ptr))
            return replace(node, deps=tuple(deps))
        if kw == "items":
            if isinstance(v, list):
                prefix = tuple((join(ptr, "items", i),) for i in range(len(v)))
                rest: tuple = ()
                add = s.get("additionalItems", True)
                if add is False:
                    rest = (FALSE_PTR,)
                elif add is not True:
                    rest = (join(ptr, "additionalItems"),)
                return merge(node, Node(ptr, (), prefix=prefix, rest=rest))
            if "prefixItems" in s:
                return node  # handled with prefixItems
            return merge(
                node, Node(ptr, (), rest=(join(ptr, "items"),) if v is not False else (FALSE_PTR,))
            )
        if kw == "prefixItems":
            if not isinstance(v, list):
                raise SpecError(f"prefixItems at {show(ptr)} must be an array")
            prefix = tuple((join(ptr, "prefixItems", i),) for i in range(len(v)))
            it = s.get("items", True)
            rest = () if it is True else (FALSE_PTR,) if it is False else (join(ptr, "items"),)
            return merge(node, Node(ptr, (), prefix=prefix, rest=rest))
        if kw == "additionalItems":
            return node  # with items as an array (above); ignored otherwise, as the spec says
        if kw == "minItems":
            return replace(node, min_items=max(node.min_items, _count(v, kw, ptr)))
        if kw == "maxItems":
            x = _count(v, kw, ptr)
            return replace(node, max_items=x if node.max_items is None else min(node.max_items, x))
        if kw == "uniqueItems":
            return replace(node, unique=True) if v is True else node
        if kw == "allOf":
            if not isinstance(v, list) or not v:
                raise SpecError(f"allOf at {show(ptr)} must be a non-empty array")
            for i in range(len(v)):
                node = merge(node, self.node_of(join(ptr, "allOf", i)))
            return node
        if kw == "anyOf":
            if not isinstance(v, list) or not v:
                raise SpecError(f"anyOf at {show(ptr)} must be a non-empty array")
            branches = tuple(join(ptr, "anyOf", i) for i in range(len(v)))
            if any(b is True or b == {} for b in v):
                return node
            return replace(node, groups=node.groups + (branches,))
        if kw == "oneOf":
            if not isinstance(v, list) or not v:
                raise SpecError(f"oneOf at {show(ptr)} must be a non-empty array")
            branches = tuple(join(ptr, "oneOf", i) for i in range(len(v)))
            nodes = [self.node_of(b) for b in branches]
            excluded: set = set()
            overlap: dict = {i: [] for i in range(len(nodes))}
            for i in range(len(nodes)):
                for j in range(i + 1, len(nodes)):
                    deadline.check()
                    if not self._branches_disjoint(nodes[i], nodes[j], excluded):
                        overlap[i].append(j)
                        overlap[j].append(i)
            if not any(overlap.values()):
                return replace(node, groups=node.groups + (branches,), kinds=node.kinds - excluded)
            # exactly one branch: branch i and the complement of every branch it may overlap
            for i in overlap:
                if overlap[i]:
                    e = self._no_complement(NOT_PREFIX + branches[overlap[i][0]])
                    for j in overlap[i]:
                        e = e or self._no_complement(NOT_PREFIX + branches[j])
                    if e is not None:
                        self.refuse(
                            "oneOf",
                            ptr,
                            f"branches {i} and {overlap[i][0]} may overlap and the complement "
                            f"of one cannot be written exactly ({e})",
                        )
                        return replace(node, groups=node.groups + (branches,))
            try:
                pieces = []
                for i in range(len(nodes)):
                    n = nodes[i]
                    for j in overlap[i]:
                        n = merge(n, self.complement(branches[j]))
                    pieces.append(n)
            except _NoComplement as e:
                i = next(i for i in overlap if overlap[i])
                self.refuse(
                    "oneOf",
                    ptr,
                    f"branches {i} and {overlap[i][0]} may overlap and the complement of one "
                    f"cannot be written exactly ({e})",
                )
                return replace(node, groups=node.groups + (branches,))
            # a kind on which two branches accept every value has no valid value (above)
            node = replace(node, kinds=node.kinds - excluded)
            return merge(node, self._pieces_node("oneOf", ptr, (), pieces))
        if kw == "if":
            if "then" not in s and "else" not in s:
                return node
            cond = join(ptr, "if")
            then = self.node_of(join(ptr, "then")) if "then" in s else Node(ptr, ())
            e = self._no_complement(NOT_PREFIX + cond)
            if e is not None:
                self.refuse("if", ptr, f"if/then/else needs the complement of if ({e})")
                return node
            try:
                other = self.complement(cond)
            except _NoComplement as e:
                self.refuse("if", ptr, f"if/then/else needs the complement of if ({e})")
                return node
            if "else" in s:
                other = merge(other, self.node_of(join(ptr, "else")))
            both = self._pieces_node("if", ptr, (), [merge(self.node_of(cond), then), other])
            return merge(node, both)
        if kw == "not":
            return self._not(node, v, ptr)
        if kw == "contains":
            mn = _count(s.get("minContains", 1), "minContains", ptr)
            mx = s.get("maxContains")
            mx = None if mx is None else _count(mx, "maxContains", ptr)
            return replace(node, contains=node.contains + ((join(ptr, kw), mn, mx),))
        if kw in ("then", "else", "minContains", "maxContains"):
            return node  # without if / contains they have no effect
        if kw in REFUSED:
            self.refuse(kw, ptr)
            return node
        return node  # unknown keywords are annotations

    def _not(self, node: Node, v, ptr: str) -> Node:
        if v is True or v == {}:
            return replace(node, kinds=frozenset())
        if v is False:
            return node
        if isinstance(v, dict):
            keys = set(v) - ANNOTATIONS
            if keys == {"type"}:
                types = [v["type"]] if isinstance(v["type"], str) else v["type"]
                if (
                    isinstance(types, list)
                    and all(t in _TYPE_KINDS for t in types)
                    and not self._literal_integers(types)
                ):
                    drop = set()
                    for t in types:
                        drop |= _TYPE_KINDS[t]
                    return replace(node, kinds=node.kinds - drop)
        e = self._no_complement(NOT_PREFIX + join(ptr, "not"))
        if e is not None:
            self.refuse("not", ptr, f"{e.detail} at {e.pointer}")
            return node
        try:
            return merge(node, self.node_of(NOT_PREFIX + join(ptr, "not")))
        except _NoComplement as e:
            self.refuse("not", ptr, f"{e.detail} at {e.pointer}")
            return node

    # ---- complements (not, oneOf, if/then/else) ---------------------------------------------
    def _no_complement(self, ptr: str) -> _NoComplement | None:
        """Why the complement ``ptr`` (a ``!not:`` pointer) cannot be written, or None."""
        if not ptr.startswith(NOT_PREFIX) or ptr in self._nodes:
            return None
        try:
            self._negation(ptr[len(NOT_PREFIX) :])
        except _NoComplement as e:
            return e
        return None

    def complement(self, ptr: str) -> Node:
        """The node of the values the schema at ``ptr`` rejects (raises _NoComplement)."""
        return self.node_of(NOT_PREFIX + ptr)

    def _pieces_node(self, tag: str, ptr: str, srcs: tuple, pieces: list) -> Node:
        """A node that is the union of ``pieces`` (each registered under a synthetic pointer)."""
        pieces = [p for p in pieces if p.kinds or p.enum is not None]
        if not pieces:
            return Node(ptr, srcs, kinds=frozenset())
        if len(pieces) == 1:
            return replace(pieces[0], ptr=ptr, srcs=tuple(dict.fromkeys(srcs + pieces[0].srcs)))
        names = []
        for i, piece in enumerate(pieces):
            name = f"!part:{tag}:{ptr}#{i}"
            self._nodes[name] = replace(piece, srcs=tuple(dict.fromkeys(srcs + piece.srcs)))
            names.append(name)
        return Node(ptr, srcs, groups=(tuple(names),))

    def _negation(self, ptr: str) -> Node:
        me = NOT_PREFIX + ptr
        s = self.doc.get(ptr)
        if s is True:
            return Node(me, (me,), kinds=frozenset())
        if s is False:
            return Node(me, (me,))
        if not isinstance(s, dict):
            raise SpecError(f"the schema at {show(ptr)} is not an object or a boolean")
        if "$ref" in s and self.doc.draft_old:
            target = self.doc.resolve(s["$ref"], ptr) if isinstance(s["$ref"], str) else ptr
            return replace(self.complement(target), ptr=me)
        pieces = self._neg_pieces(s, ptr)
        return self._pieces_node("not", me, (me,), pieces)

    def _neg_pieces(self, s: dict, ptr: str) -> list:  # noqa: C901
        """Nodes whose union is the complement of the schema ``s`` (one or more per keyword:
        a value fails a schema when it fails one of its keywords)."""
        out: list = []
        obj, arr, strg = frozenset({"object"}), frozenset({"array"}), frozenset({"string"})
        num = frozenset({"int", "frac"})

        def N_(**kw) -> Node:
            return Node(ptr, (), **kw)

        for kw, v in s.items():
            deadline.check()
            if kw in ANNOTATIONS or kw in (
                "then",
                "else",
                "minContains",
                "maxContains",
                "additionalItems",
            ):
                if (
                    kw == "additionalItems"
                    and isinstance(s.get("items"), list)
                    and v is not True
                    and v != {}
                ):
                    if v is False:
                        out.append(N_(kinds=arr, min_items=len(s["items"]) + 1))
                    else:
                        raise _NoComplement(
                            join(ptr, kw), "the complement of additionalItems (some item fails)"
                        )
                continue
            if kw == "$ref":
                if not isinstance(v, str):
                    raise SpecError(f"$ref at {show(ptr)} must be a string")
                out.append(self.complement(self.doc.resolve(v, ptr)))
            elif kw == "type":
                types = [v] if isinstance(v, str) else v
                if not isinstance(types, list) or not all(
                    isinstance(t, str) and t in _TYPE_KINDS for t in types
                ):
                    raise SpecError(f"type at {show(ptr)}: invalid type {v!r}")
                if self._literal_integers(types):
                    raise _NoComplement(
                        join(ptr, kw),
                        "the complement of integer in a draft-04 document (1.0 is a number "
                        "there, not an integer)",
                    )
                kinds = set()
                for t in types:
                    kinds |= _TYPE_KINDS[t]
                out.append(N_(kinds=KINDS - kinds))
            elif kw in ("enum", "const"):
                values = [v] if kw == "const" else v
                if not isinstance(values, list):
                    raise SpecError(f"enum at {show(ptr)} must be an array")
                if any(isinstance(x, (list, dict)) for x in values):
                    raise _NoComplement(join(ptr, kw), f"the complement of an array or object {kw}")
                out.append(N_(not_values=tuple(values)))
            elif kw in ("minimum", "exclusiveMinimum"):
                if isinstance(v, bool):
                    continue  # draft-04 form, with minimum
                x = _number(v, kw, ptr)
                excl = kw == "exclusiveMinimum" or s.get("exclusiveMinimum") is True
                out.append(N_(kinds=num, hi=x, hi_x=not excl))
            elif kw in ("maximum", "exclusiveMaximum"):
                if isinstance(v, bool):
                    continue
                x = _number(v, kw, ptr)
                excl = kw == "exclusiveMaximum" or s.get("exclusiveMaximum") is True
                out.append(N_(kinds=num, lo=x, lo_x=not excl))
            elif kw == "minLength":
                n = _count(v, kw, ptr)
                if n:
                    out.append(N_(kinds=strg, max_len=n - 1))
            elif kw == "maxLength":
                out.append(N_(kinds=strg, min_len=_count(v, kw, ptr) + 1))
            elif kw == "pattern":
                if not isinstance(v, str):
                    raise SpecError(f"pattern at {show(ptr)} must be a string")
                out.append(N_(kinds=strg, not_patterns=((v, ptr),)))
            elif kw == "format":
                if not isinstance(v, str) or v not in F.KNOWN:
                    continue
                if v not in F.ENFORCED:
                    raise _NoComplement(join(ptr, kw), f"format {v!r} is not matched exactly")
                out.append(N_(kinds=strg, not_formats=((v, ptr),)))
            elif kw == "required":
                for k in dict.fromkeys(_names(v, kw, ptr)):
                    out.append(N_(kinds=obj, forbidden=(k,)))
            elif kw == "properties":
                if not isinstance(v, dict):
                    raise SpecError(f"properties at {show(ptr)} must be an object")
                for k, sub in v.items():
                    if sub is True or sub == {}:
                        continue
                    out.append(
                        N_(kinds=obj, required=(k,), props={k: (NOT_PREFIX + join(ptr, kw, k),)})
                    )
            elif kw in ("additionalProperties", "patternProperties", "propertyNames"):
                if v is True or v == {}:
                    continue
                raise _NoComplement(join(ptr, kw), f"the complement of {kw} (some property fails)")
            elif kw == "minProperties":
                n = _count(v, kw, ptr)
                if n:
                    out.append(N_(kinds=obj, max_props=n - 1))
            elif kw == "maxProperties":
                out.append(N_(kinds=obj, min_props=_count(v, kw, ptr) + 1))
            elif kw in ("dependentRequired", "dependentSchemas", "dependencies"):
                if not isinstance(v, dict):
                    raise SpecError(f"{kw} at {show(ptr)} must be an object")
                for k, d in v.items():
                    if isinstance(d, list):
                        for r in _names(d, kw, ptr):
                            out.append(N_(kinds=obj, required=(k,), forbidden=(r,)))
                    else:
                        out.append(
                            merge(N_(kinds=obj, required=(k,)), self.complement(join(ptr, kw, k)))
                        )
            elif kw in ("items", "prefixItems"):
                if (
                    kw == "items"
                    and "prefixItems" in s
                    or kw == "prefixItems"
                    or isinstance(v, list)
                ):
                    if kw == "items" and not isinstance(v, list):
                        npre = len(s["prefixItems"]) if isinstance(s["prefixItems"], list) else 0
                        if v is False:
                            out.append(N_(kinds=arr, min_items=npre + 1))
                        elif v is not True and v != {}:
                            raise _NoComplement(
                                join(ptr, kw), "the complement of items (some item fails)"
                            )
                        continue
                    if not isinstance(v, list):
                        raise SpecError(f"{kw} at {show(ptr)} must be an array")
                    for i, sub in enumerate(v):
                        if sub is True or sub == {}:
                            continue
                        prefix = ((),) * i + ((NOT_PREFIX + join(ptr, kw, i),),)
                        out.append(N_(kinds=arr, min_items=i + 1, prefix=prefix))
                    continue
                if v is False:
                    out.append(N_(kinds=arr, min_items=1))
                elif v is not True and v != {}:
                    # some item fails: contains the complement
                    c = _complement_ptr(join(ptr, kw))
                    out.append(N_(kinds=arr, contains=((c, 1, None),)))
            elif kw == "minItems":
                n = _count(v, kw, ptr)
                if n:
                    out.append(N_(kinds=arr, max_items=n - 1))
            elif kw == "maxItems":
                out.append(N_(kinds=arr, min_items=_count(v, kw, ptr) + 1))
            elif kw == "uniqueItems":
                if v is True:
                    raise _NoComplement(
                        join(ptr, kw), "the complement of uniqueItems (a repeated item)"
                    )
            elif kw == "allOf":
                if not isinstance(v, list) or not v:
                    raise SpecError(f"allOf at {show(ptr)} must be a non-empty array")
                out += [self.complement(join(ptr, kw, i)) for i in range(len(v))]
            elif kw == "anyOf":
                if not isinstance(v, list) or not v:
                    raise SpecError(f"anyOf at {show(ptr)} must be a non-empty array")
                n = self.complement(join(ptr, kw, 0))
                for i in range(1, len(v)):
                    n = merge(n, self.complement(join(ptr, kw, i)))
                out.append(n)
            elif kw == "oneOf":
                if not isinstance(v, list) or not v:
                    raise SpecError(f"oneOf at {show(ptr)} must be a non-empty array")
                # no branch, or at least two
                n = self.complement(join(ptr, kw, 0))
                for i in range(1, len(v)):
                    n = merge(n, self.complement(join(ptr, kw, i)))
                out.append(n)
                for i in range(len(v)):
                    for j in range(i + 1, len(v)):
                        out.append(
                            merge(self.node_of(join(ptr, kw, i)), self.node_of(join(ptr, kw, j)))
                        )
            elif kw == "not":
                out.append(self.node_of(join(ptr, kw)))
            elif kw == "if":
                has_then, has_else = "then" in s, "else" in s
                if has_then:
                    out.append(
                        merge(self.node_of(join(ptr, "if")), self.complement(join(ptr, "then")))
                    )
                if has_else:
                    out.append(
                        merge(self.complement(join(ptr, "if")), self.complement(join(ptr, "else")))
                    )
            elif kw == "contains":
                mn = _count(s.get("minContains", 1), "minContains", ptr)
                mx = s.get("maxContains")
                mx = None if mx is None else _count(mx, "maxContains", ptr)
                c = join(ptr, kw)
                if mn > 0:
                    out.append(N_(kinds=arr, contains=((c, 0, mn - 1),)))
                if mx is not None:
                    out.append(N_(kinds=arr, contains=((c, mx + 1, None),)))
            elif kw == "multipleOf":
                raise _NoComplement(join(ptr, kw), "the complement of multipleOf")
            elif kw in REFUSED:
                raise _NoComplement(join(ptr, kw), f"{kw} is not supported")
            # unknown keywords are annotations
        return out

    # ---- disjointness (oneOf) --------------------------------------------------------------
    def _values(self, n: Node) -> list:
        """The enum's distinct values that satisfy the whole conjunction (each is in every
        source's own enum / const already: those keywords are not checked again)."""
        out = []
        for i, v in enumerate(unique(n.enum)):
            if not i & 255:
                deadline.check()
            if self.valid(v, n.srcs, members=True):
                out.append(v)
        return out

    def _kinds(self, n: Node, depth: int = 0) -> frozenset:
        if n.enum is not None:
            return frozenset(_kind_of(v) for v in self._values(n))
        k = n.kinds
        if depth < 3:
            for group in n.groups:
                try:
                    k = k & frozenset().union(
                        *[self._kinds(self.node_of(b), depth + 1) for b in group]
                    )
                except UnsupportedSchemaError:
                    pass
        return k

    def _branches_disjoint(self, a: Node, b: Node, excluded: set) -> bool:
        """Whether two oneOf branches never both match (kinds on which both accept every
        value are added to ``excluded``: no such value is valid)."""
        common = self._kinds(a) & self._kinds(b)
        if a.enum is not None or b.enum is not None:
            return self.disjoint(a, b)
        for kind in common:
            if self._kind_disjoint(a, b, kind, 0):
                continue
            if _trivial_on(a, kind) and _trivial_on(b, kind) and self._whole_kind(a, b, kind):
                excluded.add(kind)
                continue
            return False
        return True

    def _literal_integers(self, types) -> bool:
        """Whether ``type`` names integers without numbers in a draft-04 document, where
        ``1.0`` is a number but not an integer: the "int" kind is then not the type's."""
        return self.doc.integer_literals and "integer" in types and "number" not in types

    def _whole_kind(self, a: Node, b: Node, kind: str) -> bool:
        """Whether nodes trivial on ``kind`` accept all of it (draft-04 integers do not)."""
        return kind != "int" or not self.doc.integer_literals or "frac" in a.kinds & b.kinds

    def disjoint(self, a: Node, b: Node, depth: int = 0) -> bool:
        """True only when no instance satisfies both (a sufficient test)."""
        if a.enum is not None:
            return all(not self.valid(v, b.srcs) for v in self._values(a))
        if b.enum is not None:
            return all(not self.valid(v, a.srcs) for v in self._values(b))
        common = self._kinds(a) & self._kinds(b)
        return all(self._kind_disjoint(a, b, kind, depth) for kind in common)

    def _kind_disjoint(self, a: Node, b: Node, kind: str, depth: int) -> bool:
        if kind == "object":
            if depth >= 3:
                return False
            for k in dict.fromkeys(a.required + b.required):
                ca, cb = a.eff(k), b.eff(k)
                if k in a.forbidden or k in b.forbidden or FALSE_PTR in ca or FALSE_PTR in cb:
                    return True
                if self.disjoint(self.node_for(ca), self.node_for(cb), depth + 1):
                    return True
            return False
        if kind in ("int", "frac"):
            lo, lo_x = _max_lo(a.lo, a.lo_x, b.lo, b.lo_x)
            hi, hi_x = _min_hi(a.hi, a.hi_x, b.hi, b.hi_x)
            return lo is not None and hi is not None and (hi < lo or (hi == lo and (lo_x or hi_x)))
        return False

    # ---- rules ------------------------------------------------------------------------------
    def rule(self, c: tuple) -> Ref | None:
        """The rule for a conjunction of schemas, or None when it is unsatisfiable."""
        deadline.check()
        if self._nesting >= self.max_depth:
            raise too_deep(_real(c[0]) if c else "", self.max_depth)
        self._nesting += 1
        try:
            return self._rule(c)
        finally:
            self._nesting -= 1

    def _rule(self, c: tuple) -> Ref | None:
        c = tuple(sorted(set(c)))
        if FALSE_PTR in c:
            return None
        key = (c, self._level())
        if key in self._rule_of:
            name = self._rule_of[key]
            return None if name is None else Ref(name)
        if all(
            not p.startswith("!") and (self.doc.get(p) is True or self.doc.get(p) == {}) for p in c
        ):
            return self.any_value()
        name = self.new_rule("v")
        self._rule_of[key] = name
        self.rules[name] = ir.NOTHING  # placeholder while lowering (recursion)
        node = self.node_for(c)
        if node.trivial():
            self.rules[name] = self.any_value()
            return Ref(name)
        body = self.lower_node(node, name)
        if body == ir.NOTHING:
            self._rule_of[key] = None  # references made meanwhile (recursion) stay unproductive
            return None
        self.rules[name] = body
        return Ref(name)

    def any_value(self) -> Ref:
        """Any JSON value (in "indent" layout: one rule per depth)."""
        d = self._level()
        name = f"any{d}" if self.layout.depth_aware else "any"
        if name not in self.rules:
            self.rules[name] = ir.NOTHING
            alts = []
            if self.nested_ok():
                self.depth += 1
                try:
                    inner = self.any_value()
                finally:
                    self.depth -= 1
                member = seq(self.term(seq(self.sp.STRING, self.colon), "KEY"), inner)
                self.rules[name + "_object"] = alt(
                    self.EMPTY_OBJ,
                    seq(self.LBRACE, member, ir.star(seq(self.COMMA, member)), self.RBRACE),
                )
                self.rules[name + "_array"] = alt(
                    self.EMPTY_ARR,
                    seq(self.LBRACK, inner, ir.star(seq(self.COMMA, inner)), self.RBRACK),
                )
                alts = [Ref(name + "_object"), Ref(name + "_array")]
            self.rules[name] = alt(
                *alts,
                self.term(self.sp.STRING, "STRING"),
                self.term(self.number_syntax(N.JSON_NUMBER), "NUMBER"),
                self.term(alt(Text("true"), Text("false"), Text("null")), "LITERAL"),
            )
        return Ref(name)

    def number_syntax(self, e: ir.Expr, integer: bool = False) -> ir.Expr:
        """``e`` (number texts) in the spelling: canonical keeps one text per integer, and
        plain decimals of bounded digits (:data:`~structgen.jsonschema.numbers.GENERATED_NUMBER`)
        for other numbers; where the bounds need more digits, one text per value unbounded."""
        if not self.opts.canonical:
            return e
        gen = N.GENERATED_INTEGER if integer else N.GENERATED_NUMBER
        if e == N.JSON_NUMBER:
            return gen
        bounded = ir.And((e, gen))
        if not _empty(bounded):
            return bounded
        return ir.And((e, N.CANONICAL))

    def lower_node(self, node: Node, name: str, budget: list | None = None) -> ir.Expr:
        if budget is None:
            budget = [_MAX_ALTERNATIVES]
        if not node.kinds and node.enum is None:
            return ir.NOTHING
        if node.enum is not None:
            return self.lower_values(self._values(node))
        if node.groups:
            group = node.groups[0]
            rest = replace(node, groups=node.groups[1:])
            alts = []
            for b in group:
                deadline.check()
                if not rest.trivial():
                    merged = _prune(merge(rest, self.node_of(b)))
                    if merged.enum is None and not merged.kinds:
                        continue  # contradicts its siblings: no alternative
                budget[0] -= 1
                if budget[0] < 0:
                    raise _err(
                        "anyOf",
                        node.ptr,
                        f"more than {_MAX_ALTERNATIVES} alternatives after distributing anyOf/oneOf over their siblings",
                    )
                if rest.trivial():
                    r = self.rule((b,))
                    if r is not None:
                        alts.append(r)
                    continue
                alts.append(self.lower_node(merged, name, budget))
            alts = [a for a in alts if a != ir.NOTHING]
            return alt(*alts) if alts else ir.NOTHING
        if node.deps:
            (key, req, sch, ptr), rest = node.deps[0], replace(node, deps=node.deps[1:])
            absent = replace(rest, forbidden=rest.forbidden + (key,))
            present = replace(rest, required=tuple(dict.fromkeys(rest.required + (key,) + req)))
            if sch is not None:
                present = merge(present, self.node_for(sch))
            budget[0] -= 2
            if budget[0] < 0:
                raise _err("dependencies", ptr, "too many alternatives")
            alts = [self.lower_node(absent, name, budget)]
            # instances that are not objects satisfy dependencies trivially: only once
            alts.append(
                self.lower_node(replace(present, kinds=present.kinds & {"object"}), name, budget)
            )
            alts = [a for a in alts if a != ir.NOTHING]
            return alt(*alts) if alts else ir.NOTHING
        return self.lower_basic(node, name)

    # ---- values (enum / const) ---------------------------------------------------------------
    def lower_values(self, values: list) -> ir.Expr:
        strings = [v for v in values if isinstance(v, str)]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        lits = [v for v in values if v is None or isinstance(v, bool)]
        other = [v for v in values if isinstance(v, (list, dict))]
        deadline.check()
        alts = []
        if strings:
            alts.append(
                self.term(S.quoted(alt(*[self.sp.spell_text(v) for v in strings])), "STRING_ENUM")
            )
        if numbers:
            alts.append(self.term(alt(*[self.number_value(v) for v in numbers]), "NUMBER_ENUM"))
        if lits:
            alts.append(self.term(alt(*[Text(json.dumps(v)) for v in lits]), "LITERAL_ENUM"))
        for v in other:
            deadline.check()
            alts.append(self.value_expr(v))
        return alt(*alts) if alts else ir.NOTHING

    def value_expr(self, v) -> ir.Expr:
        if isinstance(v, str):
            return self.term(S.quoted(self.sp.spell_text(v)), "STRING_CONST")
        if v is None or isinstance(v, bool):
            return self.term(Text(json.dumps(v)), "LITERAL_CONST")
        if isinstance(v, (int, float)):
            return self.term(self.number_value(v), "NUMBER_CONST")
        if isinstance(v, list):
            if not v:
                return self.EMPTY_ARR
            parts = [self.LBRACK]
            for i, x in enumerate(v):
                if i:
                    parts.append(self.COMMA)
                parts.append(self.child_value(x))
            parts.append(self.RBRACK)
            return seq(*parts)
        if isinstance(v, dict):
            if not v:
                return self.EMPTY_OBJ
            parts = [self.LBRACE]
            for i, (k, x) in enumerate(v.items()):
                if i:
                    parts.append(self.COMMA)
                parts.append(self.key_term(k))
                parts.append(self.child_value(x))
            parts.append(self.RBRACE)
            return seq(*parts)
        raise SpecError(f"not a JSON value: {v!r}")

    def number_value(self, v) -> ir.Expr:
        """The texts of one number of an enum / const: ``json.dumps(v)`` when canonical."""
        return Text(json.dumps(v)) if self.opts.canonical else N.value_text(v)

    def key_term(self, k: str) -> Ref:
        r = self._keys.get(k)
        if r is None:
            r = self._keys[k] = self.term(
                seq(S.quoted(self.sp.spell_text(k)), self.colon), "KEY_" + _ident(k)
            )
        return r

    # ---- by type ------------------------------------------------------------------------------
    def lower_basic(self, node: Node, name: str) -> ir.Expr:
        k = node.kinds
        alts = []
        lits = []
        if "null" in k and not any(v is None for v in node.not_values):
            lits.append(Text("null"))
        if "boolean" in k:
            for b in (True, False):
                if not any(v is b for v in node.not_values):
                    lits.append(Text(json.dumps(b)))
        if lits:
            alts.append(self.term(alt(*lits), "LITERAL"))
        if "int" in k or "frac" in k:
            e = self.number_terminal(node)
            if e is not None:
                alts.append(e)
        if "string" in k:
            e = self.string_terminal(node)
            if e is not None:
                alts.append(e)
        if "array" in k and self.nested_ok():
            e = self.lower_array(node, name)
            if e != ir.NOTHING:
                alts.append(e)
        if "object" in k and self.nested_ok():
            e = self.lower_object(node, name)
            if e != ir.NOTHING:
                alts.append(e)
        return alt(*alts) if alts else ir.NOTHING

    def number_terminal(self, node: Node) -> Ref | None:
        key = (
            "n",
            node.lo,
            node.lo_x,
            node.hi,
            node.hi_x,
            "int" in node.kinds,
            "frac" in node.kinds,
            node.mult,
            node.decimals,
            tuple(json.dumps(v) for v in node.not_values),
        )
        if key not in self._memo_terms:
            self._memo_terms[key] = self._number_terminal(node)
        return self._memo_terms[key]

    def _number_terminal(self, node: Node) -> Ref | None:
        integer = "frac" not in node.kinds
        try:
            e = N.number_text(
                node.lo, node.lo_x, node.hi, node.hi_x, integer, node.mult, node.decimals
            )
        except Exception as ex:  # pragma: no cover - defensive
            raise _err("multipleOf", node.ptr, str(ex)) from None
        if integer and self.doc.integer_literals:
            e = ir.And((e, seq(ir.opt(Text("-")), N.UINT)))
        if "int" not in node.kinds:  # non-integers only (oneOf / not of integer)
            if e == N.JSON_NUMBER:
                e = seq(ir.opt(Text("-")), N.UNSIGNED)
            e = ir.And((e, ir.Not(seq(ir.opt(Text("-")), N.INTEGRAL))))
        excl = [
            v for v in node.not_values if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        if excl:
            if e == N.JSON_NUMBER:  # a value has spellings past counting: canonical ones only
                e = seq(ir.opt(Text("-")), N.UNSIGNED)
            e = ir.And((e, ir.Not(alt(*[N.value_text(v) for v in excl]))))
        check = isinstance(e, (ir.And, ir.Alt))
        if e != ir.NOTHING:
            e = self.number_syntax(e, integer)
        if e == ir.NOTHING or (check and self.empty(e, "minimum", node.ptr)):
            return None
        return self.term(e, "INTEGER" if integer else "NUMBER")

    def string_body(self, node: Node) -> ir.Expr | None:
        parts = []
        if node.max_len is not None and node.max_len < node.min_len:
            return None
        if node.min_len or node.max_len is not None:
            parts.append(self.sp.length_body(node.min_len, node.max_len))
        for pattern, pptr in node.patterns:
            try:
                parts.append(self.sp.spell(search_regex(pattern)))
            except (RegexError, ValueError) as e:
                self.refuse("pattern", pptr, f"{pattern!r}: {e}")
        for fmt, _ in node.formats:
            parts.append(self.format_body(fmt))
        negs = []
        for pattern, pptr in node.not_patterns:
            try:
                negs.append(self.sp.spell(search_regex(pattern)))
            except (RegexError, ValueError) as e:
                raise _err("not", pptr, f"the complement of pattern {pattern!r}: {e}") from None
        for fmt, _ in node.not_formats:
            negs.append(self.format_body(fmt, checked=True))
        negs += [self.sp.spell_text(v) for v in node.not_values if isinstance(v, str)]
        if negs:
            parts.append(ir.Not(alt(*negs)))
            if len(parts) == 1:
                parts.insert(0, self.sp.BODY)
        if not parts:
            return self.sp.BODY
        e = parts[0] if len(parts) == 1 else ir.And(tuple(parts))
        if (len(parts) > 1 or node.patterns or node.formats) and self.empty(e, "pattern", node.ptr):
            return None
        return e

    def format_body(self, fmt: str, checked: bool = False) -> ir.Expr:
        """A string of the format (``checked``: as checked, for complements)."""
        key = ("format", fmt, checked)
        if key not in self._memo_terms:
            # the any spelling is the exact language of the valid instances (what
            # ``structgen check`` judges by): formats as jsonschema checks them
            exact = checked or self.sp is not S.CANONICAL
            rxs = F.checked_regexes(fmt) if exact else F.regexes(fmt)
            bodies = [self.sp.spell(Regex(rx).to_ir()) for rx in rxs]
            self._memo_terms[key] = bodies[0] if len(bodies) == 1 else ir.And(tuple(bodies))
        return self._memo_terms[key]

    def string_terminal(self, node: Node) -> Ref | None:
        key = (
            "s",
            node.min_len,
            node.max_len,
            node.patterns,
            node.formats,
            node.not_patterns,
            node.not_formats,
            tuple(json.dumps(v) for v in node.not_values),
        )
        if key not in self._memo_terms:
            body = self.string_body(node)
            self._memo_terms[key] = None if body is None else self.term(S.quoted(body), "STRING")
        return self._memo_terms[key]

    # ---- arrays ------------------------------------------------------------------------------
    def lower_array(self, node: Node, name: str) -> ir.Expr:
        lo, hi = node.min_items, node.max_items
        if hi is not None and hi < lo:
            return ir.NOTHING
        if node.contains:
            if node.unique and (hi is None or hi > 1):
                self.refuse("uniqueItems", node.ptr, "uniqueItems together with contains")
            return self.contains_array(node, name)
        if node.unique and (hi is None or hi > 1):
            e = self.unique_array(node, name)
            if e is not None:
                return e
        items = []
        for i in range(len(node.prefix)):
            if hi is not None and i >= hi:
                break
            r = self.child_rule(node.prefix[i])
            if r is None:
                hi = i if hi is None else min(hi, i)
                break
            items.append(r)
        if hi is not None and hi < lo:
            return ir.NOTHING
        k = len(items)
        rest = None
        if hi is None or hi > k:
            if len(items) == len(node.prefix):
                rest = self.child_rule(node.rest)
            if rest is None:
                hi = k
                if hi < lo:
                    return ir.NOTHING
        alts = []
        if lo == 0:
            alts.append(self.EMPTY_ARR)
        if hi is None or hi >= 1:
            # tail after the prefix: (COMMA rest){max(lo-k,0), hi-k}
            if rest is not None:
                tail = Repeat(seq(self.COMMA, rest), max(lo - k, 0), None if hi is None else hi - k)
            else:
                tail = ir.EMPTY
            for i in range(k - 1, 0, -1):  # positions k..2 (1-based) fold right
                part = seq(self.COMMA, items[i], tail)
                tail = part if i < lo else ir.opt(part)
            if k:
                first = seq(items[0], tail)
            else:
                first = seq(
                    rest,
                    Repeat(seq(self.COMMA, rest), max(lo - 1, 0), None if hi is None else hi - 1),
                )
            alts.append(seq(self.LBRACK, first, self.RBRACK))
        return alt(*alts) if alts else ir.NOTHING

    def contains_array(self, node: Node, name: str) -> ir.Expr:
        """Arrays with a ``contains`` count: each item either matches the contains schema
        (counted) or its complement; one rule per (items so far, matches so far), both
        saturated at the bounds that matter (exact)."""
        (cptr, mn, mx), more = node.contains[0], node.contains[1:]
        if more or node.prefix:
            self.refuse(
                "contains",
                node.ptr,
                "only one contains per array, without prefixItems, is supported",
            )
        if mx is not None and mx < mn:
            return ir.NOTHING
        lo, hi = node.min_items, node.max_items
        if hi is not None and (hi < lo or hi < mn):
            return ir.NOTHING
        e = self._no_complement(_complement_ptr(cptr))
        if e is not None:
            self.refuse("contains", node.ptr, f"needs the complement of contains ({e})")
            return self.lower_array(replace(node, contains=()), name)
        rest = node.rest
        yes = self.child_rule(conj(rest, (cptr,)))
        no = self.child_rule(conj(rest, (_complement_ptr(cptr),)))
        ccap = mn if mx is None else mx  # matches counted up to ccap (saturating when no max)
        tcap = hi if hi is not None else lo  # items counted up to tcap (saturating when no max)
        if (ccap + 1) * (tcap + 1) > _MAX_COUNTED_RULES:
            raise _err("contains", node.ptr, "too many items to count")
        base = self.new_rule(name + "_k")

        def ok(t, c):
            return t >= lo and c >= mn

        def nt(t):
            return t + 1 if hi is not None else min(t + 1, tcap)

        def can_match(c):
            return yes is not None and (mx is None or c < mx)

        def nc(c):
            return min(c + 1, ccap)

        def after(t, c):
            return Ref(f"{base}_{t}_{c}")

        for t in range(tcap + 1):
            for c in range(ccap + 1):
                alts = [ir.EMPTY] if ok(t, c) else []
                if hi is None or t < hi:
                    if can_match(c):
                        alts.append(seq(self.COMMA, yes, after(nt(t), nc(c))))
                    if no is not None:
                        alts.append(seq(self.COMMA, no, after(nt(t), c)))
                self.rules[after(t, c).name] = alt(*alts) if alts else ir.NOTHING
        out = [self.EMPTY_ARR] if ok(0, 0) else []
        if hi is None or hi >= 1:
            first = []
            if can_match(0):
                first.append(seq(yes, after(nt(0), nc(0))))
            if no is not None:
                first.append(seq(no, after(nt(0), 0)))
            if first:
                out.append(seq(self.LBRACK, alt(*first), self.RBRACK))
        return alt(*out) if out else ir.NOTHING

    def _item_domain(self, node: Node) -> list | None:
        """The finite list of distinct values the items may take, or None."""
        if node.prefix:
            return None
        if FALSE_PTR in node.rest:
            return []
        rn = self.node_for(node.rest)
        if rn.enum is not None:
            return self._values(rn)
        if rn.groups or rn.deps or not rn.kinds <= {"null", "boolean"}:
            return None
        values = ([None] if "null" in rn.kinds else []) + (
            [True, False] if "boolean" in rn.kinds else []
        )
        return [v for v in values if not any(v is w for w in rn.not_values)]

    def unique_array(self, node: Node, name: str) -> ir.Expr | None:
        """Arrays of distinct items drawn from a small finite set: one rule per set of items
        used so far (exact). None when refused (non-strict: uniqueness is then ignored)."""
        values = self._item_domain(node)
        if values is None or len(values) > _MAX_UNIQUE_DOMAIN:
            self.refuse(
                "uniqueItems",
                node.ptr,
                "only items from a finite set of at most "
                f"{_MAX_UNIQUE_DOMAIN} values (enum, const, boolean, null) are supported",
            )
            return None
        k = len(values)
        lo = node.min_items
        hi = k if node.max_items is None else min(node.max_items, k)
        if lo > hi:
            return ir.NOTHING
        items = [self.child_value(v) for v in values]
        base = self.new_rule(name + "_u")
        for mask in range(1 << k):
            used = bin(mask).count("1")
            if used == 0 or used > hi:
                continue
            alts = [ir.EMPTY] if used >= lo else []
            if used < hi:
                for i in range(k):
                    if not mask >> i & 1:
                        alts.append(seq(self.COMMA, items[i], Ref(f"{base}_{mask | 1 << i}")))
            self.rules[f"{base}_{mask}"] = alt(*alts) if alts else ir.NOTHING
        out = [self.EMPTY_ARR] if lo == 0 else []
        if hi >= 1:
            first = alt(*[seq(items[i], Ref(f"{base}_{1 << i}")) for i in range(k)])
            out.append(seq(self.LBRACK, first, self.RBRACK))
        return alt(*out) if out else ir.NOTHING

    # ---- objects ------------------------------------------------------------------------------
    def lower_object(self, node: Node, name: str) -> ir.Expr:  # noqa: C901
        names = list(node.props) + [r for r in node.required if r not in node.props]
        names += [f for f in node.forbidden if f not in names]
        pn = node.prop_names
        declared = []  # (key, rule ref, required)
        for key in names:
            if not isinstance(key, str):
                raise SpecError(f"property names must be strings at {show(node.ptr)}")
            r = None
            if key not in node.forbidden and (not pn or self.valid(key, pn)):
                r = self.child_rule(node.eff(key))
            req = key in node.required
            if r is None:
                if req:
                    return ir.NOTHING
                continue
            declared.append((key, r, req))
        # additional members: regions of keys by the patterns they match
        regions = []
        base = self.sp.BODY
        if names:
            base = ir.And((self.sp.BODY, ir.Not(alt(*[self.sp.spell_text(k) for k in names]))))
        if pn:
            pnode = self.node_for(pn)
            if pnode.enum is not None:
                vals = [v for v in self._values(pnode) if isinstance(v, str)]
                body = alt(*[self.sp.spell_text(v) for v in vals]) if vals else None
            elif "string" in pnode.kinds:
                if pnode.groups or pnode.deps:
                    self.refuse("propertyNames", node.ptr, "anyOf/oneOf inside propertyNames")
                body = self.string_body(pnode)
            else:
                body = None
            base = None if body is None else ir.And((base, body))
        # "explicit": undeclared keys only where additionalProperties / patternProperties
        # allow them (unless minProperties needs more keys than are declared)
        explicit = self.opts.extra_keys == "explicit" and node.min_props <= len(declared)
        if explicit and not node.layers:
            base = None
        if base is not None:
            pats = [
                (p, c, ptr, li) for li, (ps, _, _) in enumerate(node.layers) for p, c, ptr in ps
            ]
            if len(pats) > _MAX_PATTERN_REGIONS:
                self.refuse(
                    "patternProperties", pats[0][2], f"more than {_MAX_PATTERN_REGIONS} patterns"
                )
                pats = pats[:_MAX_PATTERN_REGIONS]
            imgs = []
            for p, _c, ptr, _li in pats:
                try:
                    imgs.append(self.sp.spell(search_regex(p)))
                except (RegexError, ValueError) as e:
                    raise _err("patternProperties", ptr, f"{p!r}: {e}") from None
            for mask in range(1 << len(pats)):
                value: tuple = ()
                for li, (_, additional, _) in enumerate(node.layers):
                    matched = [
                        pats[i][1] for i in range(len(pats)) if mask >> i & 1 and pats[i][3] == li
                    ]
                    value = conj(value, *matched) if matched else conj(value, additional)
                if explicit and mask == 0 and not any(e for _, _, e in node.layers):
                    continue  # no keyword allows these keys explicitly
                r = self.child_rule(value)
                if r is None:
                    continue
                keys = [base]
                for i in range(len(pats)):
                    keys.append(imgs[i] if mask >> i & 1 else ir.Not(imgs[i]))
                kl = keys[0] if len(keys) == 1 else ir.And(tuple(keys))
                if (len(keys) > 1 or pn) and self.empty(kl, "patternProperties", node.ptr):
                    continue
                regions.append(seq(self.term(seq(S.quoted(kl), self.colon), "KEY"), r))
        extra = alt(*regions) if regions else None
        return self._members(node, name, declared, extra)

    def _members(self, node: Node, name: str, declared: list, extra) -> ir.Expr:
        n = len(declared)
        lo, hi = node.min_props, node.max_props
        if hi is not None and hi < lo:
            return ir.NOTHING
        nreq = sum(1 for _, _, r in declared if r)
        if hi is not None and nreq > hi:
            return ir.NOTHING
        if extra is None and lo > n:
            return ir.NOTHING
        cap = hi if hi is not None else lo  # counter saturates at cap (0: no counting)
        if cap and (n + 1) * (cap + 1) > _MAX_COUNTED_RULES:  # (without counting: 3n rules)
            raise _err(
                "maxProperties" if hi is not None else "minProperties",
                node.ptr,
                "too many properties to count",
            )
        if self.opts.key_order == "any":
            if n <= ANY_ORDER_MAX and (1 << n) * (cap + 1) <= _MAX_COUNTED_RULES:
                return self._members_any_order(node, name, declared, extra, cap)
            if (
                not self.opts.canonical
                and lo == 0
                and hi is None
                and nreq <= ANY_ORDER_REQUIRED_MAX
            ):
                return self._members_repeatable(name, declared, extra)
        # schema order: undeclared keys after the declared ones (anywhere in "any" order)
        extras_last = self.opts.key_order == "schema"
        req_after = [0] * (n + 1)
        for i in range(n - 1, -1, -1):
            req_after[i] = req_after[i + 1] + (1 if declared[i][2] else 0)
        base = self.new_rule(name + "_o")

        def nxt(c):
            return c + 1 if hi is not None else min(c + 1, cap)

        def tail(i, c):  # after >= 1 member; next declared index i; c members so far
            return Ref(f"{base}_t{i}_{c}")

        def choice(i, c):  # one member (no comma) then the tail
            return Ref(f"{base}_c{i}_{c}")

        def decl(i, c):  # a declared member at index >= i (skipping optional ones)
            return Ref(f"{base}_d{i}_{c}")

        # every rule body refers to the others by name: built without recursion
        for i in range(n, -1, -1):
            deadline.check()
            for c in range(cap, -1, -1):
                alts = []
                if req_after[i] == 0 and c >= lo:
                    alts.append(ir.EMPTY)
                if (hi is None or c < hi) and (extra is not None or i < n):
                    alts.append(seq(self.COMMA, choice(i, c)))
                self.rules[tail(i, c).name] = alt(*alts) if alts else ir.NOTHING
                alts = []
                if extra is not None and not (extras_last and req_after[i]):
                    alts.append(seq(extra, tail(n if extras_last else i, nxt(c))))
                if i < n:
                    alts.append(decl(i, c))
                self.rules[choice(i, c).name] = alt(*alts) if alts else ir.NOTHING
                if i < n:
                    k, r, req = declared[i]
                    alts = [seq(self.key_term(k), r, tail(i + 1, nxt(c)))]
                    if not req and i + 1 < n:
                        alts.append(decl(i + 1, c))
                    self.rules[decl(i, c).name] = alt(*alts)
        alts = []
        if req_after[0] == 0 and lo == 0:
            alts.append(self.EMPTY_OBJ)
        if (hi is None or hi >= 1) and (extra is not None or n > 0):
            alts.append(seq(self.LBRACE, choice(0, 0), self.RBRACE))
        return alt(*alts) if alts else ir.NOTHING

    def _members_any_order(self, node: Node, name: str, declared: list, extra, cap: int) -> ir.Expr:
        """Members with the declared keys in any order (each at most once): one rule per set
        of declared keys written so far and member count (saturated at ``cap``)."""
        n = len(declared)
        lo, hi = node.min_props, node.max_props
        req_mask = sum(1 << i for i, (_, _, r) in enumerate(declared) if r)
        full = (1 << n) - 1
        base = self.new_rule(name + "_a")

        def nxt(c):
            return c + 1 if hi is not None else min(c + 1, cap)

        def tail(m, c):
            return Ref(f"{base}_t{m}_{c}")

        def choice(m, c):
            return Ref(f"{base}_c{m}_{c}")

        for m in range(full + 1):
            for c in range(cap + 1):
                alts = []
                if m & req_mask == req_mask and c >= lo:
                    alts.append(ir.EMPTY)
                if (hi is None or c < hi) and (extra is not None or m != full):
                    alts.append(seq(self.COMMA, choice(m, c)))
                self.rules[tail(m, c).name] = alt(*alts) if alts else ir.NOTHING
                alts = []
                if extra is not None:
                    alts.append(seq(extra, tail(m, nxt(c))))
                for i, (k, r, _) in enumerate(declared):
                    if not m >> i & 1:
                        alts.append(seq(self.key_term(k), r, tail(m | 1 << i, nxt(c))))
                self.rules[choice(m, c).name] = alt(*alts) if alts else ir.NOTHING
        alts = []
        if req_mask == 0 and lo == 0:
            alts.append(self.EMPTY_OBJ)
        if (hi is None or hi >= 1) and (extra is not None or n > 0):
            alts.append(seq(self.LBRACE, choice(0, 0), self.RBRACE))
        return alt(*alts) if alts else ir.NOTHING

    def _members_repeatable(self, name: str, declared: list, extra) -> ir.Expr:
        """Members in any order, a declared key possibly more than once (each occurrence
        satisfies its schema, so whichever one a JSON parser keeps is valid): one rule per
        set of required keys written so far. Only without min/maxProperties."""
        req = [i for i, (_, _, r) in enumerate(declared) if r]
        bit = {i: 1 << j for j, i in enumerate(req)}
        full = (1 << len(req)) - 1
        base = self.new_rule(name + "_r")

        def tail(m):
            return Ref(f"{base}_t{m}")

        def choice(m):
            return Ref(f"{base}_c{m}")

        for m in range(full + 1):
            alts = [ir.EMPTY] if m == full else []
            alts.append(seq(self.COMMA, choice(m)))
            self.rules[tail(m).name] = alt(*alts)
            alts = []
            if extra is not None:
                alts.append(seq(extra, tail(m)))
            for i, (k, r, _) in enumerate(declared):
                alts.append(seq(self.key_term(k), r, tail(m | bit.get(i, 0))))
            self.rules[choice(m).name] = alt(*alts)
        alts = [self.EMPTY_OBJ] if not req else []
        alts.append(seq(self.LBRACE, choice(0), self.RBRACE))
        return alt(*alts)

    # ---- the grammar --------------------------------------------------------------------------
    def grammar(self) -> ir.Grammar:
        import sys

        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 20_000))
        try:
            return self._grammar()
        except RecursionError:  # pragma: no cover - max_spec_depth stops nesting long before
            raise too_deep("", self.max_depth) from None
        finally:
            sys.setrecursionlimit(limit)

    def _grammar(self) -> ir.Grammar:
        root = self.rule(("",))
        if root is None:
            raise unsatisfiable("")
        start = root
        if self.layout.style == "bounded" and not self.opts.canonical:
            ws1 = Repeat(WS_CHAR, 1, MAX_WS)
            start = seq(ir.opt(ws1), root, ir.opt(ws1))
        rules = {"start": start}
        rules.update(self.rules)
        g = ir.Grammar(rules=rules, terminals=dict(self.terminals), start="start")
        if not _productive(g):
            raise unsatisfiable("", "no finite instance")
        return g


def _ident(k: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "_", k).strip("_").upper()
    return (s or "KEY")[:40]


def _empty(e: ir.Expr) -> bool:
    """Whether a terminal expression matches nothing (exact, via the engine's DFA)."""
    from ..automata.dfa import DFA
    from ..automata.lower import lower_regex

    term = lower_regex(e)
    return DFA(term).empty


def _productive(g: ir.Grammar) -> bool:
    prod: set[str] = set()

    def ok(e) -> bool:
        if isinstance(e, Ref):
            return e.name in g.terminals or e.name in prod
        if isinstance(e, ir.Seq):
            return all(ok(i) for i in e.items)
        if isinstance(e, ir.Alt):
            return any(ok(i) for i in e.items)
        if isinstance(e, Repeat):
            return e.min == 0 or ok(e.item)
        return True

    changed = True
    while changed:
        changed = False
        for name, body in g.rules.items():
            if name not in prod and ok(body):
                prod.add(name)
                changed = True
    return g.start in prod
