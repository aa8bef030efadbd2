"""Limits bench: several worker processes on Redis share the upstreams' rate limits.

    cd backend && python bench/limits.py [--workers 2] [--tickets 1200] [--llm-rpm 3000]
        [--llm-tpm 1000000] [--zendesk-rpm 700] [--llm-latency 0.5]
    python bench/limits.py --workers 1,2,4 --no-limits [--llm-latency 1.5] [--tickets 1600]

The API and each worker run as their own processes, as in production, against the Zendesk
and OpenAI simulators (in this process), on a scratch PostgreSQL database and the Redis of
--redis-url (emptied). Tickets are realistic e-mails (bench/tickets.py), queued through
`POST /tickets/process-batch` in batches of 100, all at once.

With limits, prints the share of each limit used while the queue was full (the first and last
10% of the busy time are left out), `upstream_429_share=` (429s over all upstream calls) and
the tickets that failed or fell back to the offline analyzer. Targets: >= 90% of the binding
limit, <= 1% 429s, no ticket failed. With --no-limits, prints tickets per second for each
worker count (target: 4 workers >= 3 times one). Every run stops after --timeout-s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

BACKEND_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BACKEND_DIR))

from bench import harness  # noqa: E402
from bench.tickets import realistic_tickets, size_summary  # noqa: E402

# "No limit": far above anything a run can use. (Ten million tokens a minute was a limit:
# at ~3,300 tokens a request, learned from the headers, it paced four workers to ~45 calls/s.)
UNLIMITED = 10**12


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="2", help="worker processes, e.g. 2 or 1,2,4")
    parser.add_argument("--no-limits", action="store_true", help="upstreams without limits")
    parser.add_argument("--tickets", type=int, default=None, help="per run (default 1200/1600)")
    parser.add_argument("--llm-rpm", type=int, default=3000)
    parser.add_argument("--llm-tpm", type=int, default=1_000_000)
    parser.add_argument("--zendesk-rpm", type=int, default=700)
    parser.add_argument("--llm-latency", type=float, default=None, help="s (default 0.5/1.5)")
    parser.add_argument("--zendesk-latency", type=float, default=0.1)
    parser.add_argument("--batch-concurrency", type=int, default=50)
    parser.add_argument(
        "--jobs-per-user",
        type=int,
        default=0,
        help="BATCH_JOBS_PER_USER for the bench's one user (default: the worker count, so a "
        "lone user's fair share is every worker; the service's default of 2 caps one user at "
        "two jobs however many workers run)",
    )
    parser.add_argument("--timeout-s", type=float, default=600, help="per run")
    # Not a number the test suite reserves (8, 9, 12-15; README): it refuses a database
    # holding keys it did not write, and this bench's would stay there.
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--admin-url", default=harness.ADMIN_URL)
    parser.add_argument("--database", default="triage_bench_limits")
    parser.add_argument("--port", type=int, default=8870, help="API; simulators on +1, +2")
    return parser.parse_args()


def machine_busy_s() -> float:
    """CPU seconds every core of the machine spent busy (not idle or waiting), /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def database_cpu_s(database: str) -> float:
    """CPU seconds of the PostgreSQL backends serving `database` (a backend that exits during
    the run takes its share with it: a lower bound)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f" {database} ".encode() not in (entry / "cmdline").read_bytes() + b" ":
                continue
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def busy_window(times: list[float]) -> tuple[float, float]:
    """The busy time without its first and last 10% (ramp-up and the queue draining)."""
    first, last = min(times), max(times)
    return first + 0.1 * (last - first), last - 0.1 * (last - first)


def jobs_per_user(args: argparse.Namespace, workers: int) -> int:
    return args.jobs_per_user or workers


def run_once(args: argparse.Namespace, workers: int, limited: bool) -> dict[str, Any]:
    import redis

    from sandbox.openai_sim import SIM_API_KEY, OpenAISimulator, create_openai_app
    from sandbox.serve import serve_in_thread
    from sandbox.zendesk import (
        DEFAULT_API_TOKEN,
        DEFAULT_EMAIL,
        ZendeskSimulator,
        create_zendesk_app,
    )

    database_url = harness.scratch_database(args.admin_url, args.database)
    harness.migrate(database_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    env = harness.bench_environment(
        database_url,
        args.redis_url,
        BATCH_CONCURRENCY=str(args.batch_concurrency),
        BATCH_JOBS_PER_USER=str(jobs_per_user(args, workers)),
    )

    zendesk = ZendeskSimulator(
        latency_s=args.zendesk_latency,
        rate_limit_per_minute=args.zendesk_rpm if limited else None,
    )
    llm = OpenAISimulator(
        latency_s=args.llm_latency,
        rate_limit_requests=args.llm_rpm if limited else UNLIMITED,
        rate_limit_tokens=args.llm_tpm if limited else UNLIMITED,
    )
    tickets = realistic_tickets(args.tickets, seed=workers)
    ids = [zendesk.create_ticket(ticket.subject, ticket.body)["id"] for ticket in tickets]
    warm_ids = [zendesk.create_ticket("Warm-up", "Warming up.")["id"] for _ in range(2 * workers)]
    batches = [ids[start : start + 100] for start in range(0, len(ids), 100)]

    with (
        serve_in_thread(create_zendesk_app(zendesk), args.port + 1) as zendesk_url,
        serve_in_thread(create_openai_app(llm), args.port + 2) as llm_url,
        harness.running(env, api_port=args.port, workers=workers) as processes,
    ):
        api = harness.Api(f"http://127.0.0.1:{args.port}")
        api.sign_up()
        api.configure(
            zendesk_url=zendesk_url,
            zendesk_email=DEFAULT_EMAIL,
            zendesk_api_token=DEFAULT_API_TOKEN,
            openai_api_key=SIM_API_KEY,
            openai_base_url=f"{llm_url}/v1",
            analysis_mode="llm",
            redact_pii=True,
        )
        # Warm-up, not measured: each worker opens its connections and loads its models.
        api.run_batches([[warm] for warm in warm_ids], timeout_s=120)
        zendesk_before, llm_before = len(zendesk.calls), len(llm.calls)
        pids = [worker.pid for worker in processes.workers]
        api_pid = processes.api.pid if processes.api else 0
        cpu_before = (
            sum(map(harness.cpu_s, pids)),
            time.process_time(),
            harness.cpu_s(api_pid),
            machine_busy_s(),
            database_cpu_s(args.database),
        )
        outcome = api.run_batches(batches, timeout_s=args.timeout_s)
        cpu_used = (
            sum(map(harness.cpu_s, pids)) - cpu_before[0],
            time.process_time() - cpu_before[1],
            harness.cpu_s(api_pid) - cpu_before[2],
            machine_busy_s() - cpu_before[3],
            database_cpu_s(args.database) - cpu_before[4],
        )
        zendesk_calls = zendesk.calls[zendesk_before:]
        llm_calls = [
            call for call in llm.calls[llm_before:] if call.path.endswith("/chat/completions")
        ]

    result: dict[str, Any] = {
        "tickets": len(ids),
        "wall_s": outcome.wall_s,
        "tickets_per_s": outcome.done / outcome.wall_s,
        "failed": outcome.failed,
        "fallback": outcome.sources().get("fallback", 0),
        "worker_cpu_ms_per_ticket": cpu_used[0] * 1000 / len(ids),
        "simulators_cpu_ms_per_ticket": cpu_used[1] * 1000 / len(ids),
        "api_cpu_ms_per_ticket": cpu_used[2] * 1000 / len(ids),
        "postgres_cpu_ms_per_ticket": cpu_used[4] * 1000 / len(ids),
        # Every process on the machine (PostgreSQL, Redis, anything else running) over the
        # run: near 1.0, the cores, not the pipeline, bound throughput.
        "machine_cpu_busy_share": cpu_used[3] / (outcome.wall_s * (os.cpu_count() or 1)),
    }
    all_calls = len(zendesk_calls) + len(llm_calls)
    rejected = sum(1 for call in zendesk_calls if call.status == 429) + sum(
        1 for call in llm_calls if call.status == 429
    )
    result["upstream_calls"] = all_calls
    result["upstream_429_share"] = rejected / all_calls if all_calls else 0.0
    if limited and llm_calls:
        start, end = busy_window([call.at for call in llm_calls])
        minutes = (end - start) / 60
        answered = [call for call in llm_calls if start <= call.at <= end and call.status == 200]
        # As the provider counts them: the prompt plus the output cap of each request.
        tokens = sum(
            int(call.response["usage"]["prompt_tokens"])
            + int(
                call.body.get("max_completion_tokens")
                or call.response["usage"]["completion_tokens"]
            )
            for call in answered
        )
        zendesk_in = [call for call in zendesk_calls if start <= call.time <= end]
        result["llm_rpm_utilisation"] = len(answered) / minutes / args.llm_rpm
        result["llm_tpm_utilisation"] = tokens / minutes / args.llm_tpm
        result["zendesk_rpm_utilisation"] = len(zendesk_in) / minutes / args.zendesk_rpm
        result["measured_window_s"] = end - start
        result["llm_tokens_per_ticket"] = tokens / max(1, len(answered))
    return result


def main() -> None:
    args = parse_args()
    limited = not args.no_limits
    if args.tickets is None:
        args.tickets = 1200 if limited else 1600
    if args.llm_latency is None:
        args.llm_latency = 0.5 if limited else 1.5
    worker_counts = [int(count) for count in args.workers.split(",")]
    if limited and min(worker_counts) < 2:
        raise SystemExit("the limits run needs two or more worker processes")
    summary = size_summary(realistic_tickets(args.tickets))
    print(f"ticket_body_median_chars={summary['ticket_body_median_chars']:.0f}")
    print(f"llm_latency_s={args.llm_latency}")
    rates: dict[int, float] = {}
    for workers in worker_counts:
        result = run_once(args, workers, limited)
        prefix = f"workers_{workers}_" if len(worker_counts) > 1 else ""
        print(f"{prefix}workers={workers}")
        print(f"{prefix}batch_jobs_per_user={jobs_per_user(args, workers)}")
        for name, value in result.items():
            print(
                f"{prefix}{name}={value:.3f}"
                if isinstance(value, float)
                else f"{prefix}{name}={value}"
            )
        if limited:
            binding = max(("llm_rpm", "llm_tpm", "zendesk_rpm"),
                          key=lambda name: result.get(f"{name}_utilisation", 0.0))  # fmt: skip
            print(f"{prefix}binding_limit={binding}")
        pipeline_ms = sum(
            result[name]
            for name in ("worker_cpu_ms_per_ticket", "simulators_cpu_ms_per_ticket",
                         "api_cpu_ms_per_ticket", "postgres_cpu_ms_per_ticket")
        )  # fmt: skip
        # What the measured rate costs in cores, everything the run needs counted.
        print(f"{prefix}pipeline_cpu_ms_per_ticket={pipeline_ms:.3f}")
        print(f"{prefix}pipeline_cores_used={pipeline_ms * result['tickets_per_s'] / 1000:.3f}")
        rates[workers] = result["tickets_per_s"]
        time.sleep(1)
    if len(rates) > 1:
        lowest = min(rates)
        for workers, rate in rates.items():
            print(f"scale_{workers}_vs_{lowest}={rate / rates[lowest]:.2f}")


if __name__ == "__main__":
    main()
