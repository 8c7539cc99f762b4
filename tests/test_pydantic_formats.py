"""pydantic's string types (EmailStr, URLs, IP addresses, versioned UUIDs, dates and times)
become grammars whose every text pydantic accepts, and format "email" in a JSON Schema is a
practical address, not anything with an "@"."""

from __future__ import annotations

import datetime
import ipaddress
import json
import random
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import (
    UUID1,
    UUID4,
    AnyUrl,
    BaseModel,
    EmailStr,
    FileUrl,
    HttpUrl,
    IPvAnyAddress,
    IPvAnyInterface,
    IPvAnyNetwork,
    PostgresDsn,
    TypeAdapter,
)

import structgen
from structgen.automata.distance import Distances
from structgen.compiler import compile_automaton
from structgen.types import output_spec

pytest.importorskip("email_validator")

TYPES: dict[str, Any] = {
    "EmailStr": EmailStr,
    "AnyUrl": AnyUrl,
    "HttpUrl": HttpUrl,
    "FileUrl": FileUrl,
    "PostgresDsn": PostgresDsn,
    "IPv4Address": ipaddress.IPv4Address,
    "IPv6Address": ipaddress.IPv6Address,
    "IPvAnyAddress": IPvAnyAddress,
    "IPv4Interface": ipaddress.IPv4Interface,
    "IPvAnyInterface": IPvAnyInterface,
    "IPv4Network": ipaddress.IPv4Network,
    "IPv6Network": ipaddress.IPv6Network,
    "IPvAnyNetwork": IPvAnyNetwork,
    "UUID": uuid.UUID,
    "UUID1": UUID1,
    "UUID4": UUID4,
    "date": datetime.date,
    "datetime": datetime.datetime,
    "time": datetime.time,
    "timedelta": datetime.timedelta,
}

# values a user expects to be writable (the grammar is a practical subset, not a toy)
TYPICAL = {
    "EmailStr": ["ann.lee+news@mail.example.com", "x_y@sub.domain-name.org", "a@b.c"],
    "AnyUrl": ["https://example.com", "http://docs.python.org/3/library/re.html?q=1#x"],
    "HttpUrl": ["https://www.example.org/a/b-c_d.html"],
    "FileUrl": ["file:///etc/hosts"],
    "PostgresDsn": ["postgresql://db.example.com/app"],
    "IPvAnyAddress": ["192.168.0.1", "::1", "2001:db8::8a2e:370:7334"],
    "IPvAnyInterface": ["10.0.0.1/24", "fe80::1/64"],
    "IPvAnyNetwork": ["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32", "10.1.2.3"],
    "UUID4": ["f47ac10b-58cc-4372-a567-0e02b2c3d479"],
    "datetime": ["2024-02-29T12:30:00Z", "2024-02-29T12:30:00.5+02:00"],
    "timedelta": ["P1D", "PT1H30M", "P2DT0.25S", "-PT5M"],
}

BYTES = structgen.Vocabulary([bytes([b]) for b in range(256)], eos_ids=[])


def _automaton(name: str):
    return compile_automaton(output_spec(TYPES[name]).spec)


def _accepts(name: str, value: str) -> bool:
    return _automaton(name).matches(json.dumps(value).encode())


def _walk(a, dist, rng: random.Random, target: int) -> str:
    """A random text of the grammar (printable ASCII bytes), drifting to an end after
    ``target`` bytes."""
    cfg, data = a.initial(), bytearray()
    while not (a.is_accepting(cfg) and (len(data) > target or rng.random() < 0.2)):
        opts = [b for b in range(32, 127) if a.step(cfg, b)]
        if not opts:
            break
        if len(data) > target:
            opts = sorted(opts, key=lambda b: dist.config(a.step(cfg, b)))[:1]
        b = rng.choice(opts)
        cfg = a.step(cfg, b)
        data.append(b)
    return data.decode()


