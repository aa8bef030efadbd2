"""The operator's `triage` command, run as a subprocess (the console script the package
installs) against the test database, a real worker on Redis and the Zendesk simulator."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import BACKEND_DIR
from app.models import User
from sandbox.zendesk import ZendeskSimulator
from tests.worker.conftest import (
    WorkerFactory,
    committed_user,
    count,
    live_client,
    redis_broker,
    start_worker,
)

__all__ = ["committed_user", "live_client", "redis_broker", "start_worker"]

pytestmark = pytest.mark.postgres_only
TRIAGE = Path(sys.executable).parent / "triage"
NEW_PASSWORD = "a-brand-new-password"


def triage(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    assert TRIAGE.exists(), "the triage console script is not installed (pip install -e backend)"
    return subprocess.run(
        [str(TRIAGE), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=BACKEND_DIR,
        env={**os.environ, **(env or {})},
        timeout=timeout_s,
    )


def login_status(client: TestClient, email: str, password: str) -> int:
    response = client.post("/auth/login", data={"username": email, "password": password})
    return response.status_code


def test_create_user_then_reset_password_revokes_old_tokens(
    live_client: TestClient, engine: Engine
) -> None:
    email = f"cli-{datetime.now(UTC).timestamp()}@example.com"
    created = triage("create-user", "--email", email, "--password-stdin", stdin="first-password\n")
    assert created.returncode == 0, created.stderr
    assert email in created.stdout
    token = live_client.post(
        "/auth/login", data={"username": email, "password": "first-password"}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert live_client.get("/auth/me", headers=headers).status_code == 200

    again = triage("create-user", "--email", email, "--password-stdin", stdin="other-password\n")
    assert again.returncode == 2
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
    short = triage("reset-password", "--email", email, "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr

    reset = triage("reset-password", "--email", email, "--password-stdin", stdin=NEW_PASSWORD)
    assert reset.returncode == 0, reset.stderr
    assert live_client.get("/auth/me", headers=headers).status_code == 401
    assert login_status(live_client, email, "first-password") == 401
    assert login_status(live_client, email, NEW_PASSWORD) == 200
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM users WHERE email = %s", (email,))


def test_create_an_admin_and_change_roles_never_demoting_the_last_admin(
    live_client: TestClient, engine: Engine
) -> None:
    stamp = datetime.now(UTC).timestamp()
    admin_email, user_email = f"cli-admin-{stamp}@example.com", f"cli-user-{stamp}@example.com"
    created = triage(
        "create-user", "--email", admin_email, "--admin", "--password-stdin", stdin=NEW_PASSWORD
    )
    assert created.returncode == 0, created.stderr
    assert "created admin" in created.stdout and admin_email in created.stdout
    plain = triage("create-user", "--email", user_email, "--password-stdin", stdin=NEW_PASSWORD)
    assert plain.returncode == 0 and "created user" in plain.stdout

    def headers(email: str) -> dict[str, str]:
        response = live_client.post(
            "/auth/login", data={"username": email, "password": NEW_PASSWORD}
        )
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    admin_headers, user_headers = headers(admin_email), headers(user_email)
    assert live_client.get("/auth/me", headers=admin_headers).json()["role"] == "admin"
    assert live_client.get("/admin/users", headers=admin_headers).status_code == 200
    assert live_client.get("/admin/users", headers=user_headers).status_code == 403

    active_admins = "SELECT count(*) FROM users WHERE role = 'admin' AND is_active"
    assert count(engine, active_admins) == 1  # the suite's database holds no other admin
    last = triage("set-role", admin_email, "user")
    assert last.returncode == 2 and "Traceback" not in last.stderr
    assert "last active admin" in last.stderr

    promoted = triage("set-role", user_email, "admin")
    assert promoted.returncode == 0 and f"{user_email} is now admin" in promoted.stdout
    assert live_client.get("/admin/users", headers=user_headers).status_code == 200
    demoted = triage("set-role", admin_email, "user")
    assert demoted.returncode == 0, demoted.stderr
    assert live_client.get("/admin/users", headers=admin_headers).status_code == 403
    unknown = triage("set-role", admin_email, "root")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "DELETE FROM users WHERE email IN (%s, %s)", (admin_email, user_email)
        )


def test_unknown_user_is_a_clear_error() -> None:
    result = triage("retrain", "--user", "nobody@example.com")
    assert result.returncode == 2
    assert "no user with the email 'nobody@example.com'" in result.stderr


def test_backfill_a_search_in_jobs_of_100_with_progress_and_summary(
    committed_user: User,
    zendesk_sim: ZendeskSimulator,
    start_worker: WorkerFactory,
    redis_broker: str,
    engine: Engine,
) -> None:
    start_worker()
    unsolved = {"new", "open", "pending", "hold"}
    open_ids = [
        t for t in sorted(zendesk_sim.tickets) if zendesk_sim.ticket(t)["status"] in unsolved
    ]
    assert len(open_ids) > 200  # three jobs
    result = triage(
        "backfill", "--user", committed_user.email, "--query", "status<solved",
        env={"REDIS_URL": redis_broker}, timeout_s=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = -(-len(open_ids) // 100)
    assert f"{len(open_ids)} tickets in {jobs} jobs" in result.stdout
    assert f"{len(open_ids)} done, 0 failed, {jobs}/{jobs} jobs finished" in result.stdout
    assert f"] {len(open_ids)}/{len(open_ids)} tickets" in result.stderr  # the progress bar
    user = committed_user.id
    assert count(engine, "SELECT count(*) FROM batch_jobs WHERE user_id = :u", u=user) == jobs
    assert count(engine, "SELECT max(total) FROM batch_jobs WHERE user_id = :u", u=user) == 100
    analysed = count(engine, "SELECT count(*) FROM ticket_analyses WHERE user_id = :u", u=user)
    assert analysed == len(open_ids)

    # The stored tickets, by filter: the same path, without Zendesk search.
    category = next(
        iter(
            engine.connect()
            .exec_driver_sql(
                "SELECT category FROM ticket_analyses WHERE user_id = %s GROUP BY category "
                "ORDER BY count(*) DESC LIMIT 1",
                (user,),
            )
            .scalars()
        )
    )
    again = triage(
        "reprocess", "--user", committed_user.email, "--category", category, "--limit", "20",
        env={"REDIS_URL": redis_broker}, timeout_s=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "reprocess: 20 tickets in 1 jobs" in again.stdout
    assert "reprocess: 20 done, 0 failed" in again.stdout

    too_long = triage("export", "--user", committed_user.email, "--start", "2000-01-01")
    assert too_long.returncode == 2 and "366 days" in too_long.stderr
    exported = triage("export", "--user", committed_user.email)  # the last 30 days
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == len(open_ids)
    assert {row["category"] for row in rows} >= {category}

    with engine.begin() as connection:  # rollups gone wrong (a bulk import, a bug)
        connection.exec_driver_sql(
            "UPDATE system_metrics SET tickets_processed = 0 WHERE user_id = %s", (user,)
        )
    rebuilt = triage("rebuild-rollups", "--user", committed_user.email)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt the daily rollups of 1 users" in rebuilt.stdout
    recounted = count(
        engine, "SELECT sum(tickets_processed) FROM system_metrics WHERE user_id = :u", u=user
    )
    assert recounted == len(open_ids)


def test_backfill_by_date_range_queues_without_waiting(
    committed_user: User, zendesk_sim: ZendeskSimulator, redis_broker: str, engine: Engine
) -> None:
    created = {t: zendesk_sim.ticket(t)["created_at"][:10] for t in sorted(zendesk_sim.tickets)}
    # One bound: the simulator ORs two conditions on the same field (Zendesk ANDs them).
    in_range = [t for t, day in created.items() if day < "2026-10-08"]
    assert 0 < len(in_range) <= 100
    result = triage(
        "backfill", "--user", committed_user.email, "--until", "2026-10-08", "--no-wait",
        env={"REDIS_URL": redis_broker},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "'created<2026-10-08'" in result.stdout
    assert f"{len(in_range)} tickets in 1 jobs" in result.stdout
    user = committed_user.id
    assert count(engine, "SELECT sum(total) FROM batch_jobs WHERE user_id = :u", u=user) == len(
        in_range
    )
    nothing = triage("backfill", "--user", committed_user.email)
    assert nothing.returncode == 2 and "--query" in nothing.stderr


def test_rotate_keys_reencrypts_stored_secrets_with_the_new_first_key(
    committed_user: User,
) -> None:
    old_keys = os.environ["ENCRYPTION_KEYS"]
    new_key = Fernet.generate_key().decode()
    rotated = triage("rotate-keys", env={"ENCRYPTION_KEYS": f"{new_key},{old_keys}"})
    assert rotated.returncode == 0, rotated.stderr
    assert "rotated=0 " not in rotated.stdout and "unreadable=0" in rotated.stdout
    # Only the new key left: the secrets still decrypt (the job would fail otherwise).
    second = triage("rotate-keys", env={"ENCRYPTION_KEYS": new_key})
    assert second.returncode == 0, second.stderr
    assert "rotated=0 " in second.stdout and "unreadable=0" in second.stdout, second.stdout
    back = triage("rotate-keys", env={"ENCRYPTION_KEYS": f"{old_keys},{new_key}"})
    assert back.returncode == 0, back.stderr  # the suite's key first again, for later tests


def test_retrain_says_why_a_model_was_not_trained(committed_user: User) -> None:
    result = triage("retrain", "--user", committed_user.email)
    assert result.returncode == 0, result.stderr
    assert "retrain: not promoted: need" in result.stdout
