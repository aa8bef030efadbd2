"""Accuracy, macro-F1 and the majority-class baseline of the offline analyzer, per field and
per language, on held-out data; CPU time per ticket and the artifact's size.

    cd backend && python bench/accuracy.py                 # every held-out set below
    cd backend && python bench/accuracy.py --data CSV      # one labelled CSV

Default sets (each printed with its name as prefix, e.g. `de_category_macro_f1=`):
- `en`: the committed English held-out split (never trained on);
- `de`, `es`, `pt`, `fr`: the fixed per-language held-out splits of tickets_multi.csv (read from
  the shared data directory; skipped with a note when it is absent);
- `sentiment_check`: the labelled support messages never tuned on, and `sentiment_dev_tuned`:
  the ones the thresholds and word lists were fixed against (NOT held out; shown for contrast).
Real human-rated sentiment text (tweets, Amazon review sentences, ...): write the CSVs with
`python bench/real_sentiment_sets.py --out-dir DIR`, then `--data DIR/amazon_test.csv`.
A CSV needs subject (or text) and body; whichever of category, urgency and sentiment it has are
scored; with a `language` column, figures are also printed per language. The majority-class
baseline is the share of the most frequent true label of the set itself (what answering that
label for every ticket would score). `uncertain_share` is the share of answers the model flags
as not sure; `confident_accuracy` the accuracy of the others. For sentiment, `vader_macro_f1` is
plain VADER (compound at its usual +-0.05 thresholds) on the same rows, for comparison.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from sklearn.metrics import f1_score  # noqa: E402
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from app.analysis.ml.dataset import DEFAULT_HELDOUT_CSV, multi_split  # noqa: E402
from app.analysis.offline_analyzer import (  # noqa: E402
    DEFAULT_ARTIFACT_PATH,
    OfflineAnalysis,
    OfflineAnalyzer,
)
from app.enums import Category, Sentiment, Urgency  # noqa: E402
from bench.machine import reference_loop_cpu_ms  # noqa: E402

SENTIMENT_TABLES = BACKEND_DIR / "tests" / "ml" / "data"
SCORED_FIELDS: dict[str, tuple[str, ...]] = {
    "category": tuple(Category),
    "urgency": tuple(Urgency),
    "sentiment": tuple(Sentiment),
}
Row = dict[str, str]


def read_rows(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = [{(k or "").strip(): (v or "") for k, v in row.items()} for row in reader]
    if not rows:
        raise SystemExit(f"error: {path} has no rows")
    if "body" not in rows[0] and "text" not in rows[0]:
        raise SystemExit(f"error: {path} needs a body (or text) column")
    return rows


def ticket(row: Row) -> tuple[str, str]:
    return row.get("subject", ""), row.get("body", row.get("text", ""))


def confusion_lines(name: str, truth: Sequence[str], predicted: Sequence[str]) -> list[str]:
    labels = sorted(set(truth) | set(predicted))
    width = max(len(label) for label in [*labels, "truth\\pred"]) + 2
    lines = [f"{name} confusion (rows: truth, columns: predicted)"]
    lines.append("truth\\pred".ljust(width) + "".join(label.rjust(width) for label in labels))
    pairs = Counter(zip(truth, predicted, strict=True))
    for actual in labels:
        counts = [pairs[(actual, guess)] for guess in labels]
        lines.append(actual.ljust(width) + "".join(str(n).rjust(width) for n in counts))
    return lines


def score(
    prefix: str, rows: Sequence[Row], results: Sequence[OfflineAnalysis], confusions: list[str]
) -> None:
    print(f"{prefix}_rows={len(rows)}")
    for field in SCORED_FIELDS:
        scored = [
            (row[field].strip().lower(), result)
            for row, result in zip(rows, results, strict=True)
            if row.get(field, "").strip()
        ]
        if not scored:
            continue
        truth = [label for label, _ in scored]
        predicted = [str(getattr(result, field)) for _, result in scored]
        right = [t == p for t, p in zip(truth, predicted, strict=True)]
        majority_label, majority_count = Counter(truth).most_common(1)[0]
        name = f"{prefix}_{field}"
        print(f"{name}_accuracy={sum(right) / len(right):.3f}")
        print(f"{name}_macro_f1={f1_score(truth, predicted, average='macro'):.3f}")
        print(f"{name}_majority_baseline={majority_count / len(truth):.3f}")
        print(f"{name}_majority_label={majority_label}")
        majority_f1 = f1_score(truth, [majority_label] * len(truth), average="macro")
        print(f"{name}_majority_baseline_macro_f1={majority_f1:.3f}")
        for label in SCORED_FIELDS[field]:
            of_label = [ok for t, ok in zip(truth, right, strict=True) if t == label]
            if of_label:
                print(f"{name}_recall_{label}={sum(of_label) / len(of_label):.3f}")
        if field == "sentiment":
            texts = [" ".join(ticket(row)).strip() for row in rows if row.get(field, "").strip()]
            vader = [plain_vader(text) for text in texts]
            print(f"{name}_vader_macro_f1={f1_score(truth, vader, average='macro'):.3f}")
        unsure = [field in result.uncertain for _, result in scored]
        confident = [ok for ok, flag in zip(right, unsure, strict=True) if not flag]
        print(f"{name}_uncertain_share={sum(unsure) / len(unsure):.3f}")
        if confident:
            print(f"{name}_confident_accuracy={sum(confident) / len(confident):.3f}")
        confusions.extend(["", *confusion_lines(name, truth, predicted)])


_VADER = SentimentIntensityAnalyzer()


def plain_vader(text: str) -> str:
    """Plain VADER at its usual +-0.05 compound thresholds: the comparison for sentiment."""
    compound = _VADER.polarity_scores(text)["compound"]
    return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"


def cpu_ms_per_ticket(analyzer: OfflineAnalyzer, rows: Sequence[Row]) -> float:
    for row in rows[:20]:
        analyzer.analyze(*ticket(row))
    started = time.process_time()
    for row in rows:
        analyzer.analyze(*ticket(row))
    return (time.process_time() - started) * 1000 / len(rows)


def default_sets() -> list[tuple[str, list[Row]]]:
    sets = [("en", read_rows(DEFAULT_HELDOUT_CSV))]
    split = multi_split()
    if not split:
        print("# tickets_multi.csv not found (set TRIAGE_SHARED_DATA): languages skipped")
    sets.extend((language, heldout) for language, (_, heldout) in split.items())
    sets.append(("sentiment_check", read_rows(SENTIMENT_TABLES / "sentiment_check.csv")))
    sets.append(("sentiment_dev_tuned", read_rows(SENTIMENT_TABLES / "sentiment_dev.csv")))
    return sets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="one labelled CSV instead of the default sets")
    parser.add_argument("--model", type=Path, help="artifact .npz (default: the committed one)")
    parser.add_argument("--confusion", action="store_true", help="print confusion matrices")
    args = parser.parse_args(argv)
    if args.data is not None and not args.data.is_file():
        raise SystemExit(f"error: no such file: {args.data}")
    analyzer = OfflineAnalyzer.load(args.model)
    sets = [("data", read_rows(args.data))] if args.data else default_sets()

    print(f"model_version={analyzer.version}")
    print(f"artifact_bytes={(args.model or DEFAULT_ARTIFACT_PATH).stat().st_size}")
    confusions: list[str] = []
    for prefix, rows in sets:
        results = analyzer.analyze_many([ticket(row) for row in rows])
        score(prefix, rows, results, confusions)
        languages = Counter(row["language"] for row in rows if row.get("language"))
        for language in sorted(languages) if len(languages) > 1 else ():
            of_language = [i for i, row in enumerate(rows) if row.get("language") == language]
            score(
                f"{prefix}_{language}",
                [rows[i] for i in of_language],
                [results[i] for i in of_language],
                confusions,
            )
    timing_rows = sets[0][1]
    print(f"cpu_ms_per_ticket={cpu_ms_per_ticket(analyzer, timing_rows):.3f}")
    print(f"reference_loop_cpu_ms={reference_loop_cpu_ms():.0f}")
    if args.confusion:
        for line in confusions:
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
