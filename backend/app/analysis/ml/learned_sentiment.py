"""Sentiment in a user's model: a head learned from the user's own labels, or the lexicon
gated by how it does on those labels.

The shared data has no sentiment labels, so the shared model answers sentiment with the lexicon
(`app.analysis.sentiment`) and the cascade does not gate it. A user's labels (agent feedback,
or confident LLM answers) change that:
- with MIN_SENTIMENT_ROWS or more, a sentiment head is fitted like category and urgency and
  kept if its out-of-fold accuracy beats the lexicon's on the same rows; the analyzer then
  answers sentiment with it, and its out-of-fold thresholds gate it;
- otherwise, with MIN_THRESHOLD_SUPPORT or more labelled rows, the lexicon keeps answering and
  its thresholds are measured on those rows: the lowest lexicon confidence at which it agreed
  with the user's labels at least the target share of the time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from app.analysis.ml.thresholds import MIN_THRESHOLD_SUPPORT, precision_thresholds
from app.analysis.offline_analyzer import LEARNED_SENTIMENT, get_offline_analyzer

if TYPE_CHECKING:
    from app.analysis.ml.user_models import _FieldResult

Row = dict[str, str]

MIN_SENTIMENT_ROWS = 60
"""A user's model learns sentiment from at least this many sentiment-labelled rows of theirs,
and keeps the learned head only if it beats the lexicon out-of-fold on those rows."""


def _lexicon(rows: Sequence[Row], indices: Sequence[int]) -> tuple[list[str], np.ndarray]:
    analyzer = get_offline_analyzer()
    answers = [
        analyzer.sentiment(rows[i].get("subject", ""), rows[i].get("body", "")) for i in indices
    ]
    return [label.value for label, _ in answers], np.array([c for _, c in answers])


def fit_sentiment(
    rows: Sequence[Row],
    weights: np.ndarray,
    fit_field: Callable[[Sequence[str | None]], _FieldResult],
) -> tuple[_FieldResult | None, dict[str, Any]]:
    """The learned head (or None) and what was decided, for the model's metadata."""
    from app.analysis.ml.dataset import TrainingDataError, field_labels

    labels = field_labels(rows, LEARNED_SENTIMENT)
    labelled = [i for i, label in enumerate(labels) if label is not None]
    report: dict[str, Any] = {"rows": len(labelled), "learned": False}
    if len(labelled) < MIN_SENTIMENT_ROWS:
        report["reason"] = f"fewer than {MIN_SENTIMENT_ROWS} sentiment-labelled rows"
        return None, report
    try:
        result = fit_field(labels)
    except TrainingDataError as exc:
        report["reason"] = str(exc)
        return None, report
    classes = np.asarray(result.fit.classes)
    truth = classes[result.targets]
    learned_right = classes[result.oof_proba.argmax(axis=1)] == truth
    lexicon_labels, _ = _lexicon(rows, [int(i) for i in result.rows])
    lexicon_right = np.asarray(lexicon_labels) == truth
    row_weights = weights[result.rows]
    learned = float(np.average(learned_right, weights=row_weights))
    lexicon = float(np.average(lexicon_right, weights=row_weights))
    report.update(out_of_fold_accuracy=round(learned, 4), lexicon_accuracy=round(lexicon, 4))
    if learned <= lexicon:
        report["reason"] = "the lexicon is at least as accurate on these rows"
        return None, report
    report["learned"] = True
    return result, report


def lexicon_thresholds(
    rows: Sequence[Row], weights: np.ndarray, threshold_rows: Sequence[int]
) -> dict[str, float | None] | None:
    """The lexicon's thresholds measured on the user's sentiment-labelled rows, or None when
    they are fewer than MIN_THRESHOLD_SUPPORT."""
    own = [i for i in threshold_rows if rows[i].get(LEARNED_SENTIMENT, "").strip()]
    if len(own) < MIN_THRESHOLD_SUPPORT:
        return None
    labels, confidence = _lexicon(rows, own)
    truth = [rows[i][LEARNED_SENTIMENT].strip().lower() for i in own]
    correct = np.array([a == b for a, b in zip(labels, truth, strict=True)])
    return precision_thresholds(confidence, correct, weights[np.asarray(own, dtype=np.intp)])
