"""The in-process limiter storage: correct windows, bounded memory, no thread hop per hit."""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

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


class CountingExecutor(ThreadPoolExecutor):
    submitted = 0

    def submit(self, *args, **kwargs):  # type: ignore[override]
        CountingExecutor.submitted += 1
        return super().submit(*args, **kwargs)


async def test_hits_do_not_hop_to_a_thread_each():
    executor = CountingExecutor(max_workers=1)
    asyncio.get_running_loop().set_default_executor(executor)
    limiter = MovingWindowRateLimiter(SweepingMemoryStorage())
    item = parse("1000000/minute")
    CountingExecutor.submitted = 0
    started = time.monotonic()
    for _ in range(200):
        await limiter.hit(item, "busy-client")
        await asyncio.sleep(0.002)  # requests arrive spaced out; sweeps get time to finish
    seconds = time.monotonic() - started
    # At most one sweep (one thread hop) a second, not one per hit.
    assert CountingExecutor.submitted <= int(seconds) + 2, (CountingExecutor.submitted, seconds)


async def test_window_still_limits():
    limiter = MovingWindowRateLimiter(SweepingMemoryStorage())
    item = parse("3/minute")
    assert [await limiter.hit(item, "c") for _ in range(5)] == [True, True, True, False, False]
