"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import SettingsDep
from app.core.readiness import readiness
from app.schemas import HealthStatus, ReadinessStatus

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", response_model=HealthStatus)
def health() -> HealthStatus:
    """The process is alive."""
    return HealthStatus(status="ok")


@router.get(
    "/ready",
    response_model=ReadinessStatus,
    responses={503: {"model": ReadinessStatus, "description": "A dependency is down"}},
)
def ready(settings: SettingsDep) -> JSONResponse:
    """The database (and Redis, when configured) can be reached."""
    checks = readiness(settings)
    healthy = all(value == "ok" for value in checks.values())
    body = ReadinessStatus(status="ok" if healthy else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
