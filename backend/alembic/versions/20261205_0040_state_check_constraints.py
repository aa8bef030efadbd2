"""states as enums: CHECK constraints on the job, item, write-back, delivery, origin, step
and LLM batch state columns (the values the code already writes)

Revision ID: 0040
Revises: 0035
Create Date: 2026-12-05 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> column -> (length, nullable, allowed values); frozen here, not imported from the app
STATES: dict[str, dict[str, tuple[int, bool, tuple[str, ...]]]] = {
    "processing_logs": {"status": (16, False, ("ok", "error", "fallback", "skipped"))},
    "batch_jobs": {
        "state": (20, False, ("queued", "running", "succeeded", "partially_failed", "failed")),
        "origin": (16, False, ("api", "webhook", "poll")),
    },
    "batch_job_items": {
        "status": (16, False, ("pending", "analyzed", "writing", "done", "failed")),
        "write_back": (16, True, ("written", "unchanged", "skipped", "disabled", "failed")),
    },
    "webhook_deliveries": {"status": (16, False, ("queued", "duplicate", "ignored"))},
    "training_examples": {"origin": (16, False, ("feedback", "llm"))},
    "llm_batches": {"state": (16, False, ("submitted", "applied", "failed"))},
    "llm_batch_requests": {
        "state": (16, False, ("submitted", "applied", "failed", "superseded")),
    },
}


def _refuse_unknown_values() -> None:
    """A constraint the stored rows break would fail half-way through (or, rebuilt on SQLite,
    stop the copy): name every offending value first, and change nothing."""
    bind = op.get_bind()
    problems = []
    for table, columns in STATES.items():
        for column, (_, _, values) in columns.items():
            col = sa.column(column, sa.String)
            found = (
                bind.execute(
                    sa.select(col)
                    .select_from(sa.table(table, col))
                    .where(col.is_not(None), col.not_in(values))
                    .distinct()
                )
                .scalars()
                .all()
            )
            if found:
                problems.append(f"{table}.{column}: {sorted(found)!r} (allowed {values!r})")
    if problems:
        raise RuntimeError(
            "rows hold states outside the enums; fix them, then migrate again: "
            + "; ".join(problems)
        )


def _refuse_foreign_keys_on() -> None:
    """SQLite rebuilds each table (copy, drop, rename): with foreign keys on, dropping it
    would cascade into the rows that reference it."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("adding CHECK constraints on SQLite needs PRAGMA foreign_keys=OFF")


def upgrade() -> None:
    _refuse_unknown_values()
    _refuse_foreign_keys_on()
    for table, columns in STATES.items():
        with op.batch_alter_table(table) as batch:
            for column, (length, nullable, values) in columns.items():
                batch.alter_column(
                    column,
                    existing_type=sa.String(length=length),
                    type_=sa.Enum(
                        *values,
                        name=column,
                        native_enum=False,
                        create_constraint=True,
                        length=length,
                    ),
                    existing_nullable=nullable,
                )


def downgrade() -> None:
    _refuse_foreign_keys_on()
    for table, columns in STATES.items():
        with op.batch_alter_table(table) as batch:
            for column, (length, nullable, _) in columns.items():
                batch.drop_constraint(column, type_="check")  # ck_<table>_<column>
                batch.alter_column(
                    column,
                    existing_type=sa.String(length=length),
                    type_=sa.String(length=length),
                    existing_nullable=nullable,
                )
