"""A real `uvicorn app:app` in a subprocess on a free loopback port, for tests that need one.

    with live_server(tmp_path, server_env(pg_url, API_KEYS=key)) as server:
        httpx.get(server.url + "/health/live")
        assert server.stop() in GRACEFUL    # SIGTERM by default; waits, returns the exit code
        lines = server.stdout().splitlines()

The server's stdout and stderr go to files under the given folder (a pipe could fill up and
stall the server); `stdout()` / `stderr()` read what was written so far.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
# uvicorn re-raises the signal once it has shut down cleanly, so a single process stopped by
# SIGTERM exits with -15; the --workers supervisor exits 0.
GRACEFUL = frozenset({0, -signal.SIGTERM})


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The variables a test server needs: an existing, migrated database and JSON logs."""
    return {
        "DATABASE_URL": database_url,
        "MIGRATE_ON_START": "false",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        **extra,
    }


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    port: int
    log_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return (self.log_dir / "stdout.log").read_text(errors="replace")

    def stderr(self) -> str:
        return (self.log_dir / "stderr.log").read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send `sig` and wait for the exit; past `timeout`, kill the process group and fail."""
        if self.running():
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
            raise TimeoutError(f"server did not exit within {timeout}s of {sig.name}") from None

    def answers(self) -> bool:
        if not self.running():
            raise RuntimeError(
                f"server exited with {self.process.returncode} before answering\n"
                f"stdout:\n{self.stdout()[-3000:]}\nstderr:\n{self.stderr()[-3000:]}"
            )
        try:
            with httpx.Client(trust_env=False, timeout=1.0) as client:
                return client.get(self.url + "/health/live").status_code == 200
        except httpx.TransportError:
            return False


def start_server(
    log_dir: Path,
    env: Mapping[str, str],
    *,
    workers: int = 1,
    args: Sequence[str] = (),
    ready_timeout: float = 30.0,
) -> LiveServer:
    """Start uvicorn on 127.0.0.1:<free port> in its own process group; wait for /health/live."""
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    full_env.update(env)
    command = [
        sys.executable, "-m", "uvicorn", "app:app",
        "--host", "127.0.0.1", "--port", str(port), *args,
    ]
    if workers > 1:
        command += ["--workers", str(workers)]
    with (log_dir / "stdout.log").open("wb") as out, (log_dir / "stderr.log").open("wb") as err:
        process = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=out, stderr=err, start_new_session=True
        )
    server = LiveServer(process, port, log_dir)
    try:
        wait_until(server.answers, ready_timeout, interval=0.1, what="GET /health/live")
    except BaseException:
        server.stop(signal.SIGKILL)
        raise
    return server


@contextmanager
def live_server(
    log_dir: Path,
    env: Mapping[str, str],
    *,
    workers: int = 1,
    args: Sequence[str] = (),
    ready_timeout: float = 30.0,
) -> Iterator[LiveServer]:
    """start_server, and on the way out terminate it (SIGTERM) if the test has not stopped it."""
    server = start_server(log_dir, env, workers=workers, args=args, ready_timeout=ready_timeout)
    try:
        yield server
    finally:
        if server.running():
            server.stop()
