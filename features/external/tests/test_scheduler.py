"""The feed scheduler: claims due feeds once across instances, backs failing feeds off, stops."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from app import create_app
from conftest import AUTH, make_settings

from .conftest import article, eventually, loopback_only, rss
from .feedserver import FeedServer, Reply

RSS_TYPE = {"Content-Type": "application/rss+xml"}


async def register(client, url: str, minutes: int = 60) -> int:
    response = await client.post(
        "/external/feeds", json={"url": url, "interval_minutes": minutes}, headers=AUTH
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def feed(client, feed_id: int) -> dict:
    return (await client.get(f"/external/feeds/{feed_id}")).json()


def due_in(feed_out: dict) -> timedelta:
    return datetime.fromisoformat(feed_out["next_due_at"]) - datetime.now().astimezone()


def one_item(unique: str) -> bytes:
    return rss([{"id": unique, "title": f"Scheduled {unique}", "body": "b"}])


async def test_a_due_feed_is_imported_and_then_not_due_for_its_interval(importer, feeds, unique):
    feed_id = await register(importer, feeds.route("/f.xml", Reply(body=one_item(unique))), 30)
    probed = feeds.hits("/f.xml")  # registration fetched it once (discovery)
    scheduler = importer.app.state.external_scheduler
    assert await scheduler.run_once() == 1
    state = await feed(importer, feed_id)
    assert state["last_import"]["status"] == "imported"
    assert state["last_import"]["created"] == 1 and state["failures"] == 0
    assert timedelta(minutes=29) < due_in(state) <= timedelta(minutes=30)
    assert await article(importer, feeds.url("/f.xml"), unique) is not None
    assert await scheduler.run_once() == 0
    assert feeds.hits("/f.xml") == probed + 1


async def test_two_instances_claim_one_due_feed_once(make_client, feeds, unique):
    one = await make_client(external_allow_private=True, app_hook=loopback_only)
    two = await make_client(external_allow_private=True, app_hook=loopback_only)
    feed_id = await register(one, feeds.route("/f.xml", Reply(body=one_item(unique), delay=0.2)))
    probed = feeds.hits("/f.xml")
    ran = await asyncio.gather(*(c.app.state.external_scheduler.run_once() for c in (one, two)))
    assert sorted(ran) == [0, 1]
    assert feeds.hits("/f.xml") == probed + 1
    assert (await feed(two, feed_id))["last_import"]["created"] == 1


async def test_background_tasks_of_two_instances_import_a_due_feed_once(make_client, feeds, unique):
    def fast_ticks(app):
        loopback_only(app, tick=0.05)

    one = await make_client(external_allow_private=True, app_hook=fast_ticks)
    two = await make_client(external_allow_private=True, app_hook=fast_ticks)
    feed_id = await register(one, feeds.route("/f.xml", Reply(body=one_item(unique))))
    probed = feeds.hits("/f.xml")

    async def imported():
        return (await feed(one, feed_id))["last_import"]

    await eventually(imported)
    schedulers = [c.app.state.external_scheduler for c in (one, two)]
    seen = [s.cycles for s in schedulers]

    async def both_ticked_thrice():
        return all(s.cycles >= n + 3 for s, n in zip(schedulers, seen, strict=True))

    await eventually(both_ticked_thrice)
    assert feeds.hits("/f.xml") == probed + 1


async def test_a_failing_feed_backs_off_exponentially_and_does_not_block_others(
    importer, feeds, unique
):
    bad = await register(importer, feeds.url("/gone.xml"), 10)  # 404
    good = await register(importer, feeds.route("/ok.xml", Reply(body=one_item(unique))), 10)
    scheduler = importer.app.state.external_scheduler
    assert await scheduler.run_once() == 2
    assert (await feed(importer, good))["last_import"]["status"] == "imported"
    failed = await feed(importer, bad)
    assert failed["failures"] == 1 and failed["last_import"]["status"] == "failed"
    assert "HTTP 404" in failed["last_import"]["error"]
    assert timedelta(minutes=19) < due_in(failed) <= timedelta(minutes=20)
    async with importer.app.state.pool.connection() as db:
        await db.execute("UPDATE external_feeds SET next_due_at = now() WHERE id = %s", (bad,))
    assert await scheduler.run_once() == 1
    again = await feed(importer, bad)
    assert again["failures"] == 2
    assert timedelta(minutes=39) < due_in(again) <= timedelta(minutes=40)


async def test_a_hanging_feed_does_not_hold_up_the_others(make_client, feeds, unique):
    client = await make_client(external_allow_private=True, external_fetch_timeout=1,
                               app_hook=loopback_only)
    slow = await register(client, feeds.route("/slow.xml", Reply(body=b"", delay=30)))
    good = await register(client, feeds.route("/ok.xml", Reply(body=one_item(unique))))
    started = time.monotonic()
    assert await client.app.state.external_scheduler.run_once() == 2
    assert time.monotonic() - started < 5
    assert (await feed(client, good))["last_import"]["status"] == "imported"
    assert "longer than 1 s" in (await feed(client, slow))["last_import"]["error"]


async def test_the_scheduler_stops_cleanly_on_shutdown_even_mid_import(pg_url, feeds: FeedServer):
    app = create_app(make_settings(pg_url, external_allow_private=True))
    loopback_only(app, tick=0.05)
    async with app.router.lifespan_context(app):
        scheduler = app.state.external_scheduler
        async with app.state.pool.connection() as db:
            await db.execute(
                "INSERT INTO external_feeds (url, interval_minutes) VALUES (%s, 60)",
                (feeds.route("/hang.xml", Reply(delay=30)),),
            )

        async def fetching():
            return feeds.hits("/hang.xml")

        await eventually(fetching)
        assert scheduler.running
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 7
    assert not scheduler.running
    assert app.state.external_fetcher.client.is_closed
