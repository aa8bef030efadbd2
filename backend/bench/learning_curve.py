"""How fast the local model learns one customer's own tickets, through the product's own path.

    cd backend && python bench/learning_curve.py --train TRAIN.csv --test TEST.csv \
        [--steps 100,300,1000] [--database-url URL]

TRAIN and TEST have columns subject, body and any of category / urgency / sentiment. A fresh
user is created; the training rows, in order, become that user's tickets (stored as the
pipeline stores them, analysed by the local model) and are then labelled through feedback,
exactly as an agent's corrections are: feedback rows are written, every 50 new labels queue
the retrain task (run here in-process, as the worker would), and a candidate becomes active
only if it beats the model in use on the user's held-out quarter. After each step the test
rows are scored with the model the user's tickets would now get, and printed as
`category_accuracy_after_300=0.71`, `category_macro_f1_after_300=`, and the share the cascade
would answer locally at target precision 0.90 (`cascade_coverage_after_300=`), plus the
accuracy of those local answers. Beside it, a plain TF-IDF (word 1-2-grams) + logistic
regression trained on the same first N rows alone (`baseline_category_accuracy_after_300=`).
`retrain_seconds_max=` is the longest retrain (wall time), `retrain_cpu_seconds_max=` its
CPU time (this process's, so other load on the machine does not count). The retrain cooldown
is set to 0 for the run. A row with an empty subject (single messages, as in the review
sentences of `bench/real_sentiment_sets.py`) is stored and learned from as it is.

Default database: a fresh SQLite file in a temporary directory (no service needed).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from bench import harness  # noqa: E402

FIELDS = ("category", "urgency", "sentiment")
"""Each scored, fed as feedback and compared with the baseline when the CSVs have it."""
CASCADE_TARGET = 0.90
Row = dict[str, str]


def read_rows(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [
            {(k or "").strip(): (v or "") for k, v in row.items()} for row in csv.DictReader(handle)
        ]
    if not rows or "subject" not in rows[0] or "body" not in rows[0]:
        raise SystemExit(f"error: {path} needs rows with subject and body columns")
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--steps", default="100,300,1000", help="comma-separated label counts")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    return parser.parse_args(argv)


def baseline_scores(train: Sequence[Row], test: Sequence[Row], field: str) -> dict[str, float]:
    """TF-IDF + logistic regression on the training rows alone."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    labelled = [row for row in train if row.get(field)]
    scored = [row for row in test if row.get(field)]
    if len({row[field] for row in labelled}) < 2 or not scored:
        return {}
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    matrix = vectorizer.fit_transform([f"{r['subject']}\n{r['body']}" for r in labelled])
    model = LogisticRegression(max_iter=2000).fit(matrix, [row[field] for row in labelled])
    predicted = model.predict(
        vectorizer.transform([f"{r['subject']}\n{r['body']}" for r in scored])
    )
    truth = [row[field] for row in scored]
    accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    return {"accuracy": accuracy, "macro_f1": float(f1_score(truth, predicted, average="macro"))}


