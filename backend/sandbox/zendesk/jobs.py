"""Asynchronous `update_many` jobs and their status payloads."""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from typing import Any

from sandbox.zendesk.common import MAX_QUEUED_JOBS, HttpError, _Job, _utcnow, iso_utc


class JobsMixin:
    """Queued bulk-update jobs (part of ZendeskSimulator)."""

    def _job_payload(self, job: _Job, base_url: str) -> dict[str, Any]:
        progress = {"queued": None, "working": 0}.get(job.status, job.total)
        message = None
        if job.status == "completed" and job.completed_at is not None:
            message = f"Completed at {iso_utc(job.completed_at)}"
        return {
            "id": job.id,
            "url": f"{base_url}/api/v2/job_statuses/{job.id}.json",
            "job_type": job.job_type,
            "status": job.status,
            "total": job.total,
            "progress": progress,
            "message": message,
            "results": copy.deepcopy(job.results),
        }

    def _create_job(
        self, operations: list[tuple[int, dict[str, Any], str]], job_type: str = "bulk_update"
    ) -> _Job:
        pending = [job for job in self.jobs.values() if job.status in {"queued", "working"}]
        if len(pending) >= MAX_QUEUED_JOBS:
            raise HttpError(
                429,
                {
                    "error": "TooManyJobs",
                    "description": f"Number of allowed queued jobs ({MAX_QUEUED_JOBS}) exceeded",
                },
            )
        digest = hashlib.md5(
            f"{self.random_seed}-{self._generation}-{next(self._job_seq)}".encode(),
            usedforsecurity=False,
        )
        job = _Job(
            id=digest.hexdigest(),
            created=time.monotonic(),
            total=len(operations),
            operations=operations,
            job_type=job_type,
        )
        self.jobs[job.id] = job
        timer = threading.Timer(self.job_delay_s + 0.001, self._advance_jobs_safely)
        timer.daemon = True
        timer.start()
        return job

    def _advance_jobs_safely(self) -> None:
        with self._lock:
            self._advance_jobs()

    def _advance_jobs(self) -> None:
        now = time.monotonic()
        for job in self.jobs.values():
            if job.status == "completed":
                continue
            elapsed = now - job.created
            if elapsed >= self.job_delay_s:
                self._run_job(job)
            elif elapsed >= self.job_delay_s / 2:
                job.status = "working"

    def _run_job(self, job: _Job) -> None:
        results = [
            self._run_operation(index, ticket_id, changes, form)
            for index, (ticket_id, changes, form) in enumerate(job.operations)
        ]
        job.results = results
        job.status = "completed"
        job.completed_at = _utcnow()

    def _run_operation(
        self, index: int, ticket_id: int, changes: dict[str, Any], form: str
    ) -> dict[str, Any]:
        """One job step: "create", "delete", or an update ("bulk" takes additional_tags)."""
        action = {"create": "create", "delete": "delete"}.get(form, "update")
        try:
            if form == "create":
                ticket_id = self._create_ticket_from_api(changes)["id"]
            elif form == "delete":
                self._delete_ticket(ticket_id)
            else:
                allow = form == "bulk" or self.accept_undocumented_additional_tags
                self._apply_update(ticket_id, changes, allow_additional_tags=allow)
        except HttpError as error:
            code = error.payload.get("error", "Error")
            if code == "RecordNotFound":
                code = "TicketNotFound"
            return {
                "index": index,
                "id": ticket_id or None,
                "action": action,
                "success": False,
                "status": "Failed",
                "error": code,
                "details": error.payload.get("description", ""),
            }
        done = {"create": "Created", "delete": "Deleted"}.get(form, "Updated")
        return {"index": index, "id": ticket_id, "action": action, "success": True, "status": done}
