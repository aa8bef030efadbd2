"""An OpenAI-compatible simulator for tests, benchmarks and demos.

Endpoints: POST /v1/chat/completions, GET /v1/models, GET /v1/models/{id}, and the Batch API
(below). The answer to a
chat completion is JSON that conforms to the request's `response_format` JSON schema, filled
from the ticket text with keyword heuristics, with realistic `usage` (prompt tokens ~ chars/4,
cached tokens for repeated prefixes of at least 1,024 tokens, reasoning tokens for reasoning
models) and `x-ratelimit-*` headers.

Faults are deterministic (`fail_next(n, kind)`) or rate-based with a seeded random
(`set_fault_rates({"429": 0.1}, seed=1)`); every request is recorded (`calls`,
`chat_requests()`) for assertions; `reset()` restores the constructor configuration.

Batch API: POST /v1/files (multipart, purpose=batch), GET /v1/files/{id}, GET
/v1/files/{id}/content, POST /v1/batches, GET /v1/batches/{id}, POST /v1/batches/{id}/cancel.
A batch is `validating` when created, `in_progress` until `batch_delay_s` seconds have passed
(default 0), then `completed` on the next read: each JSONL line runs through `complete()`
(queued faults apply per line) and the results are written, in shuffled order, as
`{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}` lines to an
output file (status 200) and an error file (the others). An invalid input file fails the batch
with `errors.data`.

Run: `python -m sandbox.openai_sim --port 8200 [--latency 1.5] [--key sk-...]`.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import json
import math
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "DEFAULT_MODELS",
    "SIM_API_KEY",
    "FaultKind",
    "OpenAISimulator",
    "RecordedCall",
    "SimFile",
    "SimModel",
    "SimResponse",
    "create_openai_app",
    "main",
]

SIM_API_KEY = "sk-sim-test-key"
FaultKind = Literal[
    "429", "500", "502", "503", "timeout", "malformed", "schema", "refusal", "length"
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

CHARS_PER_TOKEN = 4
CACHE_MIN_TOKENS = 1024
CACHE_BLOCK_TOKENS = 128
BATCH_ENDPOINTS = ("/v1/chat/completions",)
BATCH_WINDOW_S = 24 * 3600
MAX_BATCH_REQUESTS = 50_000
REASONING_TOKENS = {"none": 0, "minimal": 16, "low": 96, "medium": 320, "high": 1200}


@dataclass(frozen=True)
class SimModel:
    id: str
    created: int = 1_721_172_741
    owned_by: str = "system"
    shutdown_date: str | None = None
    reasoning: bool = False
    snapshot: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": self.owned_by,
            "shutdown_date": self.shutdown_date,
        }


DEFAULT_MODELS: tuple[SimModel, ...] = (
    SimModel("gpt-4o-mini", shutdown_date="2027-01-14", snapshot="gpt-4o-mini-2024-07-18"),
    SimModel("gpt-4o", created=1_715_367_049, snapshot="gpt-4o-2024-08-06"),
    SimModel("gpt-4.1", created=1_744_316_542, snapshot="gpt-4.1-2025-04-14"),
    SimModel("gpt-4.1-mini", created=1_744_318_173, snapshot="gpt-4.1-mini-2025-04-14"),
    SimModel("gpt-4.1-nano", created=1_744_321_707, snapshot="gpt-4.1-nano-2025-04-14"),
    SimModel("gpt-6-luna", created=1_790_000_000, reasoning=True),
)


@dataclass
class RecordedCall:
    """One request as the simulator saw it (the Authorization header is never kept)."""

    method: str
    path: str
    body: Any
    fault: str | None = None
    status: int | None = None
    response: Any = None
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SimResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SimFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


def _error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> SimResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return SimResponse(status, body, dict(headers or {}))


# --- heuristics --------------------------------------------------------------------------------


def _words(alternatives: str) -> re.Pattern[str]:
    """Case-insensitive whole-word match of "a|b|c" alternatives."""
    return re.compile(r"\b(?:" + alternatives + r")\b", re.IGNORECASE)


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


_CATEGORY_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "bug",
        _words(
            "crash(?:es|ed|ing)?|error|errors|bug|bugs|broken|exception|fails?|failing"
            "|failed|not working|doesn'?t work|stack ?trace|500|502|freez(?:e|es|ing)"
            "|blank page|regression"
        ),
    ),
    (
        "billing",
        _words(
            "refund(?:ed|s)?|invoice[sd]?|charged?|charges|billing|billed|payment"
            "|subscription|overcharged|receipt|credit card|pricing|price|vat"
            "|cancel my (?:plan|subscription)"
        ),
    ),
    (
        "feature",
        _words(
            "would be (?:great|nice|awesome|helpful)|feature|feature request|please add"
            "|could you add|suggestion|it would help|wish|roadmap|support for"
        ),
    ),
    (
        "support",
        _words(
            "how (?:do|can) i|how to|help|question|can'?t find|password reset"
            "|reset my password|log ?in|sign ?in|access|set ?up|configure|documentation"
        ),
    ),
)
_URGENCY_HIGH = _words(
    "urgent|urgently|asap|immediately|critical|outage|down|production|emergency|data loss"
    "|security|losing money|all users"
)
_URGENCY_MEDIUM = _words("soon|blocked|blocking|important|deadline|again|still")
_NEGATIVE = _words(
    "angry|frustrat(?:ed|ing)|terrible|unacceptable|disappointed|worst|annoy(?:ed|ing)|hate"
    "|ridiculous|awful|useless|cancel"
)
_POSITIVE = _words("thanks?|thank you|great|love|awesome|appreciate|excellent|happy|wonderful")
_LANGUAGE_WORDS: dict[str, frozenset[str]] = {
    "de": _vocabulary("der die das und nicht ist bitte ich wir mit danke hallo funktioniert"),
    "fr": _vocabulary("le la les est pas merci bonjour je nous avec une fonctionne"),
    "es": _vocabulary("el la los es por favor gracias hola no funciona tengo una"),
    "pt": _vocabulary("o os não obrigado olá uma com está funciona"),
    "it": _vocabulary("il gli non grazie ciao una con funziona sono"),
    "nl": _vocabulary("de het een niet werkt bedankt hallo wij met"),
}
_TAG_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("refund", _words("refund(?:ed|s)?")),
    ("invoice", _words("invoice[sd]?")),
    ("double-charge", _words("charged twice|double charge|duplicate charges?")),
    ("payment", _words("payment|credit card|card")),
    ("crash", _words("crash(?:es|ed|ing)?")),
    ("error", _words("error|exception")),
    ("login", _words("log ?in|sign ?in|password")),
    ("performance", _words("slow|timeout|latency")),
    ("export", _words("export")),
    ("api", _words("api")),
    ("outage", _words("outage|down")),
)
_REPLIES: dict[str, str] = {
    "en": "Hello, thank you for contacting us. We are looking into your request about {topic} "
    "and will get back to you shortly.",
    "de": "Hallo, vielen Dank für Ihre Nachricht. Wir prüfen Ihr Anliegen zu {topic} und melden "
    "uns in Kürze.",
    "fr": "Bonjour, merci de nous avoir contactés. Nous examinons votre demande concernant "
    "{topic} et revenons vers vous rapidement.",
    "es": "Hola, gracias por contactarnos. Estamos revisando su solicitud sobre {topic} y le "
    "responderemos en breve.",
}
# The ticket block on its own lines (prompts may mention the tags in their instructions).
_TICKET_RE = re.compile(r"^<ticket>[ \t]*\n(.*)\n</ticket>[ \t]*$", re.DOTALL | re.MULTILINE)
_SUBJECT_RE = re.compile(r"<subject>(.*?)</subject>", re.DOTALL)
_REPLY_OFF_RE = re.compile(
    r"reply_draft[^.\n]*\bempty\b|\bempty\b[^.\n]*reply_draft|reply draft: not requested", re.I
)


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("text")
        )
    return ""


def _analyse(messages: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Plausible labels for the ticket in the last user message (keyword heuristics)."""
    user_text = next((_message_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
    ticket_match = _TICKET_RE.search(user_text)
    ticket = ticket_match.group(1) if ticket_match else user_text
    instructions = user_text.replace(ticket, "") if ticket_match else ""
    subject_match = _SUBJECT_RE.search(ticket)
    subject = " ".join(subject_match.group(1).split()) if subject_match else ""

    scores = {name: len(pattern.findall(ticket)) for name, pattern in _CATEGORY_RULES}
    best = max(scores, key=lambda name: scores[name])
    category = best if scores[best] else "other"
    hits = scores[best]

    if _URGENCY_HIGH.search(ticket):
        urgency = "high"
    elif _URGENCY_MEDIUM.search(ticket) or category == "bug":
        urgency = "medium"
    else:
        urgency = "low"

    mood = len(_POSITIVE.findall(ticket)) - 2 * len(_NEGATIVE.findall(ticket))
    sentiment = "positive" if mood > 0 else "negative" if mood < 0 else "neutral"

    words = re.findall(r"[a-zäöüßéèàçñãõ]+", ticket.lower())
    language_hits = {
        code: sum(word in vocabulary for word in words)
        for code, vocabulary in _LANGUAGE_WORDS.items()
    }
    top_language = max(language_hits, key=lambda code: language_hits[code])
    english_hits = sum(word in {"the", "and", "is", "not", "please", "my", "we"} for word in words)
    language = top_language if language_hits[top_language] > max(2, english_hits) else "en"

    body_text = " ".join(re.sub(r"</?(?:subject|body)>", " ", ticket).split())
    rest = body_text.replace(subject, "", 1).strip()
    first_sentence = re.split(r"(?<=[.!?])\s", rest, maxsplit=1)[0]
    topic = subject or first_sentence[:80] or "your ticket"
    summary = f"{subject}: {first_sentence}" if subject else first_sentence or "Empty ticket."

    tags = [tag for tag, pattern in _TAG_RULES if pattern.search(ticket)]
    reply_off = bool(_REPLY_OFF_RE.search(instructions))
    reply = "" if reply_off else _REPLIES.get(language, _REPLIES["en"]).format(topic=topic[:80])
    return {
        "category": category,
        "urgency": urgency,
        "sentiment": sentiment,
        "confidence": round(min(0.95, 0.55 + 0.1 * hits), 2) if hits else 0.4,
        "language": language,
        "summary": summary,
        "reply_draft": reply,
        "suggested_tags": tags,
    }


# --- JSON schema handling ----------------------------------------------------------------------


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


def _public(batch: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy({key: value for key, value in batch.items() if not key.startswith("_")})


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def _parse_batch_input(
    data: bytes, endpoint: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The requests of a batch input file, or OpenAI-style errors (code, message, line)."""
    requests: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            request = json.loads(raw)
        except ValueError:
            errors.append({"code": "invalid_json_line", "message": "not JSON", "line": number})
            continue
        custom_id = request.get("custom_id") if isinstance(request, dict) else None
        problem = None
        if not isinstance(custom_id, str) or not custom_id:
            problem = ("missing_custom_id", "custom_id is required")
        elif custom_id in seen:
            problem = ("duplicate_custom_id", f"custom_id {custom_id!r} is used twice")
        elif request.get("method") != "POST":
            problem = ("invalid_method", "method must be POST")
        elif request.get("url") != endpoint:
            problem = ("mismatched_url", f"url must be {endpoint}, the batch's endpoint")
        elif not isinstance(request.get("body"), dict):
            problem = ("invalid_body", "body must be an object")
        if problem is not None:
            errors.append({"code": problem[0], "message": problem[1], "line": number})
            continue
        seen.add(custom_id)
        requests.append(request)
    if not requests and not errors:
        errors.append({"code": "empty_file", "message": "the input file has no requests"})
    if len(requests) > MAX_BATCH_REQUESTS:
        errors.append(
            {"code": "too_many_requests", "message": f"at most {MAX_BATCH_REQUESTS} requests"}
        )
    return requests, errors


# --- the simulator -----------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    """OpenAI's reset format: "20ms", "1s", "6m0s"."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    if minutes:
        return f"{int(minutes)}m{int(rest)}s"
    return f"{rest:.3g}s"


def _check_rates(rates: Mapping[str, float]) -> None:
    for kind, rate in rates.items():
        if kind not in FAULT_KINDS or not 0 <= rate <= 1:
            raise ValueError(f"bad fault rate {kind!r}={rate!r}")
    if sum(rates.values()) > 1:
        raise ValueError("fault rates add up to more than 1")


class OpenAISimulator:
    """State and behaviour of the fake OpenAI account; thread-safe."""

    def __init__(
        self,
        *,
        valid_keys: Iterable[str] | None = (SIM_API_KEY,),
        models: Iterable[SimModel] = DEFAULT_MODELS,
        latency_s: float = 0.0,
        hang_s: float = 30.0,
        batch_delay_s: float = 0.0,
        retry_after_s: float = 1.0,
        fault_rates: Mapping[str, float] | None = None,
        seed: int = 0,
        rate_limit_requests: int = 10_000,
        rate_limit_tokens: int = 10_000_000,
    ) -> None:
        _check_rates(fault_rates or {})
        self._config: dict[str, Any] = {
            "valid_keys": None if valid_keys is None else frozenset(valid_keys),
            "models": {model.id: model for model in models},
            "latency_s": latency_s,
            "hang_s": hang_s,
            "retry_after_s": retry_after_s,
            "fault_rates": dict(fault_rates or {}),
            "seed": seed,
            "rate_limit_requests": rate_limit_requests,
            "rate_limit_tokens": rate_limit_tokens,
            "batch_delay_s": batch_delay_s,
        }
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.reset()

    # -- configuration and inspection --

    def reset(self) -> None:
        """Back to the constructor configuration: no queued faults, no calls, empty caches."""
        self._release.set()
        with self._lock:
            config = self._config
            self.valid_keys: frozenset[str] | None = config["valid_keys"]
            self.models: dict[str, SimModel] = dict(config["models"])
            self.latency_s: float = config["latency_s"]
            self.hang_s: float = config["hang_s"]
            self.retry_after_s: float = config["retry_after_s"]
            self.rate_limit_requests: int = config["rate_limit_requests"]
            self.rate_limit_tokens: int = config["rate_limit_tokens"]
            self._fault_rates: dict[str, float] = dict(config["fault_rates"])
            self._rng = random.Random(config["seed"])
            self._queued: deque[str] = deque()
            self._calls: list[RecordedCall] = []
            self._prefix_cache: set[tuple[str, int, str]] = set()
            self._window: deque[tuple[float, int]] = deque()
            self.batch_delay_s: float = config["batch_delay_s"]
            self._files: dict[str, SimFile] = {}
            self._batches: dict[str, dict[str, Any]] = {}
            self._batch_rng = random.Random(config["seed"])
        self._release = threading.Event()

    def fail_next(self, n: int = 1, kind: FaultKind = "500") -> None:
        """Make the next `n` chat completion requests fail with `kind`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        with self._lock:
            self._queued.extend([kind] * n)

    def set_fault_rates(self, rates: Mapping[str, float], seed: int | None = None) -> None:
        """Random faults, e.g. {"429": 0.05, "timeout": 0.01}; reproducible with `seed`."""
        _check_rates(rates)
        with self._lock:
            self._fault_rates = dict(rates)
            if seed is not None:
                self._rng = random.Random(seed)

    def release_hangs(self) -> None:
        """End every request currently hanging in a "timeout" fault."""
        self._release.set()

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat completion requests received so far, oldest first."""
        return [
            call.body
            for call in self.calls
            if call.path.endswith("/chat/completions") and isinstance(call.body, dict)
        ]

    def last_chat_request(self) -> dict[str, Any]:
        requests = self.chat_requests()
        if not requests:
            raise LookupError("no chat completion request recorded")
        return requests[-1]

    # -- request handling (HTTP-independent) --

    def authorized(self, authorization: str | None) -> SimResponse | None:
        """None when the bearer key is accepted, else OpenAI's 401."""
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                code=None,
            )
        if self.valid_keys is not None and key not in self.valid_keys:
            shown = f"{key[:3]}{'*' * 6}{key[-2:]}" if len(key) > 8 else "*" * len(key)
            return _error(
                401,
                f"Incorrect API key provided: {shown}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        return None

    def record(self, method: str, path: str, body: Any) -> RecordedCall:
        call = RecordedCall(method=method, path=path, body=body)
        with self._lock:
            self._calls.append(call)
        return call

    def take_fault(self) -> str | None:
        with self._lock:
            if self._queued:
                return self._queued.popleft()
            if self._fault_rates:
                roll = self._rng.random()
                for kind, rate in sorted(self._fault_rates.items()):
                    if roll < rate:
                        return kind
                    roll -= rate
        return None

    def count_request(self, tokens: int) -> tuple[dict[str, str], float | None]:
        """Count the request in the sliding minute; returns headers and, when over the
        limit, the seconds until a slot frees up."""
        now = time.monotonic()
        with self._lock:
            while self._window and now - self._window[0][0] >= 60:
                self._window.popleft()
            used_requests = len(self._window)
            used_tokens = sum(count for _, count in self._window)
            over = used_requests >= self.rate_limit_requests
            if not over:
                self._window.append((now, tokens))
                used_requests += 1
                used_tokens += tokens
            reset_s = 60 - (now - self._window[0][0]) if self._window else 0.0
        headers = {
            "x-ratelimit-limit-requests": str(self.rate_limit_requests),
            "x-ratelimit-remaining-requests": str(max(0, self.rate_limit_requests - used_requests)),
            "x-ratelimit-reset-requests": _duration(reset_s if used_requests else 0),
            "x-ratelimit-limit-tokens": str(self.rate_limit_tokens),
            "x-ratelimit-remaining-tokens": str(max(0, self.rate_limit_tokens - used_tokens)),
            "x-ratelimit-reset-tokens": _duration(reset_s if used_tokens else 0),
        }
        return headers, (reset_s if over else None)

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
        """A chat completion for `body` (or the error OpenAI would return)."""
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
        prompt_tokens = math.ceil(len(prefix) / CHARS_PER_TOKEN)
        cached_tokens = self._cached_tokens(model.id, prefix)

        analysis = _analyse([m for m in messages if isinstance(m, dict)])
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        finish_reason = "stop"
        if schema is not None:
            value = _fill(schema, schema, analysis)
            if fault == "schema":
                value = _break_schema(value, schema, schema)
            content = json.dumps(value, ensure_ascii=False)
        elif response_format.get("type") == "json_object":
            value = {**analysis, "category": "hacked"} if fault == "schema" else analysis
            content = json.dumps(value, ensure_ascii=False)
        else:
            content = analysis["summary"]
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
        completion_tokens = visible_tokens + reasoning_tokens
        payload = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model.snapshot or model.id,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": reasoning_tokens,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_sim0001",
        }
        return SimResponse(200, payload)

    # -- Batch API (HTTP-independent) --

    def upload_file(self, data: bytes, filename: str, purpose: str) -> SimResponse:
        if purpose not in ("batch", "assistants", "fine-tune", "vision", "user_data", "evals"):
            return _error(400, f"'{purpose}' is not a valid purpose", param="purpose")
        if purpose == "batch" and not filename.endswith(".jsonl"):
            return _error(400, "Batch files must be .jsonl files", param="file")
        stored = self._store_file(data, filename, purpose)
        return SimResponse(200, stored.as_json())

    def _store_file(self, data: bytes, filename: str, purpose: str) -> SimFile:
        stored = SimFile(
            id=f"file-{uuid.uuid4().hex[:24]}",
            filename=filename,
            purpose=purpose,
            data=data,
            created_at=int(time.time()),
        )
        with self._lock:
            self._files[stored.id] = stored
        return stored

    def file(self, file_id: str) -> SimFile | None:
        with self._lock:
            return self._files.get(file_id)

    def create_batch(self, body: Mapping[str, Any]) -> SimResponse:
        input_file_id = body.get("input_file_id")
        endpoint = body.get("endpoint")
        if body.get("completion_window") != "24h":
            return _error(400, "completion_window must be '24h'", param="completion_window")
        if endpoint not in BATCH_ENDPOINTS:
            return _error(400, f"endpoint must be one of {list(BATCH_ENDPOINTS)}", param="endpoint")
        stored = self.file(str(input_file_id or ""))
        if stored is None:
            return _error(404, f"No such File object: {input_file_id}", param="input_file_id")
        if stored.purpose != "batch":
            return _error(400, "The input file must have purpose 'batch'", param="input_file_id")
        now = int(time.time())
        batch: dict[str, Any] = {
            "id": f"batch_{uuid.uuid4().hex[:24]}",
            "object": "batch",
            "endpoint": endpoint,
            "errors": None,
            "input_file_id": stored.id,
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": None,
            "expires_at": now + BATCH_WINDOW_S,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
            "_created": time.monotonic(),
        }
        with self._lock:
            self._batches[batch["id"]] = batch
        return SimResponse(200, _public(batch))

    def retrieve_batch(self, batch_id: str) -> SimResponse:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            return _error(404, f"No batch found with id '{batch_id}'.", code="not_found")
        self._advance(batch)
        return SimResponse(200, _public(batch))

    def cancel_batch(self, batch_id: str) -> SimResponse:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            return _error(404, f"No batch found with id '{batch_id}'.", code="not_found")
        if batch["status"] in ("validating", "in_progress"):
            now = int(time.time())
            batch.update(status="cancelled", cancelling_at=now, cancelled_at=now)
        return SimResponse(200, _public(batch))

    def _advance(self, batch: dict[str, Any]) -> None:
        """validating → in_progress (or failed) → completed once batch_delay_s has passed."""
        if batch["status"] not in ("validating", "in_progress"):
            return
        stored = self.file(batch["input_file_id"])
        requests, errors = _parse_batch_input(
            stored.data if stored else b"", str(batch["endpoint"])
        )
        now = int(time.time())
        if errors:
            batch.update(
                status="failed", failed_at=now, errors={"object": "list", "data": errors[:10]}
            )
            return
        batch["request_counts"]["total"] = len(requests)
        if batch["in_progress_at"] is None:
            batch.update(status="in_progress", in_progress_at=now)
        with self._lock:
            if batch.get("_running") or time.monotonic() - batch["_created"] < self.batch_delay_s:
                return
            batch["_running"] = True
        done, failed = [], []
        for request in requests:
            fault = self.take_fault()
            model_id = str(request["body"].get("model", ""))
            result = self.status_fault(fault, model_id) if fault else None
            if result is None:
                result = self.complete(request["body"], fault)
            line = {
                "id": f"batch_req_{uuid.uuid4().hex[:24]}",
                "custom_id": request["custom_id"],
                "response": {
                    "status_code": result.status,
                    "request_id": f"req_{uuid.uuid4().hex}",
                    "body": result.body,
                },
                "error": None,
            }
            (done if result.status == 200 else failed).append(line)
        with self._lock:
            self._batch_rng.shuffle(done)
            self._batch_rng.shuffle(failed)
        batch["finalizing_at"] = now
        if done:
            batch["output_file_id"] = self._store_file(
                _jsonl(done), f"{batch['id']}_output.jsonl", "batch_output"
            ).id
        if failed:
            batch["error_file_id"] = self._store_file(
                _jsonl(failed), f"{batch['id']}_error.jsonl", "batch_output"
            ).id
        batch["request_counts"].update(completed=len(done), failed=len(failed))
        batch.update(status="completed", completed_at=int(time.time()))

    def status_fault(self, fault: str, model_id: str) -> SimResponse | None:
        """The HTTP error for a status-code fault, or None for content faults."""
        if fault == "429":
            wait = self.retry_after_s
            return _error(
                429,
                f"Rate limit reached for {model_id} in organization org-sim on requests per min "
                f"(RPM): Limit 3, Used 3, Requested 1. Please try again in {wait:g}s.",
                type_="requests",
                param=None,
                code="rate_limit_exceeded",
                headers={
                    "retry-after": str(max(1, math.ceil(wait))),
                    "retry-after-ms": str(round(wait * 1000)),
                },
            )
        if fault in ("500", "502", "503"):
            messages = {
                "500": "The server had an error while processing your request. Sorry about that!",
                "502": "Bad gateway.",
                "503": "The engine is currently overloaded, please try again later.",
            }
            return _error(int(fault), messages[fault], type_="server_error")
        return None

    async def hang(self, request: Request) -> None:
        """Stall like an overloaded upstream until the client gives up (or hang_s passes)."""
        release = self._release
        deadline = time.monotonic() + self.hang_s
        while time.monotonic() < deadline and not release.is_set():
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.02)


# --- HTTP layer --------------------------------------------------------------------------------


def _json_response(result: SimResponse, extra_headers: Mapping[str, str] | None = None) -> Response:
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}", **result.headers, **(extra_headers or {})}
    return JSONResponse(result.body, status_code=result.status, headers=headers)


def create_openai_app(sim: OpenAISimulator | None = None) -> FastAPI:
    """The ASGI app; `app.state.sim` is the simulator it serves."""
    sim = sim or OpenAISimulator()
    app = FastAPI(title="OpenAI simulator", docs_url="/docs", redoc_url=None)
    app.state.sim = sim

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return _json_response(_error(exc.status_code, str(exc.detail), code=None))

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        denied = sim.authorized(request.headers.get("authorization"))
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        call = sim.record("POST", request.url.path, body)
        if denied is not None:
            call.status = denied.status
            return _json_response(denied)
        if not isinstance(body, dict):
            result = _error(400, "We could not parse the JSON body of your request.")
            call.status = result.status
            return _json_response(result)

        fault = sim.take_fault()
        call.fault = fault
        if sim.latency_s > 0:
            await asyncio.sleep(sim.latency_s)
        if fault == "timeout":
            await sim.hang(request)
        model_id = str(body.get("model") or "")
        if fault is not None:
            failure = sim.status_fault(fault, model_id)
            if failure is not None:
                call.status, call.response = failure.status, failure.body
                return _json_response(failure)

        result = sim.complete(body, fault)
        tokens = int(result.body.get("usage", {}).get("total_tokens", 0))
        limit_headers, wait_s = sim.count_request(tokens)
        if wait_s is not None:
            result = _error(
                429,
                f"Rate limit reached for {model_id} in organization org-sim on requests per min "
                f"(RPM): Limit {sim.rate_limit_requests}. Please try again in {wait_s:.3g}s.",
                type_="requests",
                code="rate_limit_exceeded",
                headers={"retry-after": str(max(1, math.ceil(wait_s)))},
            )
        call.status, call.response = result.status, copy.deepcopy(result.body)
        processing = {"openai-processing-ms": str(round(sim.latency_s * 1000) + 1)}
        return _json_response(result, {**limit_headers, **processing})

    def _authorized_call(request: Request, body: Any) -> tuple[RecordedCall, SimResponse | None]:
        denied = sim.authorized(request.headers.get("authorization"))
        call = sim.record(request.method, request.url.path, body)
        if denied is not None:
            call.status = denied.status
        return call, denied

    def _answer(call: RecordedCall, result: SimResponse) -> Response:
        call.status, call.response = result.status, copy.deepcopy(result.body)
        return _json_response(result)

    @app.post("/v1/files")
    async def upload_file(request: Request) -> Response:
        form = await request.form()
        upload = form.get("file")
        purpose = str(form.get("purpose") or "")
        call, denied = _authorized_call(request, {"purpose": purpose})
        if denied is not None:
            return _json_response(denied)
        if upload is None or isinstance(upload, str):
            return _answer(call, _error(400, "file is required (multipart form)", param="file"))
        data = await upload.read()
        call.body = {"purpose": purpose, "filename": upload.filename, "bytes": len(data)}
        return _answer(call, sim.upload_file(data, upload.filename or "upload", purpose))

    @app.get("/v1/files/{file_id}")
    async def retrieve_file(file_id: str, request: Request) -> Response:
        call, denied = _authorized_call(request, None)
        if denied is not None:
            return _json_response(denied)
        stored = sim.file(file_id)
        if stored is None:
            return _answer(call, _error(404, f"No such File object: {file_id}", param="id"))
        return _answer(call, SimResponse(200, stored.as_json()))

    @app.get("/v1/files/{file_id}/content")
    async def file_content(file_id: str, request: Request) -> Response:
        call, denied = _authorized_call(request, None)
        if denied is not None:
            return _json_response(denied)
        stored = sim.file(file_id)
        if stored is None:
            return _answer(call, _error(404, f"No such File object: {file_id}", param="id"))
        call.status = 200
        return Response(
            stored.data,
            media_type="application/octet-stream",
            headers={"x-request-id": f"req_{uuid.uuid4().hex}"},
        )

    @app.post("/v1/batches")
    async def create_batch(request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        call, denied = _authorized_call(request, body)
        if denied is not None:
            return _json_response(denied)
        if not isinstance(body, dict):
            return _answer(call, _error(400, "We could not parse the JSON body of your request."))
        return _answer(call, sim.create_batch(body))

    @app.get("/v1/batches/{batch_id}")
    async def retrieve_batch(batch_id: str, request: Request) -> Response:
        call, denied = _authorized_call(request, None)
        if denied is not None:
            return _json_response(denied)
        return _answer(call, sim.retrieve_batch(batch_id))

    @app.post("/v1/batches/{batch_id}/cancel")
    async def cancel_batch(batch_id: str, request: Request) -> Response:
        call, denied = _authorized_call(request, None)
        if denied is not None:
            return _json_response(denied)
        return _answer(call, sim.cancel_batch(batch_id))

    @app.get("/v1/models")
    async def list_models(request: Request) -> Response:
        denied = sim.authorized(request.headers.get("authorization"))
        sim.record("GET", request.url.path, None).status = denied.status if denied else 200
        if denied is not None:
            return _json_response(denied)
        data = [model.as_json() for model in sim.models.values()]
        return _json_response(SimResponse(200, {"object": "list", "data": data}))

    @app.get("/v1/models/{model_id:path}")
    async def retrieve_model(model_id: str, request: Request) -> Response:
        denied = sim.authorized(request.headers.get("authorization"))
        call = sim.record("GET", request.url.path, None)
        if denied is not None:
            call.status = denied.status
            return _json_response(denied)
        model = sim.models.get(model_id)
        if model is None:
            result = _error(
                404,
                f"The model '{model_id}' does not exist",
                param="model",
                code="model_not_found",
            )
        else:
            result = SimResponse(200, model.as_json())
        call.status = result.status
        return _json_response(result)

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="OpenAI-compatible simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each call")
    parser.add_argument(
        "--key", action="append", help=f"accepted API key (repeatable; default {SIM_API_KEY})"
    )
    parser.add_argument("--any-key", action="store_true", help="accept any bearer key")
    parser.add_argument(
        "--fault-rate",
        action="append",
        default=[],
        metavar="KIND=RATE",
        help=f"random fault rate, e.g. 429=0.05 (kinds: {', '.join(FAULT_KINDS)})",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rpm", type=int, default=10_000, help="requests per minute limit")
    parser.add_argument(
        "--batch-delay", type=float, default=0.0, help="seconds before a batch completes"
    )
    args = parser.parse_args(argv)

    rates: dict[str, float] = {}
    for item in args.fault_rate:
        kind, _, rate = item.partition("=")
        rates[kind] = float(rate)
    sim = OpenAISimulator(
        valid_keys=None if args.any_key else (args.key or [SIM_API_KEY]),
        latency_s=args.latency,
        fault_rates=rates,
        seed=args.seed,
        rate_limit_requests=args.rpm,
        batch_delay_s=args.batch_delay,
    )
    uvicorn.run(create_openai_app(sim), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
