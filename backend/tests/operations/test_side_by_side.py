"""Two copies of `start.sh` on different ports, nothing else set: each writes under the data
directory derived from its port (database, broker, beat schedule, metrics, keys), and a
batch in each finishes at once."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.operations.copies import REPO_ROOT, SANDBOX_OPEN_TICKETS, start_sh

PORTS = [int(port) for port in os.environ.get("TEST_SIDE_BY_SIDE_PORTS", "8712,8713").split(",")]
OWN_FILES = ["triage.db", "celery-broker.db", "celerybeat-schedule", "metrics", "secret_key"]


@pytest.fixture
def port_data_dirs() -> Iterator[list[Path]]:
    """The data directories start.sh derives from the ports, removed after the test."""
    data_dirs = [REPO_ROOT / "backend" / "data" / f"port-{port}" for port in PORTS]
    for data_dir in data_dirs:
        shutil.rmtree(data_dir, ignore_errors=True)
    yield data_dirs
    for data_dir in data_dirs:
        shutil.rmtree(data_dir, ignore_errors=True)


def test_two_copies_side_by_side_each_finish_their_batch_within_seconds(
    tmp_path: Path, port_data_dirs: list[Path]
) -> None:
    with ExitStack() as stack:
        copies = [
            stack.enter_context(start_sh(port, None, tmp_path / f"{port}.log")) for port in PORTS
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
    for data_dir in port_data_dirs:
        for name in OWN_FILES:
            assert any(data_dir.glob(f"{name}*")), f"{name} is not in {data_dir}"
    assert len({(data_dir / "secret_key").read_text() for data_dir in port_data_dirs}) == 2
