"""Retraining from a CSV, the committed split, and the training command's error messages."""

import csv
import itertools
from pathlib import Path

import pytest

from app.analysis.ml.dataset import DEFAULT_HELDOUT_CSV, DEFAULT_TRAIN_CSV, read_rows, split_rows
from app.analysis.ml.train import main
from app.analysis.offline_analyzer import OfflineAnalyzer
from app.enums import Category, Urgency

PHRASES = {
    "bug": ["the app crashes when I open {x}", "error 500 on {x} after the update"],
    "billing": ["I was charged twice for {x}", "please refund the invoice for {x}"],
    "feature": ["please add dark mode to {x}", "we would love an integration for {x}"],
    "support": ["how do I configure {x}", "where can I find the guide for {x}"],
    "other": ["I would like to apply for a job in {x}", "partnership proposal about {x}"],
}
URGENCY_WORDS = {"low": "whenever you can", "medium": "this week please", "high": "right now"}
THINGS = ["reports", "the dashboard", "exports", "the mobile app", "settings", "billing page"]


def write_small_csv(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["subject", "body", "category", "urgency", "ignored_extra"])
        for (category, phrases), thing, urgency in itertools.product(
            PHRASES.items(), THINGS, URGENCY_WORDS
        ):
            for phrase in phrases:
                body = f"{phrase.format(x=thing)}, {URGENCY_WORDS[urgency]}."
                writer.writerow([f"{category} {thing}", body, category, urgency, "x"])


def test_training_on_a_small_csv_writes_a_loadable_artifact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "tickets.csv", tmp_path / "model" / "mine.npz"
    write_small_csv(data)

    assert main(["--data", str(data), "--out", str(out)]) == 0

    printed = capsys.readouterr().out
    assert "category_heldout_accuracy=" in printed
    assert "urgency_heldout_accuracy=" in printed
    analyzer = OfflineAnalyzer.load(out)
    assert analyzer.metadata["heldout"]["rows"] > 0
    assert out.with_suffix(".json").is_file()
    result = analyzer.analyze("Refund", "I was charged twice for exports, right now.")
    assert result.category in Category
    assert result.urgency in Urgency


def test_training_rejects_a_csv_without_body(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("subject,category,urgency\nHi,bug,low\n", encoding="utf-8")

    assert main(["--data", str(data), "--out", str(tmp_path / "x.npz")]) == 2
    assert "missing column(s) body" in capsys.readouterr().err


def test_training_rejects_unknown_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "labels.csv"
    write_small_csv(data)
    with data.open("a", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerow(["s", "b", "complaint", "low", ""])

    assert main(["--data", str(data), "--out", str(tmp_path / "x.npz")]) == 2
    assert "unknown category label" in capsys.readouterr().err


def test_split_is_deterministic_and_keeps_near_duplicates_together() -> None:
    rows = [
        {"subject": f"Ticket {i}", "body": f"Body number {i} about topic {i * 7}"}
        for i in range(60)
    ]
    rows.append({"subject": "Ticket 3", "body": "Body number 3 about topic 21!"})

    first, second = split_rows(rows), split_rows(list(rows))

    assert first == second
    assert 0 < len(first[1]) < len(rows)
    sides = {id(row): side for side, part in enumerate(first) for row in part}
    assert sides[id(rows[3])] == sides[id(rows[-1])]


def test_committed_split_has_no_ticket_on_both_sides() -> None:
    train, heldout = read_rows(DEFAULT_TRAIN_CSV), read_rows(DEFAULT_HELDOUT_CSV)
    train_texts = {(row["subject"], row["body"]) for row in train}

    assert len(heldout) > 0.15 * (len(train) + len(heldout))
    assert not any((row["subject"], row["body"]) in train_texts for row in heldout)
