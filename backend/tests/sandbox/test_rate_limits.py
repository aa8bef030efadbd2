"""Rate limits of both simulators: the real headers on every answer, 429 with Retry-After
beyond the configured requests (and, for the LLM, tokens) per minute, per key or account."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest

from sandbox.openai_sim import SIM_API_KEY, OpenAISimulator
from sandbox.serve import free_port
from sandbox.zendesk import DEFAULT_API_TOKEN, DEFAULT_EMAIL, ZendeskSimulator

BACKEND_DIR = Path(__file__).resolve().parents[2]
MESSAGES = [{"role": "user", "content": "The export button crashes the app."}]
ZENDESK_HEADERS = ("X-Rate-Limit", "X-Rate-Limit-Remaining", "ratelimit-remaining")
OPENAI_HEADERS = tuple(
    f"x-ratelimit-{kind}-{unit}"
    for kind in ("limit", "remaining", "reset")
    for unit in ("requests", "tokens")
)


# --- Zendesk ---------------------------------------------------------------------------


def test_zendesk_sends_rate_limit_headers_on_every_answer(
    zendesk_url: str, zendesk_sim: ZendeskSimulator
) -> None:
    zendesk_sim.rate_limit_per_minute = 10
    auth = (f"{DEFAULT_EMAIL}/token", DEFAULT_API_TOKEN)
    with httpx.Client(base_url=zendesk_url, auth=auth, timeout=5) as http:
        answers = [
            http.get("/api/v2/tickets/1.json"),
            http.get("/api/v2/tickets/999999.json"),
            http.get("/api/v2/search.json", params={"query": "type:ticket status:open"}),
        ]
    assert [answer.status_code for answer in answers] == [200, 404, 200]
    for answer in answers:
        assert all(name in answer.headers for name in ZENDESK_HEADERS)
        assert answer.headers["X-Rate-Limit"] == "10"
    assert [int(a.headers["X-Rate-Limit-Remaining"]) for a in answers] == [9, 8, 7]
    assert answers[-1].headers["ratelimit-remaining"] == "7"


def test_zendesk_answers_429_with_retry_after_beyond_the_account_limit(
    zendesk_url: str, zendesk_sim: ZendeskSimulator
) -> None:
    zendesk_sim.rate_limit_per_minute = 3
    auth = (f"{DEFAULT_EMAIL}/token", DEFAULT_API_TOKEN)
    with httpx.Client(base_url=zendesk_url, auth=auth, timeout=5) as http:
        statuses = [http.get("/api/v2/tickets/1.json") for _ in range(4)]
    assert [answer.status_code for answer in statuses] == [200, 200, 200, 429]
    refused = statuses[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-Rate-Limit-Remaining"] == "0"
    assert refused.headers["ratelimit-remaining"] == "0"


def test_zendesk_is_unlimited_by_default(zendesk_url: str, zendesk_sim: ZendeskSimulator) -> None:
    auth = (f"{DEFAULT_EMAIL}/token", DEFAULT_API_TOKEN)
    with httpx.Client(base_url=zendesk_url, auth=auth, timeout=5) as http:
        statuses = {http.get("/api/v2/users/me.json").status_code for _ in range(150)}
    assert statuses == {200}


# --- OpenAI ----------------------------------------------------------------------------


def client_for(base_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=base_url, max_retries=0, timeout=5)


@pytest.fixture
def two_keys(openai_sim: OpenAISimulator) -> Iterator[tuple[str, str]]:
    openai_sim.valid_keys = frozenset({"sk-team-a", "sk-team-b"})
    yield "sk-team-a", "sk-team-b"


def test_openai_limits_each_key_on_its_own(
    openai_base_url: str, openai_sim: OpenAISimulator, two_keys: tuple[str, str]
) -> None:
    openai_sim.rate_limit_requests = 2
    team_a, team_b = (client_for(openai_base_url, key) for key in two_keys)
    raw = team_a.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raw.headers["x-ratelimit-remaining-requests"] == "1"
    team_a.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError) as refused:
        team_a.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    headers = refused.value.response.headers
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert all(name in headers for name in OPENAI_HEADERS)
    assert "requests per min" in refused.value.message

    other = team_b.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert other.headers["x-ratelimit-remaining-requests"] == "1"


def test_openai_tokens_per_minute_are_enforced(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    first = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    )
    used = first.parse().usage.total_tokens
    openai_sim.reset()
    openai_sim.rate_limit_tokens = 2 * used + used // 2
    for expected_remaining in (used + used // 2, used // 2):
        raw = openai_client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
        assert int(raw.headers["x-ratelimit-remaining-tokens"]) == expected_remaining
        assert raw.headers["x-ratelimit-limit-tokens"] == str(openai_sim.rate_limit_tokens)
    with pytest.raises(openai.RateLimitError) as refused:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert "tokens per min (TPM)" in refused.value.message
    assert refused.value.response.headers["retry-after"]
    assert openai_sim.calls[-1].status == 429


def test_openai_sends_the_headers_on_errors_too(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    openai_sim.fail_next(1, "503")
    with pytest.raises(openai.InternalServerError) as failed:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert all(name in failed.value.response.headers for name in OPENAI_HEADERS)


# --- configured from the environment ---------------------------------------------------


@contextmanager
def running(module: str, port: int, env: dict[str, str]) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port)],
        cwd=BACKEND_DIR,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"{module} did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_standalone_simulators_take_their_limits_from_the_environment() -> None:
    auth = (f"{DEFAULT_EMAIL}/token", DEFAULT_API_TOKEN)
    with running("sandbox.zendesk", free_port(), {"ZENDESK_SIM_RPM": "2"}) as url:
        statuses = [httpx.get(f"{url}/api/v2/users/me.json", auth=auth).status_code for _ in "abc"]
    assert statuses == [200, 200, 429]

    env = {"OPENAI_SIM_RPM": "5", "OPENAI_SIM_TPM": "123456"}
    with running("sandbox.openai_sim", free_port(), env) as url:
        raw = client_for(f"{url}/v1", SIM_API_KEY).chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
    assert raw.headers["x-ratelimit-limit-requests"] == "5"
    assert raw.headers["x-ratelimit-limit-tokens"] == "123456"


def test_openai_charges_the_output_cap_against_tpm_as_upstream_does(
    openai_client: openai.OpenAI,
) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=500
    )
    answer = raw.parse()
    charged = 10_000_000 - int(raw.headers["x-ratelimit-remaining-tokens"])
    assert answer.usage.completion_tokens < 500
    assert charged == answer.usage.prompt_tokens + 500
