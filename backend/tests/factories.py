"""Factories for test data: one place that knows how to build a valid row."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts.users import create_user
from app.batch import jobs as batch_jobs
from app.batch import runner as batch_runner
from app.config import get_settings
from app.database import session_scope
from app.enums import UserRole
from app.main import create_app
from app.models import BatchJob, TicketAnalysis, User
from sandbox.zendesk import ZendeskSimulator

DEFAULT_PASSWORD = "correct-horse-battery"
_sequence = itertools.count(1)


@dataclass
class UserFactory:
    db: Session
    client: TestClient

    def create(self, email: str | None = None, password: str = DEFAULT_PASSWORD) -> User:
        email = email or f"user{next(_sequence)}@example.com"
        user = create_user(db=self.db, email=email, password=password)
        self.db.flush()
        return user

    def token_for(self, user: User, password: str = DEFAULT_PASSWORD) -> str:
        response = self.client.post(
            "/auth/login", data={"username": user.email, "password": password}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def headers_for(self, user: User, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token_for(user, password)}"}

    def authed(self, email: str | None = None) -> tuple[User, dict[str, str]]:
        user = self.create(email)
        return user, self.headers_for(user)

    def admin(self, email: str | None = None) -> tuple[User, dict[str, str]]:
        """An account whose role is admin, and its bearer header."""
        user = self.create(email)
        user.role = UserRole.admin
        self.db.flush()
        return user, self.headers_for(user)


def sign_up(client: TestClient, email: str, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    """Register `email` through the API and log in: the bearer header of the new account."""
    registered = client.post("/auth/register", json={"email": email, "password": password})
    assert registered.status_code == 201, registered.text
    token = client.post("/auth/login", data={"username": email, "password": password})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def configure_zendesk(db: Session, user: User, base_url: str, **options: object) -> None:
    """Point a user's integration at a Zendesk (usually the simulator)."""
    from app.accounts import integrations
    from sandbox.zendesk import DEFAULT_API_TOKEN, DEFAULT_EMAIL

    changes: dict[str, object] = {
        "zendesk_url": base_url,
        "zendesk_email": DEFAULT_EMAIL,
        "zendesk_api_token": DEFAULT_API_TOKEN,
    }
    changes.update(options)
    integrations.update(db=db, user_id=user.id, changes=changes)


def create_analysed_ticket(
    db: Session,
    user: User,
    *,
    created_at: datetime | None = None,
    zendesk_ticket_id: int | None = None,
    subject: str = "Cannot log in",
    category: str = "bug",
    urgency: str = "medium",
    sentiment: str = "neutral",
    source: str = "local",
    confidence: float = 0.9,
    cost_usd: Decimal | str = "0.001",
    processing_time_ms: int = 100,
    summary: str = "The customer cannot log in.",
    **feedback: Any,
) -> TicketAnalysis:
    """A stored ticket with its analysis, analysed at `created_at` (default now).

    Marks the rollup stale exactly as saving an analysis does; `feedback` sets feedback_*.
    """
    from app.models import Ticket, utcnow

    ticket = Ticket(
        user_id=user.id,
        zendesk_ticket_id=zendesk_ticket_id or 100_000 + next(_sequence),
        subject=subject,
        description="",
    )
    db.add(ticket)
    db.flush()
    moment = created_at or utcnow()
    analysis = TicketAnalysis(
        ticket_id=ticket.id,
        user_id=user.id,
        category=category,
        urgency=urgency,
        sentiment=sentiment,
        source=source,
        confidence=confidence,
        summary=summary,
        cost_usd=Decimal(str(cost_usd)),
        processing_time_ms=processing_time_ms,
        created_at=moment,
        updated_at=moment,
        **feedback,
    )
    if feedback:
        analysis.feedback_at = moment
    db.add(analysis)
    db.flush()
    return analysis


def open_ticket_ids(sim: ZendeskSimulator, n: int) -> list[int]:
    """Simulator tickets that accept updates (Zendesk refuses updates to closed tickets)."""
    return [t for t in sorted(sim.tickets) if sim.ticket(t)["status"] != "closed"][:n]


def run_batch_in_process(user: User, ids: list[int], worker_id: str = "test") -> BatchJob:
    """Create a batch job and run it in this process, as the Celery task does."""
    with session_scope() as db:
        job_id = batch_jobs.create_job(db=db, user_id=user.id, zendesk_ticket_ids=ids).id
    batch_runner.run_job(job_id, worker_id=worker_id)
    with session_scope() as db:
        job = db.get(BatchJob, job_id)
        assert job is not None
        db.expunge(job)
    return job


@contextmanager
def client_with_settings(app: FastAPI, **settings: Any) -> Iterator[TestClient]:
    """A second app built with these settings changed, on the test's database session."""
    built = create_app(get_settings().model_copy(update=settings))
    built.dependency_overrides = dict(app.dependency_overrides)
    with TestClient(built, raise_server_exceptions=False) as client:
        yield client