def model_scores(user_id: int, test: Sequence[Row]) -> dict[str, Any]:
    """Figures of the model the user's tickets get now, and its cascade coverage at 0.90."""
    from sklearn.metrics import f1_score

    from app.analysis import cascade
    from app.database import session_scope

    with session_scope() as db:
        context = cascade.load_context(db, user_id)
    thresholds = cascade.thresholds_from(context.calibration, CASCADE_TARGET)
    results = context.analyzer.analyze_many([(row["subject"], row["body"]) for row in test])
    local = [cascade.decide(result, thresholds).local for result in results]
    figures: dict[str, Any] = {"version": context.user_model_version or 0}
    local_right = []
    for index, (row, result) in enumerate(zip(test, results, strict=True)):
        if local[index]:
            local_right.append(all(str(getattr(result, f)) == row[f] for f in FIELDS if row.get(f)))
    for field in FIELDS:
        pairs = [
            (row[field], str(getattr(result, field)))
            for row, result in zip(test, results, strict=True)
            if row.get(field)
        ]
        if pairs:
            truth, predicted = [t for t, _ in pairs], [p for _, p in pairs]
            figures[f"{field}_accuracy"] = sum(t == p for t, p in pairs) / len(pairs)
            figures[f"{field}_macro_f1"] = float(f1_score(truth, predicted, average="macro"))
    figures["cascade_coverage"] = sum(local) / len(local)
    figures["cascade_local_accuracy"] = (
        (sum(local_right) / len(local_right)) if local_right else None
    )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    steps = sorted({int(step) for step in args.steps.split(",") if step.strip()})
    train, test = read_rows(args.train), read_rows(args.test)
    steps = [step for step in steps if step <= len(train)] or [len(train)]
    user_id = harness.in_process_user(args.database_url, "learning-curve")

    from app.accounts.integrations import ProcessingOptions
    from app.analysis import tasks
    from app.analytics import reports
    from app.database import session_scope
    from app.pipeline import analysis as analysis_service
    from app.pipeline import store as ticket_store

    retrain_seconds: list[float] = []
    retrain_cpu_seconds: list[float] = []

    def run_retrain_task(queued_user_id: int) -> None:
        started, started_cpu = time.perf_counter(), time.process_time()
        result = tasks.retrain_user_model(queued_user_id)  # in-process, as the worker runs it
        retrain_seconds.append(time.perf_counter() - started)
        retrain_cpu_seconds.append(time.process_time() - started_cpu)
        verdict = "promoted" if result["promoted"] else "kept"
        print(f"retrain_{len(retrain_seconds)}={verdict} v{result['version']}: {result['reason']}")

    options = ProcessingOptions(analysis_mode="local", redact_pii=False)
    before = model_scores(user_id, test)
    for field in FIELDS:
        if f"{field}_accuracy" in before:
            print(f"{field}_accuracy_after_0={before[f'{field}_accuracy']:.3f}")
            print(f"{field}_macro_f1_after_0={before[f'{field}_macro_f1']:.3f}")
    print(f"cascade_coverage_after_0={before['cascade_coverage']:.3f}")

    fed = 0
    for step in steps:
        for number, row in enumerate(train[fed:step], start=fed + 1):
            labels = {f: row[f] for f in FIELDS if row.get(f)}
            with session_scope() as db:
                ticket = ticket_store.upsert_ticket(
                    db=db,
                    user_id=user_id,
                    raw={"id": number, "subject": row["subject"], "description": row["body"]},
                )
                outcome = analysis_service.analyze(
                    row["subject"], row["body"], options=options, llm=None, user_id=user_id, db=db
                )
                ticket_store.save_analysis(
                    db=db, ticket=ticket, outcome=outcome, processing_time_ms=0
                )
            if labels:
                with session_scope(lambda job: run_retrain_task(*job.args)) as db:
                    reports.record_feedback(
                        db=db, user_id=user_id, zendesk_ticket_id=number, **labels
                    )
        fed = step
        figures = model_scores(user_id, test)
        print(f"active_model_version_after_{step}={figures['version']}")
        for field in FIELDS:
            if f"{field}_accuracy" not in figures:
                continue
            print(f"{field}_accuracy_after_{step}={figures[f'{field}_accuracy']:.3f}")
            print(f"{field}_macro_f1_after_{step}={figures[f'{field}_macro_f1']:.3f}")
            baseline = baseline_scores(train[:step], test, field)
            if baseline:
                print(f"baseline_{field}_accuracy_after_{step}={baseline['accuracy']:.3f}")
                print(f"baseline_{field}_macro_f1_after_{step}={baseline['macro_f1']:.3f}")
        print(f"cascade_coverage_after_{step}={figures['cascade_coverage']:.3f}")
        if figures["cascade_local_accuracy"] is not None:
            print(f"cascade_local_accuracy_after_{step}={figures['cascade_local_accuracy']:.3f}")
        sys.stdout.flush()
    print(f"retrains={len(retrain_seconds)}")
    if retrain_seconds:
        print(f"retrain_seconds_max={max(retrain_seconds):.1f}")
        print(f"retrain_seconds_last={retrain_seconds[-1]:.1f}")
        print(f"retrain_cpu_seconds_max={max(retrain_cpu_seconds):.1f}")
        print(f"retrain_cpu_seconds_last={retrain_cpu_seconds[-1]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
