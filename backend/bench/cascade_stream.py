"""The cascade on a stream of one customer's tickets: does it pay for itself as it learns?

    cd backend && python bench/cascade.py --stream TICKETS.csv [--every 500] [--p 0.92] \
        [--target 0.90] [--retrain-every 250] [--database-url URL]

One fresh user with cascade mode, target precision `--target` and learning from confident
LLM answers on. The rows, in order, are new tickets: stored and analysed by the product's
analysis path (`app.pipeline.analysis.analyze`, cascade mode, the real `LLMAnalyzer` over HTTP).
The LLM is the OpenAI simulator in oracle mode (`sandbox.llm_oracle`): it answers each
field's true label with probability p, else a plausible wrong one, at confidence 0.92 (so its
answers are learned from). Every `--retrain-every` tickets the retrain task runs in-process,
as a scheduled worker run would: it collects the confident LLM answers as training rows and
promotes the candidate only if it beats the model in use on the user's held-out quarter.

Printed per window of `--every` tickets, and for the last 1,000 and the whole stream:
`local_share`, `agreement` (category and urgency both equal to the CSV's labels), agreement
per field (sentiment too when the CSV has it), the same for the local answers alone,
`llm_calls_avoided`, `cost_usd` and `cost_vs_all_llm` (all-LLM cost estimated as the
window's tickets times the mean cost of the LLM calls made in the whole run).

`--trace FILE` writes one JSON line per ticket for `bench/cascade_tune.py`: the local
model's answer and confidence per field (also when the ticket went to the LLM), the truth,
what was served, and the thresholds table of the model in use (with its first ticket).
Tune on one stream's trace and report another stream: never the same rows.

A synthetic stream of one company's support mail: `python -m sandbox.ticket_stream --count
3000 --seed 1 --out stream.csv` (see that module for what it is and is not).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from bench import harness

FIELDS = ("category", "urgency")
"""The gated fields: `agreement` counts a ticket when both equal the CSV's labels."""
OPTIONAL_FIELDS = ("sentiment",)
"""Scored per field when the CSV has the column (not part of `agreement`)."""


@dataclass
class Outcome:
    local: bool
    right: dict[str, bool]
    cost_usd: Decimal


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stream", type=Path, required=True, help="labelled tickets CSV")
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--p", type=float, default=0.92, help="oracle: chance of the true label")
    parser.add_argument("--target", type=float, default=0.90, help="cascade target precision")
    parser.add_argument("--retrain-every", type=int, default=250)
    parser.add_argument("--limit", type=int, help="only the first N rows")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument(
        "--trace",
        type=Path,
        help="write one JSON line per ticket: the local model's answers and confidences, the "
        "truth, the route, and the thresholds table of the model in use (for tuning)",
    )
    return parser.parse_args(argv)


def summary(name: str, outcomes: Sequence[Outcome], mean_llm_cost: Decimal) -> None:
    if not outcomes:
        return
    local = sum(outcome.local for outcome in outcomes)
    both = sum(all(outcome.right[f] for f in FIELDS) for outcome in outcomes)
    cost = sum((outcome.cost_usd for outcome in outcomes), Decimal(0))
    all_llm = mean_llm_cost * len(outcomes)
    print(f"{name}_tickets={len(outcomes)}")
    print(f"{name}_local_share={local / len(outcomes):.3f}")
    print(f"{name}_agreement={both / len(outcomes):.3f}")
    for field in outcomes[0].right:
        right = sum(outcome.right[field] for outcome in outcomes)
        print(f"{name}_{field}_agreement={right / len(outcomes):.3f}")
    local_outcomes = [outcome for outcome in outcomes if outcome.local]
    if local_outcomes:
        local_both = sum(all(outcome.right[f] for f in FIELDS) for outcome in local_outcomes)
        print(f"{name}_local_agreement={local_both / len(local_outcomes):.3f}")
        for field in outcomes[0].right:
            right = sum(outcome.right[field] for outcome in local_outcomes)
            print(f"{name}_local_{field}_agreement={right / len(local_outcomes):.3f}")
    print(f"{name}_llm_calls_avoided={local}")
    print(f"{name}_cost_usd={cost:.4f}")
    if all_llm:
        print(f"{name}_cost_vs_all_llm={cost / all_llm:.3f}")


