"""The JSON Schema support table: every keyword and format, how it is enforced.

``python -m structgen.jsonschema.support > docs/jsonschema-support.md`` writes the table;
a test checks that the committed file is this module's output, and that each keyword's
example schema compiles (``exact`` / ``partial``) or is refused naming the keyword
(``refused``).

Status: ``exact`` (the grammar admits exactly the valid instances, under the key-order and
number-text conventions of :mod:`structgen.jsonschema`), ``partial`` (exact in the cases
listed, refused otherwise: never weakened in strict mode), ``refused`` (always raises
:class:`~structgen.errors.UnsupportedSchemaError` in strict mode), ``ignored`` (an
annotation: it never affects validity).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import formats as F
from .lower import _MAX_UNIQUE_DOMAIN, ANNOTATIONS, ANY_ORDER_MAX, MAX_WS


@dataclass(frozen=True)
class Keyword:
    name: str
    status: str  # exact | partial | refused | ignored
    notes: str
    example: object = None  # a schema using the keyword (None for annotations)


KEYWORDS: tuple[Keyword, ...] = (
    # any type
    Keyword("type", "exact", "a type name or a list of them", {"type": ["string", "null"]}),
    Keyword("enum", "exact", "values checked against the whole schema", {"enum": [1, "a", [None]]}),
    Keyword("const", "exact", "", {"const": {"a": [1, 2]}}),
    # combinators
    Keyword(
        "allOf", "exact", "merged keyword by keyword", {"allOf": [{"minimum": 1}, {"maximum": 3}]}
    ),
    Keyword(
        "anyOf",
        "exact",
        "alternatives (each merged with its siblings)",
        {"anyOf": [{"type": "string"}, {"type": "null"}]},
    ),
    Keyword(
        "oneOf",
        "partial",
        "provably disjoint branches as alternatives (by type, values, required keys, "
        "numeric ranges); overlapping branches as 'branch i and not branch j' when the "
        "complements can be written (see not)",
        {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
    ),
    Keyword(
        "not",
        "partial",
        "the complement of type, enum/const of scalars, numeric bounds, string lengths, "
        "pattern, enforced formats, required, properties, min/maxProperties, dependencies, "
        "items (contains the complement), prefixItems, contains, min/maxItems, allOf, anyOf, "
        "oneOf, not, if/then/else; refused for additionalProperties, patternProperties, "
        "propertyNames, uniqueItems, multipleOf, enum of arrays/objects",
        {"not": {"required": ["a", "b"]}},
    ),
    Keyword(
        "if",
        "partial",
        "(if and then) or (not if and else), when the complement of if can be written",
        {
            "if": {"properties": {"k": {"const": 1}}},
            "then": {"required": ["x"]},
            "else": {"required": ["y"]},
        },
    ),
    Keyword("then", "exact", "with if (no effect alone)", None),
    Keyword("else", "exact", "with if (no effect alone)", None),
    Keyword(
        "$ref",
        "exact",
        "JSON pointers, $defs / definitions, $id / $anchor inside the document, recursion; remote references refused",
        {"$defs": {"a": {"type": "integer"}}, "$ref": "#/$defs/a"},
    ),
    # numbers
    Keyword("minimum", "exact", "exact decimal comparison, any range", {"minimum": -2.5}),
    Keyword("maximum", "exact", "", {"maximum": 10**30}),
    Keyword("exclusiveMinimum", "exact", "numbers and draft-04 booleans", {"exclusiveMinimum": 0}),
    Keyword("exclusiveMaximum", "exact", "numbers and draft-04 booleans", {"exclusiveMaximum": 1}),
    Keyword(
        "multipleOf",
        "partial",
        "integers of the form 2^a 5^b or 3 * 2^a 5^b, and 10^-e (0.1, 0.01...: at most e "
        "decimals, decided on the decimal value); other values refused",
        {"multipleOf": 0.01},
    ),
    # strings
    Keyword("minLength", "exact", "in code points of the decoded string", {"minLength": 2}),
    Keyword("maxLength", "exact", "in code points of the decoded string", {"maxLength": 5}),
    Keyword(
        "pattern",
        "partial",
        "re.search semantics through the regex front end; lookaround, backreferences and "
        "inner anchors refused",
        {"pattern": "^[a-z]+$"},
    ),
    Keyword("format", "partial", "see the formats table", {"format": "date-time"}),
    # objects
    Keyword(
        "properties",
        "exact",
        "canonical spelling: properties order, each key once; spelling='any': any order "
        f"with at most {ANY_ORDER_MAX} declared properties or without min/maxProperties and "
        "at most 8 required keys, else properties order",
        {"properties": {"a": {"type": "integer"}}},
    ),
    Keyword("required", "exact", "", {"required": ["a"]}),
    Keyword(
        "additionalProperties",
        "exact",
        "true (default), false or a schema; the canonical spelling generates undeclared keys "
        "only where it (or patternProperties) is present, after the declared keys",
        {"additionalProperties": {"type": "string"}},
    ),
    Keyword(
        "patternProperties",
        "partial",
        "up to 4 patterns per object (regions of keys by the patterns they match)",
        {"patternProperties": {"^x-": {"type": "string"}}},
    ),
    Keyword(
        "propertyNames",
        "partial",
        "string constraints on keys (enum, lengths, pattern, format); anyOf / oneOf inside refused",
        {"propertyNames": {"maxLength": 3}},
    ),
    Keyword("minProperties", "exact", "", {"minProperties": 1}),
    Keyword("maxProperties", "exact", "", {"maxProperties": 2}),
    Keyword("dependentRequired", "exact", "", {"dependentRequired": {"a": ["b"]}}),
    Keyword("dependentSchemas", "exact", "", {"dependentSchemas": {"a": {"required": ["b"]}}}),
    Keyword("dependencies", "exact", "draft-07 form of both", {"dependencies": {"a": ["b"]}}),
    Keyword("unevaluatedProperties", "refused", "", {"unevaluatedProperties": False}),
    # arrays
    Keyword(
        "items", "exact", "a schema, or an array (draft-07 tuples)", {"items": {"type": "integer"}}
    ),
    Keyword("prefixItems", "exact", "", {"prefixItems": [{"type": "string"}], "items": False}),
    Keyword(
        "additionalItems",
        "exact",
        "with items as an array",
        {"items": [{}], "additionalItems": False},
    ),
    Keyword("minItems", "exact", "counted, never unrolled", {"minItems": 1}),
    Keyword("maxItems", "exact", "", {"maxItems": 3}),
    Keyword(
        "uniqueItems",
        "partial",
        f"true with items from a finite set of at most {_MAX_UNIQUE_DOMAIN} values (enum, "
        "const, boolean, null), or maxItems <= 1; false is no constraint",
        {"items": {"enum": ["a", "b", "c"]}, "uniqueItems": True},
    ),
    Keyword(
        "contains",
        "partial",
        "each item matches the contains schema (counted) or its complement; one contains per "
        "array without prefixItems, when the complement can be written",
        {"contains": {"type": "integer"}, "minContains": 2},
    ),
    Keyword("minContains", "exact", "with contains (no effect alone)", None),
    Keyword("maxContains", "exact", "with contains (no effect alone)", None),
    Keyword("unevaluatedItems", "refused", "", {"unevaluatedItems": False}),
    Keyword("$dynamicRef", "refused", "", {"$dynamicRef": "#a"}),
    Keyword("$recursiveRef", "refused", "", {"$recursiveRef": "#"}),
)


def _format_rows() -> list[tuple[str, str, str]]:
    rows = []
    for name in sorted(F.EXACT):
        if name == "email":  # generated as a subset, see formats.EMAIL
            rows.append((name, "exact", "a practical address (a subset of the checker's)"))
        else:
            rows.append((name, "exact", "as jsonschema's FormatChecker"))
    for name in sorted(F.RFC):
        if name in F.CHECKED:
            note = "generated by the RFC grammar; checked as jsonschema's FormatChecker"
        else:
            note = "the RFC grammar (jsonschema's checker is laxer)"
        rows.append((name, "exact", note))
    for name in sorted(F.APPROXIMATE):
        rows.append((name, "refused", "no exact regular form (strict=False applies a subset)"))
    rows.append(("(other names)", "ignored", "unknown formats are annotations"))
    return rows


def markdown() -> str:
    """The support table as Markdown (docs/jsonschema-support.md)."""
    out = [
        "# JSON Schema support",
        "",
        "Generated by `python -m structgen.jsonschema.support`; do not edit by hand.",
        "",
        "`exact`: the grammar admits exactly the valid instances. `partial`: exact in the "
        "cases described, refused otherwise (strict mode raises `UnsupportedSchemaError` "
        "naming the keyword and its JSON pointer; `strict=False` warns and approximates). "
        "`refused`: always refused. `ignored`: an annotation.",
        "",
        'Conventions: by default (`spelling="canonical"`) one text per value, as '
        "`json.dumps(value, ensure_ascii=False)` writes it, numbers as plain decimals, keys in "
        "`properties` order, undeclared keys only where `additionalProperties` / "
        '`patternProperties` allow them; with `spelling="any"` every valid spelling, bounded '
        f"whitespace (at most {MAX_WS} characters per gap) and, with a value constraint, "
        "numbers in canonical form (plain decimals and normalized scientific notation); see "
        "`structgen.jsonschema`.",
        "",
        "## Keywords",
        "",
        "| keyword | status | notes |",
        "|---|---|---|",
    ]
    for k in KEYWORDS:
        out.append(f"| `{k.name}` | {k.status} | {k.notes} |")
    out += [
        f"| {', '.join(f'`{a}`' for a in sorted(ANNOTATIONS))} | ignored | annotations |",
        "",
        "## Formats",
        "",
        "| format | status | notes |",
        "|---|---|---|",
    ]
    for name, status, notes in _format_rows():
        fmt = name if name.startswith("(") else f"`{name}`"
        out.append(f"| {fmt} | {status} | {notes} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(markdown())
