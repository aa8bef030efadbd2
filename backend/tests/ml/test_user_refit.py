"""Select, then refit: a user's candidate is chosen and judged without the user's held-out
rows; once it wins, the same recipe is fitted again on every row of the user, held-out ones
too, on the features built once for the retrain."""

from __future__ import annotations

import itertools

import pytest

from app.analysis.ml import user_models
from app.analysis.ml.dataset import DEFAULT_TRAIN_CSV, read_rows
from app.analysis.ml.evaluation import Verdict
from app.analysis.ml.user_models import Row, TrainedModel
from app.analysis.offline_analyzer import get_offline_analyzer

MOODS = {"red": "negative", "amber": "neutral", "green": "positive"}


@pytest.fixture(scope="module")
def base_rows() -> list[Row]:
    return read_rows(DEFAULT_TRAIN_CSV)[:200]


def status_messages(numbers: range, colours: list[str]) -> list[Row]:
    """Messages rated for sentiment only: the status colour is the mood (no lexicon reads it);
    "purple" reads as positive to this user."""
    moods = {**MOODS, "purple": "positive"}
    return [
        {
            "subject": "",
            "body": f"Kiosk {number} reports status {colour} today.",
            "sentiment": moods[colour],
        }
        for number, colour in zip(numbers, itertools.cycle(colours), strict=False)
    ]


def refit(
    base_rows: list[Row], trained: list[Row], held_out: list[Row], *, name: str
) -> tuple[TrainedModel, Verdict]:
    """A retrain of a user with these trained and held-out rows against the shared model."""
    return user_models.select_then_refit(
        [*base_rows, *trained],
        held_out,
        weights=[1.0] * len(base_rows) + [5.0] * (len(trained) + len(held_out)),
        user_rows=len(trained),
        current=(get_offline_analyzer(), "shared"),
        params=None,
        name=name,
    )


def test_a_winning_candidate_is_refitted_on_the_held_out_rows_and_carries_the_judged_one(
    base_rows: list[Row],
) -> None:
    trained = status_messages(range(90), list(MOODS))
    # Only the held-out rows ever say "purple": the judged model cannot know what it means.
    held_out = status_messages(range(100, 130), list(MOODS)) + status_messages(
        range(200, 215), ["purple"]
    )
    served, verdict = refit(base_rows, trained, held_out, name="user_refit")
    assert verdict.promoted, verdict.reason
    judged = served.judged
    assert judged is not None and served.metadata["refit_of"] == judged.version
    assert judged.metadata["training"]["rows_not_trained_on"] == len(held_out)
    assert served.metadata["training"]["rows_not_trained_on"] == 0
    assert served.metadata["cascade"]["out_of_fold"]["sentiment"]["rows"] == 90 + 45
    assert judged.metadata["cascade"]["out_of_fold"]["sentiment"]["rows"] == 90

    purple = [("", f"Kiosk {n} reports status purple today.") for n in range(300, 310)]
    assert {str(r.sentiment) for r in served.analyzer.analyze_many(purple)} == {"positive"}
    assert "positive" not in {str(r.sentiment) for r in judged.analyzer.analyze_many(purple)}
    # The refit keeps the judged model's vocabulary: the features were built once.
    assert (served.arrays["word_vocab"] == judged.arrays["word_vocab"]).all()

    blob = served.to_bytes()
    assert user_models.analyzer_from_bytes(blob).version == served.version
    assert user_models.judged_analyzer_from_bytes(blob).version == judged.version


def test_a_losing_candidate_is_not_refitted(base_rows: list[Row]) -> None:
    """A careless labeller (the trained rows' moods rotated: red called positive, ...) loses
    to the lexicon on the held-out rows; what is kept is the judged candidate, never fitted on
    the held-out rows."""
    rotated = {"negative": "positive", "neutral": "negative", "positive": "neutral"}
    trained = [
        {**row, "sentiment": rotated[row["sentiment"]]}
        for row in status_messages(range(90), list(MOODS))
    ]
    held_out = status_messages(range(100, 140), list(MOODS))
    served, verdict = refit(base_rows, trained, held_out, name="user_careless")
    assert not verdict.promoted, verdict.reason
    assert served.judged is None and "refit_of" not in served.metadata
    assert served.metadata["training"]["rows_not_trained_on"] == len(held_out)
    blob = served.to_bytes()
    assert user_models.judged_analyzer_from_bytes(blob).version == served.version
