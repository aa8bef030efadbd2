"""A user's model learns sentiment from that user's labels, and the cascade then gates it;
per-field targets for thresholds measured on a user's own rows."""

from __future__ import annotations

import itertools

import pytest

from app.analysis import cascade
from app.analysis.ml import user_models
from app.analysis.ml.dataset import DEFAULT_TRAIN_CSV, read_rows
from app.analysis.ml.learned_sentiment import MIN_SENTIMENT_ROWS
from app.analysis.ml.thresholds import MIN_THRESHOLD_SUPPORT, TARGET_PRECISIONS, target_key
from app.analysis.ml.user_models import Row
from app.analysis.offline_analyzer import get_offline_analyzer

MOODS = {"red": "negative", "amber": "neutral", "green": "positive"}


def status_report(number: int, colour: str) -> Row:
    """This customer's kiosks file status reports whose colour code is the sentiment their
    agents give them: words no lexicon reads as a feeling."""
    place = ("lobby", "entrance", "cafeteria", "front desk")[number % 4]
    return {
        "subject": f"Kiosk {number} status report",
        "body": f"Automated report for kiosk {number} at the {place}. Status: {colour}. "
        f"Uptime counter {number * 7 % 97} hours.",
        "category": "support",
        "urgency": "low",
        "sentiment": MOODS[colour],
    }


def user_rows(count: int) -> list[Row]:
    colours = itertools.cycle(MOODS)
    return [status_report(number, next(colours)) for number in range(count)]


def fit(own: list[Row]) -> user_models.TrainedModel:
    base = read_rows(DEFAULT_TRAIN_CSV)[:200]
    rows = base + own
    return user_models.fit(
        rows,
        weights=[1.0] * len(base) + [2.0] * len(own),
        threshold_rows=range(len(base), len(rows)),
    )


@pytest.fixture(scope="module")
def learned() -> user_models.TrainedModel:
    return fit(user_rows(120))


def test_enough_labels_that_beat_the_lexicon_give_the_user_a_learned_sentiment(
    learned: user_models.TrainedModel,
) -> None:
    report = learned.metadata["learned_sentiment"]
    assert report["learned"] is True and report["rows"] == 120
    assert report["out_of_fold_accuracy"] > report["lexicon_accuracy"]
    analyzer = learned.analyzer
    for colour, mood in MOODS.items():
        report_row = status_report(1001, colour)  # a kiosk number never trained on
        subject, body = report_row["subject"], report_row["body"]
        assert analyzer.analyze(subject, body).sentiment.value == mood
        assert get_offline_analyzer().sentiment(subject, body)[0].value == "neutral"


def test_a_learned_sentiment_is_gated_by_its_own_thresholds(
    learned: user_models.TrainedModel,
) -> None:
    table = learned.cascade
    assert set(table["thresholds"]) == {"category", "urgency", "sentiment"}
    assert table["measured_on"]["sentiment"] == "user rows"
    thresholds = cascade.thresholds_from(table, 0.9)
    assert set(thresholds.values) == {"category", "urgency", "sentiment"}

    result = learned.analyzer.analyze("Kiosk 7 status report", "Status: red. Uptime 3 hours.")
    strict = cascade.Thresholds(0.9, {"category": 0.0, "urgency": 0.0, "sentiment": 1.01}, "t")
    decision = cascade.decide(result, strict)
    assert not decision.local and "sentiment" in decision.reason
    lenient = cascade.Thresholds(0.9, {"category": 0.0, "urgency": 0.0, "sentiment": 0.0}, "t")
    assert cascade.decide(result, lenient).local


def test_too_few_labels_to_learn_keep_the_lexicon_gated_by_how_it_does_on_them() -> None:
    few = fit(user_rows(MIN_SENTIMENT_ROWS - 1))
    report = few.metadata["learned_sentiment"]
    assert report["learned"] is False and "fewer than" in report["reason"]
    assert report["gated"].startswith("lexicon")
    subject, body = "Refund", "Absolutely furious, you charged my card twice. Unacceptable."
    assert (
        few.analyzer.analyze(subject, body).sentiment
        == get_offline_analyzer().sentiment(subject, body)[0]
    )
    # The lexicon calls every status report neutral: right on a third of them, so no
    # confidence reaches 0.9 on this user's rows and sentiment never lets a ticket stay local.
    assert cascade.thresholds_from(few.cascade, 0.9).values["sentiment"] is None


def test_with_fewer_labelled_rows_than_a_threshold_needs_sentiment_is_not_gated() -> None:
    none_yet = fit(user_rows(MIN_THRESHOLD_SUPPORT - 1))
    assert "gated" not in none_yet.metadata["learned_sentiment"]
    assert set(cascade.thresholds_from(none_yet.cascade, 0.9).values) == {"category", "urgency"}


def _table(measured_on: str) -> dict[str, object]:
    """Every target's threshold is the target itself: the threshold shows the target used."""
    column = {target_key(t): t for t in TARGET_PRECISIONS}
    return {
        "thresholds": {"category": column, "urgency": column},
        "measured_on": {"category": measured_on, "urgency": measured_on},
    }


@pytest.mark.parametrize("field", cascade.GATED_FIELDS)
def test_per_field_offsets_apply_only_to_thresholds_measured_on_the_users_rows(
    field: str,
) -> None:
    target = 0.9
    own = cascade.thresholds_from(_table("user rows"), target)
    expected = cascade.clamp_target(target - cascade.USER_ROWS_TARGET_OFFSET[field])
    assert own.targets[field] == pytest.approx(expected)
    assert own.values[field] == pytest.approx(expected, abs=0.006)
    shared = cascade.thresholds_from(_table("all rows"), target)
    assert shared.targets[field] == target and shared.values[field] == pytest.approx(target)
