"""JSON Schema front end: ``JsonSchema(schema)`` lowered to the Grammar IR.

``JsonSchema(schema, *, spelling="canonical", whitespace=None, key_order=None,
extra_keys=None, repeats=None, strict=True)`` takes a schema as a dict (or a boolean) or as JSON text.
``to_grammar()`` returns an :class:`structgen.ir.Grammar` whose texts are JSON texts of valid
instances (``jsonschema`` Draft 2020-12 semantics, draft-04/06/07 forms accepted:
``definitions``, ``dependencies``, ``additionalItems``, ``items`` as an array, boolean
``exclusiveMinimum``, ``$ref`` siblings ignored when ``$schema`` names a draft up to 07).

**Two spellings.** ``spelling="canonical"`` (the default, for generating) admits one text
per value: the one ``json.dumps(value, ensure_ascii=False)`` writes in the chosen layout.
A small model whose favourite token is masked then cannot fall back on an escape, a repeated
key, ``1.0`` for an integer or a run of newlines: each is simply not in the language.
``spelling="any"`` (for checking texts written elsewhere, what ``structgen check`` uses)
admits exactly the JSON texts of the valid instances, every spelling of them. Every canonical
text is also an any-spelling text.

Canonical texts:

* no key twice in one object; keys in the schema's order (``key_order="schema"``: the
  ``properties``, then keys that are only ``required``; a ``$ref`` target's properties
  before the schema's own, ``allOf`` branches' after them); a declared key spelled literally;
* undeclared keys (``extra_keys="explicit"``) only where ``additionalProperties`` or
  ``patternProperties`` is present and allows them, after the declared keys and never equal
  to one of them; where neither keyword is present the object has declared keys only (still
  valid instances; ``{"type": "object"}`` alone gives ``{}``), unless ``minProperties``
  needs more keys than are declared. The grammar lets two undeclared keys be equal (which
  keys were written before is not something a context-free grammar can remember in
  general), so generation refuses a repeated key in the logits processor, for every JSON
  Schema (:mod:`structgen.hf.fresh_items`); checking a given text still accepts one;
* strings escape only ``"``, ``\\`` and the control characters below U+0020 (``\\n \\t \\r
  \\b \\f``, ``\\u00xx`` for the others), everything else raw UTF-8: never ``\\/`` or a
  ``\\uXXXX`` for a printable character;
* numbers as plain decimals: no exponent, no leading ``+`` or zeros, no ``-0``, at most 16
  digits before and 15 after the point (what a binary float holds exactly; wider only where the
  schema's bounds need it); an ``integer`` is a plain integer (one text per value); a
  non-integer number's fraction may end in zeros (``19.50``, ``2.0``): where it could not,
  SmolLM2 wrote a price ``1249.5`` and then, its ``0`` only allowed if a non-zero digit
  followed, 140 tokens of zeros (the output-quality bench, ``bench/bench_quality.py``);
* ``enum`` / ``const`` values exactly as ``json.dumps`` writes them (``1.0``, ``1e+20``, the
  key order of an object value as written in the schema);
* nothing before or after the top-level value: once it closes, only EOS may follow.

**Repeated items.** ``repeats="avoid"`` (the canonical default; ``"allow"`` the any-spelling
one) is a generation policy, not part of the grammar: an array item that would be completed
spelled like an earlier item of the same array is refused while another token is allowed,
so the model writes a new item or closes the array, and a schema that forces a repeat
(``minItems`` above the number of distinct values) still gets it. A grammar cannot forbid
the repeat of an arbitrary string; ``uniqueItems`` over a small finite set of values is
exact in the grammar (below). See :mod:`structgen.hf.fresh_items`.

**Whitespace.** ``whitespace`` picks one layout: ``"spaced"`` (``", "`` and ``": "``, as
``json.dumps`` writes by default; the canonical default, :data:`DEFAULT_CANONICAL_WHITESPACE`),
``"compact"`` (none), ``"indent"`` (``json.dumps(indent=2)`` exactly, nesting-aware, up to
:data:`MAX_INDENT_DEPTH` levels: deeper containers are not generated), or ``"bounded"``
(the any-spelling default: every gap where JSON allows whitespace, before and after the
whole value too, accepts ``[ \\t\\n\\r]{0,20}`` (:data:`MAX_WS`), so ``json.dumps(x)`` and
``json.dumps(x, indent=2)`` up to nine levels deep are accepted while generation cannot run
on in whitespace).

**Key order (any spelling).** With ``key_order="any"`` (the any-spelling default) an object
with at most :data:`ANY_ORDER_MAX` (6) declared keys accepts them in any order, each at most
once. A larger object without ``minProperties`` / ``maxProperties`` and with at most 8
required keys accepts its keys in any order too, in the any spelling a declared key possibly
more than once: every occurrence must satisfy the key's schema, so whichever occurrence a
JSON parser keeps, the parsed instance is valid. Other objects write declared keys in
schema order. Optional keys may be skipped; additional keys (allowed unless
``additionalProperties`` is false, with ``extra_keys="any"``) may appear anywhere between
them and are not checked for duplicates.

**Strings (any spelling).** Every JSON spelling of a string is accepted (raw UTF-8, short
escapes, ``\\uXXXX`` in either case, surrogate pairs); lone surrogate escapes never are.
``minLength`` / ``maxLength`` count code points of the decoded string. ``pattern`` has
``re.search`` semantics on the decoded string, as ``jsonschema`` uses; patterns with anchors
other than a leading ``^`` / ``\\A`` and a trailing ``$`` / ``\\Z``, or constructs that are not
regular (lookaround, backreferences) are refused. ``format``: see
:mod:`structgen.jsonschema.formats` (asserted, as with ``jsonschema``'s ``FormatChecker``).

**Numbers (any spelling).** Compared by exact decimal value (``1`` equals ``1.0``; ``1.0`` is an
integer, except under a ``$schema`` of draft-03/04, where an integer is an integer literal). An unconstrained ``number`` accepts any JSON number text. With a value constraint
(``integer``, bounds, ``multipleOf``, numeric ``const`` / ``enum``, or a complement of one)
the texts are the canonical ones, plain decimals and normalized scientific notation
(``1.5e-07``, ``1e+16``:
what ``json.dumps`` writes), see :mod:`structgen.jsonschema.numbers`. Python parses some
texts that are valid decimals to floats that are not (``1e400`` becomes ``inf``); those
edge cases follow the decimal value.

**Exact or refused.** ``type``, ``enum``, ``const``, ``properties``, ``required``,
``additionalProperties``, ``patternProperties``, ``propertyNames``, ``min/maxProperties``,
``dependentRequired``, ``dependentSchemas``, ``dependencies``, ``items``, ``prefixItems``,
``additionalItems``, ``min/maxItems``, ``anyOf``, ``allOf``, ``$ref`` (pointers, ``$defs`` /
``definitions``, ``$id`` / ``$anchor`` inside the document, recursion), ``pattern``,
``min/maxLength``, ``minimum`` / ``maximum`` / ``exclusiveMinimum`` / ``exclusiveMaximum``
are exact. Exact where decidable, refused otherwise:

* ``not``: the complement of a schema is written keyword by keyword (a value fails a
  schema when it fails one of its keywords): type, scalar values, bounds, lengths,
  ``pattern``, formats, ``required``, ``properties`` (the key present with a failing
  value), counts, dependencies, tuple items, ``allOf`` / ``anyOf`` / ``oneOf`` / ``not`` /
  ``if``. Complements that need "some property / item fails" (``additionalProperties``,
  ``patternProperties``, ``propertyNames``, ``items``, ``contains``), ``uniqueItems``,
  ``multipleOf`` and array / object values are refused;
* ``oneOf``: provably disjoint branches (by type, values, a required key with disjoint
  values, numeric ranges) are alternatives; otherwise branch *i* is written as branch *i*
  and the complement of every branch it may overlap (exact when those complements can be
  written);
* ``if`` / ``then`` / ``else``: ``(if and then) or (not if and else)``;
* ``multipleOf``: integers ``2^a 5^b`` or ``3 * 2^a 5^b``, and ``10^-e`` (``0.01``: at
  most two decimals), decided on the decimal value as the specification defines it
  (``jsonschema`` divides binary floats: it rejects ``0.07`` for ``0.01``);
* ``uniqueItems: true`` when the items come from a finite set of at most 10 values
  (``enum``, ``const``, booleans, null): one rule per set of values used so far;
* ``format``: see :mod:`structgen.jsonschema.formats` (exact for date, date-time, time,
  email, ipv4, ipv6, json-pointer as ``jsonschema`` checks them; uri, uri-reference, iri,
  iri-reference, hostname, duration generated by their RFC grammars and, in the any
  spelling, judged as ``jsonschema``'s checkers judge them; uuid by its RFC grammar). A
  format constrains strings only: every other value passes it.

**Depth.** A schema nested deeper than ``Limits.max_spec_depth`` (JSON containers, or rules
lowered inside one another) raises :class:`~structgen.errors.LimitError` naming the JSON
pointer, before anything recursive runs.

Annotations and unknown keywords are ignored, as ``jsonschema`` does. Anything else
(``contains``, ``unevaluated*``, ...) raises :class:`UnsupportedSchemaError` naming the
keyword and its JSON pointer (``"uniqueItems at /properties/tags is not supported: ..."``);
with ``strict=False`` it is ignored (or approximated) with a
:class:`SchemaApproximationWarning` instead. Unsatisfiable schemas raise
:class:`UnsupportedSchemaError` too. The table of every keyword and format is
:mod:`structgen.jsonschema.support` (``docs/jsonschema-support.md``).
"""

