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

Modules: `simulator` (configuration, calls, auth, rate limits) built from `completions`
(the answer; its labels come from `heuristics`, its shape from `schema`), `batches` and
`faults`; `app` serves it over HTTP.
"""

from sandbox.openai_sim.app import create_openai_app, main
from sandbox.openai_sim.common import (
    DEFAULT_MODELS,
    FAULT_KINDS,
    SIM_API_KEY,
    FaultKind,
    RecordedCall,
    SimFile,
    SimModel,
    SimResponse,
)
from sandbox.openai_sim.simulator import OpenAISimulator

__all__ = [
    "DEFAULT_MODELS",
    "FAULT_KINDS",
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
