"""Realistic ticket texts shared by tests and benchmarks."""

from __future__ import annotations

_PII_PARAGRAPH = (
    "Hello, the checkout failed again on 2026-10-03 at 14:05 (order #A-1002345, EUR 149.99). "
    "Chrome 129.0.6668.90 shows 'Payment declined: code 51'. Please refund the duplicate "
    "charges and call me at +49 30 901820 or write to julia.schneider@acme-gmbh.de. "
    "Our office IP is 203.0.113.42. Card used: 4111 1111 1111 1111. Thanks, Julia\n"
    "2026-10-03T14:05:13.882Z WARN payments.adapter soft_decline code=51 attempt=1\n"
)
PII_TICKET_5KB = (_PII_PARAGRAPH * 20)[:5000]
"""Five kilobytes of a payment complaint with pasted logs: personal data among numbers,
versions and timestamps that must survive redaction."""
