"""The two places where core leans on a library's internals, and why each is needed.

1. `FastRoute.get_route_handler` (core/routing.py) must build its handler from the same route
   facts FastAPI's own `APIRoute.get_route_handler` uses. When a router is included,
   FastAPI (0.165) calls that hook once per inclusion with the inclusion's effective route
   (its prefix, added dependencies, the app as overrides provider) in a context variable, and
   reads it there itself; there is no public way to be handed it. Reading the same variable
   the same way keeps router-level dependencies and `app.dependency_overrides` right on
   included routes. If a FastAPI release drops the variable, `effective_route` answers None
   and every route takes FastAPI's own handler: slower, never wrong.

2. limits' `MemoryStorage` drops expired counters from a `threading.Timer` that lives 10 ms:
   while requests are counted, every counted request after it ends starts the next one, about
   100 thread starts a second, each walking every client's counters. That churn cost ~19 us of
   a ~300 us GET by id (`make bench-cpu`), and with 10,000 clients it walked 10,000 keys
   100 times a second. `MemorySweeper` is one long-lived thread in the storage's `timer` slot:
   the storage sees a live timer and starts none, and the sweeper drops expired counters once
   a second through the storage's own `get` (which drops a counter past its expiry; counting
   never depends on the sweep, only memory does), under the key's lock that `incr` takes. If
   a limits release stops using that slot, limits sweeps as before: slower, never wrong.

pyproject pins FastAPI and limits to the minor versions the suite has run against; tests pin
both behaviours (tests/test_routing.py, tests/test_ratelimit.py).
"""
from __future__ import annotations

import threading
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


class MemorySweeper(threading.Thread):
    """Drops a limits `MemoryStorage`'s expired counters every `every` seconds (see 2 above)."""

    def __init__(self, storage: Any, every: float = 1.0) -> None:
        super().__init__(name="rate-limit-sweeper", daemon=True)
        self.storage = storage
        self.every = every
        self.stopped = threading.Event()

    def start(self) -> None:
        super().start()
        self.storage.timer = self  # alive, so the storage schedules no timer of its own

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.sweep()

    def sweep(self) -> None:
        locks = self.storage.locks
        for key in list(self.storage.expirations):
            with locks[key]:  # the lock `incr` holds: never between its count and its expiry
                self.storage.get(key)  # limits drops the counter if it has expired

    def stop(self) -> None:
        self.stopped.set()
        if self.is_alive():
            self.join()
