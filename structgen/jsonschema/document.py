"""The schema document: JSON pointers, ``$id`` / ``$anchor`` bases and ``$ref`` resolution."""

from __future__ import annotations

import json
from urllib.parse import unquote, urldefrag, urljoin

from ..errors import SpecError, UnsupportedSchemaError

#: sentinel pointers for the boolean schemas that are not in the document
FALSE_PTR = "!false"

# keywords whose value is one subschema / a list of subschemas / a map of subschemas
SUB_ONE = (
    "additionalProperties",
    "additionalItems",
    "items",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contentSchema",
)
SUB_LIST = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
SUB_MAP = (
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependencies",
)

DRAFT_OLD = ("draft-03", "draft-04", "draft-06", "draft-07")


def escape_token(t: str) -> str:
    return t.replace("~", "~0").replace("/", "~1")


def unescape_token(t: str) -> str:
    return t.replace("~1", "/").replace("~0", "~")


def join(ptr: str, *tokens) -> str:
    return ptr + "".join("/" + escape_token(str(t)) for t in tokens)


def show(ptr: str) -> str:
    """A pointer as printed in messages (the root is ``/``)."""
    return ptr if ptr else "/"


class Document:
    """The root schema with every subschema addressable by its JSON pointer."""

    def __init__(self, root):
        self.root = root
        self.ids: dict[str, str] = {}
        self.anchors: dict[str, str] = {}
        self.bases: dict[str, str] = {}
        self.draft_old = False
        self.integer_literals = False
        self.id_key = "$id"
        if isinstance(root, dict):
            sch = root.get("$schema")
            if "$schema" in root and not isinstance(sch, str):
                raise SpecError(
                    f"$schema at / must be a string (a URI), not {json.dumps(sch)[:40]}"
                )
            if isinstance(sch, str) and any(d in sch for d in DRAFT_OLD):
                self.draft_old = True
                if "draft-03" in sch or "draft-04" in sch:
                    self.id_key = "id"  # draft-04 names it "id"; "$id" means nothing there
                    # up to draft-04 an integer is an integer literal: 1.0 and 1e3 are not
                    self.integer_literals = True
        self._walk(root, "", "")
        self._cache: dict[str, object] = {"": root, FALSE_PTR: False}

    def _walk(self, s, ptr: str, base: str) -> None:
        if not isinstance(s, dict):
            return
        for idkey in (self.id_key,):
            v = s.get(idkey)
            if isinstance(v, str):
                if v.startswith("#"):
                    self.anchors[urljoin(base, v)] = ptr
                else:
                    base = urljoin(base, v)
                    self.ids[urldefrag(base)[0]] = ptr
                break
        anchor = s.get("$anchor")
        if isinstance(anchor, str):
            self.anchors[urldefrag(base)[0] + "#" + anchor] = ptr
        self.bases[ptr] = base
        for kw in SUB_ONE:
            v = s.get(kw)
            if isinstance(v, dict):
                self._walk(v, join(ptr, kw), base)
        for kw in SUB_LIST:
            v = s.get(kw)
            if isinstance(v, list):
                for i, x in enumerate(v):
                    self._walk(x, join(ptr, kw, i), base)
        for kw in SUB_MAP:
            v = s.get(kw)
            if isinstance(v, dict):
                for k, x in v.items():
                    self._walk(x, join(ptr, kw, k), base)

    def get(self, ptr: str):
        hit = self._cache.get(ptr, self)
        if hit is not self:
            return hit
        node = self.root
        for tok in ptr.split("/")[1:]:
            tok = unescape_token(tok)
            if isinstance(node, list):
                try:
                    node = node[int(tok)]
                except (ValueError, IndexError):
                    raise SpecError(f"JSON pointer {show(ptr)} does not exist") from None
            elif isinstance(node, dict) and tok in node:
                node = node[tok]
            else:
                raise SpecError(f"JSON pointer {show(ptr)} does not exist")
        self._cache[ptr] = node
        return node

    def resolve(self, ref: str, at: str) -> str:
        """The pointer ``$ref`` (found in the schema at ``at``) refers to."""
        base = self.bases.get(at, "")
        full = urljoin(base, ref) if base else ref
        uri, frag = urldefrag(full)
        root_uri = urldefrag(self.bases.get("", ""))[0]
        if uri in ("", root_uri):
            start = ""
        elif uri in self.ids:
            start = self.ids[uri]
        else:
            err = UnsupportedSchemaError(
                f"$ref at {show(at)} is not supported: cannot resolve {ref!r} "
                "(only references inside the schema are)"
            )
            err.keyword, err.pointer = "$ref", show(at)
            raise err
        if not frag:
            return start
        if frag.startswith("/"):
            ptr = start + "".join(
                "/" + escape_token(unescape_token(unquote(t))) for t in frag.split("/")[1:]
            )
            self.get(ptr)  # raises when missing
            return ptr
        key = (uri or root_uri) + "#" + frag
        for k in (key, "#" + frag):
            if k in self.anchors:
                return self.anchors[k]
        raise SpecError(f"$ref at {show(at)}: anchor {ref!r} is not defined")
