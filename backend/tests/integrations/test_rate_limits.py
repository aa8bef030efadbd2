"""Upstream budgets shared by every process (Redis) or kept in one (the embedded default)."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from app.integrations import rate_limits
from app.integrations.rate_limits import (
    MemoryStore,
    Observed,
    Pacing,
    RedisStore,
    UpstreamLimiter,
    WaitTooLong,
)
from app.integrations.zendesk import ZendeskClient, ZendeskCredentials
from sandbox.zendesk import ZendeskSimulator
from tests.targets import TEST_FAULTS_REDIS_URL, wipe_redis


@pytest.fixture
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(TEST_FAULTS_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.exit(f"Redis at {TEST_FAULTS_REDIS_URL} is unreachable: {exc}", returncode=3)
    wipe_redis(client)
    yield TEST_FAULTS_REDIS_URL
    wipe_redis(client)
    client.close()


def redis_store(url: str) -> RedisStore:
    """A store on a connection of its own, as another process would have."""
    return RedisStore(redis.Redis.from_url(url))


@pytest.fixture(params=["redis", "memory"])
def store(request: pytest.FixtureRequest) -> rate_limits.Store:
    if request.param == "memory":
        return MemoryStore()
    return redis_store(request.getfixturevalue("redis_url"))


def limiter(store: rate_limits.Store, **options: float) -> UpstreamLimiter:
    pacing = Pacing(
        margin=options.pop("margin", 0.0),
        burst_s=options.pop("burst_s", 0.0),
        max_wait_s=options.pop("max_wait_s", 60.0),
    )
    return UpstreamLimiter("test", "account-1", store, pacing=pacing, **options)  # type: ignore[arg-type]


def acquire_times(redis_url: str, count: int, results: multiprocessing.Queue) -> None:
    budget = limiter(redis_store(redis_url), requests_per_minute=600)
    for _ in range(count):
        budget.acquire()
        results.put(time.time())


def test_two_processes_share_one_budget(redis_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    workers = [context.Process(target=acquire_times, args=(redis_url, 10, results)) for _ in "ab"]
    for worker in workers:
        worker.start()
    times = sorted(results.get(timeout=30) for _ in range(20))
    for worker in workers:
        worker.join(timeout=10)
        assert worker.exitcode == 0

    # 600 a minute is one every 0.1 s for both processes together, not for each.
    assert times[-1] - times[0] >= 1.8
    assert all(sum(1 for other in times if start <= other < start + 1.0) <= 11 for start in times)


def test_two_connections_share_a_pause(redis_url: str) -> None:
    first = limiter(redis_store(redis_url), requests_per_minute=6000)
    second = limiter(redis_store(redis_url), requests_per_minute=6000)

    first.pause_for(0.5)

    assert second.acquire() >= 0.4


def test_a_burst_then_an_even_rate(store: rate_limits.Store) -> None:
    budget = limiter(store, requests_per_minute=600, burst_s=0.5)  # a burst of 5, then 10/s

    waits = [budget.acquire() for _ in range(8)]

    assert waits[:5] == [0.0] * 5 or max(waits[:5]) < 0.02
    assert waits[5] > 0.05
    assert sum(waits) >= 0.25


def test_no_minute_holds_more_than_the_limit_less_the_margin(store: rate_limits.Store) -> None:
    budget = limiter(store, requests_per_minute=6000, burst_s=1.0, margin=0.1)
    limiter_store = budget.store

    # Reserve a minute's worth without sleeping: the 5,400th slot is due ~60 s from now.
    last_wait = 0.0
    for _ in range(540):
        last_wait = limiter_store.reserve(budget.keys, (10.0, 0.0), budget.defaults, budget.pacing)

    assert 59.0 <= last_wait <= 61.0


def test_tokens_are_paced_and_refunds_give_them_back(store: rate_limits.Store) -> None:
    budget = limiter(store, tokens_per_minute=60_000)  # 1,000 tokens a second

    assert budget.acquire(requests=1, tokens=500) < 0.6
    wait_for_more = budget.store.reserve(budget.keys, (0.0, 1000.0), budget.defaults, budget.pacing)
    assert wait_for_more > 0.9

    budget.settle_tokens(reserved=1000, used=0)
    budget.settle_pending()

    refunded = budget.store.reserve(budget.keys, (0.0, 200.0), budget.defaults, budget.pacing)
    assert refunded < wait_for_more


def test_tokens_used_beyond_the_estimate_are_charged(store: rate_limits.Store) -> None:
    budget = limiter(store, tokens_per_minute=60_000)
    budget.acquire(tokens=100)

    budget.settle_tokens(reserved=100, used=1100)
    budget.settle_pending()

    assert budget.store.reserve(budget.keys, (0.0, 1.0), budget.defaults, budget.pacing) > 0.9


def test_what_was_sent_before_the_limit_was_known_is_charged(store: rate_limits.Store) -> None:
    budget = limiter(store)  # no configured limit: unpaced until the upstream tells it
    for _ in range(10):
        assert budget.acquire(tokens=3000) == 0

    budget.learn(Observed(tokens_limit=60_000, tokens_remaining=30_000))

    waited = budget.store.reserve(budget.keys, (0.0, 1.0), budget.defaults, budget.pacing)
    assert 29 <= waited <= 31  # the 30,000 already used take 30 s to pay off at 1,000/s


def test_a_wait_beyond_the_cap_raises_and_reserves_nothing(store: rate_limits.Store) -> None:
    budget = limiter(store, requests_per_minute=60, max_wait_s=0.5)
    budget.acquire()

    with pytest.raises(WaitTooLong) as raised:
        budget.acquire()

    assert 0.5 < raised.value.wait_s <= 1.1
    with pytest.raises(WaitTooLong) as again:
        budget.acquire()
    assert again.value.wait_s == pytest.approx(raised.value.wait_s, abs=0.1)


def test_learned_limits_replace_the_configured_ones_for_every_instance(
    store: rate_limits.Store,
) -> None:
    configured = limiter(store, requests_per_minute=60)
    other = limiter(store)

    configured.learn(Observed(requests_limit=6000, tokens_limit=1_000_000))

    assert other.learned_limits() == (6000, 1_000_000)
    waits = [configured.acquire() for _ in range(5)]
    assert sum(waits) < 0.1  # 60 a minute would have taken 4 s


def test_nothing_remaining_pauses_until_the_reset(store: rate_limits.Store) -> None:
    budget = limiter(store, requests_per_minute=6000, max_wait_s=5)

    budget.learn(Observed(requests_limit=6000, requests_remaining=0, requests_reset_s=0.3))

    assert 0.2 <= budget.acquire() <= 0.35


def test_retry_after_pauses_every_caller(store: rate_limits.Store) -> None:
    budget = limiter(store, requests_per_minute=6000, max_wait_s=1)

    budget.learn(Observed(retry_after_s=30))

    with pytest.raises(WaitTooLong):
        budget.acquire()


def test_an_unknown_limit_does_not_pace(store: rate_limits.Store) -> None:
    budget = limiter(store)

    assert sum(budget.acquire(tokens=10_000) for _ in range(50)) == 0


def test_redis_down_falls_back_to_an_in_process_budget() -> None:
    unreachable = RedisStore(redis.Redis(port=1, socket_connect_timeout=0.2))
    budget = limiter(unreachable, requests_per_minute=600)

    waits = [budget.acquire() for _ in range(3)]

    assert waits[0] == 0.0 and waits[2] > 0.05


def test_zendesk_headers() -> None:
    observed = rate_limits.from_zendesk_headers(
        {"x-rate-limit": "700", "x-rate-limit-remaining": "12", "ratelimit-reset": "41"}
    )
    assert observed == Observed(requests_limit=700, requests_remaining=12, requests_reset_s=41)
    only_new = rate_limits.from_zendesk_headers(
        {"ratelimit-limit": "400", "ratelimit-remaining": "3", "retry-after": "7"}
    )
    assert only_new.requests_remaining == 3 and only_new.retry_after_s == 7


def test_openai_headers() -> None:
    observed = rate_limits.from_openai_headers(
        {
            "x-ratelimit-limit-requests": "3000",
            "x-ratelimit-limit-tokens": "1000000",
            "x-ratelimit-remaining-requests": "2999",
            "x-ratelimit-remaining-tokens": "998500",
            "x-ratelimit-reset-requests": "20ms",
            "x-ratelimit-reset-tokens": "1m30.5s",
            "retry-after-ms": "1500",
        }
    )
    assert observed == Observed(
        requests_limit=3000,
        requests_remaining=2999,
        requests_reset_s=0.02,
        tokens_limit=1_000_000,
        tokens_remaining=998_500,
        tokens_reset_s=90.5,
        retry_after_s=1.5,
    )
    assert rate_limits.parse_duration_s("6m0s") == 360
    assert rate_limits.parse_duration_s("soon") is None


def test_zendesk_clients_on_separate_connections_share_the_account_budget(
    redis_url: str, zendesk_sim: ZendeskSimulator, zendesk_url: str
) -> None:
    zendesk_sim.rate_limit_per_minute = 600  # X-Rate-Limit: 600, ten a second
    credentials = ZendeskCredentials(email=zendesk_sim.email, api_token=zendesk_sim.api_token)
    clients = [
        ZendeskClient(
            zendesk_url,
            credentials,
            requests_per_minute=600,
            burst_s=0,
            limits_store=redis_store(redis_url),  # as the API and a worker would have
        )
        for _ in range(2)
    ]

    def call_five(client: ZendeskClient) -> None:
        for _ in range(5):
            client.test_connection()

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(call_five, clients))
    for client in clients:
        client.close()

    times = sorted(call.time for call in zendesk_sim.calls)
    assert times[-1] - times[0] >= 0.8  # ten calls at ten a second together, not each
    assert all(call.status != 429 for call in zendesk_sim.calls)


class CountingStore:
    """A store that counts its round trips (calls), passing each one on."""

    def __init__(self, inner: rate_limits.Store) -> None:
        self.inner = inner
        self.calls = 0

    def reserve(self, *args: object) -> float:
        self.calls += 1
        return self.inner.reserve(*args)  # type: ignore[arg-type]

    def reserve_many(self, *args: object) -> list[float]:
        self.calls += 1
        return self.inner.reserve_many(*args)  # type: ignore[arg-type]

    def pause(self, *args: object) -> None:
        self.calls += 1
        self.inner.pause(*args)  # type: ignore[arg-type]

    def set_limit(self, *args: object) -> None:
        self.calls += 1
        self.inner.set_limit(*args)  # type: ignore[arg-type]

    def learned_limit(self, key: str) -> float | None:
        self.calls += 1
        return self.inner.learned_limit(key)


def test_a_correction_rides_on_the_next_call_for_the_account(store: rate_limits.Store) -> None:
    counting = CountingStore(store)
    budget = limiter(counting, tokens_per_minute=60_000)  # type: ignore[arg-type]
    other_job = limiter(counting, tokens_per_minute=60_000)  # type: ignore[arg-type]
    store.reserve(budget.keys, (0.0, 5000.0), budget.defaults, budget.pacing)  # 5 s taken

    budget.settle_tokens(reserved=4000, used=1000)  # 3,000 to give back

    assert counting.calls == 0
    assert store.reserve(budget.keys, (0.0, 1.0), budget.defaults, budget.pacing) > 4.9
    assert other_job.acquire(requests=1, tokens=0) == 0  # the same account, in this process
    assert counting.calls == 1  # one round trip: the call and the refund together
    assert store.reserve(budget.keys, (0.0, 1.0), budget.defaults, budget.pacing) < 2.1


def test_a_correction_waits_for_a_call_at_most_settle_within_s(store: rate_limits.Store) -> None:
    counting = CountingStore(store)
    budget = UpstreamLimiter(
        "test",
        "account-1",
        counting,  # type: ignore[arg-type]
        tokens_per_minute=60_000,
        pacing=Pacing(margin=0.0, burst_s=0.0),
        settle_within_s=0.05,
    )
    budget.acquire(tokens=100)
    budget.settle_tokens(reserved=100, used=1100)
    assert counting.calls == 1  # pending, no call of its own yet

    time.sleep(0.06)
    budget.settle_tokens(reserved=100, used=100)  # nothing to correct: nothing sent
    budget.settle_tokens(reserved=100, used=200)

    assert counting.calls == 2  # the pending corrections, sent together
    assert store.reserve(budget.keys, (0.0, 1.0), budget.defaults, budget.pacing) > 1.0


def test_requests_and_tokens_are_both_honoured_in_one_reservation(
    store: rate_limits.Store,
) -> None:
    counting = CountingStore(store)
    budget = limiter(counting, requests_per_minute=600, tokens_per_minute=60_000)  # type: ignore[arg-type]

    by_requests = [budget.acquire(tokens=1) for _ in range(3)]  # 10 requests a second bind
    by_tokens = budget.acquire(tokens=2000)  # then 2,000 tokens at 1,000 a second

    assert counting.calls == 4
    assert by_requests[1] >= 0.08 and by_requests[2] >= 0.08
    assert by_tokens > 1.5


def test_a_refused_call_keeps_its_correction_for_the_next(store: rate_limits.Store) -> None:
    budget = limiter(store, tokens_per_minute=60_000, max_wait_s=0.5)  # 1,000 tokens a second
    store.reserve(budget.keys, (0.0, 1000.0), budget.defaults, budget.pacing)  # 1 s taken
    budget.settle_tokens(reserved=1000, used=0)

    with pytest.raises(WaitTooLong):
        budget.acquire(tokens=2000)  # refused: neither reserved nor settled

    assert budget.acquire(tokens=300) < 0.45  # the 1,000 given back make room for it


def test_calls_reserved_together_wait_as_if_reserved_one_by_one(
    store: rate_limits.Store,
) -> None:
    together = limiter(store, requests_per_minute=600, tokens_per_minute=60_000)
    one_by_one = UpstreamLimiter(
        "test",
        "account-2",
        store,
        requests_per_minute=600,
        tokens_per_minute=60_000,
        pacing=together.pacing,
    )
    tokens = [1, 1, 1, 500, 1]  # 10 requests and 1,000 tokens a second

    waits = together.reserve_many(tokens)
    alone = [
        store.reserve(one_by_one.keys, (1.0, float(count)), one_by_one.defaults, one_by_one.pacing)
        for count in tokens
    ]

    assert waits == pytest.approx(alone, abs=0.05)
    assert waits[1] >= 0.09 and waits[3] >= 0.49
    after = store.reserve(together.keys, (1.0, 0.0), together.defaults, together.pacing)
    assert after == pytest.approx(0.5, abs=0.05)  # every call's slot was taken: the sixth


def test_a_call_of_many_beyond_the_cap_is_refused_alone(store: rate_limits.Store) -> None:
    budget = limiter(store, tokens_per_minute=60_000, max_wait_s=0.5)  # 1,000 tokens a second

    waits = budget.reserve_many([200, 200, 2000, 50])

    assert waits[0] == pytest.approx(0.2, abs=0.05)
    assert waits[1] == pytest.approx(0.4, abs=0.05)
    assert waits[2] < -2.0  # refused: its wait, negated, and nothing reserved
    assert waits[3] == pytest.approx(0.45, abs=0.05)
    after = store.reserve(budget.keys, (0.0, 10.0), budget.defaults, budget.pacing)
    assert after == pytest.approx(0.46, abs=0.03)


def test_corrections_ride_on_many_calls_and_stay_when_all_are_refused(
    store: rate_limits.Store,
) -> None:
    counting = CountingStore(store)
    budget = limiter(counting, tokens_per_minute=60_000, max_wait_s=0.5)  # type: ignore[arg-type]
    store.reserve(budget.keys, (0.0, 1000.0), budget.defaults, budget.pacing)  # 1 s taken
    budget.settle_tokens(reserved=1000, used=0)

    refused = budget.reserve_many([2000, 3000])  # neither reserved nor settled
    waits = budget.reserve_many([300, 100])  # the 1,000 given back make room for them

    assert all(wait < 0 for wait in refused)
    assert waits[0] < 0.45 and waits[1] < 0.55
    assert counting.calls == 2
