"""The one place that touches a private FastAPI name, and why.

`FastRoute.get_route_handler` (core/routing.py) must build its handler from the same route
facts FastAPI's own `APIRoute.get_route_handler` uses. When a router is included,
FastAPI (0.165) calls that hook once per inclusion with the inclusion's effective route (its
prefix, added dependencies, the app as overrides provider) in a context variable, and reads
it there itself; there is no public way to be handed it. Reading the same variable the same
way keeps router-level dependencies and `app.dependency_overrides` right on included routes.
If a FastAPI release drops the variable, `effective_route` answers None and every route
takes FastAPI's own handler: slower, never wrong. pyproject pins FastAPI to the minor
version the suite has run against.
"""
from __future__ import annotations

from typing import Any

from fastapi import routing as fastapi_routing

_CONTEXT = getattr(fastapi_routing, "_effective_route_context_var", None)


def effective_route(route: Any) -> Any | None:
    """What FastAPI's own handler would be built from: the inclusion being built, else the
    route itself; None when this FastAPI does not say."""
    if _CONTEXT is None:
        return None
    context = _CONTEXT.get()
    if context is not None and getattr(context, "original_route", None) is route:
        return context if getattr(context, "dependant", None) is not None else None
    return route
