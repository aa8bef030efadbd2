"""Offline models with cascade thresholds: weighted training, out-of-fold calibration, bytes.

`fit()` trains an artifact in the format `OfflineAnalyzer` loads (same features, same linear
SVMs, temperature scaling) with per-row weights and fixed hyperparameters (the shared model's,
so a retrain takes seconds instead of a grid search). Out-of-fold predictions (each row scored
by a model that never saw it) give the temperature and, per field, the lowest confidence at
which the served answers reached each target precision: the cascade's thresholds. They are
stored in the artifact metadata under "cascade". A user's retrain goes through
`select_then_refit()`: the features are built once; candidates are chosen and judged without
the user's held-out rows; a winner is fitted again on all of them.

The committed shared model gets the same table from the same procedure on its own training
split, written next to it as `offline_v1.cascade.json` (`python -m app.analysis.ml.retrain
--calibrate-shared`); the held-out split is never used for it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property, partial
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
    from app.analysis.ml.evaluation import Verdict
    from app.analysis.ml.fitting import FieldResult
    from app.analysis.ml.train import Featurized

Row = dict[str, str]

__all__ = [
    "MIN_THRESHOLD_SUPPORT",
    "SHARED_CASCADE_PATH",
    "TARGET_PRECISIONS",
    "TrainedModel",
    "analyzer_from_bytes",
    "artifact_bytes",
    "calibrate_shared",
    "fit",
    "judged_analyzer_from_bytes",
    "load_shared_calibration",
    "precision_thresholds",
    "prepare",
    "select_then_refit",
    "shared_params",
    "threshold_for",
    "write_shared_calibration",
]

OOF_FOLDS = 3
"""Out-of-fold folds for thresholds: 3 keeps a retrain of a few thousand rows well under 30 s."""
SHARED_CASCADE_PATH = DEFAULT_ARTIFACT_PATH.with_suffix(".cascade.json")
THRESHOLD_METHOD = (
    f"lowest confidence whose out-of-fold precision (rows at or above it, weighted) reaches "
    f"the target, with at least {MIN_THRESHOLD_SUPPORT} rows above it; {OOF_FOLDS}-fold, "
    "rules applied as in analyze(); for a user's model, measured on the user's own rows "
    f"when they hold {MIN_THRESHOLD_SUPPORT} or more"
)


# --- training -------------------------------------------------------------------------------
def shared_params(analyzer: OfflineAnalyzer | None = None) -> dict[str, dict[str, Any]]:
    """The hyperparameters cross-validation chose for the shared model, per field."""
    if analyzer is None:
        from app.analysis.offline_analyzer import get_offline_analyzer

        analyzer = get_offline_analyzer()
    return {field: dict(analyzer.metadata["fields"][field]["params"]) for field in FIELDS}


Signals = tuple[bool, list[str], str | None]


@dataclass(frozen=True)
class Prepared:
    """A retrain's rows as features (vocabulary, TF-IDF matrices, rule signals), built once and
    shared by every candidate and by the refit."""

    rows: Sequence[Row]
    featurized: Featurized
    signals: list[Signals]


def prepare(rows: Sequence[Row]) -> Prepared:
    """Fit the vocabulary on the rows' text (labels are not read) and build their features."""
    from app.analysis.ml.train import featurize

    featurized = featurize(rows)
    signals = [
        (bool(find_urgency_signals(text)), find_low_urgency_signals(text), find_category_cue(text))
        for text in featurized.texts
    ]
    return Prepared(rows=rows, featurized=featurized, signals=signals)


@dataclass(frozen=True)
class TrainedModel:
    arrays: dict[str, np.ndarray]
    metadata: dict[str, Any]
    recipe: candidates.Recipe | None = None
    judged: TrainedModel | None = None
    """For a refit: the model as it was judged on the user's held-out rows (stored inside the
    artifact, so the next retrain's gate compares with it and not with a model that trained
    on those rows)."""

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
        judged = self.judged.to_bytes() if self.judged is not None else None
        return artifact_bytes(self.arrays, self.metadata, judged=judged)


