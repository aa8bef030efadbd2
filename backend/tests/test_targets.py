"""The suite refuses to wipe anything not marked as a test target."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis

from tests.targets import (
    REDIS_MARKER_KEY,
    TEST_FAULTS_REDIS_URL,
    TEST_REDIS_URL,
    UnsafeTestTarget,
    resolve_test_database_url,
    wipe_redis,
)

BACKEND_DIR = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg2://postgres@127.0.0.1:5432/triage", "sqlite:///data/triage.db"]
)
def test_a_database_not_named_test_is_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_DATABASE_URL", url)
    with pytest.raises(UnsafeTestTarget, match="contains 'test'"):
        resolve_test_database_url()


def test_a_database_named_test_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg2://postgres@127.0.0.1:5432/triage_test"
    monkeypatch.setenv("TEST_DATABASE_URL", url)
    assert resolve_test_database_url() == url


def test_redis_database_zero_is_never_wiped() -> None:
    with pytest.raises(UnsafeTestTarget, match="database 0"):
        wipe_redis(redis.Redis.from_url("redis://127.0.0.1:6379/0"))


def test_a_redis_database_with_foreign_keys_is_not_wiped() -> None:
    client = redis.Redis.from_url(TEST_FAULTS_REDIS_URL)
    wipe_redis(client)
    client.delete(REDIS_MARKER_KEY)
    client.set("someone-elses-key", "1")
    try:
        with pytest.raises(UnsafeTestTarget, match="did not write"):
            wipe_redis(client)
        assert client.get("someone-elses-key") == b"1"
    finally:
        client.delete("someone-elses-key")
        wipe_redis(client)


def test_no_bench_empties_a_redis_number_the_suite_keeps() -> None:
    """A bench's keys left in one of the suite's numbers would make the next run refuse it."""
    script = (BACKEND_DIR / "scripts" / "test.sh").read_text()
    suite_numbers = {
        int(number) for number in re.findall(r"redis://127\.0\.0\.1:6379/(\d+)", script)
    }
    suite_numbers |= {int(url.rsplit("/", 1)[1]) for url in (TEST_REDIS_URL, TEST_FAULTS_REDIS_URL)}
    for bench in sorted((BACKEND_DIR / "bench").glob("*.py")):
        for number in re.findall(r'"redis://127\.0\.0\.1:6379/(\d+)"', bench.read_text()):
            assert int(number) not in suite_numbers, f"{bench.name} uses Redis {number}"
