"""Choose the cascade's per-field targets on a tuning stream's trace, never on the reported one.

    cd backend && python bench/cascade.py --stream TUNE.csv --trace tune.jsonl   # first
    cd backend && python bench/cascade_tune.py --trace tune.jsonl [--p 0.92] [--min-agreement 0.93]

The trace holds, for every ticket of the tuning stream, the local model's answer and confidence
per field, the truth, what was served, and the thresholds table of the model in use. This
script replays the stream under other per-field targets, as `app.analysis.cascade` applies
them: to thresholds measured on the user's own rows (the user's models), while the shared
model's keep the run's `--target`. A ticket is local when every gated field's confidence
reaches its threshold for that field's target (sentiment only once a user's model learned it,
as in the product). A local ticket is scored with the local answers; a ticket sent to the LLM with
the LLM's answer where the run sent it there, else with a simulated oracle answer (the truth
with probability p, else a neighbour, as `sandbox.llm_oracle` draws). The replay keeps the run's
sequence of models: in a real run other targets change which answers are learned from, so the
result is an estimate, to be confirmed by running the stream with the chosen targets.

Printed: `all_llm_*_agreement`, each field's agreement with every ticket sent to the LLM
(same simulated draws); for each candidate, the local share over the last 1,000 tickets and
per-field agreement with the truth over the whole stream; then `chosen_*`: the candidate with
the highest late local share that is as good as all-LLM on every field (agreement at least
all-LLM's plus `--margin`), and the offsets from `--target` that it means
(`app.analysis.cascade.USER_ROWS_TARGET_OFFSET`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from app.analysis.ml.user_models import threshold_for  # noqa: E402
from sandbox.llm_oracle import LABELS, ORDERED_FIELDS  # noqa: E402

FIELDS = ("category", "urgency", "sentiment")
TARGETS = (0.75, 0.80, 0.83, 0.85, 0.88, 0.90)
LATE = 1000


Tables = dict[str, tuple[Mapping[str, Any], Mapping[str, str]]]


def read_trace(path: Path) -> tuple[list[dict[str, Any]], Tables]:
    lines, tables = [], {}
    with path.open(encoding="utf-8") as handle:
        for text in handle:
            line = json.loads(text)
            if "thresholds" in line:
                tables[line["model"]] = (line["thresholds"], line.get("measured_on") or {})
            lines.append(line)
    return lines, tables


def oracle_answer(field: str, truth: str, p: float, draw: random.Random) -> str:
    labels = LABELS[field]
    if truth not in labels or draw.random() < p:
        return truth
    if field in ORDERED_FIELDS:
        at = labels.index(truth)
        return draw.choice([labels[i] for i in (at - 1, at + 1) if 0 <= i < len(labels)])
    return draw.choice([label for label in labels if label != truth])


def replay(
    lines: Sequence[dict[str, Any]],
    tables: Tables,
    targets: Mapping[str, float],
    base_target: float,
    p: float,
    all_llm: bool = False,
) -> dict[str, float]:
    draw = random.Random(0)
    fields = [f for f in FIELDS if f in lines[0]]
    local_flags, right = [], {field: 0 for field in fields}
    for line in lines:
        table, measured_on = tables.get(line["model"], ({}, {}))
        local = bool(line["language_supported"]) and bool(table) and not all_llm
        for field in fields:
            if field not in table:
                continue  # sentiment before a model learned it: not gated
            own = measured_on.get(field) == "user rows"
            limit = threshold_for(
                table[field], targets.get(field, base_target) if own else base_target
            )
            local &= limit is not None and line[field]["confidence"] >= limit
        local_flags.append(local)
        for field in fields:
            entry = line[field]
            if local:
                answer = entry["local"]
            elif line["route"] != "local":
                answer = entry["served"]
            else:
                answer = oracle_answer(field, entry["truth"], p, draw)
            right[field] += answer == entry["truth"]
    late = local_flags[-LATE:]
    result = {
        "late_local_share": sum(late) / len(late),
        "local_share": sum(local_flags) / len(lines),
    }
    result.update({f"{field}_agreement": right[field] / len(lines) for field in fields})
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trace", type=Path, required=True)
    parser.add_argument("--p", type=float, default=0.92)
    parser.add_argument("--target", type=float, default=0.90, help="the run's target precision")
    parser.add_argument(
        "--margin",
        type=float,
        default=0.02,
        help="above all-LLM, per field (the replay is optimistic: with more tickets local, a "
        "real run has fewer LLM answers to learn from)",
    )
    args = parser.parse_args(argv)
    lines, tables = read_trace(args.trace)
    fields = [f for f in FIELDS if f in lines[0]]
    best: tuple[float, dict[str, float], dict[str, float]] | None = None
    print(f"trace_tickets={len(lines)}")
    floor = replay(lines, tables, {}, args.target, args.p, all_llm=True)
    for field in fields:
        print(f"all_llm_{field}_agreement={floor[f'{field}_agreement']:.3f}")
    for combination in itertools.product(TARGETS, repeat=len(fields)):
        targets = dict(zip(fields, combination, strict=True))
        result = replay(lines, tables, targets, args.target, args.p)
        name = "_".join(f"{field}_{value:.2f}" for field, value in targets.items())
        print(" ".join([name, *(f"{key}={value:.3f}" for key, value in result.items())]))
        as_good = all(
            result[f"{field}_agreement"] >= floor[f"{field}_agreement"] + args.margin - 1e-9
            for field in fields
        )
        if as_good and (best is None or result["late_local_share"] >= best[0] - 1e-9):
            best = (result["late_local_share"], targets, result)
    if best is None:
        print("chosen=none (no candidate is as good as all-LLM on every field)")
        return 0
    for field, value in best[1].items():
        print(f"chosen_{field}_target={value:.2f}")
        print(f"chosen_{field}_offset={args.target - value:.2f}")
    for key, value in best[2].items():
        print(f"chosen_{key}={value:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
