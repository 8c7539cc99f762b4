"""``format`` as regular expressions over the decoded string.

:data:`EXACT` holds the formats whose regex matches exactly what ``jsonschema``'s
``FormatChecker`` (with ``rfc3339-validator`` installed, as the ``jsonschema[format]`` extra
does) accepts; the tests check them against the checker. Notable exactness details that the
regexes reproduce: ``date-time`` and ``time`` are checked after ``str.upper()`` (so ``t`` /
``z`` are accepted) with a regex ending in ``$`` (so one trailing ``\\n`` is accepted);
``date`` needs a real calendar date (leap years included, year 0000 excluded); ``ipv4``
refuses leading zeros; ``ipv6`` follows :mod:`ipaddress` (embedded IPv4, ``::``, no scope
id); ``email`` only needs an ``@`` (the language of ``not: {format: email}``; a string that
must be an e-mail address is a practical one, :data:`EMAIL`).

:data:`RFC` holds the formats enforced by the grammar of the RFC they name: ``uri``,
``uri-reference`` (RFC 3986), ``iri``, ``iri-reference`` (RFC 3987), ``hostname`` (RFC 1123:
labels, lengths, at most 253 characters), ``duration`` (RFC 3339 appendix A), ``uuid``
(RFC 4122). ``jsonschema`` checks the first six only when optional packages are installed
(``rfc3987``, ``fqdn``, ``isoduration``: the ``dev`` extra; the tests fail without them).
Where those checkers accept more than the RFC (a trailing newline, Unicode digits in host
names, decimal durations...), :data:`CHECKED` holds their exact language: the any spelling
and complements use it, generation the RFC grammar. Its ``uuid`` check is laxer than the RFC
(what ``uuid.UUID()`` parses with hyphens at 8, 13, 18, 23: more hyphens after those);
structgen enforces the RFC form, a subset, in both spellings.

:data:`APPROXIMATE` holds formats with no exact regular form here (``regex`` is not a
regular language; ``idn-hostname``, ``uri-template``, ...): strict mode refuses them,
non-strict mode applies the regex given here (a subset or superset) with a warning.

Formats no checker knows (``int32``, ``double``, ...) are annotations: they never fail
validation, so they are ignored.
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
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
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

# --------------------------------------------------------------------------- RFC grammars
# Formats whose checker in jsonschema needs a package that may be absent (then the format is
# not checked at all) or is laxer than the RFC it names. These regexes are the RFC grammars
# themselves (ABNF rewritten as regexes), so strict mode enforces the format as specified.

_ALPHA = "A-Za-z"
_HEXDIG = "[0-9A-Fa-f]"
_UNRESERVED = r"A-Za-z0-9._~\-"
_SUB_DELIMS = "!$&'()*+,;="
_PCT = rf"%{_HEXDIG}{_HEXDIG}"
# RFC 3987 ucschar and iprivate, as class contents
_UCSCHAR = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    + "".join(f"{chr(p << 16)}-{chr((p << 16) | 0xFFFD)}" for p in range(1, 14))
    + "\U000e1000-\U000efffd"
)
_IPRIVATE = "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"


def _uri(iri: bool, reference: bool) -> str:
    unres = _UNRESERVED + (_UCSCHAR if iri else "")
    pchar = rf"(?:[{unres}{_SUB_DELIMS}:@]|{_PCT})"
    seg_nz_nc = rf"(?:[{unres}{_SUB_DELIMS}@]|{_PCT})+"
    scheme = rf"[{_ALPHA}][{_ALPHA}0-9+.-]*"
    userinfo = rf"(?:[{unres}{_SUB_DELIMS}:]|{_PCT})*"
    ipvfuture = rf"[vV]{_HEXDIG}+\.[{_UNRESERVED}{_SUB_DELIMS}:]+"
    ip_literal = rf"\[(?:{IPV6}|{ipvfuture})\]"
    reg_name = rf"(?:[{unres}{_SUB_DELIMS}]|{_PCT})*"
    host = rf"(?:{ip_literal}|{IPV4}|{reg_name})"
    authority = rf"(?:{userinfo}@)?{host}(?::[0-9]*)?"
    segment = rf"{pchar}*"
    abempty = rf"(?:/{segment})*"
    absolute = rf"/(?:{pchar}+(?:/{segment})*)?"
    rootless = rf"{pchar}+(?:/{segment})*"
    noscheme = rf"{seg_nz_nc}(?:/{segment})*"
    query_extra = _IPRIVATE if iri else ""
    query = rf"(?:\?(?:{pchar}|[/?{query_extra}])*)?"
    fragment = rf"(?:#(?:{pchar}|[/?])*)?"
    hier = rf"(?://{authority}{abempty}|{absolute}|{rootless}|)"
    uri = rf"{scheme}:{hier}{query}{fragment}"
    if not reference:
        return uri
    relative = rf"(?://{authority}{abempty}|{absolute}|{noscheme}|){query}{fragment}"
    return rf"(?:{uri}|{relative})"


URI = _uri(False, False)
URI_REFERENCE = _uri(False, True)
IRI = _uri(True, False)
IRI_REFERENCE = _uri(True, True)

# RFC 1123 host names (letters, digits, hyphens; labels of 1 to 63 characters that neither
# start nor end with a hyphen; at most 253 characters, a final dot allowed), as checked by
# the ``fqdn`` package jsonschema uses (without its quirks: a trailing newline accepted by
# ``$``, the Kelvin sign accepted after ``str.lower()``).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME_SHAPE = rf"{_LABEL}(?:\.{_LABEL})*\.?"
HOSTNAME_LENGTH = r"(?s:.{1,253}\.?)"

# RFC 3339 appendix A
_DUR_SECOND = "[0-9]+S"
_DUR_MINUTE = rf"[0-9]+M(?:{_DUR_SECOND})?"
_DUR_HOUR = rf"[0-9]+H(?:{_DUR_MINUTE})?"
_DUR_TIME = rf"T(?:{_DUR_HOUR}|{_DUR_MINUTE}|{_DUR_SECOND})"
_DUR_DAY = "[0-9]+D"
_DUR_MONTH = rf"[0-9]+M(?:{_DUR_DAY})?"
_DUR_YEAR = rf"[0-9]+Y(?:{_DUR_MONTH})?"
DURATION = rf"P(?:(?:{_DUR_DAY}|{_DUR_MONTH}|{_DUR_YEAR})(?:{_DUR_TIME})?|{_DUR_TIME}|[0-9]+W)"

# RFC 4122 section 3 (hex digits case-insensitive on input)
UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

#: format -> regexes the decoded string must fully match (all of them)
RFC: dict[str, tuple[str, ...]] = {
    "uri": (URI,),
    "uri-reference": (URI_REFERENCE,),
    "iri": (IRI,),
    "iri-reference": (IRI_REFERENCE,),
    "hostname": (HOSTNAME_SHAPE, HOSTNAME_LENGTH),
    "duration": (DURATION,),
    "uuid": (UUID,),
}

# --------------------------------------------------------------------------- as checked
# The languages of jsonschema's checkers where they differ from the RFC grammars above (with
# the jsonschema[format] packages installed; the tests fail without them): what a string
# must match in the any spelling and what ``not: {format}`` complements. Generation keeps
# the RFC grammars, a subset of each.
#
# * uri, uri-reference, iri, iri-reference: rfc3987 matches with a regex ending in ``$``, so
#   one trailing newline is accepted;
# * hostname: fqdn's regex ``[-A-Z\d]`` under re.IGNORECASE also takes the Unicode decimal
#   digits (``\d``) and the three letters that fold into A-Z (U+0131 dotless i, U+017F long
#   s, U+212A Kelvin sign), and its ``$`` one trailing newline (counted in the 253);
# * duration: isoduration parses decimal values (``PT1.5S``, ``P1,5D``, ``P1e3D``, signs),
#   any subsequence of the designators Y M D (W only after zero values), an optional sign
#   before the ``P``, ignores digits left before ``T`` after a designator, and jsonschema
#   then asks that the text end in a designator.

_HOST_CHAR = "A-Za-z\\d\u0131\u017f\u212a"
_CHECKED_LABEL = rf"[{_HOST_CHAR}](?:[{_HOST_CHAR}-]{{0,61}}[{_HOST_CHAR}])?"
_NUM_CHARS = r"[+\-0-9.,eE]"


def _iso_number(digit: str) -> str:
    return rf"[+\-]?(?:{digit}+(?:[.,]{digit}*)?|[.,]{digit}+)(?:[eE][+\-]?[0-9]+)?"


def _iso_duration() -> str:
    num, zero = _iso_number("[0-9]"), _iso_number("0")
    week = rf"(?:{zero}Y)?(?:{zero}M)?(?:{zero}D)?{num}W"
    time = rf"T(?:{num}H(?:{num}M)?(?:{num}S)?|{num}M(?:{num}S)?|{num}S)"
    some_date = rf"(?:{num}Y(?:{num}M)?(?:{num}D)?|{num}M(?:{num}D)?|{num}D|{week})"
    return rf"[+\-]?P(?:{some_date}(?:{_NUM_CHARS}*{time})?|{time})"


CHECKED: dict[str, tuple[str, ...]] = {
    "uri": (URI + r"\n?",),
    "uri-reference": (URI_REFERENCE + r"\n?",),
    "iri": (IRI + r"\n?",),
    "iri-reference": (IRI_REFERENCE + r"\n?",),
    "hostname": (rf"{_CHECKED_LABEL}(?:\.{_CHECKED_LABEL})*\.?\n?", HOSTNAME_LENGTH),
    "duration": (_iso_duration(),),
}

# --------------------------------------------------------------------------- e-mail addresses
# jsonschema's "email" check only asks for an "@", so "@", "x@" and "a b@c" are e-mail
# addresses to it: a poor grammar to generate with. A generated e-mail address is a practical
# one, a subset of what both jsonschema and email-validator (pydantic's EmailStr, with
# check_deliverability=False) accept: a dot-atom local part of RFC 5322 atext, an "@", and
# a domain of host-name labels (letters, digits, inner hyphens, at most 63 characters, no
# "--") with at least one dot and a top-level label of letters that is not a special-use
# name email-validator refuses (arpa, invalid, local, localhost, onion, test); at most 254
# characters in all. Quoted local parts, IP literals and non-ASCII addresses are left out.
# The complement (``not: {format: email}``) is that of the checker's language (EXACT).

_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-"
_EMAIL_SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")


def _letters_except(words: tuple[str, ...], lo: int, hi: int) -> str:
    """A regex of the ASCII words of ``lo`` to ``hi`` letters that are none of ``words``
    (compared case-insensitively)."""
    trie: dict = {}
    for w in words:
        node = trie
        for c in w.lower():
            node = node.setdefault(c, {})
        node[""] = {}

    def any_letters(depth: int) -> str:  # the rest of a word already distinct from all
        a, b = max(lo - depth, 0), hi - depth
        return "" if b <= 0 else f"[A-Za-z]{{{a},{b}}}"

    def walk(node: dict, depth: int) -> str:
        alts = []
        kids = sorted(k for k in node if k)
        others = "".join(c + c.upper() for c in "abcdefghijklmnopqrstuvwxyz" if c not in kids)
        if depth < hi:
            alts.append(f"[{others}]{any_letters(depth + 1)}")
            for c in kids:
                alts.append(f"[{c}{c.upper()}]{walk(node[c], depth + 1)}")
        if "" not in node and depth >= lo:
            alts.append("")  # a proper prefix of a word is not the word
        return "(?:" + "|".join(alts) + ")"

    return walk(trie, 0)


EMAIL_LOCAL = rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*"
EMAIL_DOMAIN = rf"(?:{_LABEL}\.)+{_letters_except(_EMAIL_SPECIAL_USE, 1, 63)}"
#: format "email" when generating: regexes the address must fully match (all of them)
EMAIL = (
    rf"{EMAIL_LOCAL}@{EMAIL_DOMAIN}",
    r"[^@]*@(?:-?[^-])*",  # no "--" in the domain (email-validator's IDNA label checks)
    r"(?s:.{1,254})",
)

APPROXIMATE: dict[str, str] = {
    "idn-hostname": rf"{_LABEL}(?:\.{_LABEL})*",
    "uri-template": r"[^\s]*",
    "relative-json-pointer": r"(?:0|[1-9][0-9]*)(?:#|(?:/(?:[^/~]|~[01])*)*)",
    "regex": r"(?s:.*)",
    "color": r"(?s:.*)",
}


def regexes(name: str) -> tuple[str, ...]:
    """The regexes (all must match) that ``format: name`` is enforced with where a string
    must be of the format: for ``email`` a practical address (:data:`EMAIL`)."""
    if name == "email":
        return EMAIL
    if name in RFC:
        return RFC[name]
    return checked_regexes(name)


def checked_regexes(name: str) -> tuple[str, ...]:
    """The regexes of the format as checked (``jsonschema``'s checker or the RFC): what the
    complement (``not: {format: name}``) is taken of."""
    if name in EXACT:
        return (EXACT[name],)
    if name in CHECKED:
        return CHECKED[name]
    if name in RFC:
        return RFC[name]
    return (APPROXIMATE[name],)


#: the formats enforced exactly (by jsonschema's checker, or by the RFC grammar)
ENFORCED = frozenset(EXACT) | frozenset(RFC)

#: every format some jsonschema checker knows; any other format name is an annotation
KNOWN = ENFORCED | frozenset(APPROXIMATE)
