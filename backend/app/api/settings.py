"""Settings endpoints."""

from fastapi import APIRouter

router = APIRouter(prefix="/settings", tags=["settings"])
