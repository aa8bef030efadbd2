"""Learning loop: a user's corrections become their own offline model, promoted only if better.

Training rows (table `training_examples`, one per ticket, per user):
- `feedback`: the labels an agent gave (feedback_category / feedback_urgency /
  feedback_sentiment); a field the agent did not rate is left empty and not trained on;
- `llm` (only with `cascade_settings.learn_from_llm`): LLM or Batch API answers whose
  confidence is at least LLM_MIN_CONFIDENCE; feedback always wins over them.

A retrain fits a candidate on the shared training split plus the user's rows (weighted up),
with the shared model's hyperparameters (sentiment, which the shared data does not label, is
learned from the user's rows alone when they are enough; see `user_models`), and scores it and
the model in use as it was judged (the user's active one, else the shared one) on the user's
held-out rows: a fixed, hash-chosen quarter of them that no judged model trains on. Within
the candidate each field answers with what did best out of fold on the user's trained rows
(see `app.analysis.ml.candidates`). The candidate wins if its score (mean accuracy over the
fields those rows label: category, urgency, sentiment) is at least the current one; then its
recipe (what each field answers with) is fitted again on all the user's rows, held-out ones
too, on the same features (select, then refit), and that model serves, with the judged one
kept inside its artifact for the next gate. Every version is kept (artifact bytes in the
database, so every worker can load it) with its metrics; `rollback` re-activates the
previously active version, or the shared model.

Feedback feeds the loop: each feedback that writes or changes a training row counts one new
label (`cascade_settings.labels_since_retrain`); at RETRAIN_AFTER_NEW_LABELS the count
restarts and the retrain task is queued after the commit.

Nothing crosses users: every query is filtered by user_id, and the rows of a ticket are only
taken when the ticket belongs to that user too.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import unit_of_work
from app.analysis import cascade
from app.analysis.ml import model_versions, user_models
from app.analysis.ml.user_models import Row
from app.analysis.text import MAX_MODEL_CHARS
from app.config import get_settings as get_app_settings
from app.enums import AnalysisSource
from app.errors import Unprocessable
from app.models import (
    CascadeSettings,
    Ticket,
    TicketAnalysis,
    TrainingExample,
    UserModel,
    utcnow,
)

logger = logging.getLogger(__name__)

RETRAIN_USER_MODEL = "triage.retrain_user_model"

FEEDBACK_WEIGHT = 5.0
LLM_WEIGHT = 2.0
SHARED_WEIGHT = 1.0
WEIGHTS = {"shared": SHARED_WEIGHT, "feedback": FEEDBACK_WEIGHT, "llm": LLM_WEIGHT}
LLM_MIN_CONFIDENCE = 0.9
MIN_USER_ROWS = 20
MIN_HOLDOUT_ROWS = 5
HOLDOUT_FRACTION = 0.25
RETRAIN_AFTER_NEW_LABELS = 50
TRAINING_EXTRAS = {"sklearn": "scikit-learn", "scipy": "scipy"}


class TrainingUnavailable(RuntimeError):
    """This process cannot train: the training extras (requirements-training.txt) are not
    installed, as in the slim API image. Nothing was changed."""


def missing_training_extras() -> list[str]:
    """The training extras this process cannot import (none where it can train)."""
    missing = []
    for module, distribution in TRAINING_EXTRAS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(distribution)
    return missing


# --- settings -------------------------------------------------------------------------------
def get_settings(*, db: Session, user_id: int) -> CascadeSettings | None:
    return db.scalar(select(CascadeSettings).where(CascadeSettings.user_id == user_id))


def update_settings(
    *,
    db: Session,
    user_id: int,
    target_precision: float | None = None,
    learn_from_llm: bool | None = None,
    use_llm_batch_api: bool | None = None,
) -> CascadeSettings:
    """Change the given options (the others keep their value)."""
    if target_precision is not None and not (
        cascade.MIN_TARGET_PRECISION <= target_precision <= cascade.MAX_TARGET_PRECISION
    ):
        raise Unprocessable(
            f"target_precision must be between {cascade.MIN_TARGET_PRECISION} "
            f"and {cascade.MAX_TARGET_PRECISION}"
        )
    row = _ensure_settings(db=db, user_id=user_id)
    if target_precision is not None:
        row.target_precision = target_precision
    if learn_from_llm is not None:
        row.learn_from_llm = learn_from_llm
    if use_llm_batch_api is not None:
        row.use_llm_batch_api = use_llm_batch_api
    db.flush()
    cascade.invalidate(user_id)
    return row


def _ensure_settings(*, db: Session, user_id: int) -> CascadeSettings:
    """The user's settings row, created with the defaults on first use (safe under a race)."""
    row = get_settings(db=db, user_id=user_id)
    if row is not None:
        return row
    try:
        with db.begin_nested():
            row = CascadeSettings(
                user_id=user_id,
                target_precision=cascade.DEFAULT_TARGET_PRECISION,
                learn_from_llm=False,
                use_llm_batch_api=False,
                labels_since_retrain=0,
            )
            db.add(row)
    except IntegrityError:
        row = get_settings(db=db, user_id=user_id)
        if row is None:
            raise
    return row


