"""Sentiment in a user's model: a head learned from the user's own labels, or the lexicon
gated by how it does on those labels.

The shared data has no sentiment labels, so the shared model answers sentiment with the lexicon
(`app.analysis.sentiment`) and the cascade does not gate it. A user's labels (agent feedback,
or confident LLM answers) change that:
- with MIN_SENTIMENT_ROWS or more, sentiment heads are fitted on the user's rows (the
  user-only candidates of `candidates`), and the best is kept if its out-of-fold accuracy
  beats the lexicon's on the same rows; the analyzer then answers sentiment with it, and its
  out-of-fold thresholds gate it;
- otherwise, with MIN_THRESHOLD_SUPPORT or more labelled rows, the lexicon keeps answering and
  its thresholds are measured on those rows: the lowest lexicon confidence at which it agreed
  with the user's labels at least the target share of the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from app.analysis.ml import candidates
from app.analysis.ml.thresholds import MIN_THRESHOLD_SUPPORT, precision_thresholds
from app.analysis.offline_analyzer import (
    LEARNED_SENTIMENT,
    get_offline_analyzer,
    sentiment_stack_features,
)

if TYPE_CHECKING:
    from app.analysis.ml.fitting import FieldResult

Row = dict[str, str]

MIN_SENTIMENT_ROWS = 35
"""A user's model learns sentiment from at least this many sentiment-labelled rows of theirs
(the first retrain, after 50 labels, trains on about 37: the rest is held out), and keeps the
learned head only if it beats the lexicon out-of-fold on those rows."""


STACK_FOLDS = 3
STACK_C = 1.0


def _lexicon(rows: Sequence[Row], indices: Sequence[int]) -> tuple[list[str], np.ndarray]:
    analyzer = get_offline_analyzer()
    answers = [
        analyzer.sentiment(rows[i].get("subject", ""), rows[i].get("body", "")) for i in indices
    ]
    return [label.value for label, _ in answers], np.array([c for _, c in answers])


def fit_sentiment(
    rows: Sequence[Row],
    labels: Sequence[str | None],
    weights: np.ndarray,
    fit_on: candidates.FitOn,
    score: candidates.Score,
) -> tuple[FieldResult | None, dict[str, Any]]:
    """The learned head (or None) and what was decided, for the model's metadata: the best
    user-only candidate (see `candidates`), kept if it beats the lexicon out of fold.
    `labels`: the rows' sentiment labels (None: not trained on)."""
    labelled = [i for i, label in enumerate(labels) if label is not None]
    report: dict[str, Any] = {"rows": len(labelled), "learned": False}
    if len(labelled) < MIN_SENTIMENT_ROWS:
        report["reason"] = f"fewer than {MIN_SENTIMENT_ROWS} sentiment-labelled rows"
        return None, report
    result, learned = candidates.best_user_only(labels, fit_on, score, report)
    if result is None:
        report["reason"] = report.pop("user_only_error", "no candidate could be fitted")
        return None, report
    classes = np.asarray(result.fit.classes)
    truth = classes[result.targets]
    lexicon_labels, _ = _lexicon(rows, [int(i) for i in result.rows])
    row_weights = weights[result.rows]
    lexicon = float(np.average(np.asarray(lexicon_labels) == truth, weights=row_weights))
    report.update(out_of_fold_accuracy=round(learned, 4), lexicon_accuracy=round(lexicon, 4))
    report["chosen"] = f"{candidates.USER_ONLY} ({candidates.params_name(result.fit.params)})"
    stacked = _stack(rows, result, row_weights)
    if stacked is not None:
        report["stacked_accuracy"] = round(stacked[1], 4)
        if stacked[1] > learned:
            result, learned = stacked[0], stacked[1]
            report["chosen"] += " stacked with the lexicon"
            report["out_of_fold_accuracy"] = round(learned, 4)
    if learned <= lexicon:
        report["reason"] = "the lexicon is at least as accurate on these rows"
        report.pop("chosen")
        return None, report
    report["learned"] = True
    return result, report


def refit_sentiment(
    rows: Sequence[Row],
    labels: Sequence[str | None],
    weights: np.ndarray,
    fit_on: candidates.FitOn,
    params: dict[str, Any] | None,
    stacked: bool,
) -> tuple[FieldResult | None, dict[str, Any]]:
    """The head `fit_sentiment` chose (None: the lexicon), fitted again on `labels`, stacked
    with the lexicon if it was; nothing is chosen again."""
    from app.analysis.ml.dataset import TrainingDataError

    labelled = sum(label is not None for label in labels)
    report: dict[str, Any] = {"rows": labelled, "learned": False, "refit": True}
    if params is None:
        report["reason"] = "the lexicon was chosen"
        return None, report
    try:
        result = fit_on(labels, dict(params))
    except TrainingDataError as exc:  # the same rows and more: only if labels were changed
        report["reason"] = str(exc)
        return None, report
    report["chosen"] = f"{candidates.USER_ONLY} ({candidates.params_name(result.fit.params)})"
    stack = _stack(rows, result, weights[result.rows]) if stacked else None
    if stack is not None:
        result = stack[0]
        report["chosen"] += " stacked with the lexicon"
    report["learned"] = True
    return result, report


def _stack(
    rows: Sequence[Row], result: FieldResult, weights: np.ndarray
) -> tuple[FieldResult, float] | None:
    """The learned head stacked with the lexicon (a multinomial logistic regression over
    `sentiment_stack_features` of the head's out-of-fold probabilities), its own out-of-fold
    probabilities (cross-validated over those) and accuracy; None with too few rows a class."""
    from dataclasses import replace

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    analyzer = get_offline_analyzer()
    compound = np.array(
        [
            analyzer.sentiment_compound(rows[i].get("subject", ""), rows[i].get("body", ""))
            for i in result.rows
        ]
    )
    features = sentiment_stack_features(result.oof_proba, compound, result.fit.classes)
    targets = result.targets
    n_splits = min(STACK_FOLDS, int(np.bincount(targets).min()))
    if n_splits < 2:
        return None

    def fit(index: np.ndarray) -> LogisticRegression:
        model = LogisticRegression(C=STACK_C, max_iter=1000)
        return model.fit(features[index], targets[index], sample_weight=weights[index])

    oof = np.zeros_like(result.oof_proba)
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0)
    for fit_index, score_index in splitter.split(features, targets):
        oof[score_index] = fit(fit_index).predict_proba(features[score_index])
    accuracy = float(np.average(oof.argmax(axis=1) == targets, weights=weights))
    final = fit(np.arange(len(targets)))
    coef, intercept = final.coef_, final.intercept_
    if coef.shape[0] == 1:  # binary: softmax over (-z/2, z/2) is the logistic of z
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-1, 1]) * intercept / 2
    stacked = replace(result, oof_proba=oof, stack=(coef, intercept))
    return stacked, accuracy


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
