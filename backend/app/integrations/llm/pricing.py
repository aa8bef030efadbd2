"""LLM prices per million tokens, cost arithmetic in Decimal, and model retirement dates.

Prices are list prices for the standard tier (USD per 1M tokens); the Batch API bills 50%.
`input_tokens` follows OpenAI usage semantics: it *includes* the cached tokens, which are
billed at the cached rate. Reasoning tokens are part of the output tokens.
Override or extend the table from configuration with `load_prices(json_str)`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

__all__ = [
    "DEFAULT_PRICES",
    "MODEL_SHUTDOWN_DATES",
    "MODEL_SUCCESSORS",
    "ModelPrice",
    "cost_usd",
    "is_known_model",
    "load_prices",
    "price_for",
    "retirement_warning",
    "shutdown_date",
]

_MILLION = Decimal(1_000_000)
_BATCH_FACTOR = Decimal("0.5")


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens; `reasoning` marks models that take `reasoning_effort`."""

    input: Decimal
    cached_input: Decimal
    output: Decimal
    reasoning: bool = False


DEFAULT_PRICES: Mapping[str, ModelPrice] = {
    "gpt-4o-mini": ModelPrice(Decimal("0.15"), Decimal("0.075"), Decimal("0.60")),
    "gpt-4o": ModelPrice(Decimal("2.50"), Decimal("1.25"), Decimal("10.00")),
    "gpt-4.1": ModelPrice(Decimal("2.00"), Decimal("0.50"), Decimal("8.00")),
    "gpt-4.1-mini": ModelPrice(Decimal("0.40"), Decimal("0.10"), Decimal("1.60")),
    "gpt-4.1-nano": ModelPrice(Decimal("0.10"), Decimal("0.025"), Decimal("0.40")),
    "gpt-6-luna": ModelPrice(Decimal("0.10"), Decimal("0.01"), Decimal("0.50"), reasoning=True),
}

MODEL_SHUTDOWN_DATES: Mapping[str, date] = {
    "gpt-4o-mini": date(2027, 1, 14),
}
MODEL_SUCCESSORS: Mapping[str, str] = {
    "gpt-4o-mini": "gpt-6-luna",
}

# "gpt-4o-mini-2024-07-18" is priced like "gpt-4o-mini".
_SNAPSHOT_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def _base_model(model: str) -> str:
    return _SNAPSHOT_SUFFIX.sub("", model.strip())


def price_for(model: str, prices: Mapping[str, ModelPrice] | None = None) -> ModelPrice | None:
    """The price of `model` (or of its undated alias), or None when the model is not priced."""
    table = DEFAULT_PRICES if prices is None else prices
    return table.get(model) or table.get(_base_model(model))


def is_known_model(model: str, prices: Mapping[str, ModelPrice] | None = None) -> bool:
    return price_for(model, prices) is not None


def cost_usd(
    model: str,
    input_tokens: int,
    cached_input_tokens: int,
    output_tokens: int,
    batch: bool = False,
    prices: Mapping[str, ModelPrice] | None = None,
) -> Decimal:
    """Exact cost in USD; Decimal 0 for an unknown model (check with `is_known_model`)."""
    price = price_for(model, prices)
    if price is None:
        return Decimal(0)
    cached = max(0, min(cached_input_tokens, input_tokens))
    uncached = max(0, input_tokens - cached)
    total = (
        Decimal(uncached) * price.input
        + Decimal(cached) * price.cached_input
        + Decimal(max(0, output_tokens)) * price.output
    ) / _MILLION
    return total * _BATCH_FACTOR if batch else total


def _decimal(value: object, where: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{where}: not a number: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{where}: must be a non-negative number, got {value!r}")
    return amount


def load_prices(json_str: str | None) -> dict[str, ModelPrice]:
    """The default table, updated from a JSON object such as
    `{"my-model": {"input": 0.2, "cached_input": 0.05, "output": 0.8, "reasoning": false}}`.

    `cached_input` defaults to `input`; raises ValueError on malformed configuration.
    """
    table = dict(DEFAULT_PRICES)
    if json_str is None or not json_str.strip():
        return table
    try:
        raw = json.loads(json_str, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ValueError(f"price table is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError("price table must be a JSON object keyed by model name")
    for model, entry in raw.items():
        if not isinstance(entry, dict) or "input" not in entry or "output" not in entry:
            raise ValueError(f"{model}: expected an object with 'input' and 'output'")
        unknown = set(entry) - {"input", "cached_input", "output", "reasoning"}
        if unknown:
            raise ValueError(f"{model}: unknown keys {sorted(unknown)}")
        reasoning = entry.get("reasoning", False)
        if not isinstance(reasoning, bool):
            raise ValueError(f"{model}: 'reasoning' must be true or false")
        table[model] = ModelPrice(
            input=_decimal(entry["input"], f"{model}.input"),
            cached_input=_decimal(
                entry.get("cached_input", entry["input"]), f"{model}.cached_input"
            ),
            output=_decimal(entry["output"], f"{model}.output"),
            reasoning=reasoning,
        )
    return table


def shutdown_date(model: str) -> date | None:
    return MODEL_SHUTDOWN_DATES.get(model) or MODEL_SHUTDOWN_DATES.get(_base_model(model))


def retirement_warning(model: str, today: date, shutdown: date | None = None) -> str | None:
    """A warning when `model` has an announced API shutdown date (`shutdown` overrides the table,
    e.g. with the date reported by GET /v1/models); None otherwise."""
    when = shutdown or shutdown_date(model)
    if when is None:
        return None
    successor = MODEL_SUCCESSORS.get(_base_model(model))
    advice = f"; switch to {successor}" if successor else "; choose another model"
    days_left = (when - today).days
    if days_left < 0:
        return f"{model} was shut down on {when.isoformat()}{advice}"
    if days_left == 0:
        return f"{model} shuts down today ({when.isoformat()}){advice}"
    plural = "" if days_left == 1 else "s"
    return (
        f"{model} is scheduled for API shutdown on {when.isoformat()} "
        f"({days_left} day{plural} left){advice}"
    )
