"""The articles feature; this module is its public surface for other features."""
from .router import router
from .service import upsert_by_source_key

__all__ = ["router", "upsert_by_source_key"]
