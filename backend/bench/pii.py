"""Speed of PII redaction, which runs on every ticket before it leaves for the LLM.

    cd backend && python bench/pii.py [--runs 200]

On a realistic 5 KB ticket (personal data among order numbers, versions and log lines),
prints name=value lines: best and median milliseconds per redaction on one core, and a
reference loop's CPU time to read them against. Budget: 1 ms on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from app.analysis.pii import redact  # noqa: E402
from bench.machine import pin_to_one_core, reference_loop_cpu_ms  # noqa: E402
from sandbox.samples import PII_TICKET_5KB  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args(argv)
    pin_to_one_core()
    redact(PII_TICKET_5KB)  # warm-up: compiled patterns, caches
    durations = []
    for _ in range(args.runs):
        started = time.perf_counter()
        redact(PII_TICKET_5KB)
        durations.append((time.perf_counter() - started) * 1000)
    print(f"pii_ticket_chars={len(PII_TICKET_5KB)}")
    print(f"pii_redact_ms_best={min(durations):.3f}")
    print(f"pii_redact_ms_median={statistics.median(durations):.3f}")
    print(f"reference_loop_cpu_ms={reference_loop_cpu_ms():.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
