"""The embedded default's application (`./start.sh`): the API plus, when SANDBOX_ENABLED, the
built-in Zendesk sandbox that users without a Zendesk account process tickets from.

The only module of `app` that imports `sandbox`; `app.main.create_app` never does.
"""

from __future__ import annotations

from fastapi import FastAPI

from app.config import Settings, get_settings
from app.main import create_app


def create_embedded_app(config: Settings | None = None) -> FastAPI:
    config = config or get_settings()
    app = create_app(config)
    if config.sandbox_enabled:
        from sandbox.zendesk import create_zendesk_app

        app.mount("/sandbox/zendesk", create_zendesk_app())
    return app
