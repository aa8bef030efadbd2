"""What we write back to Zendesk for an analysis: tags and an internal note."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from app.accounts.integrations import ProcessingOptions
from app.models import TicketAnalysis


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