# --- training rows --------------------------------------------------------------------------
def _example_values(ticket: Ticket, analysis: TicketAnalysis) -> dict[str, Any]:
    """The training row of a labelled ticket: the agent's labels if any, else the LLM's."""
    if _has_feedback(analysis):
        origin, category, urgency, sentiment = (
            "feedback",
            analysis.feedback_category,
            analysis.feedback_urgency,
            analysis.feedback_sentiment,
        )
    else:
        origin, category, urgency, sentiment = (
            "llm",
            analysis.category,
            analysis.urgency,
            analysis.sentiment,
        )
    return {
        "subject": ticket.subject[:500],
        "body": ticket.description[:MAX_MODEL_CHARS],
        "category": category,
        "urgency": urgency,
        "sentiment": sentiment,
        "origin": origin,
    }


def _has_feedback(analysis: TicketAnalysis) -> bool:
    return any(
        value is not None
        for value in (
            analysis.feedback_category,
            analysis.feedback_urgency,
            analysis.feedback_sentiment,
        )
    )


def _changed(example: TrainingExample, values: dict[str, Any]) -> bool:
    return any(getattr(example, name) != value for name, value in values.items())


def collect_examples(*, db: Session, user_id: int, include_llm: bool | None = None) -> int:
    """Store the user's labelled tickets as training rows; returns how many were written."""
    if include_llm is None:
        settings = get_settings(db=db, user_id=user_id)
        include_llm = bool(settings and settings.learn_from_llm)
    query = (
        select(TicketAnalysis, Ticket)
        .join(Ticket, Ticket.id == TicketAnalysis.ticket_id)
        .where(TicketAnalysis.user_id == user_id, Ticket.user_id == user_id)
    )
    labelled = (
        TicketAnalysis.feedback_category.is_not(None)
        | TicketAnalysis.feedback_urgency.is_not(None)
        | TicketAnalysis.feedback_sentiment.is_not(None)
    )
    if include_llm:
        labelled |= TicketAnalysis.source.in_((AnalysisSource.llm, AnalysisSource.batch)) & (
            TicketAnalysis.confidence >= LLM_MIN_CONFIDENCE
        )
    existing = {
        example.ticket_id: example
        for example in db.scalars(select(TrainingExample).where(TrainingExample.user_id == user_id))
    }
    written = 0
    for analysis, ticket in db.execute(query.where(labelled)).all():
        values = _example_values(ticket, analysis)
        example = existing.get(ticket.id)
        if example is not None and example.origin == "feedback" and values["origin"] == "llm":
            continue
        if example is None:
            db.add(TrainingExample(user_id=user_id, ticket_id=ticket.id, **values))
            written += 1
        elif _changed(example, values):
            for name, value in values.items():
                setattr(example, name, value)
            written += 1
    db.flush()
    return written


def record_feedback_example(*, db: Session, user_id: int, ticket_id: int) -> bool:
    """Write or refresh the training row of one ticket from its agent feedback.

    A row written or changed counts as one new label; returns True when that brings the user
    to RETRAIN_AFTER_NEW_LABELS since the last queued retrain (the count restarts): then
    call `enqueue_retrain`."""
    pair = db.execute(
        select(TicketAnalysis, Ticket)
        .join(Ticket, Ticket.id == TicketAnalysis.ticket_id)
        .where(
            Ticket.id == ticket_id,
            Ticket.user_id == user_id,
            TicketAnalysis.user_id == user_id,
        )
    ).first()
    if pair is None:
        return False
    analysis, ticket = pair
    if not _has_feedback(analysis):
        return False
    values = _example_values(ticket, analysis)
    existing = select(TrainingExample).where(
        TrainingExample.user_id == user_id, TrainingExample.ticket_id == ticket.id
    )
    example = db.scalar(existing)
    if example is None:
        try:
            with db.begin_nested():
                db.add(TrainingExample(user_id=user_id, ticket_id=ticket.id, **values))
        except IntegrityError:  # a concurrent retrain collected it first: refresh that row
            example = db.scalar(existing)
            if example is None:
                raise
    counts = True
    if example is not None:
        if not _changed(example, values):
            return False
        counts = _first_change_since_training(db, user_id, example)
        for name, value in values.items():
            setattr(example, name, value)
    db.flush()
    return _count_new_label(db, user_id) if counts else False


