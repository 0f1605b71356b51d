"""`make bench`: the service against a bare floor app, same data, same SQL, interleaved runs.

Loads 100,000 articles (~1.5 KB bodies) into a fresh database, starts both apps under uvicorn
(uvloop + httptools, one worker, pinned to core 0 when the machine has two), drives each
scenario with wrk (pinned to core 1) as floor, service, floor, service, and prints requests/s,
p50 and p99 per scenario with the ratio to the floor. Loopback only.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from core.migrations import apply_migrations

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = int(os.environ.get("BENCH_ARTICLES", "100000"))
DURATION = os.environ.get("BENCH_DURATION", "5s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "32")
WARMUP = os.environ.get("BENCH_WARMUP", "2s")
KEY = "bench-key"
WORDS = (
    "postgres fastapi search index article service request latency python async pool "
    "query router schema cursor limit window proxy header metric vector signal river "
    "mountain harbour lantern meadow orchard compass thunder velvet marble ember"
).split()
# Rarer words, each in about 1 % of articles: a "medium" search term.
RARE = [f"{w}{suffix}" for w in ("amber", "cobalt", "saffron", "juniper") for suffix in "xyz"]
MEDIUM_WORD = "saffronx"


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


LUA_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50": %d, "p99": %d, "non2xx": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status))
end
"""

SCENARIOS: dict[str, str] = {
    "GET /articles/{id}": """
request = function()
  return wrk.format("GET", "/articles/" .. math.random(1, %(n)d))
end
""",
    "GET /articles (first page)": """
request = function() return wrk.format("GET", "/articles") end
""",
    "GET /articles/{id} 304": """
request = function()
  return wrk.format("GET", "/articles/%(etag_id)d", {["If-None-Match"] = '%(etag)s'})
end
""",
    "POST /articles": """
local counter = 0
local prefix = "%(prefix)s"
request = function()
  counter = counter + 1
  local body = '{"title": "Bench article", "slug": "' .. prefix .. '-' .. counter ..
    '", "body": "A short body for the write benchmark."}'
  return wrk.format("POST", "/articles",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}, body)
end
""",
    "GET /search (medium word)": """
request = function() return wrk.format("GET", "/search?q=%(word)s") end
""",
}


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is needed: apt-get install wrk")
    return found


def database() -> tuple[str, str]:
    """A fresh database on BENCH_DATABASE_URL's server, or on an embedded one under .data/."""
    admin = os.environ.get("BENCH_DATABASE_URL")
    if not admin:
        from core.embedded import start_embedded

        admin = start_embedded(str(ROOT / ".data" / "bench-api"))
    name = f"bench_{int(time.time())}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    from urllib.parse import urlsplit, urlunsplit

    return admin, urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))


def load(url: str, count: int) -> None:
    rng = random.Random(42)
    started = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY articles (title, slug, body) FROM STDIN") as copy:
            for i in range(count):
                title = " ".join(rng.choices(WORDS, k=6)).capitalize()
                words = rng.choices(WORDS, k=230)  # ~1.5 KB
                if rng.random() < 0.1:
                    words[rng.randrange(230)] = rng.choice(RARE)
                body = " ".join(words)
                copy.write_row((title, f"bench-article-{i}", body))
        conn.commit()
        cur.execute("ANALYZE articles")
    print(f"loaded {count} articles in {time.perf_counter() - started:.1f}s", flush=True)


def pin(core: int) -> list[str]:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core)]
    return []


def start_server(module: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        *pin(0), sys.executable, "-m", "uvicorn", module, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--workers", "1", "--no-access-log",
    ]
    process = subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/articles?limit=1", timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            sys.exit(f"{module} exited: see {log}")
        time.sleep(0.2)
    sys.exit(f"{module} did not start: see {log}")


