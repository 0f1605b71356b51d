"""Liveness and readiness probes (and, later, metrics)."""
from .router import router

__all__ = ["router"]
