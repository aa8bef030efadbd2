"""The per-user bound on synchronous upstream work, as a route dependency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Depends, Request

from app.auth import CurrentUser
from app.rate_limit import ProcessingLimiter
from app.schemas import ErrorResponse


def processing_slot(user: CurrentUser, request: Request) -> Iterator[None]:
    """Hold one of the user's slots while the route runs; 429 (or 503) at once if none."""
    limiter: ProcessingLimiter = request.app.state.processing_limiter
    with limiter.slot(user.id):
        yield


# Released when the route returns, before the response is sent.
PROCESSING_SLOT = Depends(processing_slot, scope="function")
BUSY: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorResponse,
        "description": "Too many of your calls of this kind in progress; see Retry-After",
    },
    503: {
        "model": ErrorResponse,
        "description": (
            "Too many calls of this kind in progress on this server, or the database is"
            " unavailable; see Retry-After"
        ),
    },
}