def fit(
    rows: Sequence[Row],
    *,
    weights: Sequence[float] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    name: str = "offline_user",
    data_name: str = "",
    folds: int = OOF_FOLDS,
    threshold_rows: Sequence[int] | None = None,
    hidden_rows: Collection[int] = (),
    prepared: Prepared | None = None,
    recipe: candidates.Recipe | None = None,
) -> TrainedModel:
    """Train an artifact with per-row weights and out-of-fold cascade thresholds.

    `threshold_rows` (a user's own rows) are the ones the candidates are chosen and the
    thresholds measured on when they hold at least MIN_THRESHOLD_SUPPORT labelled rows per
    field: the target precision is a promise about that user's tickets, not about the shared
    data's. The labels of `hidden_rows` (a user's held-out rows) are not read at all: the
    rows only lend their text to the vocabulary. `prepared` (from `prepare(rows)`) saves
    building the features again; with `recipe` nothing is chosen: each field is fitted as
    the recipe says (see `select_then_refit`)."""
    from app.analysis.ml.dataset import TrainingDataError, field_labels
    from app.analysis.ml.fitting import fit_fixed
    from app.analysis.ml.train import _rule_high_rate

    if len(rows) < 10:
        raise TrainingDataError(f"need at least 10 training rows, got {len(rows)}")
    row_weights = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=np.float64)
    if row_weights.shape != (len(rows),) or (row_weights <= 0).any():
        raise ValueError("weights must be one positive number per row")
    params = params or shared_params()
    if prepared is None:
        prepared = prepare(rows)
    elif len(prepared.rows) != len(rows):
        raise ValueError("prepared features belong to other rows")
    texts, _, matrix, extra_matrix, extra_source = prepared.featurized
    signals = prepared.signals
    hidden = set(hidden_rows)
    if threshold_rows is not None:
        threshold_rows = [index for index in threshold_rows if index not in hidden]
    labels = {
        field: [None if i in hidden else label for i, label in enumerate(field_labels(rows, field))]
        for field in (*FIELDS, LEARNED_SENTIMENT)
    }

    def fit_on(field: str) -> candidates.FitOn:
        def fit_labels(field_labels_: Sequence[str | None], field_params: dict[str, Any]) -> Any:
            return fit_fixed(
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

    rule_info = _rule_high_rate(texts, labels["urgency"])
    selection: dict[str, Any] = {}
    sentiment_fit: FieldResult | None
    if recipe is None:
        results = {field: fit_on(field)(labels[field], dict(params[field])) for field in FIELDS}
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
            labels[LEARNED_SENTIMENT],
            row_weights,
            fit_on(LEARNED_SENTIMENT),
            lambda result: candidates.served_accuracy(
                LEARNED_SENTIMENT, result, signals, rule_info, range(len(rows)), row_weights
            ),
        )
        if threshold_rows is not None:
            rule_info.update(
                candidates.rules_on_own_rows(results["urgency"], signals, rule_info, threshold_rows)
            )
    else:
        own = threshold_rows if threshold_rows is not None else range(len(rows))
        results = {}
        for field, (user_only, field_params) in recipe.fields.items():
            trained = candidates.own_labels(labels[field], own) if user_only else labels[field]
            results[field] = fit_on(field)(trained, dict(field_params))
        sentiment_fit, sentiment_report = learned_sentiment.refit_sentiment(
            rows,
            labels[LEARNED_SENTIMENT],
            row_weights,
            fit_on(LEARNED_SENTIMENT),
            recipe.sentiment,
            recipe.sentiment_stacked,
        )
        rule_info["apply"] = recipe.rules_apply
        selection = {"refit": "as chosen on the rows the model was judged after"}
    if sentiment_fit is not None:
        results[LEARNED_SENTIMENT] = sentiment_fit
    chosen = recipe or candidates.recipe_of(selection, results, rule_info)
    return _artifact(
        prepared,
        results,
        rule_info,
        row_weights,
        threshold_rows,
        {
            "learned_sentiment": sentiment_report,
            "candidates": selection,
            "hidden_rows": len(hidden),
        },
        name=name,
        data_name=data_name,
        folds=folds,
        recipe=chosen,
    )


