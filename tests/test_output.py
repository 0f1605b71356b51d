"""core/output.py: orjson writes a plain TypedDict response exactly as pydantic-core would,
and anything else is left to pydantic-core."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo

import pytest
from fastapi.routing import APIRoute
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PlainSerializer,
    field_serializer,
    model_validator,
    with_config,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticSerializationError
from typing_extensions import TypedDict

from core.output import Output, plain_json


class Item(TypedDict):
    id: int
    name: str
    flag: bool
    at: datetime
    note: Annotated[str | None, Field(description="documented, not renamed")]


class Page(TypedDict):
    items: list[Item]
    more: str | None


class Priced(TypedDict):
    price: float


class Renamed(TypedDict):
    name: Annotated[str, Field(serialization_alias="Name")]


class Model(BaseModel):
    id: int


class Bounded(TypedDict):
    n: Annotated[int, Field(ge=0, le=10)]
    s: Annotated[str, Field(max_length=3)]


class Excluded(TypedDict):
    secret: Annotated[str, Field(exclude=True)]  # pydantic leaves it out; orjson would not


class Validated(TypedDict):
    s: Annotated[str, AfterValidator(lambda v: v)]  # may hand the writer anything


class Serialised(TypedDict):
    s: Annotated[str, PlainSerializer(lambda v: v.upper())]


@with_config(extra="allow")  # keeps unknown keys, of any type
class Open(TypedDict):
    id: int


class FieldSerialised(TypedDict):
    x: int

    @field_serializer("x")
    def _tenfold(self, value: int) -> int:
        return value * 10


class AfterModel(TypedDict):
    n: int

    @model_validator(mode="after")
    def _more(self) -> dict:
        return {**self, "extra": 1.5}


class ExcludedIf(TypedDict):
    s: Annotated[str | None, Field(exclude_if=lambda v: v is None)]


@with_config(alias_generator=to_camel)
class CamelParent(TypedDict):
    user_name: str


class CamelChild(CamelParent):  # the parent's config applies here too
    other_field: int


class Node(TypedDict):
    children: list[Node]


async def _endpoint() -> None:
    return None


def _output(model: object, **options: object) -> tuple[Output, APIRoute]:
    route = APIRoute("/x", _endpoint, response_model=model, **options)  # type: ignore[arg-type]
    return Output(route), route


@pytest.mark.parametrize(("model", "plain"), [
    (Item, True), (Page, True), (list[Item], True),
    (Priced, False),  # float: the two writers may spell a number differently
    (Renamed, False), (Model, False), (dict[str, int], False), (Bounded, True),
    (Excluded, False), (Validated, False), (Serialised, False), (Open, False),
    (FieldSerialised, False), (AfterModel, False), (ExcludedIf, False), (CamelChild, False),
    (Node, False),
])
def test_which_models_orjson_writes(model, plain):
    assert (plain_json(model) is not None) is plain
    assert (_output(model)[0].check is not None) is plain


def test_include_exclude_options_leave_it_to_pydantic():
    assert _output(Item, response_model_exclude_none=True)[0].check is None
    assert _output(Item, response_model_include={"id"})[0].check is None


TIMES = [
    datetime(2026, 12, 3, 18, 0, tzinfo=UTC),
    datetime(2026, 12, 3, 18, 0, 0, 123000, tzinfo=UTC),
    datetime(2026, 12, 3, 18, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 12, 3, 18, 0, 0, 5, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
    datetime(2026, 12, 3, 18, 0),
    datetime(1, 1, 1, tzinfo=UTC),
]
TEXTS = ["", "plain", 'quote " backslash \\ slash /', "\x00\x01\x1f\x7f\t\n\r\b\f",
         "é ü 漢字 🙂 \u2028\u2029 <script>&amp;"]


@pytest.mark.parametrize("at", TIMES)
@pytest.mark.parametrize("text", TEXTS)
def test_orjson_bytes_are_pydantics_bytes(at, text):
    output, route = _output(Page)
    assert output.check is not None
    value, errors = route.response_field.validate(
        {"items": [{"id": -(2**63), "name": text, "flag": True, "at": at, "note": None,
                    "extra": "not sent"}], "more": text}, {}, loc=("response",))
    assert not errors
    written = output.write(value)
    assert written == route.response_field.serialize_json(value)
    assert b"not sent" not in written


def test_an_int_past_64_bits_is_written_by_pydantic():
    output, route = _output(Item)
    value, _ = route.response_field.validate(
        {"id": 2**64, "name": "n", "flag": False, "at": TIMES[0], "note": "x"}, {})
    assert output.write(value) == route.response_field.serialize_json(value)
    assert b"18446744073709551616" in output.write(value)


def test_the_articles_routes_take_orjson(client):
    routes = [r for r in client.app.router.routes if getattr(r, "path", "").startswith("/articles")]
    assert routes
    for route in routes:
        if route.response_field is not None:
            assert Output(route).check is not None, route.path


class Broken(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise ValueError("no offset")

    def dst(self, dt: datetime | None) -> None:
        return None


class NoOffset(Broken):
    def utcoffset(self, dt: datetime | None) -> None:  # type: ignore[override]
        return None


ODD_TIMES = [
    # Amsterdam's local mean time, +00:19:32: orjson rounds it to +00:20, pydantic cuts it
    datetime(1930, 6, 1, tzinfo=UTC).astimezone(ZoneInfo("Europe/Amsterdam")),
    datetime(2020, 1, 1, tzinfo=timezone(timedelta(seconds=30))),
    datetime(2020, 1, 1, tzinfo=timezone(-timedelta(microseconds=1))),
    datetime(2020, 1, 1, tzinfo=NoOffset()),
]


@pytest.mark.parametrize("at", ODD_TIMES)
def test_a_datetime_orjson_would_write_otherwise_is_written_by_pydantic(at):
    output, route = _output(Page)
    value = {"items": [{"id": 1, "name": "n", "flag": True, "at": at, "note": None}], "more": None}
    assert output.check is not None and not output.check(value)
    assert output.write(value) == route.response_field.serialize_json(value)


def test_a_tzinfo_that_raises_reaches_pydantic_not_orjson():
    """orjson 3.13 crashes the process on such a value; pydantic-core raises (a 500)."""
    output, _ = _output(Item)
    value = {"id": 1, "name": "n", "flag": True, "at": datetime(2020, 1, 1, tzinfo=Broken()),
             "note": None}
    with pytest.raises(PydanticSerializationError):
        output.write(value)
