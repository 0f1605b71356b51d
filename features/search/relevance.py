"""`make bench-relevance DIR=...`: a judged collection through the service, beside bm25s.

DIR holds `docs.jsonl` ({"id", "title", "text"}), `queries.jsonl` ({"id", "text"}) and
`qrels.tsv` (header, then qid, docid, grade; grade >= 1 is relevant, the grade is the gain).
Each document goes in through POST /articles of one uvicorn worker on loopback (the write path:
search's triggers index it), in a scratch database `search_relevance` on BENCH_DATABASE_URL's
server when set, else on the benchmark's embedded PostgreSQL. Each query goes to GET /search as
typed, cut at the last space within the service's 200 characters; bm25s gets the same text over
the same documents (title and text), and for reference the whole query, which q cannot hold.
ir-measures scores each; a query without results counts 0.

    python -m features.search.relevance DIR
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import httpx
import psycopg

from core.migrations import apply_migrations

from .bench import embedded_server, serve, with_database

DB_NAME = "search_relevance"
Q_MAX = 200  # the service's limit on q
TITLE_MAX = 120  # articles' limit on a title: the rest of a longer one opens the body
DEPTH = 100
MEASURES = ["nDCG@10", "AP@100", "P@10", "R@100"]
LABELS = ["nDCG@10", "MAP@100", "P@10", "R@100"]
Run = dict[str, list[str]]


def read_jsonl(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as lines:
        next(lines)
        for line in lines:
            if line.strip():
                qid, docid, grade = line.split("\t")[:3]
                qrels.setdefault(qid, {})[docid] = int(grade)
    return qrels


def as_typed(text: str) -> str:
    """The query in one line, cut at the last space within Q_MAX characters."""
    text = " ".join(text.split())
    return text if len(text) <= Q_MAX else text[: Q_MAX + 1].rsplit(" ", 1)[0]


def article(doc: dict[str, str]) -> dict[str, str]:
    words = " ".join(doc.get("title", "").split()) or f"Document {doc['id']}"
    title = words if len(words) <= TITLE_MAX else words[: TITLE_MAX + 1].rsplit(" ", 1)[0]
    body = (words[len(title) :] + " " + doc.get("text", "")).strip() or title
    return {"title": title, "slug": f"doc-{doc['id']}".lower(), "body": body}


def database() -> str:
    admin = os.environ.get("BENCH_DATABASE_URL") or embedded_server()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    url = with_database(admin, DB_NAME)
    apply_migrations(url)
    return url


def service_run(docs: list[dict[str, str]], queries: dict[str, str]) -> tuple[Run, float]:
    """Load through POST /articles, then each query's first DEPTH results from GET /search."""
    key = secrets.token_urlsafe(24)
    os.environ["API_KEYS"] = key
    process, base = serve(database())
    run: Run = {}
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            ids: dict[int, str] = {}
            for doc in docs:
                response = client.post(
                    "/articles", json=article(doc), headers={"Authorization": f"Bearer {key}"}
                )
                response.raise_for_status()
                ids[response.json()["id"]] = doc["id"]
            started = time.perf_counter()
            for qid, text in queries.items():
                response = client.get("/search", params={"q": text, "limit": DEPTH})
                response.raise_for_status()
                run[qid] = [ids[item["id"]] for item in response.json()["items"]]
            per_query = (time.perf_counter() - started) * 1000 / len(queries)
    finally:
        process.terminate()
        process.wait(30)
    return run, per_query


def bm25s_run(docs: list[dict[str, str]], queries: dict[str, str]) -> Run:
    import bm25s  # relevance-only dependencies
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    corpus = [f"{d.get('title', '')} {d.get('text', '')}" for d in docs]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(corpus, stopwords="en", stemmer=stemmer, show_progress=False),
                    show_progress=False)
    qids = list(queries)
    tokens = bm25s.tokenize([queries[q] for q in qids], stopwords="en", stemmer=stemmer,
                            show_progress=False)
    found, _ = retriever.retrieve(tokens, k=min(DEPTH, len(docs)), show_progress=False)
    return {qid: [docs[i]["id"] for i in row] for qid, row in zip(qids, found, strict=True)}


def scores(run: Run, qrels: dict[str, dict[str, int]]) -> list[float]:
    """Each measure's mean over every judged query; a query with no results scores 0."""
    import ir_measures

    measures = [ir_measures.parse_measure(m) for m in MEASURES]
    scored = [
        ir_measures.ScoredDoc(qid, docid, float(DEPTH - rank))
        for qid, docids in run.items()
        for rank, docid in enumerate(docids)
    ]
    judged = [ir_measures.Qrel(q, d, g) for q, docs in qrels.items() for d, g in docs.items()]
    per: dict[tuple[str, str], float] = {}
    for metric in ir_measures.iter_calc(measures, judged, scored):
        per[(str(metric.measure), metric.query_id)] = float(metric.value)
    return [statistics.fmean(per.get((str(m), q), 0.0) for q in qrels) for m in measures]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    folder = parser.parse_args(argv).dir
    docs = read_jsonl(folder / "docs.jsonl")
    qrels = read_qrels(folder / "qrels.tsv")
    typed = {q["id"]: q["text"] for q in read_jsonl(folder / "queries.jsonl") if q["id"] in qrels}
    queries = {qid: as_typed(text) for qid, text in typed.items()}
    cut = sum(1 for qid, text in typed.items() if queries[qid] != " ".join(text.split()))
    ours, ms = service_run(docs, queries)
    baseline = bm25s_run(docs, queries)
    whole = bm25s_run(docs, {qid: " ".join(text.split()) for qid, text in typed.items()})
    print(f"\n{folder}: {len(docs)} documents, {len(queries)} judged queries "
          f"({cut} cut to the {Q_MAX}-character limit of q)\n")
    print("| system | " + " | ".join(LABELS) + " | queries with 0 results |")
    print("|---" * (len(LABELS) + 2) + "|")
    results = {}
    systems = [("this service, as typed", ours), ("bm25s", baseline),
               (f"bm25s, whole queries (past {Q_MAX} characters)", whole)]
    for name, run in systems:
        results[name] = values = scores(run, qrels)
        zero = sum(1 for q in queries if not run.get(q))
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + f" | {zero} |")
    ndcg, base = results["this service, as typed"][0], results["bm25s"][0]
    zero = sum(1 for q in queries if not ours.get(q))
    ratio = ndcg / base if base else float("inf")
    print(f"\nsummary: nDCG@10 {ndcg:.3f} vs bm25s {base:.3f} ({ratio:.2f}x), "
          f"{zero} queries with 0 results, {ms:.1f} ms per query")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
