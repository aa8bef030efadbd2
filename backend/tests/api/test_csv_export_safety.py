"""GET /analytics/export.csv never hands a spreadsheet a live formula from ticket text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import UserFactory, create_analysed_ticket

FORMULAS = [
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1)",
    '  =HYPERLINK("http://x")',
    "\n=1+1",
    "\r\n@cmd",
    "\t=1",
    "\tplain text after a tab",
    "\rplain text after a CR",
    "\u3000=1+1",  # ideographic space
    "\xa0+1",  # no-break space
    "\uff1d1+1",  # full-width =
    "\uff0b1",  # full-width +
    "\uff0d1",  # full-width -
    "\uff20SUM(A1)",  # full-width @
    "\ufe661+1",  # small =
    "\u22121",  # minus sign
]
PLAIN = ["Cannot log in", "Refund: =not a formula in the middle", " leading space only", ""]


@pytest.mark.parametrize("subject", FORMULAS + PLAIN)
def test_exported_subjects_never_start_a_formula(
    client: TestClient, users: UserFactory, db: Session, subject: str
) -> None:
    user, headers = users.authed()
    create_analysed_ticket(db, user, created_at=datetime(2025, 3, 2, tzinfo=UTC), subject=subject)
    response = client.get(
        "/analytics/export.csv",
        params={"start": "2025-03-01T00:00:00Z", "end": "2025-03-15T00:00:00Z"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    (row,) = list(csv.DictReader(io.StringIO(response.text, newline="")))
    expected = "'" + subject if subject in FORMULAS else subject
    assert row["subject"] == expected
