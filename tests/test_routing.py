"""FastRoute and include_routes keep FastAPI's promises: the fast handler answers exactly what
FastAPI's own handler answers, overrides reach it, and joined routes keep FastAPI's order."""
from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

import anyio
import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import AliasChoices, BaseModel

from conftest import make_settings
from core.app import build_app
from core.include import include_routes
from core.params import Params
from core.routing import FastRoute
from features import articles, external, health, search

EVENTS: list[str] = []


async def get_marker(request: Request) -> str:
    return request.url.path


async def get_yielded() -> AsyncIterator[str]:
    EVENTS.append("enter")
    try:
        yield "from a yield dependency"
    except Exception as exc:
        EVENTS.append(f"thrown {type(exc).__name__}")
        raise
    finally:
        EVENTS.append("exit")


Yielded = Annotated[str, Depends(get_yielded, scope="function")]


CANCEL_EVENTS: list[str] = []


async def cancel_resource() -> AsyncIterator[str]:
    CANCEL_EVENTS.append("enter")
    try:
        yield "r"
    finally:
        await anyio.sleep(0.01)  # a teardown that waits, as returning a connection may
        CANCEL_EVENTS.append("cleaned")


Resource = Annotated[str, Depends(cancel_resource, scope="function")]


class Refused(Exception):
    pass


async def refuse() -> None:
    raise Refused


async def count(request: Request) -> int:
    request.state.calls = getattr(request.state, "calls", 0) + 1
    return int(request.state.calls)


class Item(BaseModel):
    id: int
    name: str


def _router(route_class: type[APIRoute]) -> APIRouter:
    router = APIRouter(prefix="/probe", route_class=route_class)

    @router.get("/items/{item_id}", response_model=Item)
    async def item(
        item_id: Annotated[int, Path(ge=1, le=1000)],
        request: Request,
        response: Response,
        marker: Annotated[str, Depends(get_marker)],
        limit: Annotated[int, Query(ge=1, le=10)] = 5,
        cursor_: Annotated[str | None, Query(alias="cursor", max_length=4)] = None,
        tags: Annotated[list[str] | None, Query()] = None,
        x_probe: Annotated[str | None, Header()] = None,
    ) -> dict[str, object]:
        response.headers["X-Marker"] = marker
        if limit == 7:
            response.status_code = 203
        name = f"{limit}-{cursor_}-{tags}-{x_probe}-{request.method}"
        return {"id": item_id, "name": name, "secret": "never sent"}

    @router.get("/aliased")
    async def aliased(
        cursor_: Annotated[str | None, Query(alias="cursor", max_length=4)] = None,
        page: Annotated[int, Query(validation_alias="p", ge=1)] = 1,
    ) -> dict[str, object]:
        return {"cursor": cursor_, "page": page}

    @router.get("/choices")
    async def choices(
        n: Annotated[int, Query(validation_alias=AliasChoices("a", "b"))] = 0,
    ) -> dict[str, object]:
        return {"n": n}

    @router.get("/needs/{name}")
    async def needs(name: str, q: Annotated[int, Query()]) -> dict[str, object]:
        return {"name": name, "q": q}

    @router.get("/yielded/{n}")
    async def yielded(n: int, value: Yielded) -> dict[str, object]:
        if n == 0:
            raise LookupError("thrown into the dependency")
        return {"value": value, "events": list(EVENTS)}

    @router.get("/invalid", response_model=Item)
    async def invalid() -> dict[str, object]:
        return {"id": "not a number", "name": "x"}

    @router.get("/raw")
    async def raw() -> Response:
        return Response(b"raw", media_type="text/plain")

    @router.get("/nomodel", response_model=None)
    async def nomodel() -> dict[str, object]:
        return {"when": datetime(2026, 1, 2, tzinfo=UTC), "item": Item(id=1, name="n")}

    @router.get("/status/{code}", response_model=Item)
    async def status(code: int, response: Response) -> dict[str, object]:
        response.status_code = code
        return {"id": 1, "name": "x"} if code != 204 else {"id": "bad"}

    @router.get("/yielded-invalid", response_model=Item)
    async def yielded_invalid(value: Yielded) -> dict[str, object]:
        return {"id": "not a number", "name": value}

    @router.get("/refused/{n}")
    async def refused(n: int, _: Annotated[None, Depends(refuse)]) -> dict[str, str]:
        return {}

    @router.get("/twice")
    async def twice(
        a: Annotated[int, Depends(count)], b: Annotated[int, Depends(count)]
    ) -> dict[str, int]:
        return {"a": a, "b": b}

    return router


