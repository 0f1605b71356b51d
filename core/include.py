"""`include_routes`: FastAPI's `include_router` without the per-request router layer."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute


def _plain(router: APIRouter) -> bool:
    """A router of plain routes only: no lifespan, start-up or shutdown hooks, no nested
    routers, no router-wide form limits, no streaming routes (whose item type FastAPI reads
    from the annotation only when no response model is passed)."""
    default_lifespan = type(APIRouter().lifespan_context)
    return (
        isinstance(router.lifespan_context, default_lifespan)
        and not router.on_startup and not router.on_shutdown
        and not getattr(router, "form_limits", None)
        and all(
            isinstance(route, APIRoute)
            and not route.is_json_stream and not route.is_sse_stream
            and route.stream_item_type is None
            for route in router.routes
        )
    )


def include_routes(app: FastAPI, router: APIRouter) -> None:
    """`app.include_router(router)`, with the router's routes declared on the app itself.

    FastAPI 0.165 keeps an included router as a layer of its own, matched (twice) on every
    request: about a tenth of a GET by id. Declaring each route again with the app's documented
    `add_api_route`, with every option the route was declared with, gives the same routes, in
    declaration order after what the app already has, the same OpenAPI document, and routes
    whose dependency overrides provider is the app. A router this cannot copy faithfully (see
    `_plain`) is included by FastAPI itself. The routes are copied when this is called: a
    route added to the router later is not served (feature routers are complete at import).
    """
    if not _plain(router):
        app.include_router(router)
        return
    for route in router.routes:
        assert isinstance(route, APIRoute)
        extra: dict[str, Any] = {}
        if route.form_limits is not None:
            extra["form_limits"] = route.form_limits
        app.router.add_api_route(
            route.path, route.endpoint, response_model=route.response_model,
            status_code=route.status_code, tags=route.tags, dependencies=route.dependencies,
            summary=route.summary, description=route.description,
            response_description=route.response_description, responses=route.responses,
            deprecated=route.deprecated, methods=route.methods, operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema, response_class=route.response_class,
            name=route.name, route_class_override=type(route), callbacks=route.callbacks,
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=route.generate_unique_id_function,
            strict_content_type=route.strict_content_type, max_body_size=route.max_body_size,
            **extra,
        )