def wrk(binary: str, port: int, script: str, threads: int = 1, duration: str = DURATION) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script + LUA_REPORT)
    out = subprocess.run(
        [*pin(1), binary, "-t", str(threads), "-c", CONNECTIONS, "-d", duration, "-s", f.name,
         f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout
    os.unlink(f.name)
    data = json.loads(out.strip().splitlines()[-1])
    return Result(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50"] / 1000,
        p99_ms=data["p99"] / 1000,
        non_2xx=data["non2xx"],
    )


def mean(results: list[Result]) -> Result:
    n = len(results)
    return Result(
        rps=sum(r.rps for r in results) / n,
        p50_ms=sum(r.p50_ms for r in results) / n,
        p99_ms=sum(r.p99_ms for r in results) / n,
        non_2xx=sum(r.non_2xx for r in results),
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    binary = ensure_wrk()
    admin, url = database()
    print(f"database {url}", flush=True)
    apply_migrations(url)
    load(url, ARTICLES)
    logs = Path(tempfile.mkdtemp(prefix="bench-"))
    common = {"DATABASE_URL": url, "MIGRATE_ON_START": "false", "API_KEYS": KEY,
              "DB_POOL_MIN_SIZE": "10", "DB_POOL_MAX_SIZE": "10"}
    ours_env = {**common, "LOG_FORMAT": "json", "RATE_LIMIT_STORAGE_URL": "memory://",
                "RATE_LIMIT_DEFAULT": "100000000/minute", "SEARCH_RATE_LIMIT": "100000000/minute"}
    floor = start_server("bench.floor:app", 8801, common, logs / "floor.log")
    ours = start_server("app:app", 8802, ours_env, logs / "service.log")
    limited = start_server(
        "app:app", 8803, {**ours_env, "RATE_LIMIT_DEFAULT": "1/hour"}, logs / "limited.log"
    )
    try:
        etag = httpx.get("http://127.0.0.1:8802/articles/1").headers.get("etag", '""')
        values = {"n": ARTICLES, "etag_id": 1, "etag": etag, "prefix": "b", "key": KEY,
                  "word": MEDIUM_WORD}
        rows: list[tuple[str, Result, Result]] = []
        for name, template in SCENARIOS.items():
            for port in (8801, 8802):  # warm-up, not counted: prepared statements, caches
                script = template % {**values, "prefix": f"w{uuid.uuid4().hex[:12]}"}
                wrk(binary, port, script, duration=WARMUP)
            floor_runs, our_runs = [], []
            for _ in range(2):  # A, B, A, B: the same noise falls on both
                for port, runs in ((8801, floor_runs), (8802, our_runs)):
                    script = template % {**values, "prefix": f"b{uuid.uuid4().hex[:12]}"}
                    runs.append(wrk(binary, port, script))
            rows.append((name, mean(floor_runs), mean(our_runs)))
            print(f"  measured {name}", flush=True)
        by_id_floor = rows[0][1]
        limited_script = SCENARIOS["GET /articles/{id}"] % values
        wrk(binary, 8803, limited_script, duration=WARMUP)
        limited_result = mean([wrk(binary, 8803, limited_script) for _ in range(2)])
        rows.append(("429 (rate limited)", by_id_floor, limited_result))
        report(rows, rss_mb(ours.pid), logs)
    finally:
        for process in (floor, ours, limited):
            process.terminate()
            process.wait(10)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


# Goals from the performance issue: requests/s ratio to the floor (429: to the floor's GET by
# id), and for GET by id a p99 at most twice the floor's.
GOALS = {"GET /articles/{id}": 0.60, "GET /articles (first page)": 0.60, "429 (rate limited)": 1.5}
P99_GOALS = {"GET /articles/{id}": 2.0}
RSS_GOAL_MB = 150


def report(rows: list[tuple[str, Result, Result]], rss: float, logs: Path) -> None:
    print()
    print(f"{'scenario':30} {'floor rps':>10} {'ours rps':>10} {'ratio':>6} "
          f"{'floor p50':>9} {'ours p50':>9} {'floor p99':>9} {'ours p99':>9} {'p99 x':>6} "
          f"{'ours non-2xx':>12}  goals")
    for name, floor, ours in rows:
        ratio, p99_ratio = ours.rps / floor.rps, ours.p99_ms / floor.p99_ms
        goals = []
        if name in GOALS:
            goals.append(f"ratio >= {GOALS[name]}: {'met' if ratio >= GOALS[name] else 'MISSED'}")
        if name in P99_GOALS:
            met = p99_ratio <= P99_GOALS[name]
            goals.append(f"p99 <= {P99_GOALS[name]}x: {'met' if met else 'MISSED'}")
        print(f"{name:30} {floor.rps:10.0f} {ours.rps:10.0f} {ratio:6.2f} "
              f"{floor.p50_ms:8.2f}ms {ours.p50_ms:8.2f}ms {floor.p99_ms:8.2f}ms "
              f"{ours.p99_ms:8.2f}ms {p99_ratio:6.2f} {ours.non_2xx:12d}  {'; '.join(goals)}")
    rss_verdict = "met" if rss <= RSS_GOAL_MB else "MISSED"
    print(f"\nservice worker RSS after the bench: {rss:.0f} MB (goal <= {RSS_GOAL_MB}: "
          f"{rss_verdict}; logs in {logs})")
    print("429 row: the floor columns are the floor's GET /articles/{id}")


if __name__ == "__main__":
    main()
