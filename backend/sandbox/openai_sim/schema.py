"""JSON-schema handling: filling a response, strict-mode checks, deliberate violations."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def _resolve(schema: Any, root: Mapping[str, Any]) -> dict[str, Any]:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 32:
        target: Any = root
        for part in str(schema["$ref"]).removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema if isinstance(schema, dict) else {}


def _fill(schema: Any, root: Mapping[str, Any], hint: Any) -> Any:
    """A value that satisfies `schema`, using `hint` where it fits."""
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        variants = [_resolve(v, root) for v in schema["anyOf"]]
        non_null = [v for v in variants if v.get("type") != "null"]
        return _fill(non_null[0] if non_null else variants[0], root, hint)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        options = list(schema["enum"])
        return hint if hint in options else options[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        hints = hint if isinstance(hint, dict) else {}
        return {name: _fill(sub, root, hints.get(name)) for name, sub in properties.items()}
    if kind == "array":
        items = schema.get("items", {})
        values = [_fill(items, root, h) for h in (hint if isinstance(hint, list) else [])]
        pattern = _resolve(items, root).get("pattern")
        if pattern:
            values = [v for v in values if isinstance(v, str) and re.search(pattern, v)]
        maximum = schema.get("maxItems")
        values = values[:maximum] if isinstance(maximum, int) else values
        minimum = schema.get("minItems", 0)
        while len(values) < minimum:
            values.append(_fill(items, root, None))
        return values
    if kind == "string":
        value = hint if isinstance(hint, str) else ""
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, value):
            value = "en" if re.search(pattern, "en") else ""
        maximum = schema.get("maxLength")
        if isinstance(maximum, int) and len(value) > maximum:
            value = (
                value[: max(0, maximum - 3)].rstrip() + "..." if maximum > 3 else value[:maximum]
            )
        return value
    if kind in ("number", "integer"):
        value = hint if isinstance(hint, int | float) and not isinstance(hint, bool) else 0.5
        value = max(value, schema.get("minimum", value))
        value = min(value, schema.get("maximum", value))
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return bool(hint) if isinstance(hint, bool) else False
    return None


def _strict_schema_problems(schema: Any, root: Mapping[str, Any], path: str = "") -> list[str]:
    """What OpenAI's strict mode would reject: optional properties, defaults, open objects."""
    problems: list[str] = []
    if not isinstance(schema, dict):
        return problems
    if "default" in schema:
        problems.append(f"In context=({path}), 'default' is not permitted.")
    properties = schema.get("properties")
    if schema.get("type") == "object" or isinstance(properties, dict):
        if schema.get("additionalProperties") is not False:
            problems.append(
                f"In context=({path}), 'additionalProperties' is required to be supplied "
                "and to be false."
            )
        keys = list(properties or {})
        missing = [key for key in keys if key not in (schema.get("required") or [])]
        if missing:
            problems.append(
                f"In context=({path}), 'required' is required to be supplied and to be an array "
                f"including every key in properties. Missing '{missing[0]}'."
            )
        for key, sub in (properties or {}).items():
            problems += _strict_schema_problems(sub, root, f"{path}'properties', '{key}', ")
    for keyword in ("items",):
        if isinstance(schema.get(keyword), dict):
            problems += _strict_schema_problems(schema[keyword], root, f"{path}'{keyword}', ")
    for keyword in ("anyOf", "allOf"):
        for index, sub in enumerate(schema.get(keyword) or []):
            problems += _strict_schema_problems(sub, root, f"{path}'{keyword}', {index}, ")
    for name, sub in (schema.get("$defs") or {}).items():
        problems += _strict_schema_problems(sub, root, f"{path}'$defs', '{name}', ")
    return problems


def _break_schema(value: Any, schema: Any, root: Mapping[str, Any]) -> Any:
    """Valid JSON that violates the schema: an enum gets a value outside it (or an extra key)."""
    schema = _resolve(schema, root)
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if "enum" in _resolve(sub, root):
                return {**value, name: "hacked"}
        return {**value, "unexpected_key": True}
    return {"unexpected_key": True}


# --- Batch API helpers -------------------------------------------------------------------------
