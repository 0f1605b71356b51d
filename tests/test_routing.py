"""LeanRoute: the direct handler answers exactly what FastAPI's own handler answers, and routes
outside its shape keep FastAPI's handler."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import orjson
import pytest
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from conftest import make_settings
from core.app import build_app
from core.routing import LeanRoute


async def get_marker(request: Request) -> str:
    return request.url.path


async def get_yielded() -> AsyncIterator[str]:
    yield "from a yield dependency"


class Refused(Exception):
    pass


async def refuse() -> None:
    raise Refused


async def count(request: Request) -> int:
    request.state.calls = getattr(request.state, "calls", 0) + 1
    return int(request.state.calls)


def _router(route_class: type[APIRoute]) -> APIRouter:
    router = APIRouter(prefix="/probe", route_class=route_class)

    @router.get("/items/{item_id}")
    async def item(
        item_id: Annotated[int, Path(ge=1, le=1000)],
        request: Request,
        marker: Annotated[str, Depends(get_marker)],
        limit: Annotated[int, Query(ge=1, le=10)] = 5,
        cursor_: Annotated[str | None, Query(alias="cursor", max_length=4)] = None,
        tags: Annotated[list[str] | None, Query()] = None,
        x_probe: Annotated[str | None, Header()] = None,
    ) -> Response:
        body = {"id": item_id, "limit": limit, "cursor": cursor_, "tags": tags,
                "probe": x_probe, "marker": marker, "method": request.method}
        return Response(orjson.dumps(body), media_type="application/json")

    @router.get("/needs/{name}")
    async def needs(name: str, q: Annotated[int, Query()]) -> Response:
        return Response(orjson.dumps({"name": name, "q": q}), media_type="application/json")

    @router.get("/yielded")
    async def yielded(value: Annotated[str, Depends(get_yielded)]) -> Response:
        return Response(orjson.dumps({"value": value}), media_type="application/json")

    @router.get("/model")
    async def model() -> dict[str, int]:
        return {"served": 1}

    @router.get("/refused/{n}")
    async def refused(n: int, _: Annotated[None, Depends(refuse)]) -> Response:
        return Response(b"{}", media_type="application/json")

    @router.get("/twice")
    async def twice(
        a: Annotated[int, Depends(count)], b: Annotated[int, Depends(count)]
    ) -> Response:
        return Response(orjson.dumps({"a": a, "b": b}), media_type="application/json")

    @router.get("/bounded")
    async def bounded(c: Annotated[int, Depends(count, max_concurrency=1)]) -> Response:
        return Response(orjson.dumps({"c": c}), media_type="application/json")

    return router


async def refused_handler(request: Request, exc: Exception) -> Response:
    return Response(b'{"detail": "refused"}', 418, media_type="application/json")


@pytest.fixture
async def clients(pg_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two apps over the same routes: one with FastAPI's APIRoute, one with LeanRoute."""
    settings = make_settings(pg_url, rate_limit_enabled=False)
    pair = []
    for route_class in (APIRoute, LeanRoute):
        app = build_app(settings, routers=[_router(route_class)])
        app.add_exception_handler(Refused, refused_handler)
        transport = httpx.ASGITransport(app=app)
        pair.append(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
    async with pair[0], pair[1]:
        yield pair[0], pair[1]


def _is_direct(route: APIRoute) -> bool:
    return route.app.__qualname__.startswith("_direct_app.")


def _lean_routes(router: APIRouter) -> dict[str, bool]:
    return {route.path: _is_direct(route) for route in router.routes if isinstance(route, APIRoute)}


def test_only_simple_routes_get_the_direct_handler():
    lean = _lean_routes(_router(LeanRoute))
    assert lean == {
        "/probe/items/{item_id}": True,  # path, query, header params and a plain dependency
        "/probe/needs/{name}": True,
        "/probe/yielded": False,  # a yield dependency needs FastAPI's exit stacks
        "/probe/model": False,  # returns data for FastAPI to serialise
        "/probe/refused/{n}": True,
        "/probe/twice": False,  # one dependency twice: FastAPI's per-request cache
        "/probe/bounded": False,  # max_concurrency: FastAPI's semaphore
    }


def test_article_reads_use_the_direct_handler():
    from features.articles import router

    lean = {(r.path, tuple(sorted(r.methods))): _is_direct(r) for r in router.routes}
    assert lean[("/articles/{article_id}", ("GET",))]
    assert lean[("/articles", ("GET",))]
    assert not lean[("/articles", ("POST",))]  # a body: FastAPI's handler


@pytest.mark.parametrize(
    "url,headers",
    [
        ("/probe/items/7", {}),
        ("/probe/items/7?limit=3&cursor=ab&tags=a&tags=b", {"X-Probe": "yes"}),
        ("/probe/items/0", {}),
        ("/probe/items/1001", {}),
        ("/probe/items/abc", {}),
        ("/probe/items/99999999999999999999999", {}),
        ("/probe/items/7?limit=0", {}),
        ("/probe/items/7?limit=x&cursor=toolong", {}),
        ("/probe/items/abc?limit=99", {}),
        ("/probe/items/7?limit=", {}),
        ("/probe/items/7?limit=2&limit=11", {}),
        ("/probe/needs/joe", {}),
        ("/probe/needs/joe?q=", {}),
        ("/probe/needs/joe?q=1.5", {}),
        ("/probe/needs/joe?q=12", {}),
        ("/probe/yielded", {}),
        ("/probe/model", {}),
        ("/probe/refused/x", {}),  # the dependency's error wins over the 422, as in FastAPI
        ("/probe/twice", {}),
        ("/probe/bounded", {}),
    ],
)
async def test_direct_handler_answers_as_fastapi_does(clients, url, headers):
    standard, lean = clients
    expected = await standard.get(url, headers=headers)
    got = await lean.get(url, headers=headers)
    assert got.status_code == expected.status_code
    body, reference = got.json(), expected.json()
    body.pop("request_id", None)
    reference.pop("request_id", None)
    assert body == reference


async def test_errors_on_direct_routes_carry_rate_limit_headers(client):
    """The limiter wraps the route; an error mapped inside the route passes through it."""
    for url, status in [("/articles/0", 404), ("/articles/abc", 422), ("/articles?limit=0", 422),
                        ("/articles/by-slug/NOPE", 404)]:
        response = await client.get(url)
        assert response.status_code == status, url
        assert response.headers["x-ratelimit-limit"] == "600", url
        assert int(response.headers["x-ratelimit-remaining"]) >= 0
        assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_dependency_overrides_are_refused_not_ignored(client):
    from core.db import get_pool

    with pytest.raises(RuntimeError, match="dependency_overrides"):
        client.app.dependency_overrides[get_pool] = lambda: None
    with pytest.raises(RuntimeError, match="dependency_overrides"):
        client.app.dependency_overrides.update({get_pool: lambda: None})
    assert client.app.dependency_overrides == {}


def test_include_router_with_options_is_fastapis(pg_url):
    app = build_app(make_settings(pg_url), routers=[])
    app.include_router(_router(LeanRoute), prefix="/v2")
    paths = {getattr(route, "path", None) for route in app.routes}
    assert "/probe/items/{item_id}" not in paths  # not joined flat: an included router
    assert "/v2/probe/items/{item_id}" in app.openapi()["paths"]


async def test_exhausted_pool_on_a_direct_route_is_503_not_500(make_client):
    client = await make_client(db_pool_min_size=1, db_pool_max_size=1, db_pool_timeout=0.3)
    async with client.app.state.pool.connection():  # the only connection is taken
        response = await client.get("/articles/1")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["x-ratelimit-limit"] == "600"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert (await client.get("/articles/0")).status_code == 404  # the pool serves again
