"""Train the offline analyzer and write a portable artifact (numpy arrays + JSON metadata).

    cd backend && python -m app.ml.train --data PATH.csv [--out PATH]

The CSV needs columns subject, body, category, urgency (extra columns are ignored; a row
with an empty label is skipped for that field). Without --heldout, a fixed 20% of the rows
(chosen by a stable hash, near-duplicates kept together) is held out and scored, and the model
is trained on the rest. Hyperparameters are chosen by cross-validation on the training rows
only. Run without --data to rebuild the committed artifact from the committed split.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from app.services.offline_analyzer import (
    ARTIFACT_FORMAT,
    CHAR_NGRAM_RANGE,
    DEFAULT_ARTIFACT_PATH,
    FIELDS,
    LABEL_ENUMS,
    MAX_MODEL_CHARS,
    URGENCY_RULE_NAMES,
    OfflineAnalyzer,
    char_ngrams,
    find_urgency_signals,
    model_text,
    rule_features,
    summarize,
    word_ngrams,
)

ARTIFACT_NAME = "offline_v1"
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_TRAIN_CSV = DATA_DIR / "train.csv"
DEFAULT_HELDOUT_CSV = DATA_DIR / "heldout.csv"
DEFAULT_ATTRIBUTION = (
    '"Customer Support Tickets" data set by Tobias Bueck, CC BY-NC 4.0 (non-commercial use only)'
)
REQUIRED_COLUMNS = ("subject", "body")
HELDOUT_FRACTION = 0.2
NEAR_DUPLICATE_COSINE = 0.5
RULE_WEIGHT = 1.0
C_GRID = (0.02, 0.05, 0.1, 0.2, 0.5)
CLASS_WEIGHT_GRID: tuple[str | None, ...] = (None, "balanced")
MIN_CLASS_ROWS = 3
MAX_FOLDS = 5

Row = dict[str, str]


class TrainingDataError(ValueError):
    """The CSV cannot be used for training (missing columns, unknown labels, too few rows)."""


# --- data -----------------------------------------------------------------------------------
def read_rows(path: Path, required: Sequence[str] = REQUIRED_COLUMNS) -> list[Row]:
    """Read a tickets CSV; subject and body are required, empty cells become ""."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [name.strip() for name in reader.fieldnames or []]
        missing = [name for name in required if name not in columns]
        if missing:
            raise TrainingDataError(
                f"{path}: missing column(s) {', '.join(missing)}; "
                f"found {', '.join(columns) or 'none'}"
            )
        return [
            {(key or "").strip(): (value or "") for key, value in row.items() if key is not None}
            for row in reader
        ]


def _row_text(row: Row) -> str:
    return " ".join(f"{row.get('subject', '')}\n{row.get('body', '')}".lower().split())


def split_rows(
    rows: Sequence[Row], heldout_fraction: float = HELDOUT_FRACTION
) -> tuple[list[Row], list[Row]]:
    """Deterministic train/held-out split by a stable hash; near-duplicates share a side."""
    if not rows or heldout_fraction <= 0:
        return list(rows), []
    texts = [_row_text(row) for row in rows]
    matrix = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
    parent = list(range(len(rows)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for start in range(0, len(rows), 2000):
        block = (matrix[start : start + 2000] @ matrix.T).tocoo()
        for i, j, cosine in zip(block.row, block.col, block.data, strict=True):
            if cosine >= NEAR_DUPLICATE_COSINE and start + i != j:
                parent[root(start + int(i))] = root(int(j))
    group_key: dict[int, str] = {}
    for index, text in enumerate(texts):
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        group = root(index)
        group_key[group] = min(group_key.get(group, digest), digest)
    heldout_groups = {
        group for group, key in group_key.items() if int(key[:8], 16) / 2**32 < heldout_fraction
    }
    train = [row for index, row in enumerate(rows) if root(index) not in heldout_groups]
    heldout = [row for index, row in enumerate(rows) if root(index) in heldout_groups]
    return train, heldout


def write_rows(path: Path, rows: Sequence[Row], columns: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def field_labels(rows: Sequence[Row], field: str) -> list[str | None]:
    """Normalised labels of one field (None when empty); unknown values are an error."""
    allowed = {member.value for member in LABEL_ENUMS[field]}
    labels: list[str | None] = []
    unknown: Counter[str] = Counter()
    for row in rows:
        value = row.get(field, "").strip().lower()
        if value and value not in allowed:
            unknown[value] += 1
        labels.append(value or None)
    if unknown:
        raise TrainingDataError(
            f"unknown {field} label(s) {dict(unknown.most_common(5))}; allowed: {sorted(allowed)}"
        )
    return labels


# --- features -------------------------------------------------------------------------------
@dataclass
class Featurizer:
    word: TfidfVectorizer
    char: TfidfVectorizer

    @classmethod
    def fit(cls, texts: Sequence[str]) -> Featurizer:
        min_df = 2 if len(texts) >= 50 else 1
        word = TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True, min_df=min_df)
        char = TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True, min_df=min_df)
        word.fit(texts)
        char.fit(texts)
        return cls(word=word, char=char)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        rules = [rule_features(find_urgency_signals(text)) for text in texts]
        return sp.hstack(
            [
                self.word.transform(texts),
                self.char.transform(texts),
                sp.csr_matrix(np.asarray(rules, dtype=np.float64).reshape(len(texts), -1))
                * RULE_WEIGHT,
            ],
            format="csr",
        )


def _vocabulary_bytes(vectorizer: TfidfVectorizer) -> np.ndarray:
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    if any("\n" in term for term in terms):
        raise AssertionError("vocabulary terms must not contain newlines")
    return np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8)