async def refused_handler(request: Request, exc: Exception) -> Response:
    return Response(b'{"detail": "refused"}', 418, media_type="application/json")


@pytest.fixture
async def clients(pg_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two apps over the same routes: FastAPI's APIRoute through FastAPI's include_router, and
    FastRoute through core's include_routes."""
    made = []
    for route_class in (APIRoute, FastRoute):
        app = build_app(make_settings(pg_url, rate_limit_enabled=False), routers=[])
        if route_class is APIRoute:
            app.include_router(_router(route_class))
        else:
            include_routes(app, _router(route_class))
        app.add_exception_handler(Refused, refused_handler)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        made.append(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
    async with made[0] as standard, made[1] as fast:
        yield standard, fast


def _headers(response: httpx.Response) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.items() if k != "x-request-id")


def _fast_routes(app: FastAPI) -> set[str]:
    return {route.path for route in app.routes
            if isinstance(route, FastRoute) and route.get_route_handler().__name__ == "handler"}


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/probe/items/7", {}),
        ("/probe/items/7?limit=7", {}),  # the endpoint sets the status on `response`
        ("/probe/items/7?limit=3&cursor=ab&tags=x&tags=y", {"X-Probe": "p"}),
        ("/probe/items/0", {}),
        ("/probe/items/abc", {}),
        ("/probe/items/7?limit=0", {}),
        ("/probe/items/7?limit=x&cursor=toolong", {}),
        ("/probe/aliased", {}),
        ("/probe/aliased?cursor=ab&p=3", {}),
        ("/probe/aliased?cursor=toolong&p=0", {}),
        ("/probe/aliased?cursor_=ab&page=2", {}),  # the field's own names are not read
        ("/probe/choices?b=2", {}),
        ("/probe/choices?a=x", {}),
        ("/probe/needs/joe", {}),
        ("/probe/needs/joe?q=1.5", {}),
        ("/probe/needs/joe?q=12", {}),
        ("/probe/yielded/1", {}),
        ("/probe/yielded/0", {}),
        ("/probe/invalid", {}),
        ("/probe/raw", {}),
        ("/probe/nomodel", {}),  # no response model: jsonable_encoder
        ("/probe/status/204", {}),  # no body, but still validated: 500 as in FastAPI
        ("/probe/status/201", {}),
        ("/probe/yielded-invalid", {}),  # the validation error is thrown into the dependency
        ("/probe/refused/x", {}),  # the dependency's error wins over the 422, as in FastAPI
        ("/probe/twice", {}),
    ],
)
async def test_fast_handler_answers_as_fastapi_does(clients, url, headers):
    standard, fast = clients
    EVENTS.clear()
    expected = await standard.get(url, headers=headers)
    standard_events = list(EVENTS)
    EVENTS.clear()
    got = await fast.get(url, headers=headers)
    assert EVENTS == standard_events  # a yield dependency entered, thrown into, exited alike
    assert got.status_code == expected.status_code
    assert _headers(got) == _headers(expected)
    try:
        body, reference = got.json(), expected.json()
    except json.JSONDecodeError:
        assert got.content == expected.content
        return
    if isinstance(body, dict):
        body.pop("request_id", None)
        reference.pop("request_id", None)
    assert body == reference


