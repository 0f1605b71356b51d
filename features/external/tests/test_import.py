"""POST /external/imports end to end: the app fetches from a real loopback server."""
from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from conftest import AUTH
from features.external.parse import Item
from features.external.service import store

from .conftest import RSS_TYPE, article, atom, json_feed, rss
from .feedserver import FeedServer, Reply


async def post_import(client: httpx.AsyncClient, url: str, **extra: object) -> httpx.Response:
    return await client.post("/external/imports", json={"url": url, **extra}, headers=AUTH)


def three_items(unique: str) -> list[dict[str, str]]:
    return [
        {"id": f"{unique}-1", "title": f"First {unique}",
         "body": "<p>Hello <b>world</b> &amp; friends</p><script>alert(1)</script><p>Bye</p>"},
        {"id": f"{unique}-2", "title": f"Second {unique}", "body": "Plain second body"},
        {"link": f"http://example.invalid/{unique}/3", "title": f"Third {unique}",
         "body": "<ul><li>one</li><li>two</li></ul>"},
    ]


async def test_rss_items_become_plain_text_articles(importer, feeds: FeedServer, unique):
    url = feeds.route("/rss.xml", Reply(body=rss(three_items(unique)), headers=RSS_TYPE))
    response = await post_import(importer, url)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "url": url, "status": "imported", "fetched": 3, "created": 3, "updated": 0,
        "unchanged": 0, "skipped": 0, "errors": [], "discovered_from": None,
    }
    first = await article(importer, url, f"{unique}-1")
    assert first is not None
    assert first["title"] == f"First {unique}"
    assert first["body"] == "Hello world & friends\n\nBye"
    assert first["slug"] == f"first-{unique}"
    third = await article(importer, url, f"http://example.invalid/{unique}/3")
    assert third is not None and third["body"] == "one\ntwo"


async def test_importing_the_same_feed_twice_creates_nothing(importer, feeds, unique):
    url = feeds.route("/rss.xml", Reply(body=rss(three_items(unique)), headers=RSS_TYPE))
    assert (await post_import(importer, url)).json()["created"] == 3
    again = (await post_import(importer, url)).json()
    assert (again["status"], again["created"], again["unchanged"]) == ("imported", 0, 3)
    async with importer.app.state.pool.connection() as db:
        cur = await db.execute("SELECT count(*) FROM articles WHERE title LIKE %s", (f"%{unique}",))
        assert (await cur.fetchone())[0] == 3


async def test_a_changed_item_updates_its_article(importer, feeds, unique):
    items = three_items(unique)
    url = feeds.route("/rss.xml", Reply(body=rss(items), headers=RSS_TYPE))
    await post_import(importer, url)
    before = await article(importer, url, f"{unique}-2")
    items[1] = {**items[1], "title": f"Second, revised {unique}", "body": "New <i>text</i>"}
    feeds.route("/rss.xml", Reply(body=rss(items), headers=RSS_TYPE))
    body = (await post_import(importer, url)).json()
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 1, 2)
    after = await article(importer, url, f"{unique}-2")
    assert after is not None and before is not None
    assert (after["id"], after["slug"]) == (before["id"], before["slug"])
    assert (after["title"], after["body"]) == (f"Second, revised {unique}", "New text")


async def test_atom_html_content_is_imported_as_text(importer, feeds, unique):
    entries = [{"id": f"urn:{unique}:a", "title": f"Atom &amp; <em>{unique}</em>",
                "body": "<div><h1>Head</h1><p>Para &lt;tag&gt;</p></div>"}]
    url = feeds.route("/atom", Reply(body=atom(entries),
                                     headers={"Content-Type": "application/atom+xml"}))
    body = (await post_import(importer, url)).json()
    assert body["created"] == 1
    found = await article(importer, url, f"urn:{unique}:a")
    assert found is not None
    assert found["title"] == f"Atom & {unique}"
    assert found["body"] == "Head\n\nPara <tag>"


