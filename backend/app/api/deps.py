"""Shared dependencies and OpenAPI response declarations for routers."""

from typing import Annotated, Any

from fastapi import Depends

from app.database import SessionDep
from app.schemas import ErrorResponse
from app.unit_of_work import Sender, UnitOfWork, job_sender


def get_unit_of_work(db: SessionDep, sender: Annotated[Sender, Depends(job_sender)]) -> UnitOfWork:
    """The request's session as short transactions (for work that calls an upstream)."""
    return UnitOfWork(db, sender)


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing, invalid or expired token"}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Not found"}
}
