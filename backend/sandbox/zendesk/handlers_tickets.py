"""Ticket, user, tag and bulk-update endpoints."""

from __future__ import annotations

import copy
from typing import Any

from starlette.responses import Response

from sandbox.zendesk.common import (
    MAX_IDS,
    NOT_FOUND,
    HttpError,
    _Context,
    _detail,
    _record_invalid,
    normalize_tags,
)
from sandbox.zendesk.handling import (
    HandlerBase,
    _cursor_page,
    _offset_page,
    _parse_ids,
    _wants_cursor,
)


class TicketHandlers(HandlerBase):
    """Tickets, comments, tags, update_many and job statuses."""

    def users_me(self, context: _Context) -> Any:
        user = self.sim.me
        user["url"] = f"{context.base_url}/api/v2/users/{user['id']}.json"
        return {"user": user}

    def show_ticket(self, context: _Context) -> Any:
        ticket = self._ticket_or_404(context.path_params["ticket_id"])
        return {"ticket": self.sim._render_ticket(ticket, context.base_url)}

    def show_many(self, context: _Context) -> Any:
        ids = _parse_ids(context.query)
        tickets = [
            self.sim._render_ticket(self.sim.tickets[ticket_id], context.base_url)
            for ticket_id in dict.fromkeys(ids)
            if ticket_id in self.sim.tickets
        ]
        return {"tickets": tickets, "next_page": None, "previous_page": None, "count": len(tickets)}

    def list_tickets(self, context: _Context) -> Any:
        tickets = [self.sim.tickets[ticket_id] for ticket_id in sorted(self.sim.tickets)]
        if _wants_cursor(context.query):
            page, meta, links = _cursor_page(context, tickets, lambda t: (t["id"],))
            rendered = [self.sim._render_ticket(t, context.base_url) for t in page]
            return {"tickets": rendered, "meta": meta, "links": links}
        page, paging = _offset_page(context, tickets)
        return {"tickets": [self.sim._render_ticket(t, context.base_url) for t in page], **paging}

    def create_ticket(self, context: _Context) -> Any:
        body = context.body if isinstance(context.body, dict) else {}
        ticket = self.sim._create_ticket_from_api(body.get("ticket"))
        audit = self.sim.audits[ticket["id"]][-1]
        return 201, {
            "ticket": self.sim._render_ticket(ticket, context.base_url),
            "audit": copy.deepcopy(audit),
        }

    def create_many(self, context: _Context) -> Any:
        body = context.body if isinstance(context.body, dict) else {}
        items = body.get("tickets")
        if not isinstance(items, list) or not items:
            raise HttpError(
                400, {"error": "InvalidValue", "description": 'Expected {"tickets": [...]}'}
            )
        if len(items) > MAX_IDS:
            raise HttpError(
                400,
                {"error": "TooManyValues", "description": f"Too many tickets: max is {MAX_IDS}"},
            )
        operations = [(0, copy.deepcopy(item), "create") for item in items]
        job = self.sim._create_job(operations, job_type="bulk_create")
        return {"job_status": self.sim._job_payload(job, context.base_url)}

    def delete_ticket(self, context: _Context) -> Any:
        self.sim._delete_ticket(context.path_params["ticket_id"])
        return Response(status_code=204)

    def destroy_many(self, context: _Context) -> Any:
        ids = _parse_ids(context.query)
        job = self.sim._create_job([(i, {}, "delete") for i in ids], job_type="bulk_delete")
        return {"job_status": self.sim._job_payload(job, context.base_url)}

    def update_ticket(self, context: _Context) -> Any:
        ticket_id = context.path_params["ticket_id"]
        self._ticket_or_404(ticket_id)
        body = context.body
        if not isinstance(body, dict) or not isinstance(body.get("ticket"), dict):
            raise HttpError(
                400,
                {"error": "InvalidEndpoint", "description": 'Expected a body {"ticket": {...}}'},
            )
        ticket, audit = self.sim._apply_update(
            ticket_id,
            body["ticket"],
            allow_additional_tags=self.sim.accept_undocumented_additional_tags,
        )
        return {
            "ticket": self.sim._render_ticket(ticket, context.base_url),
            "audit": copy.deepcopy(audit),
        }

    def comments(self, context: _Context) -> Any:
        ticket_id = context.path_params["ticket_id"]
        self._ticket_or_404(ticket_id)
        thread = self.sim.comments.get(ticket_id, [])
        if context.query.get("sort_order") == "desc":
            thread = list(reversed(thread))
        if _wants_cursor(context.query):
            position = {comment["id"]: index for index, comment in enumerate(thread)}
            page, meta, links = _cursor_page(context, thread, lambda c: (position[c["id"]],))
            return {"comments": copy.deepcopy(page), "meta": meta, "links": links}
        page, paging = _offset_page(context, thread)
        return {"comments": copy.deepcopy(page), **paging}

    def tags(self, context: _Context) -> Any:
        ticket_id = context.path_params["ticket_id"]
        ticket = self._ticket_or_404(ticket_id)
        if context.method == "GET":
            return {"tags": list(ticket["tags"])}
        body = context.body if isinstance(context.body, dict) else {}
        if "tags" not in body:
            raise HttpError(422, _record_invalid(_detail("tags", "Tags: is required")))
        requested = normalize_tags(body["tags"])
        if context.method == "POST":  # Set Tags
            new_tags = requested
        elif context.method == "PUT":  # Add Tags
            new_tags = list(ticket["tags"]) + [t for t in requested if t not in ticket["tags"]]
        else:  # DELETE: Remove Tags
            new_tags = [tag for tag in ticket["tags"] if tag not in requested]
        changes: dict[str, Any] = {"tags": new_tags}
        if body.get("safe_update"):
            changes.update(safe_update=True, updated_stamp=body.get("updated_stamp"))
        ticket, _audit = self.sim._apply_update(ticket_id, changes, allow_additional_tags=False)
        return {"tags": list(ticket["tags"])}

    def update_many(self, context: _Context) -> Any:
        body = context.body if isinstance(context.body, dict) else {}
        operations: list[tuple[int, dict[str, Any], str]] = []
        if "ids" in context.query:
            ids = _parse_ids(context.query)
            changes = body.get("ticket")
            if not isinstance(changes, dict):
                raise HttpError(
                    400,
                    {"error": "InvalidValue", "description": 'Expected a body {"ticket": {...}}'},
                )
            operations = [(ticket_id, copy.deepcopy(changes), "bulk") for ticket_id in ids]
        elif isinstance(body.get("tickets"), list):
            items = body["tickets"]
            if len(items) > MAX_IDS:
                raise HttpError(
                    400,
                    {
                        "error": "TooManyValues",
                        "description": f"Too many tickets: the maximum is {MAX_IDS}",
                    },
                )
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                    raise HttpError(
                        422, _record_invalid(_detail("tickets", "Each ticket needs an id"))
                    )
                changes = {name: value for name, value in item.items() if name != "id"}
                operations.append((item["id"], copy.deepcopy(changes), "batch"))
        else:
            raise HttpError(
                400,
                {
                    "error": "InvalidValue",
                    "description": 'Expected ?ids= with {"ticket": {...}} or {"tickets": [...]}',
                },
            )
        job = self.sim._create_job(operations)
        return {"job_status": self.sim._job_payload(job, context.base_url)}

    def job_status(self, context: _Context) -> Any:
        job = self.sim.jobs.get(context.path_params["job_id"])
        if job is None:
            raise HttpError(404, NOT_FOUND)
        return {"job_status": self.sim._job_payload(job, context.base_url)}
