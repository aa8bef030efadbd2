"""JSON columns read back exactly what was stored: the fast parser is used only where it
gives the same value as Python's json."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.users import create_user
from app.database import load_json
from app.models import TicketAnalysis
from tests.factories import create_analysed_ticket


@pytest.mark.parametrize(
    ("document", "value"),
    [
        ('["billing", "vip"]', ["billing", "vip"]),
        ('{"email": 2, "phone": 1}', {"email": 2, "phone": 1}),
        ("18446744073709551615", 2**64 - 1),
        ("123456789012345678901234567890", 123456789012345678901234567890),
        ('{"a": -9223372036854775809}', {"a": -9223372036854775809}),
        ("0.1234567890123456789012", 0.1234567890123456789012),
        ("[]", []),
        ("null", None),
    ],
)
def test_a_document_parses_as_pythons_json_parses_it(document: str, value: object) -> None:
    parsed = load_json(document)
    assert parsed == value
    assert type(parsed) is type(value)


def test_nan_and_infinity_written_by_pythons_json_still_read() -> None:
    parsed = load_json('{"low": NaN, "high": Infinity}')
    assert math.isnan(parsed["low"])
    assert parsed["high"] == math.inf


def test_invalid_json_is_an_error_as_before() -> None:
    with pytest.raises(ValueError):
        load_json("[1, 2")


def test_stored_values_orjson_alone_would_change_read_back_unchanged(db: Session) -> None:
    user = create_user(db=db, email="json@example.com", password="a-long-password")
    analysis = create_analysed_ticket(db, user)
    analysis.pii_redactions = {"email": 2**70, "phone": 3}
    analysis.suggested_tags = ["billing", "ünïcode", "x" * 300]
    db.flush()
    db.expire_all()
    stored = db.execute(
        select(TicketAnalysis.pii_redactions, TicketAnalysis.suggested_tags).where(
            TicketAnalysis.id == analysis.id
        )
    ).one()
    assert stored.pii_redactions == {"email": 2**70, "phone": 3}
    assert stored.suggested_tags == ["billing", "ünïcode", "x" * 300]