async def test_json_feed_is_imported(importer, feeds, unique):
    items = [
        {"id": f"{unique}-j1", "title": f"JSON {unique}", "content_html": "<p>Rich</p>"},
        {"id": 42, "content_text": f"A titleless note {unique}"},  # a number id, no title
        {"url": f"http://example.invalid/{unique}", "summary": "Only a summary"},
        {"title": "No id and no url"},
    ]
    url = feeds.route("/feed.json", Reply(body=json_feed(items),
                                          headers={"Content-Type": "application/feed+json"}))
    body = (await post_import(importer, url)).json()
    assert (body["fetched"], body["created"], body["skipped"]) == (4, 3, 1)
    assert body["errors"] == ["item 4: neither id nor link"]
    note = await article(importer, url, "42")
    assert note is not None and note["title"] == f"A titleless note {unique}"
    rich = await article(importer, url, f"{unique}-j1")
    assert rich is not None and rich["body"] == "Rich"


async def test_max_items_takes_the_first_items(importer, feeds, unique):
    items = [{"id": f"{unique}-{n}", "title": f"T{n} {unique}", "body": "b"} for n in range(5)]
    url = feeds.route("/rss.xml", Reply(body=rss(items), headers=RSS_TYPE))
    body = (await post_import(importer, url, max_items=2)).json()
    assert (body["fetched"], body["created"]) == (2, 2)
    assert await article(importer, url, f"{unique}-2") is None
    for bad in (0, 1001, "many"):
        assert (await post_import(importer, url, max_items=bad)).status_code == 422


async def test_etag_makes_the_next_import_conditional(importer, feeds, unique):
    etag = f'"v1-{unique}"'
    document = rss(three_items(unique))

    def conditional(headers: dict[str, str]) -> Reply:
        if headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(body=document, headers={**RSS_TYPE, "ETag": etag})

    url = feeds.route("/rss.xml", conditional)
    assert (await post_import(importer, url)).json()["created"] == 3
    second = await post_import(importer, url)
    assert second.json() == {
        "url": url, "status": "not_modified", "fetched": 0, "created": 0, "updated": 0,
        "unchanged": 0, "skipped": 0, "errors": [], "discovered_from": None,
    }
    assert "if-none-match" not in feeds.requests_to("/rss.xml")[0].headers
    assert feeds.requests_to("/rss.xml")[1].headers["if-none-match"] == etag


async def test_last_modified_is_sent_back_as_if_modified_since(importer, feeds, unique):
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"
    url = feeds.route("/rss.xml", Reply(body=rss(three_items(unique)),
                                        headers={**RSS_TYPE, "Last-Modified": stamp}))
    await post_import(importer, url)
    await post_import(importer, url)
    assert feeds.requests_to("/rss.xml")[1].headers.get("if-modified-since") == stamp


async def test_a_bigger_import_than_last_time_is_not_conditional(importer, feeds, unique):
    items = [{"id": f"{unique}-{n}", "title": f"T{n} {unique}", "body": "b"} for n in range(3)]
    url = feeds.route("/rss.xml", Reply(body=rss(items), headers={**RSS_TYPE, "ETag": '"e"'}))
    await post_import(importer, url, max_items=1)
    await post_import(importer, url)
    assert "if-none-match" not in feeds.requests_to("/rss.xml")[1].headers


async def test_robots_disallow_is_422_naming_robots_txt(importer, feeds, unique):
    feeds.route("/robots.txt", Reply(body=b"User-agent: articles-service\nDisallow: /private/\n"))
    url = feeds.route("/private/feed.xml", Reply(body=rss(three_items(unique)), headers=RSS_TYPE))
    response = await post_import(importer, url)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["body", "url"] and detail[0]["type"] == "robots_disallowed"
    assert "robots.txt" in detail[0]["msg"]
    assert feeds.hits("/private/feed.xml") == 0


async def test_robots_txt_is_cached_per_host_and_other_agents_rules_do_not_apply(
    importer, feeds, unique
):
    feeds.route("/robots.txt", Reply(body=b"User-agent: otherbot\nDisallow: /\n"))
    url = feeds.route("/feed.xml", Reply(body=rss(three_items(unique)), headers=RSS_TYPE))
    assert (await post_import(importer, url)).status_code == 200
    assert (await post_import(importer, url)).status_code == 200
    assert feeds.hits("/robots.txt") == 1


