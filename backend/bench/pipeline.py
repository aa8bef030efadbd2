"""Batch pipeline benchmark: a real Celery worker against the Zendesk and OpenAI simulators.

    cd backend && python bench/pipeline.py [--zendesk-latency 0.15] [--llm-latency 1.5]
        [--batches 6] [--repeats 3] [--baseline-tickets 10] [--worker-concurrency 4]
        [--batch-concurrency 100] [--memory-tickets 10000] [--template-tickets]

Tickets are realistic e-mails (bench/tickets.py: median ~1,300 characters, quoted threads,
signatures, personal data, some over 10 KB) analysed with PII redaction on, so
`worker_cpu_ms_per_ticket` is the CPU of real work (target <= 3 ms); `--template-tickets`
brings back the one-line tickets of the first measurements. The memory rounds then send
--memory-tickets more through an API process (`POST /tickets/process-batch`) in three
rounds and print the resident memory of the API and of the worker (its pool included) after
each: `api_rss_mb=`, `worker_rss_mb=` after the last, and whether either grew between the
second and the third round (`rss_grew_round2_to_3=`).

Needs PostgreSQL (a scratch database `triage_bench_pipeline` is created and dropped) and
Redis (database 11 by default). Prints name=value lines: the batch path (one batch of 100,
then several batches in flight) and the seed's one-at-a-time way measured in the same run.
The batches-in-flight round runs --repeats times on fresh tickets: throughput and CPU are the
median of the rounds (CPU's min and max are printed too: on a shared machine they spread),
latencies are pooled. `llm_fallbacks=` counts the run's tickets analysed offline because their LLM
call failed: not failed tickets, but not the work measured either.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BACKEND_DIR))

ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "triage_bench_pipeline"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zendesk-latency", type=float, default=0.15)
    parser.add_argument("--llm-latency", type=float, default=1.5)
    parser.add_argument("--batches", type=int, default=6, help="batches of 100 in flight")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of batches in flight")
    parser.add_argument("--baseline-tickets", type=int, default=10)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--batch-concurrency", type=int, default=100)
    parser.add_argument("--memory-tickets", type=int, default=10_000, help="0: no memory rounds")
    parser.add_argument("--template-tickets", action="store_true", help="one-line tickets")
    parser.add_argument("--api-port", type=int, default=8860)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--database", default=BENCH_DB, help="scratch database (dropped)")
    return parser.parse_args()


def configure_environment(args: argparse.Namespace) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {args.database}"))
    admin.dispose()
    database_url = args.admin_url.rsplit("/", 1)[0] + f"/{args.database}"
    os.environ.update(
        {
            "ENV": "test",
            "DATABASE_URL": database_url,
            "REDIS_URL": args.redis_url,
            "SECRET_KEY": "bench-secret-key-bench-secret-key-0123456789",
            "ENCRYPTION_KEYS": "bX9uqS1xLcD3mQeKcS8c4bJf0m3y8Xb2m6R0W8Q5b3Y=",
            "SANDBOX_ENABLED": "false",
            "BATCH_CONCURRENCY": str(args.batch_concurrency),
            "LLM_MAX_RETRIES": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    return database_url


def process_cpu_seconds(root_pid: int) -> float:
    """CPU time (user + system) of a process and all its live descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, stack = 0.0, [root_pid]
    while stack:
        pid = stack.pop()
        if pid in stats:
            fields = stats[pid]
            total += (int(fields[11]) + int(fields[12])) / tick
        stack.extend(children.get(pid, []))
    return total


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def memory_rounds(args: argparse.Namespace, ticket_ids: list[int], worker_pid: int) -> None:
    """Three rounds through an API process; resident memory after each."""
    from bench import harness

    env = dict(os.environ, PYTHONPATH=str(BACKEND_DIR))
    api_process = harness.start_api(env, args.api_port)
    try:
        api = harness.Api(f"http://127.0.0.1:{args.api_port}")
        api.sign_up("bench@example.com", "bench-password")
        rounds = [ticket_ids[n::3] for n in range(3)]
        api_rss, worker_rss, failed = [], [], 0
        for number, round_ids in enumerate(rounds, start=1):
            batches = [round_ids[start : start + 100] for start in range(0, len(round_ids), 100)]
            outcome = api.run_batches(batches, timeout_s=max(300.0, len(round_ids) / 5))
            failed += outcome.failed
            api_rss.append(harness.rss_mb(api_process.pid))
            worker_rss.append(harness.rss_mb(worker_pid))
            print(f"memory_round_{number}_tickets={len(round_ids)}")
            print(f"memory_round_{number}_api_rss_mb={api_rss[-1]:.1f}")
            print(f"memory_round_{number}_worker_rss_mb={worker_rss[-1]:.1f}")
        api_growth, worker_growth = api_rss[2] - api_rss[1], worker_rss[2] - worker_rss[1]
        grew = any(
            growth > max(5.0, 0.02 * before)
            for growth, before in ((api_growth, api_rss[1]), (worker_growth, worker_rss[1]))
        )
        print(f"memory_tickets={len(ticket_ids)}")
        print(f"memory_failed={failed}")
        print(f"api_rss_mb={api_rss[2]:.1f}")
        print(f"worker_rss_mb={worker_rss[2]:.1f}")
        print(f"api_rss_growth_round2_to_3_mb={api_growth:.1f}")
        print(f"worker_rss_growth_round2_to_3_mb={worker_growth:.1f}")
        print(f"rss_grew_round2_to_3={'yes' if grew else 'no'}")
    finally:
        api_process.terminate()
        api_process.wait(timeout=30)


