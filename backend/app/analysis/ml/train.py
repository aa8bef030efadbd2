"""Train the offline analyzer and write a portable artifact (numpy arrays + JSON metadata).

    cd backend && python -m app.analysis.ml.train --data PATH.csv [--out PATH]

The CSV needs columns subject, body, category, urgency (extra columns are ignored; a row
with an empty label is skipped for that field). Without --heldout, a fixed 20% of the rows
(chosen by a stable hash, near-duplicates kept together) is held out and scored, and the model
is trained on the rest. Hyperparameters are chosen by cross-validation on the training rows
only. Run without --data to rebuild the committed artifact from the committed split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from app.analysis.ml.dataset import (
    DEFAULT_HELDOUT_CSV,
    DEFAULT_TRAIN_CSV,
    HELDOUT_FRACTION,
    MULTI_CSV_NAME,
    Row,
    TrainingDataError,
    field_labels,
    multi_split,
    read_rows,
    shared_training_rows,
    split_rows,
    write_rows,
)
from app.analysis.ml.evaluation import evaluate
from app.analysis.ml.features import RULE_WEIGHT, Featurizer, vocabulary_bytes
from app.analysis.ml.fitting import (
    MAX_FOLDS,
    FieldFit,
    calibration_arrays,
    fit_field,
)
from app.analysis.offline_analyzer import (
    ARTIFACT_FORMAT,
    DEFAULT_ARTIFACT_PATH,
    FIELDS,
    TEXT_VERSION,
    OfflineAnalyzer,
)
from app.analysis.rules import NO_RUSH_SIGNAL
from app.analysis.signals import (
    RULE_FEATURE_NAMES,
    find_low_urgency_signals,
    find_urgency_signals,
)
from app.analysis.text import (
    CHAR_NGRAM_RANGE,
    MAX_MODEL_CHARS,
    model_text,
    summarize,
)

ARTIFACT_NAME = "offline_v1"
DEFAULT_ATTRIBUTION = (
    '"Customer Support Tickets" data set by Tobias Bueck, CC BY-NC 4.0 (non-commercial use only)'
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
        calibration_coef, calibration_intercept = calibration_arrays(fit)
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
            "class_bias": [round(float(value), 6) for value in fit.bias],
            "class_counts": fit.class_counts,
            "dropped_rare_classes": fit.dropped_classes,
        }
        column += width
    arrays.update(
        word_vocab=vocabulary_bytes(featurizer.word),
        char_vocab=vocabulary_bytes(featurizer.char),
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
        "text": "lowercased subject twice + normalised body (quotes, signatures, markup removed)",
        "text_version": TEXT_VERSION,
        "max_chars": MAX_MODEL_CHARS,
        "word": "tf-idf word 1-2-grams, sublinear tf, l2",
        "char": f"tf-idf char {CHAR_NGRAM_RANGE[0]}-{CHAR_NGRAM_RANGE[1]}-grams in words, l2",
        "rules": list(RULE_FEATURE_NAMES),
        "rule_weight": RULE_WEIGHT,
        "n_word": len(featurizer.word.vocabulary_),
        "n_char": len(featurizer.char.vocabulary_),
    }


def short_variant(row: Row) -> str:
    """Subject plus the first meaningful sentence: teaches the model what terse tickets say."""
    first = re.split(r"(?<=[.!?])\s+", summarize("", row.get("body", "")), maxsplit=1)[0]
    return model_text(row.get("subject", ""), first)


class Featurized(NamedTuple):
    """Training rows as features: one row each, plus a short variant of the rows that have
    one (`extra_source` names the row each extra row came from)."""

    texts: list[str]
    featurizer: Featurizer
    matrix: Any
    extra_matrix: Any | None
    extra_source: list[int]


def featurize(rows: Sequence[Row]) -> Featurized:
    """Fit the featurizer on the rows and their short variants, and transform both."""
    texts = [model_text(row.get("subject", ""), row.get("body", "")) for row in rows]
    extra_source: list[int] = []
    extra_texts: list[str] = []
    for index, (row, text) in enumerate(zip(rows, texts, strict=True)):
        short = short_variant(row)
        if short.strip() and short != text:
            extra_source.append(index)
            extra_texts.append(short)
    featurizer = Featurizer.fit(texts + extra_texts)
    extra_matrix = featurizer.transform(extra_texts) if extra_texts else None
    return Featurized(texts, featurizer, featurizer.transform(texts), extra_matrix, extra_source)


def _rule_high_rate(texts: Sequence[str], labels: Sequence[str | None]) -> dict[str, Any]:
    """Smoothed share of high-urgency labels among training rows where a high rule fired, and
    of low-urgency labels among rows saying there is no rush (and no high rule)."""
    fired, no_rush = [], []
    for text, label in zip(texts, labels, strict=True):
        if not label:
            continue
        if find_urgency_signals(text):
            fired.append(label)
        elif NO_RUSH_SIGNAL in find_low_urgency_signals(text):
            no_rush.append(label)
    high = sum(label == "high" for label in fired)
    low = sum(label == "low" for label in no_rush)
    return {
        "rows_fired": len(fired),
        "rows_high": high,
        "high_rate": (high + 1) / (len(fired) + 2),
        "rows_no_rush": len(no_rush),
        "rows_low": low,
        "low_rate": (low + 1) / (len(no_rush) + 2),
    }


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
    texts, featurizer, matrix, extra_matrix, extra_source = featurize(train_rows)
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
            "cv": f"stratified {MAX_FOLDS}-fold on training rows, chosen by macro-F1",
            "augmentation": "each row also trained as subject + first sentence of body",
            "calibration": "temperature and class bias fitted on out-of-fold decision scores",
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
        prog="python -m app.analysis.ml.train", description=__doc__.split("\n")[0]
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
        help="write the fixed train/held-out split of SOURCE_CSV to app/analysis/ml/data and exit",
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
        language_heldout: dict[str, list[Row]] = {}
        if args.data is None:
            train_rows, data_name = shared_training_rows()
            heldout_rows = read_rows(args.heldout or DEFAULT_HELDOUT_CSV)
            heldout_name = f"app/analysis/ml/data/{(args.heldout or DEFAULT_HELDOUT_CSV).name}"
            attribution = args.attribution or DEFAULT_ATTRIBUTION
            language_heldout = {lang: heldout for lang, (_, heldout) in multi_split().items()}
            if not language_heldout:
                print(f"warning: {MULTI_CSV_NAME} not found; training on English only")
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
            analyzer = OfflineAnalyzer(arrays, metadata)
            metrics = evaluate(analyzer, heldout_rows)
            metadata["heldout"] = {"data": heldout_name, **metrics}
            _print_metrics(metrics)
            for language, rows_of_language in language_heldout.items():
                metadata[f"heldout_{language}"] = {
                    "data": f"{MULTI_CSV_NAME} {language} held-out split",
                    **evaluate(analyzer, rows_of_language),
                }
                print(f"# {language}")
                _print_metrics(metadata[f"heldout_{language}"])
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
