"""Scoring for the output-quality benchmark: validity, field accuracy, spelling audit.

No model and no engine here: functions of an output text, a JSON Schema and a task's
expected values (``bench/quality_tasks.py``).

The spelling audit reads the text with a small JSON scanner that keeps each value's raw
spelling and path, and stops quietly where the text stops (a cut-off output is audited up
to its end). It counts, per output:

* ``escapes``: a ``\\uXXXX`` escape of a character that JSON lets through as it is (any
  code point from U+0020 except ``"`` and ``\\``), or ``\\/``, in a key or a value;
* ``int_spelling``: a value where the schema expects an integer written with a fraction
  or an exponent (``1.0``, ``1e2``, ``1.25000...``), or ``-0``;
* ``trailing_ws``: whitespace after the top-level value (and nothing else after it);
* ``dup_items``: arrays holding the same item twice;
* ``dup_keys``: objects holding the same key twice.
"""

from __future__ import annotations

import json
import re
from typing import Any

AUDIT_KEYS = ("escapes", "int_spelling", "trailing_ws", "dup_items", "dup_keys")

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WS = " \t\n\r"
_LITERALS = {"true": True, "false": False, "null": None}


class _Stop(Exception):
    """The text ends, or stops being JSON."""


# --------------------------------------------------------------------------------------
# schema lookup by path


def _resolve(schema: Any, root: dict, depth: int = 0) -> list[dict]:
    """``schema`` with ``$ref`` followed and ``anyOf``/``oneOf``/``allOf`` flattened."""
    if not isinstance(schema, dict) or depth > 20:
        return []
    out = [schema]
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = (
                node.get(part.replace("~1", "/").replace("~0", "~"), {})
                if isinstance(node, dict)
                else {}
            )
        out += _resolve(node, root, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, ()) or ():
            out += _resolve(sub, root, depth + 1)
    return out


def _child(schemas: list[dict], step: Any, root: dict) -> list[dict]:
    out: list[dict] = []
    for s in schemas:
        if isinstance(step, str):
            props = s.get("properties") or {}
            if step in props:
                out += _resolve(props[step], root)
            elif isinstance(s.get("additionalProperties"), dict):
                out += _resolve(s["additionalProperties"], root)
        else:
            prefix = s.get("prefixItems") or []
            if step < len(prefix):
                out += _resolve(prefix[step], root)
            elif isinstance(s.get("items"), dict):
                out += _resolve(s["items"], root)
    return out


def _wants_integer(schemas: list[dict]) -> bool:
    types: set[str] = set()
    for s in schemas:
        t = s.get("type")
        types.update([t] if isinstance(t, str) else (t or []))
    return "integer" in types and "number" not in types


# --------------------------------------------------------------------------------------
# the scanner


