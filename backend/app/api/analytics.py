"""Analytics endpoints."""

from fastapi import APIRouter

router = APIRouter(prefix="/analytics", tags=["analytics"])
