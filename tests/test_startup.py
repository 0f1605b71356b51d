"""What start-up leaves behind for the request path: a frozen heap and FastAPI's own stack."""
from __future__ import annotations

import gc

from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware

from core.middleware import LastResortMiddleware, RequestContextMiddleware


async def test_start_up_freezes_the_heap_it_built(make_client):
    gc.unfreeze()  # another app in this process may have frozen it already
    assert gc.get_freeze_count() == 0
    client = await make_client()
    assert gc.get_freeze_count() > 10_000  # modules, routes, schemas: never walked again
    assert (await client.get("/health/live")).status_code == 200


async def test_middleware_stack_is_fastapis_with_ours_inside(make_client):
    client = await make_client(cors_origins=["https://app.example.org"])
    assert (await client.get("/health/live")).status_code == 200  # builds the stack
    layers, app = [], client.app.middleware_stack
    while hasattr(app, "app"):
        layers.append(type(app).__name__)
        app = app.app
    assert layers[0] == ServerErrorMiddleware.__name__  # FastAPI's own, outermost, kept
    ours = [RequestContextMiddleware.__name__, "CORSMiddleware", LastResortMiddleware.__name__]
    assert [name for name in layers if name in ours] == ours  # id, then CORS, then the 500
    assert layers.index(ExceptionMiddleware.__name__) > layers.index(LastResortMiddleware.__name__)
