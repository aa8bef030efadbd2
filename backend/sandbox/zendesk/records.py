"""Ticket audits and ticket metrics, derived from the stored tickets and their comments."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.zendesk.common import NOT_FOUND, HttpError, _Context, parse_iso
from sandbox.zendesk.handling import HandlerBase, _cursor_page, _offset_page, _wants_cursor

SEED_AUDIT_ID_BASE = 49_000_000_000
METRIC_ID_BASE = 48_000_000_000


def _minutes(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    return max(0, round((parse_iso(end) - parse_iso(start)).total_seconds() / 60))


class RecordHandlers(HandlerBase):
    """Audits (per ticket and account-wide) and metrics (per ticket and listed)."""

    def _audits_of(self, ticket_id: int) -> list[dict[str, Any]]:
        """A ticket's audits; a seed ticket gets its creation audit, as every real one has."""
        ticket = self._ticket_or_404(ticket_id)
        audits = self.sim.audits.get(ticket_id)
        if audits is None:
            thread = self.sim.comments.get(ticket_id, [])
            events: list[dict[str, Any]] = [{**copy.deepcopy(thread[0]), "type": "Comment"}]
            events += [
                {"id": ticket_id * 10 + index, "type": "Create", "field_name": name, "value": value}
                for index, (name, value) in enumerate(
                    (name, ticket.get(name)) for name in ("subject", "status", "priority", "tags")
                )
            ]
            audits = [
                {
                    "id": SEED_AUDIT_ID_BASE + ticket_id,
                    "ticket_id": ticket_id,
                    "created_at": ticket["created_at"],
                    "author_id": ticket.get("requester_id"),
                    "via": copy.deepcopy(ticket.get("via") or {"channel": "web"}),
                    "metadata": {"system": {}, "custom": {}},
                    "events": events if thread else events[1:],
                }
            ]
            self.sim.audits[ticket_id] = audits
        return audits

    def ticket_audits(self, context: _Context) -> Any:
        audits = copy.deepcopy(self._audits_of(context.path_params["ticket_id"]))
        if _wants_cursor(context.query):
            page, meta, links = _cursor_page(context, audits, lambda audit: (audit["id"],))
            return {"audits": page, "meta": meta, "links": links}
        page, paging = _offset_page(context, audits)
        return {"audits": page, **paging}

    def all_audits(self, context: _Context) -> Any:
        """`/ticket_audits.json`: every audit of the account, newest first, cursor pages."""
        audits = [audit for ticket_id in self.sim.tickets for audit in self._audits_of(ticket_id)]
        audits.sort(key=lambda audit: (audit["created_at"], audit["id"]), reverse=True)
        page, meta, links = _cursor_page(
            context,
            copy.deepcopy(audits),
            lambda audit: (-parse_iso(audit["created_at"]).timestamp(), -audit["id"]),
        )
        return {"audits": page, "meta": meta, "links": links}

    def _metric(self, ticket: dict[str, Any], base_url: str) -> dict[str, Any]:
        thread = self.sim.comments.get(ticket["id"], [])
        requester_id = ticket.get("requester_id")
        replies = [c for c in thread if c.get("public") and c.get("author_id") != requester_id]
        first_reply = replies[0]["created_at"] if replies else None
        solved = ticket["updated_at"] if ticket["status"] in {"solved", "closed"} else None
        reply_minutes = _minutes(ticket["created_at"], first_reply)
        resolution_minutes = _minutes(ticket["created_at"], solved)
        metric_id = METRIC_ID_BASE + ticket["id"]
        return {
            "id": metric_id,
            "url": f"{base_url}/api/v2/ticket_metrics/{metric_id}.json",
            "ticket_id": ticket["id"],
            "created_at": ticket["created_at"],
            "updated_at": ticket["updated_at"],
            "group_stations": 1 if ticket.get("group_id") else 0,
            "assignee_stations": 1 if ticket.get("assignee_id") else 0,
            "reopens": 0,
            "replies": len(replies),
            "assignee_updated_at": None,
            "requester_updated_at": thread[-1]["created_at"] if thread else None,
            "status_updated_at": ticket["updated_at"],
            "initially_assigned_at": ticket["created_at"] if ticket.get("assignee_id") else None,
            "assigned_at": ticket["created_at"] if ticket.get("assignee_id") else None,
            "solved_at": solved,
            "latest_comment_added_at": thread[-1]["created_at"] if thread else None,
            "reply_time_in_minutes": {"calendar": reply_minutes, "business": reply_minutes},
            "first_resolution_time_in_minutes": {
                "calendar": resolution_minutes,
                "business": resolution_minutes,
            },
            "full_resolution_time_in_minutes": {
                "calendar": resolution_minutes,
                "business": resolution_minutes,
            },
            "agent_wait_time_in_minutes": {"calendar": None, "business": None},
            "requester_wait_time_in_minutes": {"calendar": None, "business": None},
            "on_hold_time_in_minutes": {"calendar": 0, "business": 0},
        }

    def ticket_metric(self, context: _Context) -> Any:
        ticket = self._ticket_or_404(context.path_params["ticket_id"])
        return {"ticket_metric": self._metric(ticket, context.base_url)}

    def show_metric(self, context: _Context) -> Any:
        ticket = self.sim.tickets.get(context.path_params["metric_id"] - METRIC_ID_BASE)
        if ticket is None:
            raise HttpError(404, NOT_FOUND)
        return {"ticket_metric": self._metric(ticket, context.base_url)}

    def list_metrics(self, context: _Context) -> Any:
        tickets = [self.sim.tickets[ticket_id] for ticket_id in sorted(self.sim.tickets)]
        if _wants_cursor(context.query):
            page, meta, links = _cursor_page(context, tickets, lambda t: (t["id"],))
            metrics = [self._metric(t, context.base_url) for t in page]
            return {"ticket_metrics": metrics, "meta": meta, "links": links}
        page, paging = _offset_page(context, tickets)
        return {"ticket_metrics": [self._metric(t, context.base_url) for t in page], **paging}
