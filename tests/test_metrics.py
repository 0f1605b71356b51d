"""GET /metrics: request counts and latency by route template, pool gauges, the counters other
features feed, and correct totals across several uvicorn workers (multiprocess mode)."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import record_import, record_rate_limited
from core.ratelimit import EXEMPT, LIMIT_ATTR
from features.health.router import metrics
from tests.live import GRACEFUL, ROOT, live_server, server_env
from tests.servers import wait_until

FAMILIES = {
    "http_requests", "http_request_duration_seconds", "db_pool_connections",
    "db_pool_idle_connections", "db_pool_waiting_requests", "db_pool_max_connections",
    "rate_limit_rejections", "imports",
}


def families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def value(text: str, sample: str, **labels: str) -> float | None:
    """The value of one sample, or None when the scrape does not have it."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


def add_item_route(path: str):
    def hook(app) -> None:
        @app.get(path)
        async def item(item_id: str) -> dict[str, str]:
            return {"item_id": item_id}

    return hook


async def test_metrics_is_prometheus_text_with_every_family(client):
    await client.get("/health/live")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert FAMILIES <= set(families(response.text))
    assert value(response.text, "process_resident_memory_bytes") is not None
    assert "_created" not in response.text  # OpenMetrics-only series, off


async def test_requests_are_counted_by_route_template_never_the_raw_path(make_client, unique):
    template = f"/m-{unique}/{{item_id}}"
    client = await make_client(app_hook=add_item_route(template))
    for raw in ("raw-id-one", "raw-id-two"):
        assert (await client.get(f"/m-{unique}/{raw}-{unique}")).status_code == 200
    assert (await client.get(f"/nothing-here-{unique}")).status_code == 404
    text = await scrape(client)
    route = {"route": template}
    assert value(text, "http_requests_total", method="GET", status="200", **route) == 2
    get = {"method": "GET", **route}
    assert value(text, "http_request_duration_seconds_count", **get) == 2
    assert value(text, "http_request_duration_seconds_bucket", le="+Inf", **get) == 2
    assert value(text, "http_request_duration_seconds_bucket", le="0.001", **get) is not None
    assert value(text, "http_request_duration_seconds_sum", **get) > 0
    assert value(text, "http_requests_total", route="unmatched", status="404") >= 1
    assert "raw-id" not in text and f"nothing-here-{unique}" not in text


async def test_an_unusual_method_is_one_label_value(client):
    before = await scrape(client)
    response = await client.request("FROBNICATE", "/health/live")
    assert response.status_code == 405
    after = await scrape(client)
    labels = {"method": "OTHER", "route": "/health/live", "status": "405"}
    assert (value(after, "http_requests_total", **labels) or 0) - (
        value(before, "http_requests_total", **labels) or 0
    ) == 1
    assert "FROBNICATE" not in after


async def test_a_scrape_counts_every_request_answered_before_it(make_client, unique):
    """In one process the observations wait in the access batch (core/access.py), and
    /metrics writes the batch before it renders."""
    template = f"/m-{unique}/{{item_id}}"
    client = await make_client(app_hook=add_item_route(template))
    assert client.app.state.access_log.defer_metrics
    for n in range(3):
        assert (await client.get(f"/m-{unique}/{n}")).status_code == 200
    assert client.app.state.access_log.pending  # noted, not yet observed
    text = (await client.get("/metrics")).text
    assert value(text, "http_requests_total", method="GET", route=template, status="200") == 3
    assert value(text, "http_request_duration_seconds_count", method="GET", route=template) == 3


async def test_pool_gauges_show_connections_in_use_idle_and_waiting(make_client):
    # No feed scheduler: its tick would borrow (or wait for) the one connection too.
    client = await make_client(db_pool_min_size=1, db_pool_max_size=1, app_hook=no_scheduler)
    pool = client.app.state.pool
    text = await scrape(client)
    assert value(text, "db_pool_max_connections") == 1
    assert value(text, "db_pool_waiting_requests") == 0
    async with pool.connection():
        text = await scrape(client)
        assert value(text, "db_pool_connections") == 1
        assert value(text, "db_pool_idle_connections") == 0
        waiter = asyncio.create_task(held_briefly(pool))
        deadline = time.monotonic() + 5
        while value(text, "db_pool_waiting_requests") != 1:
            assert time.monotonic() < deadline, "the waiting request never showed up"
            await asyncio.sleep(0.01)  # yield to the waiter; the deadline bounds the poll
            text = await scrape(client)
    await waiter
    text = await scrape(client)
    assert value(text, "db_pool_waiting_requests") == 0
    assert value(text, "db_pool_idle_connections") == 1


