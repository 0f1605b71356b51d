"""Dependencies of the external routes, as `Annotated` aliases."""
from typing import Annotated

from fastapi import Depends, Request

from .fetch import Fetcher


async def get_fetcher(request: Request) -> Fetcher:
    fetcher: Fetcher = request.app.state.external_fetcher
    return fetcher


FetcherDep = Annotated[Fetcher, Depends(get_fetcher)]
