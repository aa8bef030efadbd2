"""Factories for test data: one place that knows how to build a valid row."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from app.services.users import create_user

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


def configure_zendesk(db: Session, user: User, base_url: str, **options: object) -> None:
    """Point a user's integration at a Zendesk (usually the simulator)."""
    from app.services import integrations
    from sandbox.zendesk import DEFAULT_API_TOKEN, DEFAULT_EMAIL

    changes: dict[str, object] = {
        "zendesk_url": base_url,
        "zendesk_email": DEFAULT_EMAIL,
        "zendesk_api_token": DEFAULT_API_TOKEN,
    }
    changes.update(options)
    integrations.update(db=db, user_id=user.id, changes=changes)
