"""Ticket state changes: rendering, creation, validated updates with audits and events."""

from __future__ import annotations

import copy
import time
from typing import Any

from sandbox.zendesk.common import (
    CHANGE_EVENT_TYPES,
    NOT_FOUND,
    PRIORITY_ORDER,
    STATUS_ORDER,
    TICKET_DEFAULTS,
    TICKET_TYPES,
    HttpError,
    _detail,
    _record_invalid,
    _update_conflict,
    _utcnow,
    iso_utc,
    normalize_tags,
)

CREATE_FIELDS = (
    "priority",
    "status",
    "type",
    "tags",
    "requester_id",
    "submitter_id",
    "assignee_id",
    "group_id",
    "organization_id",
    "external_id",
    "custom_fields",
    "due_at",
    "collaborator_ids",
)
"""What a create request may set besides the subject and the first comment."""


class TicketStoreMixin:
    """Tickets, comments and audits (part of ZendeskSimulator)."""

    @staticmethod
    def _render_ticket(ticket: dict[str, Any], base_url: str) -> dict[str, Any]:
        rendered = {
            "id": ticket["id"],
            "url": f"{base_url}/api/v2/tickets/{ticket['id']}.json",
            **copy.deepcopy(ticket),
        }
        rendered["fields"] = copy.deepcopy(ticket.get("custom_fields", []))
        return rendered

    @staticmethod
    def _comment_defaults(comment: dict[str, Any]) -> dict[str, Any]:
        body = comment.get("body", "")
        paragraphs = "".join(f"<p>{line}</p>" for line in body.split("\n\n"))
        return {
            "id": comment["id"],
            "type": "Comment",
            "author_id": comment.get("author_id"),
            "body": body,
            "html_body": comment.get("html_body") or f'<div class="zd-comment">{paragraphs}</div>',
            "plain_body": body,
            "public": comment.get("public", True),
            "attachments": [],
            "audit_id": comment.get("audit_id"),
            "via": comment.get("via", {"channel": "api"}),
            "created_at": comment["created_at"],
            "metadata": {"system": {}, "custom": {}},
        }

    def _emit(self, event_type: str, ticket_id: int, changes: list[str] | None = None) -> None:
        """Outgoing notifications: every create and update lands here and fires the webhooks
        that want it (`changes`: the event types of an update, e.g. ticket.tags_changed)."""
        self.events.append({"type": event_type, "ticket_id": ticket_id, "time": iso_utc(_utcnow())})
        if self.webhooks:
            ticket = {**copy.deepcopy(self.tickets[ticket_id]), "_changes": list(changes or [])}
            self._queue_webhooks(event_type, ticket)

    def _new_comment(
        self, body: str, *, public: bool, author_id: int | None, audit_id: int | None, via: str
    ) -> dict[str, Any]:
        return self._comment_defaults(
            {
                "id": next(self._comment_ids),
                "author_id": author_id,
                "body": body,
                "public": public,
                "audit_id": audit_id,
                "via": {"channel": via},
                "created_at": iso_utc(_utcnow()),
            }
        )

    def _create_ticket_locked(
        self, subject: str, body: str, fields: dict[str, Any], *, via: str
    ) -> dict[str, Any]:
        now = iso_utc(_utcnow())
        ticket_id = next(self._ticket_ids)
        requester_id = fields.pop("requester_id", None) or self._default_requester_id()
        tags = normalize_tags(fields.pop("tags", []))
        ticket = {
            "id": ticket_id,
            **copy.deepcopy(TICKET_DEFAULTS),
            "via": {"channel": via},
            "subject": subject,
            "raw_subject": subject,
            "description": body,
            "requester_id": requester_id,
            "submitter_id": requester_id,
            "tags": tags,
            "created_at": now,
            "updated_at": now,
            **fields,
        }
        self.tickets[ticket_id] = ticket
        audit_id = next(self._audit_ids)
        comment = self._new_comment(
            body, public=True, author_id=requester_id, audit_id=audit_id, via=via
        )
        self.comments[ticket_id] = [comment]
        self.audits[ticket_id] = [
            {
                "id": audit_id,
                "ticket_id": ticket_id,
                "created_at": now,
                "author_id": requester_id,
                "via": {"channel": via},
                "events": [{**comment, "type": "Comment"}],
            }
        ]
        self._indexed_at[ticket_id] = time.monotonic() + self.search_index_delay_s
        self._emit("ticket.created", ticket_id)
        return ticket

    def _create_ticket_from_api(self, data: Any) -> dict[str, Any]:
        """A ticket from a create request's `ticket` object: the first comment comes from
        `comment` (text or {body, public}) or, as zenpy sends it, from `description`."""
        if not isinstance(data, dict):
            raise HttpError(422, _record_invalid(_detail("ticket", "Ticket: is required")))
        comment = data.get("comment")
        text = comment.get("body") if isinstance(comment, dict) else comment
        if not (isinstance(text, str) and text.strip()):
            text = data.get("description")
        if not isinstance(text, str) or not text.strip():
            raise HttpError(
                422, _record_invalid(_detail("description", "Description: cannot be blank"))
            )
        details: dict[str, list[dict[str, str]]] = {}
        for name, allowed in (
            ("status", STATUS_ORDER),
            ("priority", (*PRIORITY_ORDER, None)),
            ("type", (*TICKET_TYPES, None)),
        ):
            if name in data and data[name] not in allowed:
                details.update(_detail(name, f"{name.capitalize()}: {data[name]!r} is not valid"))
        for name in ("requester_id", "assignee_id", "group_id", "organization_id"):
            if data.get(name) is not None and not isinstance(data[name], int):
                details.update(_detail(name, f"{name}: must be an integer"))
        if details:
            raise HttpError(422, _record_invalid(details))
        subject = data.get("subject") or text.strip().splitlines()[0][:80]
        fields = {name: data[name] for name in CREATE_FIELDS if data.get(name) is not None}
        if data.get("status") == "new" or "status" not in data:
            fields["status"] = "open" if data.get("assignee_id") else "new"
        ticket = self._create_ticket_locked(subject, text, fields, via="api")
        if isinstance(comment, dict) and comment.get("public") is False:
            self.comments[ticket["id"]][0]["public"] = False
        return ticket

    def _delete_ticket(self, ticket_id: int) -> None:
        """Soft delete as Zendesk does: gone from the API, `deleted` in incremental exports."""
        ticket = self.tickets.pop(ticket_id, None)
        if ticket is None:
            raise HttpError(404, NOT_FOUND)
        ticket["status"] = "deleted"
        ticket["updated_at"] = iso_utc(_utcnow())
        self.deleted_tickets[ticket_id] = ticket
        self._indexed_at.pop(ticket_id, None)

    def _default_requester_id(self) -> int:
        end_users = [uid for uid, user in self.users.items() if user.get("role") == "end-user"]
        return end_users[0] if end_users else 361000000001

    def _apply_update(
        self, ticket_id: int, changes: Any, *, allow_additional_tags: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Validate and apply one ticket update; returns (ticket, audit) or raises HttpError."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise HttpError(404, NOT_FOUND)
        if not isinstance(changes, dict):
            raise HttpError(422, _record_invalid(_detail("ticket", "Ticket: must be an object")))
        if changes.get("safe_update") and changes.get("updated_stamp") != ticket["updated_at"]:
            raise HttpError(409, _update_conflict())
        if ticket["status"] == "closed":
            raise HttpError(
                422,
                _record_invalid(
                    _detail("status", "Status: closed prevents ticket update", "ClosedTicket")
                ),
            )
        details: dict[str, list[dict[str, str]]] = {}
        updates: dict[str, Any] = {}
        for name, allowed in (
            ("status", STATUS_ORDER),
            ("priority", (*PRIORITY_ORDER, None)),
            ("type", (*TICKET_TYPES, None)),
        ):
            if name in changes:
                if changes[name] not in allowed:
                    label = name.capitalize()
                    details.update(_detail(name, f"{label}: {changes[name]!r} is not valid"))
                else:
                    updates[name] = changes[name]
        if "subject" in changes:
            if not isinstance(changes["subject"], str) or not changes["subject"].strip():
                details.update(_detail("subject", "Subject: cannot be blank", "BlankValue"))
            else:
                updates["subject"] = changes["subject"]
                updates["raw_subject"] = changes["subject"]
        for name in ("assignee_id", "group_id", "requester_id", "organization_id"):
            if name in changes:
                if changes[name] is not None and not isinstance(changes[name], int):
                    details.update(_detail(name, f"{name}: must be an integer"))
                else:
                    updates[name] = changes[name]
        new_tags = list(ticket["tags"])
        try:
            if "tags" in changes:
                new_tags = normalize_tags(changes["tags"])
            if allow_additional_tags:
                for tag in normalize_tags(changes.get("additional_tags", [])):
                    if tag not in new_tags:
                        new_tags.append(tag)
                removed = set(normalize_tags(changes.get("remove_tags", [])))
                new_tags = [tag for tag in new_tags if tag not in removed]
        except HttpError as error:
            details.update(error.payload["details"])
        if new_tags != ticket["tags"]:
            updates["tags"] = new_tags
        if "custom_fields" in changes:
            merged = self._merge_custom_fields(ticket, changes["custom_fields"], details)
            if merged is not None:
                updates["custom_fields"] = merged
        comment_body, comment_public = None, True
        if "comment" in changes:
            comment = changes["comment"]
            if isinstance(comment, str):
                comment = {"body": comment}
            if not isinstance(comment, dict):
                details.update(_detail("comment", "Comment: must be an object"))
            else:
                text = comment.get("body") or comment.get("html_body")
                if not isinstance(text, str) or not text.strip():
                    details.update(_detail("comment", "Comment: cannot be blank", "BlankValue"))
                else:
                    comment_body = text
                    comment_public = comment.get("public", True) is not False
        if details:
            raise HttpError(422, _record_invalid(details))

        now = iso_utc(_utcnow())
        audit_id = next(self._audit_ids)
        events: list[dict[str, Any]] = []
        for name, value in updates.items():
            if name == "raw_subject" or ticket.get(name) == value:
                continue
            events.append(
                {
                    "id": next(self._event_ids),
                    "type": "Change",
                    "field_name": name,
                    "value": copy.deepcopy(value),
                    "previous_value": copy.deepcopy(ticket.get(name)),
                }
            )
            ticket[name] = value
        if comment_body is not None:
            comment = self._new_comment(
                comment_body,
                public=comment_public,
                author_id=self.me["id"],
                audit_id=audit_id,
                via="api",
            )
            self.comments.setdefault(ticket_id, []).append(comment)
            events.insert(0, {**comment, "type": "Comment"})
            if comment_public:
                ticket["is_public"] = True
        if events:
            ticket["updated_at"] = now
        audit = {
            "id": audit_id,
            "ticket_id": ticket_id,
            "created_at": now,
            "author_id": self.me["id"],
            "via": {"channel": "api"},
            "metadata": {"system": {}, "custom": {}},
            "events": events,
        }
        self.audits.setdefault(ticket_id, []).append(audit)
        if events:
            changes = [
                CHANGE_EVENT_TYPES.get(
                    "comment" if event["type"] == "Comment" else event["field_name"],
                    f"ticket.{event.get('field_name', 'comment')}_changed",
                )
                for event in events
            ]
            self._emit("ticket.updated", ticket_id, changes)
        return ticket, audit

    @staticmethod
    def _merge_custom_fields(
        ticket: dict[str, Any], value: Any, details: dict[str, list[dict[str, str]]]
    ) -> list[dict[str, Any]] | None:
        if not isinstance(value, list) or not all(
            isinstance(item, dict) and isinstance(item.get("id"), int) for item in value
        ):
            details.update(_detail("custom_fields", "Custom fields: must be [{id, value}]"))
            return None
        merged = {item["id"]: item.get("value") for item in ticket.get("custom_fields", [])}
        for item in value:
            merged[item["id"]] = item.get("value")
        return [{"id": field_id, "value": field_value} for field_id, field_value in merged.items()]
