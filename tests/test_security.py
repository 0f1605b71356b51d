"""Writes need a bearer key from API_KEYS."""
from __future__ import annotations

from conftest import API_KEY, AUTH
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
