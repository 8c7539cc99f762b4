"""Grammars for pydantic's string types whose validation goes beyond a JSON Schema format.

pydantic writes ``format: "ipvanyaddress"``, ``"uuid4"``, ``"uri"``... in the JSON Schemas of
its types, but validates values with its own parsers (``ipaddress``, the ``url`` crate,
``email-validator``). Each such format becomes a ``pattern`` here whose every match pydantic
accepts: a practical subset where pydantic's language is not worth a grammar (a URL has no
port, user info or percent-escapes; a network is aligned on octets or hextets), the whole
language where it is simple (IP addresses and interfaces, versioned UUIDs).

* URLs (``AnyUrl``, ``HttpUrl``, ``FileUrl``, ``PostgresDsn``...): ``scheme://host/path?query
  #fragment`` with one of the type's allowed schemes (``http`` / ``https`` when it allows any),
  a host name of labels of letters and digits joined by single hyphens (no ``--``, which
  IDNA reserves), ending in a top-level label of letters; ``file:///path`` for a type that allows only ``file``;
* ``ipvanyaddress``: an IPv4 or IPv6 address as :mod:`ipaddress` reads it (IPv4 without
  leading zeros, IPv6 without a scope id); ``ipv4interface`` / ``ipv6interface`` /
  ``ipvanyinterface``: an address with an optional ``/prefix``;
* ``ipv4network`` / ``ipv6network`` / ``ipvanynetwork``: an address (one host) or a network
  whose prefix falls on an octet (``10.1.0.0/16``) or a hextet (``2001:db8::/32``), with the
  host bits zero as :mod:`ipaddress` requires;
* ``uuid1`` ... ``uuid8``: the RFC 4122 form with that version digit and the RFC variant
  (what pydantic checks, through :attr:`uuid.UUID.version`);
* ``duration`` (``timedelta``): ISO 8601 ``P1DT2H30M``, ``PT0.5S``, ``-P3D`` with days, hours,
  minutes and seconds of at most six digits (pydantic also takes weeks, months, years).

Other formats from Python types are refused with :func:`refusal`'s reason.
"""

from __future__ import annotations

from typing import Any

from .jsonschema.formats import IPV4, IPV6

__all__ = ["FORMAT_PATTERNS", "refusal", "url_pattern", "url_schema"]

_ALNUM = "A-Za-z0-9"
_LABEL = rf"[{_ALNUM}]+(?:-[{_ALNUM}]+)*"
_TLD = r"[A-Za-z]+(?:-[A-Za-z]+)*"
_HOST = rf"(?:{_LABEL}\.)+{_TLD}"
_PCHAR = r"[A-Za-z0-9._~!$&'()*+,;=:@-]"
_PATH = rf"(?:/{_PCHAR}*)*"
_QUERY = rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"


def url_pattern(schemes: list[str] | None) -> str:
    """A ``pattern`` (``re.search`` semantics, anchored) of the practical URLs with these
    schemes (``None``: any scheme, written ``http`` or ``https``)."""
    import re

    schemes = list(schemes or ["http", "https"])
    alts = []
    web = [s for s in schemes if s != "file"]
    if web:
        names = "|".join(re.escape(s) for s in sorted(web))
        alts.append(rf"(?:{names})://{_HOST}{_PATH}{_QUERY}")
    if "file" in schemes:
        alts.append(rf"file://{_PATH}{_QUERY}")
    return "^(?:" + "|".join(alts) + r")\Z"


def url_schema(out: dict[str, Any], schemes: list[str] | None) -> dict[str, Any]:
    """The JSON Schema pydantic wrote for a URL type, with :func:`url_pattern` for its
    ``format``."""
    out = dict(out)
    out.pop("format", None)
    out["pattern"] = url_pattern(schemes)
    return out


_P4 = r"(?:3[0-2]|[12][0-9]|[0-9])"
_P6 = r"(?:12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9])"
_OCT = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_H = r"[0-9a-fA-F]{1,4}"


def _net4() -> str:
    alts = [rf"{IPV4}(?:/32)?", r"0\.0\.0\.0/0"]
    for k in (1, 2, 3):
        alts.append(rf"{_OCT}(?:\.{_OCT}){{{k - 1}}}(?:\.0){{{4 - k}}}/{8 * k}")
    return "(?:" + "|".join(alts) + ")"


def _net6() -> str:
    alts = [rf"{IPV6}(?:/128)?", r"::/0"]
    for k in range(1, 8):
        alts.append(rf"{_H}(?::{_H}){{{k - 1}}}::/{16 * k}")
    return "(?:" + "|".join(alts) + ")"


def _anchored(rx: str) -> str:
    return rf"^(?:{rx})\Z"


def _uuid(version: int) -> str:
    x = "[0-9a-fA-F]"
    return _anchored(rf"{x}{{8}}-{x}{{4}}-{version}{x}{{3}}-[89abAB]{x}{{3}}-{x}{{12}}")


def _duration() -> str:
    n = "[0-9]{1,6}"
    seconds = rf"{n}(?:\.[0-9]{{1,6}})?S"
    time = rf"T(?:{n}H(?:{n}M)?(?:{seconds})?|{n}M(?:{seconds})?|{seconds})"
    return _anchored(rf"-?P(?:{n}D(?:{time})?|{time})")


#: format (as pydantic writes it) -> the pattern that replaces it
FORMAT_PATTERNS: dict[str, str] = {
    "duration": _duration(),
    "ipvanyaddress": _anchored(f"{IPV4}|{IPV6}"),
    "ipv4interface": _anchored(rf"{IPV4}(?:/{_P4})?"),
    "ipv6interface": _anchored(rf"{IPV6}(?:/{_P6})?"),
    "ipvanyinterface": _anchored(rf"{IPV4}(?:/{_P4})?|{IPV6}(?:/{_P6})?"),
    "ipv4network": _anchored(_net4()),
    "ipv6network": _anchored(_net6()),
    "ipvanynetwork": _anchored(f"{_net4()}|{_net6()}"),
    **{f"uuid{v}": _uuid(v) for v in range(1, 9)},
}


_REASONS = {
    "file-path": "pydantic checks that the file exists on this machine, which no grammar knows",
    "directory-path": "pydantic checks that the directory exists on this machine, which no "
    "grammar knows",
    "new-path": "pydantic checks that the path does not exist yet on this machine, which no "
    "grammar knows",
    "base64": "pydantic decodes the text and needs the decoded bytes to be UTF-8 text",
    "base64url": "pydantic decodes the text and needs the decoded bytes to be UTF-8 text",
}


def refusal(fmt: str, ptr: str) -> str:
    """The message refusing ``format: fmt`` of a Python type at ``ptr``, with the reason."""
    reason = _REASONS.get(
        fmt,
        "pydantic validates values of this type with its own parser, and structgen has no "
        "grammar known to produce only values that parser accepts",
    )
    return (
        f"format {fmt!r} at {ptr} is not supported for Python types: {reason} (use a str "
        "field with a pattern, or pass the JSON Schema as a dict to have the format checked "
        "as jsonschema does)"
    )
