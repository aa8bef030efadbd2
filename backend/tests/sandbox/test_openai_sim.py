"""The OpenAI simulator, driven with the official SDK (and raw HTTP for error shapes)."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel, ConfigDict

from app.enums import Category, Sentiment, Urgency
from sandbox.openai_sim import SIM_API_KEY, OpenAISimulator, main


class Labels(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    urgency: Urgency
    sentiment: Sentiment
    confidence: float
    language: str
    summary: str
    reply_draft: str
    suggested_tags: list[str]


def _ask(client: openai.OpenAI, text: str, **options: Any) -> Any:
    return client.chat.completions.parse(
        model=options.pop("model", "gpt-4o-mini"),
        messages=[
            {"role": "system", "content": "Classify the ticket."},
            {"role": "user", "content": f"<ticket>\n{text}\n</ticket>"},
        ],
        response_format=Labels,
        **options,
    )


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I want a refund, you charged my card twice on the last invoice.", Category.billing),
        ("The app crashes with an error every time I open settings.", Category.bug),
        ("It would be great if you could add a dark mode feature.", Category.feature),
        ("How do I reset my password? I can't find the option.", Category.support),
        ("Hello there.", Category.other),
    ],
)
def test_completion_is_schema_conformant_and_plausible(
    text: str, category: Category, openai_client: openai.OpenAI
) -> None:
    completion = _ask(openai_client, text)

    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Labels)
    assert parsed.category is category
    assert completion.choices[0].finish_reason == "stop"
    assert completion.object == "chat.completion"


def test_heuristics_pick_language_urgency_and_sentiment(openai_client: openai.OpenAI) -> None:
    urgent = _ask(openai_client, "URGENT: production is down, this is unacceptable!").choices[0]
    german = _ask(openai_client, "Hallo, die App funktioniert nicht und ich bitte um Hilfe.")

    assert urgent.message.parsed.urgency is Urgency.high
    assert urgent.message.parsed.sentiment is Sentiment.negative
    assert german.choices[0].message.parsed.language == "de"


def test_usage_counts_prompt_chars_over_four(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    completion = _ask(openai_client, "short ticket")

    body = openai_sim.last_chat_request()
    chars = len(json.dumps(body["response_format"], sort_keys=True)) + sum(
        len(m["content"]) for m in body["messages"]
    )
    usage = completion.usage
    assert usage is not None
    assert abs(usage.prompt_tokens - chars / 4) < 10
    assert usage.completion_tokens == -(-len(completion.choices[0].message.content) // 4)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details.cached_tokens == 0


def test_repeated_long_prefix_is_cached_in_128_token_blocks(openai_client: openai.OpenAI) -> None:
    long_system = "You triage tickets. " * 300  # about 1,500 tokens

    def ask(ticket: str) -> Any:
        return openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": long_system},
                {"role": "user", "content": ticket},
            ],
        )

    first = ask("first ticket")
    second = ask("second ticket")

    assert first.usage.prompt_tokens_details.cached_tokens == 0
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached >= 1024
    assert (cached - 1024) % 128 == 0
    assert cached <= second.usage.prompt_tokens


def test_short_prompts_are_never_cached(openai_client: openai.OpenAI) -> None:
    _ask(openai_client, "same")
    again = _ask(openai_client, "same")

    assert again.usage.prompt_tokens_details.cached_tokens == 0


def test_reasoning_tokens_depend_on_effort(openai_client: openai.OpenAI) -> None:
    default = _ask(openai_client, "The app crashes", model="gpt-6-luna")
    none = _ask(openai_client, "The app crashes", model="gpt-6-luna", reasoning_effort="none")

    default_details = default.usage.completion_tokens_details
    assert default_details.reasoning_tokens > 0
    assert default.usage.completion_tokens > default_details.reasoning_tokens
    assert none.usage.completion_tokens_details.reasoning_tokens == 0


def test_reasoning_effort_on_a_non_reasoning_model_is_rejected(
    openai_client: openai.OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        _ask(openai_client, "hi", reasoning_effort="none")

    assert caught.value.code == "unsupported_parameter"


def test_non_strict_schema_is_rejected(openai_client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"category": {"type": "string", "default": "bug"}},
        "required": [],
        "additionalProperties": False,
    }

    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "labels", "schema": schema, "strict": True},
            },
        )

    assert "Invalid schema for response_format 'labels'" in caught.value.message


def test_output_token_limit_cuts_the_answer(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.LengthFinishReasonError):
        _ask(openai_client, "The app crashes", max_completion_tokens=10)


def test_rate_limit_headers_on_every_completion(openai_client: openai.OpenAI) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )

    assert raw.headers["x-ratelimit-limit-requests"] == "10000"
    assert raw.headers["x-ratelimit-remaining-requests"] == "9999"
    assert int(raw.headers["x-ratelimit-remaining-tokens"]) < 10_000_000
    assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
    assert raw.headers["x-request-id"].startswith("req_")


def test_requests_per_minute_limit_returns_429(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    openai_sim.rate_limit_requests = 2
    _ask(openai_client, "one")
    _ask(openai_client, "two")

    with pytest.raises(openai.RateLimitError) as caught:
        _ask(openai_client, "three")

    assert int(caught.value.response.headers["retry-after"]) >= 1


def test_wrong_key_gets_openai_error_shape(
    openai_base_url: str, openai_sim: OpenAISimulator
) -> None:
    response = httpx.post(
        f"{openai_base_url}/chat/completions",
        headers={"Authorization": "Bearer sk-not-the-right-key"},
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    )

    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "invalid_api_key"
    assert "sk-not-the-right-key" not in error["message"]


def test_missing_key_is_401(openai_base_url: str, openai_sim: OpenAISimulator) -> None:
    response = httpx.get(f"{openai_base_url}/models")

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_sdk_with_wrong_key_raises_authentication_error(openai_base_url: str) -> None:
    client = openai.OpenAI(api_key="sk-wrong", base_url=openai_base_url, max_retries=0)

    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_models_list_and_retrieve(openai_client: openai.OpenAI) -> None:
    listed = {model.id: model for model in openai_client.models.list()}
    mini = openai_client.models.retrieve("gpt-4o-mini")

    assert {"gpt-4o-mini", "gpt-6-luna"} <= set(listed)
    assert mini.shutdown_date == "2027-01-14"
    assert listed["gpt-6-luna"].shutdown_date is None
    with pytest.raises(openai.NotFoundError):
        openai_client.models.retrieve("gpt-0")


def test_unknown_model_in_completion_is_404(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        _ask(openai_client, "hi", model="gpt-0")

    assert caught.value.code == "model_not_found"


# --- faults ------------------------------------------------------------------------------------


def test_fail_next_429_sends_retry_after(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    openai_sim.retry_after_s = 2.5
    openai_sim.fail_next(1, "429")

    with pytest.raises(openai.RateLimitError) as caught:
        _ask(openai_client, "hi")

    headers = caught.value.response.headers
    assert headers["retry-after"] == "3"
    assert headers["retry-after-ms"] == "2500"
    assert caught.value.code == "rate_limit_exceeded"
    assert _ask(openai_client, "hi").choices[0].message.parsed is not None


@pytest.mark.parametrize(("kind", "status"), [("500", 500), ("502", 502), ("503", 503)])
def test_fail_next_server_errors(
    kind: str, status: int, openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    openai_sim.fail_next(1, kind)  # type: ignore[arg-type]

    with pytest.raises(openai.InternalServerError) as caught:
        _ask(openai_client, "hi")

    assert caught.value.status_code == status
    assert caught.value.type == "server_error"


def test_fail_next_counts_down(openai_client: openai.OpenAI, openai_sim: OpenAISimulator) -> None:
    openai_sim.fail_next(2, "500")

    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            _ask(openai_client, "hi")
    _ask(openai_client, "hi")

    assert [call.fault for call in openai_sim.calls] == ["500", "500", None]


def test_fail_next_timeout_hangs_until_the_client_gives_up(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    openai_sim.fail_next(1, "timeout")

    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        _ask(openai_client.with_options(timeout=0.3), "hi")

    assert 0.25 < time.monotonic() - started < 2


def test_fail_next_malformed_is_invalid_json(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    openai_sim.fail_next(1, "malformed")

    with pytest.raises(ValueError):
        _ask(openai_client, "hi")

    content = openai_sim.calls[-1].response["choices"][0]["message"]["content"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_fail_next_schema_returns_a_value_outside_the_enum(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    openai_sim.fail_next(1, "schema")

    with pytest.raises(ValueError, match="category"):
        _ask(openai_client, "hi")

    content = openai_sim.calls[-1].response["choices"][0]["message"]["content"]
    assert json.loads(content)["category"] == "hacked"


def test_fail_next_refusal_sets_refusal_and_no_content(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    openai_sim.fail_next(1, "refusal")

    message = _ask(openai_client, "hi").choices[0].message

    assert message.refusal
    assert message.content is None
    assert message.parsed is None


def test_unknown_fault_kind_is_rejected(openai_sim: OpenAISimulator) -> None:
    with pytest.raises(ValueError):
        openai_sim.fail_next(1, "418")  # type: ignore[arg-type]


def test_fault_rates_are_reproducible_with_a_seed(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    def run() -> list[str | None]:
        openai_sim.reset()
        openai_sim.set_fault_rates({"500": 0.3, "429": 0.2}, seed=42)
        for _ in range(12):
            with contextlib.suppress(openai.APIStatusError):
                _ask(openai_client, "hi")
        return [call.fault for call in openai_sim.calls]

    first, second = run(), run()

    assert first == second
    assert {"500", "429", None} <= set(first)


def test_latency_knob_delays_answers(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    openai_sim.latency_s = 0.2

    started = time.monotonic()
    _ask(openai_client, "hi")

    assert time.monotonic() - started >= 0.2


def test_calls_are_recorded_and_reset_clears_everything(
    openai_client: openai.OpenAI, openai_sim: OpenAISimulator
) -> None:
    openai_sim.fail_next(3, "500")
    openai_sim.latency_s = 0.05
    with pytest.raises(openai.InternalServerError):
        _ask(openai_client, "recorded ticket text")

    assert "recorded ticket text" in json.dumps(openai_sim.last_chat_request())
    assert openai_sim.calls[0].status == 500

    openai_sim.reset()

    assert openai_sim.calls == []
    assert openai_sim.latency_s == 0.0
    assert _ask(openai_client, "hi").choices[0].message.parsed is not None


def test_cli_help_exits_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])

    assert caught.value.code == 0
    assert "--latency" in capsys.readouterr().out


def test_default_key_constant_is_accepted(openai_base_url: str) -> None:
    response = httpx.get(
        f"{openai_base_url}/models", headers={"Authorization": f"Bearer {SIM_API_KEY}"}
    )

    assert response.status_code == 200
    assert response.json()["object"] == "list"
