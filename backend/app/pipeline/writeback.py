"""Writing an analysis back to Zendesk: tags and an internal note, for every path.

Three phases: `plan_ticket` decides inside a transaction (and stores the note's fingerprint
as `pending:` — the idempotency key), `apply_one` or one `update_many` of `bulk_entry`s
calls Zendesk with no transaction open, and `record` stores the outcome in the next short
transaction. A note whose fingerprint is still pending is looked for among the ticket's
comments before it is posted again, so a crash or timeout between the phases never posts
it twice. Every path reports one `WriteBack` result.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from app.accounts.integrations import ProcessingOptions
from app.analytics import report_cache
from app.enums import WriteBack
from app.integrations.zendesk import ZendeskClient, ZendeskError
from app.models import Ticket, TicketAnalysis, utcnow


@dataclass(frozen=True)
class WritePlan:
    tags: list[str]
    stale_tags: list[str]  # our own tags from an earlier analysis that no longer apply
    note: str | None
    note_fingerprint: str | None

    @property
    def empty(self) -> bool:
        return not self.tags and not self.note


def triage_tags(analysis: TicketAnalysis, prefix: str) -> list[str]:
    return [
        f"{prefix}_category_{analysis.category.value}",
        f"{prefix}_urgency_{analysis.urgency.value}",
        f"{prefix}_sentiment_{analysis.sentiment.value}",
    ]


def note_body(analysis: TicketAnalysis, *, include_reply: bool) -> str:
    lines = [
        "AI triage (internal note, not visible to the requester)",
        f"Category: {analysis.category.value} | Urgency: {analysis.urgency.value} | "
        f"Sentiment: {analysis.sentiment.value} | Confidence: {analysis.confidence:.2f} "
        f"| Source: {analysis.source.value}",
        "",
        f"Summary: {analysis.summary}",
    ]
    if include_reply and analysis.reply_draft:
        lines += ["", "Suggested reply (draft for the agent, never sent automatically):"]
        lines.append(analysis.reply_draft)
    return "\n".join(lines)


PENDING = "pending:"
# Longer than one write-back can take (the Zendesk client's timeouts and retries): a claim
# older than this belongs to an attempt that died, whose note may or may not be posted.
NOTE_CLAIM_S = 120.0
NOTE_POSTED_ELSEWHERE = "another request is posting this note"


def fingerprint(text: str) -> str:
    """Identifies a note's text; short enough to store with a `pending:` marker."""
    return hashlib.sha256(text.encode()).hexdigest()[:48]


def pending(note_fingerprint: str) -> str:
    """Stored before a note is posted: if the write fails ambiguously (a timeout after
    Zendesk may have applied it), the next attempt looks for the note before posting."""
    return PENDING + note_fingerprint


def already_posted(comments: list[dict[str, Any]], note_fingerprint: str) -> bool:
    """Is a private comment with this note's text on the ticket?"""
    return any(
        not comment.get("public", True) and fingerprint(comment.get("body", "")) == note_fingerprint
        for comment in comments
    )


def plan(
    analysis: TicketAnalysis, options: ProcessingOptions, *, current_tags: list[str]
) -> WritePlan:
    """Only what is not there yet: tags the ticket lacks, a note not already posted."""
    tags: list[str] = []
    stale: list[str] = []
    if options.write_tags:
        wanted = triage_tags(analysis, options.tag_prefix)
        tags = [tag for tag in wanted if tag not in current_tags]
        previous = [tag for tag in analysis.tags_written or [] if tag not in wanted]
        stale = [tag for tag in previous if tag in current_tags]
    note = None
    note_print = None
    if options.write_note:
        body = note_body(analysis, include_reply=options.reply_draft)
        note_print = fingerprint(body)
        if note_print != analysis.note_fingerprint:
            note = body
    return WritePlan(tags=tags, stale_tags=stale, note=note, note_fingerprint=note_print)


@dataclass(frozen=True)
class TicketWrite:
    """What to send for one ticket: decided in a transaction, sent with none open."""

    ticket_id: int
    zendesk_ticket_id: int
    plan: WritePlan
    wanted: list[str]  # our triage tags, remembered as written once the write succeeded
    current_tags: list[str]
    check_comments: bool = False  # an earlier attempt may already have posted the note
    decided: WriteBack | None = None  # known without calling Zendesk
    reason: str = ""

    @property
    def new_tags(self) -> list[str]:
        kept = [tag for tag in self.current_tags if tag not in self.plan.stale_tags]
        return kept + [tag for tag in self.plan.tags if tag not in kept]


