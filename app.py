"""The application: core wiring plus one router per feature. `uvicorn app:app` serves it."""
from fastapi import FastAPI

from core.app import build_app
from core.settings import Settings, load_settings
from features import articles, external, health, search


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_app(
        settings or load_settings(),
        routers=[articles.router, search.router, external.router, health.router],
        lifespans=[external.lifespan],
    )


app = create_app()
