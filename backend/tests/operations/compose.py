"""docker-compose.yml read as compose reads it (anchors, merge keys, `${VAR:-default}`,
`${VAR:?message}`, `$$`), so its services' commands can run as plain processes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(ValueError):
    """A `${VAR:?message}` whose variable is unset: compose refuses to start."""


def interpolate(value: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = variables.get(name)
        if op in (":-", "-"):
            return current if current or (op == "-" and current is not None) else arg
        if op in (":?", "?"):
            if not current:
                raise MissingVariable(f"{name}: {arg}")
            return current
        return current or ""

    return _VARIABLE.sub(replace, value)


def _interpolated(node: Any, variables: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolated(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolated(value, variables) for key, value in node.items()}
    return node


def load(path: Path, variables: dict[str, str]) -> dict[str, Any]:
    """The services of the compose file, interpolated with `variables` (the shell's and
    `.env`'s, for compose)."""
    document = yaml.safe_load(path.read_text())
    return dict(_interpolated(document["services"], variables))
