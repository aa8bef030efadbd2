"""Agents' feedback: the correct labels of an analysed ticket, the ground truth of accuracy."""

from __future__ import annotations

from fastapi import APIRouter

from app.analysis import learning
from app.analytics import reports
from app.api.deps import NOT_FOUND, UNAUTHORIZED
from app.api.tickets import TicketId
from app.auth import CurrentUser
from app.database import SessionDep
from app.schemas.analytics import FeedbackIn, FeedbackOut

router = APIRouter(prefix="/tickets", tags=["tickets"], responses=UNAUTHORIZED)


@router.post(
    "/{ticket_id}/feedback",
    response_model=FeedbackOut,
    responses=NOT_FOUND,
    description="Record the correct category, urgency and/or sentiment of an analysed ticket. "
    "Category and urgency corrections also train your own offline model: every "
    f"{learning.RETRAIN_AFTER_NEW_LABELS} new or changed labels queue a retrain.",
)
def give_feedback(
    ticket_id: TicketId, body: FeedbackIn, user: CurrentUser, db: SessionDep
) -> FeedbackOut:
    result = reports.record_feedback(
        db=db,
        user_id=user.id,
        zendesk_ticket_id=ticket_id,
        category=body.category,
        urgency=body.urgency,
        sentiment=body.sentiment,
    )
    return FeedbackOut.model_validate(result)
