"""Import every feed file under a folder through the service and print one line of totals.

    make check-feeds DIR=../shared/corpus/feeds
    .venv/bin/python -m features.external.check_feeds DIR

Each file is served from a loopback HTTP server (the tests' FeedServer) with the Content-Type
it declares (feedparser's `Header:` comment lines) or one that fits its name and start, and
imported with `POST /external/imports` by the app running in this process, on
TEST_DATABASE_URL's server (else an embedded PostgreSQL) in a fresh database. The files are
read where they are; nothing is copied.

Totals: files, 200s, 4xx by code, 5xx, items (fetched), created, skipped, text lost (a body
that is only a URL, or empty-looking), markup or entities left (a tag or an HTML entity in a
stored title or body).
"""
from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import httpx

from .scratch import importer_app, scratch_database
from .tests.feedserver import FeedServer, LoopbackOnly, Reply

KEY = "check-feeds-key"
DATABASE = "external_check_feeds"
SUFFIXES = (".xml", ".json", ".rss", ".atom", ".rdf", ".feed")
_HEADER = re.compile(rb"^\s*Header:\s*([A-Za-z-]+):\s*(.+?)\s*$", re.MULTILINE)
_ONLY_URL = re.compile(r"^\S+://\S*$")
_MARKUP = re.compile(
    r"</?[A-Za-z][A-Za-z0-9:-]*(\s[^<>]*)?/?>|&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z]+[0-9]*);"
)


def headers_for(path: Path, body: bytes) -> dict[str, str]:
    """The headers a feedparser test file declares, else a Content-Type that fits the file."""
    declared = {name.decode().title(): value.decode("latin-1")
                for name, value in _HEADER.findall(body[:4096])}
    if not any(name.lower() == "content-type" for name in declared):
        declared["Content-Type"] = _fitting_type(path, body)
    return {name: value for name, value in declared.items()
            if name.lower() in ("content-type", "content-language", "last-modified")}


def _fitting_type(path: Path, body: bytes) -> str:
    start = body[:2048].lower()
    if path.suffix == ".json" or body.lstrip()[:1] in (b"{", b"["):
        return "application/feed+json"
    if b"<rss" in start:
        return "application/rss+xml"
    if b"<feed" in start:
        return "application/atom+xml"
    if b"<rdf" in start:
        return "application/rdf+xml"
    return "application/xml"


def feed_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


async def check(folder: Path, database_url: str) -> str:
    app = importer_app(database_url, KEY, "ERROR")
    app.state.external_transport = LoopbackOnly()
    server = FeedServer()
    totals: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://check") as client:
                for number, path in enumerate(feed_files(folder)):
                    body = path.read_bytes()
                    url = server.route(f"/{number}/{quote(path.name)}",
                                       Reply(body=body, headers=headers_for(path, body)))
                    response = await client.post(
                        "/external/imports", json={"url": url},
                        headers={"Authorization": f"Bearer {KEY}"}, timeout=60,
                    )
                    totals["files"] += 1
                    statuses[response.status_code] += 1
                    if response.status_code == 200:
                        result = response.json()
                        for field in ("fetched", "created", "skipped"):
                            totals[field] += result[field]
            async with app.state.pool.connection() as db:
                cur = await db.execute("SELECT title, body FROM articles")
                for title, text in await cur.fetchall():
                    totals["text lost"] += bool(_ONLY_URL.match(text))
                    totals["markup or entities left"] += bool(
                        _MARKUP.search(title) or _MARKUP.search(text)
                    )
    finally:
        server.close()
    client_errors = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items())
                              if 400 <= code < 500) or "none"
    server_errors = sum(n for code, n in statuses.items() if code >= 500)
    return (f"files {totals['files']}, 200s {statuses[200]}, 4xx {{{client_errors}}}, "
            f"5xx {server_errors}, items {totals['fetched']}, created {totals['created']}, "
            f"skipped {totals['skipped']}, text lost {totals['text lost']}, "
            f"markup or entities left {totals['markup or entities left']}")


def main(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        with scratch_database(DATABASE, Path(scratch)) as url:
            print(asyncio.run(check(folder, url)))


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        sys.exit("usage: python -m features.external.check_feeds DIR")
    main(Path(sys.argv[1]))
