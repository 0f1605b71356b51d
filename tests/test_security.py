"""Writes need a bearer key from API_KEYS."""
from __future__ import annotations

import re

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute

from conftest import API_KEY, AUTH
from core.routing import FastRoute
from core.security import require_write_key
from tests.probes import add_probe_routes


async def test_missing_key_is_401_with_www_authenticate(make_client):
    client = await make_client(app_hook=add_probe_routes)
    response = await client.post("/_probe/write")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert set(response.json()) == {"detail", "request_id"}


async def test_wrong_key_and_wrong_scheme_are_401(make_client):
    client = await make_client(app_hook=add_probe_routes)
    for header in [f"Bearer {API_KEY}x", f"Basic {API_KEY}", "Bearer", API_KEY]:
        response = await client.post("/_probe/write", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert API_KEY not in response.text


async def test_right_key_passes(make_client):
    client = await make_client(app_hook=add_probe_routes)
    response = await client.post("/_probe/write", headers=AUTH)
    assert response.status_code == 200


async def test_no_keys_configured_refuses_every_write(make_client):
    client = await make_client(app_hook=add_probe_routes, api_keys=[])
    response = await client.post("/_probe/write", headers=AUTH)
    assert response.status_code == 401


async def test_two_authorization_headers_are_401_whichever_comes_first(make_client):
    client = await make_client(app_hook=add_probe_routes)
    good, bad = f"Bearer {API_KEY}", f"Bearer {API_KEY}-wrong"
    for first, second in [(good, bad), (bad, good), (good, good)]:
        response = await client.post(
            "/_probe/write", headers=[("Authorization", first), ("Authorization", second)]
        )
        assert response.status_code == 401, (first, second)
        assert response.headers["www-authenticate"] == "Bearer"


def write_routes(app) -> list[tuple[str, str, bool]]:
    """(method, path with ids filled in, takes a body) of every route that needs the key."""
    def needs_key(dependant) -> bool:
        return any(d.call is require_write_key or needs_key(d) for d in dependant.dependencies)

    found = []
    for route in app.routes:
        if isinstance(route, APIRoute) and needs_key(route.dependant):
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            found += [(m, path, route.body_field is not None) for m in sorted(route.methods)]
    return found


async def test_credentials_are_checked_before_the_body_is_parsed_on_every_write_route(make_client):
    """An anonymous write with malformed JSON is 401, not a 422 describing the body; with the
    key, the same body is 422. Fails when: the key is only a FastAPI dependency (tried: 422
    first, as FastAPI parses the body before dependencies run)."""
    client = await make_client()
    routes = write_routes(client.app)
    assert {("POST", "/articles", True), ("PATCH", "/articles/1", True)} <= set(routes), routes
    broken = b'{"title": "x", '
    json_type = {"Content-Type": "application/json"}
    for method, path, has_body in routes:
        anonymous = await client.request(method, path, content=broken, headers=json_type)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        assert anonymous.headers["www-authenticate"] == "Bearer"
        if has_body:
            keyed = await client.request(method, path, content=broken,
                                         headers={**json_type, **AUTH})
            assert keyed.status_code == 422, (method, path, keyed.text)


async def test_an_overridden_key_check_replaces_the_early_check_too(make_client):
    client = await make_client()
    client.app.dependency_overrides[require_write_key] = lambda: "test-key"
    json_type = {"Content-Type": "application/json"}
    response = await client.post("/articles", content=b"{", headers=json_type)
    assert response.status_code == 422, response.text
    client.app.dependency_overrides.clear()
    response = await client.post("/articles", content=b"{", headers=json_type)
    assert response.status_code == 401


async def test_key_added_at_inclusion_is_checked_first_and_overridable(make_client):
    """A router included with `dependencies=[Depends(require_write_key)]` (FastAPI's own
    include_router): the key is checked before its body too, and overriding the check works.
    Fails when: credentials_first reads the route as declared rather than as included (tried:
    422 anonymous, 401 with the override)."""
    router = APIRouter(route_class=FastRoute)

    @router.post("/_probe/included")
    async def included(payload: dict[str, int]) -> dict[str, int]:
        return payload

    client = await make_client(
        app_hook=lambda app: app.include_router(router, dependencies=[Depends(require_write_key)])
    )
    json_type = {"Content-Type": "application/json"}
    response = await client.post("/_probe/included", content=b"{", headers=json_type)
    assert response.status_code == 401, response.text
    client.app.dependency_overrides[require_write_key] = lambda: "test-key"
    response = await client.post("/_probe/included", content=b"{", headers=json_type)
    assert response.status_code == 422, response.text
