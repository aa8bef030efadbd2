"""`start.sh` as operators run it: copies on different ports side by side, nothing else set,
each writing under the data directory derived from its port (database, broker, beat
schedule, metrics, keys), a batch in each finishing at once; and a supervised worker: killed,
it is started again while the API keeps serving."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.operations.copies import (
    REPO_ROOT,
    SANDBOX_OPEN_TICKETS,
    processes_with,
    start_sh,
    wait_until,
)

PORTS = [int(port) for port in os.environ.get("TEST_START_SH_PORTS", "8712,8713").split(",")]
OWN_FILES = ["triage.db", "celery-broker.db", "celerybeat-schedule", "metrics", "secret_key"]


@pytest.fixture(scope="module")
def dashboard_built() -> None:
    """The dashboard is built (or found fresh) once, before the copies start: two start.sh
    starting at once would both build it in the same directory."""
    script = REPO_ROOT / "frontend" / "scripts" / "build-if-stale.sh"
    if script.exists():
        subprocess.run([str(script)], cwd=REPO_ROOT, timeout=900, check=False)


@pytest.fixture
def port_data_dirs() -> Iterator[list[Path]]:
    """The data directories start.sh derives from the ports, removed after the test."""
    data_dirs = [REPO_ROOT / "backend" / "data" / f"port-{port}" for port in PORTS]
    for data_dir in data_dirs:
        shutil.rmtree(data_dir, ignore_errors=True)
    yield data_dirs
    for data_dir in data_dirs:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.usefixtures("dashboard_built")
def test_copies_side_by_side_and_a_killed_worker_restarted_while_the_api_serves(
    tmp_path: Path, port_data_dirs: list[Path]
) -> None:
    with ExitStack() as stack:
        copies = [
            stack.enter_context(
                start_sh(port, None, tmp_path / f"{port}.log", RESTART_DELAY_S="0.5")
            )
            for port in PORTS
        ]
        for copy in copies:
            copy.ready()
        headers = [copy.login(f"ops-{index}@example.com") for index, copy in enumerate(copies)]
        # Warm-up: each worker is consuming (a first job also loads the offline model).
        for copy, auth in zip(copies, headers, strict=True):
            warm = copy.submit_batch(auth, SANDBOX_OPEN_TICKETS[:1])
            assert copy.wait_for_job(auth, warm, timeout_s=60)["state"] == "succeeded"

        started = time.monotonic()
        jobs = [
            copy.submit_batch(auth, SANDBOX_OPEN_TICKETS)
            for copy, auth in zip(copies, headers, strict=True)
        ]
        bodies = [
            copy.wait_for_job(auth, job, timeout_s=30)
            for copy, auth, job in zip(copies, headers, jobs, strict=True)
        ]
        elapsed_s = time.monotonic() - started
        assert [body["state"] for body in bodies] == ["succeeded", "succeeded"], bodies
        assert elapsed_s < 10, f"both batches took {elapsed_s:.1f} s"

        # The first copy's worker dies (every process of it): the API keeps serving, the
        # supervisor starts a new worker, which takes the next batch.
        copy, auth = copies[0], headers[0]
        marker = f"triage-{PORTS[0]}@"
        doomed = processes_with(marker)
        assert doomed, copy.log_tail()
        for pid in doomed:
            os.kill(pid, signal.SIGKILL)
        assert copy.http.get("/health").status_code == 200
        wait_until(lambda: set(processes_with(marker)) - set(doomed), 30, "a new worker")
        again = copy.submit_batch(auth, SANDBOX_OPEN_TICKETS[:3])
        assert copy.wait_for_job(auth, again, timeout_s=90)["state"] == "succeeded"
        assert copy.process.poll() is None
        assert "starting it again" in copy.log.read_text(errors="replace")

    for data_dir in port_data_dirs:
        for name in OWN_FILES:
            assert any(data_dir.glob(f"{name}*")), f"{name} is not in {data_dir}"
    assert len({(data_dir / "secret_key").read_text() for data_dir in port_data_dirs}) == 2
