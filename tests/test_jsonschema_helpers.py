"""Helpers for the JSON Schema tests (no tests here): instance strategies, key ordering, the oracle.

``instances(schema)`` draws (mostly valid) instances of a test schema, independently of the
lowering code; ``order_like(schema, value)`` puts a value's object keys in the order the
grammar writes them (``properties`` order, other keys after), so that the grammar and
``jsonschema`` can be compared on any value.
"""

from __future__ import annotations

import json
import re

import jsonschema
from hypothesis import strategies as st

from structgen.jsonschema import MAX_WS

FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER

# Floats beyond 2**53 are left out: Python compares their binary value, the grammar the
# decimal value of their text (``json.dumps`` of 1e23 is "1e+23", yet the float is not 10**23).
FLOATS = st.floats(min_value=-(2.0**53), max_value=2.0**53, allow_nan=False)
json_scalars = (
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | FLOATS | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
    max_leaves=12,
)


def validator(schema):
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=FORMAT_CHECKER)


def resolve(root, s):
    """Follow a local $ref (``#/...``)."""
    seen = 0
    while isinstance(s, dict) and "$ref" in s and seen < 50:
        ref = s["$ref"]
        assert ref.startswith("#"), ref
        node = root
        for tok in ref[1:].split("/")[1:]:
            tok = tok.replace("~1", "/").replace("~0", "~")
            node = node[int(tok)] if isinstance(node, list) else node[tok]
        rest = {k: v for k, v in s.items() if k != "$ref"}
        s = {**node, **rest} if isinstance(node, dict) else node
        seen += 1
    return s


def _types(s):
    t = s.get("type")
    if t is None:
        return None
    return [t] if isinstance(t, str) else list(t)


FORMAT_SAMPLES = {
    "date": ["2024-02-29", "1999-12-31", "0001-01-01"],
    "date-time": ["2024-02-29T12:30:00Z", "2023-01-01t00:00:00.5+05:30", "2020-06-01T23:59:59z"],
    "time": ["12:00:00Z", "23:59:59.123-08:00"],
    "email": ["a@b.c", "x@", "@"],
    "ipv4": ["192.168.0.1", "0.0.0.0", "255.255.255.255"],
    "ipv6": ["::1", "fe80::1:2", "1:2:3:4:5:6:7:8", "::ffff:1.2.3.4"],
}


@st.composite
def instances(draw, schema, root=None, depth=0):
    """A (usually valid) instance of ``schema`` (the schema subset the tests use)."""
    root = schema if root is None else root
    s = resolve(root, schema)
    if s is True or s == {}:
        return draw(json_values)
    if s is False:
        return None
    if "const" in s:
        return s["const"]
    if "enum" in s:
        return draw(st.sampled_from(s["enum"]))
    if "allOf" in s:
        merged = {k: v for k, v in s.items() if k != "allOf"}
        for sub in s["allOf"]:
            sub = resolve(root, sub)
            for k, v in sub.items():
                if k == "properties":
                    merged.setdefault("properties", {}).update(v)
                elif k == "required":
                    merged["required"] = list(merged.get("required", [])) + list(v)
                else:
                    merged.setdefault(k, v)
        return draw(instances(merged, root, depth))
    for kw in ("anyOf", "oneOf"):
        if kw in s:
            branch = draw(st.sampled_from(s[kw]))
            rest = {k: v for k, v in s.items() if k != kw}
            b = resolve(root, branch)
            merged = {**rest, **b} if isinstance(b, dict) else b
            if isinstance(b, dict) and "properties" in rest and "properties" in b:
                merged["properties"] = {**rest["properties"], **b["properties"]}
            return draw(instances(merged, root, depth))
    types = _types(s)
    if types is None:
        if "properties" in s or "required" in s:
            types = ["object"]
        elif "items" in s or "prefixItems" in s:
            types = ["array"]
        elif "pattern" in s or "minLength" in s or "maxLength" in s or "format" in s:
            types = ["string"]
        elif "minimum" in s or "maximum" in s or "multipleOf" in s:
            types = ["number"]
        else:
            return draw(json_values)
    t = draw(st.sampled_from(types))
    if t == "null":
        return None
    if t == "boolean":
        return draw(st.booleans())
    if t in ("integer", "number"):
        lo = s.get("minimum", s.get("exclusiveMinimum"))
        hi = s.get("maximum", s.get("exclusiveMaximum"))
        m = s.get("multipleOf")
        if t == "integer" or m:
            ilo = None if lo is None else int(lo) - 1
            ihi = None if hi is None else int(hi) + 1
            v = draw(st.integers(ilo, ihi))
            if m:
                v = v - v % int(m)
            if abs(v) < 2**53 and draw(st.integers(0, 5)) == 0:
                return float(v)
            return v
        return draw(
            st.floats(
                min_value=-(2.0**53) if lo is None else float(lo) - 1,
                max_value=2.0**53 if hi is None else float(hi) + 1,
                allow_nan=False,
                allow_infinity=False,
            )
            | st.integers(None if lo is None else int(lo) - 1, None if hi is None else int(hi) + 1)
        )
    if t == "string":
        if "format" in s and s["format"] in FORMAT_SAMPLES:
            return draw(st.sampled_from(FORMAT_SAMPLES[s["format"]]))
        lo = s.get("minLength", 0)
        hi = s.get("maxLength", lo + 8)
        if "pattern" in s:
            text = draw(st.from_regex(s["pattern"], fullmatch=False))
            return text
        alphabet = st.characters(codec="utf-8") | st.sampled_from('"\\/\n\t\x00é€😀')
        return draw(st.text(alphabet, min_size=max(lo - 1, 0), max_size=hi + 1))
    if t == "array":
        prefix = s.get("prefixItems")
        items = s.get("items", True)
        if isinstance(items, list):
            prefix, items = items, s.get("additionalItems", True)
        prefix = prefix or []
        lo = s.get("minItems", 0)
        hi = s.get("maxItems", max(lo, len(prefix)) + 3)
        if depth > 3:
            hi = min(hi, lo + 1)
        n = draw(st.integers(max(lo - 1, 0), hi + 1))
        out = []
        for i in range(n):
            sub = prefix[i] if i < len(prefix) else items
            out.append(draw(instances(sub, root, depth + 1)))
        return out
    if t == "object":
        props = s.get("properties", {})
        req = set(s.get("required", []))
        out = {}
        for k, sub in props.items():
            if k in req or draw(st.booleans()):
                if depth > 4 and k not in req:
                    continue
                out[k] = draw(instances(sub, root, depth + 1))
        for k in s.get("required", []):
            if k not in out:
                out[k] = draw(json_values)
        add = s.get("additionalProperties", True)
        if add is not False and draw(st.integers(0, 3)) == 0:
            key = draw(st.text(max_size=4))
            if key not in props:
                val = draw(json_values) if add is True else draw(instances(add, root, depth + 1))
                items = list(out.items())
                at = draw(st.integers(0, len(items)))
                items.insert(at, (key, val))
                out = dict(items)
        return out
    raise AssertionError(t)


