"""The learning loop: feedback → per-user model, promoted only if not worse; rollback; no
training row ever crosses users."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.integrations import ProcessingOptions
from app.analysis import learning
from app.analysis.ml import model_versions, user_models
from app.analysis.ml.dataset import DEFAULT_TRAIN_CSV, read_rows
from app.analysis.ml.user_models import Row
from app.analysis.offline_analyzer import get_offline_analyzer
from app.models import Ticket, TicketAnalysis, TrainingExample, User, UserModel
from app.pipeline import analysis as analysis_service
from tests.factories import UserFactory

_ticket_ids = itertools.count(500_000)
MIN_HELD_OUT = learning.MIN_HOLDOUT_ROWS + 3


@pytest.fixture(scope="module")
def base_rows() -> list[Row]:
    """A slice of the shared split keeps each retrain at a second or two."""
    return read_rows(DEFAULT_TRAIN_CSV)[:200]


def kiosk_ticket(number: int) -> tuple[str, str]:
    """The user's own kind of ticket: the shared model calls it a bug; their agents do not."""
    place = ("lobby", "entrance", "cafeteria", "front desk")[number % 4]
    return (
        f"Kiosk {number} screen frozen",
        f"The self-service kiosk {number} at the {place} shows a frozen screen with a spinning "
        f"wheel again. Visitors cannot check in at kiosk {number}.",
    )


def add_ticket(
    db: Session,
    user: User,
    subject: str,
    body: str,
    *,
    feedback: tuple[str, str] | None = None,
    source: str = "local",
    confidence: float = 0.5,
    labels: tuple[str, str] = ("bug", "medium"),
) -> Ticket:
    ticket = Ticket(
        user_id=user.id, zendesk_ticket_id=next(_ticket_ids), subject=subject, description=body
    )
    db.add(ticket)
    db.flush()
    values: dict[str, Any] = {}
    if feedback is not None:
        values = {"feedback_category": feedback[0], "feedback_urgency": feedback[1]}
    db.add(
        TicketAnalysis(
            ticket_id=ticket.id,
            user_id=user.id,
            category=labels[0],
            urgency=labels[1],
            sentiment="neutral",
            source=source,
            confidence=confidence,
            **values,
        )
    )
    db.flush()
    return ticket


def add_kiosk_feedback(
    db: Session,
    user: User,
    numbers: range,
    *,
    train_side: tuple[str, str] = ("other", "low"),
    min_held_out: int = MIN_HELD_OUT,
) -> int:
    """Agents label kiosk tickets other/low; `train_side` overrides the labels of tickets that
    are trained on (the held-out ones always get the right labels).

    Which tickets are held out depends on database ids (they shift whenever another test adds
    rows), so tickets are added past `numbers` until `min_held_out` are held out.
    Returns how many tickets were added."""
    added = held_out = 0
    for number in itertools.chain(numbers, itertools.count(numbers.stop)):
        if added >= len(numbers) and held_out >= min_held_out:
            break
        ticket = add_ticket(db, user, *kiosk_ticket(number))
        analysis = db.scalar(select(TicketAnalysis).where(TicketAnalysis.ticket_id == ticket.id))
        assert analysis is not None
        holdout = learning.is_holdout(user.id, ticket.id)
        labels = ("other", "low") if holdout else train_side
        analysis.feedback_category, analysis.feedback_urgency = labels
        added, held_out = added + 1, held_out + holdout
    db.flush()
    return added


def test_better_model_is_promoted_and_then_used_for_that_user_only(
    db: Session, users: UserFactory, base_rows: list[Row]
) -> None:
    user, other = users.create(), users.create()
    add_kiosk_feedback(db, user, range(40))
    result = learning.retrain_user_model(db=db, user_id=user.id, base_rows=base_rows)
    assert result.promoted, result.reason
    assert result.version == 1 and result.candidate["score"] > result.current["score"]
    row = model_versions.active_model(db=db, user_id=user.id)
    assert row is not None and row.version == 1
    assert row.metrics["compared_with"]["model"] == "shared"

    options = ProcessingOptions(analysis_mode="local")
    mine = analysis_service.analyze(
        *kiosk_ticket(99), options=options, llm=None, user_id=user.id, db=db
    )
    assert mine.model == f"offline-{row.model_version}"
    assert (mine.category, mine.urgency) == ("other", "low")
    theirs = analysis_service.analyze(
        *kiosk_ticket(99), options=options, llm=None, user_id=other.id, db=db
    )
    assert theirs.model == f"offline-{get_offline_analyzer().version}"