def test_a_query_value_under_one_alias_is_read_without_fastapis_general_reader():
    """The list of articles has `cursor` as an alias: one request name, so its values are
    validated directly; alias choices (several names) keep FastAPI's reader."""
    routes = {route.path: route for route in _router(FastRoute).routes}
    assert Params(routes["/probe/aliased"].dependant.query_params, "query").scalars
    assert Params(routes["/probe/choices"].dependant.query_params, "query").scalars is None
    listing = next(
        r for r in articles.router.routes if r.path == "/articles" and "GET" in r.methods
    )
    assert Params(listing.dependant.query_params, "query").scalars


async def test_205_has_no_body_and_says_so(clients):
    """FastAPI empties a 205's body but keeps the Content-Length of the body it dropped; the
    fast handler sends a consistent empty answer."""
    standard, fast = clients
    assert (await standard.get("/probe/status/205")).content == b""
    got = await fast.get("/probe/status/205")
    assert got.status_code == 205 and got.content == b""
    assert got.headers["content-length"] == "0"


async def test_only_routes_of_the_common_shape_are_fast(clients):
    _, fast = clients
    assert _fast_routes(fast._transport.app) == {  # type: ignore[attr-defined]
        "/probe/items/{item_id}", "/probe/needs/{name}", "/probe/yielded/{n}", "/probe/invalid",
        "/probe/raw", "/probe/refused/{n}", "/probe/nomodel", "/probe/status/{code}",
        "/probe/yielded-invalid", "/probe/aliased", "/probe/choices",
    }  # /twice (one dependency twice): FastAPI's cache decides


async def test_feature_read_routes_are_fast(client):
    assert {"/articles/{article_id}", "/articles", "/search"} <= _fast_routes(client.app)


async def test_errors_on_fast_routes_carry_rate_limit_headers(client):
    """The limiter wraps the route; an error mapped inside the route passes through it."""
    for url, status in [("/articles/0", 404), ("/articles/abc", 422), ("/articles?limit=0", 422),
                        ("/articles/by-slug/NOPE", 404)]:
        response = await client.get(url)
        assert response.status_code == status, url
        assert response.headers["x-ratelimit-limit"] == "600", url
        assert int(response.headers["x-ratelimit-remaining"]) >= 0
        assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_exhausted_pool_on_a_fast_route_is_503_not_500(make_client):
    client = await make_client(db_pool_min_size=1, db_pool_max_size=1, db_pool_timeout=0.3)
    async with client.app.state.pool.connection():  # the only connection is taken
        response = await client.get("/articles/1")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["x-ratelimit-limit"] == "600"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert (await client.get("/articles/0")).status_code == 404  # the pool serves again


async def test_the_connection_is_back_in_the_pool_before_the_response_is_sent(make_client):
    """Conn is scope="function": a client reading the response slowly holds no connection."""
    client = await make_client(db_pool_min_size=1, db_pool_max_size=1)
    available: list[int] = []

    async def spy(app_send):
        async def send(message):
            if message["type"] == "http.response.start":
                available.append(client.app.state.pool.get_stats()["pool_available"])
            await app_send(message)
        return send

    inner = client.app.middleware_stack or client.app.build_middleware_stack()

    async def watching(scope, receive, send):
        await inner(scope, receive, await spy(send))

    client.app.middleware_stack = watching
    assert (await client.get("/articles/0")).status_code == 404
    assert (await client.get("/articles?limit=1")).status_code == 200
    assert available == [1, 1]


def _spec(app: FastAPI) -> str:
    return json.dumps(app.openapi(), sort_keys=True)


def test_joined_routes_give_the_same_openapi_document_as_include_router():
    routers = [articles.router, search.router, external.router, health.router]
    included, joined = FastAPI(), FastAPI()
    for router in routers:
        included.include_router(router)
        include_routes(joined, router)
    assert _spec(joined) == _spec(included)


