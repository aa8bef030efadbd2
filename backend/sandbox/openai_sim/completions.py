"""Chat completions: the answer, its usage figures and prompt caching."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
import uuid
from collections.abc import Mapping
from typing import Any

from sandbox.openai_sim.common import (
    CACHE_BLOCK_TOKENS,
    CACHE_MIN_TOKENS,
    CHARS_PER_TOKEN,
    REASONING_TOKENS,
    SimResponse,
    _error,
)
from sandbox.openai_sim.heuristics import _message_text
from sandbox.openai_sim.schema import _break_schema, _fill, _strict_schema_problems
from sandbox.openai_sim.tools import plan_tool_call

MAX_CHOICES = 128


class CompletionsMixin:
    """Chat completions (part of OpenAISimulator)."""

    def _cached_tokens(self, model: str, prefix: str) -> int:
        """Tokens of the longest previously seen prefix, in 128-token blocks from 1,024 up."""
        block_chars = CACHE_BLOCK_TOKENS * CHARS_PER_TOKEN
        first = CACHE_MIN_TOKENS * CHARS_PER_TOKEN
        digest = hashlib.sha256()
        position = 0
        boundaries: list[tuple[int, str]] = []
        for end in range(first, len(prefix) + 1, block_chars):
            digest.update(prefix[position:end].encode())
            position = end
            boundaries.append((end, digest.copy().hexdigest()))
        cached_chars = 0
        with self._lock:
            for end, hexdigest in boundaries:
                if (model, end, hexdigest) in self._prefix_cache:
                    cached_chars = end
            if len(self._prefix_cache) > 200_000:
                self._prefix_cache.clear()
            self._prefix_cache.update((model, end, hexdigest) for end, hexdigest in boundaries)
        return cached_chars // CHARS_PER_TOKEN

    def complete(self, body: Mapping[str, Any], fault: str | None = None) -> SimResponse:
        """A chat completion for `body` (or the error OpenAI would return): `n` choices,
        each a text or JSON answer, or a tool call when `tools`/`tool_choice` ask for one."""
        model_id = body.get("model")
        messages = body.get("messages")
        if not isinstance(model_id, str) or not model_id:
            return _error(400, "you must provide a model parameter", param="model")
        if not isinstance(messages, list) or not messages:
            return _error(400, "'messages' must be a non-empty array", param="messages")
        model = self.models.get(model_id)
        if model is None:
            return _error(
                404,
                f"The model `{model_id}` does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        effort = body.get("reasoning_effort")
        if effort is not None and not model.reasoning:
            return _error(
                400,
                "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
                param="reasoning_effort",
                code="unsupported_parameter",
            )
        if body.get("stream_options") is not None and not body.get("stream"):
            return _error(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        n = body.get("n", 1)
        if n is None:
            n = 1
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_CHOICES:
            return _error(
                400, f"Invalid 'n': must be an integer from 1 to {MAX_CHOICES}.", param="n"
            )
        tool_plan = plan_tool_call(body)
        if isinstance(tool_plan, SimResponse):
            return tool_plan
        response_format = body.get("response_format") or {"type": "text"}
        schema: dict[str, Any] | None = None
        if response_format.get("type") == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema") if isinstance(spec.get("schema"), dict) else None
            if schema is None:
                return _error(400, "json_schema.schema is required", param="response_format")
            if spec.get("strict"):
                problems = _strict_schema_problems(schema, schema)
                if problems:
                    return _error(
                        400,
                        f"Invalid schema for response_format '{spec.get('name', 'schema')}': "
                        f"{problems[0]}",
                        param="response_format",
                        code="invalid_json_schema",
                    )

        prefix = json.dumps(response_format, sort_keys=True) + "".join(
            f"\x1e{m.get('role')}\x1f{_message_text(m)}" for m in messages if isinstance(m, dict)
        )
        if body.get("tools"):
            prefix = json.dumps(body["tools"], sort_keys=True) + prefix
        prompt_tokens = math.ceil(len(prefix) / CHARS_PER_TOKEN)
        cached_tokens = self._cached_tokens(model.id, prefix)

        analysis = self.labeller([m for m in messages if isinstance(m, dict)])
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        finish_reason = "stop"
        if tool_plan is not None:
            tool, finish_reason = tool_plan
            arguments = _fill(tool["parameters"], tool["parameters"], analysis)
            message["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {"name": tool["name"], "arguments": json.dumps(arguments)},
                }
            ]
            content = message["tool_calls"][0]["function"]["arguments"]
        elif schema is not None:
            value = _fill(schema, schema, analysis)
            if fault == "schema":
                value = _break_schema(value, schema, schema)
            content = json.dumps(value, ensure_ascii=False)
        elif response_format.get("type") == "json_object":
            value = {**analysis, "category": "hacked"} if fault == "schema" else analysis
            content = json.dumps(value, ensure_ascii=False)
        else:
            content = analysis["summary"]
        if tool_plan is None:
            if fault == "malformed":
                content = content[: max(1, len(content) // 2)]
            elif fault == "length":
                content, finish_reason = content[: max(1, len(content) // 2)], "length"
            if fault == "refusal":
                message["refusal"] = "I'm sorry, but I can't help with that request."
            else:
                message["content"] = content

        visible_tokens = math.ceil(len(content) / CHARS_PER_TOKEN) if fault != "refusal" else 12
        reasoning_tokens = (
            REASONING_TOKENS.get(str(effort or "medium"), 320) if model.reasoning else 0
        )
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and limit > 0 and visible_tokens + reasoning_tokens > limit:
            allowed_visible = max(0, limit - reasoning_tokens)
            if message["content"] is not None:
                message["content"] = message["content"][: allowed_visible * CHARS_PER_TOKEN]
            visible_tokens = min(visible_tokens, allowed_visible)
            reasoning_tokens = min(reasoning_tokens, limit)
            finish_reason = "length"
        completion_tokens = (visible_tokens + reasoning_tokens) * n
        choices = []
        for index in range(n):
            choice_message = copy.deepcopy(message)
            for call in choice_message.get("tool_calls", []):
                call["id"] = f"call_{uuid.uuid4().hex[:24]}"
            choices.append(
                {
                    "index": index,
                    "message": choice_message,
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            )
        payload = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model.snapshot or model.id,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": reasoning_tokens * n,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_sim0001",
        }
        return SimResponse(200, payload)
