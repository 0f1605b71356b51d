"""/docs works offline: the page references only assets the app serves itself."""
from __future__ import annotations

import re


async def test_docs_page_has_no_external_asset(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs, "expected script and stylesheet references"
    assert all(ref.startswith("/") for ref in refs), refs
    assert "cdn" not in page.text.lower()
    for ref in refs:
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 100


async def test_openapi_document_is_served(client):
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    assert "/health/ready" in doc["paths"]


async def test_openapi_route_is_tried_after_every_feature_route(client):
    """Routes are matched in order: FastAPI's own /openapi.json, declared when the app is
    built, would otherwise be tried (and missed) by every request first."""
    paths = [getattr(route, "path", None) for route in client.app.router.routes]
    openapi = paths.index("/openapi.json")
    assert openapi > paths.index("/metrics")  # the last feature's last route
    assert all(path is None or path.startswith("/docs") for path in paths[openapi + 1:])
    assert (await client.get("/openapi.json")).status_code == 200