async def test_a_streaming_router_is_left_to_include_router(pg_url):
    """FastAPI reads a stream's item type from the annotation: copying the route would lose
    it (items unvalidated and unfiltered), so such a router is FastAPI's to include."""
    router = APIRouter(prefix="/stream")

    @router.get("/items")
    async def items() -> AsyncIterable[Item]:
        yield {"id": 1, "name": "x", "secret": "leak"}  # type: ignore[misc]

    app = FastAPI()
    include_routes(app, router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        response = await client.get("/stream/items")
    assert response.status_code == 200 and "leak" not in response.text and '"id":1' in response.text


async def test_include_router_keeps_declaration_order(make_client):
    """An app route declared before an included `/items/{id}` is matched first (FastAPI's
    order), whether the router is joined by core or included by FastAPI."""

    def hook(app: FastAPI) -> None:
        @app.get("/order/special")
        async def special() -> dict[str, str]:
            return {"route": "special"}

        for prefix, join in (("/order", include_routes), ("/v2/order", None)):
            router = APIRouter(prefix=prefix)

            @router.get("/{item_id}")
            async def item(item_id: int) -> dict[str, int]:
                return {"id": item_id}

            if join is None:
                app.include_router(router)
            else:
                join(app, router)

        @app.get("/v2/order/special")
        async def late() -> dict[str, str]:  # declared after: the included route answers
            return {"route": "late"}

    client = await make_client(app_hook=hook)
    assert (await client.get("/order/special")).json() == {"route": "special"}
    assert (await client.get("/order/5")).json() == {"id": 5}
    assert (await client.get("/v2/order/special")).status_code == 422
    assert (await client.get("/v2/order/6")).json() == {"id": 6}


async def test_a_router_lifespan_runs_however_it_is_included(make_client):
    ran: list[str] = []

    def lifespan_of(name: str):
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            ran.append(f"{name} started")
            yield
            ran.append(f"{name} stopped")

        return lifespan

    def hook(app: FastAPI) -> None:
        include_routes(app, APIRouter(prefix="/joined", lifespan=lifespan_of("joined")))
        app.include_router(APIRouter(prefix="/included", lifespan=lifespan_of("included")))

    await make_client(app_hook=hook)
    assert ran == ["joined started", "included started"]


async def test_overrides_set_before_any_request_and_on_included_routers_are_honoured(pg_url):
    router = APIRouter(prefix="/ov", route_class=FastRoute)

    @router.get("/marker")
    async def marker(value: Annotated[str, Depends(get_marker)]) -> dict[str, str]:
        return {"value": value}

    app = build_app(make_settings(pg_url, rate_limit_enabled=False), routers=[])
    app.include_router(router, prefix="/v1")  # FastAPI's own inclusion, with an option
    include_routes(app, router)

    async def fake_marker() -> str:
        return "overridden"

    app.dependency_overrides = {get_marker: fake_marker}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/v1/ov/marker")).json() == {"value": "overridden"}
        assert (await client.get("/ov/marker")).json() == {"value": "overridden"}
        app.dependency_overrides.clear()
        assert (await client.get("/v1/ov/marker")).json() == {"value": "/v1/ov/marker"}
        assert (await client.get("/ov/marker")).json() == {"value": "/ov/marker"}


async def test_a_cancelled_request_still_runs_the_whole_teardown(pg_url):
    """A timeout cancels the endpoint; the yield dependency's teardown (which itself waits, as
    returning a connection may) runs to its end, under FastAPI's handler and FastRoute's."""
    events = CANCEL_EVENTS

    class Timeout:
        def __init__(self, app) -> None:
            self.app = app

        async def __call__(self, scope, receive, send) -> None:
            with anyio.move_on_after(0.05):
                await self.app(scope, receive, send)
                return
            await Response("timeout", 504)(scope, receive, send)

    for route_class in (APIRoute, FastRoute):
        router = APIRouter(route_class=route_class)

        @router.get("/slow")
        async def slow(r: Resource) -> dict[str, str]:
            await anyio.sleep(5)
            return {"r": r}

        app = FastAPI()
        include_routes(app, router)
        app.add_middleware(Timeout)
        events.clear()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as client:
            assert (await client.get("/slow")).status_code == 504
        assert events == ["enter", "cleaned"], route_class.__name__