class _Scanner:
    def __init__(self, text: str, schema: dict):
        self.s = text
        self.i = 0
        self.root = schema
        self.counts = dict.fromkeys(AUDIT_KEYS, 0)

    def _ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in _WS:
            self.i += 1

    def _peek(self) -> str:
        if self.i >= len(self.s):
            raise _Stop
        return self.s[self.i]

    def value(self, schemas: list[dict]) -> Any:
        self._ws()
        c = self._peek()
        if c == "{":
            return self._object(schemas)
        if c == "[":
            return self._array(schemas)
        if c == '"':
            return self._string()
        for word, val in _LITERALS.items():
            if self.s.startswith(word, self.i):
                self.i += len(word)
                return val
        m = _NUMBER.match(self.s, self.i)
        if not m:
            raise _Stop
        self.i = m.end()
        raw = m.group()
        if _wants_integer(schemas) and (any(ch in raw for ch in ".eE") or raw == "-0"):
            self.counts["int_spelling"] += 1
        return json.loads(raw)

    def _string(self) -> str:
        self.i += 1  # the opening quote
        out = []
        while True:
            c = self._peek()
            if c == '"':
                self.i += 1
                return "".join(out)
            if c != "\\":
                out.append(c)
                self.i += 1
                continue
            esc = self.s[self.i + 1 : self.i + 2]
            if not esc:
                raise _Stop
            if esc == "u":
                hexa = self.s[self.i + 2 : self.i + 6]
                if len(hexa) < 4:
                    raise _Stop
                cp = int(hexa, 16)
                if cp >= 0x20 and cp not in (0x22, 0x5C):
                    self.counts["escapes"] += 1
                out.append(chr(cp))
                self.i += 6
            else:
                if esc == "/":
                    self.counts["escapes"] += 1
                out.append(json.loads(f'"\\{esc}"') if esc in '"\\/bfnrt' else esc)
                self.i += 2

    def _object(self, schemas: list[dict]) -> dict:
        self.i += 1
        out: dict = {}
        seen: set[str] = set()
        dup = False
        try:
            self._ws()
            if self._peek() == "}":
                self.i += 1
                return out
            while True:
                self._ws()
                if self._peek() != '"':
                    raise _Stop
                key = self._string()
                if key in seen:
                    dup = True
                seen.add(key)
                self._ws()
                if self._peek() != ":":
                    raise _Stop
                self.i += 1
                out[key] = self.value(_child(schemas, key, self.root))
                self._ws()
                c = self._peek()
                self.i += 1
                if c == "}":
                    return out
                if c != ",":
                    raise _Stop
        finally:
            self.counts["dup_keys"] += dup

    def _array(self, schemas: list[dict]) -> list:
        self.i += 1
        out: list = []
        try:
            self._ws()
            if self._peek() == "]":
                self.i += 1
                return out
            while True:
                out.append(self.value(_child(schemas, len(out), self.root)))
                self._ws()
                c = self._peek()
                self.i += 1
                if c == "]":
                    return out
                if c != ",":
                    raise _Stop
        finally:
            keys = [json.dumps(v, sort_keys=True) for v in out]
            self.counts["dup_items"] += len(set(keys)) < len(keys)


def audit(text: str, schema: dict) -> dict[str, int]:
    """The spelling audit of one output (``text`` starts at its JSON value)."""
    sc = _Scanner(text, schema)
    try:
        sc.value(_resolve(schema, schema))
    except _Stop:
        return sc.counts
    rest = text[sc.i :]
    sc.counts["trailing_ws"] = int(bool(rest) and not rest.strip(_WS))
    return sc.counts


# --------------------------------------------------------------------------------------
# parsing, validity, field accuracy


def first_json_object(text: str) -> tuple[Any, int, int] | None:
    """The first JSON object in free text: ``(value, start, end)``, or None."""
    dec = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, end = dec.raw_decode(text, start)
            return value, start, end
        except ValueError:
            start = text.find("{", start + 1)
    return None


def validate(value: Any, json_text: str, schema: dict, model: Any = None) -> str | None:
    """None when ``value`` is valid for ``schema`` (and ``model``), else the reason."""
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    err = jsonschema.exceptions.best_match(
        cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(value)
    )
    if err is not None:
        return f"schema: {err.message[:120]}"
    if model is not None:
        try:
            model.model_validate_json(json_text)
        except ValueError as e:
            return f"pydantic: {str(e).splitlines()[0][:120]}"
    return None


def _norm(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        return v.strip().casefold()
    if isinstance(v, list):
        return sorted((_norm(i) for i in v), key=lambda x: json.dumps(x, sort_keys=True))
    if isinstance(v, dict):
        return {str(k).strip().casefold(): _norm(i) for k, i in v.items()}
    return v


def same(got: Any, want: Any) -> bool:
    """Strings stripped and casefolded, numbers by value, booleans as booleans, lists
    as multisets; recursively."""
    a, b = _norm(got), _norm(want)
    if isinstance(b, bool) or isinstance(a, bool):
        return a is b
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def lookup(value: Any, path: str) -> tuple[bool, Any]:
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def field_hits(value: Any, expected: dict[str, Any]) -> int:
    """How many expected fields ``value`` has right."""
    hits = 0
    for path, want in expected.items():
        found, got = lookup(value, path)
        hits += found and same(got, want)
    return hits