def test_promoted_model_serves_a_refit_on_all_rows_and_the_gate_compares_the_judged_one(
    db: Session, users: UserFactory, base_rows: list[Row]
) -> None:
    user = users.create()
    added = add_kiosk_feedback(db, user, range(40))
    first = learning.retrain_user_model(db=db, user_id=user.id, base_rows=base_rows)
    assert first.promoted, first.reason
    assert f"refitted on all {added} rows of the user" in first.reason
    row = model_versions.active_model(db=db, user_id=user.id)
    assert row is not None
    served = user_models.analyzer_from_bytes(row.artifact)
    judged = user_models.judged_analyzer_from_bytes(row.artifact)
    assert served.version == row.model_version != judged.version
    assert row.metrics["refit_of"] == judged.version
    held_out = row.metrics["training"]["holdout_rows"]
    assert served.metadata["training"]["rows"] == len(base_rows) + added
    assert served.metadata["training"]["rows_not_trained_on"] == 0
    assert judged.metadata["training"]["rows_not_trained_on"] == held_out

    # Same rows again: the same candidate, judged against v1 as it was judged (the refit
    # trained on the held-out rows, so scoring it there would flatter it).
    second = learning.retrain_user_model(db=db, user_id=user.id, base_rows=base_rows)
    assert second.current["model"] == "v1"
    assert second.current["score"] == first.candidate["score"] == second.candidate["score"]
    assert second.promoted


def test_worse_model_is_kept_but_not_promoted(
    db: Session, users: UserFactory, base_rows: list[Row]
) -> None:
    user = users.create()
    add_kiosk_feedback(db, user, range(40))
    assert learning.retrain_user_model(db=db, user_id=user.id, base_rows=base_rows).promoted
    # Mislabelled feedback (kiosk tickets called billing/high) outweighs the good rows.
    add_kiosk_feedback(db, user, range(100, 220), train_side=("billing", "high"))
    result = learning.retrain_user_model(db=db, user_id=user.id, base_rows=base_rows)
    assert not result.promoted, result.reason
    assert result.candidate["score"] < result.current["score"]
    assert result.current["model"] == "v1"
    versions = {row.version: row for row in model_versions.list_models(db=db, user_id=user.id)}
    assert versions[1].active and not versions[2].active
    assert versions[2].metrics["promoted"] is False
    assert versions[2].metrics["refit_of"] is None  # kept as judged: no held-out row in it


def test_rollback_restores_the_previous_version_then_the_shared_model(
    db: Session, users: UserFactory, base_rows: list[Row]
) -> None:
    user = users.create()
    add_kiosk_feedback(db, user, range(40))
    assert learning.retrain_user_model(db=db, user_id=user.id, base_rows=base_rows).promoted
    add_kiosk_feedback(db, user, range(40, 60))
    second = learning.retrain_user_model(db=db, user_id=user.id, base_rows=base_rows)
    assert second.promoted and second.version == 2  # as good as v1: at least as good wins

    restored = model_versions.rollback(db=db, user_id=user.id)
    assert restored is not None and restored.version == 1
    assert model_versions.rollback(db=db, user_id=user.id) is None  # back to the shared model
    assert model_versions.active_model(db=db, user_id=user.id) is None
    outcome = analysis_service.analyze(
        *kiosk_ticket(7),
        options=ProcessingOptions(analysis_mode="local"),
        llm=None,
        user_id=user.id,
        db=db,
    )
    assert outcome.model == f"offline-{get_offline_analyzer().version}"
    assert model_versions.rollback(db=db, user_id=user.id, to_version=2).version == 2


