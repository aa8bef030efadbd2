"""Fitting one field's linear model: hyperparameters by cross-validation (macro-F1), then
temperature and class-bias calibration of out-of-fold scores; for a user's model
(`fit_fixed`), fixed hyperparameters and weighted rows."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from app.analysis.ml.dataset import TrainingDataError

C_GRID = (0.02, 0.05, 0.1, 0.2, 0.5)
CLASS_WEIGHT_GRID: tuple[str | None, ...] = (None, "balanced")
MIN_CLASS_ROWS = 3
MAX_FOLDS = 5


@dataclass
class FieldFit:
    classes: list[str]
    classifier: LinearSVC
    temperature_scale: float
    params: dict[str, Any]
    cv_accuracy: float
    cv_log_loss: float
    class_counts: dict[str, int]
    dropped_classes: dict[str, int]
    class_bias: np.ndarray | None = None

    def probabilities(self, matrix: sp.csr_matrix) -> np.ndarray:
        logits = logits_of(decision_scores(self.classifier, matrix)) * self.temperature_scale
        return softmax(logits + self.bias, axis=1)

    @property
    def bias(self) -> np.ndarray:
        return np.zeros(len(self.classes)) if self.class_bias is None else self.class_bias


def decision_scores(classifier: LinearSVC, matrix: sp.csr_matrix) -> np.ndarray:
    scores = classifier.decision_function(matrix)
    return scores.reshape(-1, 1) if scores.ndim == 1 else scores


def logits_of(scores: np.ndarray) -> np.ndarray:
    """Per-class logits; a binary LinearSVC has one score column (for the second class)."""
    return np.hstack([np.zeros_like(scores), scores]) if scores.shape[1] == 1 else scores


def fit_calibration(
    scores: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Scale a and per-class bias b for softmax(a * logits + b) minimising the (weighted) log
    loss of out-of-fold scores. The bias puts back the class frequencies that balanced class
    weights take out of the decision scores, so a confidence of 0.75 is right 3 times in 4."""
    logits = logits_of(scores)
    rows = np.arange(len(targets))
    share = (
        np.full(len(targets), 1.0 / len(targets)) if weights is None else weights / weights.sum()
    )
    width = logits.shape[1]

    def log_loss(params: np.ndarray) -> float:
        calibrated = logits * math.exp(params[0]) + params[1:]
        return float(-(log_softmax(calibrated, axis=1)[rows, targets] * share).sum())

    result = minimize(
        log_loss,
        np.zeros(width + 1),
        method="L-BFGS-B",
        bounds=[(-6.0, 6.0)] + [(-5.0, 5.0)] * width,
    )
    bias = result.x[1:] - result.x[1:].mean()
    return float(math.exp(result.x[0])), bias


@dataclass(frozen=True)
class FieldRows:
    """The rows one field trains on: labelled, of labels with enough rows, plus the extra
    (short variant) rows mapped to their source row's position."""

    kept: np.ndarray
    y: np.ndarray
    classes: list[str]
    counts: dict[str, int]
    dropped: dict[str, int]
    targets: np.ndarray
    features: sp.csr_matrix
    extra_features: sp.csr_matrix
    extra_pos: np.ndarray


def field_rows(
    matrix: sp.csr_matrix,
    labels: Sequence[str | None],
    field: str,
    extra_matrix: sp.csr_matrix | None = None,
    extra_source: Sequence[int] = (),
) -> FieldRows:
    counts = Counter(label for label in labels if label is not None)
    dropped = {label: n for label, n in counts.items() if n < MIN_CLASS_ROWS}
    kept = np.array(
        [i for i, label in enumerate(labels) if label is not None and label not in dropped],
        dtype=np.intp,
    )
    y = np.array([labels[i] for i in kept])
    classes = sorted(set(y.tolist()))
    if len(classes) < 2:
        raise TrainingDataError(
            f"{field}: need at least 2 labels with {MIN_CLASS_ROWS}+ rows each; got {dict(counts)}"
        )
    position = {int(row): pos for pos, row in enumerate(kept)}
    extra_pos = np.array([position.get(int(src), -1) for src in extra_source], dtype=np.intp)
    extra_rows = np.flatnonzero(extra_pos >= 0)
    if extra_matrix is None or not len(extra_rows):
        extra_features, extra_pos = matrix[:0], np.empty(0, dtype=np.intp)
    else:
        extra_features, extra_pos = extra_matrix[extra_rows], extra_pos[extra_rows]
    return FieldRows(
        kept=kept,
        y=y,
        classes=classes,
        counts=dict(counts),
        dropped=dropped,
        targets=np.searchsorted(classes, y),
        features=matrix[kept],
        extra_features=extra_features,
        extra_pos=extra_pos,
    )


