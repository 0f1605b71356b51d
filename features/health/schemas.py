"""Health probe bodies."""
from typing import Literal

from pydantic import BaseModel


class Live(BaseModel):
    status: Literal["ok"] = "ok"


class Check(BaseModel):
    status: Literal["ok", "unavailable"]
    latency_ms: float | None = None
    reason: str | None = None


class Ready(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Check]
