"""PostgreSQL CPU per ticket-list call, for each case of `analytics.py --cases ticket_list`.

    cd backend && python bench/list_cpu.py [--database-url URL] [--calls 42]

Runs the ticket list's service call (list_tickets, as GET /tickets/ does) on the database
`analytics.py` seeded, for the bench user, over the same pages and search terms, and reads
the CPU time of the PostgreSQL backend serving this connection from /proc (so the server
must run on this machine). CPU, unlike latency, holds still while other work shares the
cores. Prints `db_cpu_ms_<case>=` and `api_cpu_ms_<case>=` (this process's CPU) per call.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.database import make_engine  # noqa: E402
from app.models import User  # noqa: E402
from app.pipeline.ticket_list import list_tickets  # noqa: E402
from bench.analytics import (  # noqa: E402
    BENCH_EMAIL,
    DEFAULT_DATABASE_URL,
    LIST_PAGES,
    SEARCH_TERMS,
    SORT_KEYS,
)


def cases(now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The filters of each ticket_list case of analytics.py, one entry per variant."""
    found: dict[str, list[dict[str, Any]]] = {"bug_page": [{"category": "bug"}]}
    found.update(
        (f"q_{kind}", [{"text": term} for term in terms]) for kind, terms in SEARCH_TERMS.items()
    )
    found["status"] = [{"status": "open"}]
    found["date_range"] = [{"start": now - timedelta(days=60), "end": now - timedelta(days=30)}]
    for key in SORT_KEYS:
        for direction in ("", "-"):
            found[f"sort_{'desc_' if direction else ''}{key}"] = [{"sort": direction + key}]
    return found


def backend_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--calls", type=int, default=42, help="timed calls per case")
    args = parser.parse_args(argv)
    engine = make_engine(args.database_url)
    with Session(engine) as db:
        user_id = db.scalar(select(User.id).where(User.email == BENCH_EMAIL))
        pid = int(db.execute(text("SELECT pg_backend_pid()")).scalar_one())
        for name, variants in cases(datetime.now(UTC)).items():
            calls = []
            for index in range(args.calls):
                filters = dict(variants[index % len(variants)])
                sort = filters.pop("sort", "-updated_at")
                calls.append((LIST_PAGES[index % len(LIST_PAGES)], sort, filters))
            for page, sort, filters in calls[: len(LIST_PAGES)]:  # warm-up
                list_tickets(db=db, user_id=user_id, page=page, page_size=25, sort=sort, **filters)
            db_started, api_started = backend_cpu_s(pid), time.process_time()
            for page, sort, filters in calls:
                list_tickets(db=db, user_id=user_id, page=page, page_size=25, sort=sort, **filters)
            db_ms = (backend_cpu_s(pid) - db_started) * 1000 / len(calls)
            api_ms = (time.process_time() - api_started) * 1000 / len(calls)
            print(f"db_cpu_ms_{name}={db_ms:.1f}")
            print(f"api_cpu_ms_{name}={api_ms:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
