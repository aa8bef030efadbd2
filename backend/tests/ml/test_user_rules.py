"""The urgency rules stay on for a user's model only if they help on the user's own labels."""

from __future__ import annotations

from app.analysis.ml import user_models
from app.analysis.ml.dataset import DEFAULT_TRAIN_CSV, read_rows
from app.analysis.ml.user_models import Row
from app.analysis.offline_analyzer import get_offline_analyzer

LOCKED_OUT = ("Locked out of kiosk {n}", "Kiosk {n} says the login failed again, I cannot log in.")


def kiosk_rows(count: int, urgency: str) -> list[Row]:
    """A customer whose kiosks lock their users out every day: routine for them, low."""
    subject, body = LOCKED_OUT
    return [
        {
            "subject": subject.format(n=n),
            "body": body.format(n=n) + f" Visitor badge {n * 13 % 101}.",
            "category": "support",
            "urgency": urgency,
        }
        for n in range(count)
    ]


def fit(own: list[Row]) -> user_models.TrainedModel:
    base = read_rows(DEFAULT_TRAIN_CSV)[:200]
    rows = base + own
    return user_models.fit(
        rows,
        weights=[1.0] * len(base) + [5.0] * len(own),
        threshold_rows=range(len(base), len(rows)),
    )


def test_rules_that_contradict_the_users_labels_are_switched_off_for_that_user() -> None:
    subject, body = LOCKED_OUT[0].format(n=999), LOCKED_OUT[1].format(n=999)
    shared = get_offline_analyzer().analyze(subject, body)
    assert shared.urgency_signals and shared.urgency == "high"  # "cannot log in" raises it

    model = fit(kiosk_rows(80, "low"))
    rules = model.metadata["urgency_rules"]
    assert rules["apply"] is False
    assert rules["own_rows_accuracy_without_rules"] > rules["own_rows_accuracy_with_rules"]
    result = model.analyzer.analyze(subject, body)
    assert result.urgency == "low"
    assert result.urgency_signals  # still reported (urgent tickets skip the Batch API)


def test_rules_that_agree_with_the_users_labels_stay_on() -> None:
    model = fit(kiosk_rows(80, "high"))
    assert model.metadata["urgency_rules"]["apply"] is True
