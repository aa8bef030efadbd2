"""The synthetic support queue for long streams: reproducible, varied, labelled by its parts."""

import csv
from collections import Counter
from pathlib import Path

from sandbox.ticket_stream import COLUMNS, IMPACT, LOW_BUG_IMPACT, generate, main

LABELS = {
    "category": {"bug", "feature", "billing", "support", "other"},
    "urgency": {"low", "medium", "high"},
    "sentiment": {"negative", "neutral", "positive"},
}


def test_same_seed_same_stream_and_another_seed_another_one() -> None:
    assert generate(300, seed=1) == generate(300, seed=1)
    assert generate(300, seed=1) != generate(300, seed=2)


def test_every_ticket_has_a_text_and_labels_from_the_known_sets() -> None:
    rows = generate(2000, seed=5)
    for row in rows:
        assert row["subject"].strip() and len(row["body"]) > 40
        assert "{" not in row["subject"] + row["body"]  # every slot filled
        for field, labels in LABELS.items():
            assert row[field] in labels
    for field, labels in LABELS.items():
        assert set(Counter(row[field] for row in rows)) == labels  # every label occurs


def test_texts_vary_a_long_stream_is_not_a_few_templates_repeated() -> None:
    rows = generate(3000, seed=1)
    assert len({row["body"] for row in rows}) >= 0.99 * len(rows)
    assert len({row["subject"] for row in rows}) > 150


def test_the_stated_impact_is_the_urgency_label() -> None:
    """A ticket that states an impact carries that impact's urgency, whatever its kind."""
    for row in generate(1500, seed=7):
        body = row["body"].lower()
        for urgency, sentences in IMPACT.items():
            allowed = sentences + (LOW_BUG_IMPACT if urgency == "low" else ())
            if any(sentence.split(",")[0].lower() in body for sentence in allowed):
                assert row["urgency"] == urgency, row


def test_new_scenarios_appear_only_later_in_the_stream() -> None:
    rows = generate(2000, seed=3)
    waitlist = [n for n, row in enumerate(rows) if "waitlist" in row["body"].lower()]
    assert waitlist and min(waitlist) >= 0.45 * len(rows)


def test_the_command_writes_a_csv_with_the_label_columns(tmp_path: Path) -> None:
    out = tmp_path / "stream.csv"
    assert main(["--count", "50", "--seed", "4", "--out", str(out)]) == 0
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 50 and tuple(rows[0]) == COLUMNS
    assert rows == generate(50, seed=4)
