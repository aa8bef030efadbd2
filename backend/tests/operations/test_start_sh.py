"""`start.sh` supervises its worker: a dead worker is started again and the API keeps serving."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.operations.copies import SANDBOX_OPEN_TICKETS, processes_with, start_sh, wait_until

PORT = int(os.environ.get("TEST_START_SH_PORT", "8711"))


def test_a_killed_worker_is_restarted_and_the_api_keeps_serving(tmp_path: Path) -> None:
    with start_sh(PORT, tmp_path / "data", tmp_path / "start.log", RESTART_DELAY_S="0.5") as copy:
        copy.ready()
        headers = copy.login("ops@example.com")
        first = copy.submit_batch(headers, SANDBOX_OPEN_TICKETS[:3])
        assert copy.wait_for_job(headers, first, timeout_s=90)["state"] == "succeeded"

        marker = f"triage-{PORT}@"
        doomed = processes_with(marker)
        assert doomed, copy.log_tail()
        for pid in doomed:
            os.kill(pid, signal.SIGKILL)
        assert copy.http.get("/health").status_code == 200  # the API did not go with it
        wait_until(lambda: set(processes_with(marker)) - set(doomed), 30, "a new worker process")
        second = copy.submit_batch(headers, SANDBOX_OPEN_TICKETS[3:6])
        assert copy.wait_for_job(headers, second, timeout_s=90)["state"] == "succeeded"
        assert copy.process.poll() is None
        assert "starting it again" in copy.log.read_text(errors="replace")
