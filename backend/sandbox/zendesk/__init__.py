"""HTTP-faithful Zendesk Support API simulator for tests, benchmarks and demos.

Behaves like the real API on the points our client depends on (see the upstream API
notes): JSON shapes, cursor and offset pagination, search limits, tag semantics
(`tags` replaces, the tags endpoint and bulk `additional_tags` add), private notes,
asynchronous `update_many` jobs, incremental export, auth, rate limits and faults. It
also sends signed webhooks for the tickets it creates or changes (`add_webhook`), over real
HTTP from background threads, with Zendesk's headers.

    python -m sandbox.zendesk --port 8100 [--latency 0.15] [--rate-limit 400]
        [--webhook-url URL --webhook-secret SECRET]

State lives in a `ZendeskSimulator` (thread-safe: the app runs in a server thread while
tests read and steer it); `create_zendesk_app(sim)` exposes it as `app.state.sim`.

Modules: `simulator` (state, knobs, faults) built from `pipeline` (auth, rate limits,
dispatch), `tickets`, `jobs`, `search` and `webhooks`; the endpoints live in `handlers_*`,
`people` (users, organizations) and `records` (audits, metrics); `app` wires them and
`builtin` is the per-user sandbox the service mounts.
"""

from sandbox.zendesk.app import create_zendesk_app, main
from sandbox.zendesk.common import (
    ACCOUNT_ID,
    DEFAULT_API_TOKEN,
    DEFAULT_BASE_URL,
    DEFAULT_EMAIL,
    DEFAULT_OAUTH_TOKEN,
    REAL_ENDPOINT_LIMITS_PER_MINUTE,
    SEED_PATH,
    HttpError,
    RecordedCall,
    iso_utc,
    normalize_tags,
    parse_iso,
    sign_webhook,
)
from sandbox.zendesk.simulator import ZendeskSimulator
from sandbox.zendesk.webhooks import WebhookAttempt, WebhookSubscription

__all__ = [
    "ACCOUNT_ID",
    "DEFAULT_API_TOKEN",
    "DEFAULT_BASE_URL",
    "DEFAULT_EMAIL",
    "DEFAULT_OAUTH_TOKEN",
    "REAL_ENDPOINT_LIMITS_PER_MINUTE",
    "SEED_PATH",
    "HttpError",
    "RecordedCall",
    "WebhookAttempt",
    "WebhookSubscription",
    "ZendeskSimulator",
    "create_zendesk_app",
    "iso_utc",
    "main",
    "normalize_tags",
    "parse_iso",
    "sign_webhook",
]
