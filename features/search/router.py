"""HTTP routes for search."""
from fastapi import APIRouter

router = APIRouter(tags=["search"])
