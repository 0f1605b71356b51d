"""Behind PgBouncer in transaction mode: Debian's pgbouncer between the suite's PostgreSQL and two
`uvicorn app:app` instances with `DB_POOLER=transaction`, under concurrent reads, writes,
searches and imports. Not part of `make test` (it needs the pgbouncer binary); `make
test-pgbouncer` runs it and CI installs the package first, as for the browser test.

Fails when: the service prepares statements behind the pooler (tried: `prepare_threshold=None`
dropped from core/pool.py gives `prepared statement "_pg3_…" does not exist` 500s and 503s
within the first few hundred requests), or sends start-up options, which pgbouncer 1.18 refuses
(tried: DB_POOLER=none, every connection refused: 503s).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from conftest import API_KEY, AUTH
from core.migrations import apply_migrations
from tests.live import live_server, server_env
from tests.servers import create_database, drop_database, free_port, wait_until

pytestmark = pytest.mark.pgbouncer

CLIENTS = 16
REQUESTS_PER_CLIENT = 60
SERVER_CONNECTIONS = 4  # fewer than the clients' connections: each transaction meets any of them


class PgBouncer:
    """pgbouncer in the foreground on a loopback port, as a non-root user (it refuses root)."""

    def __init__(self, target_url: str) -> None:
        target = conninfo_to_dict(target_url)
        host = str(target.get("host") or "127.0.0.1")
        self.folder = Path(tempfile.mkdtemp(prefix="articles-pgbouncer-"))
        self.folder.chmod(0o755)
        self.port = free_port()
        user = str(target.get("user") or "postgres")
        (self.folder / "users.txt").write_text(f'"{user}" ""\n')
        server = f"host={host} port={target.get('port') or 5432} user={user}"
        (self.folder / "pgbouncer.ini").write_text(
            f"[databases]\n* = {server}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.folder / 'users.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {SERVER_CONNECTIONS}\n"
            "max_client_conn = 500\n"
        )
        for path in self.folder.iterdir():
            path.chmod(0o644)
        command = [shutil.which("pgbouncer") or "/usr/sbin/pgbouncer",
                   str(self.folder / "pgbouncer.ini")]
        if os.geteuid() == 0:
            # A unix socket folder is reachable by its owner (the embedded server's user).
            socket_dir = Path(host) if host.startswith("/") else None
            owner = pwd.getpwuid(socket_dir.stat().st_uid).pw_name if socket_dir else "nobody"
            command = ["runuser", "-u", owner, "--", *command]
        self.log = (self.folder / "pgbouncer.log").open("wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self.user = user
        wait_until(self.answers, 15, what="pgbouncer listening")

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def answers(self) -> bool:
        assert self.process.poll() is None, (self.folder / "pgbouncer.log").read_text()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
            return True
        return False

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def pgbouncer_db(pg_admin_url: str) -> Iterator[tuple[str, str]]:
    """(direct URL, URL through pgbouncer) of a fresh database migrated over the direct URL."""
    direct = create_database(pg_admin_url)
    apply_migrations(direct)
    bouncer = PgBouncer(direct)
    try:
        yield direct, bouncer.url(str(conninfo_to_dict(direct)["dbname"]))
    finally:
        bouncer.close()
        drop_database(pg_admin_url, direct)


class FeedHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if not self.path.startswith("/feed"):
            self.send_error(404)
            return
        tag = self.path.rsplit("/", 1)[-1]
        items = "".join(
            f"<item><title>Bounced {tag} {n}</title><link>http://127.0.0.1/{tag}/{n}</link>"
            f"<guid>{tag}-{n}</guid><description>item {n} of feed {tag}</description></item>"
            for n in range(5)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{tag}</title>' \
               f"{items}</channel></rss>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def feed_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FeedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def client_load(
    bases: list[str], feeds: str, number: int, seed_ids: list[int], statuses: Counter[str],
    created: dict[int, dict[str, str]],
) -> None:
    rng = random.Random(number)
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        for n in range(REQUESTS_PER_CLIENT):
            base = bases[n % len(bases)]
            kind = rng.choice(["get", "get", "list", "search", "post", "post", "patch", "import"])
            if kind == "get":
                response = await http.get(f"{base}/articles/{rng.choice(seed_ids)}")
            elif kind == "list":
                response = await http.get(f"{base}/articles", params={"limit": 10})
            elif kind == "search":
                response = await http.get(f"{base}/search", params={"q": "bounced seed"})
            elif kind == "patch":
                response = await http.patch(f"{base}/articles/{rng.choice(seed_ids)}",
                                            json={"body": f"patched by {number}"}, headers=AUTH)
            elif kind == "import":
                response = await http.post(f"{base}/external/imports", headers=AUTH,
                                           json={"url": f"{feeds}/feed/c{number}n{n}"})
            else:
                payload = {"title": f"Bounced {number} {n}", "slug": f"pgb-{number}-{n}",
                           "body": f"written by client {number}, request {n}"}
                response = await http.post(f"{base}/articles", json=payload, headers=AUTH)
                if response.status_code == 201:
                    created[response.json()["id"]] = payload
            statuses[f"{kind} {response.status_code}"] += 1


async def test_two_instances_behind_pgbouncer_transaction_mode(pgbouncer_db, tmp_path):
    direct, bounced = pgbouncer_db
    env = server_env(
        bounced, API_KEYS=API_KEY, DB_POOLER="transaction", RATE_LIMIT_ENABLED="false",
        EXTERNAL_ALLOW_PRIVATE="true", DB_POOL_MAX_SIZE="8", DB_POOL_TIMEOUT="10",
    )
    statuses: Counter[str] = Counter()
    created: dict[int, dict[str, str]] = {}
    with (
        live_server(tmp_path / "one", env) as one,
        live_server(tmp_path / "two", env) as two,
        feed_server() as feeds,
    ):
        seed_ids = []
        for n in range(10):
            response = httpx.post(f"{one.url}/articles", headers=AUTH, trust_env=False, json={
                "title": f"Bounced seed {n}", "slug": f"pgb-seed-{n}", "body": "seed body"})
            assert response.status_code == 201, response.text
            seed_ids.append(response.json()["id"])
        await asyncio.gather(*(
            client_load([one.url, two.url], feeds, number, seed_ids, statuses, created)
            for number in range(CLIENTS)
        ))
        logs = one.stdout() + one.stderr() + two.stdout() + two.stderr()
    print("\nbehind pgbouncer:", dict(sorted(statuses.items())))
    failures = {k: v for k, v in statuses.items() if not k.endswith((" 200", " 201"))}
    assert not failures, (failures, logs[-3000:])
    assert "prepared statement" not in logs
    assert "server_timeouts_unset" in logs  # the suite's role sets none: the service says so
    assert sum(statuses.values()) == CLIENTS * REQUESTS_PER_CLIENT
    with psycopg.connect(direct) as conn:
        stored = dict(
            (row[0], {"title": row[1], "slug": row[2], "body": row[3]})
            for row in conn.execute(
                "SELECT id, title, slug, body FROM articles WHERE id = ANY(%s)", (list(created),)
            )
        )
        imported = conn.execute(
            "SELECT count(*) FROM articles WHERE title LIKE 'Bounced c%'"
        ).fetchone()
    assert stored == created
    imports = sum(v for k, v in statuses.items() if k.startswith("import"))
    assert imported is not None and imported[0] == 5 * imports
