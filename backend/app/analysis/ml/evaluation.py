"""Scoring a model on labelled rows: accuracy, majority baseline and calibration error."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from app.analysis.ml.dataset import Row, field_labels
from app.analysis.offline_analyzer import FIELDS, LEARNED_SENTIMENT, OfflineAnalyzer


def expected_calibration_error(
    confidences: np.ndarray, correct: np.ndarray, bins: int = 10
) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in pairwise(edges):
        in_bin = (confidences > low) & (confidences <= high)
        if in_bin.any():
            error += in_bin.mean() * abs(confidences[in_bin].mean() - correct[in_bin].mean())
    return float(error)


def evaluate(analyzer: OfflineAnalyzer, rows: Sequence[Row]) -> dict[str, Any]:
    """Held-out accuracy of analyze() per field, plus model-only urgency and calibration error."""
    results = analyzer.analyze_many([(row.get("subject", ""), row.get("body", "")) for row in rows])
    proba = analyzer.predict_proba(
        [row.get("subject", "") for row in rows], [row.get("body", "") for row in rows]
    )
    metrics: dict[str, Any] = {"rows": len(rows)}
    for field in FIELDS:
        labels = field_labels(rows, field) if any(field in row for row in rows) else []
        scored = [i for i, label in enumerate(labels) if label is not None]
        if not scored:
            continue
        truth = np.array([labels[i] for i in scored])
        predicted = np.array([str(getattr(results[i], field)) for i in scored])
        classes, probabilities = proba[field]
        model_predicted = np.asarray(classes)[probabilities[scored].argmax(axis=1)]
        confidence = probabilities[scored].max(axis=1)
        metrics[field] = {
            "rows": len(scored),
            "accuracy": round(float((predicted == truth).mean()), 4),
            "model_accuracy": round(float((model_predicted == truth).mean()), 4),
            "expected_calibration_error": round(
                expected_calibration_error(confidence, model_predicted == truth), 4
            ),
            "majority_baseline": round(
                Counter(truth.tolist()).most_common(1)[0][1] / len(truth), 4
            ),
        }
    return metrics


def served_scores(analyzer: OfflineAnalyzer, rows: Sequence[Row]) -> dict[str, Any]:
    """Accuracy of the served answers per labelled field (sentiment too: the learned head or
    the lexicon, whichever answers); `score` is their mean."""
    results = analyzer.analyze_many([(row.get("subject", ""), row.get("body", "")) for row in rows])
    metrics: dict[str, Any] = {"rows": len(rows)}
    accuracies = []
    for field in (*FIELDS, LEARNED_SENTIMENT):
        labels = field_labels(rows, field)
        scored = [i for i, label in enumerate(labels) if label is not None]
        if not scored:
            continue
        correct = sum(str(getattr(results[i], field)) == labels[i] for i in scored)
        accuracy = correct / len(scored)
        metrics[field] = {"rows": len(scored), "accuracy": round(accuracy, 4)}
        accuracies.append(accuracy)
    metrics["score"] = round(sum(accuracies) / len(accuracies), 4) if accuracies else None
    return metrics


@dataclass(frozen=True)
class Verdict:
    promoted: bool
    reason: str
    candidate: dict[str, Any]
    current: dict[str, Any]


def judge(
    candidate: OfflineAnalyzer, current: OfflineAnalyzer, current_label: str, rows: Sequence[Row]
) -> Verdict:
    """A candidate against the model in use on a user's held-out rows: promoted if its score
    (`served_scores`) is at least the current one's."""
    candidate_metrics = served_scores(candidate, rows)
    current_metrics = served_scores(current, rows)
    candidate_score = candidate_metrics["score"] or 0.0
    current_score = current_metrics["score"] or 0.0
    promoted = candidate_score >= current_score
    reason = (
        f"held-out score {candidate_score:.3f} {'≥' if promoted else '<'} {current_score:.3f} "
        f"({current_label}) on {len(rows)} tickets"
    )
    return Verdict(promoted, reason, candidate_metrics, {"model": current_label, **current_metrics})
