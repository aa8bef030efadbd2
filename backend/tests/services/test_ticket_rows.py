"""The read routes' plain rows show what the ORM objects would."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.enums import StepStatus
from app.models import ProcessingLog, Ticket, TicketAnalysis
from app.pipeline import ticket_rows
from app.schemas import TicketDetail
from tests.factories import UserFactory, create_analysed_ticket


def test_a_detail_reads_as_the_orm_objects_would_show_it(db: Session, users: UserFactory) -> None:
    user = users.create()
    create_analysed_ticket(db, user, zendesk_ticket_id=41, subject="Refund", category="billing")
    ticket, analysis = db.execute(
        select(Ticket, TicketAnalysis)
        .join(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
        .where(Ticket.user_id == user.id, Ticket.zendesk_ticket_id == 41)
    ).one()
    log = ProcessingLog(
        user_id=user.id,
        ticket_id=ticket.id,
        zendesk_ticket_id=41,
        step="analysis",
        status=StepStatus.ok,
        duration_ms=7,
        message="done",
    )
    db.add(log)
    db.flush()
    db.expire_all()  # the ORM objects show what is stored, as the rows do

    detail = ticket_rows.ticket_detail(db, user_id=user.id, zendesk_ticket_id=41)

    assert detail is not None
    from_rows = TicketDetail.model_validate(detail)
    from_orm = TicketDetail.model_validate(
        {"ticket": ticket, "analysis": analysis, "logs": [log]},
        from_attributes=True,
    )
    assert from_rows.model_dump_json() == from_orm.model_dump_json()


def test_a_ticket_never_stored_or_of_another_user_has_no_detail(
    db: Session, users: UserFactory
) -> None:
    owner, other = users.create(), users.create()
    create_analysed_ticket(db, owner, zendesk_ticket_id=42)
    db.flush()
    assert ticket_rows.ticket_detail(db, user_id=other.id, zendesk_ticket_id=42) is None
    assert ticket_rows.ticket_detail(db, user_id=owner.id, zendesk_ticket_id=43) is None