def main() -> None:
    args = parse_args()
    configure_environment(args)

    import redis
    from sqlalchemy import func, select

    from app.accounts import integrations
    from app.accounts.users import create_user
    from app.batch import jobs as batch_jobs
    from app.core.migrations import upgrade_head
    from app.database import get_engine, session_scope
    from app.enums import AnalysisSource
    from app.models import BatchJob, BatchJobItem, TicketAnalysis
    from app.pipeline.single import process_ticket
    from app.unit_of_work import UnitOfWork
    from bench.machine import reference_loop_cpu_ms
    from bench.tickets import realistic_tickets, size_summary
    from sandbox.openai_sim import SIM_API_KEY, OpenAISimulator, create_openai_app
    from sandbox.serve import serve_in_thread
    from sandbox.zendesk import (
        DEFAULT_API_TOKEN,
        DEFAULT_EMAIL,
        ZendeskSimulator,
        create_zendesk_app,
    )

    with get_engine().connect() as connection:
        upgrade_head(connection)
    redis.Redis.from_url(args.redis_url).flushdb()

    zendesk = ZendeskSimulator(latency_s=args.zendesk_latency)
    llm = OpenAISimulator(latency_s=args.llm_latency)
    needed = (
        100 * (args.batches * args.repeats + 1)
        + args.baseline_tickets
        + 2 * args.worker_concurrency
    )
    if args.template_tickets:
        bodies = [
            (f"Bench ticket {n}", f"The export page crashes when I click save ({n}).")
            for n in range(needed)
        ]
    else:
        drawn = realistic_tickets(needed)
        for name, value in size_summary(drawn).items():
            print(f"{name}={value:g}")
        bodies = [(ticket.subject, ticket.body) for ticket in drawn]
    new_ids = [zendesk.create_ticket(subject, body)["id"] for subject, body in bodies]
    memory_ids = [
        zendesk.create_ticket(ticket.subject, ticket.body)["id"]
        for ticket in realistic_tickets(args.memory_tickets, seed=8)
    ]
    with (
        serve_in_thread(create_zendesk_app(zendesk)) as zendesk_url,
        serve_in_thread(create_openai_app(llm)) as llm_url,
    ):
        with session_scope() as db:
            user = create_user(db=db, email="bench@example.com", password="bench-password")
            integrations.update(
                db=db,
                user_id=user.id,
                changes={
                    "zendesk_url": zendesk_url,
                    "zendesk_email": DEFAULT_EMAIL,
                    "zendesk_api_token": DEFAULT_API_TOKEN,
                    "openai_api_key": SIM_API_KEY,
                    "openai_base_url": f"{llm_url}/v1",
                    "analysis_mode": "llm",
                    "redact_pii": True,
                },
            )
            user_id = user.id

        # The seed's way: one ticket at a time, in this process.
        baseline_ids, rest = new_ids[: args.baseline_tickets], new_ids[args.baseline_tickets :]
        calls_before = len(zendesk.calls)
        latencies: list[float] = []
        started = time.perf_counter()
        for ticket_id in baseline_ids:
            one = time.perf_counter()
            with session_scope() as db:
                process_ticket(uow=UnitOfWork(db), user_id=user_id, zendesk_ticket_id=ticket_id)
            latencies.append(time.perf_counter() - one)
        baseline_wall = time.perf_counter() - started
        baseline_calls = len(zendesk.calls) - calls_before
        baseline_rate = len(baseline_ids) / baseline_wall
        print(f"baseline_tickets={len(baseline_ids)}")
        print(f"baseline_tickets_per_s={baseline_rate:.2f}")
        print(f"baseline_p50_ticket_latency_ms={statistics.median(latencies) * 1000:.0f}")
        print(f"baseline_p95_ticket_latency_ms={percentile(latencies, 0.95) * 1000:.0f}")
        print(f"baseline_zendesk_calls_per_100={baseline_calls * 100 / len(baseline_ids):.0f}")

        env = dict(os.environ)
        # A file, not a pipe nobody reads: a full pipe blocks the worker on its next log line.
        worker_log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "app.worker",
                "worker",
                "--loglevel",
                "warning",
                "--concurrency",
                str(args.worker_concurrency),
                "--hostname",
                "bench@pipeline",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=BACKEND_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=worker_log,
        )
        try:
            time.sleep(4)  # let the pool start
            if worker.poll() is not None:
                worker_log.seek(0)
                raise SystemExit(worker_log.read().decode(errors="replace") or "worker died")

            def run(batches: list[list[int]]) -> tuple[float, list[float], int, float, int, int]:
                calls_before = len(zendesk.calls)
                cpu_before = process_cpu_seconds(worker.pid)
                submitted = time.perf_counter()
                job_ids = []
                for ids in batches:
                    with session_scope() as db:
                        job = batch_jobs.submit(db=db, user_id=user_id, zendesk_ticket_ids=ids)
                        job_ids.append(job.id)
                while True:
                    with session_scope() as db:
                        open_jobs = db.scalars(
                            select(BatchJob.id).where(
                                BatchJob.id.in_(job_ids), BatchJob.finished_at.is_(None)
                            )
                        ).all()
                    if not open_jobs:
                        break
                    time.sleep(0.02)
                wall = time.perf_counter() - submitted
                cpu = process_cpu_seconds(worker.pid) - cpu_before
                with session_scope() as db:
                    rows = db.execute(
                        select(BatchJob.created_at, BatchJobItem.finished_at, BatchJobItem.status)
                        .join(BatchJobItem, BatchJobItem.job_id == BatchJob.id)
                        .where(BatchJob.id.in_(job_ids))
                    ).all()
                failed = sum(1 for row in rows if row.status != "done")
                per_ticket = [
                    (row.finished_at - row.created_at).total_seconds()
                    for row in rows
                    if row.finished_at
                ]
                calls = len(zendesk.calls) - calls_before
                tickets = sum(len(ids) for ids in batches)
                return wall, per_ticket, calls, cpu, failed, tickets

            # Warm-up, not measured: each pool process opens its DB and HTTP connections.
            warm = rest[-args.worker_concurrency * 2 :]
            run([[ticket_id] for ticket_id in warm])
            wall, per_ticket, calls, cpu, failed, tickets = run([rest[:100]])
            print(f"batch100_wall_s={wall:.2f}")
            print(f"batch100_p50_ticket_latency_ms={statistics.median(per_ticket) * 1000:.0f}")
            print(f"batch100_p95_ticket_latency_ms={percentile(per_ticket, 0.95) * 1000:.0f}")
            print(f"batch100_zendesk_calls_per_100={calls * 100 / tickets:.1f}")
            print(f"batch100_failed={failed}")

            reference_ms = [reference_loop_cpu_ms()]
            rates, cpus, per_ticket, calls, failed, tickets = [], [], [], 0, 0, 0
            for repeat in range(args.repeats):
                first = 100 + 100 * args.batches * repeat
                batches = [
                    rest[first + 100 * n : first + 100 * (n + 1)] for n in range(args.batches)
                ]
                wall, latencies, round_calls, cpu, round_failed, round_tickets = run(batches)
                rates.append(round_tickets / wall)
                cpus.append(cpu * 1000 / round_tickets)
                per_ticket += latencies
                calls, failed = calls + round_calls, failed + round_failed
                tickets += round_tickets
            rate = statistics.median(rates)
            print(f"sustained_batches_in_flight={args.batches}")
            print(f"sustained_rounds={args.repeats}")
            print(f"sustained_tickets={tickets}")
            print(f"sustained_tickets_per_s={rate:.1f}")
            print(f"sustained_tickets_per_hour={rate * 3600:.0f}")
            print(f"sustained_p50_ticket_latency_ms={statistics.median(per_ticket) * 1000:.0f}")
            print(f"sustained_p95_ticket_latency_ms={percentile(per_ticket, 0.95) * 1000:.0f}")
            print(f"sustained_zendesk_calls_per_100={calls * 100 / tickets:.1f}")
            print(f"sustained_failed={failed}")
            with session_scope() as db:  # analysed offline because the LLM call failed
                fallbacks = db.scalar(
                    select(func.count()).where(TicketAnalysis.source == AnalysisSource.fallback)
                )
            print(f"llm_fallbacks={fallbacks}")
            print(f"worker_cpu_ms_per_ticket={statistics.median(cpus):.2f}")
            print(f"worker_cpu_ms_per_ticket_min={min(cpus):.2f}")
            print(f"worker_cpu_ms_per_ticket_max={max(cpus):.2f}")
            reference_ms.append(reference_loop_cpu_ms())
            print(f"reference_loop_cpu_ms_before={reference_ms[0]:.0f}")
            print(f"reference_loop_cpu_ms_after={reference_ms[1]:.0f}")
            print(f"speedup_vs_baseline={rate / baseline_rate:.1f}")
            if memory_ids:
                memory_rounds(args, memory_ids, worker.pid)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            worker_log.close()
    get_engine().dispose()


if __name__ == "__main__":
    main()
