"""The chapter's testing pattern on search: the DB dependency swapped for a fake."""
from __future__ import annotations

from core.db import get_connection
from features.search import queries
from tests.fakes import FakeConnection, pool_requests


async def test_search_answers_from_the_fake_connection(api):
    analysis = queries.Analysis(
        cursor_key="k", tsq="'fake'", loose="'fake'", lexeme="fake", similar_words=[],
        similar_ndocs=[], completions=[], stems=[],
    )
    hit = queries.Row(id=42, title="Fake hit", slug="fake-hit", rank=0.5,
                      snippet="a \x02fake\x03 <hit>")
    fake = FakeConnection([analysis], [], [hit])  # analyse, planner settings, search
    api.app.dependency_overrides[get_connection] = fake.dependency
    asked = pool_requests(api.app)

    response = await api.get("/search", params={"q": "fake"})

    assert response.status_code == 200
    assert response.json()["items"] == [{
        "id": 42, "title": "Fake hit", "slug": "fake-hit", "rank": 0.5,
        "snippet": "a <mark>fake</mark> &lt;hit&gt;",
    }]
    assert len(fake.executed) == 3
    assert pool_requests(api.app) == asked  # nothing reached PostgreSQL
    api.app.dependency_overrides.clear()
    assert (await api.get("/search", params={"q": "fake"})).json()["items"] == []
