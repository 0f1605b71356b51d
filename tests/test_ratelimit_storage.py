"""The in-process limiter storage: correct windows, bounded memory, no thread hop per hit."""
from __future__ import annotations

import asyncio
import time

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter

from core.ratelimit import SweepingMemoryStorage


async def test_expired_entries_are_swept():
    storage = SweepingMemoryStorage()
    limiter = MovingWindowRateLimiter(storage)
    short = parse("5/second")
    for client in range(100):
        assert await limiter.hit(short, f"client-{client}")
    assert len(storage.events) == 100
    deadline = time.monotonic() + 5
    while len(storage.events) > 1:  # hits on one key keep triggering sweeps
        assert time.monotonic() < deadline, f"{len(storage.events)} keys never swept"
        await limiter.hit(short, "still-here")
        await asyncio.sleep(0.05)


async def test_hits_start_at_most_one_sweep_a_second():
    storage = SweepingMemoryStorage()
    limiter = MovingWindowRateLimiter(storage)
    item = parse("1000000/minute")
    sweeps = set()
    started = time.monotonic()
    for _ in range(500):
        await limiter.hit(item, "busy-client")
        await asyncio.sleep(0)  # between requests the loop runs other tasks, the sweep included
        if storage.timer is not None:
            sweeps.add(id(storage.timer))
    seconds = time.monotonic() - started
    assert len(sweeps) <= int(seconds) + 2, f"{len(sweeps)} sweeps in {seconds:.2f}s"


async def test_window_still_limits():
    limiter = MovingWindowRateLimiter(SweepingMemoryStorage())
    item = parse("3/minute")
    assert [await limiter.hit(item, "c") for _ in range(5)] == [True, True, True, False, False]
