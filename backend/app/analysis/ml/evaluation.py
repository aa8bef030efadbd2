"""Scoring a model on labelled rows: accuracy, majority baseline and calibration error."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from app.analysis.ml.dataset import Row, field_labels
from app.analysis.offline_analyzer import FIELDS, OfflineAnalyzer


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
