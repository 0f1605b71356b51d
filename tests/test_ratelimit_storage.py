"""The in-process limiter storage: a true moving window, O(1) hits, swept memory, no threads.

Time is stepped through the storage's clock, never slept."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter

from core.ratelimit import WindowMemoryStorage


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def limiter_with_clock() -> tuple[MovingWindowRateLimiter, WindowMemoryStorage, Clock]:
    storage = WindowMemoryStorage()
    clock = Clock()
    storage.clock = clock
    return MovingWindowRateLimiter(storage), storage, clock


async def test_window_limits_and_moves():
    limiter, _, clock = limiter_with_clock()
    item = parse("3/minute")
    assert [await limiter.hit(item, "c") for _ in range(2)] == [True, True]
    clock.now += 30
    assert [await limiter.hit(item, "c") for _ in range(3)] == [True, False, False]
    stats = await limiter.get_window_stats(item, "c")
    assert stats.remaining == 0
    assert stats.reset_time == clock.now - 30 + 60  # the oldest hit leaves the window first
    clock.now += 30  # the first two hits have left; the third is 30 s old
    assert await limiter.hit(item, "c")
    assert (await limiter.get_window_stats(item, "c")).remaining == 1
    assert [await limiter.hit(item, "c") for _ in range(2)] == [True, False]
    assert await limiter.hit(item, "other-client")  # budgets are per key


async def test_keys_idle_for_a_window_are_swept():
    limiter, storage, clock = limiter_with_clock()
    short = parse("5/second")
    for client in range(100):
        assert await limiter.hit(short, f"client-{client}")
    assert len(storage.windows) == 100
    clock.now += 2  # every window has expired; the next hit sweeps
    assert await limiter.hit(short, "still-here")
    assert len(storage.windows) == 1


async def test_sweeps_are_bounded_batches():
    limiter, storage, clock = limiter_with_clock()
    item = parse("1/second")
    keys = WindowMemoryStorage.SWEEP_BATCH + 500
    for client in range(keys):
        await limiter.hit(item, f"c{client}")
    clock.now += 2
    await limiter.hit(item, "trigger")  # one sweep: one batch
    assert len(storage.windows) == keys + 1 - WindowMemoryStorage.SWEEP_BATCH
    clock.now += WindowMemoryStorage.SWEEP_EVERY
    await limiter.hit(item, "trigger")  # the next sweep finishes the rest
    assert len(storage.windows) == 1


class CountingExecutor(ThreadPoolExecutor):
    submitted = 0

    def submit(self, *args, **kwargs):  # type: ignore[override]
        CountingExecutor.submitted += 1
        return super().submit(*args, **kwargs)


async def test_hits_never_hop_to_a_thread():
    asyncio.get_running_loop().set_default_executor(CountingExecutor(max_workers=1))
    limiter, _, clock = limiter_with_clock()
    item = parse("1000000/minute")
    CountingExecutor.submitted = 0
    for _ in range(200):
        await limiter.hit(item, "busy-client")
        clock.now += 0.5  # sweeps come due along the way
    assert CountingExecutor.submitted == 0


async def test_a_long_window_is_kept_as_one_deque():
    """The window is appended to, not rebuilt: upstream's per-key list stays unused."""
    limiter, storage, _ = limiter_with_clock()
    item = parse("100000/minute")
    for _ in range(5000):
        await limiter.hit(item, "heavy")
    (window,) = storage.windows.values()
    assert len(window) == 5000
    assert storage.events == {}
    assert (await limiter.get_window_stats(item, "heavy")).remaining == 95000


async def test_clear_and_reset_forget_windows():
    limiter, storage, _ = limiter_with_clock()
    item = parse("1/minute")
    assert await limiter.hit(item, "c")
    assert not await limiter.hit(item, "c")
    await limiter.clear(item, "c")
    assert await limiter.hit(item, "c")
    await storage.reset()
    assert storage.windows == {}


async def test_take_agrees_with_the_moving_window_strategy():
    """`take` (the limiter's one-call path) gives the same verdicts, windows and reset times as
    limits' MovingWindowRateLimiter on an identical storage, step by step."""
    limiter, reference, ref_clock = limiter_with_clock()
    storage, clock = WindowMemoryStorage(), Clock()
    storage.clock = clock
    item = parse("3/minute")
    key = item.key_for("c")
    for step in [0, 1, 1, 10, 20, 29, 1, 0, 60, 5]:
        clock.now += step
        ref_clock.now += step
        stats = await limiter.get_window_stats(item, "c")
        allowed = await limiter.hit(item, "c")
        start, used, took = storage.take(key, item.amount, item.get_expiry())
        assert took == allowed
        assert item.amount - used == stats.remaining
        assert start + item.get_expiry() == stats.reset_time
    assert list(storage.windows[key]) == list(reference.windows[key])
