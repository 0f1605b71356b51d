"""Options for the cross-feature tests: how hard schemathesis fuzzes (`make fuzz` raises it)."""
from __future__ import annotations

import pytest

CI_FUZZ_EXAMPLES = 25


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-examples",
        type=int,
        default=CI_FUZZ_EXAMPLES,
        help=f"schemathesis examples per operation and key in tests/test_fuzz.py "
        f"(default {CI_FUZZ_EXAMPLES}, bounded for CI; `make fuzz` runs 2000)",
    )


@pytest.fixture(scope="session")
def fuzz_examples(request: pytest.FixtureRequest) -> int:
    return int(request.config.getoption("--fuzz-examples"))
