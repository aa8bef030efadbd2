"""Batch work from the command line: backfill from Zendesk, reprocess stored tickets.

Both queue batch jobs of up to 100 tickets (as `POST /tickets/process-batch` does) on the
service's queue, then follow them with a progress bar and print a summary; `--no-wait`
only queues them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.accounts import integrations
from app.batch import backfills
from app.batch import jobs as batch_jobs
from app.cli.common import CommandError, ProgressBar, chunks, parse_day, user_by_email
from app.database import session_scope
from app.errors import AppError
from app.integrations.zendesk import ZendeskError
from app.models import BatchJob, Ticket, TicketAnalysis

JOB_SIZE = batch_jobs.MAX_BATCH_SIZE
POLL_EVERY_S = 0.5


def zendesk_query(args: argparse.Namespace) -> str:
    """The search query: the given one, narrowed to [since, until) by creation time."""
    try:
        return backfills.search_query(
            query=args.query,
            start=parse_day(args.since).date() if args.since else None,
            end=parse_day(args.until).date() if args.until else None,
        )
    except ValueError as exc:
        raise CommandError("give --query, or a date range with --since/--until") from exc


def found_ticket_ids(user_id: int, query: str) -> list[int]:
    with session_scope() as db:
        target = integrations.resolve(db=db, user_id=user_id).zendesk
    return backfills.search_ticket_ids(target, query)


def queue_jobs(user_id: int, ticket_ids: Sequence[int], origin: str) -> list[str]:
    job_ids = []
    for chunk in chunks(list(ticket_ids), JOB_SIZE):
        with session_scope() as db:
            try:
                job = batch_jobs.submit(
                    db=db, user_id=user_id, zendesk_ticket_ids=list(chunk), origin=origin
                )
            except AppError as exc:
                raise CommandError(exc.message) from exc
            job_ids.append(job.id)
    return job_ids


def follow(job_ids: Sequence[str], total: int, timeout_s: float) -> dict[str, int]:
    """Progress until every job has finished (or the timeout); the jobs' counts."""
    bar = ProgressBar(total, "tickets")
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with session_scope() as db:
                rows = db.execute(
                    select(BatchJob.done, BatchJob.failed, BatchJob.finished_at).where(
                        BatchJob.id.in_(job_ids)
                    )
                ).all()
            done = sum(row.done for row in rows)
            failed = sum(row.failed for row in rows)
            finished = sum(1 for row in rows if row.finished_at is not None)
            bar.update(done + failed, f"{finished}/{len(job_ids)} jobs, {failed} failed")
            if finished == len(job_ids) or time.monotonic() > deadline:
                return {"done": done, "failed": failed, "finished_jobs": finished}
            time.sleep(POLL_EVERY_S)
    finally:
        bar.close()


def run_jobs(args: argparse.Namespace, user_id: int, ticket_ids: list[int], what: str) -> int:
    if not ticket_ids:
        print(f"{what}: no tickets matched; nothing queued")
        return 0
    job_ids = queue_jobs(user_id, ticket_ids, origin="api")
    print(f"{what}: {len(ticket_ids)} tickets in {len(job_ids)} jobs: {' '.join(job_ids)}")
    if args.no_wait:
        return 0
    counts = follow(job_ids, len(ticket_ids), args.timeout)
    unfinished = len(job_ids) - counts["finished_jobs"]
    print(
        f"{what}: {counts['done']} done, {counts['failed']} failed, "
        f"{len(job_ids) - unfinished}/{len(job_ids)} jobs finished"
        + (
            f" ({unfinished} still running: follow them with GET /tickets/jobs)"
            if unfinished
            else ""
        )
    )
    return 1 if counts["failed"] or unfinished else 0


def backfill(args: argparse.Namespace) -> int:
    query = zendesk_query(args)
    with session_scope() as db:
        user_id = user_by_email(db, args.user).id
    try:
        ticket_ids = found_ticket_ids(user_id, query)
    except (AppError, ZendeskError) as exc:
        raise CommandError(exc.message) from exc
    return run_jobs(args, user_id, ticket_ids, f"backfill {query!r}")


def reprocess(args: argparse.Namespace) -> int:
    with session_scope() as db:
        user_id = user_by_email(db, args.user).id
        query = (
            select(Ticket.zendesk_ticket_id)
            .join(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
            .where(Ticket.user_id == user_id)
            .order_by(Ticket.zendesk_ticket_id)
        )
        for column, value in (
            (TicketAnalysis.category, args.category),
            (TicketAnalysis.urgency, args.urgency),
            (TicketAnalysis.source, args.source),
            (Ticket.status, args.status),
        ):
            if value:
                query = query.where(column == value)
        since: datetime | None = parse_day(args.since) if args.since else None
        until: datetime | None = parse_day(args.until) if args.until else None
        if since is not None:
            query = query.where(TicketAnalysis.created_at >= since)
        if until is not None:
            query = query.where(TicketAnalysis.created_at < until)
        if args.limit:
            query = query.limit(args.limit)
        ticket_ids = list(dict.fromkeys(db.execute(query).scalars()))
    return run_jobs(args, user_id, ticket_ids, "reprocess")


def _waiting_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-wait", action="store_true", help="queue the jobs and exit")
    parser.add_argument(
        "--timeout", type=float, default=3600, help="stop following after this many seconds"
    )


def register(commands: Any) -> None:
    fill = commands.add_parser(
        "backfill", help="analyse the Zendesk tickets a search or a date range finds"
    )
    fill.add_argument("--user", required=True, help="the account's email")
    fill.add_argument("--query", help='a Zendesk search query, e.g. "status:open tags:vip"')
    fill.add_argument("--since", help="created on or after this day (YYYY-MM-DD)")
    fill.add_argument("--until", help="created before this day (YYYY-MM-DD)")
    _waiting_options(fill)
    fill.set_defaults(run=backfill)

    again = commands.add_parser("reprocess", help="analyse stored tickets again, by filter")
    again.add_argument("--user", required=True, help="the account's email")
    again.add_argument("--category")
    again.add_argument("--urgency")
    again.add_argument("--source", help="offline, llm, ...")
    again.add_argument("--status", help="the Zendesk status stored with the ticket")
    again.add_argument("--since", help="analysed on or after this day (YYYY-MM-DD)")
    again.add_argument("--until", help="analysed before this day (YYYY-MM-DD)")
    again.add_argument("--limit", type=int)
    _waiting_options(again)
    again.set_defaults(run=reprocess)