def select_then_refit(
    rows: Sequence[Row],
    holdout: Sequence[Row],
    *,
    weights: Sequence[float],
    user_rows: int,
    current: tuple[OfflineAnalyzer, str],
    params: Mapping[str, Mapping[str, Any]] | None,
    name: str,
) -> tuple[TrainedModel, Verdict]:
    """Fit a candidate on `rows` (a user's `user_rows` rows last) and judge it against the
    model in use (`current`, with its label) on the user's `holdout` rows; if it wins, refit
    its recipe on all of them, held-out ones too, on the same features (built once, the
    held-out rows' text in the vocabulary). The refit model carries the judged one inside."""
    from app.analysis.ml.evaluation import judge

    every = [*rows, *holdout]
    own, hidden = range(len(rows) - user_rows, len(every)), range(len(rows), len(every))
    prepared = prepare(every)
    fitted = partial(fit, every, weights=weights, params=params, name=name, prepared=prepared)
    data_name = f"shared split + {user_rows} rows of the user"
    candidate = fitted(data_name=data_name, threshold_rows=own, hidden_rows=hidden)
    verdict = judge(candidate.analyzer, *current, holdout)
    if not verdict.promoted:
        return candidate, verdict
    data_name = f"shared split + {len(own)} rows of the user (held-out ones too)"
    model = fitted(data_name=data_name, threshold_rows=own, recipe=candidate.recipe)
    model.metadata["refit_of"] = candidate.version
    return replace(model, judged=candidate), verdict


def _artifact(
    prepared: Prepared,
    results: dict[str, FieldResult],
    rule_info: dict[str, Any],
    row_weights: np.ndarray,
    threshold_rows: Sequence[int] | None,
    reports: dict[str, Any],
    *,
    name: str,
    data_name: str,
    folds: int,
    recipe: candidates.Recipe,
) -> TrainedModel:
    """Arrays, cascade thresholds (out of fold, on the user's rows when enough) and metadata."""
    from app.analysis.ml.evaluation import expected_calibration_error
    from app.analysis.ml.train import (
        _check_parity,
        _data_digest,
        arrays_digest,
        features_metadata,
        model_arrays,
    )

    rows, signals = prepared.rows, prepared.signals
    texts, featurizer = prepared.featurized.texts, prepared.featurized.featurizer
    sentiment_report = reports["learned_sentiment"]
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
    if LEARNED_SENTIMENT not in results and threshold_rows is not None:
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
            "rows_not_trained_on": reports["hidden_rows"],
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
        "candidates": reports["candidates"],
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
    return TrainedModel(arrays=arrays, metadata=metadata, recipe=recipe)


def _weight_summary(weights: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(weights, return_counts=True)
    return {f"{value:g}": int(count) for value, count in zip(values, counts, strict=True)}


# --- artifacts as bytes ---------------------------------------------------------------------
JUDGED_ARTIFACT = "judged_artifact"
"""The .npz member holding, in a refit model's artifact, the artifact as it was judged."""


def artifact_bytes(
    arrays: Mapping[str, np.ndarray], metadata: Mapping[str, Any], judged: bytes | None = None
) -> bytes:
    """The artifact as an in-memory .npz (no pickles), as `app.analysis.ml.train` writes it;
    `judged`: the bytes of the model as it was judged, kept inside a refit one."""
    buffer = io.BytesIO()
    meta_json = json.dumps(metadata, sort_keys=True).encode("utf-8")
    members = dict(arrays)
    if judged is not None:
        members[JUDGED_ARTIFACT] = np.frombuffer(judged, dtype=np.uint8)
    np.savez_compressed(buffer, metadata=np.frombuffer(meta_json, dtype=np.uint8), **members)
    return buffer.getvalue()


def analyzer_from_bytes(blob: bytes) -> OfflineAnalyzer:
    """The model the artifact serves (a refit's judged model inside it is not read)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files if name != JUDGED_ARTIFACT}
    metadata = json.loads(arrays.pop("metadata").tobytes().decode("utf-8"))
    return OfflineAnalyzer(arrays, metadata)


def judged_analyzer_from_bytes(blob: bytes) -> OfflineAnalyzer:
    """The model as it was judged on the user's held-out rows: for a refit artifact the one
    kept inside it, otherwise the artifact's own model (it never trained on those rows)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        if JUDGED_ARTIFACT in archive.files:
            return analyzer_from_bytes(archive[JUDGED_ARTIFACT].tobytes())
    return analyzer_from_bytes(blob)


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
