"""Users and organizations: what `ticket.requester` and `ticket.organization` resolve to."""

from __future__ import annotations

import copy
import re
from typing import Any

from starlette.responses import Response

from sandbox.zendesk.common import (
    NOT_FOUND,
    HttpError,
    _Context,
    _detail,
    _record_invalid,
    _utcnow,
    iso_utc,
)
from sandbox.zendesk.handling import (
    HandlerBase,
    _cursor_page,
    _offset_page,
    _parse_ids,
    _wants_cursor,
)

SEED_CREATED_AT = "2026-01-05T09:00:00Z"


ORGANIZATION_FIELDS = ("name", "details", "notes", "external_id", "group_id", "shared_tickets")


def render_user(user: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A stored user as the Users API shows it."""
    return {
        "id": user["id"],
        "url": f"{base_url}/api/v2/users/{user['id']}.json",
        "name": user.get("name", ""),
        "email": user.get("email"),
        "role": user.get("role", "end-user"),
        "active": user.get("active", True),
        "verified": True,
        "suspended": False,
        "organization_id": user.get("organization_id"),
        "time_zone": user.get("time_zone", "UTC"),
        "locale": user.get("locale", "en-US"),
        "tags": list(user.get("tags", [])),
        "external_id": user.get("external_id"),
        "created_at": user.get("created_at", SEED_CREATED_AT),
        "updated_at": user.get("updated_at", SEED_CREATED_AT),
    }


def render_organization(organization: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {
        "id": organization["id"],
        "url": f"{base_url}/api/v2/organizations/{organization['id']}.json",
        "name": organization["name"],
        "domain_names": list(organization.get("domain_names", [])),
        "details": organization.get("details"),
        "notes": organization.get("notes"),
        "external_id": organization.get("external_id"),
        "group_id": organization.get("group_id"),
        "shared_tickets": organization.get("shared_tickets", False),
        "shared_comments": organization.get("shared_comments", False),
        "tags": list(organization.get("tags", [])),
        "organization_fields": dict(organization.get("organization_fields", {})),
        "created_at": organization.get("created_at", SEED_CREATED_AT),
        "updated_at": organization.get("updated_at", SEED_CREATED_AT),
    }


def _listing(
    context: _Context, name: str, items: list[dict[str, Any]], render: Any
) -> dict[str, Any]:
    """Offset or cursor pagination over records sorted by id, as the list endpoints do."""
    if _wants_cursor(context.query):
        page, meta, links = _cursor_page(context, items, lambda item: (item["id"],))
        return {
            name: [render(item, context.base_url) for item in page],
            "meta": meta,
            "links": links,
        }
    page, paging = _offset_page(context, items)
    return {name: [render(item, context.base_url) for item in page], **paging}


class PeopleHandlers(HandlerBase):
    """Users (read, create) and organizations (create, read, update, delete)."""

    def show_user(self, context: _Context) -> Any:
        user_id = context.path_params["user_id"]
        user = self.sim.users.get(user_id)
        if user is None:
            raise HttpError(404, NOT_FOUND)
        if user_id == self.sim.me["id"]:
            return {"user": {**render_user(user, context.base_url), **self._me(context)}}
        return {"user": render_user(user, context.base_url)}

    def _me(self, context: _Context) -> dict[str, Any]:
        me = self.sim.me
        me["url"] = f"{context.base_url}/api/v2/users/{me['id']}.json"
        return me

    def list_users(self, context: _Context) -> Any:
        users = [self.sim.users[user_id] for user_id in sorted(self.sim.users)]
        role = context.query.get("role")
        if role:
            users = [user for user in users if user.get("role", "end-user") == role]
        return _listing(context, "users", users, render_user)

    def show_many_users(self, context: _Context) -> Any:
        ids = _parse_ids(context.query)
        users = [
            render_user(self.sim.users[user_id], context.base_url)
            for user_id in dict.fromkeys(ids)
            if user_id in self.sim.users
        ]
        return {"users": users, "next_page": None, "previous_page": None, "count": len(users)}

    def create_user(self, context: _Context) -> Any:
        data = context.body.get("user") if isinstance(context.body, dict) else None
        if not isinstance(data, dict) or not str(data.get("name") or "").strip():
            raise HttpError(422, _record_invalid(_detail("name", "Name: cannot be blank")))
        email = data.get("email")
        if email is not None:
            taken = [u for u in self.sim.users.values() if u.get("email") == email]
            if taken:
                return {"user": render_user(taken[0], context.base_url)}
        now = iso_utc(_utcnow())
        user_id = max(self.sim.users, default=361000000000) + 1
        user = {
            "id": user_id,
            "name": data["name"].strip(),
            "email": email,
            "role": data.get("role", "end-user"),
            "organization_id": data.get("organization_id"),
            "created_at": now,
            "updated_at": now,
        }
        self.sim.users[user_id] = user
        return 201, {"user": render_user(user, context.base_url)}

    def _organization_or_404(self, organization_id: int) -> dict[str, Any]:
        organization = self.sim.organizations.get(organization_id)
        if organization is None:
            raise HttpError(404, NOT_FOUND)
        return organization

    def list_organizations(self, context: _Context) -> Any:
        organizations = [self.sim.organizations[i] for i in sorted(self.sim.organizations)]
        return _listing(context, "organizations", organizations, render_organization)

    def show_many_organizations(self, context: _Context) -> Any:
        ids = _parse_ids(context.query)
        found = [
            render_organization(self.sim.organizations[i], context.base_url)
            for i in dict.fromkeys(ids)
            if i in self.sim.organizations
        ]
        return {"organizations": found, "next_page": None, "previous_page": None}

    def create_organization(self, context: _Context) -> Any:
        data = context.body.get("organization") if isinstance(context.body, dict) else None
        name = data.get("name") if isinstance(data, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise HttpError(422, _record_invalid(_detail("name", "Name: cannot be blank")))
        if any(o["name"].lower() == name.strip().lower() for o in self.sim.organizations.values()):
            raise HttpError(
                422,
                _record_invalid(_detail("name", "Name: has already been taken", "DuplicateValue")),
            )
        now = iso_utc(_utcnow())
        organization = {
            "id": next(self.sim._organization_ids),
            **{key: copy.deepcopy(data[key]) for key in ORGANIZATION_FIELDS if key in data},
            "name": name.strip(),
            "domain_names": [str(d) for d in data.get("domain_names") or []],
            "tags": [str(t) for t in data.get("tags") or []],
            "created_at": now,
            "updated_at": now,
        }
        self.sim.organizations[organization["id"]] = organization
        return 201, {"organization": render_organization(organization, context.base_url)}

    def organization(self, context: _Context) -> Any:
        organization_id = context.path_params["organization_id"]
        organization = self._organization_or_404(organization_id)
        if context.method == "DELETE":
            del self.sim.organizations[organization_id]
            for ticket in self.sim.tickets.values():
                if ticket.get("organization_id") == organization_id:
                    ticket["organization_id"] = None
            return Response(status_code=204)
        if context.method == "PUT":
            data = context.body.get("organization") if isinstance(context.body, dict) else None
            if not isinstance(data, dict):
                raise HttpError(
                    400,
                    {"error": "InvalidValue", "description": 'Expected {"organization": {...}}'},
                )
            for key in (*ORGANIZATION_FIELDS, "domain_names", "tags"):
                if key in data:
                    organization[key] = copy.deepcopy(data[key])
            organization["updated_at"] = iso_utc(_utcnow())
        return {"organization": render_organization(organization, context.base_url)}


_PEOPLE_FILTERS = {
    "user": {"email": "email", "name": "name", "role": "role", "organization": "organization_id"},
    "organization": {"name": "name"},
}


def search_people(records: list[dict[str, Any]], query: str, kind: str) -> list[dict[str, Any]]:
    """`type:user` / `type:organization` searches: `field:value` filters (email, name,
    role, organization; name) and free words found in the name, email or domains."""
    filters = _PEOPLE_FILTERS[kind]
    checks = []
    for key, value, phrase, word in re.findall(r'(\w+):("[^"]*"|\S+)|"([^"]*)"|(\S+)', query):
        key = key.lower()
        if key == "type":
            continue
        if key in filters or key == "id":
            attribute, expected = filters.get(key, "id"), value.strip('"').lower()
            checks.append(lambda r, a=attribute, e=expected: str(r.get(a) or "").lower() == e)
        elif key:
            continue  # an unknown filter narrows nothing here (Zendesk ignores it too)
        else:
            text = (phrase or word).lower()
            checks.append(lambda r, t=text: t in _people_text(r))
    return [record for record in records if all(check(record) for check in checks)]


def _people_text(record: dict[str, Any]) -> str:
    parts = [record.get("name") or "", record.get("email") or ""]
    parts += list(record.get("domain_names") or []) + list(record.get("tags") or [])
    return " ".join(parts).lower()
