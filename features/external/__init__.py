"""The external feature; this module is its public surface for other features."""
from .lifespan import lifespan
from .router import router

__all__ = ["lifespan", "router"]
