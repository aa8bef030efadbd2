"""The Batch API: files, batches and their progress, independent of HTTP."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from sandbox.openai_sim.common import (
    BATCH_ENDPOINTS,
    BATCH_WINDOW_S,
    MAX_BATCH_REQUESTS,
    SimFile,
    SimResponse,
    _error,
)


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


class BatchesMixin:
    """Files and batches (part of OpenAISimulator)."""

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
