"""Prometheus metrics at /metrics and JSON log lines carrying the request id, with no
secrets, tokens or ticket text in them."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from app.config import BACKEND_DIR, get_settings
from app.core.observability import JsonFormatter
from sandbox.zendesk import DEFAULT_API_TOKEN, ZendeskSimulator
from tests.factories import DEFAULT_PASSWORD, UserFactory, configure_zendesk, create_analysed_ticket

TICKET = 1


def sample(client: TestClient, name: str, **labels: str) -> float:
    """One sample's value from /metrics (0 when absent)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for metric in family.samples:
            if metric.name == name and all(metric.labels.get(k) == v for k, v in labels.items()):
                return float(metric.value)
    return 0.0


def test_metrics_are_prometheus_text_labelled_by_route_template(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    create_analysed_ticket(db, user, zendesk_ticket_id=987_654)
    before = sample(
        client, "http_requests_total", method="GET", route="/tickets/{ticket_id}", status="200"
    )
    assert client.get("/tickets/987654", headers=headers).status_code == 200
    assert client.get("/tickets/555", headers=headers).status_code == 404
    client.get("/no/such/path/42")
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert "/tickets/987654" not in response.text and "/no/such/path" not in response.text
    labels = {"method": "GET", "route": "/tickets/{ticket_id}"}
    assert sample(client, "http_requests_total", **labels, status="200") == before + 1
    assert sample(client, "http_requests_total", **labels, status="404") >= 1
    assert sample(client, "http_requests_total", method="GET", route="unmatched") >= 1
    assert sample(client, "http_request_duration_seconds_count", **labels) >= 2


def test_processing_counts_tickets_by_source_and_category_and_zendesk_errors(
    client: TestClient,
    users: UserFactory,
    db: Session,
    zendesk_url: str,
    zendesk_sim: ZendeskSimulator,
) -> None:
    user, headers = users.authed()
    configure_zendesk(db, user, zendesk_url)
    errors = {"upstream": "zendesk", "kind": "server_error"}
    errors_before = sample(client, "triage_upstream_errors_total", **errors)
    zendesk_sim.fail_next(1, 503, path_contains=f"/tickets/{TICKET}.json")
    response = client.post("/tickets/process", json={"ticket_id": TICKET}, headers=headers)
    assert response.status_code == 200, response.text
    category = response.json()["analysis"]["category"]
    processed = {"source": "local", "category": category}
    assert sample(client, "triage_tickets_processed_total", **processed) >= 1
    assert sample(client, "triage_upstream_errors_total", **errors) == errors_before + 1
    assert sample(client, "triage_queue_depth") == 0  # no Redis configured: not exported


def test_metrics_add_up_across_processes_and_hosts_in_multiprocess_mode(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, /metrics of one process includes what others counted,
    on this host and on others sharing the directory (containers, whose pids repeat)."""
    script = (
        "import sys\n"
        "from app.core.observability import observe_request, render_metrics\n"
        "observe_request('GET', '/health', 200, 0.01)\n"
        "if sys.argv[1] == 'render':\n"
        "    print(render_metrics(None).decode())\n"
    )
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for mode in ("count", "render"):
        result = subprocess.run(
            [sys.executable, "-c", script, mode],
            cwd=BACKEND_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    assert 'http_requests_total{method="GET",route="/health",status="200"} 2.0' in result.stdout
    # Each host writes in its own subdirectory, files named by pid (prometheus_client's own).
    host = socket.gethostname()
    files = sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*.db"))
    assert files and all(re.fullmatch(rf"host-{re.escape(host)}/[a-z]+_\d+\.db", n) for n in files)
    # Another container's process with the same pid: its own subdirectory, added up too.
    other_host = tmp_path / "host-worker-container"
    other_host.mkdir()
    for path in (tmp_path / f"host-{host}").glob("counter_*.db"):
        (other_host / path.name).write_bytes(path.read_bytes())
    rendered = subprocess.run(
        [sys.executable, "-c", script, "render"],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert 'http_requests_total{method="GET",route="/health",status="200"} 5.0' in rendered


def test_metrics_have_a_port_of_their_own(tmp_path: Path) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [sys.executable, "-c", "from app.core.observability import observe_request as o; "
         "o('GET', '/health', 200, 0.01)"],
        cwd=BACKEND_DIR, env=env, check=True, timeout=60,
    )  # fmt: skip
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "app.core.observability", "--port", str(port)],
        cwd=BACKEND_DIR,
        env={**env, "DATA_DIR": str(tmp_path / "data")},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        assert response.status_code == 200
        assert 'http_requests_total{method="GET",route="/health",status="200"} 1.0' in response.text
    finally:
        server.terminate()
        server.wait(timeout=10)


# --- logs ----------------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the JSON handler writes, at INFO, while the test runs."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(previous_level)


def test_log_lines_are_json_with_request_id_and_no_secrets_or_ticket_text(
    client: TestClient,
    users: UserFactory,
    db: Session,
    zendesk_url: str,
    zendesk_sim: ZendeskSimulator,
    json_log: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "llm_max_retries", 0)
    openai_key = "sk-obs-test-secret-0123456789abcdef"
    webhook_secret = "whsec-obs-test-secret-0123456789"
    user = users.create()
    logged_in = client.post(
        "/auth/login",
        data={"username": user.email, "password": DEFAULT_PASSWORD},
        headers={"X-Request-ID": "obs-login"},
    )
    token = logged_in.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    saved = client.put(
        "/settings/",
        json={
            "zendesk_url": zendesk_url,
            "zendesk_email": zendesk_sim.email,
            "zendesk_api_token": DEFAULT_API_TOKEN,
            "zendesk_webhook_secret": webhook_secret,
            "openai_api_key": openai_key,
            "openai_base_url": "http://127.0.0.1:9/v1",  # down: the analysis falls back
            "analysis_mode": "auto",
        },
        headers={**headers, "X-Request-ID": "obs-settings"},
    )
    assert saved.status_code == 200, saved.text
    zendesk_sim.fail_next(1, 503, path_contains=f"/tickets/{TICKET}.json")  # a warning line
    processed = client.post(
        "/tickets/process",
        json={"ticket_id": TICKET},
        headers={**headers, "X-Request-ID": "obs-process"},
    )
    assert processed.status_code == 200, processed.text

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert lines, "nothing was logged"
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= set(line)
    access = {line["request_id"]: line for line in lines if line["logger"] == "app.access"}
    assert access["obs-login"]["route"] == "/auth/login"
    assert access["obs-settings"]["status"] == 200
    assert access["obs-process"]["method"] == "POST"
    assert access["obs-process"]["route"] == "/tickets/process"
    assert isinstance(access["obs-process"]["duration_ms"], float)
    during_process = [line for line in lines if line["request_id"] == "obs-process"]
    assert {"app.integrations.zendesk.client", "app.access"} <= {
        line["logger"] for line in during_process
    }  # a service's warning carries the id of the request it happened in

    text = json_log.getvalue()
    ticket = zendesk_sim.ticket(TICKET)
    for secret in (
        DEFAULT_PASSWORD,
        token,
        token.split(".")[2],
        "Bearer",
        DEFAULT_API_TOKEN,
        webhook_secret,
        openai_key,
        ticket["description"][:40],
    ):
        assert secret not in text, secret


def test_metrics_on_the_api_port_need_the_token_when_one_is_set_or_in_production(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/metrics").status_code == 200  # outside production: open
    monkeypatch.setattr(get_settings(), "env", "production")
    assert client.get("/metrics").status_code == 404  # production without a token: off
    monkeypatch.setattr(get_settings(), "metrics_token", "scrape-token-0123456789")
    assert client.get("/metrics").status_code == 404
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 404
    right = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert right.status_code == 200
    assert "http_requests_total" in right.text
