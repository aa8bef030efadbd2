"""Generate sandbox/seeds/zendesk_seed.json: synthetic tickets for the Zendesk simulator.

Every text comes from the templates below (written for this project); the output is
deterministic, so re-running the script reproduces the committed file byte for byte.

    python -m sandbox.make_seed [--count 260] [--out sandbox/seeds/zendesk_seed.json]
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.seed_templates import TEMPLATES

SEED = 20261120
DEFAULT_COUNT = 260
DEFAULT_OUT = Path(__file__).parent / "seeds" / "zendesk_seed.json"

FIRST_CREATED = datetime(2026, 10, 1, 7, 0, tzinfo=UTC)
LAST_CREATED = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
LAST_UPDATED = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

ACCOUNT_URL = "https://acme.zendesk.com"
FIELD_PRODUCT = 360000100001
FIELD_PLAN = 360000100002
FIELD_ORDER_ID = 360000100003

GROUPS = {
    "tier1": 360000200001,
    "billing": 360000200002,
    "engineering": 360000200003,
    "success": 360000200004,
}

AGENTS = [
    {"id": 360000000001, "name": "Triage Bot", "email": "agent@example.com", "role": "admin"},
    {"id": 360000000002, "name": "Maya Lindqvist", "email": "maya@acme.example", "role": "agent"},
    {"id": 360000000003, "name": "Tomás Ferreira", "email": "tomas@acme.example", "role": "agent"},
    {"id": 360000000004, "name": "Priya Natarajan", "email": "priya@acme.example", "role": "agent"},
    {"id": 360000000005, "name": "Jonas Weber", "email": "jonas@acme.example", "role": "agent"},
    {"id": 360000000006, "name": "Aisha Okafor", "email": "aisha@acme.example", "role": "agent"},
]

FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia", "Mateo",
    "Chloe", "Arjun", "Hana", "Kenji", "Fatima", "Omar", "Ingrid", "Lars", "Camille", "Hugo",
    "Zanele", "Thabo", "Valentina", "Diego", "Aroha", "Nikolai", "Leila", "Yusuf", "Grace",
    "Ben", "Rosa", "Pedro", "Elif", "Can", "Maja", "Piotr", "Aiko", "Ravi", "Nora", "Finn",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Garcia", "Müller", "Rossi", "Kowalski", "Nguyen", "Okoye", "Tanaka", "Silva",
    "Johansson", "Dubois", "Patel", "Kim", "Hughes", "Novak", "Haddad", "Moreau", "Costa",
    "Fischer", "O'Brien", "Yilmaz", "Andersen", "Mendes", "Choi", "Walker", "Ibrahim",
]  # fmt: skip
COMPANIES = [
    "Bluefin Logistics", "Oakridge Dental", "Pixel & Pine", "Northwind Foods", "Kestrel Labs",
    "Harbor Yoga", "Lumen Legal", "Copperleaf Cafe", "Atlas Freight", "Greenbox Grocers",
    "Summit Physio", "Brightside Tutors", "Riverstone Realty", "Nimbus Apparel",
]  # fmt: skip

PRODUCTS = {
    "invoicing": "Invoicing",
    "payroll": "Payroll",
    "mobile_app": "mobile app",
    "api": "public API",
    "reports": "Reports dashboard",
    "inventory": "Inventory",
}
PLANS = ["plan_starter", "plan_growth", "plan_pro", "plan_enterprise"]
INTEGRATIONS = ["Shopify", "Slack", "QuickBooks", "Xero", "Stripe", "HubSpot", "Google Sheets"]
BROWSERS = ["Chrome 131", "Firefox 133", "Safari 18.1", "Edge 131"]
DEVICES = ["iPhone 15 (iOS 18.1)", "Pixel 8 (Android 15)", "Galaxy S23 (Android 14)", "iPad Air"]
ERROR_CODES = ["ERR_SYNC_409", "E5021", "upstream_timeout", "INVALID_STATE", "0x80070005"]


ANGRY_OPENERS = [
    "This is the THIRD time I'm writing about this. ",
    "Honestly, I'm very disappointed. ",
    "Unacceptable. ",
    "I've been waiting for days and nobody answers. ",
]
HAPPY_CLOSERS = [
    "\n\nThanks so much, you're always helpful!",
    "\n\nNo rush, and thanks for the great product.",
]
SIGNOFFS = ["Thanks,\n{name}", "Best regards,\n{name}\n{company}", "{name}", "Cheers, {first}"]
AGENT_REPLIES = [
    "Hi {first},\n\nThanks for reaching out. I'm looking into this now and will get back to "
    "you shortly.\n\n{agent}",
    "Hi {first},\n\nSorry for the trouble! Could you send a screenshot and the approximate "
    "time this happened?\n\n{agent}",
    "Hi {first},\n\nThis should be fixed now. Please let us know if you still see the "
    "problem.\n\n{agent}",
]
PRIVATE_NOTES = [
    "Checked logs, looks related to last week's release. Escalating to engineering.",
    "Customer is on an annual contract, renewal next month. Handle with care.",
    "Duplicate of an earlier ticket from the same requester; merged context here.",
]

STATUS_WEIGHTS = {"new": 25, "open": 35, "pending": 15, "hold": 5, "solved": 15, "closed": 5}
PRIORITY_FOR_URGENCY = {"low": "low", "medium": "normal", "high": "high"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _make_users(rng: random.Random, count: int) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = [dict(agent) for agent in AGENTS]
    for index in range(count):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        slug = f"{first}.{last}".lower().replace("'", "").replace("ü", "u")
        users.append(
            {
                "id": 361000000001 + index,
                "name": f"{first} {last}",
                "email": f"{slug}{index}@example.com",
                "role": "end-user",
                "organization": rng.choice(COMPANIES),
            }
        )
    return users


def _slots(rng: random.Random, requester: dict[str, Any], product_key: str) -> dict[str, str]:
    first = requester["name"].split()[0]
    agent = rng.choice(AGENTS[1:])
    plan = rng.choice(PLANS)
    return {
        "name": requester["name"],
        "first": first,
        "company": requester["organization"],
        "email": requester["email"],
        "email2": f"{first.lower()}.work{rng.randint(1, 99)}@example.org",
        "phone": f"+1 {rng.choice(['415', '212', '646', '303'])}-555-{rng.randint(100, 199):04d}",
        "product": PRODUCTS[product_key],
        "integration": rng.choice(INTEGRATIONS),
        "browser": rng.choice(BROWSERS),
        "device": rng.choice(DEVICES),
        "error_code": rng.choice(ERROR_CODES),
        "order_id": f"#{rng.randint(10000, 99999)}",
        "invoice": f"INV-2026-{rng.randint(1000, 9999)}",
        "amount": f"${rng.choice([29, 49, 99, 149, 299, 1188])}.00",
        "card_last4": f"{rng.randint(0, 9999):04d}",
        "count": str(rng.choice([3, 12, 40, 150, 2300])),
        "months": str(rng.randint(2, 10)),
        "hour": str(rng.randint(6, 20)),
        "date": f"November {rng.randint(1, 24)}",
        "vat": str(rng.randint(100000000, 999999999)),
        "street": f"{rng.randint(1, 200)} Harbour Street, {rng.randint(10000, 99999)} Springfield",
        "request_id": f"req_{rng.getrandbits(48):012x}",
        "plan_name": plan.removeprefix("plan_").title(),
        "agent": agent["name"],
        "agent_first": agent["name"].split()[0],
    }


def _render(text: str, slots: dict[str, str]) -> str:
    return text.format(**slots)


def build_seed(count: int = DEFAULT_COUNT, seed: int = SEED) -> dict[str, Any]:
    """Build the whole seed document; same arguments, same output."""
    rng = random.Random(seed)
    users = _make_users(rng, 140)
    end_users = [user for user in users if user["role"] == "end-user"]
    tickets: list[dict[str, Any]] = []
    comments: dict[str, list[dict[str, Any]]] = {}
    labels: dict[str, dict[str, str]] = {}
    span_s = int((LAST_CREATED - FIRST_CREATED).total_seconds())
    created_times = sorted(
        FIRST_CREATED + timedelta(seconds=rng.randint(0, span_s)) for _ in range(count)
    )
    comment_id = 40000000001
    statuses = list(STATUS_WEIGHTS)
    status_weights = list(STATUS_WEIGHTS.values())
    for index, created_at in enumerate(created_times):
        ticket_id = index + 1
        template = rng.choice(TEMPLATES)
        requester = rng.choice(end_users)
        product_key = rng.choice(list(PRODUCTS))
        slots = _slots(rng, requester, product_key)
        slots["signoff"] = _render(rng.choice(SIGNOFFS), slots)
        subject = _render(rng.choice(template.subjects), slots)
        body = _render(rng.choice(template.bodies), slots)
        sentiment = template.sentiment
        urgency = template.urgency
        tone = rng.random()
        if tone < 0.15 and "lang_" not in " ".join(template.tags):
            body = rng.choice(ANGRY_OPENERS) + body
            sentiment = "negative"
            urgency = "high" if urgency == "medium" else urgency
        elif tone > 0.9 and template.sentiment != "negative":
            body += rng.choice(HAPPY_CLOSERS)
            sentiment = "positive"
        status = rng.choices(statuses, status_weights)[0]
        priority: str | None = PRIORITY_FOR_URGENCY[urgency]
        if rng.random() < 0.25:
            priority = None
        elif urgency == "high" and rng.random() < 0.3:
            priority = "urgent"
        agent = rng.choice(AGENTS[1:])
        assignee_id = None if status == "new" else agent["id"]
        plan = rng.choice(PLANS)
        channel = rng.choice(["email", "email", "web", "web", "api", "mobile_sdk"])
        tags = [product_key, plan, *template.tags]
        if channel == "web":
            tags.append("web_widget")
        if plan == "plan_enterprise" and rng.random() < 0.4:
            tags.append("vip")
        updated_at = min(created_at + timedelta(minutes=rng.randint(1, 60 * 72)), LAST_UPDATED)
        ticket = {
            "id": ticket_id,
            "url": f"{ACCOUNT_URL}/api/v2/tickets/{ticket_id}.json",
            "external_id": None,
            "via": {"channel": channel},
            "created_at": _iso(created_at),
            "updated_at": _iso(updated_at),
            "type": template.ticket_type if rng.random() > 0.2 else None,
            "subject": subject,
            "raw_subject": subject,
            "description": body,
            "priority": priority,
            "status": status,
            "recipient": "support@acme.example",
            "requester_id": requester["id"],
            "submitter_id": requester["id"],
            "assignee_id": assignee_id,
            "organization_id": None,
            "group_id": GROUPS[template.group] if status != "new" or rng.random() < 0.5 else None,
            "tags": sorted(set(tags)),
            "custom_fields": [
                {"id": FIELD_PRODUCT, "value": product_key},
                {"id": FIELD_PLAN, "value": plan},
                {"id": FIELD_ORDER_ID, "value": slots["order_id"] if rng.random() < 0.2 else None},
            ],
        }
        thread = [
            {
                "id": comment_id,
                "type": "Comment",
                "author_id": requester["id"],
                "body": body,
                "public": True,
                "created_at": ticket["created_at"],
                "via": {"channel": channel},
            }
        ]
        comment_id += 1
        if status in {"open", "pending", "solved", "closed"}:
            reply_at = created_at + (updated_at - created_at) / 2
            thread.append(
                {
                    "id": comment_id,
                    "type": "Comment",
                    "author_id": agent["id"],
                    "body": _render(rng.choice(AGENT_REPLIES), {**slots, "agent": agent["name"]}),
                    "public": True,
                    "created_at": _iso(reply_at),
                    "via": {"channel": "web"},
                }
            )
            comment_id += 1
        if status != "new" and rng.random() < 0.15:
            thread.append(
                {
                    "id": comment_id,
                    "type": "Comment",
                    "author_id": agent["id"],
                    "body": rng.choice(PRIVATE_NOTES),
                    "public": False,
                    "created_at": ticket["updated_at"],
                    "via": {"channel": "web"},
                }
            )
            comment_id += 1
        tickets.append(ticket)
        comments[str(ticket_id)] = thread
        labels[str(ticket_id)] = {
            "category": template.category,
            "urgency": urgency,
            "sentiment": sentiment,
        }
    return {
        "about": "Synthetic Zendesk tickets generated by sandbox/make_seed.py; not real data.",
        "generator_seed": seed,
        "users": users,
        "tickets": tickets,
        "comments": comments,
        "labels": labels,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    document = build_seed(args.count)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(document['tickets'])} tickets to {args.out} ({len(text) // 1024} KiB)")


if __name__ == "__main__":
    main()
