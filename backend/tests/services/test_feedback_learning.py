"""Feedback feeds learning: an agent's correction becomes that user's training row, and every
RETRAIN_AFTER_NEW_LABELS new labels queue one retrain, after the commit."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery import Celery
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import unit_of_work
from app.analysis import learning
from app.analysis.ml import model_versions
from app.analytics import reports
from app.config import get_settings
from app.models import CascadeSettings, TicketAnalysis, TrainingExample, User, UserModel, utcnow
from tests.factories import UserFactory, create_analysed_ticket

THRESHOLD = learning.RETRAIN_AFTER_NEW_LABELS
UNREACHABLE_BROKER = "redis://127.0.0.1:9/0"
_ticket_ids = itertools.count(700_000)


class RecordingQueue:
    """Stands in for the Celery queue: the commit owner hands it what the unit of work sent."""

    def __init__(self) -> None:
        self.user_ids: list[int] = []

    def __call__(self, job: unit_of_work.QueuedJob) -> None:
        assert job.task == learning.RETRAIN_USER_MODEL
        self.user_ids.append(*job.args)


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def unreachable_queue() -> Iterator[Celery]:
    """A Celery app whose broker refuses connections, as when Redis is down."""
    app = Celery("unreachable", broker=UNREACHABLE_BROKER, set_as_current=False)
    app.conf.broker_connection_timeout = 1
    yield app
    app.close()


def analysed_ticket(db: Session, user: User, zendesk_ticket_id: int | None = None) -> int:
    zendesk_ticket_id = zendesk_ticket_id or next(_ticket_ids)
    create_analysed_ticket(
        db,
        user,
        zendesk_ticket_id=zendesk_ticket_id,
        subject=f"Kiosk {zendesk_ticket_id} frozen",
        category="bug",
        urgency="medium",
    )
    return zendesk_ticket_id


def give_feedback(
    db: Session, user: User, zendesk_ticket_id: int, queue: Any, **labels: Any
) -> dict[str, Any]:
    """One request's unit of work; the test's transaction stands in for its commit, after
    which the jobs it enqueued are sent."""
    labels = labels or {"category": "other", "urgency": "low"}
    result = reports.record_feedback(
        db=db, user_id=user.id, zendesk_ticket_id=zendesk_ticket_id, **labels
    )
    unit_of_work.send_after_commit(db, queue)
    return result


def training_rows(db: Session, user: User) -> list[TrainingExample]:
    return list(
        db.scalars(
            select(TrainingExample)
            .where(TrainingExample.user_id == user.id)
            .order_by(TrainingExample.id)
        )
    )


def new_labels(db: Session, user: User) -> int | None:
    row = db.scalar(select(CascadeSettings).where(CascadeSettings.user_id == user.id))
    if row is None:
        return None
    db.refresh(row)
    return row.labels_since_retrain


def test_feedback_creates_a_training_row_for_that_user_only(
    db: Session, users: UserFactory, queue: RecordingQueue
) -> None:
    alice, bob = users.create(), users.create()
    analysed_ticket(db, alice, 4242)
    analysed_ticket(db, bob, 4242)  # the same Zendesk id in another account
    give_feedback(db, alice, 4242, queue, category="billing", urgency="high")

    [row] = training_rows(db, alice)
    assert (row.origin, row.category, row.urgency) == ("feedback", "billing", "high")
    assert row.subject == "Kiosk 4242 frozen"
    assert training_rows(db, bob) == []
    assert new_labels(db, alice) == 1
    assert new_labels(db, bob) is None
    assert queue.user_ids == []


def test_later_feedback_refreshes_the_same_row(
    db: Session, users: UserFactory, queue: RecordingQueue
) -> None:
    user = users.create()
    ticket = analysed_ticket(db, user)
    give_feedback(db, user, ticket, queue, category="billing")
    give_feedback(db, user, ticket, queue, urgency="high")

    [row] = training_rows(db, user)
    assert (row.category, row.urgency) == ("billing", "high")
    assert new_labels(db, user) == 1  # one ticket changed: one new label
    give_feedback(db, user, ticket, queue, category="billing")  # nothing new
    assert new_labels(db, user) == 1


def test_sentiment_alone_is_a_training_row_for_sentiment_only(
    db: Session, users: UserFactory, queue: RecordingQueue
) -> None:
    """A user's model learns sentiment too; the fields the agent did not rate stay empty."""
    user = users.create()
    give_feedback(db, user, analysed_ticket(db, user), queue, sentiment="negative")
    [row] = training_rows(db, user)
    assert (row.origin, row.category, row.urgency, row.sentiment) == (
        "feedback",
        None,
        None,
        "negative",
    )
    assert new_labels(db, user) == 1


