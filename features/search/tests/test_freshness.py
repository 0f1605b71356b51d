"""Writes show in results at once: the index and vocabulary move with the article's row."""
from __future__ import annotations

import psycopg

from features.search.tests.conftest import ids


async def ndoc(db, word: str) -> int:
    cur = await db.execute("SELECT ndoc FROM search_words WHERE word = %s", (word,))
    row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def test_insert_update_delete_are_visible_immediately(api, add, db, word):
    article = await add("Fresh", f"{word}alpha text")
    assert await ids(api, f"{word}alpha") == [article]

    await db.execute(
        "UPDATE articles SET body = %s WHERE id = %s", (f"{word}beta text", article)
    )
    assert await ids(api, f"{word}alpha") == []
    assert await ids(api, f"{word}beta") == [article]

    await db.execute("UPDATE articles SET title = %s WHERE id = %s", (f"{word}gamma", article))
    assert await ids(api, f"{word}gamma") == [article]

    await db.execute("DELETE FROM articles WHERE id = %s", (article,))
    assert await ids(api, f"{word}beta") == []


async def test_vocabulary_counts_follow_writes(add, db, word):
    first = await add("Vocab", f"{word}delta")
    second = await add("Vocab", f"{word}delta and {word}omega")
    assert await ndoc(db, f"{word}delta") == 2
    await db.execute("UPDATE articles SET body = 'other' WHERE id = %s", (second,))
    assert await ndoc(db, f"{word}delta") == 1
    assert await ndoc(db, f"{word}omega") == 0
    await db.execute("DELETE FROM articles WHERE id = %s", (first,))
    assert await ndoc(db, f"{word}delta") == 0


async def test_a_rolled_back_write_leaves_no_trace(api, db, word):
    async with db.transaction(force_rollback=True):
        await db.execute(
            "INSERT INTO articles (title, slug, body) VALUES ('Gone', %s, %s)",
            (f"gone-{word}", f"{word}ghost"),
        )
        assert await ndoc(db, f"{word}ghost") == 1  # same transaction as the write
    assert await ndoc(db, f"{word}ghost") == 0
    assert await ids(api, f"{word}ghost") == []


async def test_concurrent_writers_sharing_words_do_not_wait_for_each_other(pg_url, db, word):
    """Each write only appends its word counts; one writer at a time folds them in."""
    insert = "INSERT INTO articles (title, slug, body) VALUES ('Shared', %s, %s)"
    async with (
        await psycopg.AsyncConnection.connect(pg_url) as first,
        await psycopg.AsyncConnection.connect(pg_url) as second,
    ):
        await first.execute(insert, (f"{word}-first", f"{word}common first"))
        await second.execute("SET lock_timeout = '2s'")  # waiting on `first` would fail here
        await second.execute(insert, (f"{word}-second", f"{word}common second"))
        assert await ndoc(db, f"{word}common") == 0  # neither has committed
        await first.commit()
        await second.commit()
    assert await ndoc(db, f"{word}common") == 2
    await db.execute("DELETE FROM articles WHERE slug LIKE %s", (f"{word}-%",))
    assert await ndoc(db, f"{word}common") == 0
    cur = await db.execute(
        "SELECT count(*) FROM search_vocab_delta WHERE word = %s", (f"{word}common",)
    )
    assert await cur.fetchone() == (0,)  # folded into search_vocab by the last write
