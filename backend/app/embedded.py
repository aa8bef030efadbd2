"""The embedded default's application (`./start.sh`): the API plus, when SANDBOX_ENABLED, the
built-in Zendesk sandbox that users without a Zendesk account process tickets from.

The only module of `app` that imports `sandbox`; `app.main.create_app` never does.
"""

from __future__ import annotations

from contextlib import contextmanager

from fastapi import FastAPI

from app.auth import get_current_user
from app.config import Settings, get_settings
from app.database import get_db, session_scope
from app.errors import Unauthorized
from app.main import create_app


def create_embedded_app(config: Settings | None = None) -> FastAPI:
    config = config or get_settings()
    app = create_app(config)
    if not config.sandbox_enabled:
        return app
    from sandbox.zendesk.builtin import create_builtin_sandbox

    def sandbox_tenant(token: str) -> str | None:
        """People reach their own sandbox account with a valid login token."""
        override = app.dependency_overrides.get(get_db)  # the tests' session
        open_session = contextmanager(override) if override is not None else session_scope
        try:
            with open_session() as db:
                return str(get_current_user(db, token).id)
        except Unauthorized:
            return None

    # Users without a Zendesk account process the sandbox's tickets, each in an account of
    # their own; it sends webhooks only to this service.
    sandbox = create_builtin_sandbox(
        secret=config.secret_key,
        service_urls=[url for url in (config.public_base_url, config.internal_base_url) if url],
        bearer_tenant=sandbox_tenant,
    )
    app.mount("/sandbox/zendesk", sandbox)
    return app
