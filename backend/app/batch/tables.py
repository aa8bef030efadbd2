"""Tables of the batch package kept out of `app/models.py` (which imports this module so
that `Base.metadata` holds them)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.column_types import label_enum
from app.enums import BackfillState
from app.models import Base, TimestampMixin


class Backfill(TimestampMixin, Base):
    """A Zendesk search (`POST /tickets/backfill`) and the batch jobs it became (the jobs
    whose `parent_id` is this id); its progress is theirs, summed."""

    __tablename__ = "backfills"
    __table_args__ = (
        CheckConstraint("max_tickets BETWEEN 1 AND 10000", name="max_tickets"),
        CheckConstraint("found IS NULL OR found >= 0", name="found"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[BackfillState] = mapped_column(label_enum(BackfillState, "state"))
    query: Mapped[str] = mapped_column(Text)
    max_tickets: Mapped[int] = mapped_column(Integer)
    # Tickets the search found (at most max_tickets); null until the search has run.
    found: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
