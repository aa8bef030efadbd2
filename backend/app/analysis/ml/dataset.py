"""Labelled ticket CSVs: reading, the fixed train/held-out split, label checks."""

from __future__ import annotations

import csv
import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer

from app.analysis.offline_analyzer import LABEL_ENUMS

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_TRAIN_CSV = DATA_DIR / "train.csv"
DEFAULT_HELDOUT_CSV = DATA_DIR / "heldout.csv"
SUPPORT_MESSAGES_CSV = DATA_DIR / "support_messages.csv"
"""Short support messages in the style of a software company's queue (questions, wishes,
thanks, cosmetic bugs as well as outages), written for this project: the data set above has
few tickets a customer would call "low", and none in this style."""
REQUIRED_COLUMNS = ("subject", "body")
HELDOUT_FRACTION = 0.2
NEAR_DUPLICATE_COSINE = 0.5

Row = dict[str, str]


class TrainingDataError(ValueError):
    """The CSV cannot be used for training (missing columns, unknown labels, too few rows)."""


# -----------------------------------------------------------------------------------
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


# --- the multilingual set (not in the repository: read from the shared data directory) ---------
MULTI_CSV_NAME = "tickets_multi.csv"
SHARED_DATA_ENV = "TRIAGE_SHARED_DATA"
MULTI_LANGUAGES = ("de", "es", "pt", "fr")
_REPO_ROOT = Path(__file__).resolve().parents[4]


def shared_data_dir() -> Path | None:
    """Where tickets_multi.csv lives: $TRIAGE_SHARED_DATA, else ../shared/data beside the repo."""
    candidates = [os.environ.get(SHARED_DATA_ENV, ""), str(_REPO_ROOT.parent / "shared" / "data")]
    for candidate in candidates:
        if candidate and (Path(candidate) / MULTI_CSV_NAME).is_file():
            return Path(candidate)
    return None


@lru_cache(maxsize=1)
def _multi_split(directory: Path) -> dict[str, tuple[list[Row], list[Row]]]:
    rows = read_rows(directory / MULTI_CSV_NAME, ("language", "subject", "body"))
    split: dict[str, tuple[list[Row], list[Row]]] = {}
    for language in MULTI_LANGUAGES:
        of_language = [row for row in rows if row.get("language") == language]
        if of_language:
            split[language] = split_rows(of_language)
    return split


def multi_split() -> dict[str, tuple[list[Row], list[Row]]]:
    """Per language: the fixed (train, held-out) split of tickets_multi.csv; {} without it.

    The split is the same hash split as the English one, made per language, so every
    language has its own held-out rows and adding rows of one language never moves another's.
    """
    directory = shared_data_dir()
    if directory is None:
        return {}
    return {
        language: (list(train), list(heldout))
        for language, (train, heldout) in _multi_split(directory).items()
    }


def shared_training_rows() -> tuple[list[Row], str]:
    """The shared model's training rows (English split, the written support messages, each
    language's training part) and a short description of them."""
    rows = read_rows(DEFAULT_TRAIN_CSV)
    described = [f"app/analysis/ml/data/{DEFAULT_TRAIN_CSV.name} ({len(rows)} en)"]
    messages = read_rows(SUPPORT_MESSAGES_CSV)
    rows.extend(messages)
    described.append(f"app/analysis/ml/data/{SUPPORT_MESSAGES_CSV.name} ({len(messages)})")
    for language, (train, _) in multi_split().items():
        rows.extend(train)
        described.append(f"{MULTI_CSV_NAME} {language} train split ({len(train)})")
    return rows, " + ".join(described)
