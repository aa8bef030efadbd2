"""The web dashboard (frontend/, built by Vite) served at /app, and offline API docs."""

from app.web.serving import install_web

__all__ = ["install_web"]