def _first_change_since_training(db: Session, user_id: int, example: TrainingExample) -> bool:
    """Whether this ticket's row is unchanged since the newest model was trained: toggling one
    ticket's labels counts once per retrain, not once per click."""
    trained_at = model_versions.last_trained_at(db, user_id)
    if trained_at is None:
        return False  # counted when the row was created, and nothing was trained since
    return example.updated_at <= trained_at


def _count_new_label(db: Session, user_id: int) -> bool:
    """Add one to the user's new labels (the row lock serialises concurrent feedback); at
    the threshold, restart the count and report that a retrain is due."""
    _ensure_settings(db=db, user_id=user_id)
    # Counting is not a settings change: updated_at keeps its value.
    count = db.execute(
        update(CascadeSettings)
        .where(CascadeSettings.user_id == user_id)
        .values(
            labels_since_retrain=CascadeSettings.labels_since_retrain + 1,
            updated_at=CascadeSettings.updated_at,
        )
        .returning(CascadeSettings.labels_since_retrain)
    ).scalar_one()
    if count < RETRAIN_AFTER_NEW_LABELS or _cooling_down(db, user_id):
        return False
    db.execute(
        update(CascadeSettings)
        .where(CascadeSettings.user_id == user_id)
        .values(labels_since_retrain=0, updated_at=CascadeSettings.updated_at)
    )
    return True


def _cooling_down(db: Session, user_id: int, cooldown_s: float | None = None) -> bool:
    """The newest model is younger than the cooldown: the count keeps growing, and the first
    new label after the cooldown queues the retrain."""
    if cooldown_s is None:
        cooldown_s = get_app_settings().retrain_cooldown_s
    trained_at = model_versions.last_trained_at(db, user_id)
    return trained_at is not None and utcnow() - trained_at < timedelta(seconds=cooldown_s)


def enqueue_retrain(*, db: Session, user_id: int) -> None:
    """Queue the user's retrain, sent once the caller's transaction commits (so the worker
    sees the rows it trains on) and never if it rolls back. A send that fails after the
    commit is logged; the next RETRAIN_AFTER_NEW_LABELS labels queue it again."""
    unit_of_work.enqueue(db, RETRAIN_USER_MODEL, user_id)


@dataclass(frozen=True)
class UserRow:
    ticket_id: int
    origin: str
    row: Row


def user_rows(*, db: Session, user_id: int) -> list[UserRow]:
    """The user's training rows, oldest first; only rows whose ticket is the user's own."""
    examples = db.scalars(
        select(TrainingExample)
        .join(Ticket, Ticket.id == TrainingExample.ticket_id)
        .where(TrainingExample.user_id == user_id, Ticket.user_id == user_id)
        .order_by(TrainingExample.id)
    )
    return [
        UserRow(
            ticket_id=example.ticket_id,
            origin=example.origin,
            row={
                "subject": example.subject,
                "body": example.body,
                "category": example.category.value if example.category else "",
                "urgency": example.urgency.value if example.urgency else "",
                "sentiment": example.sentiment.value if example.sentiment else "",
            },
        )
        for example in examples
    ]


def is_holdout(user_id: int, ticket_id: int) -> bool:
    """A fixed quarter of each user's tickets is only ever used to score models."""
    digest = hashlib.sha256(f"{user_id}:{ticket_id}".encode()).hexdigest()
    return int(digest[:8], 16) / 2**32 < HOLDOUT_FRACTION


def _weight(origin: str) -> float:
    return FEEDBACK_WEIGHT if origin == "feedback" else LLM_WEIGHT


@dataclass(frozen=True)
class TrainingSet:
    """`rows`/`weights`: what a candidate trains on (shared rows, then the user's trained
    rows); `holdout`/`holdout_weights`: the user's held-out rows, which judge it."""

    rows: list[Row]
    weights: list[float]
    holdout: list[Row]
    user_train_rows: int
    user_ticket_ids: list[int]
    holdout_weights: list[float] = field(default_factory=list)


