"""``format`` against jsonschema's FormatChecker, with every checker it needs installed.

Without ``rfc3339-validator``, ``fqdn``, ``rfc3987``, ``isoduration``... ``FormatChecker``
silently checks nothing for ``date-time``, ``hostname``, ``uri``, ``duration``: a
comparison with it would accept whatever the grammar does. So the first test FAILS (it does
not skip) when a checker is missing: install the ``dev`` extra.

Then, for every format structgen enforces: ``{"format": f}`` admits every non-string value
(a format constrains strings only) and exactly the strings the checker accepts, and
``{"not": {"format": f}}`` the other strings, compared on drawn values.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_jsonschema_helpers import FORMAT_SAMPLES, json_values

from structgen.automata import Automaton
from structgen.jsonschema import JsonSchema
from structgen.jsonschema import formats as F

CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER

#: for each enforced format, a string its checker refuses (so the checker really checks)
NOT_OF_FORMAT = {
    "date": "2024-02-30",
    "date-time": "2024-02-29T12:30:00Z0",
    "time": "25:00:00Z",
    "email": "no at sign",
    "idn-email": "no at sign",
    "ipv4": "1.2.3.04",
    "ipv6": "1::2::3",
    "json-pointer": "a/b",
    "uri": "no scheme",
    "uri-reference": "a b",
    "iri": "no scheme",
    "iri-reference": "a b",
    "hostname": "-bad-.example",
    "duration": "P1H",
    "uuid": "123e4567e89b12d3a456426614174000",
}

#: formats where structgen deliberately differs from the checker (documented in formats.py):
#: jsonschema's uuid check is what uuid.UUID() parses ("{...}", "urn:uuid:", extra "-"...)
#: with hyphens at 8, 13, 18, 23; structgen enforces the RFC 4122 form, a subset of it.
NARROWER = {"uuid"}

_PIECES = [
    *"0129-:.,/TtZz+@aéfF[]?# \nPWDHMSYeı١K{}",
    *("12", "2024", "~0", "~1", "%41", "::", "http://", "2024-02-29", "12:30:00"),
    *("1.2.3.4", "example.com", "urn:uuid:", "123e4567-e89b-12d3-a456-426614174000"),
]
#: where the checkers go beyond the RFC grammars (all must be judged as the checker does)
CHECKER_EXTRAS = [
    "PT1.5S",
    "P1,5D",
    "-P1D",
    "+P1Y3D",
    "P1e3D",
    "P0Y1W",
    "P1Y1W",
    "P1D5T1H",
    "P1T1H",
    "PT1H5",
    "P.5M",
    "P1DT",
    "a.b\n",
    "\u0661.example",
    "\u0131s\u017fK",
    "-a.b",
    "http://a\n",
    "http://a\n\n",
    "a\n",
    "#x\n",
]
strings = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)
samples = st.sampled_from(
    [s for v in FORMAT_SAMPLES.values() for s in v] + list(NOT_OF_FORMAT.values()) + CHECKER_EXTRAS
)

SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


def test_every_enforced_format_is_checked_by_jsonschema():
    missing = sorted(F.ENFORCED - set(CHECKER.checkers))
    assert not missing, (
        f"jsonschema's FormatChecker does not check {missing}: install the dev extra "
        "(the jsonschema[format] checkers), or these tests compare with nothing"
    )
    for fmt in sorted(F.ENFORCED):
        assert not CHECKER.conforms(NOT_OF_FORMAT[fmt], fmt), fmt


_CACHE: dict = {}


def _automaton(schema) -> Automaton:
    key = json.dumps(schema)
    if key not in _CACHE:
        _CACHE[key] = Automaton(JsonSchema(schema, spelling="any").to_grammar())
    return _CACHE[key]


@pytest.mark.parametrize("fmt", sorted(F.ENFORCED))
def test_format_admits_non_strings_and_checked_strings(fmt):
    schemas = [{"format": fmt}, {"not": {"format": fmt}}, {"properties": {"x": {"format": fmt}}}]

    @SETTINGS
    @given(json_values | strings | samples, st.sampled_from(schemas))
    def run(value, schema):
        if fmt in NARROWER and isinstance(value, str) and CHECKER.conforms(value, fmt):
            value = 0 if "not" not in schema else "-"  # structgen's subset: checked below
        if "properties" in schema:
            value = {"x": value}
        expected = jsonschema.Draft202012Validator(schema, format_checker=CHECKER).is_valid(value)
        got = _automaton(schema).matches(json.dumps(value).encode())
        assert got == expected, (schema, value, expected)

    run()


@pytest.mark.parametrize("fmt", sorted(F.ENFORCED - NARROWER))
def test_checker_extras(fmt):
    a, n = _automaton({"format": fmt}), _automaton({"not": {"format": fmt}})
    for s in CHECKER_EXTRAS:
        text = json.dumps(s).encode()
        assert a.matches(text) == CHECKER.conforms(s, fmt), (fmt, s)
        assert n.matches(text) != CHECKER.conforms(s, fmt), (fmt, s)


def test_uuid_is_the_rfc_form_of_what_the_checker_accepts():
    a = _automaton({"format": "uuid"})
    u = "123e4567-e89b-12d3-a456-426614174000"
    assert a.matches(json.dumps(u).encode())
    assert a.matches(json.dumps(u.upper()).encode())
    # the checker's extras (more hyphens after the fourth): refused by structgen
    for s in ("123e4567-e89b-12d3-a456-4266-14174000", "123e4567-e89b-12d3-a456-4266141740-00"):
        assert CHECKER.conforms(s, "uuid")
        assert not a.matches(json.dumps(s).encode())


def test_non_strings_in_the_canonical_spelling():
    for fmt in sorted(F.ENFORCED):
        a = Automaton(JsonSchema({"format": fmt}, whitespace="compact").to_grammar())
        for v in (1, -2.5, None, True, False, [], {}, [1, "x"]):
            assert a.matches(json.dumps(v, separators=(",", ":")).encode()), (fmt, v)
