"""Per field of a user's model, the candidate that does best on the user's own rows.

A user's model can answer category and urgency with:
- "shared + user rows": fitted on the shared training rows plus the user's (weighted up), with
  the shared model's hyperparameters: the shared knowledge adjusted to the user;
- "user rows only": fitted on the user's own labelled rows alone (the same features), for each
  setting in USER_ONLY_PARAMS: what a plain model trained on the user's labels learns.

Each candidate is scored out of fold on the same rows of the user, as analyze() serves it
(urgency with and without the rules, whichever the user's model would then use), and the best
one answers; a tie goes to the shared knowledge. A user whose labels contradict the shared
model gets the user-only candidate; a user with few labels keeps the shared knowledge.
Sentiment, which the shared rows do not label, chooses between the lexicon and the user-only
candidates the same way (see `learned_sentiment`).

The cascade thresholds are then measured on the chosen candidate's out-of-fold answers, so
they hold for whatever answers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from app.analysis.ml.thresholds import MIN_THRESHOLD_SUPPORT
from app.analysis.offline_analyzer import FIELDS, LEARNED_SENTIMENT
from app.analysis.rules import serve_category, serve_urgency

if TYPE_CHECKING:
    from app.analysis.ml.fitting import FieldResult

SHARED_AND_USER = "shared + user rows"
USER_ONLY = "user rows only"
USER_ONLY_PARAMS: tuple[dict[str, Any], ...] = ({"C": 0.1, "class_weight": "balanced"},)
"""The user-only settings tried: the shared model's (strongly regularised, balanced). A looser
one (C=1, no class weights) was tried too and dropped: it was never the better one (synthetic
stream after 300 and 1,500 labels, review sentences after 300 and 1,500) and took a fifth of
a 1,500-row retrain's CPU time."""
MIN_USER_ONLY_ROWS = MIN_THRESHOLD_SUPPORT
"""A user-only candidate needs this many labelled rows of the user for the field: fewer give
an out-of-fold score too noisy to trust over the shared knowledge."""

FitOn = Callable[[Sequence[str | None], dict[str, Any]], "FieldResult"]
Score = Callable[["FieldResult"], float]


@dataclass(frozen=True)
class Recipe:
    """What the candidate selection chose, to fit again on more rows without choosing again:
    per field, (trained on the user's rows alone, hyperparameters); the sentiment head's
    hyperparameters (None: the lexicon answers) and whether it is stacked with the lexicon;
    whether the urgency rules apply."""

    fields: dict[str, tuple[bool, dict[str, Any]]]
    sentiment: dict[str, Any] | None
    sentiment_stacked: bool
    rules_apply: bool


def recipe_of(
    selection: Mapping[str, Mapping[str, Any]],
    results: Mapping[str, FieldResult],
    rule_info: Mapping[str, Any],
) -> Recipe:
    """The recipe of a fitted model: `selection` per field as `choose` reported it, `results`
    per field (sentiment's only when the learned head answers)."""
    sentiment = results.get(LEARNED_SENTIMENT)
    return Recipe(
        fields={
            field: (
                selection.get(field, {}).get("chosen", SHARED_AND_USER) != SHARED_AND_USER,
                dict(results[field].fit.params),
            )
            for field in FIELDS
        },
        sentiment=dict(sentiment.fit.params) if sentiment is not None else None,
        sentiment_stacked=sentiment is not None and sentiment.stack is not None,
        rules_apply=bool(rule_info.get("apply", True)),
    )


def params_name(params: dict[str, Any]) -> str:
    return f"C={params['C']:g},class_weight={params['class_weight']}"


def own_labels(labels: Sequence[str | None], own_rows: Collection[int]) -> list[str | None]:
    """The labels of the user's rows; every other row unlabelled (so not trained on)."""
    own = set(own_rows)
    return [label if index in own else None for index, label in enumerate(labels)]


def best_user_only(
    labels: Sequence[str | None], fit_on: FitOn, score: Score, report: dict[str, Any]
) -> tuple[FieldResult | None, float]:
    """The best user-only candidate by `score` (None if no setting could be fitted); each
    setting's score is recorded in `report`."""
    from app.analysis.ml.dataset import TrainingDataError

    best: FieldResult | None = None
    best_score = -1.0
    scores = report.setdefault("own_rows_accuracy", {})
    for params in USER_ONLY_PARAMS:
        try:
            result = fit_on(labels, dict(params))
        except TrainingDataError as exc:
            report["user_only_error"] = str(exc)
            continue
        value = score(result)
        scores[f"{USER_ONLY} ({params_name(params)})"] = round(value, 4)
        if value > best_score:
            best, best_score = result, value
    return best, best_score


