"""How fast this machine is right now, printed next to CPU and latency figures.

On a shared machine the same pure-Python work takes up to twice as long from one minute to
the next: a figure is best read against this reference measured in the same run.
"""

from __future__ import annotations

import os
import time

REFERENCE_LOOP_ITERATIONS = 2_000_000


def reference_loop_cpu_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop (integer arithmetic, no allocation)."""
    started = time.process_time()
    total = 0
    for n in range(REFERENCE_LOOP_ITERATIONS):
        total += n * n
    return (time.process_time() - started) * 1000


def pin_to_one_core() -> None:
    """Latency is quoted for one core; pin the process where the OS allows it."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
