"""The canonical text of an instance, as ``JsonSchema(schema)`` (``spelling="canonical"``)
writes it, and the causes that separate it from ``json.dumps(instance)``.

Used by MaskBench to explain every valid instance whose ``json.dumps`` text the canonical
grammar rejects. :func:`respell` rewrites the parsed value: object keys in the schema's order
(``properties`` of a ``$ref`` target, then the schema's own, then ``allOf`` branches, then
the ``anyOf`` / ``oneOf`` / ``if`` branch the value takes, then ``dependentSchemas``; keys
that are only ``required`` after them), undeclared keys dropped where no
``additionalProperties`` / ``patternProperties`` allows them (when the value stays valid),
numbers as plain decimals, strings as ``json.dumps(..., ensure_ascii=False)`` writes them,
in the chosen whitespace style. It reads the schema on its own, independently of the
lowering code, so a disagreement shows up as a rejected re-spelling ("other").
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import jsonschema

CAUSES = [
    "key order",
    "whitespace style",
    "undeclared key",
    "non-canonical number",
    "escapes",
    "other",
]
SEPARATORS = {"spaced": (", ", ": "), "compact": (",", ":"), "indent": (",", ": ")}


def number(x, enum_style: bool = False) -> str:
    """Plain decimal (no exponent, no trailing fraction zeros, no -0); ``json.dumps`` when
    ``enum_style`` (enum / const values are written as json.dumps writes them)."""
    if enum_style or isinstance(x, bool):
        return json.dumps(x)
    if isinstance(x, int):
        return str(x)
    d = Decimal(repr(x)) if isinstance(x, float) else Decimal(x)
    if d == 0:
        return "0"
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def dumps(value, style: str = "spaced", enum_numbers: bool = False, depth: int = 0) -> str:
    """``value`` in the canonical spelling, keys in the dict's order."""
    comma, colon = SEPARATORS[style]
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return number(value, enum_numbers)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        parts = [dumps(x, style, enum_numbers, depth + 1) for x in value]
        brackets = "[]"
    else:
        parts = [
            json.dumps(k, ensure_ascii=False) + colon + dumps(x, style, enum_numbers, depth + 1)
            for k, x in value.items()
        ]
        brackets = "{}"
    if not parts:
        return brackets
    if style == "indent":
        pad = "\n" + "  " * (depth + 1)
        return brackets[0] + pad + (comma + pad).join(parts) + "\n" + "  " * depth + brackets[1]
    return brackets[0] + comma.join(parts) + brackets[1]


