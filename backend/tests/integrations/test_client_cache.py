"""Pooled upstream clients live in bounded caches: the least recently used client is closed
when a new account needs room, so memory stays flat however many credentials are used."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator

import pytest

from app.integrations.llm import clients as llm_clients
from app.integrations.zendesk import ZendeskCredentials, get_client, pool
from sandbox.zendesk import ZendeskSimulator

CACHE_SIZE = 4


@pytest.fixture
def small_caches() -> Iterator[None]:
    sizes = (pool.clients.max_clients, llm_clients.clients.max_clients)
    pool.clients.close_all()
    llm_clients.clients.close_all()
    pool.clients.resize(CACHE_SIZE)
    llm_clients.clients.resize(CACHE_SIZE)
    yield
    pool.clients.close_all()
    llm_clients.clients.close_all()
    pool.clients.resize(sizes[0])
    llm_clients.clients.resize(sizes[1])


def credentials(index: int, oauth_token: str = "not-checked") -> ZendeskCredentials:
    """A distinct account per index (the email is part of the cache key)."""
    return ZendeskCredentials(email=f"agent{index}@example.com", oauth_token=oauth_token)


@pytest.mark.usefixtures("small_caches")
def test_zendesk_cache_closes_the_least_recently_used_client(zendesk_url: str) -> None:
    first, second, third, fourth = (get_client(zendesk_url, credentials(i)) for i in range(4))
    assert get_client(zendesk_url, credentials(0)) is first  # now the most recently used

    fifth = get_client(zendesk_url, credentials(4))

    assert second.closed
    assert not any(client.closed for client in (first, third, fourth, fifth))
    assert len(pool.clients) == CACHE_SIZE
    assert get_client(zendesk_url, credentials(1)) is not second  # a fresh one on return


@pytest.mark.usefixtures("small_caches")
def test_llm_cache_closes_the_pool_of_an_evicted_account() -> None:
    accounts = [
        llm_clients.shared_transport(f"sk-{i}", "http://127.0.0.1:9/v1", connections=4)
        for i in range(5)
    ]

    assert accounts[0].closed
    assert not any(account.closed for account in accounts[1:])
    assert len(llm_clients.clients) == CACHE_SIZE
    # A closed account's next user gets a fresh pool.
    again = llm_clients.shared_transport("sk-0", "http://127.0.0.1:9/v1", connections=4)
    assert again is not accounts[0] and not again.closed


@pytest.mark.usefixtures("small_caches")
def test_memory_does_not_grow_with_distinct_zendesk_credentials(
    zendesk_url: str, zendesk_sim: ZendeskSimulator
) -> None:
    assert zendesk_sim.oauth_token is not None

    def use_accounts(indexes: range) -> int:
        for index in indexes:
            account = credentials(index, zendesk_sim.oauth_token)
            get_client(zendesk_url, account, max_retries=0).test_connection()
        gc.collect()
        return tracemalloc.get_traced_memory()[0]

    tracemalloc.start()
    try:
        baseline = use_accounts(range(0))
        warm = use_accounts(range(CACHE_SIZE * 5))
        after = use_accounts(range(CACHE_SIZE * 5, CACHE_SIZE * 5 + 100))
    finally:
        tracemalloc.stop()

    per_client = max((warm - baseline) / CACHE_SIZE, 1)
    assert len(pool.clients) == CACHE_SIZE
    # 100 more accounts cost less than 10 cached clients' worth (unbounded: 100 clients).
    assert after - warm < 10 * per_client, (baseline, warm, after)