async def test_server_error_then_success_is_retried(importer, feeds, unique):
    url = feeds.route("/flaky", Reply(500), Reply(503), Reply(body=rss(three_items(unique))))
    response = await post_import(importer, url)
    assert response.status_code == 200 and response.json()["created"] == 3
    assert feeds.hits("/flaky") == 3


async def test_retry_after_is_honoured(importer, feeds, unique):
    url = feeds.route("/busy", Reply(429, headers={"Retry-After": "1"}),
                      Reply(body=rss(three_items(unique))))
    started = time.monotonic()
    assert (await post_import(importer, url)).status_code == 200
    assert time.monotonic() - started >= 1.0


async def test_retry_after_beyond_the_time_cap_fails_at_once(make_client, feeds):
    from .conftest import loopback_only

    client = await make_client(external_allow_private=True, external_fetch_timeout=3,
                               app_hook=loopback_only)
    url = feeds.route("/later", Reply(503, headers={"Retry-After": "3600"}))
    started = time.monotonic()
    response = await post_import(client, url)
    assert response.status_code == 502
    assert "3600" in response.json()["detail"]
    assert time.monotonic() - started < 2 and feeds.hits("/later") == 1


async def test_persistent_server_errors_are_502_after_bounded_retries(importer, feeds):
    url = feeds.route("/down", Reply(503))
    response = await post_import(importer, url)
    assert response.status_code == 502
    assert "HTTP 503 after 3 attempts" in response.json()["detail"]
    assert feeds.hits("/down") == 3


async def test_client_errors_are_502_without_retries(importer, feeds):
    response = await post_import(importer, feeds.url("/missing"))
    assert response.status_code == 502
    assert "HTTP 404" in response.json()["detail"]
    assert feeds.hits("/missing") == 1


async def test_connection_refused_is_502(importer):
    from tests.servers import free_port

    response = await post_import(importer, f"http://127.0.0.1:{free_port()}/feed")
    assert response.status_code == 502
    assert "ConnectError" in response.json()["detail"]


async def test_slow_upstream_is_504_at_the_time_cap(make_client, feeds):
    from .conftest import loopback_only

    client = await make_client(external_allow_private=True, external_fetch_timeout=1,
                               app_hook=loopback_only)
    url = feeds.route("/slow", Reply(body=b"<rss/>", delay=30))
    started = time.monotonic()
    response = await post_import(client, url)
    assert response.status_code == 504
    assert "1 s" in response.json()["detail"]
    assert time.monotonic() - started < 5


HUGE = b"<rss version='2.0'><channel>" + b" " * (10 * 1024 * 1024) + b"</channel></rss>"


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_over_10_mb_is_refused(importer, feeds, chunked):
    url = feeds.route("/huge", Reply(body=HUGE, headers=RSS_TYPE, chunked=chunked))
    response = await post_import(importer, url)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "too_large"


@pytest.mark.parametrize(
    ("document", "content_type", "reason"),
    [
        (b"<!doctype html><html><body><p>Hi</p></body></html>", "text/html", "not an RSS"),
        (b"", "application/rss+xml", "not an RSS"),
        (b'{"hello": "world"}', "application/json", "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/9", "items": []}', "application/json",
         "unsupported JSON Feed version"),
        (b"{not json", "application/json", "invalid JSON"),
        (b"/etc/passwd", "text/plain", "not an RSS"),  # never read as a local file
    ],
)
async def test_a_document_that_is_not_a_feed_is_422(importer, feeds, document, content_type,
                                                    reason):
    url = feeds.route("/page", Reply(body=document, headers={"Content-Type": content_type}))
    response = await post_import(importer, url)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "not_a_feed"
    assert reason in response.json()["detail"][0]["msg"]


async def test_a_redirect_chain_is_followed(importer, feeds, unique):
    feeds.route("/a", Reply(301, headers={"Location": "/b"}))
    feeds.route("/b", Reply(302, headers={"Location": feeds.url("/c")}))
    feeds.route("/c", Reply(307, headers={"Location": "d"}))
    feeds.route("/d", Reply(body=rss(three_items(unique)), headers=RSS_TYPE))
    response = await post_import(importer, feeds.url("/a"))
    assert response.status_code == 200 and response.json()["created"] == 3
    assert [feeds.hits(p) for p in ("/a", "/b", "/c", "/d")] == [1, 1, 1, 1]


