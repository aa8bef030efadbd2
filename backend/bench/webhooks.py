"""How fast a Zendesk webhook delivery is acknowledged, served over HTTP.

    cd backend && python bench/webhooks.py [--deliveries 400] [--database-url URL]

Starts one API process on its own (the embedded default's SQLite database and SQLite broker
in a temporary data directory unless `--database-url` names another database), signs up one
user with a webhook secret, then sends `--deliveries` signed trigger deliveries one
after another (each a new invocation for a new ticket, so each is stored and queued as a
batch job after the commit) and prints the acknowledgement's latency: `webhook_ack_p50_ms=`,
`webhook_ack_p95_ms=`, `webhook_ack_p99_ms=`, and the target (p95 under 100 ms: Zendesk
times a webhook out after 12 s, and a slow acknowledgement holds its delivery slot).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[1]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

import subprocess  # noqa: E402

from bench import harness  # noqa: E402
from sandbox.serve import free_port  # noqa: E402
from sandbox.zendesk import iso_utc, sign_webhook  # noqa: E402

SECRET = "bench-webhook-secret"
TARGET_P95_MS = 100.0


def signed_delivery(ticket_id: int, invocation: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"ticket_id": str(ticket_id)}).encode()  # a trigger's payload
    timestamp = iso_utc(datetime.now(UTC))
    return body, {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Id": "01GK8E6BKWMJZD2T8Y5AXJQMG5",
        "X-Zendesk-Webhook-Invocation-Id": str(9_000_000_000 + invocation),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Signature": sign_webhook(SECRET, timestamp, body),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=400)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="triage-webhook-bench-") as data_dir:
        database_url = args.database_url or f"sqlite:///{data_dir}/triage.db"
        harness.migrate(database_url)
        env = harness.api_alone_environment(database_url, data_dir, metrics=False)
        port = free_port()
        api_process: subprocess.Popen[bytes] = harness.start_api(env, port)
        try:
            api = harness.Api(f"http://127.0.0.1:{port}")
            api.sign_up()
            api.configure(
                zendesk_url="acme",
                zendesk_email="agent@example.com",
                zendesk_api_token="bench-token",
                zendesk_webhook_secret=SECRET,
            )
            url = api.http.get("/settings/").json()["integration"]["webhook_url"]
            path = "/" + url.split("://", 1)[-1].split("/", 1)[-1]
            for warm_up in range(5):  # connections, first queries, imports on first use
                body, headers = signed_delivery(1_000_000 + warm_up, warm_up)
                api.http.post(path, content=body, headers=headers).raise_for_status()
            durations_ms: list[float] = []
            for n in range(args.deliveries):
                body, headers = signed_delivery(10 + n, 100 + n)
                started = time.perf_counter()
                response = api.http.post(path, content=body, headers=headers)
                durations_ms.append((time.perf_counter() - started) * 1000)
                if response.status_code != 202:
                    raise SystemExit(f"delivery {n}: {response.status_code} {response.text}")
        finally:
            api_process.terminate()
            api_process.wait(timeout=15)

    cuts = statistics.quantiles(durations_ms, n=100)
    p95 = cuts[94]
    print(f"deliveries={len(durations_ms)}")
    print(f"webhook_ack_p50_ms={statistics.median(durations_ms):.1f}")
    print(f"webhook_ack_p95_ms={p95:.1f}")
    print(f"webhook_ack_p99_ms={cuts[98]:.1f}")
    print(f"webhook_ack_target_p95_ms={TARGET_P95_MS:.0f}")
    print(f"webhook_ack_target_met={'yes' if p95 < TARGET_P95_MS else 'no'}")


if __name__ == "__main__":
    main()