def training_set(
    *, db: Session, user_id: int, base_rows: Sequence[Row] | None = None
) -> TrainingSet:
    """Shared rows (weight 1) + the user's non-held-out rows (weighted up); the held-out rest."""
    if base_rows is None:
        from app.analysis.ml.dataset import shared_training_rows

        base_rows, _ = shared_training_rows()
    own = user_rows(db=db, user_id=user_id)
    train = [item for item in own if not is_holdout(user_id, item.ticket_id)]
    holdout = [item for item in own if is_holdout(user_id, item.ticket_id)]
    return TrainingSet(
        rows=[*base_rows, *(item.row for item in train)],
        weights=[SHARED_WEIGHT] * len(base_rows) + [_weight(item.origin) for item in train],
        holdout=[item.row for item in holdout],
        user_train_rows=len(train),
        user_ticket_ids=[item.ticket_id for item in own],
        holdout_weights=[_weight(item.origin) for item in holdout],
    )


# --- models ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetrainResult:
    promoted: bool
    reason: str
    version: int | None = None
    candidate: dict[str, Any] = field(default_factory=dict)
    current: dict[str, Any] = field(default_factory=dict)


def retrain_user_model(
    *,
    db: Session,
    user_id: int,
    base_rows: Sequence[Row] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    include_llm: bool | None = None,
    cooldown_s: float | None = None,
) -> RetrainResult:
    """Collect rows, train a candidate, keep it as a new version, activate it if not worse.

    `base_rows` defaults to the shared training split; `params` to the shared model's
    hyperparameters. With `cooldown_s` (the queued task), nothing is trained when the newest
    version is younger than that: a retrain queued twice runs once. Raises
    TrainingUnavailable, before reading or writing anything, where the extras are missing."""
    missing = missing_training_extras()
    if missing:
        raise TrainingUnavailable(
            f"retraining needs the training extras ({', '.join(missing)} not installed): "
            "install backend/requirements-training.txt, or run the worker image; "
            "the model in use is unchanged"
        )
    model_versions.lock_user(db, user_id)
    if cooldown_s is not None and _cooling_down(db, user_id, cooldown_s):
        return RetrainResult(False, f"cooldown: the newest model is under {cooldown_s:g} s old")
    collect_examples(db=db, user_id=user_id, include_llm=include_llm)
    data = training_set(db=db, user_id=user_id, base_rows=base_rows)
    total = data.user_train_rows + len(data.holdout)
    if total < MIN_USER_ROWS:
        return RetrainResult(False, f"need {MIN_USER_ROWS} labelled tickets, have {total}")
    if len(data.holdout) < MIN_HOLDOUT_ROWS:
        return RetrainResult(
            False, f"need {MIN_HOLDOUT_ROWS} held-out tickets, have {len(data.holdout)}"
        )
    version = (
        db.scalar(select(func.max(UserModel.version)).where(UserModel.user_id == user_id)) or 0
    ) + 1
    served, verdict = user_models.select_then_refit(
        data.rows,
        data.holdout,
        weights=[*data.weights, *data.holdout_weights],
        user_rows=data.user_train_rows,
        current=model_versions.judged_analyzer(db, user_id),
        params=params,
        name=f"user{user_id}_v{version}",
    )
    promoted, reason = verdict.promoted, verdict.reason
    if served.judged is not None:
        reason += f"; refitted on all {total} rows of the user"
    row = UserModel(
        user_id=user_id,
        version=version,
        model_version=served.version[:100],
        artifact=served.to_bytes(),
        metrics={
            "promoted": promoted,
            "reason": reason,
            "holdout": verdict.candidate,
            "compared_with": verdict.current,
            "training": {
                "rows": len(data.rows),
                "user_rows": data.user_train_rows,
                "holdout_rows": len(data.holdout),
                "weights": dict(WEIGHTS),
            },
            "refit_of": served.metadata.get("refit_of"),
            "cascade": served.cascade,
        },
        active=False,
    )
    db.add(row)
    db.flush()
    if promoted:
        model_versions.activate(db, user_id, row)
    model_versions.prune(db, user_id)
    db.flush()
    logger.info("retrained user %s model v%s: %s", user_id, version, reason)
    return RetrainResult(
        promoted, reason, version=version, candidate=verdict.candidate, current=verdict.current
    )