def fit_field(
    matrix: sp.csr_matrix,
    labels: Sequence[str | None],
    field: str,
    extra_matrix: sp.csr_matrix | None = None,
    extra_source: Sequence[int] = (),
) -> FieldFit:
    """Pick C and class weights by stratified CV, then temperature-scale out-of-fold scores.

    Extra rows (short variants of training rows) inherit their source row's label and are only
    ever trained on, in the folds where their source row is trained on.
    """
    rows = field_rows(matrix, labels, field, extra_matrix, extra_source)
    y, classes, targets = rows.y, rows.classes, rows.targets
    features, extra_features, extra_pos = rows.features, rows.extra_features, rows.extra_pos

    def fit(params: dict[str, Any], fit_index: np.ndarray) -> LinearSVC:
        with_extra = np.flatnonzero(np.isin(extra_pos, fit_index))
        design = sp.vstack([features[fit_index], extra_features[with_extra]], format="csr")
        target = np.concatenate([y[fit_index], y[extra_pos[with_extra]]])
        return LinearSVC(random_state=0, **params).fit(design, target)

    folds = StratifiedKFold(
        n_splits=min(MAX_FOLDS, min(Counter(y.tolist()).values())), shuffle=True, random_state=0
    )
    best: tuple[float, dict[str, Any], np.ndarray] | None = None
    for c_value in C_GRID:
        for class_weight in CLASS_WEIGHT_GRID:
            params = {"C": c_value, "class_weight": class_weight}
            oof = np.zeros((len(y), 1 if len(classes) == 2 else len(classes)))
            for fit_index, score_index in folds.split(features, y):
                oof[score_index] = decision_scores(fit(params, fit_index), features[score_index])
            predicted = logits_of(oof).argmax(axis=1)
            macro_f1 = float(f1_score(targets, predicted, average="macro"))
            if best is None or macro_f1 > best[0] + 1e-9:
                best = (macro_f1, params, oof)
    assert best is not None
    _, params, oof = best
    accuracy = float((logits_of(oof).argmax(axis=1) == targets).mean())
    scale, bias = fit_calibration(oof, targets)
    oof_log_loss = -log_softmax(logits_of(oof) * scale + bias, axis=1)[
        np.arange(len(y)), targets
    ].mean()
    return FieldFit(
        classes=classes,
        classifier=fit(params, np.arange(len(y))),
        temperature_scale=scale,
        class_bias=bias,
        params=params,
        cv_accuracy=accuracy,
        cv_log_loss=float(oof_log_loss),
        class_counts={label: int(rows.counts[label]) for label in classes},
        dropped_classes=rows.dropped,
    )


def calibration_arrays(fit: FieldFit) -> tuple[np.ndarray, np.ndarray]:
    """Temperature scaling in the artifact's general form softmax(scores @ coef.T + intercept)."""
    width = fit.classifier.coef_.shape[0]
    if len(fit.classes) == 2:
        coef = np.array([[0.0], [fit.temperature_scale]])
    else:
        coef = np.eye(width) * fit.temperature_scale
    return coef, fit.bias


# --- a user's model: fixed hyperparameters, weighted rows --------------------------------------
FIT_TOLERANCE = 1e-3
"""liblinear stopping tolerance (default 1e-4): same accuracy here, about half the iterations."""


@dataclass
class FieldResult:
    """One field fitted with fixed hyperparameters, and its out-of-fold probabilities on the
    rows it trained on (`rows`: their positions in the training rows)."""

    fit: FieldFit
    rows: np.ndarray
    targets: np.ndarray
    oof_proba: np.ndarray
    stack: tuple[np.ndarray, np.ndarray] | None = None
    """For sentiment: the lexicon stacking's coefficients and intercept (see
    `learned_sentiment`); `oof_proba` are then the stacked ones."""


def fit_fixed(
    matrix: sp.csr_matrix,
    labels: Sequence[str | None],
    weights: np.ndarray,
    extra_matrix: sp.csr_matrix | None,
    extra_source: Sequence[int],
    params: Mapping[str, Any],
    field: str,
    folds: int,
) -> FieldResult:
    """Out-of-fold scores with fixed hyperparameters, temperature, then the final fit on every
    labelled row (an unlabelled row, None, is not trained on)."""
    field_data = field_rows(matrix, labels, field, extra_matrix, extra_source)
    y, classes, targets = field_data.y, field_data.classes, field_data.targets
    features, extra_pos = field_data.features, field_data.extra_pos
    extra_features = field_data.extra_features
    row_weights = weights[field_data.kept]

    def fit_on(fit_index: np.ndarray) -> LinearSVC:
        with_extra = np.flatnonzero(np.isin(extra_pos, fit_index))
        design = sp.vstack([features[fit_index], extra_features[with_extra]], format="csr")
        target = np.concatenate([y[fit_index], y[extra_pos[with_extra]]])
        sample_weight = np.concatenate([row_weights[fit_index], row_weights[extra_pos[with_extra]]])
        classifier = LinearSVC(random_state=0, tol=FIT_TOLERANCE, **params)
        return classifier.fit(design, target, sample_weight=sample_weight)

    n_splits = min(folds, min(Counter(y.tolist()).values()))
    if n_splits < 2:
        raise TrainingDataError(f"{field}: every label needs at least 2 rows")
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0)
    oof = np.zeros((len(y), 1 if len(classes) == 2 else len(classes)))
    for fit_index, score_index in splitter.split(features, y):
        scores = fit_on(fit_index).decision_function(features[score_index])
        oof[score_index] = scores.reshape(len(score_index), -1)
    scale, bias = fit_calibration(oof, targets, row_weights)
    oof_proba = softmax(logits_of(oof) * scale + bias, axis=1)
    rows = np.arange(len(y))
    oof_log_loss = -log_softmax(logits_of(oof) * scale + bias, axis=1)[rows, targets].mean()
    field_fit = FieldFit(
        classes=classes,
        classifier=fit_on(rows),
        temperature_scale=scale,
        class_bias=bias,
        params=dict(params),
        cv_accuracy=float((oof_proba.argmax(axis=1) == targets).mean()),
        cv_log_loss=float(oof_log_loss),
        class_counts={label: int(field_data.counts[label]) for label in classes},
        dropped_classes=field_data.dropped,
    )
    return FieldResult(fit=field_fit, rows=field_data.kept, targets=targets, oof_proba=oof_proba)
