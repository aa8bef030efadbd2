"""`stream=True`: a finished completion sent as OpenAI's server-sent events.

Each choice opens with a role delta, sends its content (or tool call arguments, or
refusal) in small pieces, and ends with its finish reason; with
`stream_options.include_usage` a last chunk with no choices carries the usage; then
`data: [DONE]`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

PIECE_CHARS = 16


def _pieces(text: str) -> list[str]:
    return [text[start : start + PIECE_CHARS] for start in range(0, len(text), PIECE_CHARS)]


def _choice_deltas(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield {"role": "assistant", "content": "", "refusal": None}
    if message.get("refusal"):
        for piece in _pieces(message["refusal"]):
            yield {"refusal": piece}
    for position, call in enumerate(message.get("tool_calls") or []):
        function = call["function"]
        yield {
            "tool_calls": [
                {
                    "index": position,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": function["name"], "arguments": ""},
                }
            ]
        }
        for piece in _pieces(function["arguments"]):
            yield {"tool_calls": [{"index": position, "function": {"arguments": piece}}]}
    for piece in _pieces(message.get("content") or ""):
        yield {"content": piece}


def sse_events(payload: dict[str, Any], *, include_usage: bool) -> Iterator[bytes]:
    """The chunks of `payload` (a chat.completion) as `data: ...` events."""
    base = {
        "id": payload["id"],
        "object": "chat.completion.chunk",
        "created": payload["created"],
        "model": payload["model"],
        "service_tier": payload.get("service_tier"),
        "system_fingerprint": payload.get("system_fingerprint"),
    }

    def event(chunk: dict[str, Any]) -> bytes:
        if include_usage:
            chunk = {**chunk, "usage": None}
        return f"data: {json.dumps({**base, **chunk}, ensure_ascii=False)}\n\n".encode()

    for choice in payload["choices"]:
        index = choice["index"]
        for delta in _choice_deltas(choice["message"]):
            yield event(
                {
                    "choices": [
                        {"index": index, "delta": delta, "logprobs": None, "finish_reason": None}
                    ]
                }
            )
        yield event(
            {
                "choices": [
                    {
                        "index": index,
                        "delta": {},
                        "logprobs": None,
                        "finish_reason": choice["finish_reason"],
                    }
                ]
            }
        )
    if include_usage:
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': payload['usage']})}\n\n".encode()
    yield b"data: [DONE]\n\n"
