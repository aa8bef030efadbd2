"""Batch jobs run in this process (`batch_runner.run_job`) need committed users."""

from __future__ import annotations

from tests.worker.conftest import committed_user, live_client

__all__ = ["committed_user", "live_client"]
