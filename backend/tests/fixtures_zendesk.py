"""Zendesk simulator fixtures: one server per session over real HTTP, reset before each test.

Import the fixtures into a conftest (`from tests.fixtures_zendesk import zendesk_sim, ...`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from zenpy import Zenpy

from app.integrations.zendesk import ZendeskClient, ZendeskCredentials
from sandbox.serve import serve_in_thread
from sandbox.zendesk import ZendeskSimulator, create_zendesk_app


@dataclass(frozen=True)
class ZendeskServer:
    sim: ZendeskSimulator
    url: str


@pytest.fixture(scope="session")
def zendesk_server() -> Iterator[ZendeskServer]:
    sim = ZendeskSimulator()
    with serve_in_thread(create_zendesk_app(sim)) as url:
        yield ZendeskServer(sim=sim, url=url)


@pytest.fixture
def zendesk_sim(zendesk_server: ZendeskServer) -> Iterator[ZendeskSimulator]:
    """The simulator with seed data and default knobs, fresh for this test."""
    zendesk_server.sim.reset()
    yield zendesk_server.sim
    zendesk_server.sim.reset()


@pytest.fixture
def zendesk_url(zendesk_server: ZendeskServer, zendesk_sim: ZendeskSimulator) -> str:
    return zendesk_server.url


@pytest.fixture
def zendesk_credentials(zendesk_sim: ZendeskSimulator) -> ZendeskCredentials:
    return ZendeskCredentials(email=zendesk_sim.email, api_token=zendesk_sim.api_token)


@pytest.fixture
def zendesk_client(
    zendesk_url: str, zendesk_credentials: ZendeskCredentials
) -> Iterator[ZendeskClient]:
    """A client tuned for tests: fast backoff, short timeout, no client-side throttling."""
    client = ZendeskClient(
        zendesk_url,
        zendesk_credentials,
        requests_per_minute=100_000,
        timeout_s=2.0,
        max_retries=3,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )
    yield client
    client.close()


@pytest.fixture
def zenpy_client(
    zendesk_url: str, zendesk_sim: ZendeskSimulator, monkeypatch: pytest.MonkeyPatch
) -> Zenpy:
    """zenpy, the common Python Zendesk client, pointed at the simulator over plain HTTP
    (zenpy's own ZENPY_FORCE_SCHEME / ZENPY_FORCE_NETLOC overrides)."""
    scheme, _, netloc = zendesk_url.partition("://")
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", scheme)
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", netloc)
    return Zenpy(subdomain="acme", email=zendesk_sim.email, token=zendesk_sim.api_token, timeout=5)