@dataclass(frozen=True)
class Applied:
    """What Zendesk did with one TicketWrite."""

    status: WriteBack
    tags: list[str] | None = None  # the ticket's tags after the write
    note_posted: bool = False
    error: str | None = None
    duration_ms: int = 0
    message: str = field(default="")


def plan_ticket(
    ticket: Ticket,
    analysis: TicketAnalysis,
    options: ProcessingOptions,
    *,
    current_tags: list[str] | None = None,
    zendesk_status: str | None = None,
    leave_live_claims: bool = False,
) -> TicketWrite:
    """Decide one ticket's write-back; marks a note about to be posted as pending, with the
    time of the claim. `leave_live_claims`: a caller that has not claimed this note itself
    leaves a note another request claimed less than NOTE_CLAIM_S ago to that request (the
    caller must hold the ticket's row lock, so two plans never interleave)."""
    current = list(ticket.tags) if current_tags is None else list(current_tags)
    wanted = triage_tags(analysis, options.tag_prefix) if options.write_tags else []
    base = {"ticket_id": ticket.id, "zendesk_ticket_id": ticket.zendesk_ticket_id}
    if (zendesk_status or ticket.status) == "closed":
        empty = WritePlan([], [], None, None)
        return TicketWrite(
            **base,
            plan=empty,
            wanted=wanted,
            current_tags=current,
            decided=WriteBack.skipped,
            reason="closed tickets cannot be updated in Zendesk",
        )
    write_plan = plan(analysis, options, current_tags=current)
    if write_plan.empty and not write_plan.stale_tags:
        enabled = options.write_tags or options.write_note
        return TicketWrite(
            **base,
            plan=write_plan,
            wanted=wanted,
            current_tags=current,
            decided=WriteBack.unchanged if enabled else WriteBack.disabled,
            reason="nothing new to write" if enabled else "write-back is off in the settings",
        )
    check = False
    if write_plan.note is not None and write_plan.note_fingerprint is not None:
        claimed = analysis.note_fingerprint == pending(write_plan.note_fingerprint)
        if claimed and leave_live_claims and claim_is_live(analysis):
            # Another request is posting this very note right now: tags only, and the
            # note's bookkeeping stays with that request.
            write_plan = WritePlan(write_plan.tags, write_plan.stale_tags, None, None)
            if write_plan.empty and not write_plan.stale_tags:
                return TicketWrite(
                    **base,
                    plan=write_plan,
                    wanted=wanted,
                    current_tags=current,
                    decided=WriteBack.unchanged,
                    reason=NOTE_POSTED_ELSEWHERE,
                )
            return TicketWrite(**base, plan=write_plan, wanted=wanted, current_tags=current)
        check = claimed
        analysis.note_fingerprint = pending(write_plan.note_fingerprint)
        analysis.note_claimed_at = utcnow()
    return TicketWrite(
        **base, plan=write_plan, wanted=wanted, current_tags=current, check_comments=check
    )


def claim_is_live(analysis: TicketAnalysis) -> bool:
    """Was the pending note claimed recently enough that its request may still be posting
    it (rather than having died between claiming and recording)?"""
    claimed_at = analysis.note_claimed_at
    return claimed_at is not None and (utcnow() - claimed_at).total_seconds() < NOTE_CLAIM_S


def note_already_posted(client: ZendeskClient, write: TicketWrite) -> bool:
    """After an ambiguous failure (a timeout Zendesk may have applied): is our note there?"""
    fingerprint_ = write.plan.note_fingerprint
    return (
        write.check_comments
        and fingerprint_ is not None
        and already_posted(client.get_comments(write.zendesk_ticket_id), fingerprint_)
    )


def apply_one(client: ZendeskClient, write: TicketWrite) -> Applied:
    """Send one ticket's write-back through the tags and update endpoints (no database)."""
    if write.decided is not None:
        return Applied(status=write.decided, message=write.reason)
    started = time.perf_counter()
    plan_ = write.plan
    tags: list[str] | None = None
    try:
        note = None if note_already_posted(client, write) else plan_.note
        if plan_.stale_tags:
            tags = client.remove_tags(write.zendesk_ticket_id, plan_.stale_tags)
        if plan_.tags or note:
            result = client.add_tags_and_note(write.zendesk_ticket_id, plan_.tags, note)
            tags = list(result.tags)
    except ZendeskError as exc:
        return Applied(
            status=WriteBack.failed,
            error=exc.message,
            duration_ms=_ms_since(started),
            message=f"{type(exc).__name__}: {exc}"[:2000],
        )
    note_state = "posted" if plan_.note else "unchanged"
    return Applied(
        status=WriteBack.written,
        tags=tags,
        note_posted=plan_.note is not None,
        duration_ms=_ms_since(started),
        message=f"tags +{plan_.tags} -{plan_.stale_tags}; note {note_state}",
    )


