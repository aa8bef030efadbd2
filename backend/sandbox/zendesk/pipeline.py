"""The request pipeline: recording, faults, authentication, rate limits, dispatch."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.zendesk.common import (
    NOMINAL_RATE_LIMIT,
    NOT_AUTHENTICATED,
    WINDOW_S,
    HttpError,
    RecordedCall,
    _Context,
    _Fault,
    _fault_response,
    _too_many_requests,
)


class RequestPipelineMixin:
    """How every request is admitted and answered (part of ZendeskSimulator)."""

    async def dispatch(
        self, request: Request, name: str, handler: Callable[[_Context], Any]
    ) -> Response:
        raw_body = await request.body()
        body: Any = None
        body_error = False
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body_error = True
        query = dict(request.query_params)
        auth_header = request.headers.get("authorization", "")
        call = RecordedCall(
            method=request.method,
            path=request.url.path,
            query=query,
            json=body,
            time=time.time(),
            auth_scheme=auth_header.split(" ", 1)[0].lower() or None,
        )
        with self._lock:
            self.calls.append(call)
            generation = self._generation
            fault = self._pop_fault(request.url.path)
            request_id = f"sim-{next(self._request_seq):08d}"
        response = await self._process(
            request, name, handler, query, body, body_error, auth_header, fault, generation
        )
        with self._lock:
            response.headers.update(self._rate_headers())
        response.headers["X-Zendesk-Request-Id"] = request_id
        call.status = response.status_code
        return response

    async def _process(
        self,
        request: Request,
        name: str,
        handler: Callable[[_Context], Any],
        query: dict[str, str],
        body: Any,
        body_error: bool,
        auth_header: str,
        fault: _Fault | None,
        generation: int,
    ) -> Response:
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        if fault is not None:
            if fault.hang_s is not None:
                await asyncio.sleep(fault.hang_s)
            else:
                return _fault_response(fault)
        if not self._authenticated(auth_header):
            return JSONResponse(NOT_AUTHENTICATED, status_code=401)
        with self._lock:
            retry_after = self._admit(name)
            draw_5xx = self._rng.random() if self.fault_5xx_rate > 0 else 1.0
            draw_hang = self._rng.random() if self.timeout_rate > 0 else 1.0
        if retry_after is not None:
            return _too_many_requests(retry_after)
        if draw_5xx < self.fault_5xx_rate:
            return _fault_response(_Fault(503))
        if draw_hang < self.timeout_rate:
            await asyncio.sleep(self.hang_s)
        if body_error:
            return JSONResponse(
                {"error": "InvalidJSON", "description": "The request body is not valid JSON"},
                status_code=400,
            )
        root_path = request.scope.get("root_path", "")
        context = _Context(
            method=request.method,
            path_params=dict(request.path_params),
            query=query,
            body=body,
            # Where this app is mounted counts (the built-in sandbox: /sandbox/zendesk), so
            # the URLs it returns can be followed: base_url ends with the mount, path is
            # what follows it.
            base_url=f"{request.url.scheme}://{request.url.netloc}{root_path}".rstrip("/"),
            path=request.url.path.removeprefix(root_path),
        )
        with self._lock:
            if generation != self._generation:
                return _fault_response(_Fault(503))
            self._advance_jobs()
            try:
                result = handler(context)
            except HttpError as error:
                return JSONResponse(error.payload, error.status_code, headers=error.headers)
        if isinstance(result, Response):
            return result
        status_code, payload = result if isinstance(result, tuple) else (200, result)
        # ASCII-escaped, as Zendesk's JSON may carry text Python cannot encode (lone surrogates).
        body = json.dumps(payload, separators=(",", ":")).encode()
        return Response(body, status_code, media_type="application/json")

    def _authenticated(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and self.oauth_token:
            return hmac.compare_digest(value.strip().encode(), self.oauth_token.encode())
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, _, secret = decoded.partition(":")
            expected_user = f"{self.email}/token".lower()
            return hmac.compare_digest(user.lower().encode(), expected_user.encode()) and (
                hmac.compare_digest(secret.encode(), self.api_token.encode())
            )
        return False

    def _admit(self, name: str) -> float | None:
        """Count the request in the sliding minute; the Retry-After seconds when over."""
        now = time.monotonic()
        windows: list[tuple[deque[float], int | None]] = [
            (self._window, self.rate_limit_per_minute)
        ]
        if name in self.endpoint_limits:
            endpoint_window = self._endpoint_windows.setdefault(name, deque())
            windows.append((endpoint_window, self.endpoint_limits[name]))
        for window, limit in windows:
            while window and window[0] <= now - WINDOW_S:
                window.popleft()
            if limit is not None and len(window) >= limit:
                return max(1.0, math.ceil(window[0] + WINDOW_S - now))
        for window, _ in windows:
            window.append(now)
        return None

    def _rate_headers(self) -> dict[str, str]:
        now = time.monotonic()
        while self._window and self._window[0] <= now - WINDOW_S:
            self._window.popleft()
        limit = self.rate_limit_per_minute or NOMINAL_RATE_LIMIT
        remaining = max(0, limit - len(self._window))
        reset_s = math.ceil(self._window[0] + WINDOW_S - now) if self._window else 0
        return {
            "X-Rate-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(max(0, reset_s)),
        }