# --- models ---------------------------------------------------------------------------------
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

    def probabilities(self, matrix: sp.csr_matrix) -> np.ndarray:
        return softmax(_logits(_decision(self.classifier, matrix)) * self.temperature_scale, axis=1)


def _decision(classifier: LinearSVC, matrix: sp.csr_matrix) -> np.ndarray:
    scores = classifier.decision_function(matrix)
    return scores.reshape(-1, 1) if scores.ndim == 1 else scores


def _logits(scores: np.ndarray) -> np.ndarray:
    """Per-class logits; a binary LinearSVC has one score column (for the second class)."""
    return np.hstack([np.zeros_like(scores), scores]) if scores.shape[1] == 1 else scores


def fit_temperature(scores: np.ndarray, targets: np.ndarray) -> float:
    """Scale a for softmax(a * logits) minimising log loss; keeps the classifier's ranking."""
    logits = _logits(scores)
    rows = np.arange(len(targets))

    def log_loss(log_scale: float) -> float:
        return float(-log_softmax(logits * math.exp(log_scale), axis=1)[rows, targets].mean())

    result = minimize_scalar(log_loss, bounds=(-6.0, 6.0), method="bounded")
    return float(math.exp(result.x))


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


def model_arrays(
    featurizer: Any, fits: dict[str, FieldFit]
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """The artifact's arrays (vocabularies, idf, stacked coefficients, calibration) and the
    per-field metadata, for the shared model and per-user models alike."""
    coef_blocks, intercepts, fields_meta = [], [], {}
    arrays: dict[str, np.ndarray] = {}
    column = 0
    for field, fit in fits.items():
        width = fit.classifier.coef_.shape[0]
        coef_blocks.append(fit.classifier.coef_.T)
        intercepts.append(fit.classifier.intercept_)
        calibration_coef, calibration_intercept = _calibration_arrays(fit)
        arrays[f"{field}_calibration_coef"] = calibration_coef.astype(np.float32)
        arrays[f"{field}_calibration_intercept"] = calibration_intercept.astype(np.float32)
        fields_meta[field] = {
            "classes": fit.classes,
            "columns": [column, column + width],
            "classifier": "LinearSVC",
            "params": fit.params,
            "cv_accuracy": round(fit.cv_accuracy, 4),
            "cv_log_loss": round(fit.cv_log_loss, 4),
            "temperature_scale": round(fit.temperature_scale, 6),
            "class_counts": fit.class_counts,
            "dropped_rare_classes": fit.dropped_classes,
        }
        column += width
    arrays.update(
        word_vocab=_vocabulary_bytes(featurizer.word),
        char_vocab=_vocabulary_bytes(featurizer.char),
        word_idf=featurizer.word.idf_.astype(np.float32),
        char_idf=featurizer.char.idf_.astype(np.float32),
        coef=np.hstack(coef_blocks).astype(np.float32),
        intercept=np.concatenate(intercepts).astype(np.float32),
    )
    return arrays, fields_meta


def arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    """A digest of the model's numbers: the artifact version changes iff the model does."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode("utf-8"))
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()


def features_metadata(featurizer: Any) -> dict[str, Any]:
    """How the artifact's features are built, recorded with every trained model."""
    return {
        "text": "lowercased subject + newline + body, HTML and control characters removed",
        "max_chars": MAX_MODEL_CHARS,
        "word": "tf-idf word 1-2-grams, sublinear tf, l2",
        "char": f"tf-idf char {CHAR_NGRAM_RANGE[0]}-{CHAR_NGRAM_RANGE[1]}-grams in words, l2",
        "rules": list(URGENCY_RULE_NAMES),
        "rule_weight": RULE_WEIGHT,
        "n_word": len(featurizer.word.vocabulary_),
        "n_char": len(featurizer.char.vocabulary_),
    }


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
                oof[score_index] = _decision(fit(params, fit_index), features[score_index])
            accuracy = float((_logits(oof).argmax(axis=1) == targets).mean())
            if best is None or accuracy > best[0] + 1e-9:
                best = (accuracy, params, oof)
    assert best is not None
    accuracy, params, oof = best
    scale = fit_temperature(oof, targets)
    oof_log_loss = -log_softmax(_logits(oof) * scale, axis=1)[np.arange(len(y)), targets].mean()
    return FieldFit(
        classes=classes,
        classifier=fit(params, np.arange(len(y))),
        temperature_scale=scale,
        params=params,
        cv_accuracy=accuracy,
        cv_log_loss=float(oof_log_loss),
        class_counts={label: int(rows.counts[label]) for label in classes},
        dropped_classes=rows.dropped,
    )


def _calibration_arrays(fit: FieldFit) -> tuple[np.ndarray, np.ndarray]:
    """Temperature scaling in the artifact's general form softmax(scores @ coef.T + intercept)."""
    width = fit.classifier.coef_.shape[0]
    if len(fit.classes) == 2:
        coef = np.array([[0.0], [fit.temperature_scale]])
    else:
        coef = np.eye(width) * fit.temperature_scale
    return coef, np.zeros(len(fit.classes))


def short_variant(row: Row) -> str:
    """Subject plus the first meaningful sentence: teaches the model what terse tickets say."""
    first = re.split(r"(?<=[.!?])\s+", summarize("", row.get("body", "")), maxsplit=1)[0]
    return model_text(row.get("subject", ""), first)


def _rule_high_rate(texts: Sequence[str], labels: Sequence[str | None]) -> dict[str, Any]:
    """Smoothed share of high-urgency labels among training rows where a rule fired."""
    fired = [
        label
        for text, label in zip(texts, labels, strict=True)
        if label and find_urgency_signals(text)
    ]
    high = sum(label == "high" for label in fired)
    return {"rows_fired": len(fired), "rows_high": high, "high_rate": (high + 1) / (len(fired) + 2)}


# --- evaluation -----------------------------------------------------------------------------
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


# --- artifact -------------------------------------------------------------------------------
def _data_digest(rows: Sequence[Row]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        for column in ("subject", "body", "category", "urgency"):
            digest.update(row.get(column, "").encode("utf-8"))
            digest.update(b"\x1f")
        digest.update(b"\x1e")
    return digest.hexdigest()


def train(
    train_rows: Sequence[Row],
    *,
    data_name: str,
    attribution: str | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Fit featurizer and per-field models; return artifact arrays and metadata."""
    if len(train_rows) < 10:
        raise TrainingDataError(f"need at least 10 training rows, got {len(train_rows)}")
    texts = [model_text(row.get("subject", ""), row.get("body", "")) for row in train_rows]
    extra_source = []
    extra_texts = []
    for index, (row, text) in enumerate(zip(train_rows, texts, strict=True)):
        short = short_variant(row)
        if short.strip() and short != text:
            extra_source.append(index)
            extra_texts.append(short)
    featurizer = Featurizer.fit(texts + extra_texts)
    matrix = featurizer.transform(texts)
    extra_matrix = featurizer.transform(extra_texts) if extra_texts else None
    fits = {
        field: fit_field(matrix, field_labels(train_rows, field), field, extra_matrix, extra_source)
        for field in FIELDS
    }

    arrays, fields_meta = model_arrays(featurizer, fits)
    data_sha256 = _data_digest(train_rows)
    metadata: dict[str, Any] = {
        "format": ARTIFACT_FORMAT,
        "name": ARTIFACT_NAME,
        "version": f"{ARTIFACT_NAME}+{arrays_digest(arrays)[:10]}",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training": {
            "data": data_name,
            "rows": len(train_rows),
            "data_sha256": data_sha256,
            "attribution": attribution,
            "cv": f"stratified {MAX_FOLDS}-fold on training rows",
            "augmentation": "each row also trained as subject + first sentence of body",
            "calibration": "temperature scaling fitted on out-of-fold decision scores",
            "library": "scikit-learn",
        },
        "features": features_metadata(featurizer),
        "fields": fields_meta,
        "urgency_rules": _rule_high_rate(texts, field_labels(train_rows, "urgency")),
        "heldout": None,
    }
    _check_parity(arrays, metadata, featurizer, fits, texts[:200])
    return arrays, metadata


def _check_parity(
    arrays: dict[str, np.ndarray],
    metadata: dict[str, Any],
    featurizer: Featurizer,
    fits: dict[str, FieldFit],
    texts: Sequence[str],
) -> None:
    """The numpy inference must reproduce scikit-learn's calibrated probabilities."""
    analyzer = OfflineAnalyzer(arrays, metadata)
    proba = analyzer.predict_proba(list(texts), [""] * len(texts))
    matrix = featurizer.transform([model_text(text, "") for text in texts])
    for field, fit in fits.items():
        expected = fit.probabilities(matrix)
        if not np.allclose(proba[field][1], expected, atol=1e-3):
            raise AssertionError(f"{field}: numpy inference disagrees with scikit-learn")


def save_artifact(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
    """Write the .npz (no pickles) and a readable copy of its metadata next to it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta_json = json.dumps(metadata, indent=2, sort_keys=True)
    with path.open("wb") as handle:
        np.savez_compressed(
            handle, metadata=np.frombuffer(meta_json.encode("utf-8"), dtype=np.uint8), **arrays
        )
    path.with_suffix(".json").write_text(meta_json + "\n", encoding="utf-8")


# --- command line ---------------------------------------------------------------------------
def _print_metrics(metrics: dict[str, Any]) -> None:
    print(f"heldout_rows={metrics['rows']}")
    for field in FIELDS:
        if field in metrics:
            figures = metrics[field]
            print(f"{field}_heldout_accuracy={figures['accuracy']:.3f}")
            print(f"{field}_heldout_model_accuracy={figures['model_accuracy']:.3f}")
            print(f"{field}_heldout_ece={figures['expected_calibration_error']:.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.ml.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, help="training CSV (default: the committed split)")
    parser.add_argument("--heldout", type=Path, help="held-out CSV (default: carve 20%% of --data)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_ARTIFACT_PATH, help="artifact .npz path"
    )
    parser.add_argument(
        "--heldout-fraction", type=float, default=HELDOUT_FRACTION, help="0 trains on every row"
    )
    parser.add_argument("--attribution", help="data attribution stored in the artifact")
    parser.add_argument(
        "--make-split",
        type=Path,
        metavar="SOURCE_CSV",
        help="write the fixed train/held-out split of SOURCE_CSV to app/ml/data and exit",
    )
    args = parser.parse_args(argv)

    try:
        if args.make_split is not None:
            rows = read_rows(args.make_split, ("subject", "body", "category", "urgency"))
            train_rows, heldout_rows = split_rows(rows, args.heldout_fraction)
            columns = list(rows[0]) if rows else ["subject", "body", "category", "urgency"]
            write_rows(DEFAULT_TRAIN_CSV, train_rows, columns)
            write_rows(DEFAULT_HELDOUT_CSV, heldout_rows, columns)
            print(f"train_rows={len(train_rows)}\nheldout_rows={len(heldout_rows)}")
            return 0

        started = time.perf_counter()
        if args.data is None:
            train_rows = read_rows(DEFAULT_TRAIN_CSV)
            heldout_rows = read_rows(args.heldout or DEFAULT_HELDOUT_CSV)
            data_name = f"app/ml/data/{DEFAULT_TRAIN_CSV.name}"
            heldout_name = f"app/ml/data/{(args.heldout or DEFAULT_HELDOUT_CSV).name}"
            attribution = args.attribution or DEFAULT_ATTRIBUTION
        else:
            rows = read_rows(args.data)
            if args.heldout is not None:
                train_rows, heldout_rows = rows, read_rows(args.heldout)
                heldout_name = args.heldout.name
            else:
                train_rows, heldout_rows = split_rows(rows, args.heldout_fraction)
                heldout_name = f"{args.heldout_fraction:.0%} hash split of {args.data.name}"
            data_name = args.data.name
            attribution = args.attribution
        print(f"train_rows={len(train_rows)}")
        arrays, metadata = train(train_rows, data_name=data_name, attribution=attribution)
        for field in FIELDS:
            info = metadata["fields"][field]
            print(f"{field}_cv_accuracy={info['cv_accuracy']:.3f}")
            print(
                f"{field}_params=C:{info['params']['C']},class_weight:{info['params']['class_weight']}"
            )
        if heldout_rows:
            metrics = evaluate(OfflineAnalyzer(arrays, metadata), heldout_rows)
            metadata["heldout"] = {"data": heldout_name, **metrics}
            _print_metrics(metrics)
        save_artifact(args.out, arrays, metadata)
    except TrainingDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"version={metadata['version']}")
    print(f"artifact={args.out}")
    print(f"artifact_bytes={args.out.stat().st_size}")
    print(f"train_seconds={time.perf_counter() - started:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
