"""Per field, a user's model answers with the candidate that does best on the user's own rows
out of fold: the shared knowledge adjusted to the user, or a model of the user's rows alone;
for sentiment, the lexicon, a head learned from the user's rows, or that head stacked with the
lexicon. The shared knowledge should help, never hurt."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.analysis.ml import candidates, user_models
from app.analysis.ml.dataset import DEFAULT_TRAIN_CSV, read_rows
from app.analysis.ml.user_models import Row
from app.analysis.offline_analyzer import get_offline_analyzer


# --- the rule, with candidates whose out-of-fold score is given --------------------------
@dataclass
class _Fit:
    params: dict[str, Any]


@dataclass
class _Candidate:
    fit: _Fit
    accuracy: float


def _choose(
    own_labels: int, combined: float, user_only: dict[float, float]
) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    """`user_only` maps a setting's C to the accuracy its candidate scores."""
    labels = ["bug"] * own_labels + ["billing"] * 50  # the shared rows come after the user's
    fitted: list[dict[str, Any]] = []

    def fit_on(field_labels: Sequence[str | None], params: dict[str, Any]) -> _Candidate:
        assert all(label is None for label in field_labels[own_labels:])  # user rows only
        fitted.append(params)
        return _Candidate(_Fit(params), user_only[params["C"]])

    chosen, report = candidates.choose(
        labels,
        range(own_labels),
        _Candidate(_Fit({"C": "shared"}), combined),  # type: ignore[arg-type]
        fit_on,  # type: ignore[arg-type]
        lambda candidate: candidate.accuracy,  # type: ignore[attr-defined]
    )
    return chosen, report, fitted


def _settings(accuracy: float, best: float | None = None) -> dict[float, float]:
    """Every user-only setting scores `accuracy`; the last one `best` if given."""
    scores = {params["C"]: accuracy for params in candidates.USER_ONLY_PARAMS}
    if best is not None:
        scores[candidates.USER_ONLY_PARAMS[-1]["C"]] = best
    return scores


def test_a_user_only_candidate_that_does_better_on_the_users_rows_answers() -> None:
    chosen, report, fitted = _choose(200, 0.80, _settings(0.70, best=0.90))
    assert len(fitted) == len(candidates.USER_ONLY_PARAMS)
    assert chosen.fit.params == candidates.USER_ONLY_PARAMS[-1]
    assert report["chosen"].startswith(candidates.USER_ONLY)
    assert report["own_rows_accuracy"][candidates.SHARED_AND_USER] == 0.80


def test_a_tie_keeps_the_shared_knowledge() -> None:
    chosen, report, _ = _choose(200, 0.90, _settings(0.70, best=0.90))
    assert chosen.fit.params == {"C": "shared"}
    assert report["chosen"] == candidates.SHARED_AND_USER


def test_too_few_labels_of_the_user_keep_the_shared_knowledge_without_fitting_more() -> None:
    chosen, report, fitted = _choose(candidates.MIN_USER_ONLY_ROWS - 1, 0.2, _settings(1.0))
    assert chosen.fit.params == {"C": "shared"} and fitted == []
    assert "fewer than" in report["reason"]


# --- trained models -----------------------------------------------------------------------
def _fit(own: list[Row], shared_rows: int = 200) -> user_models.TrainedModel:
    base = read_rows(DEFAULT_TRAIN_CSV)[:shared_rows]
    rows = base + own
    return user_models.fit(
        rows,
        weights=[1.0] * len(base) + [5.0] * len(own),
        threshold_rows=range(len(base), len(rows)),
    )


STATUS = {"red": "negative", "amber": "neutral", "green": "positive"}
FEELINGS = {
    "negative": "This is terrible, I am furious and disappointed, awful service.",
    "neutral": "Please update the shipping address on order {n} to the new one.",
    "positive": "Thank you so much, wonderful help, I love it, great job!",
}


def mixed_messages(count: int) -> list[Row]:
    """A user whose kiosks file colour-coded status reports (no lexicon reads those) beside
    ordinary messages whose feelings the lexicon reads well."""
    rows = []
    for number, colour in zip(range(count), itertools.cycle(STATUS), strict=False):
        if number % 2:
            subject = f"Kiosk {number} status report"
            body = f"Automated report for kiosk {number}. Status: {colour}."
        else:
            subject, body = f"Message {number}", FEELINGS[STATUS[colour]].format(n=number)
        rows.append(
            {
                "subject": subject,
                "body": body,
                "category": "bug" if number % 2 else "other",
                "urgency": "high" if number % 2 else "low",
                "sentiment": STATUS[colour],
            }
        )
    return rows


def test_every_field_records_its_candidates_and_answers_with_the_best() -> None:
    model = _fit(mixed_messages(90))
    for field in ("category", "urgency"):
        report = model.metadata["candidates"][field]
        scores = report["own_rows_accuracy"]
        assert len(scores) == 1 + len(candidates.USER_ONLY_PARAMS)
        assert scores[report["chosen"]] == max(scores.values())
        if scores[candidates.SHARED_AND_USER] == max(scores.values()):
            assert report["chosen"] == candidates.SHARED_AND_USER
    sentiment = model.metadata["learned_sentiment"]
    if sentiment["learned"]:
        assert sentiment["out_of_fold_accuracy"] > sentiment["lexicon_accuracy"]


def test_a_user_who_gives_a_field_one_label_only_keeps_the_shared_knowledge_for_it() -> None:
    rows = [{**row, "category": "support"} for row in mixed_messages(60)]
    report = _fit(rows).metadata["candidates"]["category"]
    assert report["chosen"] == candidates.SHARED_AND_USER
    assert "need at least 2 labels" in report["user_only_error"]


def test_a_head_stacked_with_the_lexicon_is_served_when_it_does_best() -> None:
    model = _fit(mixed_messages(120))
    report = model.metadata["learned_sentiment"]
    assert report["learned"] is True
    stacked = "stacked" in report["chosen"]
    assert ("sentiment_stack_coef" in model.arrays) is stacked
    if stacked:
        assert report["stacked_accuracy"] == report["out_of_fold_accuracy"]
    analyzer = model.analyzer
    for colour, mood in STATUS.items():  # a kiosk never trained on: the lexicon says neutral
        subject = "Kiosk 5001 status report"
        body = f"Automated report for kiosk 5001. Status: {colour}."
        assert analyzer.analyze(subject, body).sentiment.value == mood
    for mood, text in FEELINGS.items():
        assert get_offline_analyzer().sentiment("Message", text.format(n=7))[0].value == mood
        assert analyzer.analyze("Message", text.format(n=7)).sentiment.value == mood
