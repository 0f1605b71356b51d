"""Property-based fuzzing of the whole OpenAPI document with schemathesis, against a real uvicorn
on loopback, with and without a valid write key.

Checks on every response: no 5xx, the body matches its declared schema, the status code is one
the operation declares, and the content type is the declared one; plus the extras in CHECKS
(a secured operation without its key is 401, invalid input is 4xx, ...). Positive and negative
cases both. CI runs a bounded number of examples per operation and key (`--fuzz-examples`,
default in tests/conftest.py: about 1,400 cases in 20 s); `make fuzz` runs 2000 (about ten minutes).

Fails when a protection goes: tried, a `require_write_key` that lets a missing key through
(ignored_auth, missing_required_header and negative_data_rejection fail) and the core/errors.py
mapping of non-UTF-8 bodies (status_code_conformance fails on the undeclared 400).

Nothing leaves this machine: the two operations that make the server fetch a URL
(POST /external/imports, POST /external/feeds) get their `url` forced to a loopback address,
which the SSRF guard refuses (EXTERNAL_ALLOW_PRIVATE=false) before any connection or DNS lookup;
every other field of their bodies is fuzzed as usual.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)

from conftest import API_KEY, AUTH
from core.migrations import apply_migrations
from tests.live import LiveServer, live_server, server_env
from tests.servers import create_database, drop_database

CHECKS = [
    # What issue 9 asks: no 5xx, declared schemas, declared status codes, declared media types.
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    # Cheap extras that pass: every secured operation refuses the request without its key
    # (OWASP API2), invalid input is a 4xx, declared headers match, undeclared methods are 405,
    # a missing required header is refused, a deleted resource stays gone.
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    unsupported_method,
    missing_required_header,
    use_after_free,
    ensure_resource_availability,
    # Not run: positive_data_acceptance ("schema-valid input is accepted"). Cursors are opaque
    # tokens (a schema-valid string is still an invalid cursor, 422), and PATCH /articles/{id}
    # declares title/slug/body as nullable but answers 422 "cannot be null" (a feature defect,
    # reported: features/articles/schemas.py ArticlePatch).
]
# Never a real address: the guard refuses loopback before connecting, so these fuzz the
# validation of every other field without the server reaching out anywhere.
FETCHING = {("POST", "/external/imports"), ("POST", "/external/feeds")}
REFUSED_URL = "http://127.0.0.1:9/feed.xml"
SEEDED_ARTICLES = 5

SENT: Counter[str] = Counter()


@pytest.fixture(scope="module")
def fuzz_server(
    pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A live server on a database of its own (the fuzz deletes and patches what it finds)."""
    url = create_database(pg_admin_url)
    apply_migrations(url)
    env = server_env(
        url,
        API_KEYS=API_KEY,
        RATE_LIMIT_DEFAULT="1000000/minute",
        SEARCH_RATE_LIMIT="1000000/minute",
        EXTERNAL_ALLOW_PRIVATE="false",
        LOG_LEVEL="WARNING",
    )
    try:
        with live_server(tmp_path_factory.mktemp("fuzz-server"), env) as server:
            seed_articles(server.url)
            yield server
            print(f"\nfuzz: {sum(SENT.values())} cases: {dict(SENT)}")
    finally:
        drop_database(pg_admin_url, url)


def seed_articles(base: str) -> None:
    """A few articles, so small generated ids and slugs also reach the 200/304/412 paths."""
    with httpx.Client(base_url=base, headers=AUTH, trust_env=False, timeout=10) as client:
        for n in range(SEEDED_ARTICLES):
            article = {"title": f"Seed {n}", "slug": f"seed-{n}", "body": f"seed body {n}"}
            client.post("/articles", json=article).raise_for_status()


@pytest.fixture
def api_schema(fuzz_server: LiveServer, fuzz_examples: int) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=fuzz_examples,
        database="none",
    )
    # A generated body over MAX_BODY_BYTES is rightly refused with 413 (declared on every
    # operation that takes a body); negative_data_rejection's default list lacks 413.
    schema.config.checks.negative_data_rejection.expected_statuses = [
        "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"
    ]
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy schema renames each operation's subtest through `node._nodeid`,
    # which pytest 9.2 no longer has; give it one (reporting only, nothing else reads it).
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def send(case: schemathesis.Case, base: str, headers: dict[str, str] | None, kind: str) -> None:
    if (case.method.upper(), case.path) in FETCHING and isinstance(case.body, dict):
        case.body["url"] = REFUSED_URL
    SENT[kind] += 1
    case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=30)


@schema.parametrize()
def test_fuzz_with_a_valid_key(case: schemathesis.Case, fuzz_server: LiveServer) -> None:
    send(case, fuzz_server.url, AUTH, "with key")


@schema.parametrize()
def test_fuzz_without_a_key(case: schemathesis.Case, fuzz_server: LiveServer) -> None:
    # Whatever Authorization the case carries (none, or a generated one) is never a valid key.
    assert API_KEY not in str(case.headers)
    send(case, fuzz_server.url, None, "without key")


async def test_found_by_fuzzing_a_body_that_is_not_utf8_is_422(make_client):
    """Fuzzing found 400 "There was an error parsing the body" (declared nowhere) for bytes
    that are not UTF-8; core/errors.py now answers 422 json_invalid like any malformed JSON."""
    client = await make_client()
    response = await client.post(
        "/articles", content=b'{"title": "\xff\xfe"}',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body"], "msg": "Body is not valid UTF-8 JSON", "type": "json_invalid"}
    ]
