"""Shared fixtures of the simulator tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.zendesk import ZendeskSimulator


@pytest.fixture
def http(zendesk_url: str, zendesk_sim: ZendeskSimulator) -> Iterator[httpx.Client]:
    auth = (f"{zendesk_sim.email}/token", zendesk_sim.api_token)
    with httpx.Client(base_url=zendesk_url, auth=auth, timeout=5) as client:
        yield client
