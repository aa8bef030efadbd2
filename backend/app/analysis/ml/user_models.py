"""Offline models with cascade thresholds: weighted training, out-of-fold calibration, bytes.

`fit()` trains an artifact in the format `OfflineAnalyzer` loads (same features, same linear
SVMs, temperature scaling) with per-row weights and fixed hyperparameters (the shared model's,
so a retrain takes seconds instead of a grid search). Out-of-fold predictions (each row scored
by a model that never saw it) give the temperature and, per field, the lowest confidence at
which the served answers reached each target precision: the cascade's thresholds. They are
stored in the artifact metadata under "cascade".

The committed shared model gets the same table from the same procedure on its own training
split, written next to it as `offline_v1.cascade.json` (`python -m app.analysis.ml.retrain
--calibrate-shared`); the held-out split is never used for it.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.analysis.ml import candidates, learned_sentiment
from app.analysis.ml.thresholds import (
    MIN_THRESHOLD_SUPPORT,
    TARGET_PRECISIONS,
    precision_thresholds,
    threshold_for,
)
from app.analysis.offline_analyzer import (
    ARTIFACT_FORMAT,
    DEFAULT_ARTIFACT_PATH,
    FIELDS,
    LEARNED_SENTIMENT,
    OfflineAnalyzer,
)
from app.analysis.signals import (
    find_category_cue,
    find_low_urgency_signals,
    find_urgency_signals,
)

if TYPE_CHECKING:  # training needs scikit-learn and scipy; inference and lookups do not
    import scipy.sparse as sp

    from app.analysis.ml.fitting import FieldFit

Row = dict[str, str]

__all__ = [
    "MIN_THRESHOLD_SUPPORT",
    "SHARED_CASCADE_PATH",
    "TARGET_PRECISIONS",
    "TrainedModel",
    "analyzer_from_bytes",
    "artifact_bytes",
    "calibrate_shared",
    "evaluate",
    "fit",
    "load_shared_calibration",
    "precision_thresholds",
    "shared_params",
    "threshold_for",
    "write_shared_calibration",
]

OOF_FOLDS = 3
"""Out-of-fold folds for thresholds: 3 keeps a retrain of a few thousand rows well under 30 s."""
FIT_TOLERANCE = 1e-3
"""liblinear stopping tolerance (default 1e-4): same accuracy here, about half the iterations."""
SHARED_CASCADE_PATH = DEFAULT_ARTIFACT_PATH.with_suffix(".cascade.json")
THRESHOLD_METHOD = (
    f"lowest confidence whose out-of-fold precision (rows at or above it, weighted) reaches "
    f"the target, with at least {MIN_THRESHOLD_SUPPORT} rows above it; {OOF_FOLDS}-fold, "
    "rules applied as in analyze(); for a user's model, measured on the user's own rows "
    f"when they hold {MIN_THRESHOLD_SUPPORT} or more"
)


# --- training -------------------------------------------------------------------------------
@dataclass
class _FieldResult:
    fit: FieldFit
    rows: np.ndarray
    targets: np.ndarray
    oof_proba: np.ndarray
    stack: tuple[np.ndarray, np.ndarray] | None = None
    """For sentiment: the lexicon stacking's coefficients and intercept (see
    `learned_sentiment`); `oof_proba` are then the stacked ones."""


def _fit_field(
    matrix: sp.csr_matrix,
    labels: Sequence[str | None],
    weights: np.ndarray,
    extra_matrix: sp.csr_matrix | None,
    extra_source: Sequence[int],
    params: Mapping[str, Any],
    field: str,
    folds: int,
) -> _FieldResult:
    """Out-of-fold scores with fixed hyperparameters, temperature, then the final fit."""
    import scipy.sparse as sp
    from scipy.special import log_softmax, softmax
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    from app.analysis.ml.dataset import TrainingDataError
    from app.analysis.ml.fitting import FieldFit, field_rows, fit_calibration, logits_of

    field_data = field_rows(matrix, labels, field, extra_matrix, extra_source)
    kept, y, classes, targets = (
        field_data.kept,
        field_data.y,
        field_data.classes,
        field_data.targets,
    )
    features, extra_pos = field_data.features, field_data.extra_pos
    extra_features = field_data.extra_features
    row_weights = weights[kept]

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
    return _FieldResult(fit=field_fit, rows=kept, targets=targets, oof_proba=oof_proba)


def shared_params(analyzer: OfflineAnalyzer | None = None) -> dict[str, dict[str, Any]]:
    """The hyperparameters cross-validation chose for the shared model, per field."""
    if analyzer is None:
        from app.analysis.offline_analyzer import get_offline_analyzer

        analyzer = get_offline_analyzer()
    return {field: dict(analyzer.metadata["fields"][field]["params"]) for field in FIELDS}


@dataclass(frozen=True)
class TrainedModel:
    arrays: dict[str, np.ndarray]
    metadata: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def cascade(self) -> dict[str, Any]:
        return dict(self.metadata["cascade"])

    @cached_property
    def analyzer(self) -> OfflineAnalyzer:
        return OfflineAnalyzer(self.arrays, self.metadata)

    def to_bytes(self) -> bytes:
        return artifact_bytes(self.arrays, self.metadata)


def fit(
    rows: Sequence[Row],
    *,
    weights: Sequence[float] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    name: str = "offline_user",
    data_name: str = "",
    folds: int = OOF_FOLDS,
    threshold_rows: Sequence[int] | None = None,
) -> TrainedModel:
    """Train an artifact with per-row weights and out-of-fold cascade thresholds.

    `threshold_rows` (a user's own rows) are the ones the thresholds are measured on when they
    hold at least MIN_THRESHOLD_SUPPORT labelled rows per field: the target precision is a
    promise about that user's tickets, not about the shared data's."""
    from app.analysis.ml.dataset import TrainingDataError, field_labels
    from app.analysis.ml.evaluation import expected_calibration_error
    from app.analysis.ml.train import (
        _check_parity,
        _data_digest,
        _rule_high_rate,
        arrays_digest,
        features_metadata,
        featurize,
        model_arrays,
    )

    if len(rows) < 10:
        raise TrainingDataError(f"need at least 10 training rows, got {len(rows)}")
    row_weights = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=np.float64)
    if row_weights.shape != (len(rows),) or (row_weights <= 0).any():
        raise ValueError("weights must be one positive number per row")
    params = params or shared_params()
    texts, featurizer, matrix, extra_matrix, extra_source = featurize(rows)
    labels = {field: field_labels(rows, field) for field in FIELDS}

    def fit_on(field: str) -> candidates.FitOn:
        def fit_labels(field_labels_: Sequence[str | None], field_params: dict[str, Any]) -> Any:
            return _fit_field(
                matrix,
                field_labels_,
                row_weights,
                extra_matrix,
                extra_source,
                field_params,
                field,
                folds,
            )

        return fit_labels

    results = {field: fit_on(field)(labels[field], dict(params[field])) for field in FIELDS}
    rule_info = _rule_high_rate(texts, labels["urgency"])
    signals = [
        (bool(find_urgency_signals(text)), find_low_urgency_signals(text), find_category_cue(text))
        for text in texts
    ]
    selection: dict[str, Any] = {}
    if threshold_rows is not None:
        for field in FIELDS:
            results[field], selection[field] = candidates.choose(
                labels[field],
                threshold_rows,
                results[field],
                fit_on(field),
                lambda result, field=field: candidates.served_accuracy(
                    field, result, signals, rule_info, threshold_rows, row_weights
                ),
            )
    sentiment_fit, sentiment_report = learned_sentiment.fit_sentiment(
        rows,
        row_weights,
        fit_on(LEARNED_SENTIMENT),
        lambda result: candidates.served_accuracy(
            LEARNED_SENTIMENT, result, signals, rule_info, range(len(rows)), row_weights
        ),
    )
    if sentiment_fit is not None:
        results[LEARNED_SENTIMENT] = sentiment_fit
    if threshold_rows is not None:
        rule_info.update(_rules_on_own_rows(results["urgency"], signals, rule_info, threshold_rows))

    arrays, fields_meta = model_arrays(featurizer, {f: r.fit for f, r in results.items()})
    stack = results[LEARNED_SENTIMENT].stack if LEARNED_SENTIMENT in results else None
    if stack is not None:
        arrays["sentiment_stack_coef"] = stack[0].astype(np.float32)
        arrays["sentiment_stack_intercept"] = stack[1].astype(np.float32)
    thresholds: dict[str, dict[str, float | None]] = {}
    measured_on: dict[str, str] = {}
    oof_metrics: dict[str, dict[str, Any]] = {}
    for field, result in results.items():
        served_labels, confidence = candidates.served(
            field,
            result.fit.classes,
            result.oof_proba,
            [signals[i] for i in result.rows],
            rule_info,
        )
        truth = np.asarray(result.fit.classes)[result.targets]
        correct = served_labels == truth
        measured = np.ones(len(result.rows), dtype=bool)
        measured_on[field] = "all rows"
        if threshold_rows is not None:
            own = np.isin(result.rows, np.asarray(list(threshold_rows), dtype=np.intp))
            if own.sum() >= MIN_THRESHOLD_SUPPORT:
                measured, measured_on[field] = own, "user rows"
        thresholds[field] = precision_thresholds(
            confidence[measured], correct[measured], row_weights[result.rows][measured]
        )
        oof_metrics[field] = {
            "rows": len(result.rows),
            "accuracy": round(float(correct.mean()), 4),
            "expected_calibration_error": round(expected_calibration_error(confidence, correct), 4),
        }
    if sentiment_fit is None and threshold_rows is not None:
        lexicon = learned_sentiment.lexicon_thresholds(rows, row_weights, threshold_rows)
        if lexicon is not None:  # the lexicon answers: gated by how it does on the user's rows
            thresholds[LEARNED_SENTIMENT], measured_on[LEARNED_SENTIMENT] = lexicon, "user rows"
            sentiment_report["gated"] = "lexicon, thresholds on the user's rows"
    digest = arrays_digest(arrays)
    metadata: dict[str, Any] = {
        "format": ARTIFACT_FORMAT,
        "name": name,
        "version": f"{name}+{digest[:10]}",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training": {
            "data": data_name,
            "rows": len(rows),
            "weights": _weight_summary(row_weights),
            "data_sha256": _data_digest(rows),
            "cv": f"stratified {folds}-fold, fixed hyperparameters",
            "augmentation": "each row also trained as subject + first sentence of body",
            "calibration": "temperature and class bias fitted on weighted out-of-fold scores",
            "library": "scikit-learn",
        },
        "features": features_metadata(featurizer),
        "fields": fields_meta,
        "urgency_rules": rule_info,
        "learned_sentiment": sentiment_report,
        "candidates": selection,
        "heldout": None,
        "cascade": {
            "method": THRESHOLD_METHOD,
            "thresholds": thresholds,
            "measured_on": measured_on,
            "out_of_fold": oof_metrics,
        },
    }
    _check_parity(
        arrays, metadata, featurizer, {field: r.fit for field, r in results.items()}, texts[:200]
    )
    return TrainedModel(arrays=arrays, metadata=metadata)


def _rules_on_own_rows(
    result: _FieldResult,
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
        labels, _ = candidates.served(
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


def _weight_summary(weights: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(weights, return_counts=True)
    return {f"{value:g}": int(count) for value, count in zip(values, counts, strict=True)}


# --- artifacts as bytes ---------------------------------------------------------------------
def artifact_bytes(arrays: Mapping[str, np.ndarray], metadata: Mapping[str, Any]) -> bytes:
    """The artifact as an in-memory .npz (no pickles), as `app.analysis.ml.train` writes it."""
    buffer = io.BytesIO()
    meta_json = json.dumps(metadata, sort_keys=True).encode("utf-8")
    np.savez_compressed(buffer, metadata=np.frombuffer(meta_json, dtype=np.uint8), **arrays)
    return buffer.getvalue()


def analyzer_from_bytes(blob: bytes) -> OfflineAnalyzer:
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(arrays.pop("metadata").tobytes().decode("utf-8"))
    return OfflineAnalyzer(arrays, metadata)


# --- evaluation -----------------------------------------------------------------------------
def evaluate(analyzer: OfflineAnalyzer, rows: Sequence[Row]) -> dict[str, Any]:
    """Accuracy of the served answers per labelled field (sentiment too: the learned head or
    the lexicon, whichever answers); `score` is their mean."""
    from app.analysis.ml.dataset import field_labels

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


# --- the shared model's thresholds ----------------------------------------------------------
def calibrate_shared(
    rows: Sequence[Row] | None = None, analyzer: OfflineAnalyzer | None = None
) -> dict[str, Any]:
    """Cascade thresholds of the committed model from out-of-fold predictions on its own
    training split, with its hyperparameters (the held-out split is not touched)."""
    from app.analysis.ml.dataset import shared_training_rows

    analyzer = analyzer or OfflineAnalyzer.load()
    data_name = "given rows"
    if rows is None:
        rows, data_name = shared_training_rows()
    params = shared_params(analyzer)
    model = fit(rows, params=params, name="shared_out_of_fold", data_name=data_name)
    return {
        "model_version": analyzer.version,
        "data": model.metadata["training"]["data"],
        "data_sha256": model.metadata["training"]["data_sha256"],
        "created_at": model.metadata["created_at"],
        **model.cascade,
    }


def write_shared_calibration(path: Path = SHARED_CASCADE_PATH) -> dict[str, Any]:
    table = calibrate_shared()
    path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return table


def load_shared_calibration(
    analyzer: OfflineAnalyzer, path: Path = SHARED_CASCADE_PATH
) -> dict[str, Any] | None:
    """The stored table if it belongs to this very artifact, else None."""
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(table, dict) or table.get("model_version") != analyzer.version:
        return None
    return table
