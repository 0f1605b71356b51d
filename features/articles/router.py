"""HTTP routes for articles."""
from fastapi import APIRouter

router = APIRouter(tags=["articles"])
