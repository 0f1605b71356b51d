"""Dependencies of the external routes, as `Annotated` aliases."""
from typing import Annotated

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from core.db import get_pool

from .fetch import Fetcher


def get_fetcher(request: Request) -> Fetcher:
    fetcher: Fetcher = request.app.state.external_fetcher
    return fetcher


FetcherDep = Annotated[Fetcher, Depends(get_fetcher)]
# Imports borrow a connection only around their SQL, never across the (slow) fetch.
Pool = Annotated[AsyncConnectionPool, Depends(get_pool)]
