"""docker-compose.yml, run without a Docker engine: its services' commands start as plain
processes with the environment compose gives them (hosts pointed at the local PostgreSQL and
Redis), and a batch goes through the built-in sandbox, reached by the worker at the API's
internal URL. Also: compose refuses to start without secrets, binds to loopback, and keeps
/metrics off the API's port."""

from __future__ import annotations

import os
import re
import shlex
import socket
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg2
import pytest
import redis
from sqlalchemy.engine import make_url

from tests.conftest import TEST_DATABASE_URL
from tests.operations import compose
from tests.operations.copies import REPO_ROOT, SANDBOX_OPEN_TICKETS, Copy, started, wait_until
from tests.targets import TEST_REDIS_URL, wipe_redis

pytestmark = pytest.mark.postgres_only

SECRETS = {
    "SECRET_KEY": "compose-test-secret-key-0123456789-abcdefghij",
    "ENCRYPTION_KEYS": "bX9uqS1xLcD3mQeKcS8c4bJf0m3y8Xb2m6R0W8Q5b3Y=",
}
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_compose_refuses_to_start_without_secrets() -> None:
    for missing in SECRETS:
        variables = {name: value for name, value in SECRETS.items() if name != missing}
        with pytest.raises(compose.MissingVariable, match=missing):
            compose.load(COMPOSE_FILE, variables)


def test_compose_runs_in_production_on_loopback_with_an_internal_url_for_the_sandbox() -> None:
    services = compose.load(COMPOSE_FILE, SECRETS)
    api = services["api"]
    assert api["environment"]["ENV"] == "production"
    assert api["ports"] == ["127.0.0.1:8000:8000"]
    assert services["metrics"]["ports"] == ["127.0.0.1:9100:9100"]
    assert api["environment"]["INTERNAL_BASE_URL"] == "http://api:8000"
    assert all(services[name]["environment"] == api["environment"] for name in ("worker", "beat"))
    assert all(service.get("restart") == "unless-stopped" for service in services.values())
    assert all("healthcheck" in services[name] for name in ("postgres", "redis", "api", "worker"))
    published = compose.load(COMPOSE_FILE, {**SECRETS, "BIND_ADDRESS": "0.0.0.0", "PORT": "80"})
    assert published["api"]["ports"] == ["0.0.0.0:80:8000"]


def test_only_the_worker_runs_the_image_with_the_training_extras() -> None:
    services = compose.load(COMPOSE_FILE, SECRETS)
    built = {name: service for name, service in services.items() if "build" in service}
    targets = {name: service["build"]["target"] for name, service in built.items()}
    slim = {"api": "runtime", "beat": "runtime", "metrics": "runtime"}
    assert targets == {**slim, "worker": "worker"}
    assert services["worker"]["image"] != services["api"]["image"]
    dockerfile = (REPO_ROOT / "backend" / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, flags=re.MULTILINE)
    assert {"runtime", "worker"} <= set(stages)
    assert stages[-1] == "runtime"  # a plain `docker build` gives the slim image
    runtime_venv = dockerfile.split("AS venv-runtime")[1].split("\nFROM ")[0]
    assert "requirements.txt" in runtime_venv and "training" not in runtime_venv


@pytest.fixture
def compose_database() -> Iterator[str]:
    """A database of its own on the test server for the compose processes (dropped after)."""
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_compose"
    admin = psycopg2.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password,
        dbname=url.database,
    )  # fmt: skip
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def compose_redis() -> Iterator[str]:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    wipe_redis(client)
    yield TEST_REDIS_URL
    wipe_redis(client)


# What the runtime image lacks: a process started from it cannot import the training extras.
NO_TRAINING_EXTRAS = """
import importlib.abc, sys

class NoTrainingExtras(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("sklearn", "scipy"):
            raise ModuleNotFoundError(f"{name}: not in the runtime image", name=name)
        return None

sys.meta_path.insert(0, NoTrainingExtras())
"""


def as_process(
    service: dict, replacements: dict[str, str], data_dir: Path
) -> tuple[list[str], dict[str, str]]:
    """The service's command and environment, with container hosts and paths replaced; a
    service built from the runtime target cannot import scikit-learn or scipy."""

    def local(value: str) -> str:
        for container_value, local_value in replacements.items():
            value = value.replace(container_value, local_value)
        return value

    environment = {name: local(str(value)) for name, value in service["environment"].items()}
    # What the image adds (Dockerfile ENV): the virtualenv and the data directory.
    environment.update(
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        DATA_DIR=str(data_dir),
        HOME=os.environ.get("HOME", "/tmp"),
    )
    if service["build"]["target"] == "runtime":
        site = data_dir.parent / "runtime-image-site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(NO_TRAINING_EXTRAS)
        environment["PYTHONPATH"] = str(site)
    return [local(argument) for argument in service["command"]], environment


def test_compose_services_run_a_batch_through_the_sandbox(
    tmp_path: Path, compose_database: str, compose_redis: str
) -> None:
    api_port, metrics_port = free_port(), free_port()
    services = compose.load(COMPOSE_FILE, {**SECRETS, "PORT": str(api_port)})
    replacements = {
        services["api"]["environment"]["DATABASE_URL"]: compose_database,
        services["api"]["environment"]["REDIS_URL"]: compose_redis,
        "http://api:8000": f"http://127.0.0.1:{api_port}",
        "--host 0.0.0.0 --port 8000": f"--host 127.0.0.1 --port {api_port}",
        "0.0.0.0": "127.0.0.1",
        "9100": str(metrics_port),
        "/app/metrics": str(tmp_path / "metrics"),
        "/app/data": str(tmp_path / "data"),
    }
    (tmp_path / "data").mkdir()
    backend = REPO_ROOT / "backend"
    with ExitStack() as stack:
        copies: dict[str, Copy] = {}
        for name in ("api", "worker", "beat", "metrics"):
            command, environment = as_process(services[name], replacements, tmp_path / "data")
            url = f"http://127.0.0.1:{metrics_port if name == 'metrics' else api_port}"
            wrapped = ["sh", "-c", f"cd {shlex.quote(str(backend))} && exec {shlex.join(command)}"]
            copies[name] = stack.enter_context(
                started(wrapped, url, tmp_path / f"{name}.log", environment)
            )
            if name == "api":
                copies["api"].ready()
        api = copies["api"]
        headers = api.login("compose@example.com")
        job_id = api.submit_batch(headers, SANDBOX_OPEN_TICKETS)
        body = api.wait_for_job(headers, job_id, timeout_s=90)
        assert body["state"] == "succeeded", body
        assert body["progress"]["done"] == len(SANDBOX_OPEN_TICKETS)

        assert api.http.get("/metrics").status_code == 404  # not on the API's port
        scraped = wait_until(
            lambda: (
                (response := copies["metrics"].http.get("/metrics")).status_code == 200
                and "triage_tickets_processed_total" in response.text
                and response
            ),
            30,
            f"metrics port\n{copies['metrics'].log_tail()}",
        )
        assert 'route="/tickets/process-batch"' in scraped.text  # the API's, added up
        for name in ("worker", "beat", "metrics"):
            assert copies[name].process.poll() is None, copies[name].log_tail()
