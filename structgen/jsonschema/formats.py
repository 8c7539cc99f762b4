"""``format`` as regular expressions over the decoded string.

:data:`EXACT` holds the formats whose regex matches exactly what ``jsonschema``'s
``FormatChecker`` (with ``rfc3339-validator`` installed, as the ``jsonschema[format]`` extra
does) accepts; the tests check them against the checker. Notable exactness details that the
regexes reproduce: ``date-time`` and ``time`` are checked after ``str.upper()`` (so ``t`` /
``z`` are accepted) with a regex ending in ``$`` (so one trailing ``\\n`` is accepted);
``date`` needs a real calendar date (leap years included, year 0000 excluded); ``ipv4``
refuses leading zeros; ``ipv6`` follows :mod:`ipaddress` (embedded IPv4, ``::``, no scope
id); ``email`` only needs an ``@``.

:data:`APPROXIMATE` holds formats whose checker is not regular or depends on optional
packages (``uuid``: :class:`uuid.UUID` also accepts braces, ``urn:uuid:`` prefixes, ``+``,
underscores...; ``hostname``, ``uri``...): strict mode refuses them, non-strict mode applies
the canonical regex given here (a subset of the valid strings) with a warning.

Formats no checker of ``jsonschema`` knows (``int32``, ``double``, ...) are annotations: they
never fail validation, so they are ignored.
"""

from __future__ import annotations

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"

_H = r"[0-9a-fA-F]{1,4}"


def _ipv6() -> str:
    # units: 8 hextets, or 6 hextets and an IPv4 address (2 units) at the end
    full = rf"(?:{_H}:){{7}}{_H}|(?:{_H}:){{6}}{IPV4}"
    alts = [full]
    # compressed: hi hextets, '::', lo units; hi + lo <= 7
    for hi in range(0, 8):
        for lo_units in range(0, 8 - hi):
            left = "" if hi == 0 else rf"(?:{_H}:){{{hi - 1}}}{_H}" if hi > 1 else _H
            rights = []
            if lo_units >= 1:
                rights.append(rf"(?:{_H}:){{{lo_units - 1}}}{_H}" if lo_units > 1 else _H)
            if lo_units >= 2:
                n = lo_units - 2
                rights.append((rf"(?:{_H}:){{{n}}}" if n else "") + IPV4)
            if lo_units == 0:
                rights.append("")
            for right in rights:
                alts.append(f"{left}::{right}")
    return "(?:" + "|".join(alts) + ")"


IPV6 = _ipv6()

_YEAR = r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP_YEAR = (
    r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
)
_MONTH_DAY = (
    r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)"
)
DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = (
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
DATE_TIME = rf"{DATE}[Tt]{_TIME}\n?"
TIME = rf"{_TIME}\n?"

EXACT: dict[str, str] = {
    "date": DATE,
    "date-time": DATE_TIME,
    "time": TIME,
    "email": r"(?s:.*@.*)",
    "idn-email": r"(?s:.*@.*)",
    "ipv4": IPV4,
    "ipv6": IPV6,
    "json-pointer": r"(?s:(?:/(?:[^/~]|~[01])*)*)",
}

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
APPROXIMATE: dict[str, str] = {
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "hostname": rf"{_LABEL}(?:\.{_LABEL})*",
    "idn-hostname": rf"{_LABEL}(?:\.{_LABEL})*",
    "uri": r"[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*",
    "iri": r"[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*",
    "uri-reference": r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*",
    "iri-reference": r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*",
    "uri-template": r"[^\s]*",
    "duration": r"P(?:[0-9]+W|(?:[0-9]+Y)?(?:[0-9]+M)?(?:[0-9]+D)?(?:T(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+S)?)?)",
    "relative-json-pointer": r"(?:0|[1-9][0-9]*)(?:#|(?:/(?:[^/~]|~[01])*)*)",
    "regex": r"(?s:.*)",
    "color": r"(?s:.*)",
}

#: every format some jsonschema checker knows; any other format name is an annotation
KNOWN = frozenset(EXACT) | frozenset(APPROXIMATE)