def test_feedback_turns_an_llm_training_row_into_the_agents_labels(
    db: Session, users: UserFactory, queue: RecordingQueue
) -> None:
    user = users.create()
    ticket = analysed_ticket(db, user)
    analysis = db.scalar(select(TicketAnalysis).where(TicketAnalysis.user_id == user.id))
    assert analysis is not None
    analysis.source, analysis.confidence = "llm", 0.99
    learning.update_settings(db=db, user_id=user.id, learn_from_llm=True)
    assert learning.collect_examples(db=db, user_id=user.id) == 1
    [llm_row] = training_rows(db, user)
    assert (llm_row.origin, llm_row.sentiment) == ("llm", analysis.sentiment)

    give_feedback(db, user, ticket, queue, category="other")
    [row] = training_rows(db, user)
    assert (row.origin, row.category, row.urgency) == ("feedback", "other", None)


def test_retrain_is_queued_once_when_the_threshold_is_reached(
    db: Session, users: UserFactory, queue: RecordingQueue
) -> None:
    user, other = users.create(), users.create()
    tickets = [analysed_ticket(db, user) for _ in range(THRESHOLD + 1)]
    give_feedback(db, other, analysed_ticket(db, other), queue)
    for ticket in tickets[: THRESHOLD - 1]:
        give_feedback(db, user, ticket, queue)
    assert queue.user_ids == []
    assert new_labels(db, user) == THRESHOLD - 1

    give_feedback(db, user, tickets[THRESHOLD - 1], queue)
    assert queue.user_ids == [user.id]
    assert new_labels(db, user) == 0  # counting restarts for the next retrain
    assert len(training_rows(db, user)) == THRESHOLD

    give_feedback(db, user, tickets[THRESHOLD], queue)
    assert queue.user_ids == [user.id]
    assert new_labels(db, user) == 1
    assert new_labels(db, other) == 1


def test_the_retrain_is_enqueued_in_the_callers_unit_of_work_not_committed_or_sent(
    db: Session, users: UserFactory
) -> None:
    user = users.create()
    tickets = [analysed_ticket(db, user) for _ in range(THRESHOLD)]
    outer = db.get_transaction()
    for ticket in tickets:
        reports.record_feedback(db=db, user_id=user.id, zendesk_ticket_id=ticket, category="other")
    assert db.get_transaction() is outer and outer is not None and outer.is_active
    assert unit_of_work.pending(db) == [
        unit_of_work.QueuedJob(task=learning.RETRAIN_USER_MODEL, args=(user.id,))
    ]
    db.rollback()  # the owner rolls back: nothing is sent
    unit_of_work.discard(db)
    assert unit_of_work.pending(db) == []


