"""Cascade thresholds: per target precision, the lowest confidence whose answers reach it.

Computed from out-of-fold predictions (see `app.analysis.ml.user_models`) and stored with
each model; `threshold_for` reads a stored table for any target."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

MIN_THRESHOLD_SUPPORT = 30
"""A threshold must keep at least this many (weighted) out-of-fold rows above it."""
TARGET_PRECISIONS: tuple[float, ...] = tuple(round(0.5 + step / 100, 2) for step in range(50))
"""Targets with a stored threshold: 0.50 to 0.99 in steps of 0.01."""


def target_key(target: float) -> str:
    return f"{target:.2f}"


def precision_thresholds(
    confidence: np.ndarray,
    correct: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    targets: Sequence[float] = TARGET_PRECISIONS,
    min_support: float = MIN_THRESHOLD_SUPPORT,
) -> dict[str, float | None]:
    """Per target precision, the lowest confidence t such that the (weighted) share of correct
    answers among rows with confidence >= t reaches the target; None when no t does."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    weights = np.ones_like(confidence) if weights is None else np.asarray(weights, np.float64)
    order = np.argsort(-confidence, kind="stable")
    ranked = confidence[order]
    mass = np.cumsum(weights[order])
    hits = np.cumsum(weights[order] * correct[order])
    # Only the last row of a run of equal confidences is a possible cut.
    cut = np.ones(len(ranked), dtype=bool)
    cut[:-1] = ranked[1:] != ranked[:-1]
    rows = np.arange(1, len(ranked) + 1)
    valid = cut & (rows >= min_support) & (mass > 0)
    precision = np.divide(hits, mass, out=np.zeros_like(hits), where=mass > 0)
    thresholds: dict[str, float | None] = {}
    for target in targets:
        reached = np.flatnonzero(valid & (precision >= target - 1e-12))
        # The deepest cut that still reaches the target: the lowest qualifying threshold.
        thresholds[target_key(target)] = (
            round(float(ranked[reached[-1]]), 4) if len(reached) else None
        )
    return thresholds


def threshold_for(table: Mapping[str, float | None], target: float) -> float | None:
    """A field's threshold for any target: the stored grid rounded up (never less strict)."""
    if target > TARGET_PRECISIONS[-1] + 1e-9:
        return None
    step = max(TARGET_PRECISIONS[0], math.ceil(round(target * 100, 6)) / 100)
    value = table.get(target_key(step))
    return None if value is None else float(value)
