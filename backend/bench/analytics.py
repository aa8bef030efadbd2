"""Latency of the analytics dashboard and of a filtered ticket page on a large PostgreSQL.

    cd backend && python bench/analytics.py [--tickets 1000000] [--database-url URL]

Seeds N analysed tickets for one user spread over the last 365 days, plus 10 % more for
other users, with COPY into a dedicated database (dropped and recreated; an existing one
seeded with the same N is reused unless --reseed), builds the SystemMetrics rollups,
serves the app with uvicorn on a loopback port and times real HTTP requests. Prints
name=value lines; when a target is missed, EXPLAIN ANALYZE of that endpoint's slowest
query follows.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

import httpx  # noqa: E402
from sqlalchemy import Engine, event, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.core.migrations import upgrade_head  # noqa: E402
from app.database import make_engine  # noqa: E402
from app.models import Ticket, User  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/triage_bench"
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench-password-123"
BENCH_TIMEZONE = "Europe/Berlin"
OTHER_USERS = 10
OTHER_SHARE = 0.10
FEEDBACK_SHARE = 0.03
DAYS = 365
COPY_CHUNK = 100_000
TARGETS_MS = {"dashboard": 150.0, "ticket_list": 50.0}
LIST_PAGES = (1, 2, 3, 5, 10, 20, 40)

CATEGORIES = (("bug", 30), ("support", 30), ("billing", 20), ("feature", 15), ("other", 5))
URGENCIES = (("low", 40), ("medium", 40), ("high", 20))
SENTIMENTS = (("negative", 35), ("neutral", 50), ("positive", 15))
SOURCES = (("local", 60), ("llm", 35), ("fallback", 5))
SUBJECTS = (
    "Cannot log in after password reset",
    "Charged twice this month",
    "Feature request: export to Excel",
    "App crashes when uploading a file",
    "How do I add a teammate?",
    "Refund for the annual plan",
)
STATUSES = ("new", "open", "pending", "solved", "closed")
TICKET_COLUMNS = (
    "id, user_id, zendesk_ticket_id, subject, description, status, priority, tags, "
    "zendesk_created_at, zendesk_updated_at, created_at, updated_at"
)
ANALYSIS_COLUMNS = (
    "id, ticket_id, user_id, category, urgency, sentiment, confidence, summary, "
    "suggested_tags, source, input_tokens, cached_input_tokens, output_tokens, cost_usd, "
    "processing_time_ms, pii_redactions, tags_written, feedback_category, feedback_urgency, "
    "feedback_sentiment, feedback_at, created_at, updated_at"
)


def weighted(choices: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    return [label for label, _ in choices], [weight for _, weight in choices]


def admin_engine(url: str) -> Engine:
    return make_engine(
        make_url(url).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )


def recreate_database(url: str) -> None:
    name = make_url(url).database
    admin = admin_engine(url)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def database_exists(url: str) -> bool:
    admin = admin_engine(url)
    with admin.connect() as connection:
        found = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"),
            {"name": make_url(url).database},
        )
    admin.dispose()
    return bool(found)


def seeded_count(engine: Engine) -> int | None:
    """Tickets of the bench user in an existing bench database, or None."""
    try:
        with Session(engine) as db:
            user_id = db.scalar(select(User.id).where(User.email == BENCH_EMAIL))
            if user_id is None:
                return None
            return int(db.scalar(select(func.count(Ticket.id)).where(Ticket.user_id == user_id)))
    except Exception:
        return None


def csv_chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if count == size:
            buffer.seek(0)
            yield buffer
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            count = 0
    if count:
        buffer.seek(0)
        yield buffer


def generate_rows(
    owners: list[tuple[int, int]], now: datetime, rng: random.Random
) -> tuple[Iterator[tuple[Any, ...]], Iterator[tuple[Any, ...]]]:
    """Ticket and analysis rows for (user_id, count) owners, analysed over the last year."""
    plan: list[tuple[int, int, datetime]] = []  # (id, user_id, analysed_at)
    next_id = 1
    span_s = DAYS * 86400
    for user_id, count in owners:
        for _ in range(count):
            plan.append((next_id, user_id, now - timedelta(seconds=rng.random() * span_s)))
            next_id += 1
    categories, urgencies = weighted(CATEGORIES), weighted(URGENCIES)
    sentiments, sources = weighted(SENTIMENTS), weighted(SOURCES)

    def tickets() -> Iterator[tuple[Any, ...]]:
        for row_id, user_id, analysed_at in plan:
            stamp = analysed_at.isoformat()
            opened = (analysed_at - timedelta(minutes=rng.randrange(1, 600))).isoformat()
            yield (
                row_id,
                user_id,
                row_id,
                f"{rng.choice(SUBJECTS)} (order {rng.randrange(100_000, 1_000_000)})",
                "Hello, something is not working as expected. Please help.",
                rng.choice(STATUSES),
                "normal",
                "[]",
                opened,
                stamp,
                stamp,
                stamp,
            )

    def analyses() -> Iterator[tuple[Any, ...]]:
        for row_id, user_id, analysed_at in plan:
            category = rng.choices(*categories)[0]
            urgency = rng.choices(*urgencies)[0]
            sentiment = rng.choices(*sentiments)[0]
            rated = rng.random() < FEEDBACK_SHARE
            stamp = analysed_at.isoformat()
            yield (
                row_id,
                row_id,
                user_id,
                category,
                urgency,
                sentiment,
                round(rng.uniform(0.4, 0.99), 3),
                "Customer reports a problem and asks for help.",
                "[]",
                rng.choices(*sources)[0],
                rng.randrange(200, 900),
                0,
                rng.randrange(50, 200),
                f"{rng.uniform(0, 0.002):.6f}",
                rng.randrange(80, 4000),
                "{}",
                "[]",
                (category if rng.random() < 0.85 else "other") if rated else "",
                (urgency if rng.random() < 0.75 else "high") if rated else "",
                "",
                stamp if rated else "",
                stamp,
                stamp,
            )

    return tickets(), analyses()


def copy_rows(engine: Engine, table: str, columns: str, rows: Iterator[tuple[Any, ...]]) -> None:
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for chunk in csv_chunks(rows, COPY_CHUNK):
            cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", chunk)
        cursor.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        connection.commit()
    finally:
        connection.close()


def seed(engine: Engine, bench_user_id: int, tickets: int, rng: random.Random) -> None:
    from app.core.security import hash_password

    with Session(engine) as db:
        db.execute(
            text("UPDATE users SET timezone = :tz WHERE id = :id"),
            {"tz": BENCH_TIMEZONE, "id": bench_user_id},
        )
        password = hash_password(BENCH_PASSWORD)
        others = []
        for index in range(OTHER_USERS):
            user = User(email=f"other{index}@example.com", hashed_password=password)
            user.timezone = "America/New_York" if index % 2 else "UTC"
            db.add(user)
            others.append(user)
        db.commit()
        other_ids = [user.id for user in others]
    per_other = int(tickets * OTHER_SHARE) // OTHER_USERS
    owners = [(bench_user_id, tickets)] + [(user_id, per_other) for user_id in other_ids]
    ticket_rows, analysis_rows = generate_rows(owners, datetime.now(UTC), rng)
    copy_rows(engine, "tickets", TICKET_COLUMNS, ticket_rows)
    copy_rows(engine, "ticket_analyses", ANALYSIS_COLUMNS, analysis_rows)
    vacuum = engine.execution_options(isolation_level="AUTOCOMMIT")
    with vacuum.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))


def rebuild_rollups(engine: Engine) -> int:
    from app.analytics import rollups_write

    written = 0
    with Session(engine) as db:
        for user_id in db.scalars(select(User.id)).all():
            written += rollups_write.rebuild_user(db, user_id=user_id)
        db.commit()
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text("VACUUM ANALYZE system_metrics"))
    return written


class QueryLog:
    """Records the statements an engine runs while active, with their durations."""

    def __init__(self, engine: Engine) -> None:
        self.active = False
        self.entries: list[tuple[float, str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        conn.info["query_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self.active:
            elapsed = (time.perf_counter() - conn.info.pop("query_started")) * 1000
            self.entries.append((elapsed, statement, params))


def explain_slowest(engine: Engine, log: QueryLog, request: Callable[[], None]) -> None:
    log.entries.clear()
    log.active = True
    request()
    log.active = False
    elapsed, statement, params = max(log.entries, key=lambda entry: entry[0])
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        connection.rollback()
    finally:
        connection.close()
    print(f"# slowest query ({elapsed:.1f} ms of {len(log.entries)} queries):")
    print("# " + " ".join(statement.split()))
    print(plan)


def percentiles(durations: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(durations, n=100, method="inclusive")
    return statistics.median(durations), cuts[98]


def measure(
    client: httpx.Client, requests: int, build: Callable[[int], dict[str, Any]]
) -> list[float]:
    for index in range(10):  # warm-up
        spec = build(index)
        client.get(spec["url"], params=spec.get("params")).raise_for_status()
    durations = []
    for index in range(requests):
        spec = build(index)
        started = time.perf_counter()
        response = client.get(spec["url"], params=spec.get("params"))
        durations.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return durations


SEARCH_TERMS = {"common": ("password", "refund", "crashes"), "rare": ("order 4242", "order 77")}
SORT_KEYS = ("updated_at", "created_at", "zendesk_ticket_id", "subject")


def ticket_list_cases(now: datetime) -> dict[str, tuple[str, Callable[[int], dict[str, Any]]]]:
    """The ticket list's slow paths: subject search, status, a date range and each sort, on
    pages that rotate like the category case's."""

    def page(index: int, **params: Any) -> dict[str, Any]:
        return {
            "url": "/tickets/",
            "params": {"page": LIST_PAGES[index % len(LIST_PAGES)], "page_size": 25, **params},
        }

    month_start = (now - timedelta(days=60)).isoformat()
    month_end = (now - timedelta(days=30)).isoformat()
    cases: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
        f"ticket_list_q_{kind}": (
            "ticket_list",
            lambda index, terms=terms: page(index, q=terms[index % len(terms)]),
        )
        for kind, terms in SEARCH_TERMS.items()
    }
    cases["ticket_list_status"] = ("ticket_list", lambda index: page(index, status="open"))
    cases["ticket_list_date_range"] = (
        "ticket_list",
        lambda index: page(index, start=month_start, end=month_end),
    )
    for key in SORT_KEYS:
        for direction in ("", "-"):
            name = f"ticket_list_sort_{'desc_' if direction else ''}{key}"
            cases[name] = (
                "ticket_list",
                lambda index, sort=direction + key: page(index, sort=sort),
            )
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--reseed", action="store_true", help="drop and seed even if seeded")
    parser.add_argument("--cases", default="", help="only the cases whose name contains this")
    args = parser.parse_args(argv)
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url must be a PostgreSQL URL")

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SANDBOX_ENABLED", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # no access log line per timed request
    os.environ.setdefault("LOGIN_ATTEMPTS_PER_MINUTE", "1000")
    # Time the reports themselves, not the API's few-seconds memory of a repeated request.
    os.environ.setdefault("REPORT_CACHE_SECONDS", "0")
    from app.config import get_settings
    from app.database import get_engine
    from app.main import create_app
    from sandbox.serve import serve_in_thread

    get_settings.cache_clear()
    rng = random.Random(20261125)
    reuse = (
        not args.reseed
        and database_exists(args.database_url)
        and seeded_count(make_engine(args.database_url)) == args.tickets
    )
    if not reuse:
        recreate_database(args.database_url)
    engine = get_engine()
    with engine.connect() as connection:
        upgrade_head(connection)

    app = create_app()
    with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:
        if not reuse:
            client.post(
                "/auth/register", json={"email": BENCH_EMAIL, "password": BENCH_PASSWORD}
            ).raise_for_status()
        token = client.post(
            "/auth/login", data={"username": BENCH_EMAIL, "password": BENCH_PASSWORD}
        )
        token.raise_for_status()
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        user_id = client.get("/auth/me").json()["id"]
        print(f"tickets={args.tickets}")
        print(f"other_users_tickets={int(args.tickets * OTHER_SHARE) // OTHER_USERS * OTHER_USERS}")
        if reuse:
            print("seed=reused")
        else:
            started = time.perf_counter()
            seed(engine, user_id, args.tickets, rng)
            print(f"seed_s={time.perf_counter() - started:.1f}")
            started = time.perf_counter()
            rows = rebuild_rollups(engine)
            print(f"rollup_rows={rows}")
            print(f"rollup_rebuild_s={time.perf_counter() - started:.1f}")

        now = datetime.now(UTC)
        year_start = (now - timedelta(days=DAYS)).isoformat()
        cases: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
            "dashboard_30d": ("dashboard", lambda _: {"url": "/analytics/dashboard"}),
            "dashboard_365d": (
                "dashboard",
                lambda _: {"url": "/analytics/dashboard", "params": {"start": year_start}},
            ),
            "dashboard_30d_raw_other_tz": (
                "",
                lambda _: {"url": "/analytics/dashboard", "params": {"tz": "Asia/Tokyo"}},
            ),
            "ticket_list_bug_page": (
                "ticket_list",
                lambda index: {
                    "url": "/tickets/",
                    "params": {
                        "category": "bug",
                        "page": LIST_PAGES[index % len(LIST_PAGES)],
                        "page_size": 25,
                    },
                },
            ),
            **ticket_list_cases(now),
        }
        log = QueryLog(engine)
        print(f"ticket_list_pages={','.join(map(str, LIST_PAGES))}")
        for name, (target_key, build) in cases.items():
            if args.cases not in name:
                continue
            p50, p99 = percentiles(measure(client, args.requests, build))
            print(f"{name}_p50_ms={p50:.1f}")
            print(f"{name}_p99_ms={p99:.1f}")
            if target_key:
                target = TARGETS_MS[target_key]
                print(f"{name}_target_p99_ms={target:.0f}")
                print(f"{name}_target_met={'yes' if p99 <= target else 'no'}")
                if p99 > target:
                    spec = build(len(LIST_PAGES) - 1)

                    def request(spec: dict[str, Any] = spec) -> None:
                        client.get(spec["url"], params=spec.get("params")).raise_for_status()

                    explain_slowest(engine, log, request)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
