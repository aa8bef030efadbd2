"""Accuracy and latency of the offline analyzer on labelled tickets.

    cd backend && python bench/accuracy.py [--data CSV] [--model NPZ]

Default data is the committed held-out split (never trained on). The CSV needs subject and
body; whichever of category, urgency and sentiment it has are scored. Figures are printed as
name=value lines, followed by a confusion matrix per field (rows: truth, columns: predicted).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from app.analysis.offline_analyzer import OfflineAnalysis, OfflineAnalyzer  # noqa: E402
from app.enums import Category, Sentiment, Urgency  # noqa: E402
from bench.machine import pin_to_one_core, reference_loop_cpu_ms  # noqa: E402

DEFAULT_DATA = BACKEND_DIR / "app" / "analysis" / "ml" / "data" / "heldout.csv"
SCORED_FIELDS: dict[str, tuple[str, ...]] = {
    "category": tuple(Category),
    "urgency": tuple(Urgency),
    "sentiment": tuple(Sentiment),
}
WARMUP_TICKETS = 20


def read_tickets(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    """Rows and the scorable label columns present; subject and body are required."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [name.strip() for name in reader.fieldnames or []]
        missing = [name for name in ("subject", "body") if name not in columns]
        if missing:
            raise SystemExit(
                f"error: {path} lacks required column(s) {', '.join(missing)} "
                f"(found: {', '.join(columns) or 'none'})"
            )
        rows = [{(k or "").strip(): v or "" for k, v in row.items()} for row in reader]
    return rows, [field for field in SCORED_FIELDS if field in columns]


def confusion_lines(field: str, truth: Sequence[str], predicted: Sequence[str]) -> list[str]:
    labels = [label for label in SCORED_FIELDS[field] if label in set(truth) | set(predicted)]
    width = max(len(label) for label in [*labels, "truth\\pred"]) + 2
    lines = [f"{field} confusion (rows: truth, columns: predicted)"]
    lines.append("truth\\pred".ljust(width) + "".join(label.rjust(width) for label in labels))
    for actual in labels:
        counts = [
            sum(1 for t, p in zip(truth, predicted, strict=True) if t == actual and p == guess)
            for guess in labels
        ]
        lines.append(actual.ljust(width) + "".join(str(n).rjust(width) for n in counts))
    return lines


def time_single(analyzer: OfflineAnalyzer, rows: Sequence[dict[str, str]]) -> list[float]:
    """Milliseconds of one analyze() call per ticket, after a short warm-up."""
    for row in rows[:WARMUP_TICKETS]:
        analyzer.analyze(row["subject"], row["body"])
    durations: list[float] = []
    for row in rows:
        started = time.perf_counter()
        analyzer.analyze(row["subject"], row["body"])
        durations.append((time.perf_counter() - started) * 1000)
    return durations


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled tickets CSV")
    parser.add_argument("--model", type=Path, help="artifact .npz (default: the committed one)")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        raise SystemExit(f"error: no such file: {args.data}")

    rows, fields = read_tickets(args.data)
    if not rows:
        raise SystemExit(f"error: {args.data} has no rows")
    analyzer = OfflineAnalyzer.load(args.model)
    results: list[OfflineAnalysis] = analyzer.analyze_many(
        [(row["subject"], row["body"]) for row in rows]
    )
    pin_to_one_core()
    reference_ms = reference_loop_cpu_ms()
    durations = time_single(analyzer, rows)

    print(f"model_version={analyzer.version}")
    print(f"rows={len(rows)}")
    confusions: list[str] = []
    for field in fields:
        pairs = [
            (row[field].strip().lower(), str(getattr(result, field)))
            for row, result in zip(rows, results, strict=True)
            if row[field].strip()
        ]
        if not pairs:
            continue
        truth, predicted = [t for t, _ in pairs], [p for _, p in pairs]
        accuracy = sum(t == p for t, p in pairs) / len(pairs)
        print(f"{field}_rows={len(pairs)}")
        print(f"{field}_accuracy={accuracy:.3f}")
        confusions.extend(["", *confusion_lines(field, truth, predicted)])
    print(f"ms_per_ticket={statistics.fmean(durations):.3f}")
    if len(durations) > 1:
        print(f"ms_per_ticket_p95={statistics.quantiles(durations, n=20)[-1]:.3f}")
    print(f"reference_loop_cpu_ms={reference_ms:.0f}")
    for line in confusions:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
