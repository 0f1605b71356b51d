"""The shape the README promises: no private framework name outside core/compat.py, and core
modules short enough to read."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "app.py", *(ROOT / "core").glob("*.py"), *(ROOT / "features").rglob("*.py")]
# `fastapi._compat`, `starlette._utils`, `from fastapi.routing import _x`, `routing._x`, ...
PRIVATE = re.compile(
    r"\b(?:fastapi|starlette|uvicorn|limits|pydantic)(?:\.\w+)*\._\w+"
    r"|from\s+(?:fastapi|starlette|uvicorn|limits)[\w.]*\s+import\s+[^\n]*\b_\w+"
)


def test_no_private_framework_name_outside_compat():
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in SOURCES
        if path.name != "compat.py" or path.parent.name != "core"
        for match in PRIVATE.finditer(path.read_text())
    ]
    assert found == []


def test_the_private_name_in_compat_is_one_and_explained():
    text = (ROOT / "core" / "compat.py").read_text()
    assert re.findall(r'"(_\w+)"', text) == ["_effective_route_context_var"]
    assert "why" in text.split('"""')[1]


def test_no_core_module_is_over_300_lines():
    long = {p.name: n for p in (ROOT / "core").glob("*.py")
            if (n := len(p.read_text().splitlines())) > 300}
    assert long == {}


def test_framework_versions_are_pinned_to_the_tested_minor():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'"fastapi>=0\.165(\.\d+)?,<0\.166"', pyproject)
    assert re.search(r'"starlette>=1\.10(\.\d+)?,<1\.11"', pyproject)
    assert re.search(r'"limits\[async-redis\]>=5\.8(\.\d+)?,<5\.9"', pyproject)  # core/compat.py
