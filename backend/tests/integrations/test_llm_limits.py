"""The LLM client paces to the requests and tokens a minute its provider announces."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from app.integrations.llm import LLMAnalyzer, LLMRateLimitedError
from sandbox.openai_sim import OpenAISimulator
from sandbox.openai_sim.common import RecordedCall

MakeAnalyzer = Callable[..., LLMAnalyzer]

SUBJECT = "Charged twice for the March invoice"
BODY = (
    "Hello team,\n\nmy card ending 4242 was charged twice for invoice INV-2291 on March 3rd. "
    "Please refund the duplicate charge.\n\nBest regards,\nMaria Lopez\nAcme GmbH\n"
    "+49 30 1234567\n\n> On Mar 3, billing@example.com wrote:\n> Your invoice is ready.\n"
) * 3


def counted_tokens(call: RecordedCall) -> int:
    """What the provider counts against tokens a minute: the prompt plus the output cap."""
    usage = (call.response or {}).get("usage") or {}
    return int(usage.get("prompt_tokens") or 0) + int(call.body["max_completion_tokens"])


def chat_calls(openai_sim: OpenAISimulator) -> list[tuple[float, int, int | None]]:
    """(time, counted tokens, status) of every chat completion the provider answered."""
    return [
        (call.at, counted_tokens(call), call.status)
        for call in openai_sim.calls
        if call.path.endswith("/chat/completions")
    ]


def test_calls_are_paced_to_the_announced_requests_per_minute(
    make_llm_analyzer: MakeAnalyzer, openai_sim: OpenAISimulator
) -> None:
    openai_sim.rate_limit_requests = 600  # x-ratelimit-limit-requests: 600
    analyzer = make_llm_analyzer()

    for _ in range(10):
        analyzer.analyze(SUBJECT, BODY)

    times = [at for at, _, _ in chat_calls(openai_sim)]
    # The first call taught the limit, a burst of half a second's worth, then 10 a second.
    assert times[-1] - times[-3] >= 0.15  # two paced intervals, less arrival jitter
    assert times[-1] - times[0] >= 0.3
    assert analyzer.limiter.learned_limits()[0] == 600


def test_tokens_a_minute_are_not_exceeded(
    make_llm_analyzer: MakeAnalyzer, openai_sim: OpenAISimulator
) -> None:
    openai_sim.rate_limit_tokens = 300_000  # 5,000 tokens a second
    analyzer = make_llm_analyzer()

    for _ in range(6):
        analyzer.analyze(SUBJECT, BODY)

    calls = chat_calls(openai_sim)
    paced = calls[1:]  # the first call taught the limit
    tokens_sent = sum(tokens for _, tokens, _ in paced[:-1])
    assert tokens_sent / (paced[-1][0] - paced[0][0]) <= 5000 * 1.05
    assert all(status == 200 for _, _, status in calls)


def test_the_estimate_covers_what_the_provider_counts(
    make_llm_analyzer: MakeAnalyzer, openai_sim: OpenAISimulator
) -> None:
    analyzer = make_llm_analyzer()

    for subject, body in [(SUBJECT, BODY), ("Hi", "Thanks!"), ("Export", "x " * 5000)]:
        estimate = analyzer.build_request(subject, body).estimated_tokens()
        result = analyzer.analyze(subject, body)

        assert result.input_tokens <= estimate - analyzer.max_output_tokens
        assert result.input_tokens >= (estimate - analyzer.max_output_tokens) * 0.8


def test_a_429_holds_back_every_caller_of_the_key(
    make_llm_analyzer: MakeAnalyzer, openai_sim: OpenAISimulator
) -> None:
    openai_sim.retry_after_s = 30
    openai_sim.fail_next(1, "429")
    first = make_llm_analyzer(max_rate_wait_s=5)
    with pytest.raises(LLMRateLimitedError):
        first.analyze(SUBJECT, BODY)
    second = make_llm_analyzer(
        max_rate_wait_s=5
    )  # same key, another analyzer (another thread or process)

    started = time.monotonic()
    with pytest.raises(LLMRateLimitedError, match="rate limit is taken"):
        second.analyze(SUBJECT, BODY)

    assert time.monotonic() - started < 1
    assert len(chat_calls(openai_sim)) == 1
