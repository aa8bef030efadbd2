"""PII redaction: what must disappear, what must stay, numbering, counts and speed."""

from __future__ import annotations

import pytest

from app.analysis.pii import PII_KINDS, Redaction, redact, redact_many
from sandbox.samples import PII_TICKET_5KB

POSITIVE_CASES: list[tuple[str, str, str]] = [
    # (text, kind, the value that must not survive)
    ("Write to john.doe@example.com please", "email", "john.doe@example.com"),
    ("Contact: Jane.Roe+billing@Sub.Example.co.uk.", "email", "Jane.Roe+billing@Sub.Example.co.uk"),
    ("<support@shop.example.com> wrote", "email", "support@shop.example.com"),
    ("Call +1 (415) 555-2671 today", "phone", "555-2671"),
    ("UK office +44 20 7946 0958", "phone", "7946 0958"),
    ("Mobile +4915112345678 anytime", "phone", "4915112345678"),
    ("my number is 415-555-2671", "phone", "415-555-2671"),
    ("(415) 555-2671 is my desk", "phone", "555-2671"),
    ("ring 415.555.2671", "phone", "415.555.2671"),
    ("Berlin office 030 12345678", "phone", "12345678"),
    ("portable: 06 12 34 56 78", "phone", "06 12 34 56 78"),
    ("phone: 4155552671", "phone", "4155552671"),
    ("Visa 4111 1111 1111 1111 exp 12/27", "card", "4111 1111 1111 1111"),
    ("card 5500-0000-0000-0004", "card", "5500-0000-0000-0004"),
    ("amex 378282246310005 charged", "card", "378282246310005"),
    ("IBAN DE89 3704 0044 0532 0130 00 thanks", "iban", "DE89 3704 0044 0532 0130 00"),
    ("pay to GB82WEST12345698765432", "iban", "GB82WEST12345698765432"),
    ("SSN 123-45-6789 on file", "ssn", "123-45-6789"),
    ("social security number: 123456789", "ssn", "123456789"),
    ("our server 192.168.1.20 is down", "ip", "192.168.1.20"),
    ("blocked from 203.0.113.42.", "ip", "203.0.113.42"),
    ("IPv6 2001:db8::8a2e:370:7334 fails", "ip", "2001:db8::8a2e:370:7334"),
    ("link-local fe80::1ff:fe23:4567:890a here", "ip", "fe80::1ff:fe23:4567:890a"),
    ("Ship to 1600 Pennsylvania Avenue NW, Washington", "address", "1600 Pennsylvania Avenue"),
    ("I live at 221B Baker Street.", "address", "221B Baker Street"),
    ("Office: 500 Market St, Suite 210, San Francisco", "address", "500 Market St, Suite 210"),
    ("Anschrift: Friedrichstraße 123, 10117 Berlin", "address", "Friedrichstraße 123"),
    ("key sk-proj-4f9Kd82jLmQ0xYz7TbWc1Rv5 leaked", "secret", "sk-proj-4f9Kd82jLmQ0xYz7TbWc1Rv5"),
    ("ghp_16C7e42F292c6912E7710c838347Ae178B4a in CI", "secret",
     "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("AWS AKIAIOSFODNN7EXAMPLE", "secret", "AKIAIOSFODNN7EXAMPLE"),
    ("slack xoxb-123456789012-abcdefghijkl", "secret", "xoxb-123456789012-abcdefghijkl"),
    ("my api key is Zx8fQ2LmP9vR4tK7wY1s", "secret", "Zx8fQ2LmP9vR4tK7wY1s"),
    ("token: 9f8e7d6c5b4a3f2e1d0c9b8a", "secret", "9f8e7d6c5b4a3f2e1d0c9b8a"),
    ("password: hunter2!", "secret", "hunter2"),
    ("My password is Sup3rS3cret.", "secret", "Sup3rS3cret"),
    ("login with pwd=abc123", "secret", "abc123"),
    ('password: "correct horse battery"', "secret", "correct horse battery"),
]  # fmt: skip

NEGATIVE_CASES: list[str] = [
    "Order #12345678 failed, order 100234567 too",
    "Invoice INV-2024-00123 is wrong",
    "Ticket 0123456789 was closed",
    "invoice number 0301 2345 678",
    "It broke on 2024-03-15, again on 15.03.2024 and 03/15/2024",
    "It costs $1,234.56 or 1.234,56 EUR",
    "Running v2.10.3 on macOS 10.15.7",
    "Chrome 129.0.6668.90 and Edge 130.0.2849.56",
    "version 1.2.3.4 is installed",
    "card 1234 5678 9012 3456 is a test value",
    "IBAN DE89 3704 0044 0532 0130 01 (typo)",
    "SSN 666-45-6789 and 000-12-3456 and 123-00-4567",
    "999.1.1.1 is not an address",
    "meeting at 10:30:00 today, MAC 00:1A:2B:3C:4D:5E",
    "I waited 3 days on the road",
    "We have 12 Pro seats",
    "my password is not working",
    "the token expired yesterday",
    "Our VAT ID is DE123456789",
    "Please call me back",
    "Plan PRO-12-ANNUAL, error code 51, HTTP 502",
]


@pytest.mark.parametrize(("text", "kind", "value"), POSITIVE_CASES)
def test_redact_replaces_pii_with_typed_placeholder(text: str, kind: str, value: str) -> None:
    result = redact(text)

    assert value not in result.text
    assert f"[{kind.upper()}_1]" in result.text
    assert result.counts.get(kind, 0) >= 1


@pytest.mark.parametrize("text", NEGATIVE_CASES)
def test_redact_leaves_non_pii_untouched(text: str) -> None:
    result = redact(text)

    assert result.text == text
    assert result.counts == {}


def test_same_value_gets_same_placeholder_and_numbering_follows_first_appearance() -> None:
    text = (
        "From bob@example.com to Alice@Example.com; cc BOB@example.com. "
        "Call 415-555-2671 or (415) 555-2671 or +44 20 7946 0958."
    )

    result = redact(text)

    assert result.text == (
        "From [EMAIL_1] to [EMAIL_2]; cc [EMAIL_1]. Call [PHONE_1] or [PHONE_1] or [PHONE_2]."
    )


def test_counts_are_occurrences_per_kind() -> None:
    text = (
        "a@example.com, a@example.com, b@example.com; card 4111 1111 1111 1111; "
        "ip 10.0.0.1; password: s3cr3t-Value"
    )

    result = redact(text)

    assert result.counts == {"secret": 1, "email": 3, "card": 1, "ip": 1}
    assert result.total == 6
    assert list(result.counts) == [kind for kind in PII_KINDS if kind in result.counts]


def test_redaction_is_deterministic() -> None:
    text = "mail x@y.io, card 4111111111111111, phone +1 415 555 2671"

    assert redact(text) == redact(text)


def test_non_luhn_sixteen_digits_are_not_a_card() -> None:
    assert redact("ref 4111 1111 1111 1112").counts == {}
    assert redact("ref 4111 1111 1111 1111").counts == {"card": 1}


def test_label_before_a_secret_is_kept() -> None:
    result = redact("api_key=Zx8fQ2LmP9vR4tK7wY1s and password is hunter2")

    assert result.text == "api_key=[SECRET_1] and password is [SECRET_2]"


def test_empty_text() -> None:
    assert redact("") == Redaction(text="", counts={})


def test_realistic_five_kilobyte_ticket_keeps_its_facts_and_loses_its_pii() -> None:
    """Its speed is measured by bench/pii.py, not here."""
    result = redact(PII_TICKET_5KB)
    for secret in ("julia.schneider@acme-gmbh.de", "+49 30 901820", "4111 1111 1111 1111"):
        assert secret not in result.text
    assert "203.0.113.42" not in result.text
    for fact in ("#A-1002345", "EUR 149.99", "129.0.6668.90", "code 51", "14:05:13.882Z"):
        assert fact in result.text


def test_redact_many_shares_numbering_between_subject_and_body() -> None:
    subject, body = redact_many(
        ["Refund for a@example.com", "I am b@example.com, not a@example.com"]
    )

    assert subject.text == "Refund for [EMAIL_1]"
    assert body.text == "I am [EMAIL_2], not [EMAIL_1]"
    assert (subject.counts, body.counts) == ({"email": 1}, {"email": 2})
