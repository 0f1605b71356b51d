"""The articles feature; this module is its public surface for other features."""
from .router import router

__all__ = ["router"]