class Respeller:
    """Schema-order re-spelling for one schema document."""

    def __init__(self, root):
        self.root = root
        cls = jsonschema.validators.validator_for(
            root if isinstance(root, dict) else {}, default=jsonschema.Draft202012Validator
        )
        self.validator = cls(root)
        self.old = isinstance(root, dict) and re.search(
            r"draft-0[3-7]", str(root.get("$schema", ""))
        )

    def _valid(self, schema, value) -> bool:
        try:
            return self.validator.evolve(schema=schema).is_valid(value)
        except Exception:  # noqa: BLE001 - unresolvable references and the like
            return False

    def _ref(self, ref: str):
        if not ref.startswith("#"):
            return None
        node = self.root
        for tok in ref[1:].split("/")[1:]:
            tok = tok.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(tok)] if isinstance(node, list) else node[tok]
            except (KeyError, IndexError, ValueError, TypeError):
                return None
        return node

    def subs(self, schemas: list, value) -> list:
        """The schema objects that apply to ``value``, in the grammar's key order: each
        schema's ``$ref`` target, itself and its ``allOf`` branches first; the branches of
        ``anyOf`` / ``oneOf`` / ``if`` (alternatives, lowered after the merge) after them, in
        the order met; ``dependentSchemas`` last."""
        out: list = []
        groups: list = []
        deps: list = []
        seen = 0

        def visit(s):
            nonlocal seen
            seen += 1
            if not isinstance(s, dict) or seen > 200:
                return
            if "$ref" in s and isinstance(s["$ref"], str):
                visit(self._ref(s["$ref"]))
                if self.old:
                    return
            out.append(s)
            for b in s.get("allOf", []) if isinstance(s.get("allOf"), list) else []:
                visit(b)
            for kw in ("anyOf", "oneOf"):
                if isinstance(s.get(kw), list):
                    groups.append(s[kw])
            if "if" in s and any(k in s for k in ("then", "else")):
                # (if and then) or (not if and else): the branch taken merges the if
                # schema, or its complement (a present property whose value fails it)
                cond = s["if"]
                taken = self._valid(cond, value)
                if not taken and isinstance(cond, dict) and isinstance(value, dict):
                    props = (
                        cond.get("properties") if isinstance(cond.get("properties"), dict) else {}
                    )
                    cond = {
                        "properties": {
                            k: sub
                            for k, sub in props.items()
                            if k in value and not self._valid(sub, value[k])
                        }
                    }
                branch = s.get("then" if taken else "else", {})
                groups.append(("merged", [cond, branch]))
            if isinstance(value, dict):
                for kw in ("dependentSchemas", "dependencies"):
                    d = s.get(kw)
                    if isinstance(d, dict):
                        deps.extend(b for k, b in d.items() if k in value and isinstance(b, dict))

        for s in schemas:
            visit(s)
        while groups:
            g = groups.pop(0)
            if isinstance(g, tuple):  # an if: both parts, whatever their validity
                for b in g[1]:
                    visit(b)
                continue
            for b in g:
                if self._valid(b, value):
                    visit(b)
                    break
        for b in deps:
            visit(b)
        return out

    def respell(self, value, drop: bool = True):
        return self._value([self.root], value, drop)

    def _value(self, schemas: list, value, drop: bool):
        if not isinstance(value, (dict, list)):
            return value
        subs = self.subs(schemas, value)
        if isinstance(value, list):
            out = []
            for i, x in enumerate(value):
                child = []
                for s in subs:
                    prefix = s.get("prefixItems")
                    items = s.get("items")
                    if isinstance(prefix, list) and i < len(prefix):
                        child.append(prefix[i])
                    elif isinstance(items, list):
                        if i < len(items):
                            child.append(items[i])
                        elif isinstance(s.get("additionalItems"), dict):
                            child.append(s["additionalItems"])
                    elif isinstance(items, dict):
                        child.append(items)
                out.append(self._value(child, x, drop))
            return out
        props: list = []
        required: list = []
        layers = []
        min_props = 0
        for s in subs:
            p = s.get("properties")
            if isinstance(p, dict):
                props += [k for k in p if k not in props]
            r = s.get("required")
            if isinstance(r, list):
                required += [k for k in r if k not in required]
            if any(k in s for k in ("properties", "additionalProperties", "patternProperties")):
                layers.append(s)
            if isinstance(s.get("minProperties"), int):
                min_props = max(min_props, s["minProperties"])
        declared = props + [k for k in required if k not in props]
        keys = [k for k in declared if k in value] + [k for k in value if k not in declared]
        if drop and min_props <= len(declared):
            keys = [k for k in keys if k in declared or self._explicit(layers, k)]
        out = {}
        for k in keys:
            child = []
            for s in subs:
                p = s.get("properties") if isinstance(s.get("properties"), dict) else {}
                pats = s.get("patternProperties")
                pats = pats if isinstance(pats, dict) else {}
                matched = [sub for pat, sub in pats.items() if _search(pat, k)]
                if k in p:
                    child.append(p[k])
                child += matched
                if k not in p and not matched and isinstance(s.get("additionalProperties"), dict):
                    child.append(s["additionalProperties"])
            out[k] = self._value(child, value[k], drop)
        return out

    @staticmethod
    def _explicit(layers: list, key: str) -> bool:
        return any(
            "additionalProperties" in s
            or any(_search(p, key) for p in (s.get("patternProperties") or {}))
            for s in layers
        )


def _search(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return False


def _keys_in_order(a, b) -> bool:
    """Whether ``a`` and ``b`` (same data up to key order) list their keys alike."""
    if isinstance(a, dict):
        return list(a) == list(b) and all(_keys_in_order(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(_keys_in_order(x, y) for x, y in zip(a, b, strict=True))
    return True


def _numbers_plain(v) -> bool:
    """Whether json.dumps writes every number of ``v`` canonically already."""
    if isinstance(v, float):
        return json.dumps(v) == number(v)
    if isinstance(v, dict):
        return all(_numbers_plain(x) for x in v.values())
    if isinstance(v, list):
        return all(_numbers_plain(x) for x in v)
    return True


def candidates(respeller: Respeller, data, style: str) -> list[tuple[str, list[str]]]:
    """Canonical re-spellings of a valid instance to try, each with the causes that separate
    it from ``json.dumps(data)``: the value re-spelled (undeclared keys dropped where the
    canonical grammar leaves them out), then with ``json.dumps``' numbers (enum / const)."""
    kept = respeller.respell(data, drop=False)
    dropped = respeller.respell(data, drop=True)
    if dropped != kept and not respeller._valid(respeller.root, dropped):
        dropped = kept
    causes = []
    if not _keys_in_order(data, kept):
        causes.append("key order")
    if style != "spaced":
        causes.append("whitespace style")
    if dropped != kept:
        causes.append("undeclared key")
    if json.dumps(data) != json.dumps(data, ensure_ascii=False):
        causes.append("escapes")
    out = [
        (dumps(dropped, style), causes + ([] if _numbers_plain(data) else ["non-canonical number"]))
    ]
    out.append((dumps(dropped, style, enum_numbers=True), causes))
    return out
