"""/docs in a real browser: Debian's Chromium, driven by Playwright, against `uvicorn app:app` on
loopback. The page renders with no request leaving 127.0.0.1, and "Try it out" on
GET /articles/{article_id} shows the server's 404 and 422.

Needs /usr/bin/chromium (`apt-get install -y chromium`; CHROMIUM_PATH overrides the path).
Without it the tests fail: they are never skipped.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Route,
    expect,
    sync_playwright,
)

from tests.live import LiveServer, live_server, server_env
from tests.servers import free_port

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
OPERATION = "/articles/{article_id}"
TIMEOUT_MS = 15_000


def chromium_args() -> list[str]:
    # The last flag sends anything not on loopback to a closed loopback port, so even a request
    # the browser makes on its own (outside any page) cannot leave the machine.
    return [
        "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        f"--proxy-server=http://127.0.0.1:{free_port()}",
    ]


@pytest.fixture(scope="module")
def server(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = server_env(pg_url, API_KEYS="browser-test-key")
    with live_server(tmp_path_factory.mktemp("browser-server"), env) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's (`apt-get install -y chromium`) "
            "or set CHROMIUM_PATH. The browser test must not be skipped."
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=chromium_args()
        )
        yield launched
        launched.close()


@dataclass
class Traffic:
    """Every URL the pages asked for, and those refused for not being the server's."""

    origin: str
    seen: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def guard(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("blockedbyclient")

    def assert_stayed_home(self) -> None:
        assert self.seen, "the page made no request at all"
        assert not self.refused, f"requests to other origins: {self.refused}"
        assert all(url.startswith(self.origin + "/") for url in self.seen), self.seen


@pytest.fixture
def context(browser: Browser, server: LiveServer) -> Iterator[tuple[BrowserContext, Traffic]]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(TIMEOUT_MS)
    traffic = Traffic(server.url)
    ctx.on("request", lambda request: traffic.seen.append(request.url))
    ctx.route("**/*", traffic.guard)
    yield ctx, traffic
    ctx.close()


def open_docs(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/docs")
    expect(page.locator(".opblock").first).to_be_visible()


def try_it_out(page: Page, article_id: str) -> None:
    """Expand GET /articles/{article_id}, press "Try it out", type the id, press Execute."""
    operation = get_article(page)
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator('input[placeholder="article_id"]').fill(article_id)
    operation.locator(".execute").click()


def get_article(page: Page) -> Locator:
    return page.locator(f'.opblock-get:has(.opblock-summary-path[data-path="{OPERATION}"])')


def screenshot(target: Page | Locator, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    if isinstance(target, Page):
        target.screenshot(path=str(path), full_page=True)
    else:
        target.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


def test_docs_render_every_operation_offline(context, server, tmp_path):
    ctx, traffic = context
    page = ctx.new_page()
    open_docs(page, server)
    document = json.loads(page.request.get(server.url + "/openapi.json").text())
    for path, methods in document["paths"].items():
        for method in methods:
            block = page.locator(
                f'.opblock-{method}:has(.opblock-summary-path[data-path="{path}"])'
            )
            expect(block).to_have_count(1)
    expect(get_article(page)).to_be_visible()
    assert screenshot(page, tmp_path, "docs.png").stat().st_size > 10_000
    assert any(url.endswith("/openapi.json") for url in traffic.seen)
    traffic.assert_stayed_home()


def test_try_it_out_shows_404_for_a_missing_article(context, server, tmp_path):
    ctx, traffic = context
    page = ctx.new_page()
    open_docs(page, server)
    try_it_out(page, "999999999")
    response = get_article(page).locator(".live-responses-table .response")
    expect(response.locator(".response-col_status")).to_have_text("404")
    expect(response.locator(".microlight").first).to_contain_text('"detail": "Article not found"')
    screenshot(get_article(page), tmp_path, "try-it-404.png")
    assert f"{server.url}/articles/999999999" in traffic.seen
    traffic.assert_stayed_home()


def test_try_it_out_shows_the_servers_422_for_a_non_integer_id(context, server, tmp_path):
    """Swagger UI checks an integer parameter itself: with the real schema, "abc" is marked
    invalid and never sent. To show the server's own 422 in the page, this browser gets a copy of
    /openapi.json whose article_id is a plain string; the request then reaches the server."""
    ctx, traffic = context
    page = ctx.new_page()
    open_docs(page, server)
    try_it_out(page, "abc")
    expect(get_article(page).locator('input[placeholder="article_id"]')).to_have_class("invalid")
    assert not any("/articles/abc" in url for url in traffic.seen)
    page.close()

    page = ctx.new_page()
    page.route(server.url + "/openapi.json", relax_article_id)
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if "/articles/abc" in r.url else None)
    open_docs(page, server)
    try_it_out(page, "abc")
    operation = get_article(page)
    response = operation.locator(".live-responses-table .response")
    expect(response.locator(".response-col_status")).to_have_text("422")
    body = response.locator(".microlight").first
    expect(body).to_contain_text('"article_id"')
    expect(body).to_contain_text('"request_id"')
    expect(operation.locator(".request-url")).to_contain_text(f"{server.url}/articles/abc")
    screenshot(operation, tmp_path, "try-it-422.png")
    assert answers == [422]
    traffic.assert_stayed_home()


def relax_article_id(route: Route) -> None:
    """Serve the real document with GET /articles/{article_id}'s id typed as a string."""
    response = route.fetch()
    document = response.json()
    for parameter in document["paths"][OPERATION]["get"]["parameters"]:
        if parameter["name"] == "article_id":
            parameter["schema"] = {"type": "string"}
    route.fulfill(response=response, json=document)
