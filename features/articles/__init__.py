"""The articles feature; this module is its public surface for other features."""
from .router import router
from .service import SourceArticle, upsert_by_source_key, upsert_many

__all__ = ["SourceArticle", "router", "upsert_by_source_key", "upsert_many"]
