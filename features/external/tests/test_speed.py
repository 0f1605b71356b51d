"""Speed (issue 17, point 6): items are stored by set-based upserts, a few statements a chunk."""
from __future__ import annotations

import psycopg

from conftest import AUTH
from features.external.service import CHUNK

from .conftest import RSS_TYPE, rss
from .feedserver import FeedServer, Reply


async def test_a_big_feed_costs_a_few_statements_per_chunk(
    importer, feeds: FeedServer, unique, monkeypatch
) -> None:
    items = [{"id": f"{unique}-{n}", "title": f"Item {n} {unique}", "body": f"Body {n}"}
             for n in range(1200)]
    url = feeds.route("/big.xml", Reply(body=rss(items), headers=RSS_TYPE))
    statements: list[str] = []
    execute = psycopg.AsyncCursor.execute

    async def counting(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        statements.append(str(query))
        return await execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", counting)
    response = await importer.post("/external/imports", json={"url": url}, headers=AUTH)
    assert response.json()["created"] == 1200
    chunks = -(-1200 // CHUNK)
    assert len(statements) <= 3 * chunks + 10, len(statements)
    again = await importer.post("/external/imports", json={"url": url, "max_items": 1000},
                                headers=AUTH)
    assert again.json()["unchanged"] == 1000