def test_unreachable_queue_is_logged_and_the_feedback_still_stands(
    db: Session,
    users: UserFactory,
    queue: RecordingQueue,
    unreachable_queue: Celery,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = users.create()
    tickets = [analysed_ticket(db, user) for _ in range(THRESHOLD)]
    for ticket in tickets[: THRESHOLD - 1]:
        give_feedback(db, user, ticket, queue)

    def send_to_unreachable_broker(job: unit_of_work.QueuedJob) -> None:
        unreachable_queue.send_task(job.task, args=list(job.args), retry=False)

    with caplog.at_level(logging.ERROR, logger="app.unit_of_work"):
        result = give_feedback(db, user, tickets[THRESHOLD - 1], send_to_unreachable_broker)
    assert result["feedback_category"] == "other"
    assert f"could not send {learning.RETRAIN_USER_MODEL}({user.id},)" in caplog.text
    assert len(training_rows(db, user)) == THRESHOLD
    assert queue.user_ids == []


def test_feedback_through_the_api_stores_the_training_row(
    client: TestClient, db: Session, users: UserFactory
) -> None:
    user, headers = users.authed()
    other, other_headers = users.authed()
    ticket = analysed_ticket(db, user)
    response = client.post(
        f"/tickets/{ticket}/feedback", json={"category": "feature"}, headers=headers
    )
    assert response.status_code == 200, response.text
    [row] = training_rows(db, user)
    assert (row.origin, row.category) == ("feedback", "feature")
    response = client.post(
        f"/tickets/{ticket}/feedback", json={"category": "bug"}, headers=other_headers
    )
    assert response.status_code == 404
    assert training_rows(db, other) == []


def fake_model_version(db: Session, user: User, version: int, age_s: float) -> UserModel:
    """A stored model version trained `age_s` seconds ago (artifact bytes are not read here)."""
    row = UserModel(
        user_id=user.id,
        version=version,
        model_version=f"user{user.id}_v{version}",
        artifact=b"",
        metrics={},
        active=False,
        created_at=utcnow() - timedelta(seconds=age_s),
    )
    db.add(row)
    db.flush()
    return row


def test_toggling_one_tickets_feedback_counts_one_label_until_the_next_retrain(
    db: Session, users: UserFactory, queue: RecordingQueue
) -> None:
    user = users.create()
    ticket = analysed_ticket(db, user)
    for round_ in range(THRESHOLD):
        give_feedback(db, user, ticket, queue, category="billing" if round_ % 2 else "feature")
    assert new_labels(db, user) == 1
    assert queue.user_ids == []

    fake_model_version(db, user, 1, age_s=0)  # a retrain since: the next change is new
    give_feedback(db, user, ticket, queue, category="other")
    give_feedback(db, user, ticket, queue, category="bug")
    assert new_labels(db, user) == 2


def test_no_retrain_is_queued_within_the_cooldown_and_the_count_waits(
    db: Session, users: UserFactory, queue: RecordingQueue
) -> None:
    user = users.create()
    cooldown_s = get_settings().retrain_cooldown_s
    assert cooldown_s > 0
    fake_model_version(db, user, 1, age_s=cooldown_s / 2)
    tickets = [analysed_ticket(db, user) for _ in range(THRESHOLD + 1)]
    for ticket in tickets[:THRESHOLD]:
        give_feedback(db, user, ticket, queue)
    assert queue.user_ids == []
    assert new_labels(db, user) == THRESHOLD  # kept for when the cooldown is over

    db.execute(
        UserModel.__table__.update()
        .where(UserModel.user_id == user.id)
        .values(created_at=utcnow() - timedelta(seconds=cooldown_s + 1))
    )
    give_feedback(db, user, tickets[THRESHOLD], queue)
    assert queue.user_ids == [user.id]
    assert new_labels(db, user) == 0


def test_the_queued_retrain_skips_when_a_model_was_just_trained(
    db: Session, users: UserFactory
) -> None:
    user = users.create()
    fake_model_version(db, user, 1, age_s=5)
    result = learning.retrain_user_model(db=db, user_id=user.id, cooldown_s=600)
    assert not result.promoted
    assert result.reason.startswith("cooldown")
    assert [row.version for row in model_versions.list_models(db=db, user_id=user.id)] == [1]


@pytest.mark.parametrize("keep", [1, 3])
def test_only_the_last_n_versions_are_kept_and_the_active_one_always(
    db: Session, users: UserFactory, keep: int
) -> None:
    user = users.create()
    for version in range(1, 8):
        fake_model_version(db, user, version, age_s=1000 - version)
    active = db.scalar(
        select(UserModel).where(UserModel.user_id == user.id, UserModel.version == 2)
    )
    assert active is not None
    active.active = True
    db.flush()

    model_versions.prune(db, user.id, keep=keep)
    db.flush()

    kept = [row.version for row in model_versions.list_models(db=db, user_id=user.id)]
    assert kept == sorted([2, *range(7, 7 - (keep - 1), -1)])


def test_the_number_of_kept_versions_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEP_MODEL_VERSIONS", "3")
    monkeypatch.setenv("RETRAIN_COOLDOWN_S", "0")
    settings = type(get_settings())()
    assert (settings.keep_model_versions, settings.retrain_cooldown_s) == (3, 0)