def no_scheduler(app) -> None:
    app.state.external_tick_seconds = None


async def held_briefly(pool) -> None:
    async with pool.connection(timeout=5):
        pass


async def test_rate_limit_rejections_and_imports_are_counted(client, unique):
    before = await scrape(client)
    record_rate_limited(f"/limited-{unique}")
    record_rate_limited(f"/limited-{unique}")
    record_import("imported")
    after = await scrape(client)
    assert value(after, "rate_limit_rejections_total", route=f"/limited-{unique}") == 2
    imported = {"outcome": "imported"}
    assert value(after, "imports_total", **imported) - (
        value(before, "imports_total", **imported) or 0
    ) == 1


async def test_metrics_is_documented_and_never_rate_limited(client):
    doc = (await client.get("/openapi.json")).json()
    content = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain; version=0.0.4; charset=utf-8"]
    assert getattr(metrics, LIMIT_ATTR) is EXEMPT


def test_several_workers_share_one_view(pg_url, tmp_path):
    """Every scrape, whichever worker answers, shows the requests all workers served and the
    pool gauges summed over the live workers. A killed worker's gauges drop out while its
    counts stay; a stopped server leaves no gauges behind."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = server_env(pg_url, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), DB_POOL_MAX_SIZE="3",
                     DB_POOL_MIN_SIZE="1")
    labels = {"method": "GET", "route": "/health/live", "status": "200"}
    with live_server(tmp_path / "logs", env, workers=2) as server:

        def scrape_sync() -> str:
            with httpx.Client(trust_env=False) as http:
                return http.get(server.url + "/metrics").text

        def two_workers_summed() -> str | None:
            text = scrape_sync()
            return text if value(text, "db_pool_max_connections") == 6 else None

        # A fresh connection per request lets the kernel hand them to either worker.
        for _ in range(30):
            with httpx.Client(trust_env=False) as http:
                assert http.get(server.url + "/health/live").status_code == 200
        text = wait_until(two_workers_summed, 15, what="both workers' pool gauges")
        served = value(text, "http_requests_total", **labels)
        assert served >= 30
        for _ in range(6):
            assert value(scrape_sync(), "http_requests_total", **labels) == served

        victim = int(next(metrics_dir.glob("gauge_livesum_*.db")).stem.rsplit("_", 1)[1])
        os.kill(victim, signal.SIGKILL)  # uvicorn's supervisor starts a replacement

        def successor_replaced_victim() -> bool:
            summed = two_workers_summed()  # the scrape is what drops a dead worker's gauges
            return bool(summed) and not (metrics_dir / f"gauge_livesum_{victim}.db").exists()

        wait_until(successor_replaced_victim, 30, what="the killed worker's gauges replaced")
        assert value(scrape_sync(), "http_requests_total", **labels) >= served
        assert server.stop() in GRACEFUL
    assert not list(metrics_dir.glob("gauge_live*")), "stopped workers left their pool gauges"
    assert list(metrics_dir.glob("counter_*.db"))


async def test_plain_starlette_routes_get_their_template_too(client):
    await client.get("/openapi.json")
    await client.get("/docs/assets/swagger-ui.css")
    text = await scrape(client)
    assert value(text, "http_requests_total", route="/openapi.json", status="200") >= 1
    assert value(text, "http_requests_total", route="/docs/assets/{path}", status="200") >= 1
    assert "swagger-ui.css" not in text


def test_a_missing_multiprocess_directory_fails_with_one_clear_line(tmp_path):
    missing = tmp_path / "absent"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(missing)}
    result = subprocess.run(
        [sys.executable, "-c", "import core.metrics"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"configuration error: PROMETHEUS_MULTIPROC_DIR: {missing} is not a directory"
    )


async def test_a_real_429_is_counted_by_route(make_client):
    client = await make_client(peer="198.51.100.77", search_rate_limit="1/minute")
    before = value(await scrape(client), "rate_limit_rejections_total", route="/search") or 0
    assert (await client.get("/search", params={"q": "anything"})).status_code == 200
    assert (await client.get("/search", params={"q": "anything"})).status_code == 429
    after = value(await scrape(client), "rate_limit_rejections_total", route="/search")
    assert after == before + 1
