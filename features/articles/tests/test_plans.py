"""The hot paths are one index scan each: no sequential scan, no sort, whatever the table size."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from features.articles import queries

PLANS = [
    (queries.GET_BY_ID, {"id": 1}, "articles_pkey"),
    (queries.GET_BY_SLUG, {"slug": "a"}, "articles_slug_key"),
    (queries.FIRST_PAGE, {"limit": 21}, "articles_created_id_idx"),
    (queries.NEXT_PAGE, {"limit": 21, "created_at": datetime.now(UTC), "id": 5},
     "articles_created_id_idx"),
]


def nodes(plan: dict) -> list[dict]:
    return [plan, *(n for child in plan.get("Plans", []) for n in nodes(child))]


@pytest.mark.parametrize(("sql", "params", "index"), PLANS)
async def test_query_is_an_index_scan_without_sort(db, sql, params, index):
    async with db.transaction():
        # Tiny test tables make a sequential scan cheapest; forbid it to see the plan a large
        # table gets, and so prove the index can serve the query (row comparison included).
        await db.execute("SET LOCAL enable_seqscan = off")
        await db.execute("SET LOCAL enable_sort = off")
        cur = await db.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        row = await cur.fetchone()
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    found = nodes(plan[0]["Plan"])
    assert any(n.get("Index Name") == index for n in found), found
    assert not any(n["Node Type"] in ("Seq Scan", "Sort", "Incremental Sort") for n in found)
