"""Retrain, list or roll back a user's offline model; set cascade options; recompute the
shared model's thresholds. Prints name=value lines.

    cd backend
    python -m app.analysis.ml.retrain --user-id 7                 # train; promote if not worse
    python -m app.analysis.ml.retrain --user-id 7 --include-llm   # also confident LLM answers
    python -m app.analysis.ml.retrain --user-id 7 --list          # versions and held-out scores
    python -m app.analysis.ml.retrain --user-id 7 --rollback [--to-version 3]  # 0: shared
    python -m app.analysis.ml.retrain --user-id 7 --target-precision 0.9 --llm-batch-api on
    python -m app.analysis.ml.retrain --calibrate-shared          # rewrite offline_v1.cascade.json

The Celery task `triage.retrain_user_model` does the same as the first form.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.analysis.ml.retrain",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--user-id", type=int)
    parser.add_argument("--include-llm", action="store_true", default=None)
    parser.add_argument("--list", action="store_true", help="list the user's model versions")
    parser.add_argument("--rollback", action="store_true", help="re-activate an older version")
    parser.add_argument("--to-version", type=int, help="with --rollback; 0 = shared model")
    parser.add_argument(
        "--calibrate-shared", action="store_true", help="recompute the shared model's thresholds"
    )
    parser.add_argument("--target-precision", type=float, help="set the cascade's target")
    parser.add_argument("--llm-batch-api", choices=("on", "off"), help="set the Batch API opt-in")
    parser.add_argument(
        "--learn-from-llm", choices=("on", "off"), help="set: confident LLM answers train too"
    )
    args = parser.parse_args(argv)
    changes = {
        "target_precision": args.target_precision,
        "use_llm_batch_api": None if args.llm_batch_api is None else args.llm_batch_api == "on",
        "learn_from_llm": None if args.learn_from_llm is None else args.learn_from_llm == "on",
    }

    if args.calibrate_shared:
        from app.analysis.ml import user_models

        table = user_models.write_shared_calibration()
        print(f"model_version={table['model_version']}")
        for field, metrics in table["out_of_fold"].items():
            print(f"{field}_oof_accuracy={metrics['accuracy']}")
            print(f"{field}_oof_ece={metrics['expected_calibration_error']}")
            for target in ("0.90", "0.95", "0.98"):
                print(f"{field}_threshold_at_{target}={table['thresholds'][field][target]}")
        print(f"written={user_models.SHARED_CASCADE_PATH.name}")
        return 0
    if args.user_id is None:
        parser.error("--user-id is required")

    from app.analysis import learning
    from app.analysis.ml import model_versions
    from app.database import session_scope
    from app.errors import AppError

    try:
        with session_scope() as db:
            if any(value is not None for value in changes.values()):
                row = learning.update_settings(db=db, user_id=args.user_id, **changes)
                print(f"target_precision={row.target_precision}")
                print(f"use_llm_batch_api={str(row.use_llm_batch_api).lower()}")
                print(f"learn_from_llm={str(row.learn_from_llm).lower()}")
                return 0
            if args.list:
                for row in model_versions.list_models(db=db, user_id=args.user_id):
                    holdout = row.metrics.get("holdout", {})
                    print(
                        f"version={row.version} active={row.active} "
                        f"score={holdout.get('score')} promoted={row.metrics.get('promoted')} "
                        f"created_at={row.created_at.isoformat(timespec='seconds')}"
                    )
                return 0
            if args.rollback:
                active = model_versions.rollback(
                    db=db, user_id=args.user_id, to_version=args.to_version
                )
                print(f"active_version={active.version if active else 'shared'}")
                return 0
            result = learning.retrain_user_model(
                db=db, user_id=args.user_id, include_llm=args.include_llm
            )
    except AppError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    print(f"promoted={str(result.promoted).lower()}")
    print(f"version={result.version if result.version is not None else 'none'}")
    print(f"reason={result.reason}")
    if result.candidate:
        print(f"candidate_score={result.candidate.get('score')}")
        print(f"current_score={result.current.get('score')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