@pytest.mark.parametrize("name", sorted(TYPES))
def test_every_text_of_the_grammar_validates(name):
    out = output_spec(TYPES[name], whitespace="compact")
    a = compile_automaton(out.spec)
    dist = Distances(a)
    adapter = TypeAdapter(TYPES[name])

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.randoms(use_true_random=False), st.sampled_from([2, 8, 30, 90]))
    def check(rng, target):
        text = _walk(a, dist, rng, target)
        assert a.matches(text.encode())
        adapter.validate_json(text)  # raises when pydantic refuses it
        out.parse(text)

    check()


def _mutate(draw, text: str) -> str:
    pool = st.sampled_from(list('@.:/-_%0aZ9f[]?#+ \\"') + ["--", "::", "..", "xn--"])
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(pool)
        if op == "insert":
            text = text[:i] + piece + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + piece + text[i + 1 :]
    return text


@pytest.mark.parametrize("name", sorted(TYPICAL))
def test_typical_values_and_their_mutations(name):
    adapter = TypeAdapter(TYPES[name])
    a = _automaton(name)
    for value in TYPICAL[name]:
        assert a.matches(json.dumps(value).encode()), value

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        text = _mutate(data.draw, data.draw(st.sampled_from(TYPICAL[name])))
        if a.matches(json.dumps(text).encode()):
            adapter.validate_python(text)  # whatever the grammar lets through is valid

    check()


def test_practical_subset_leaves_out_what_pydantic_refuses():
    for bad in [
        "x@",
        "@",
        "a b@c.de",
        "x@y",
        "x@y.test",
        "x@y.LocalHost",
        "x@ab--c.com",
        "a..b@c.de",
        ".a@b.cd",
        "x@1.2",
    ]:
        assert not _accepts("EmailStr", bad), bad
    for bad in ["10.0.0.1/8", "010.0.0.0/8", "2001:db8::1/32"]:
        assert not _accepts("IPvAnyNetwork", bad), bad
    assert not _accepts("UUID4", "f47ac10b-58cc-1372-a567-0e02b2c3d479")  # version 1
    assert not _accepts("UUID4", "f47ac10b-58cc-4372-c567-0e02b2c3d479")  # not RFC variant
    assert not _accepts("HttpUrl", "ftp://example.com")
    assert not _accepts("FileUrl", "https://example.com")
    assert not _accepts("IPvAnyAddress", "1.2.3.04")


def test_format_email_in_a_json_schema_is_a_practical_address():
    schema = {"type": "string", "format": "email"}
    a = structgen.compile(structgen.JsonSchema(schema), vocabulary=BYTES).automaton
    for good in ["ann@example.com", "a.b-c+d@mail.co.uk", "a@b.c"]:
        assert a.matches(json.dumps(good).encode()), good
    for bad in ["@", "x@", "@x", "a b@c.de", "ann@example", "ann@@example.com", "ann@exa mple.com"]:
        assert not a.matches(json.dumps(bad).encode()), bad
    # what is not an e-mail address is still decided by jsonschema's check (an "@")
    neg = structgen.JsonSchema({"type": "string", "not": schema})
    n = structgen.compile(neg, vocabulary=BYTES).automaton
    assert n.matches(b'"no at sign"') and not n.matches(b'"x@"')


def test_refusals_state_the_reason():
    from pydantic import Base64Str, FilePath

    with pytest.raises(structgen.UnsupportedSchemaError) as e:
        output_spec(FilePath)
    assert "format 'file-path' at /" in str(e.value) and "the file exists" in str(e.value)
    with pytest.raises(structgen.UnsupportedSchemaError, match="decoded bytes to be UTF-8"):
        output_spec(Base64Str)


class Contact(BaseModel):
    email: EmailStr
    site: HttpUrl
    ip: ipaddress.IPv4Address
    id: UUID4
    born: datetime.date


@pytest.mark.model
def test_generated_contact_validates(smollm2):
    model, tok = smollm2
    got = structgen.generate(
        model,
        tok,
        "Make up a contact record for Ann Lee (email, web site, IPv4 address, id, birth date) "
        "as JSON.",
        Contact,
        max_new_tokens=160,
        whitespace="compact",
    )
    assert isinstance(got, Contact)
    Contact.model_validate_json(got.model_dump_json())
