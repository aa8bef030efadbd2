"""The Zendesk simulator through zenpy, the common Python client: what a script sees.

Each test is something that works against a real Zendesk account with zenpy, so scripts
written against the real service also run against the simulator.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from zenpy import Zenpy
from zenpy.lib.api_objects import Organization, Ticket, User
from zenpy.lib.exception import RecordNotFoundException

from sandbox.zendesk import ZendeskSimulator, iso_utc


def wait_for_job(zenpy_client: Zenpy, job_id: str) -> object:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = zenpy_client.job_status(id=job_id)
        if status.status == "completed":
            return status
        time.sleep(0.02)
    raise AssertionError("job did not complete")


def test_search_honours_sort_by_and_sort_order(zenpy_client: Zenpy) -> None:
    ascending = list(
        zenpy_client.search(type="ticket", status="open", sort_by="created_at", sort_order="asc")
    )
    descending = list(
        zenpy_client.search(type="ticket", status="open", sort_by="created_at", sort_order="desc")
    )
    created = [ticket.created_at for ticket in ascending]
    assert len(created) > 10
    assert created == sorted(created)
    assert [t.id for t in descending] == [t.id for t in reversed(ascending)]
    assert all(ticket.status == "open" for ticket in ascending)


def test_search_sorts_by_priority(zenpy_client: Zenpy) -> None:
    results = list(zenpy_client.search(type="ticket", sort_by="priority", sort_order="desc"))
    order = {"urgent": 3, "high": 2, "normal": 1, "low": 0, None: -1}
    ranks = [order[ticket.priority] for ticket in results]
    assert ranks == sorted(ranks, reverse=True)


def test_search_export_iterates_every_match_through_cursor_pages(zenpy_client: Zenpy) -> None:
    exported = list(zenpy_client.search_export(type="ticket", status="open", cursor_pagination=50))
    searched = list(zenpy_client.search(type="ticket", status="open"))
    assert len(exported) > 50  # more than one page
    assert sorted(t.id for t in exported) == sorted(t.id for t in searched)
    assert all(isinstance(ticket, Ticket) for ticket in exported)


def test_time_based_incremental_export_returns_changed_tickets(
    zenpy_client: Zenpy, zendesk_sim: ZendeskSimulator
) -> None:
    start = datetime.now(UTC) - timedelta(days=3650)
    exported = list(zenpy_client.tickets.incremental(start_time=start, paginate_by_time=True))
    assert sorted(t.id for t in exported) == sorted(zendesk_sim.tickets)
    stamps = [t.updated_at for t in exported]
    assert stamps == sorted(stamps)


def test_cursor_incremental_export_returns_changed_tickets(
    zenpy_client: Zenpy, zendesk_sim: ZendeskSimulator
) -> None:
    created = zendesk_sim.create_ticket("Fresh one", "The export must include me.")
    start = datetime.now(UTC) - timedelta(days=3650)
    exported = list(zenpy_client.tickets.incremental(start_time=start, per_page=100))
    ids = [t.id for t in exported]
    assert created["id"] in ids
    assert sorted(ids) == sorted(zendesk_sim.tickets)


def test_ticket_requester_and_users_resolve(zenpy_client: Zenpy) -> None:
    ticket = zenpy_client.tickets(id=1)
    requester = ticket.requester
    assert isinstance(requester, User)
    assert requester.id == ticket.requester_id
    assert requester.email and requester.name
    assert ticket.assignee.role in {"agent", "admin"}
    assert zenpy_client.users.me().email == "agent@example.com"
    with pytest.raises(RecordNotFoundException):
        zenpy_client.users(id=999)


def test_users_list_and_show_many(zenpy_client: Zenpy) -> None:
    users = list(zenpy_client.users())
    assert len(users) > 100
    some = list(zenpy_client.users(ids=[users[0].id, users[1].id]))
    assert {user.id for user in some} == {users[0].id, users[1].id}


def test_create_a_ticket_with_a_description(
    zenpy_client: Zenpy, zendesk_sim: ZendeskSimulator
) -> None:
    audit = zenpy_client.tickets.create(
        Ticket(subject="Printer on fire", description="Smoke everywhere.", priority="urgent")
    )
    ticket = zenpy_client.tickets(id=audit.ticket.id)
    assert ticket.subject == "Printer on fire"
    assert ticket.description == "Smoke everywhere."
    assert ticket.priority == "urgent"
    comments = list(zenpy_client.tickets.comments(ticket=ticket.id))
    assert [comment.body for comment in comments] == ["Smoke everywhere."]


def test_create_many_runs_as_a_job(zenpy_client: Zenpy, zendesk_sim: ZendeskSimulator) -> None:
    before = len(zendesk_sim.tickets)
    job = zenpy_client.tickets.create(
        [
            Ticket(subject="First", description="one"),
            Ticket(subject="Second", comment={"body": "two"}),
        ]
    )
    status = wait_for_job(zenpy_client, job.id)
    assert len(zendesk_sim.tickets) == before + 2
    created_ids = [result.id for result in status.results]
    assert [zenpy_client.tickets(id=i).subject for i in created_ids] == ["First", "Second"]


def test_delete_one_and_many(zenpy_client: Zenpy, zendesk_sim: ZendeskSimulator) -> None:
    zenpy_client.tickets.delete(zenpy_client.tickets(id=1))
    with pytest.raises(RecordNotFoundException):
        zenpy_client.tickets(id=1)

    job = zenpy_client.tickets.delete([zenpy_client.tickets(id=2), zenpy_client.tickets(id=3)])
    wait_for_job(zenpy_client, job.id)
    assert not {1, 2, 3} & set(zendesk_sim.tickets)
    assert 4 in zendesk_sim.tickets


def test_audits_record_each_change(zenpy_client: Zenpy) -> None:
    ticket = zenpy_client.tickets(id=5)
    ticket.status = "pending"
    ticket.comment = {"body": "Looking into it", "public": False}
    zenpy_client.tickets.update(ticket)

    audits = list(zenpy_client.tickets.audits(ticket=5))
    last = audits[-1]
    kinds = {event["type"] for event in last.events}
    assert {"Comment", "Change"} <= kinds
    change = next(event for event in last.events if event["type"] == "Change")
    assert (change["field_name"], change["value"]) == ("status", "pending")
    every = list(zenpy_client.tickets.audits())
    assert last.id in {audit.id for audit in every}


def test_ticket_metrics(zenpy_client: Zenpy, zendesk_sim: ZendeskSimulator) -> None:
    metric = zenpy_client.tickets.metrics(ticket=1)
    assert metric.ticket_id == 1
    assert metric.created_at == zendesk_sim.tickets[1]["created_at"]
    assert metric.replies >= 0
    assert "calendar" in metric.reply_time_in_minutes
    all_metrics = list(zenpy_client.ticket_metrics())
    assert len(all_metrics) == len(zendesk_sim.tickets)


def test_organizations(zenpy_client: Zenpy) -> None:
    organizations = list(zenpy_client.organizations())
    assert organizations
    created = zenpy_client.organizations.create(
        Organization(name="Initech", domain_names=["initech.example"])
    )
    assert zenpy_client.organizations(id=created.id).name == "Initech"
    created.notes = "Stapler enthusiasts"
    zenpy_client.organizations.update(created)
    assert zenpy_client.organizations(id=created.id).notes == "Stapler enthusiasts"

    ticket = zenpy_client.tickets(id=7)
    ticket.organization_id = created.id
    zenpy_client.tickets.update(ticket)
    assert zenpy_client.tickets(id=7).organization.name == "Initech"

    zenpy_client.organizations.delete(created)
    with pytest.raises(RecordNotFoundException):
        zenpy_client.organizations(id=created.id)


def test_updated_since_filter_is_what_a_polling_script_uses(
    zenpy_client: Zenpy, zendesk_sim: ZendeskSimulator
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    zendesk_sim.create_ticket("Just now", "Created during the test.")
    recent = list(zenpy_client.search(type="ticket", updated_after=since))
    assert [ticket.subject for ticket in recent] == ["Just now"]
    assert recent[0].updated_at >= iso_utc(since)


def test_deleted_tickets_show_in_the_incremental_export_as_deleted(
    zenpy_client: Zenpy, zendesk_sim: ZendeskSimulator
) -> None:
    zenpy_client.tickets.delete(zenpy_client.tickets(id=9))
    start = datetime.now(UTC) - timedelta(days=3650)
    exported = {t.id: t for t in zenpy_client.tickets.incremental(start_time=start)}
    assert exported[9].status == "deleted"
    assert 9 not in {t.id for t in zenpy_client.search(type="ticket", status="open")}


def test_search_finds_users_and_organizations(zenpy_client: Zenpy) -> None:
    (me,) = list(zenpy_client.search(type="user", email="agent@example.com"))
    assert isinstance(me, User) and me.role == "admin"
    agents = list(zenpy_client.search(type="user", role="agent"))
    assert agents and all(user.role == "agent" for user in agents)
    (globex,) = list(zenpy_client.search("globex", type="organization"))
    assert isinstance(globex, Organization) and globex.name == "Globex Corporation"
