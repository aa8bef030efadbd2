"""The OpenAI simulator as an ASGI app, and its command line."""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.openai_sim.common import FAULT_KINDS, SIM_API_KEY, RecordedCall, SimResponse, _error
from sandbox.openai_sim.limits import rate_limited, rate_limited_tokens
from sandbox.openai_sim.simulator import DEFAULT_RPM, DEFAULT_TPM, OpenAISimulator
from sandbox.openai_sim.streaming import sse_events
from sandbox.serve import env_int


def _json_response(result: SimResponse, extra_headers: Mapping[str, str] | None = None) -> Response:
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}", **result.headers, **(extra_headers or {})}
    return JSONResponse(result.body, status_code=result.status, headers=headers)


def create_openai_app(sim: OpenAISimulator | None = None) -> FastAPI:
    """The ASGI app; `app.state.sim` is the simulator it serves."""
    sim = sim or OpenAISimulator()
    app = FastAPI(title="OpenAI simulator", docs_url="/docs", redoc_url=None)
    app.state.sim = sim

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return _json_response(_error(exc.status_code, str(exc.detail), code=None))

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        denied = sim.authorized(request.headers.get("authorization"))
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        call = sim.record("POST", request.url.path, body)
        if denied is not None:
            call.status = denied.status
            return _json_response(denied)
        key = str(request.headers.get("authorization", "")).partition(" ")[2].strip()
        if not isinstance(body, dict):
            result = _error(400, "We could not parse the JSON body of your request.")
            call.status = result.status
            return _json_response(result, sim.limit_headers(key))

        fault = sim.take_fault()
        call.fault = fault
        if sim.latency_s > 0:
            await asyncio.sleep(sim.latency_s)
        if fault == "timeout":
            await sim.hang(request)
        model_id = str(body.get("model") or "")
        if fault is not None:
            failure = sim.status_fault(fault, model_id)
            if failure is not None:
                call.status, call.response = failure.status, failure.body
                return _json_response(failure, sim.limit_headers(key))

        result = sim.complete(body, fault)
        limit_headers = sim.limit_headers(key)
        if result.status == 200:
            admission = sim.count_request(rate_limited_tokens(body, result.body), key)
            limit_headers = admission.headers
            if admission.wait_s is not None:
                result = rate_limited(
                    model_id,
                    admission,
                    rpm=sim.rate_limit_requests,
                    tpm=sim.rate_limit_tokens,
                )
        call.status, call.response = result.status, copy.deepcopy(result.body)
        processing = {"openai-processing-ms": str(round(sim.latency_s * 1000) + 1)}
        if result.status == 200 and body.get("stream") is True:
            options = body.get("stream_options") or {}
            events = sse_events(result.body, include_usage=bool(options.get("include_usage")))
            headers = {"x-request-id": f"req_{uuid.uuid4().hex}", **limit_headers, **processing}
            return StreamingResponse(events, media_type="text/event-stream", headers=headers)
        return _json_response(result, {**limit_headers, **processing})

    def _authorized_call(request: Request, body: Any) -> tuple[RecordedCall, SimResponse | None]:
        denied = sim.authorized(request.headers.get("authorization"))
        call = sim.record(request.method, request.url.path, body)
        if denied is not None:
            call.status = denied.status
        return call, denied

    def _answer(call: RecordedCall, result: SimResponse) -> Response:
        call.status, call.response = result.status, copy.deepcopy(result.body)
        return _json_response(result)

    @app.post("/v1/files")
    async def upload_file(request: Request) -> Response:
        form = await request.form()
        upload = form.get("file")
        purpose = str(form.get("purpose") or "")
        call, denied = _authorized_call(request, {"purpose": purpose})
        if denied is not None:
            return _json_response(denied)
        if upload is None or isinstance(upload, str):
            return _answer(call, _error(400, "file is required (multipart form)", param="file"))
        data = await upload.read()
        call.body = {"purpose": purpose, "filename": upload.filename, "bytes": len(data)}
        return _answer(call, sim.upload_file(data, upload.filename or "upload", purpose))

    @app.get("/v1/files/{file_id}")
    async def retrieve_file(file_id: str, request: Request) -> Response:
        call, denied = _authorized_call(request, None)
        if denied is not None:
            return _json_response(denied)
        stored = sim.file(file_id)
        if stored is None:
            return _answer(call, _error(404, f"No such File object: {file_id}", param="id"))
        return _answer(call, SimResponse(200, stored.as_json()))

    @app.get("/v1/files/{file_id}/content")
    async def file_content(file_id: str, request: Request) -> Response:
        call, denied = _authorized_call(request, None)
        if denied is not None:
            return _json_response(denied)
        stored = sim.file(file_id)
        if stored is None:
            return _answer(call, _error(404, f"No such File object: {file_id}", param="id"))
        call.status = 200
        return Response(
            stored.data,
            media_type="application/octet-stream",
            headers={"x-request-id": f"req_{uuid.uuid4().hex}"},
        )

    @app.post("/v1/batches")
    async def create_batch(request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        call, denied = _authorized_call(request, body)
        if denied is not None:
            return _json_response(denied)
        if not isinstance(body, dict):
            return _answer(call, _error(400, "We could not parse the JSON body of your request."))
        return _answer(call, sim.create_batch(body))

    @app.get("/v1/batches/{batch_id}")
    async def retrieve_batch(batch_id: str, request: Request) -> Response:
        call, denied = _authorized_call(request, None)
        if denied is not None:
            return _json_response(denied)
        return _answer(call, sim.retrieve_batch(batch_id))

    @app.post("/v1/batches/{batch_id}/cancel")
    async def cancel_batch(batch_id: str, request: Request) -> Response:
        call, denied = _authorized_call(request, None)
        if denied is not None:
            return _json_response(denied)
        return _answer(call, sim.cancel_batch(batch_id))

    @app.get("/v1/models")
    async def list_models(request: Request) -> Response:
        denied = sim.authorized(request.headers.get("authorization"))
        sim.record("GET", request.url.path, None).status = denied.status if denied else 200
        if denied is not None:
            return _json_response(denied)
        data = [model.as_json() for model in sim.models.values()]
        return _json_response(SimResponse(200, {"object": "list", "data": data}))

    @app.get("/v1/models/{model_id:path}")
    async def retrieve_model(model_id: str, request: Request) -> Response:
        denied = sim.authorized(request.headers.get("authorization"))
        call = sim.record("GET", request.url.path, None)
        if denied is not None:
            call.status = denied.status
            return _json_response(denied)
        model = sim.models.get(model_id)
        if model is None:
            result = _error(
                404,
                f"The model '{model_id}' does not exist",
                param="model",
                code="model_not_found",
            )
        else:
            result = SimResponse(200, model.as_json())
        call.status = result.status
        return _json_response(result)

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="OpenAI-compatible simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each call")
    parser.add_argument(
        "--key", action="append", help=f"accepted API key (repeatable; default {SIM_API_KEY})"
    )
    parser.add_argument("--any-key", action="store_true", help="accept any bearer key")
    parser.add_argument(
        "--fault-rate",
        action="append",
        default=[],
        metavar="KIND=RATE",
        help=f"random fault rate, e.g. 429=0.05 (kinds: {', '.join(FAULT_KINDS)})",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rpm",
        type=int,
        default=env_int("OPENAI_SIM_RPM", DEFAULT_RPM),
        help=f"requests per minute per key (env OPENAI_SIM_RPM; default {DEFAULT_RPM})",
    )
    parser.add_argument(
        "--tpm",
        type=int,
        default=env_int("OPENAI_SIM_TPM", DEFAULT_TPM),
        help=f"tokens per minute per key (env OPENAI_SIM_TPM; default {DEFAULT_TPM})",
    )
    parser.add_argument(
        "--batch-delay", type=float, default=0.0, help="seconds before a batch completes"
    )
    args = parser.parse_args(argv)

    rates: dict[str, float] = {}
    for item in args.fault_rate:
        kind, _, rate = item.partition("=")
        rates[kind] = float(rate)
    sim = OpenAISimulator(
        valid_keys=None if args.any_key else (args.key or [SIM_API_KEY]),
        latency_s=args.latency,
        fault_rates=rates,
        seed=args.seed,
        rate_limit_requests=args.rpm,
        rate_limit_tokens=args.tpm,
        batch_delay_s=args.batch_delay,
    )
    uvicorn.run(create_openai_app(sim), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
