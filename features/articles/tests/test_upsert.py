"""upsert_by_source_key, the public surface the feed import uses."""
from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import psycopg
import pytest

from features.articles import SourceArticle, upsert_by_source_key, upsert_many

from .conftest import lock_waiters, wait_for


async def row(db, article_id: int) -> tuple:
    cur = await db.execute(
        "SELECT title, slug, body, source_key, updated_at FROM articles WHERE id = %s",
        (article_id,),
    )
    return await cur.fetchone()


async def test_created_then_unchanged_then_updated_keeping_the_slug(db, unique, client):
    key = f"feed:{unique}"
    first = await upsert_by_source_key(db, source_key=key, title="T", body="B", slug_hint=unique)
    article_id, outcome = first
    assert outcome == "created"
    title, slug, body, source_key, stamp = await row(db, article_id)
    assert (title, slug, body, source_key) == ("T", unique, "B", key)
    same = await upsert_by_source_key(db, source_key=key, title="T", body="B", slug_hint="other")
    assert same == (article_id, "unchanged")
    assert (await row(db, article_id))[4] == stamp
    changed = await upsert_by_source_key(
        db, source_key=key, title="T2", body="B2", slug_hint="other"
    )
    assert changed == (article_id, "updated")
    title, slug, body, _, new_stamp = await row(db, article_id)
    assert (title, slug, body) == ("T2", unique, "B2") and new_stamp > stamp
    assert (await client.get(f"/articles/by-slug/{unique}")).json()["title"] == "T2"


async def test_slug_is_readable_and_suffixed_on_collision(db, unique, make_article):
    await make_article(slug=f"hello-world-{unique}")
    hint = f"  Héllo, Wörld! {unique.upper()} "
    slugs = []
    for n in range(7):
        article_id, _ = await upsert_by_source_key(
            db, source_key=f"{unique}-{n}", title="T", body="B", slug_hint=hint
        )
        slugs.append((await row(db, article_id))[1])
    base = f"hello-world-{unique}"
    assert slugs[:4] == [f"{base}-2", f"{base}-3", f"{base}-4", f"{base}-5"]
    assert all(re.fullmatch(rf"{base}-[0-9a-f]{{8}}", s) for s in slugs[4:])
    assert len(set(slugs)) == 7


