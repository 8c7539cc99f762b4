"""Python types as output specs: ``output_spec(T)`` gives what to enforce and how to parse.

``output_spec(output_type)`` returns an :class:`Output` with

* ``spec``: what :func:`structgen.compile` takes (a :class:`~structgen.jsonschema.JsonSchema`,
  a :class:`~structgen.Regex`, a grammar object with ``to_grammar()``, an ``ir.Grammar``);
* ``parse(text)``: the validated value of a generated text;
* ``json_schema``: the JSON Schema enforced, when there is one.

Accepted output types:

* pydantic models, dataclasses, ``TypedDict``, ``NamedTuple``, ``Union`` / ``Optional``,
  ``list`` / ``tuple`` / ``dict[str, T]``, ``int`` / ``float`` / ``str`` / ``bool`` /
  ``None``, ``datetime`` / ``date`` / ``time`` / ``UUID``, pydantic's ``EmailStr``, URL
  and IP address types, and ``Annotated`` constraints (``pydantic.Field``,
  annotated-types): the JSON Schema comes from ``pydantic.TypeAdapter(T).json_schema()``,
  and ``parse`` is ``T.model_validate_json`` for a model, ``TypeAdapter(T).validate_json``
  otherwise, so the result is an instance of ``T``. A ``str`` output is a JSON string
  (``"..."``).
* a bare ``Literal`` / ``Enum`` (not inside another type): the chosen value's text,
  unquoted (``yes``, not ``"yes"``), parsed to the ``Literal`` value / ``Enum`` member
  (see :mod:`structgen.choices`).
* ``Annotated[str, structgen.Regex(...)]`` or a ``Regex``: the text itself, a ``str``.
* ``Annotated[str, grammar]`` or a grammar (``to_grammar()`` / ``ir.Grammar``): a ``str``.
* a JSON Schema as a ``dict`` (or ``bool``), or a ``JsonSchema``: ``parse`` is
  ``json.loads`` checked by ``jsonschema`` (with its format checker).

A text that the grammar admits but the type's own validation rejects (a pydantic
``field_validator`` / ``model_validator``) raises
:class:`~structgen.errors.OutputValidationError` in :func:`structgen.generate`.

Schemas derived from Python types are narrowed where pydantic accepts less than the JSON
Schema says, so every text the grammar admits parses: objects without
``additionalProperties`` get ``additionalProperties: false`` (pydantic ignores extra keys
by default, so they would only waste tokens; ``extra="allow"`` models keep theirs);
``date-time`` / ``date`` / ``time`` strings exclude the trailing newline ``jsonschema``
tolerates; ``uuid`` strings are the canonical ``8-4-4-4-12`` hex form; ``dict`` keys that
pydantic parses from strings get ``propertyNames`` (``dict[int, T]``: canonical integers).
``email`` is a practical address (see :mod:`structgen.jsonschema.formats`); URL types,
``IPvAny*`` / interface / network types and versioned UUIDs (``UUID4``) get the patterns of
:mod:`structgen.pydantic_formats`, as does ``timedelta``'s ``duration``. Formats that
pydantic checks in its own way with no grammar here (``FilePath``: the file must exist;
``Base64Str``, ``Color``, ...) raise
:class:`~structgen.errors.UnsupportedSchemaError` naming the format, its place and that
reason, as do keywords the JSON Schema front end refuses (``set[T]``'s ``uniqueItems``,
...).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import typing
from collections.abc import Callable
from typing import Any

from .choices import choice_output
from .errors import LimitError, SpecError, UnsupportedSchemaError
from .ir import Grammar
from .regex import Regex

__all__ = ["Output", "output_spec"]

_UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
_NO_NEWLINE = r"^[^\n]*\Z"
# pydantic matches patterns with Rust's regex, where "$" is the end of the text only;
# JSON Schema (Python's re) also lets "$" match before a final newline
_NO_FINAL_NEWLINE = r"^(?:[\s\S]*[^\n])?\Z"


@dataclasses.dataclass(frozen=True)
class Output:
    """What to enforce (``spec``) and how to turn a generated text into a value (``parse``)."""

    spec: Any
    parse: Callable[[str], Any]
    output_type: Any = None
    json_schema: dict | bool | None = None

    def __repr__(self) -> str:
        return f"Output({self.output_type!r}, spec={self.spec!r})"


def _is_grammar(x: Any) -> bool:
    return isinstance(x, Grammar) or (hasattr(x, "to_grammar") and not isinstance(x, type))


def _text(text: str) -> str:
    return text


def output_spec(
    output_type: Any,
    *,
    whitespace: str | None = None,
    spelling: str | None = None,
    strict: bool = True,
    repeats: str | None = None,
) -> Output:
    """The :class:`Output` for ``output_type`` (see the module docstring for the types).

    ``whitespace``, ``spelling``, ``repeats`` and ``strict`` are passed to
    :class:`~structgen.jsonschema.JsonSchema`; all but ``strict`` only when given
    (``None`` keeps :class:`~structgen.jsonschema.JsonSchema`'s defaults).
    """
    from .jsonschema import JsonSchema

    options: dict[str, Any] = {"strict": strict}
    if whitespace is not None:
        options["whitespace"] = whitespace
    if spelling is not None:
        options["spelling"] = spelling
    if repeats is not None:
        options["repeats"] = repeats

    if isinstance(output_type, Output):
        return output_type
    if isinstance(output_type, Regex):
        return Output(output_type, _text, output_type)
    if isinstance(output_type, JsonSchema):
        return Output(
            output_type, _schema_parser(output_type.schema), output_type, output_type.schema
        )
    if _is_grammar(output_type):
        return Output(output_type, _text, output_type)
    if isinstance(output_type, (dict, bool)):
        spec = JsonSchema(output_type, **options)
        return Output(spec, _schema_parser(spec.schema), output_type, spec.schema)
    if isinstance(output_type, (str, bytes)):
        raise SpecError(
            "a str output type is ambiguous: pass structgen.Regex(pattern) for a regular "
            "expression, or the parsed dict (json.loads) for a JSON Schema"
        )
    annotated = _annotated_text_spec(output_type)
    if annotated is not None:
        return Output(annotated, _text, output_type)
    choice = choice_output(output_type)
    if choice is not None:
        return choice
    return _python_type(output_type, options)


def _annotated_text_spec(tp: Any) -> Any:
    """The Regex / grammar of ``Annotated[str, <Regex or grammar>]``, else None."""
    if typing.get_origin(tp) is not typing.Annotated:
        return None
    base, *meta = typing.get_args(tp)
    specs = [m for m in meta if isinstance(m, Regex) or _is_grammar(m)]
    if not specs:
        return None
    if base is not str:
        raise SpecError(
            f"a regex or grammar annotation needs Annotated[str, ...], not Annotated[{base!r}, ...]"
        )
    if len(specs) > 1:
        raise SpecError("Annotated[str, ...] may carry only one regex or grammar")
    return specs[0]


def _python_type(tp: Any, options: dict[str, Any]) -> Output:
    import pydantic

    from .jsonschema import JsonSchema
    from .jsonschema.depth import check_type

    if inspect.isroutine(tp) or isinstance(tp, functools.partial):
        raise SpecError(f"{tp!r} is a function, not a supported output type")
    check_type(tp)  # before pydantic's recursive schema writer meets the recursion limit
    try:
        adapter = pydantic.TypeAdapter(tp)
        schema = adapter.json_schema(schema_generator=_schema_generator())
    except RecursionError:
        raise LimitError(f"{tp!r} is nested too deeply for its JSON Schema to be written") from None
    except pydantic.errors.PydanticUserError as e:
        raise SpecError(f"cannot derive a JSON Schema from {tp!r}: {e}") from None
    except (pydantic.errors.PydanticSchemaGenerationError, TypeError) as e:
        raise SpecError(
            f"{tp!r} is not a supported output type (a pydantic model, dataclass, TypedDict, "
            f"Literal, Enum, Union, list/tuple/dict, scalar or Annotated type): {e}"
        ) from None
    schema = _narrow(schema, "")
    spec = JsonSchema(schema, **options)
    spec.to_grammar()  # refusals surface here, naming the keyword and its place
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        parse = tp.model_validate_json
    else:
        parse = adapter.validate_json
    return Output(spec, parse, tp, spec.schema)


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_ONE = (
    "items",
    "additionalItems",
    "additionalProperties",
    "unevaluatedItems",
    "unevaluatedProperties",
    "propertyNames",
    "contains",
    "not",
    "if",
    "then",
    "else",
)
_SCHEMA_LISTS = ("prefixItems", "anyOf", "oneOf", "allOf", "items")


def _schema_generator():
    """pydantic's JSON Schema generator, plus ``propertyNames`` for ``dict`` keys that
    pydantic parses from strings (``dict[int, T]``: canonical integers), and URL types as
    the practical URLs of :mod:`structgen.pydantic_formats` (their schemes kept)."""
    from pydantic.json_schema import GenerateJsonSchema

    from .pydantic_formats import url_schema

    class Generator(GenerateJsonSchema):
        def dict_schema(self, schema):
            out = super().dict_schema(schema)
            keys = schema.get("keys_schema") or {}
            kind = keys.get("type")
            if "propertyNames" in out or kind in (None, "any", "str"):
                return out
            extra = set(keys) - {"type", "ref", "metadata"}
            if kind in _KEY_NAMES and not extra:
                out["propertyNames"] = _KEY_NAMES[kind]
                return out
            raise SpecError(f"dict keys of pydantic type {kind!r} are not supported (use str keys)")

        def url_schema(self, schema):
            return url_schema(super().url_schema(schema), schema.get("allowed_schemes"))

        def multi_host_url_schema(self, schema):
            out = super().multi_host_url_schema(schema)
            return url_schema(out, schema.get("allowed_schemes"))

    return Generator


_KEY_NAMES = {
    "int": {"pattern": r"^-?(0|[1-9][0-9]*)\Z"},
    "float": {"pattern": r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?\Z"},
    "bool": {"enum": ["true", "false"]},
}
# formats that pydantic validates exactly as the grammar enforces them (after the
# narrowing below), or not at all; the formats of pydantic's other types get patterns from
# structgen.pydantic_formats; any other format from a Python type is refused
_SAFE_FORMATS = frozenset(
    {"date-time", "date", "time", "uuid", "ipv4", "ipv6", "email", "binary", "path", "password"}
)


def _narrow(node: Any, ptr: str) -> Any:
    """The narrowing of schemas from Python types described in the module docstring."""
    from .pydantic_formats import FORMAT_PATTERNS, refusal

    if not isinstance(node, dict):
        return node
    out = dict(node)
    for k in _SCHEMA_MAPS:
        if isinstance(out.get(k), dict):
            out[k] = {name: _narrow(sub, f"{ptr}/{k}/{name}") for name, sub in out[k].items()}
    for k in _SCHEMA_ONE:
        if isinstance(out.get(k), dict):
            out[k] = _narrow(out[k], f"{ptr}/{k}")
    for k in _SCHEMA_LISTS:
        if isinstance(out.get(k), list):
            out[k] = [_narrow(sub, f"{ptr}/{k}/{i}") for i, sub in enumerate(out[k])]
    fmt = out.get("format")
    if fmt == "name-email":  # NameEmail takes a bare address too
        out["format"] = fmt = "email"
    if fmt in FORMAT_PATTERNS:
        del out["format"]
        out = _with_pattern(out, FORMAT_PATTERNS[fmt])
    elif fmt is not None and fmt not in _SAFE_FORMATS:
        raise UnsupportedSchemaError(refusal(fmt, ptr or "/"))
    if fmt == "uuid":
        del out["format"]
        out = _with_pattern(out, _UUID_PATTERN)
    elif fmt in ("date-time", "date", "time"):
        out = _with_pattern(out, _NO_NEWLINE)
    pat = out.get("pattern")
    if isinstance(pat, str) and pat.endswith("$") and not pat.endswith("\\$"):
        out = _with_pattern(out, _NO_FINAL_NEWLINE)
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and "patternProperties" not in out
    ):
        out["additionalProperties"] = False
    return out


def _with_pattern(node: dict, pattern: str) -> dict:
    if "pattern" in node:
        return {"allOf": [node, {"pattern": pattern}]}
    return {**node, "pattern": pattern}


def _schema_parser(schema: Any) -> Callable[[str], Any]:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

    def parse(text: str) -> Any:
        value = json.loads(text)
        validator.validate(value)
        return value

    return parse