def order_like(schema, value, root=None):
    """``value`` with object keys in the grammar's order for ``schema``."""
    root = schema if root is None else root
    s = resolve(root, schema)
    if not isinstance(s, dict):
        return value
    subs = [s]
    for kw in ("allOf", "anyOf", "oneOf"):
        for b in s.get(kw, []):
            b = resolve(root, b)
            if isinstance(b, dict):
                if kw == "allOf" or validator(root).evolve(schema=b).is_valid(value):
                    subs.append(b)
    if isinstance(value, dict):
        order = []
        schemas = {}
        for sub in subs:
            for k, v in sub.get("properties", {}).items():
                if k not in order:
                    order.append(k)
                schemas.setdefault(k, v)
            for k in sub.get("required", []):
                if k not in order:
                    order.append(k)
        keys = [k for k in order if k in value] + [k for k in value if k not in order]
        out = {}
        for k in keys:
            sub = schemas.get(k)
            if sub is None:
                for ss in subs:
                    add = ss.get("additionalProperties")
                    if isinstance(add, dict):
                        sub = add
            out[k] = order_like(sub, value[k], root) if sub is not None else value[k]
        return out
    if isinstance(value, list):
        for sub in subs:
            items = sub.get("items")
            prefix = sub.get("prefixItems") or (items if isinstance(items, list) else [])
            rest = items if isinstance(items, dict) else sub.get("additionalItems")
            out = []
            for i, x in enumerate(value):
                ss = prefix[i] if i < len(prefix) else rest
                out.append(order_like(ss, x, root) if isinstance(ss, dict) else x)
            value = out
        return value
    return value


def depth(v) -> int:
    if isinstance(v, dict):
        return 1 + max((depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((depth(x) for x in v), default=0)
    return 0


def texts(value):
    """JSON texts of ``value`` in several styles (indent only where gaps stay bounded)."""
    out = [
        json.dumps(value),
        json.dumps(value, separators=(",", ":")),
        json.dumps(value, ensure_ascii=False),
    ]
    if 2 * depth(value) + 1 <= MAX_WS:
        out.append(json.dumps(value, indent=2))
    return out


def mutations(value):
    """Strategy: small structural / value changes of ``value``."""

    @st.composite
    def mutate(draw):
        v = json.loads(json.dumps(value))
        paths = []

        def walk(x, path):
            paths.append(path)
            if isinstance(x, dict):
                for k in x:
                    walk(x[k], path + [k])
            elif isinstance(x, list):
                for i, y in enumerate(x):
                    walk(y, path + [i])

        walk(v, [])
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["replace", "delete", "add", "number", "string"]))
        if not path:
            return draw(json_values) if kind == "replace" else v

        parent = v
        for p in path[:-1]:
            parent = parent[p]
        last = path[-1]
        if kind == "replace":
            parent[last] = draw(json_values)
        elif kind == "delete":
            del parent[last]
        elif kind == "add":
            if isinstance(parent, dict):
                parent[draw(st.text(max_size=3))] = draw(json_values)
            else:
                parent.insert(draw(st.integers(0, len(parent))), draw(json_values))
        elif kind == "number":
            x = parent[last]
            if isinstance(x, (int, float)) and not isinstance(x, bool):
                parent[last] = x + draw(st.sampled_from([1, -1, 0.5, 10**6]))
        else:
            x = parent[last]
            if isinstance(x, str):
                parent[last] = x + draw(st.text(max_size=2))
        return v

    return mutate()


def in_convention_text(text: str) -> bool:
    """Whether every whitespace gap of a json.dumps text is within the bound."""
    return not re.search(rf"\n {{{MAX_WS},}}", text)


# --------------------------------------------------------------------------- self-tests


def test_order_like_puts_declared_keys_first():
    schema = {"properties": {"b": {}, "a": {"properties": {"y": {}, "x": {}}}}}
    value = {"z": 1, "a": {"x": 1, "y": 2}, "b": 0}
    assert json.dumps(order_like(schema, value)) == '{"b": 0, "a": {"y": 2, "x": 1}, "z": 1}'


def test_texts_and_convention():
    deep = [[[[[[[[[[[1]]]]]]]]]]]
    assert len(texts(deep)) == 3  # no indent=2 text: its gaps would exceed the bound
    assert in_convention_text(json.dumps([1], indent=2))
    assert not in_convention_text("[\n" + " " * MAX_WS + "1]")
