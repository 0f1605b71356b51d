"""HTTP routes for external."""
from fastapi import APIRouter

router = APIRouter(tags=["external"])
