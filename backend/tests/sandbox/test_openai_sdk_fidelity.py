"""The OpenAI simulator through the official SDK: streaming, several choices, tools."""

from __future__ import annotations

import json

import openai
import pydantic
import pytest

from sandbox.openai_sim import OpenAISimulator

TICKET = "<ticket>\n<subject>Refund</subject>\nI was charged twice, please refund me.\n</ticket>"
MESSAGES = [
    {"role": "system", "content": "You triage support tickets."},
    {"role": "user", "content": TICKET},
]
TRIAGE_TOOL = {
    "type": "function",
    "function": {
        "name": "record_triage",
        "description": "Store the ticket's category and urgency.",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {
                "category": {"type": "string", "enum": ["bug", "billing", "other"]},
                "urgency": {"type": "string", "enum": ["low", "medium", "high"]},
            },
            "required": ["category", "urgency"],
            "additionalProperties": False,
        },
    },
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_stream_yields_chunks_that_add_up_to_the_answer(openai_client: openai.OpenAI) -> None:
    whole = openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len(chunks) > 3
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens


def test_stream_without_usage_sends_no_usage_chunk(openai_client: openai.OpenAI) -> None:
    chunks = list(
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    )
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


def test_stream_options_need_stream(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="stream_options"):
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream_options={"include_usage": True}
        )


def test_n_returns_that_many_choices(openai_client: openai.OpenAI) -> None:
    one = openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    two = openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, n=2)
    assert [choice.index for choice in two.choices] == [0, 1]
    assert all(choice.message.content for choice in two.choices)
    assert two.usage.completion_tokens == 2 * one.usage.completion_tokens
    with pytest.raises(openai.BadRequestError):
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, n=0)


def test_n_streams_every_choice(openai_client: openai.OpenAI) -> None:
    chunks = list(
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, n=2, stream=True
        )
    )
    texts = {0: "", 1: ""}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts[0] and texts[0] == texts[1]


def test_a_required_tool_is_called_with_arguments_that_fit_its_schema(
    openai_client: openai.OpenAI,
) -> None:
    response = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, tools=[TRIAGE_TOOL], tool_choice="required"
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "record_triage"
    assert json.loads(call.function.arguments) == {"category": "billing", "urgency": "low"}


def test_auto_calls_the_tool_the_user_asks_about_then_answers_in_text(
    openai_client: openai.OpenAI,
) -> None:
    messages = [{"role": "user", "content": "What is the weather in Lisbon?"}]
    tools = [TRIAGE_TOOL, WEATHER_TOOL]
    first = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=tools
    )
    (call,) = first.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert set(json.loads(call.function.arguments)) == {"city"}

    follow_up = [
        *messages,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"celsius": 21}'},
    ]
    second = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=follow_up, tools=tools
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.tool_calls is None
    assert second.choices[0].message.content


def test_tool_choice_none_and_named(openai_client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "What is the weather in Lisbon?"}]
    none = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert none.choices[0].message.tool_calls is None
    named = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        tools=[WEATHER_TOOL, TRIAGE_TOOL],
        tool_choice={"type": "function", "function": {"name": "record_triage"}},
    )
    assert named.choices[0].message.tool_calls[0].function.name == "record_triage"
    assert named.choices[0].finish_reason == "stop"


def test_tool_calls_stream_as_argument_deltas(openai_client: openai.OpenAI) -> None:
    chunks = list(
        openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            tools=[TRIAGE_TOOL],
            tool_choice="required",
            stream=True,
        )
    )
    calls = [call for c in chunks for call in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "record_triage"
    arguments = "".join(call.function.arguments or "" for call in calls)
    assert json.loads(arguments) == {"category": "billing", "urgency": "low"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tool_choice": "required"}, "only allowed when 'tools'"),
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "pattern"),
        (
            {
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "function", "function": {"name": "x"}},
            },
            "no function named 'x'",
        ),
    ],
)
def test_bad_tool_requests_are_refused_as_openai_does(
    openai_client: openai.OpenAI, options: dict[str, object], message: str
) -> None:
    with pytest.raises(openai.BadRequestError, match=message):
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **options)


def test_the_labeller_can_be_swapped(
    openai_sim: OpenAISimulator, openai_client: openai.OpenAI
) -> None:
    openai_sim.labeller = lambda messages: {"summary": f"{len(messages)} messages"}
    response = openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert response.choices[0].message.content == "2 messages"


class Triage(pydantic.BaseModel):
    category: str
    urgency: str


def test_the_sdks_streaming_helper_parses_structured_output(openai_client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "The app crashes on start, urgent!"}]
    with openai_client.chat.completions.stream(
        model="gpt-4o-mini", messages=messages, response_format=Triage
    ) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "content.delta" in events and "content.done" in events
    assert final.choices[0].message.parsed == Triage(category="bug", urgency="high")
