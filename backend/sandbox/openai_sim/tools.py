"""Function tools: request validation and whether the simulated model calls one.

The decision is deterministic so tests can steer it: `tool_choice` "required" or a named
function always calls; "auto" (the default when tools are given) calls the first tool
whose name, or a word of it, appears in the last user message, and never right after a
tool result (the model then answers in text); "none" never calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sandbox.openai_sim.common import SimResponse, _error
from sandbox.openai_sim.heuristics import _message_text
from sandbox.openai_sim.schema import _strict_schema_problems

_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


def _tools(body: Mapping[str, Any]) -> list[dict[str, Any]] | SimResponse:
    """The declared functions as {name, parameters}, or OpenAI's 400."""
    raw = body.get("tools")
    if not isinstance(raw, list) or not raw:
        return _error(400, "Invalid 'tools': expected a non-empty array.", param="tools")
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(raw):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not function:
            return _error(
                400,
                f"Invalid value for 'tools[{index}].type': only 'function' is supported.",
                param=f"tools[{index}].type",
            )
        name = function.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            return _error(
                400,
                f"Invalid 'tools[{index}].function.name': string does not match pattern. "
                "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                param=f"tools[{index}].function.name",
                code="invalid_value",
            )
        parameters = function.get("parameters") or EMPTY_PARAMETERS
        if function.get("strict"):
            problems = _strict_schema_problems(parameters, parameters)
            if problems:
                return _error(
                    400,
                    f"Invalid schema for function '{name}': {problems[0]}",
                    param=f"tools[{index}].function.parameters",
                    code="invalid_function_parameters",
                )
        tools.append({"name": name, "parameters": parameters})
    return tools


def plan_tool_call(body: Mapping[str, Any]) -> tuple[dict[str, Any], str] | SimResponse | None:
    """(the tool to call, the finish reason), None to answer in text, or a 400."""
    choice = body.get("tool_choice")
    if not body.get("tools"):
        if choice is not None:
            return _error(
                400,
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified.",
                param="tool_choice",
            )
        return None
    tools = _tools(body)
    if isinstance(tools, SimResponse):
        return tools
    choice = choice if choice is not None else "auto"
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        named = [tool for tool in tools if tool["name"] == name]
        if choice.get("type") != "function" or not named:
            return _error(
                400,
                f"Invalid value for 'tool_choice': no function named '{name}' was specified "
                "in the 'tools' parameter.",
                param="tool_choice",
            )
        return named[0], "stop"  # a forced function ends with "stop", as OpenAI's does
    if choice not in ("none", "auto", "required"):
        return _error(
            400,
            "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or a "
            "named function.",
            param="tool_choice",
        )
    if choice == "required":
        return tools[0], "tool_calls"
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    if choice == "none" or not messages or messages[-1].get("role") == "tool":
        return None
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    words = set(re.findall(r"\w+", _message_text(last_user).lower()))
    for tool in tools:
        name = tool["name"].lower()
        if name in words or set(re.split(r"[_-]", name)) & (words - {"a", "the", "to"}):
            return tool, "tool_calls"
    return None