def write_trace(
    handle: TextIO,
    number: int,
    row: dict[str, str],
    context: Any,
    outcome: Any,
    scored: Sequence[str],
    tables: set[str],
) -> None:
    """One ticket's line; a model's thresholds table is written once, with its first ticket."""
    offline = context.analyzer.analyze(row["subject"], row["body"])
    version = context.analyzer.version
    line: dict[str, Any] = {
        "n": number,
        "model": version,
        "language_supported": offline.language_supported,
        "route": str(outcome.source),
    }
    for field in scored:
        line[field] = {
            "truth": row[field].strip().lower(),
            "local": str(getattr(offline, field)),
            "confidence": round(float(getattr(offline, f"{field}_confidence")), 4),
            "served": str(getattr(outcome, field)),
        }
    if version not in tables:
        tables.add(version)
        line["thresholds"] = dict((context.calibration or {}).get("thresholds") or {})
        line["measured_on"] = dict((context.calibration or {}).get("measured_on") or {})
    handle.write(json.dumps(line) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with args.stream.open(newline="", encoding="utf-8-sig") as handle:
        rows = [
            {k.strip(): (v or "") for k, v in row.items() if k} for row in csv.DictReader(handle)
        ]
    rows = rows[: args.limit] if args.limit else rows
    if not rows or any(field not in rows[0] for field in ("subject", "body", *FIELDS)):
        raise SystemExit("error: the stream needs subject, body, category and urgency columns")
    scored = FIELDS + tuple(f for f in OPTIONAL_FIELDS if f in rows[0])
    user_id = harness.in_process_user(args.database_url, "cascade-stream")

    from app.accounts.integrations import ProcessingOptions
    from app.analysis import cascade, learning, tasks
    from app.database import session_scope
    from app.enums import AnalysisSource
    from app.integrations.llm import LLMAnalyzer
    from app.pipeline import analysis as analysis_service
    from app.pipeline import store as ticket_store
    from sandbox.llm_oracle import OracleLabeller
    from sandbox.openai_sim import SIM_API_KEY, OpenAISimulator, create_openai_app
    from sandbox.serve import serve_in_thread

    with session_scope() as db:
        learning.update_settings(
            db=db, user_id=user_id, target_precision=args.target, learn_from_llm=True
        )

    oracle = OracleLabeller(rows, p=args.p)
    simulator = OpenAISimulator(labeller=oracle)
    options = ProcessingOptions(analysis_mode="cascade", redact_pii=True, reply_draft=False)
    outcomes: list[Outcome] = []
    llm_costs: list[Decimal] = []
    retrain_seconds: list[float] = []
    trace = args.trace.open("w", encoding="utf-8") if args.trace else None
    tables: set[str] = set()
    print(f"stream_rows={len(rows)}")
    print(f"oracle_p={args.p}")
    print(f"target_precision={args.target}")
    with serve_in_thread(create_openai_app(simulator)) as llm_url:
        llm = LLMAnalyzer(api_key=SIM_API_KEY, base_url=f"{llm_url}/v1", reply_draft=False)
        for number, row in enumerate(rows, start=1):
            with session_scope() as db:
                ticket = ticket_store.upsert_ticket(
                    db=db,
                    user_id=user_id,
                    raw={"id": number, "subject": row["subject"], "description": row["body"]},
                )
                context = cascade.context_for(user_id, db=db)
                outcome = analysis_service.analyze(
                    row["subject"], row["body"], options=options, llm=llm, context=context
                )
                ticket_store.save_analysis(
                    db=db, ticket=ticket, outcome=outcome, processing_time_ms=0
                )
            local = outcome.source == AnalysisSource.local
            if trace is not None:
                write_trace(trace, number, row, context, outcome, scored, tables)
            if not local:
                llm_costs.append(Decimal(outcome.cost_usd))
            outcomes.append(
                Outcome(
                    local=local,
                    right={f: str(getattr(outcome, f)) == row[f].strip().lower() for f in scored},
                    cost_usd=Decimal(outcome.cost_usd),
                )
            )
            if number % args.retrain_every == 0:
                started = time.perf_counter()
                result = tasks.retrain_user_model(user_id)
                retrain_seconds.append(time.perf_counter() - started)
                print(
                    f"retrain_after_{number}={'promoted' if result['promoted'] else 'kept'}"
                    f" v{result['version']}"
                )
            if number % args.every == 0 or number == len(rows):
                mean = sum(llm_costs, Decimal(0)) / len(llm_costs) if llm_costs else Decimal(0)
                start = (number - 1) // args.every * args.every
                summary(f"tickets_{start + 1}_{number}", outcomes[start:number], mean)
                sys.stdout.flush()
    mean = sum(llm_costs, Decimal(0)) / len(llm_costs) if llm_costs else Decimal(0)
    summary("last_1000", outcomes[-1000:], mean)
    summary("all", outcomes, mean)
    print(f"oracle_unmatched={oracle.unmatched}")
    if trace is not None:
        trace.close()
    if retrain_seconds:
        print(f"retrain_seconds_max={max(retrain_seconds):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