async def test_slug_is_cut_to_120_with_its_suffix(db, unique):
    hint = f"{unique}-" + "word " * 60
    ids = [
        (await upsert_by_source_key(db, source_key=f"{unique}-{n}", title="T", body="B",
                                    slug_hint=hint))[0]
        for n in range(2)
    ]
    slugs = [(await row(db, i))[1] for i in ids]
    assert all(len(s) <= 120 and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", s) for s in slugs)
    assert slugs[1].endswith("-2") and slugs[0] != slugs[1]


async def test_hint_without_letters_still_gives_a_slug(db, unique):
    article_id, _ = await upsert_by_source_key(
        db, source_key=unique, title="T", body="B", slug_hint="!!! ??? 中文"
    )
    assert re.fullmatch(r"article(-[0-9a-z]+)?", (await row(db, article_id))[1])


async def test_input_is_cleaned_like_article_in(db, unique):
    article_id, _ = await upsert_by_source_key(
        db,
        source_key=f"{unique}\x00",
        title="  Ti\x00tle " + "x" * 200,
        body="b\x00" * 100_001 + "tail",
        slug_hint=unique,
    )
    title, _, body, source_key, _ = await row(db, article_id)
    assert title == ("Title " + "x" * 200)[:120]
    assert body == "b" * 100_000
    assert source_key == unique


@pytest.mark.parametrize(("title", "body"), [(" \x00 \t", "B"), ("T", ""), ("T", "\x00\x00")])
async def test_empty_title_or_body_is_value_error_and_nothing_is_written(db, unique, title, body):
    with pytest.raises(ValueError, match="empty"):
        await upsert_by_source_key(db, source_key=unique, title=title, body=body, slug_hint=unique)
    cur = await db.execute("SELECT count(*) FROM articles WHERE source_key = %s", (unique,))
    assert await cur.fetchone() == (0,)


async def test_concurrent_upserts_of_one_key_create_one_article(pg_url, unique, db):
    conns = [await psycopg.AsyncConnection.connect(pg_url, autocommit=True) for _ in range(5)]
    try:
        results = await asyncio.gather(*(
            upsert_by_source_key(c, source_key=unique, title="T", body="B", slug_hint=unique)
            for c in conns
        ))
    finally:
        for c in conns:
            await c.close()
    assert sorted(outcome for _, outcome in results) == ["created"] + ["unchanged"] * 4
    assert len({article_id for article_id, _ in results}) == 1
    cur = await db.execute("SELECT count(*) FROM articles WHERE source_key = %s", (unique,))
    assert await cur.fetchone() == (1,)


async def test_concurrent_upserts_of_one_hint_get_distinct_slugs(pg_url, unique, db):
    conns = [await psycopg.AsyncConnection.connect(pg_url, autocommit=True) for _ in range(4)]
    try:
        results = await asyncio.gather(*(
            upsert_by_source_key(c, source_key=f"{unique}-{n}", title="T", body="B",
                                 slug_hint=unique)
            for n, c in enumerate(conns)
        ))
    finally:
        for c in conns:
            await c.close()
    assert [outcome for _, outcome in results] == ["created"] * 4
    slugs = {(await row(db, article_id))[1] for article_id, _ in results}
    assert slugs == {unique, f"{unique}-2", f"{unique}-3", f"{unique}-4"}


async def test_slug_collision_inside_callers_transaction_keeps_it_usable(db, unique):
    await upsert_by_source_key(db, source_key=f"{unique}-a", title="T", body="B", slug_hint=unique)
    async with db.transaction():
        article_id, outcome = await upsert_by_source_key(
            db, source_key=f"{unique}-b", title="T", body="B", slug_hint=unique
        )
        await db.execute("SELECT 1")  # the transaction is not aborted
    assert outcome == "created"
    assert (await row(db, article_id))[1] == f"{unique}-2"


async def test_provenance_is_shown_and_a_change_updates_it(db, unique, client):
    key = f"feed:{unique}:provenance"
    first = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    article_id, outcome = await upsert_by_source_key(
        db, source_key=key, title="T", body="B", slug_hint=unique,
        source_url=f"https://example.invalid/{unique}", published_at=first,
    )
    assert outcome == "created"
    shown = (await client.get(f"/articles/{article_id}")).json()
    assert shown["source_url"] == f"https://example.invalid/{unique}"
    assert shown["published_at"] == "2024-05-06T07:08:09Z"
    same = await upsert_by_source_key(
        db, source_key=key, title="T", body="B", slug_hint=unique,
        source_url=f"https://example.invalid/{unique}", published_at=first,
    )
    assert same == (article_id, "unchanged")
    moved = await upsert_by_source_key(
        db, source_key=key, title="T", body="B", slug_hint=unique,
        source_url=f"https://example.invalid/{unique}/moved", published_at=None,
    )
    assert moved == (article_id, "updated")
    shown = (await client.get(f"/articles/{article_id}")).json()
    assert (shown["source_url"], shown["published_at"]) == (
        f"https://example.invalid/{unique}/moved", None)


async def test_upsert_many_is_one_set_with_per_article_outcomes(db, unique, make_article):
    await make_article(slug=f"taken-{unique}")
    stamp = datetime(2025, 1, 2, tzinfo=UTC)
    batch = [
        SourceArticle(f"{unique}-a", "A", "Body a", f"taken {unique}",
                      f"https://example.invalid/{unique}/a", stamp),
        SourceArticle(f"{unique}-b", "B", "Body b", f"taken {unique}"),
        SourceArticle(f"{unique}-c", "   ", "Body c", "c"),
        SourceArticle(f"{unique}-a", "A again", "Body", "a"),
    ]
    results = await upsert_many(db, batch)
    assert [r[1] if isinstance(r, tuple) else str(r) for r in results] == [
        "created", "created", "title is empty", "source_key given twice"]
    slugs = [(await row(db, r[0]))[1] for r in results[:2] if isinstance(r, tuple)]
    assert slugs == [f"taken-{unique}-2", f"taken-{unique}-3"]
    cur = await db.execute("SELECT source_url, published_at FROM articles WHERE source_key = %s",
                           (f"{unique}-a",))
    assert await cur.fetchone() == (f"https://example.invalid/{unique}/a", stamp)
    again = await upsert_many(db, [batch[0], SourceArticle(f"{unique}-b", "B2", "Body b", "x")])
    assert again == [(results[0][0], "unchanged"), (results[1][0], "updated")]  # type: ignore[index]


async def test_upsert_many_takes_the_next_slug_when_a_concurrent_writer_wins(db, unique, pg_url):
    """The slug lookup cannot see an uncommitted insert: the set statement then meets the
    unique violation, and the batch goes one by one (no error, no lost article)."""
    async with (await psycopg.AsyncConnection.connect(pg_url) as rival,
                await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as watcher):
        await rival.execute("INSERT INTO articles (title, slug, body) VALUES ('R', %s, 'R')",
                            (f"race-{unique}",))  # open transaction: not visible yet
        batch = [SourceArticle(f"{unique}-race", "Race", "Body", f"race {unique}")]
        task = asyncio.create_task(upsert_many(db, batch))
        await wait_for(lambda: lock_waiters(watcher, "WITH input AS"))
        await rival.commit()
        [result] = await task
    assert isinstance(result, tuple) and result[1] == "created"
    assert (await row(db, result[0]))[1] == f"race-{unique}-2"