async def test_more_than_five_redirects_is_502(importer, feeds):
    for n in range(7):
        feeds.route(f"/r{n}", Reply(302, headers={"Location": f"/r{n + 1}"}))
    response = await post_import(importer, feeds.url("/r0"))
    assert response.status_code == 502
    assert "more than 5 redirects" in response.json()["detail"]
    assert feeds.hits("/r5") == 1 and feeds.hits("/r6") == 0


async def test_private_addresses_are_refused_by_default(make_client, feeds):
    from .conftest import loopback_only

    client = await make_client(app_hook=loopback_only)  # EXTERNAL_ALLOW_PRIVATE unset
    url = feeds.route("/feed.xml", Reply(body=rss([])))
    for target in (url, "http://10.0.0.1/feed", "http://169.254.169.254/", "http://[::1]/",
                   "file:///etc/passwd"):
        response = await post_import(client, target)
        assert response.status_code == 422, target
        assert response.json()["detail"][0]["type"] == "unsafe_url"
    assert feeds.hits("/feed.xml") == 0


async def test_imports_need_a_write_key(importer, feeds):
    response = await importer.post("/external/imports", json={"url": feeds.url("/x")})
    assert response.status_code == 401
    assert feeds.seen == []


async def test_the_user_agent_names_the_service(importer, feeds, unique):
    url = feeds.route("/rss.xml", Reply(body=rss(three_items(unique)), headers=RSS_TYPE))
    await post_import(importer, url)
    assert feeds.requests_to("/rss.xml")[0].headers["user-agent"].startswith("articles-service/")


async def test_concurrent_imports_that_deadlock_are_retried(importer, unique):
    # Two imports write the same two titles in opposite order, each in its chunk transaction:
    # each waits for the other's uncommitted slug, PostgreSQL breaks the deadlock by aborting
    # one, and that chunk must run again rather than fail. Three rounds, since which
    # transaction gets ahead is up to the scheduler.
    pool = importer.app.state.pool
    async with pool.connection() as one, pool.connection() as two:  # both ready before either
        for db, name in ((one, "w1"), (two, "w2")):  # first statements are slow: not in the race
            await store(db, f"http://127.0.0.1/{unique}/{name}", [Item(name, name, "warm")])
        for round_ in range(3):
            a, b = f"Crossed A {unique} {round_}", f"Crossed B {unique} {round_}"
            results = await asyncio.gather(
                store(one, f"http://127.0.0.1/{unique}/one",
                      [Item(f"o{round_}a", a, "x"), Item(f"o{round_}b", b, "x")]),
                store(two, f"http://127.0.0.1/{unique}/two",
                      [Item(f"t{round_}b", b, "x"), Item(f"t{round_}a", a, "x")]),
            )
            assert [r.created for r in results] == [2, 2]


async def test_cookies_are_never_kept_between_imports(importer, feeds, unique):
    url = feeds.route("/rss.xml", Reply(body=rss(three_items(unique)),
                                        headers={**RSS_TYPE, "Set-Cookie": "session=abc; Path=/"}))
    await post_import(importer, url)
    await post_import(importer, url)
    assert "cookie" not in feeds.requests_to("/rss.xml")[1].headers


async def test_proxies_from_the_environment_are_ignored(make_client, feeds, unique, monkeypatch):
    from tests.servers import free_port

    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")  # nothing listens there

    def no_scheduler(app):  # and the real transport: httpx skips env proxies for custom ones
        app.state.external_tick_seconds = None

    client = await make_client(external_allow_private=True, app_hook=no_scheduler)
    url = feeds.route("/rss.xml", Reply(body=rss(three_items(unique)), headers=RSS_TYPE))
    assert (await post_import(client, url)).status_code == 200


async def test_openapi_lists_the_external_routes_and_their_errors(importer):
    paths = (await importer.get("/openapi.json")).json()["paths"]
    imports = paths["/external/imports"]["post"]["responses"]
    assert {"401", "413", "422", "502", "503", "504"} <= set(imports)
    assert {"201", "401", "409", "422"} <= set(paths["/external/feeds"]["post"]["responses"])
    assert {"204", "401", "404"} <= set(paths["/external/feeds/{feed_id}"]["delete"]["responses"])
