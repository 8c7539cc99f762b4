"""The tasks of the output-quality benchmark (``bench/bench_quality.py``).

Each task is a short text, an instruction, a JSON Schema (a dict, or a pydantic model whose
``model_json_schema()`` is used) and the expected values of the fields that have one
unambiguous answer, keyed by dotted path (``address.city``). The texts were written for
this benchmark. Three kinds:

* extraction: names, ages with bounds, lists of e-mails, nested addresses, role literals,
  dates, lists of objects;
* classification: one enum (sentiment, category, language...), sometimes with a boolean;
* record filling: a product, a book, a film... as a pydantic model (optional fields, lists,
  integers, numbers, booleans; no ``additionalProperties``, as pydantic writes it).

Expected lists are compared as multisets (order ignored, duplicates counted); strings are
compared stripped and casefolded, numbers by value (see ``bench_quality.same``).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

# --------------------------------------------------------------------------------------
# pydantic models


class Address(BaseModel):
    street: str
    city: str
    country: str


class Person(BaseModel):
    name: str
    age: int = Field(ge=0, le=130)
    emails: list[str]
    address: Address
    role: Literal["admin", "editor", "viewer"]


class Account(BaseModel):
    username: str
    role: Literal["admin", "member", "guest"]
    active: bool


class PostalAddress(BaseModel):
    street: str
    postal_code: str
    city: str
    country: str


class Company(BaseModel):
    name: str
    address: PostalAddress
    employees: int


class Meeting(BaseModel):
    title: str
    date: datetime.date
    attendees: list[str]
    online: bool


class Item(BaseModel):
    sku: str
    quantity: int = Field(ge=1)


class Order(BaseModel):
    order_id: int
    items: list[Item]
    express: bool


class Triage(BaseModel):
    department: Literal["cardiology", "dermatology", "orthopedics"]
    urgent: bool


class Book(BaseModel):
    title: str
    author: str
    year: int
    isbn: str | None = None
    genres: list[str]
    in_print: bool


class Product(BaseModel):
    name: str
    price: float
    currency: Literal["USD", "EUR", "GBP"]
    in_stock: bool
    weight_kg: float | None = None
    tags: list[str] = []


class Car(BaseModel):
    make: str
    model: str
    year: int
    electric: bool
    price_eur: float


class Employee(BaseModel):
    first_name: str
    last_name: str
    department: str
    manager: str | None = None
    start_year: int


class Loan(BaseModel):
    borrower: str
    book_title: str
    due: datetime.date
    renewals: int = Field(ge=0, le=3)


class Episode(BaseModel):
    show: str
    number: int
    guests: list[str]
    minutes: int
    explicit: bool = False


class Listing(BaseModel):
    city: str
    rooms: int
    area_m2: float
    balcony: bool
    rent_per_month: int


# --------------------------------------------------------------------------------------
# dict schemas

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_BOOL = {"type": "boolean"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
    }


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


_SENTIMENT = _obj({"sentiment": _enum("positive", "negative", "neutral")})


@dataclass(frozen=True)
class Task:
    name: str
    kind: str  # extraction | classification | record
    text: str
    instruction: str
    schema: Any  # a JSON Schema dict or a pydantic model class
    expected: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> type[BaseModel] | None:
        return self.schema if isinstance(self.schema, type) else None

    def json_schema(self) -> dict[str, Any]:
        m = self.model
        return m.model_json_schema() if m is not None else self.schema


TASKS: list[Task] = [
    # ---------------------------------------------------------------- extraction
    Task(
        "person",
        "extraction",
        "Marta Kowalski, 41, plans the editorial calendar; her account role is editor. "
        "Reach her at marta.k@northwind.example or mk@press.example. She works from "
        "12 Harbour Lane, Gdansk, Poland.",
        "Extract the person described in the text.",
        Person,
        {
            "name": "Marta Kowalski",
            "age": 41,
            "emails": ["marta.k@northwind.example", "mk@press.example"],
            "address.street": "12 Harbour Lane",
            "address.city": "Gdansk",
            "address.country": "Poland",
            "role": "editor",
        },
    ),
    Task(
        "emails",
        "extraction",
        "For billing write to accounts@lumen.example, for support use help@lumen.example; "
        "the founder, Dana, reads dana@lumen.example herself.",
        "List every e-mail address in the text.",
        _obj({"emails": {"type": "array", "items": {"type": "string", "format": "email"}}}),
        {"emails": ["accounts@lumen.example", "help@lumen.example", "dana@lumen.example"]},
    ),
    Task(
        "oldest_member",
        "extraction",
        "The oldest member of the chess club is Walter Brandt, who turned 87 last spring.",
        "Give the name and age of the person in the text.",
        _obj({"name": _STR, "age": {"type": "integer", "minimum": 0, "maximum": 120}}),
        {"name": "Walter Brandt", "age": 87},
    ),
    Task(
        "fair",
        "extraction",
        "The annual robotics fair opens in Tampere on 14 March 2025 and lasts three days.",
        "Extract the event, its start date (YYYY-MM-DD), its city and its length in days.",
        _obj(
            {
                "event": _STR,
                "date": {"type": "string", "format": "date"},
                "city": _STR,
                "days": _INT,
            }
        ),
        {"date": "2025-03-14", "city": "Tampere", "days": 3},
    ),
    Task(
        "meeting",
        "extraction",
        "Budget review on 2025-02-03 in room 4B with Lena, Omar and Grace; nobody joins by video.",
        "Extract the meeting.",
        Meeting,
        {"date": "2025-02-03", "attendees": ["Lena", "Omar", "Grace"], "online": False},
    ),
    Task(
        "invoice",
        "extraction",
        "Invoice INV-2207 for 1249.50 euros was paid by bank transfer on Friday.",
        "Extract the invoice.",
        _obj(
            {
                "invoice_number": _STR,
                "total": _NUM,
                "currency": _enum("EUR", "USD", "GBP"),
                "paid": _BOOL,
            }
        ),
        {"invoice_number": "INV-2207", "total": 1249.5, "currency": "EUR", "paid": True},
    ),
    Task(
        "flight",
        "extraction",
        "I booked 3 seats on Aurora Air flight AU318 from Oslo to Reykjavik.",
        "Extract the booking.",
        _obj(
            {
                "airline": _STR,
                "flight_number": _STR,
                "origin": _STR,
                "destination": _STR,
                "seats": {"type": "integer", "minimum": 1, "maximum": 9},
            }
        ),
        {
            "airline": "Aurora Air",
            "flight_number": "AU318",
            "origin": "Oslo",
            "destination": "Reykjavik",
            "seats": 3,
        },
    ),
    Task(
        "company",
        "extraction",
        "Brightwell Optics employs 240 people at Kastanienallee 7, 10435 Berlin, Germany.",
        "Extract the company and its address.",
        Company,
        {
            "name": "Brightwell Optics",
            "address.street": "Kastanienallee 7",
            "address.postal_code": "10435",
            "address.city": "Berlin",
            "address.country": "Germany",
            "employees": 240,
        },
    ),
    Task(
        "family",
        "extraction",
        "At the table sat Inês (34), her brother Tomás (29) and their grandmother Rosa (78).",
        "List the people with their ages.",
        _obj(
            {
                "people": {
                    "type": "array",
                    "items": _obj({"name": _STR, "age": {"type": "integer", "minimum": 0}}),
                }
            }
        ),
        {
            "people": [
                {"name": "Inês", "age": 34},
                {"name": "Tomás", "age": 29},
                {"name": "Rosa", "age": 78},
            ]
        },
    ),
    Task(
        "account",
        "extraction",
        "The account jdoe was disabled last week; it was a guest account.",
        "Describe the account.",
        Account,
        {"username": "jdoe", "role": "guest", "active": False},
    ),
    Task(
        "stay",
        "extraction",
        "We arrive on 2024-07-02 and leave on 2024-07-09, two adults and no pets.",
        "Extract the reservation.",
        _obj(
            {
                "check_in": {"type": "string", "format": "date"},
                "check_out": {"type": "string", "format": "date"},
                "guests": {"type": "integer", "minimum": 1},
                "pets": _BOOL,
            }
        ),
        {"check_in": "2024-07-02", "check_out": "2024-07-09", "guests": 2, "pets": False},
    ),
    Task(
        "contacts",
        "extraction",
        "Questions about the trip go to Zoë Müller (zoe@trips.example); payments to "
        "Karl Evans (karl@trips.example).",
        "List the contacts.",
        _obj(
            {
                "contacts": {
                    "type": "array",
                    "items": _obj({"name": _STR, "email": _STR}),
                }
            }
        ),
        {
            "contacts": [
                {"name": "Zoë Müller", "email": "zoe@trips.example"},
                {"name": "Karl Evans", "email": "karl@trips.example"},
            ]
        },
    ),
    Task(
        "forecast",
        "extraction",
        "Tomorrow in Porto: a high of 23.5 degrees and a low of 14 degrees, no rain.",
        "Extract the forecast (temperatures in degrees Celsius).",
        _obj({"city": _STR, "high_c": _NUM, "low_c": _NUM, "rain": _BOOL}),
        {"city": "Porto", "high_c": 23.5, "low_c": 14, "rain": False},
    ),
    Task(
        "order",
        "extraction",
        "Order 55102: two units of SKU B-19 and one unit of SKU K-4, shipped express.",
        "Extract the order.",
        Order,
        {
            "order_id": 55102,
            "items": [{"sku": "B-19", "quantity": 2}, {"sku": "K-4", "quantity": 1}],
            "express": True,
        },
    ),
    Task(
        "ages",
        "extraction",
        "The three finalists are aged 19, 23 and 31.",
        "List the finalists' ages.",
        _obj(
            {
                "ages": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0, "maximum": 120},
                }
            }
        ),
        {"ages": [19, 23, 31]},
    ),
    # ---------------------------------------------------------------- classification
    Task(
        "review_positive",
        "classification",
        "The battery lasts two full days and the screen is gorgeous. Best purchase this year.",
        "Classify the sentiment of the review.",
        _SENTIMENT,
        {"sentiment": "positive"},
    ),
    Task(
        "review_negative",
        "classification",
        "The zipper broke on the first day and customer service never replied.",
        "Classify the sentiment of the review.",
        _SENTIMENT,
        {"sentiment": "negative"},
    ),
    Task(
        "review_neutral",
        "classification",
        "The package arrived on Tuesday. It contains the charger and a manual.",
        "Classify the sentiment of the review.",
        _SENTIMENT,
        {"sentiment": "neutral"},
    ),
    Task(
        "ticket",
        "classification",
        "I was charged twice for my March subscription, please refund one of the payments.",
        "Classify the support ticket.",
        _obj(
            {
                "category": _enum("billing", "technical", "shipping", "account"),
                "priority": _enum("low", "medium", "high"),
            }
        ),
        {"category": "billing"},
    ),
    Task(
        "news_topic",
        "classification",
        "Astronomers measured the rotation of a distant exoplanet for the first time.",
        "Give the topic of the headline.",
        _obj({"topic": _enum("sports", "politics", "science", "business", "culture")}),
        {"topic": "science"},
    ),
    Task(
        "language",
        "classification",
        "Il fait beau aujourd'hui, allons au parc.",
        "Which language is the text written in?",
        _obj({"language": _enum("English", "French", "German", "Spanish", "Italian")}),
        {"language": "French"},
    ),
    Task(
        "spam",
        "classification",
        "Congratulations! You won a free cruise. Send your bank details today to claim it.",
        "Is this message spam? Give a short reason.",
        _obj({"is_spam": _BOOL, "reason": {"type": "string", "maxLength": 80}}),
        {"is_spam": True},
    ),
    Task(
        "intent",
        "classification",
        "Please cancel my hotel reservation for next weekend.",
        "Classify the request.",
        _obj({"intent": _enum("book_hotel", "cancel_booking", "check_status", "other")}),
        {"intent": "cancel_booking"},
    ),
    Task(
        "triage",
        "classification",
        "The patient reports an itchy skin rash on both arms for a week, with no fever.",
        "Route the patient to a department and say whether it is urgent.",
        Triage,
        {"department": "dermatology", "urgent": False},
    ),
    Task(
        "animal",
        "classification",
        "The axolotl is a salamander that keeps its gills as an adult.",
        "Which class of animal is described?",
        _obj({"class": _enum("mammal", "bird", "reptile", "fish", "amphibian")}),
        {"class": "amphibian"},
    ),
    # ---------------------------------------------------------------- record filling
    Task(
        "book",
        "record",
        "'The Salt Road' by Amara Okafor was first published in 2019. The historical "
        "novel is still in print.",
        "Fill in the book record.",
        Book,
        {"title": "The Salt Road", "author": "Amara Okafor", "year": 2019, "in_print": True},
    ),
    Task(
        "product",
        "record",
        "The TrailLite 2 tent weighs 1.8 kg, costs 349.00 US dollars and is sold out.",
        "Fill in the product record.",
        Product,
        {
            "name": "TrailLite 2",
            "price": 349,
            "currency": "USD",
            "in_stock": False,
            "weight_kg": 1.8,
        },
    ),
    Task(
        "film",
        "record",
        "Directed by Lina Park, 'Quiet Harbor' came out in 2021 and runs 112 minutes.",
        "Fill in the film record.",
        _obj(
            {
                "title": _STR,
                "director": _STR,
                "year": {"type": "integer", "minimum": 1888, "maximum": 2100},
                "runtime_minutes": {"type": "integer", "minimum": 1},
            }
        ),
        {"title": "Quiet Harbor", "director": "Lina Park", "year": 2021, "runtime_minutes": 112},
    ),
    Task(
        "car",
        "record",
        "For sale: a 2022 Volvo EX30, fully electric, at 36500 euros.",
        "Fill in the car record.",
        Car,
        {"make": "Volvo", "model": "EX30", "year": 2022, "electric": True, "price_eur": 36500},
    ),
    Task(
        "employee",
        "record",
        "Priya Raman joined the finance department in 2018 and reports to Olaf Berg.",
        "Fill in the employee record.",
        Employee,
        {
            "first_name": "Priya",
            "last_name": "Raman",
            "department": "finance",
            "manager": "Olaf Berg",
            "start_year": 2018,
        },
    ),
    Task(
        "station",
        "record",
        "Weather station KLM-07 reports wind at 42 km/h and steady rain.",
        "Fill in the station report.",
        _obj(
            {
                "station_id": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
                "wind_kmh": {"type": "integer", "minimum": 0},
                "raining": _BOOL,
            }
        ),
        {"station_id": "KLM-07", "wind_kmh": 42, "raining": True},
    ),
    Task(
        "loan",
        "record",
        "Sam Ortiz borrowed 'Night Trains' and must return it by 2025-01-31; the loan has "
        "been renewed twice.",
        "Fill in the library loan.",
        Loan,
        {"borrower": "Sam Ortiz", "book_title": "Night Trains", "due": "2025-01-31", "renewals": 2},
    ),
    Task(
        "restaurant",
        "record",
        "Casa Verde serves Mexican food; guests rate it 4.6 out of 5 and its price level "
        "is 2 on a scale of 1 to 4.",
        "Fill in the restaurant record.",
        _obj(
            {
                "name": _STR,
                "cuisine": _enum("Italian", "Mexican", "Japanese", "Indian", "French"),
                "rating": {"type": "number", "minimum": 0, "maximum": 5},
                "price_level": {"type": "integer", "minimum": 1, "maximum": 4},
            }
        ),
        {"name": "Casa Verde", "cuisine": "Mexican", "rating": 4.6, "price_level": 2},
    ),
    Task(
        "episode",
        "record",
        "Episode 57 of Garden Talk, 48 minutes long, welcomes the botanists Ada Lin and "
        "Noor Haddad.",
        "Fill in the podcast episode record.",
        Episode,
        {
            "show": "Garden Talk",
            "number": 57,
            "guests": ["Ada Lin", "Noor Haddad"],
            "minutes": 48,
        },
    ),
    Task(
        "listing",
        "record",
        "Bright 3-room flat in Lyon, 68.5 square metres with a balcony, rent 1150 euros a month.",
        "Fill in the listing.",
        Listing,
        {"city": "Lyon", "rooms": 3, "area_m2": 68.5, "balcony": True, "rent_per_month": 1150},
    ),
]


def _deref(schema: Any, root: dict) -> Any:
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        node: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def shape(schema: Any, root: dict | None = None, indent: str | None = None) -> str:
    """A short description of the JSON a schema asks for, for the prompt: an object as
    its keys with each value's type (``"age": integer 0..130``), enums as their values;
    on one line (``indent=None``) or one key a line."""
    root = schema if root is None else root
    s = _deref(schema, root)
    if not isinstance(s, dict):
        return "any value"
    if "enum" in s:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in s["enum"])
    if "const" in s:
        return json.dumps(s["const"], ensure_ascii=False)
    for key in ("anyOf", "oneOf"):
        if key in s:
            return " or ".join(shape(b, root, indent) for b in s[key])
    t = s.get("type")
    if t == "object":
        inner = None if indent is None else indent + "  "
        required = set(s.get("required", ()))
        lines = [
            f'"{k}": {shape(v, root, inner)}' + ("" if k in required else " (optional)")
            for k, v in (s.get("properties") or {}).items()
        ]
        if indent is None:
            return "{" + ", ".join(lines) + "}"
        return "{\n" + ",\n".join(inner + x for x in lines) + f"\n{indent}}}"
    if t == "array":
        return f"[{shape(s.get('items', {}), root, indent)}, ...]"
    if t in ("integer", "number"):
        lo, hi = s.get("minimum"), s.get("maximum")
        if lo is not None or hi is not None:
            return f"{t} {'' if lo is None else lo}..{'' if hi is None else hi}"
        return t
    if t == "string":
        if "format" in s:
            return {"date": "string (a date, YYYY-MM-DD)"}.get(
                s["format"], f"string ({s['format']})"
            )
        if "pattern" in s:
            return f"string matching {s['pattern']}"
        return "string"
    return str(t)


def prompt(task: Task, style: str = "shape") -> str:
    """The user message, the same for every engine: the instruction, the text, and the
    JSON expected (``style="shape"``: keys and types on one line, see :func:`shape`;
    ``"shape-indent"``: one key a line; ``"schema"``: the JSON Schema itself)."""
    schema = task.json_schema()
    if style == "schema":
        spec = "that follows this JSON Schema:\n" + json.dumps(schema)
    else:
        spec = "of this shape:\n" + shape(schema, indent="" if style == "shape-indent" else None)
    return f"{task.instruction}\n\nText: {task.text}\n\nAnswer with a JSON object {spec}"
