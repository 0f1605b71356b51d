"""core/output.py: orjson writes a plain TypedDict response exactly as pydantic-core would,
and anything else is left to pydantic-core."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
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


async def _endpoint() -> None:
    return None


def _output(model: object, **options: object) -> tuple[Output, APIRoute]:
    route = APIRoute("/x", _endpoint, response_model=model, **options)  # type: ignore[arg-type]
    return Output(route), route


@pytest.mark.parametrize(("model", "plain"), [
    (Item, True), (Page, True), (list[Item], True),
    (Priced, False),  # float: the two writers may spell a number differently
    (Renamed, False), (Model, False), (dict[str, int], False),
])
def test_which_models_orjson_writes(model, plain):
    assert plain_json(model) is plain
    assert _output(model)[0].orjson is plain


def test_include_exclude_options_leave_it_to_pydantic():
    assert not _output(Item, response_model_exclude_none=True)[0].orjson
    assert not _output(Item, response_model_include={"id"})[0].orjson


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
    assert output.orjson
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
            assert Output(route).orjson, route.path
