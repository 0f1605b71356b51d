"""Liveness and readiness probes and the Prometheus metrics endpoint."""
from .router import router

__all__ = ["router"]
