"""The OpenAPI document declares every status code each articles route can return."""
from __future__ import annotations

EXPECTED = {
    ("/articles", "post"): {"201", "401", "409", "413", "422"},
    ("/articles", "get"): {"200", "422"},
    ("/articles/by-slug/{slug}", "get"): {"200", "304", "404"},
    ("/articles/{article_id}", "get"): {"200", "304", "404", "422"},
    ("/articles/{article_id}", "patch"): {"200", "401", "404", "409", "412", "413", "422"},
    ("/articles/{article_id}", "delete"): {"204", "401", "404", "412", "422"},
}


async def test_every_status_code_is_declared(client):
    spec = (await client.get("/openapi.json")).json()
    for (path, method), codes in EXPECTED.items():
        declared = set(spec["paths"][path][method]["responses"])
        # 503: every route borrows a pooled connection (PostgreSQL down or pool exhausted).
        assert codes | {"503"} <= declared, (path, method, codes - declared)


async def test_article_schema_and_headers_are_documented(client):
    spec = (await client.get("/openapi.json")).json()
    article = spec["components"]["schemas"]["ArticleOut"]["properties"]
    assert set(article) == {
        "id", "title", "slug", "body", "created_at", "updated_at", "source_url", "published_at"
    }
    created = spec["paths"]["/articles"]["post"]["responses"]["201"]
    assert {"ETag", "Location"} <= set(created["headers"])
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/ArticleOut")
    listed = spec["paths"]["/articles"]["get"]["responses"]["200"]
    assert "Link" in listed["headers"]
    assert listed["content"]["application/json"]["schema"]["$ref"].endswith("/ArticlePage")
    article_in = spec["components"]["schemas"]["ArticleIn"]
    assert article_in["additionalProperties"] is False


async def test_conditional_headers_are_documented_as_parameters(client):
    spec = (await client.get("/openapi.json")).json()
    for path in ("/articles/{article_id}", "/articles/by-slug/{slug}"):
        parameters = {(p["in"], p["name"]) for p in spec["paths"][path]["get"]["parameters"]}
        assert ("header", "If-None-Match") in parameters, path
    article_params = spec["paths"]["/articles/{article_id}"]["get"]["parameters"]
    assert ("path", "article_id") in {(p["in"], p["name"]) for p in article_params}
    for method in ("patch", "delete"):
        parameters = spec["paths"]["/articles/{article_id}"][method]["parameters"]
        assert ("header", "if-match") in {(p["in"], p["name"].lower()) for p in parameters}
