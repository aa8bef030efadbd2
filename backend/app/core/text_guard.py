"""Refuse, at the edge, text that no column can store: NUL characters (PostgreSQL refuses
them in text) and lone surrogates (not encodable as UTF-8).

Checked once for every request, so no route, form or model has to remember: the path, the
query string and the body (a raw NUL byte anywhere; `%00` in a form; `\\u0000` or an
unpaired `\\ud800`-`\\udfff` escape in JSON, confirmed by parsing only when the bytes
contain such an escape). The answer is the usual 422 with the field's location.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.middleware import error_messages

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_PERCENT_NUL = re.compile(rb"%00|\x00")
_JSON_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF][0-9a-fA-F]{2})")
_FORM_TYPES = (b"application/x-www-form-urlencoded",)


def _problem(text: str) -> str:
    found = _UNSTORABLE.search(text)
    assert found is not None
    return "NUL characters" if found.group() == "\x00" else "unpaired surrogate characters"


def _find_in_json(value: Any, path: list[str]) -> tuple[list[str], str] | None:
    """The location and kind of the first unstorable string (key or value) in `value`."""
    if isinstance(value, str):
        return (path, _problem(value)) if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _UNSTORABLE.search(key):
                return [*path, json.dumps(key)[1:-1]], _problem(key)
            found = _find_in_json(item, [*path, key])
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_in_json(item, [*path, str(index)])
            if found:
                return found
    return None


def find_unstorable(scope: Scope, body: bytes) -> tuple[list[str], str] | None:
    """(location, what) of the first unstorable text in the request, or None."""
    if _UNSTORABLE.search(scope["path"]):
        return ["path"], _problem(scope["path"])
    if _PERCENT_NUL.search(scope.get("query_string", b"")):
        return ["query"], "NUL characters"
    if not body:
        return None
    if b"\x00" in body:
        return ["body"], "NUL characters"
    content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip()
    if content_type.lower() in _FORM_TYPES:
        return (["body"], "NUL characters") if _PERCENT_NUL.search(body) else None
    if not _JSON_SUSPECT.search(body):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None  # not JSON: the route's own parsing answers
    return _find_in_json(document, ["body"])


class UnstorableTextMiddleware:
    """422 for a request carrying NUL or lone surrogates anywhere; the body is read here
    (within the body size limit, which wraps this) and replayed to the app unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
        found = find_unstorable(scope, body)
        if found is not None:
            where, what = found
            location = ".".join(part for part in where if part not in ("body",)) or where[0]
            message_text = f"{location}: {what} are not allowed"
            start, end = error_messages(422, "validation_error", message_text)
            await send(start)
            await send(end)
            return
        replay = iter(messages)

        async def replayed() -> Message:
            for message in replay:
                return message
            return await receive()

        await self.app(scope, replayed, send)