from __future__ import annotations

import json
from typing import Any

from ..deadline import deadline
from ..errors import SpecError, UnsupportedSchemaError
from ..ir import Grammar
from ..limits import DEFAULT_LIMITS, Limits
from .depth import check_text, check_value
from .lower import ANY_ORDER_MAX, MAX_WS, Lowerer, SchemaApproximationWarning
from .options import DEFAULT_CANONICAL_WHITESPACE, MAX_INDENT_DEPTH, Options

__all__ = [
    "ANY_ORDER_MAX",
    "DEFAULT_CANONICAL_WHITESPACE",
    "JsonSchema",
    "MAX_INDENT_DEPTH",
    "MAX_WS",
    "SchemaApproximationWarning",
    "UnsupportedSchemaError",
]


class JsonSchema:
    """A JSON Schema constraint: the generated text must be a valid instance, as JSON text.

    ``schema`` is a dict, a boolean or a JSON string. ``spelling="canonical"`` (the
    default) admits one text per value, the one ``json.dumps`` writes; ``spelling="any"``
    admits every valid JSON spelling (for checking texts written elsewhere). ``whitespace``
    is ``"compact"``, ``"spaced"``, ``"indent"`` or ``"bounded"``; ``key_order`` is
    ``"schema"`` or ``"any"``; ``extra_keys`` is ``"explicit"`` or ``"any"``; ``repeats`` is
    ``"avoid"`` (refuse an array item spelled like an earlier one while generating, where
    another token is allowed) or ``"allow"``: each ``None`` takes the spelling's default
    (see :mod:`structgen.jsonschema.options`).
    ``strict=False`` ignores (with a warning) what cannot be enforced exactly instead of
    raising :class:`~structgen.errors.UnsupportedSchemaError`. ``limits``: its
    ``max_spec_depth`` bounds how deep the schema may nest, and its
    ``max_compile_seconds`` how long lowering may take (default: ``Limits()``; lowering
    inside :func:`structgen.compile` also stays within the compile's own limits).
    Equality and hashing use a canonical JSON dump of the schema plus the options.
    """

    __slots__ = ("schema", "options", "strict", "limits", "_key", "_grammar")

    def __init__(
        self,
        schema: Any,
        *,
        spelling: str = "canonical",
        whitespace: str | None = None,
        key_order: str | None = None,
        extra_keys: str | None = None,
        repeats: str | None = None,
        strict: bool = True,
        limits: Limits | None = None,
    ):
        limits = limits or DEFAULT_LIMITS
        if isinstance(schema, (str, bytes, bytearray)):
            check_text(
                schema if isinstance(schema, str) else bytes(schema).decode("utf-8", "replace"),
                limits.max_spec_depth,
            )
            try:
                schema = json.loads(schema)
            except ValueError as e:
                raise SpecError(f"the schema is not valid JSON: {e}") from None
        if not isinstance(schema, (dict, bool)):
            raise SpecError(
                f"a JSON Schema must be an object or a boolean, not {type(schema).__name__}"
            )
        options = Options.resolve(spelling, whitespace, key_order, extra_keys, repeats)
        check_value(schema, limits.max_spec_depth)
        try:
            dump = json.dumps(schema, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as e:
            raise SpecError(f"the schema is not JSON data: {e}") from None
        self.schema = json.loads(dump)
        self.options = options
        self.strict = bool(strict)
        self.limits = limits
        self._key = (dump, options, self.strict)
        self._grammar: Grammar | None = None

    @property
    def spelling(self) -> str:
        return self.options.spelling

    @property
    def whitespace(self) -> str:
        return self.options.whitespace

    @property
    def key_order(self) -> str:
        return self.options.key_order

    @property
    def extra_keys(self) -> str:
        return self.options.extra_keys

    @property
    def repeats(self) -> str:
        return self.options.repeats

    def to_grammar(self) -> Grammar:
        """The grammar of the valid instances' JSON texts (built once, then cached)."""
        if self._grammar is None:
            lim = self.limits
            with deadline(
                lim.max_compile_seconds, "lowering the schema (Limits.max_compile_seconds)"
            ):
                lowerer = Lowerer(self.schema, self.options, self.strict, lim.max_spec_depth)
                self._grammar = lowerer.grammar()
        return self._grammar

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JsonSchema):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash((JsonSchema, self._key))

    def __repr__(self) -> str:
        text = self._key[0]
        if len(text) > 80:
            text = text[:77] + "..."
        opts = "".join(f", {k}={v!r}" for k, v in self.options.non_defaults().items())
        if not self.strict:
            opts += ", strict=False"
        return f"JsonSchema({text}{opts})"

    def __reduce__(self):
        o = self.options
        return (
            _rebuild,
            (
                self._key[0],
                o.spelling,
                o.whitespace,
                o.key_order,
                o.extra_keys,
                self.strict,
                o.repeats,
            ),
        )


def _rebuild(
    text: str,
    spelling: str,
    whitespace: str,
    key_order: str,
    extra_keys: str,
    strict: bool,
    repeats: str | None = None,
) -> JsonSchema:
    return JsonSchema(
        text,
        spelling=spelling,
        whitespace=whitespace,
        key_order=key_order,
        extra_keys=extra_keys,
        repeats=repeats,
        strict=strict,
    )