def choose(
    labels: Sequence[str | None],
    own_rows: Collection[int],
    combined: FieldResult,
    fit_on: FitOn,
    score: Score,
) -> tuple[FieldResult, dict[str, Any]]:
    """The combined candidate, or the best user-only one if it scores strictly higher on the
    user's rows out of fold; and a report of the scores for the model's metadata."""
    masked = own_labels(labels, own_rows)
    labelled = sum(label is not None for label in masked)
    report: dict[str, Any] = {"chosen": SHARED_AND_USER, "own_rows": labelled}
    if labelled < MIN_USER_ONLY_ROWS:
        report["reason"] = f"fewer than {MIN_USER_ONLY_ROWS} labelled rows of the user"
        return combined, report
    combined_score = score(combined)
    report["own_rows_accuracy"] = {SHARED_AND_USER: round(combined_score, 4)}
    user_only, user_only_score = best_user_only(masked, fit_on, score, report)
    if user_only is None or user_only_score <= combined_score:
        return combined, report
    report["chosen"] = f"{USER_ONLY} ({params_name(user_only.fit.params)})"
    return user_only, report


def own_rows_accuracy(
    result: FieldResult,
    own_rows: Collection[int],
    weights: np.ndarray,
    served: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> float:
    """Weighted out-of-fold accuracy of `served(positions, proba)` labels on the user's rows
    (positions index `result.rows`)."""
    own = np.flatnonzero(np.isin(result.rows, np.fromiter(own_rows, dtype=np.intp)))
    if not len(own):
        return 0.0
    truth = np.asarray(result.fit.classes)[result.targets[own]]
    labels = served(own, result.oof_proba[own])
    return float(np.average(labels == truth, weights=weights[result.rows[own]]))


def served(
    field: str,
    classes: Sequence[str],
    proba: np.ndarray,
    signals: Sequence[tuple[bool, list[str], str | None]],
    rule_info: Mapping[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and confidences as analyze() serves them (see `rules`); `signals` per row:
    (a high rule fired, the low cues, the category cue)."""
    rules = bool(rule_info.get("apply", True))
    answers = [
        serve_urgency(
            classes,
            row,
            high and rules,
            low if rules else [],
            float(rule_info["high_rate"]),
            float(rule_info.get("low_rate", 0.0)),
        )
        if field == "urgency"
        else serve_category(classes, row, cue)
        if field == "category"
        else (classes[int(np.argmax(row))], float(np.max(row)))
        for row, (high, low, cue) in zip(proba, signals, strict=True)
    ]
    labels = np.array([label for label, _ in answers])
    confidence = np.array([value for _, value in answers], dtype=np.float64)
    return labels, np.clip(confidence, 0.0, 1.0)


def served_accuracy(
    field: str,
    result: FieldResult,
    signals: Sequence[tuple[bool, list[str], str | None]],
    rule_info: Mapping[str, Any],
    own_rows: Sequence[int],
    weights: np.ndarray,
) -> float:
    """Out-of-fold accuracy on the user's rows as served; urgency with or without the rules,
    whichever does better (as the user's model will then decide, see `user_models`)."""
    accuracies = []
    for apply in (True, False) if field == "urgency" else (True,):
        info = {**rule_info, "apply": apply}

        def as_served(
            positions: np.ndarray, proba: np.ndarray, info: Mapping[str, Any] = info
        ) -> np.ndarray:
            row_signals = [signals[i] for i in result.rows[positions]]
            return served(field, result.fit.classes, proba, row_signals, info)[0]

        accuracies.append(own_rows_accuracy(result, own_rows, weights, as_served))
    return max(accuracies)


def rules_on_own_rows(
    result: FieldResult,
    signals: Sequence[tuple[bool, list[str], str | None]],
    rule_info: Mapping[str, Any],
    threshold_rows: Sequence[int],
) -> dict[str, Any]:
    """Whether the urgency rules stay on for this user: out of fold on the user's own rows,
    served with the rules vs the learned model alone. A user whose own labels disagree with
    the rules (their "can't log in" is routine, say) gets the model alone, as the shared
    knowledge should help and never hurt."""
    own = np.isin(result.rows, np.asarray(list(threshold_rows), dtype=np.intp))
    if own.sum() < MIN_THRESHOLD_SUPPORT:
        return {"apply": True}
    truth = np.asarray(result.fit.classes)[result.targets][own]
    row_signals = [signals[i] for i in result.rows[own]]
    accuracy = {}
    for apply in (True, False):
        labels, _ = served(
            "urgency",
            result.fit.classes,
            result.oof_proba[own],
            row_signals,
            {**rule_info, "apply": apply},
        )
        accuracy[apply] = float((labels == truth).mean())
    return {
        "apply": accuracy[True] >= accuracy[False],
        "own_rows_accuracy_with_rules": round(accuracy[True], 4),
        "own_rows_accuracy_without_rules": round(accuracy[False], 4),
    }