def bulk_entry(write: TicketWrite, *, updated_stamp: str | None, note: str | None) -> dict:
    """One ticket of an update_many: the full tag set guarded by safe_update, and the note."""
    entry: dict[str, Any] = {"id": write.zendesk_ticket_id}
    if write.plan.tags or write.plan.stale_tags:
        entry.update(tags=write.new_tags, safe_update=True, updated_stamp=updated_stamp)
    if note:
        entry["comment"] = {"body": note, "public": False}
    return entry


def record(ticket: Ticket, analysis: TicketAnalysis, write: TicketWrite, applied: Applied) -> None:
    """Store the outcome (in the record phase's transaction): tags, note fingerprint, time."""
    ticket_values, analysis_values = recorded_values(write, applied)
    for name, value in ticket_values.items():
        setattr(ticket, name, value)
    for name, value in analysis_values.items():
        setattr(analysis, name, value)


def recorded_values(write: TicketWrite, applied: Applied) -> tuple[dict[str, Any], dict[str, Any]]:
    """What `record` stores: the ticket's new values and the analysis's (none when failed)."""
    ticket_values: dict[str, Any] = {}
    analysis_values: dict[str, Any] = {}
    if applied.status is WriteBack.failed:
        # The attempt is over: its claim no longer holds a retry back (the note stays
        # pending, so the retry looks for it before posting).
        analysis_values["note_claimed_at"] = None
        return ticket_values, analysis_values
    if applied.tags is not None:
        ticket_values["tags"] = list(applied.tags)
    elif applied.status is not WriteBack.skipped:
        ticket_values["tags"] = list(write.current_tags)
    if applied.status is WriteBack.skipped:
        return ticket_values, analysis_values
    if write.wanted:
        analysis_values["tags_written"] = write.wanted
    if write.plan.note_fingerprint is not None and (
        applied.status is WriteBack.written or not write.plan.note
    ):
        analysis_values["note_fingerprint"] = write.plan.note_fingerprint
    if applied.status is not WriteBack.disabled:
        analysis_values["written_back_at"] = utcnow()
    return ticket_values, analysis_values


def record_many(
    db: Session, *, user_id: int, outcomes: list[tuple[int, TicketWrite, Applied]]
) -> None:
    """`record` for many tickets of a user by ticket id, none of them loaded: Core UPDATEs
    (an executemany per set of columns) instead of loading both rows of each ticket and
    flushing them through the ORM. A ticket whose tags are unchanged is not updated (as the
    ORM would not)."""
    changes = [
        (ticket_id, *recorded_values(write, applied)) for ticket_id, write, applied in outcomes
    ]
    retagged = [ticket_id for ticket_id, ticket_values, _ in changes if "tags" in ticket_values]
    stored_tags: dict[int, Any] = (
        {
            ticket_id: tags
            for ticket_id, tags in db.execute(
                select(Ticket.id, Ticket.tags).where(Ticket.id.in_(retagged))
            )
        }
        if retagged
        else {}
    )
    ticket_rows = [
        (ticket_id, ticket_values)
        for ticket_id, ticket_values, _ in changes
        if "tags" in ticket_values and ticket_values["tags"] != stored_tags.get(ticket_id)
    ]
    _update_many(db, Ticket.__table__, "id", ticket_rows)
    analysis_rows = [(ticket_id, values) for ticket_id, _, values in changes if values]
    _update_many(db, TicketAnalysis.__table__, "ticket_id", analysis_rows)
    if ticket_rows or analysis_rows:
        report_cache.forget_users([user_id])  # no flush saw these writes


def _update_many(
    db: Session, table: Table, key: str, rows: list[tuple[int, dict[str, Any]]]
) -> None:
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_key, values in rows:
        params = {"b_key": row_key, **{f"b_{name}": value for name, value in values.items()}}
        shapes.setdefault(tuple(sorted(values)), []).append(params)
    for names, params in shapes.items():
        statement = (
            update(table)
            .where(table.c[key] == bindparam("b_key"))
            .values({name: bindparam(f"b_{name}") for name in names})
        )
        db.execute(statement, params)


def step_status(result: WriteBack) -> str:
    """The processing log's status for a write-back result."""
    return {WriteBack.written: "ok", WriteBack.failed: "error"}.get(result, "skipped")


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
