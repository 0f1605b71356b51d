"""What start-up leaves behind for the request path: a frozen heap and the slim stack."""
from __future__ import annotations

import gc

import pytest
from starlette.middleware.exceptions import ExceptionMiddleware

from core.middleware import CORS, RequestContextMiddleware


async def test_start_up_freezes_the_heap_it_built(make_client):
    gc.unfreeze()  # another app in this process may have frozen it already
    assert gc.get_freeze_count() == 0
    client = await make_client()
    assert gc.get_freeze_count() > 10_000  # modules, routes, schemas: never walked again
    assert (await client.get("/health/live")).status_code == 200


async def test_middleware_stack_has_no_duplicate_layers(make_client):
    client = await make_client()
    assert (await client.get("/health/live")).status_code == 200  # builds the stack
    layers, app = [], client.app.middleware_stack
    while hasattr(app, "app"):
        layers.append(type(app).__name__)
        app = app.app
    assert layers[0] == RequestContextMiddleware.__name__  # outermost: every answer has an id
    assert layers[1] == CORS.__name__
    assert ExceptionMiddleware.__name__ in layers
    assert "ServerErrorMiddleware" not in layers  # LastResortMiddleware is the 500
    assert "ExceptionTelemetryMiddleware" not in layers


def test_what_the_slim_stack_would_ignore_fails_at_start_up(pg_url):
    from conftest import make_settings
    from core.app import build_app

    with_500 = build_app(make_settings(pg_url), routers=[])
    with_500.add_exception_handler(500, lambda request, exc: None)
    with pytest.raises(RuntimeError, match="LastResortMiddleware"):
        with_500.build_middleware_stack()

    with_limit = build_app(make_settings(pg_url), routers=[])
    with_limit.max_body_size = 10
    with pytest.raises(RuntimeError, match="MAX_BODY_BYTES"):
        with_limit.build_middleware_stack()
