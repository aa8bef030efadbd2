"""What the local-first cascade answers alone, how well, and what it costs against all-LLM.

    cd backend && python bench/cascade.py [--targets 0.90,0.95,0.98] [--model gpt-4o-mini]
    cd backend && python bench/cascade.py --stream CSV [...]   # see bench/cascade_stream.py

On the committed held-out split (never trained on, never used to pick thresholds): for each
target precision, the thresholds stored with the shared model (out-of-fold on the training
split, `offline_v1.cascade.json`) decide which tickets the offline model answers alone.
Printed as name=value lines:
- coverage: share answered by the offline model alone (category and urgency both confident);
- accuracy of those answers per field and on both fields at once;
- the same for a category-only gate (what coverage the category model alone would allow);
- projected cost per 1,000 tickets at list prices vs sending every ticket to the LLM.

Cost model: every ticket's real request (`LLMAnalyzer.build_request`, the one the live
call and the Batch API send) is run through the OpenAI simulator in-process, which
counts prompt tokens as characters / 4 (tiktoken is not installed: an approximation),
bills a repeated prefix of 1,024+ tokens as cached (128-token blocks, like OpenAI) and
produces a typical completion (its output tokens). The cascade pays only for the tickets
it sends to the LLM; the Batch API variant sends the non-urgent ones at 50%.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

import numpy as np  # noqa: E402

from app.analysis import cascade  # noqa: E402
from app.analysis.ml import user_models  # noqa: E402
from app.analysis.ml.dataset import DEFAULT_HELDOUT_CSV, read_rows  # noqa: E402
from app.analysis.ml.evaluation import expected_calibration_error  # noqa: E402
from app.analysis.offline_analyzer import OfflineAnalyzer  # noqa: E402
from app.integrations.llm import LLMAnalyzer  # noqa: E402
from app.integrations.llm import pricing as llm_pricing  # noqa: E402
from sandbox.openai_sim import OpenAISimulator  # noqa: E402

PER = 1000


def llm_costs(rows: Sequence[dict[str, str]], model: str) -> tuple[list[Decimal], dict[str, float]]:
    """Per-ticket cost of the synchronous LLM path, and the mean token counts."""
    analyzer = LLMAnalyzer(api_key="bench-no-network", model=model)
    sim = OpenAISimulator(valid_keys=None)
    costs: list[Decimal] = []
    prompt, cached, output = [], [], []
    for row in rows:
        response = sim.complete(analyzer.build_request(row["subject"], row["body"]).body)
        usage = response.body["usage"]
        details = usage.get("prompt_tokens_details") or {}
        prompt.append(usage["prompt_tokens"])
        cached.append(details.get("cached_tokens", 0))
        output.append(usage["completion_tokens"])
        costs.append(
            llm_pricing.cost_usd(model, prompt[-1], cached[-1], output[-1], prices=analyzer.prices)
        )
    means = {
        "prompt": float(np.mean(prompt)),
        "cached": float(np.mean(cached)),
        "output": float(np.mean(output)),
    }
    return costs, means


def per_thousand(total: Decimal, tickets: int) -> str:
    return f"{total / tickets * PER:.4f}" if tickets else "nan"


def share(mask: np.ndarray) -> str:
    return f"{mask.mean():.3f}" if len(mask) else "nan"


def accuracy(correct: np.ndarray, mask: np.ndarray) -> str:
    return f"{correct[mask].mean():.3f}" if mask.any() else "nan"


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if "--stream" in arguments or any(a.startswith("--stream=") for a in arguments):
        from bench import cascade_stream

        return cascade_stream.main(arguments)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default="0.90,0.95,0.98")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--data", type=Path, default=DEFAULT_HELDOUT_CSV)
    args = parser.parse_args(argv)
    targets = [float(value) for value in args.targets.split(",")]

    analyzer = OfflineAnalyzer.load()
    table = user_models.load_shared_calibration(analyzer)
    origin = "stored"
    if table is None:
        table = user_models.calibrate_shared(analyzer=analyzer)
        origin = "computed now (no stored table for this artifact)"
    rows = read_rows(args.data)
    results = analyzer.analyze_many([(row["subject"], row["body"]) for row in rows])
    correct = {
        field: np.array(
            [str(getattr(r, field)) == row[field] for r, row in zip(results, rows, strict=True)]
        )
        for field in cascade.GATED_FIELDS
    }
    confidence = {
        field: np.array([getattr(r, f"{field}_confidence") for r in results])
        for field in cascade.GATED_FIELDS
    }
    urgent = np.array([cascade.is_urgent(r) for r in results])
    costs, tokens = llm_costs(rows, args.model)
    cost_array = np.array(costs, dtype=object)
    all_llm = sum(costs, Decimal(0))

    print(f"heldout_rows={len(rows)}")
    print(f"offline_model={analyzer.version}")
    print(f"thresholds={origin}, out-of-fold on {table['data']}")
    for field in cascade.GATED_FIELDS:
        ece = expected_calibration_error(confidence[field], correct[field])
        print(f"{field}_heldout_accuracy={correct[field].mean():.3f}")
        print(f"{field}_heldout_ece={ece:.3f}")
    print(f"llm_model={args.model}")
    print("token_counts=approximate (characters / 4, the simulator's count; no tiktoken)")
    print(f"llm_prompt_tokens_mean={tokens['prompt']:.0f}")
    print(f"llm_cached_prompt_tokens_mean={tokens['cached']:.0f}")
    print(f"llm_output_tokens_mean={tokens['output']:.0f}")
    print(f"all_llm_cost_per_1000_usd={per_thousand(all_llm, len(rows))}")
    for target in targets:
        name = f"at_{target:.2f}"
        thresholds = cascade.thresholds_from(table, target).values
        covered = np.ones(len(rows), dtype=bool)
        for field in cascade.GATED_FIELDS:
            limit = thresholds[field]
            print(f"{name}_{field}_threshold={'none' if limit is None else f'{limit:.4f}'}")
            covered &= confidence[field] >= limit if limit is not None else False
        both = correct["category"] & correct["urgency"]
        print(f"{name}_coverage={share(covered)}")
        print(f"{name}_category_accuracy_covered={accuracy(correct['category'], covered)}")
        print(f"{name}_urgency_accuracy_covered={accuracy(correct['urgency'], covered)}")
        print(f"{name}_all_fields_accuracy_covered={accuracy(both, covered)}")
        category_limit = thresholds["category"]
        category_only = (
            confidence["category"] >= category_limit
            if category_limit is not None
            else np.zeros(len(rows), dtype=bool)
        )
        print(f"{name}_category_only_coverage={share(category_only)}")
        print(
            f"{name}_category_only_accuracy_covered={accuracy(correct['category'], category_only)}"
        )
        to_llm = ~covered
        cascade_cost = sum(cost_array[to_llm], Decimal(0))
        deferred = to_llm & ~urgent
        batch_cost = sum(cost_array[to_llm & urgent], Decimal(0)) + sum(
            cost_array[deferred], Decimal(0)
        ) * Decimal("0.5")
        print(f"{name}_cascade_cost_per_1000_usd={per_thousand(cascade_cost, len(rows))}")
        print(f"{name}_cascade_cost_vs_all_llm={cascade_cost / all_llm:.3f}")
        print(f"{name}_cascade_batch_api_cost_per_1000_usd={per_thousand(batch_cost, len(rows))}")
        print(f"{name}_cascade_batch_api_cost_vs_all_llm={batch_cost / all_llm:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