def test_no_training_row_crosses_users(
    db: Session, users: UserFactory, base_rows: list[Row]
) -> None:
    alice, bob = users.create(), users.create()
    kiosk_tickets = add_kiosk_feedback(db, alice, range(30))
    secret = ("Bob's secret pricing", "Only Bob's agents ever saw this text.")
    bob_ticket = add_ticket(db, bob, *secret, feedback=("billing", "low"))
    add_ticket(
        db, bob, "Bob's LLM answer", "Confident LLM answer of Bob.", source="llm", confidence=0.99
    )
    # Even a row filed under Alice that points at Bob's ticket is never trained on.
    db.add(
        TrainingExample(
            user_id=alice.id,
            ticket_id=bob_ticket.id,
            subject=secret[0],
            body=secret[1],
            category="billing",
            origin="feedback",
        )
    )
    db.flush()
    learning.collect_examples(db=db, user_id=alice.id, include_llm=True)

    data = learning.training_set(db=db, user_id=alice.id, base_rows=base_rows)
    alice_texts = [row["body"] for row in data.rows[len(base_rows) :]] + [
        row["body"] for row in data.holdout
    ]
    assert len(alice_texts) == kiosk_tickets
    assert all("kiosk" in text for text in alice_texts)
    own_tickets = set(db.scalars(select(Ticket.id).where(Ticket.user_id == alice.id)))
    assert set(data.user_ticket_ids) <= own_tickets

    result = learning.retrain_user_model(
        db=db, user_id=alice.id, base_rows=base_rows, include_llm=True
    )
    row = db.scalar(select(UserModel).where(UserModel.user_id == alice.id))
    assert row is not None and result.version == 1
    assert row.metrics["training"]["rows"] == len(base_rows) + data.user_train_rows
    assert learning.user_rows(db=db, user_id=bob.id) == []  # Bob gave no retrain: none stored


def test_confident_llm_answers_are_training_rows_only_when_enabled(
    db: Session, users: UserFactory
) -> None:
    user = users.create()
    add_ticket(
        db,
        user,
        "Refund",
        "Charged twice",
        source="llm",
        confidence=0.95,
        labels=("billing", "medium"),
    )
    add_ticket(db, user, "Unsure", "Something odd", source="llm", confidence=0.5)
    assert learning.collect_examples(db=db, user_id=user.id) == 0
    learning.update_settings(db=db, user_id=user.id, learn_from_llm=True)
    assert learning.collect_examples(db=db, user_id=user.id) == 1
    [row] = learning.user_rows(db=db, user_id=user.id)
    assert row.origin == "llm" and row.row["category"] == "billing"


def test_too_few_rows_is_no_retrain(db: Session, users: UserFactory, base_rows: list[Row]) -> None:
    user = users.create()
    add_kiosk_feedback(db, user, range(5), min_held_out=0)
    result = learning.retrain_user_model(db=db, user_id=user.id, base_rows=base_rows)
    assert not result.promoted and result.version is None
    assert "need 20 labelled tickets, have 5" in result.reason
    assert model_versions.list_models(db=db, user_id=user.id) == []


MOODS = {"red": "negative", "amber": "neutral", "green": "positive"}


def add_status_messages(
    db: Session, user: User, numbers: range, *, train_side: str | None = None
) -> None:
    """Messages without a subject, rated for sentiment only (as review sentences are): each
    kiosk's status colour is the mood agents give it, which no lexicon reads. `train_side`
    overrides the rating of the messages that are trained on."""
    held_out = 0
    colours = itertools.cycle(MOODS)
    for number in itertools.chain(numbers, itertools.count(numbers.stop)):
        if number >= numbers.stop and held_out >= MIN_HELD_OUT:
            break
        colour = next(colours)
        ticket = add_ticket(db, user, "", f"Kiosk {number} reports status {colour} today.")
        analysis = db.scalar(select(TicketAnalysis).where(TicketAnalysis.ticket_id == ticket.id))
        assert analysis is not None
        holdout = learning.is_holdout(user.id, ticket.id)
        analysis.feedback_sentiment = MOODS[colour] if holdout else train_side or MOODS[colour]
        held_out += holdout
    db.flush()


def test_sentiment_only_feedback_on_messages_without_subject_is_judged_on_sentiment(
    db: Session, users: UserFactory, base_rows: list[Row]
) -> None:
    user = users.create()
    add_status_messages(db, user, range(80))
    first = learning.retrain_user_model(db=db, user_id=user.id, base_rows=base_rows)
    assert first.promoted, first.reason
    assert first.candidate["sentiment"]["accuracy"] > first.current["sentiment"]["accuracy"]
    assert first.candidate["score"] == first.candidate["sentiment"]["accuracy"]

    add_status_messages(db, user, range(100, 300), train_side="positive")  # careless ratings
    second = learning.retrain_user_model(db=db, user_id=user.id, base_rows=base_rows)
    assert not second.promoted, second.reason
    assert second.candidate["sentiment"]["accuracy"] < second.current["sentiment"]["accuracy"]
