"""The chapter's testing pattern on articles: the DB dependency swapped for a fake."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.db import get_connection
from tests.fakes import FakeConnection, pool_requests

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def fake_row(article_id: int, **extra: object) -> dict[str, object]:
    return {"id": article_id, "title": "From the fake", "slug": "from-the-fake", "body": "Fake",
            "created_at": WHEN, "updated_at": WHEN, "source_url": None, "published_at": None,
            **extra}


def install(app, fake: FakeConnection, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if how == "item":
        app.dependency_overrides[get_connection] = fake.dependency
    elif how == "new dict":
        app.dependency_overrides = {get_connection: fake.dependency}
    elif how == "|=":
        app.dependency_overrides |= {get_connection: fake.dependency}
    else:
        monkeypatch.setitem(app.dependency_overrides, get_connection, fake.dependency)


@pytest.mark.parametrize("how", ["item", "new dict", "|=", "monkeypatch.setitem"])
async def test_get_by_id_answers_from_the_fake_connection(client, how, monkeypatch):
    article_id = 987_654_321_012
    fake = FakeConnection([fake_row(article_id)])
    install(client.app, fake, how, monkeypatch)
    asked = pool_requests(client.app)

    response = await client.get(f"/articles/{article_id}")

    assert response.status_code == 200
    assert response.json()["title"] == "From the fake"
    assert response.json()["created_at"] == "2026-01-02T03:04:05Z"
    assert response.headers["etag"] == f'"{article_id}-{int(WHEN.timestamp() * 1_000_000)}"'
    assert len(fake.executed) == 1 and "FROM articles" in fake.executed[0]
    assert pool_requests(client.app) == asked  # nothing reached PostgreSQL

    if how == "new dict":
        client.app.dependency_overrides = {}
    elif how == "monkeypatch.setitem":
        monkeypatch.undo()
    else:
        client.app.dependency_overrides.clear()
    assert (await client.get(f"/articles/{article_id}")).status_code == 404  # the real one again
    assert pool_requests(client.app) > asked


async def test_list_answers_from_the_fake_connection(client):
    fake = FakeConnection([fake_row(1), fake_row(2)])
    client.app.dependency_overrides[get_connection] = fake.dependency
    response = await client.get("/articles?limit=5")
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [1, 2]
    assert response.json()["next_cursor"] is None


async def test_response_model_filters_what_a_query_adds(client):
    """A column added to the SELECT (here by the fake) is not sent: ArticleOut decides."""
    fake = FakeConnection([fake_row(5, password="hunter2", source_key="secret")])
    client.app.dependency_overrides[get_connection] = fake.dependency
    response = await client.get("/articles/5")
    assert response.status_code == 200
    assert set(response.json()) == {
        "id", "title", "slug", "body", "created_at", "updated_at", "source_url", "published_at"
    }
    assert "hunter2" not in response.text


async def test_response_model_validates_what_a_route_returns(client):
    """A row that does not fit ArticleOut is a server error, never sent as it is."""
    fake = FakeConnection([fake_row(5, title=None)])
    client.app.dependency_overrides[get_connection] = fake.dependency
    response = await client.get("/articles/5")
    assert response.status_code == 500
    assert response.json() == {"detail": "Server error",
                               "request_id": response.headers["x-request-id"]}


async def get_with_select(client, make_article, monkeypatch, old: str, new: str):
    """GET a fresh article through the route's own fast handler (no override), with the
    SELECT rewritten."""
    from features.articles import queries

    article = await make_article()
    monkeypatch.setattr(queries, "GET_BY_ID", queries.GET_BY_ID.replace(old, new, 1))
    return await client.get(f"/articles/{article['id']}")


async def test_response_model_filters_on_the_real_path_too(client, make_article, monkeypatch):
    """A column added to the SELECT stays out."""
    response = await get_with_select(
        client, make_article, monkeypatch, "SELECT ", "SELECT source_key, "
    )
    assert response.status_code == 200
    assert set(response.json()) == {
        "id", "title", "slug", "body", "created_at", "updated_at", "source_url", "published_at"
    }


async def test_response_model_validates_on_the_real_path_too(client, make_article, monkeypatch):
    response = await get_with_select(
        client, make_article, monkeypatch, "title,", "NULL::text AS title,"
    )
    assert response.status_code == 500
    assert response.json()["detail"] == "Server error"
