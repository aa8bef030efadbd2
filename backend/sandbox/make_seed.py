"""Generate sandbox/seeds/zendesk_seed.json: synthetic tickets for the Zendesk simulator.

Every text comes from the templates below (written for this project); the output is
deterministic, so re-running the script reproduces the committed file byte for byte.

    python -m sandbox.make_seed [--count 260] [--out sandbox/seeds/zendesk_seed.json]
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Template:
    """One kind of customer message; labels are generator hints for the benchmark, not gold."""

    category: str  # bug | feature | billing | support | other
    urgency: str  # low | medium | high
    sentiment: str  # positive | neutral | negative
    ticket_type: str | None
    group: str
    subjects: tuple[str, ...]
    bodies: tuple[str, ...]
    tags: tuple[str, ...] = ()


TEMPLATES: list[Template] = [
    # --- bugs -------------------------------------------------------------------------
    Template(
        "bug", "medium", "negative", "problem", "engineering",
        ("Export to CSV fails with an error", "CSV export broken", "Can't export {product}"),
        (
            "Hi,\n\nWhen I click Export > CSV in {product} I get a spinner for a minute and "
            "then \"Something went wrong ({error_code})\". It worked last week. I tried "
            "{browser} and a private window, same result.\n\n{signoff}",
            "Exporting our {product} data to CSV stops at 99% and the file never downloads. "
            "We need this for month-end. Error shown: {error_code}.\n\n{signoff}",
        ),
        ("export",),
    ),
    Template(
        "bug", "high", "negative", "incident", "engineering",
        ("{integration} sync stopped", "Orders not syncing from {integration}",
         "{integration} integration disconnected again"),
        (
            "Since yesterday around {hour}:00 nothing from {integration} shows up in "
            "{product}. The integration page says \"Connected\" but the last sync is 26 hours "
            "ago. We have about {count} orders missing.\n\n{signoff}",
            "Our {integration} connection keeps dropping. I reconnect it, it works for an "
            "hour, then stops with {error_code}. Order {order_id} for example never arrived."
            "\n\n{signoff}",
        ),
        ("integration",),
    ),
    Template(
        "bug", "medium", "negative", "problem", "engineering",
        ("App crashes when opening invoices", "Mobile app crash on launch",
         "{product} closes by itself"),
        (
            "The {product} crashes every time I open an invoice with more than 20 lines. "
            "Device: {device}. I reinstalled the app, no change.\n\n{signoff}",
            "After the last update the app crashes right after the splash screen on my "
            "{device}. I can't get to any of my data on the go.\n\n{signoff}",
        ),
        ("mobile",),
    ),
    Template(
        "bug", "medium", "neutral", "problem", "engineering",
        ("Totals on report don't add up", "Wrong totals in {product}",
         "Rounding difference on invoice {invoice}"),
        (
            "The monthly summary in {product} shows {amount} but when I add the rows myself "
            "I get a different number (off by a few cents per line). Looks like a rounding "
            "issue with tax. Invoice {invoice} is an example.\n\n{signoff}",
            "Report totals for October don't match the sum of the individual entries. "
            "Could you check? I attached nothing yet but can send screenshots.\n\n{signoff}",
        ),
        ("reports",),
    ),
    Template(
        "bug", "high", "negative", "incident", "tier1",
        ("Login loop", "Can't log in - keeps redirecting", "Stuck on login page"),
        (
            "I enter my password, the page reloads and I'm back at the login screen. No error "
            "message. Cleared cookies, tried {browser}. My login is {email}.\n\n{signoff}",
            "Since this morning I can't get past the login page, it just loops. I have a "
            "payroll run due today, please help ASAP. You can call me on {phone}.\n\n{signoff}",
        ),
        ("login",),
    ),
    Template(
        "bug", "medium", "neutral", "problem", "engineering",
        ("Webhook fires twice", "Duplicate webhook deliveries", "Getting duplicate events"),
        (
            "Our endpoint receives every invoice.paid webhook twice, about 200 ms apart, with "
            "the same payload. It creates duplicate records on our side. Is this expected?"
            "\n\n{signoff}",
            "We see duplicated webhook events from the {product} since the {date} release. "
            "Delivery ids differ but the body is identical.\n\n{signoff}",
        ),
        ("api", "webhooks"),
    ),
    Template(
        "bug", "low", "neutral", "problem", "engineering",
        ("Dates shown in wrong timezone", "Timezone off by one hour",
         "Due dates one day early"),
        (
            "All due dates in {product} are shown one day earlier than what I entered. My "
            "account timezone is Pacific/Auckland. Minor, but confusing for my team."
            "\n\n{signoff}",
            "Since the daylight saving change the times on scheduled reports are an hour off."
            "\n\n{signoff}",
        ),
        ("timezone",),
    ),
    Template(
        "bug", "medium", "negative", "problem", "engineering",
        ("CSV import mangles accents", "Import breaks special characters",
         "Umlauts broken after import"),
        (
            "I imported our customer list and names like \"Müller\" and \"José\" now show as "
            "\"MÃ¼ller\" and \"JosÃ©\". The file is UTF-8, I checked. About {count} records "
            "affected.\n\n{signoff}",
        ),
        ("import",),
    ),
    Template(
        "bug", "medium", "negative", "problem", "engineering",
        ("PDF invoice is blank", "Invoice PDF empty", "Downloaded PDF has no content"),
        (
            "When I download invoice {invoice} as PDF, the file opens but the page is "
            "completely white. Other invoices are fine. My client is waiting for it."
            "\n\n{signoff}",
        ),
        ("pdf", "invoicing"),
    ),
    Template(
        "bug", "low", "neutral", "problem", "engineering",
        ("Search doesn't find customers", "Customer search returns nothing"),
        (
            "Searching for a customer by phone number returns no results even though the "
            "number is on the record (e.g. {phone}). Searching by name works.\n\n{signoff}",
        ),
        ("search",),
    ),
    # --- feature requests -------------------------------------------------------------
    Template(
        "feature", "low", "positive", "task", "success",
        ("Feature request: dark mode", "Dark mode please?", "Any plans for a dark theme?"),
        (
            "Love {product}, use it every day. Would it be possible to add a dark mode? "
            "Working late the white screen is a lot.\n\n{signoff}",
            "Small wish: a dark theme for the web app and the {product}. Thanks for "
            "considering!\n\n{signoff}",
        ),
        ("feature_request",),
    ),
    Template(
        "feature", "low", "neutral", "task", "success",
        ("Bulk edit for line items", "Can we edit many items at once?",
         "Request: bulk actions"),
        (
            "We have {count} products and need to change the tax rate on all of them. Doing "
            "it one by one takes hours. A bulk edit option would help a lot.\n\n{signoff}",
        ),
        ("feature_request", "inventory"),
    ),
    Template(
        "feature", "medium", "neutral", "task", "success",
        ("SAML SSO support", "Do you support Okta SSO?", "SSO for enterprise plan"),
        (
            "Our security team requires SSO via Okta (SAML 2.0) for all tools. Is this on "
            "the roadmap? We'd upgrade to {plan_name} if so. Contact me at {email}."
            "\n\n{signoff}",
        ),
        ("feature_request", "sso"),
    ),
    Template(
        "feature", "low", "positive", "task", "success",
        ("Export reports to Excel", "xlsx export would be great"),
        (
            "It would be great to export reports directly as .xlsx with formatting instead "
            "of CSV. Our accountant keeps asking.\n\n{signoff}",
        ),
        ("feature_request", "reports"),
    ),
    Template(
        "feature", "low", "neutral", "task", "success",
        ("Custom fields in reports", "Show custom fields on reports"),
        (
            "We added custom fields for project codes but they don't appear as columns in "
            "the Reports dashboard. Could you add that? Otherwise we have to export and "
            "merge manually.\n\n{signoff}",
        ),
        ("feature_request", "reports"),
    ),
    Template(
        "feature", "medium", "neutral", "task", "engineering",
        ("Higher API rate limit", "API limit too low for our volume"),
        (
            "We hit the 429 limit on the {product} nightly when syncing ~{count} records. "
            "Could you raise our limit or offer a bulk endpoint?\n\n{signoff}",
        ),
        ("api", "feature_request"),
    ),
    Template(
        "feature", "low", "positive", "task", "success",
        ("Integration with {integration}?", "Request: native {integration} integration"),
        (
            "Any chance of a native {integration} integration? We currently copy data over "
            "by hand every Friday. Happy to beta test.\n\n{signoff}",
        ),
        ("feature_request", "integration"),
    ),
    # --- billing ------------------------------------------------------------------------
    Template(
        "billing", "high", "negative", None, "billing",
        ("Charged twice this month", "Double charge on my card", "Duplicate payment"),
        (
            "I was charged {amount} twice on {date} for the same subscription. Card ending in "
            "{card_last4}. Please refund the duplicate.\n\n{signoff}",
            "My bank statement shows two identical charges of {amount} from you. This is the "
            "second time this happens. Fix it and refund me.\n\n{signoff}",
        ),
        ("billing", "refund"),
    ),
    Template(
        "billing", "medium", "neutral", "question", "billing",
        ("Refund request", "Requesting a refund for unused months",
         "Refund for annual plan"),
        (
            "We switched tools and would like a refund for the remaining {months} months of "
            "our annual plan ({amount}). Account email: {email}.\n\n{signoff}",
        ),
        ("billing", "refund"),
    ),
    Template(
        "billing", "medium", "neutral", "question", "billing",
        ("VAT number missing on invoice", "Wrong company address on invoice {invoice}",
         "Invoice needs our VAT ID"),
        (
            "Our invoices don't show our VAT number, so finance can't book them. Please "
            "reissue invoice {invoice} with VAT ID DE{vat} and address: {street}.\n\n{signoff}",
        ),
        ("billing", "invoice"),
    ),
    Template(
        "billing", "low", "neutral", "question", "billing",
        ("How does proration work?", "Upgrade mid-cycle - what will I pay?"),
        (
            "If I upgrade from {plan_name} to the next plan today, will I be charged the "
            "full price or only the difference for the rest of the month?\n\n{signoff}",
        ),
        ("billing", "upgrade"),
    ),
    Template(
        "billing", "high", "negative", "incident", "billing",
        ("Card declined but it's valid", "Payment failed, account locked",
         "Account suspended for non-payment?!"),
        (
            "Our account got suspended because a payment failed, but the card works "
            "everywhere else. Now my whole team of {count} people can't work. Unlock it "
            "immediately.\n\n{signoff}",
        ),
        ("billing", "payment_failed"),
    ),
    Template(
        "billing", "medium", "negative", None, "billing",
        ("Cancel my subscription", "Please cancel and stop charging me",
         "Charged after cancelling"),
        (
            "I cancelled on {date} and you still charged me {amount} today. I want this "
            "refunded and my card removed. Do not make me dispute this with my bank."
            "\n\n{signoff}",
            "Please cancel our subscription effective immediately. The product no longer "
            "fits our needs.\n\n{signoff}",
        ),
        ("billing", "cancellation"),
    ),
    Template(
        "billing", "low", "neutral", "question", "billing",
        ("Need receipts for 2026", "Where can I download invoices?"),
        (
            "Our accountant needs all receipts for this year. Is there a way to download "
            "them in one go? Send them to {email} if easier.\n\n{signoff}",
        ),
        ("billing", "invoice"),
    ),
    # --- support / how-to ----------------------------------------------------------------
    Template(
        "support", "low", "neutral", "question", "tier1",
        ("How do I invite my team?", "Adding users to my account", "Invite teammates"),
        (
            "Hi! How do I add two colleagues to our account? I can't find the option in "
            "Settings.\n\n{signoff}",
            "What's the best way to invite {count} staff members and give them read-only "
            "access?\n\n{signoff}",
        ),
        ("how_to", "users"),
    ),
    Template(
        "support", "medium", "neutral", "question", "tier1",
        ("Lost my phone - 2FA reset", "Reset two-factor authentication",
         "Locked out, new phone"),
        (
            "I got a new phone and my authenticator codes are gone. Can you reset 2FA for "
            "{email}? I can verify with my phone number {phone}.\n\n{signoff}",
        ),
        ("login", "2fa"),
    ),
    Template(
        "support", "low", "neutral", "question", "tier1",
        ("Change account email", "Update login email address"),
        (
            "Please change the login email on our account from {email} to {email2}. I no "
            "longer have access to the old mailbox.\n\n{signoff}",
        ),
        ("account",),
    ),
    Template(
        "support", "low", "positive", "question", "tier1",
        ("Setting up {integration}", "How to connect {integration}?"),
        (
            "Hello, we just signed up (great onboarding!). How do we connect {integration} so "
            "new orders flow in automatically?\n\n{signoff}",
        ),
        ("how_to", "integration"),
    ),
    Template(
        "support", "low", "neutral", "question", "tier1",
        ("Where is my API key?", "Generating an API token"),
        (
            "I'm a developer at {company}. Where do I create an API key for the {product}? "
            "The docs mention a Developer tab I don't see.\n\n{signoff}",
        ),
        ("how_to", "api"),
    ),
    Template(
        "support", "low", "neutral", "question", "tier1",
        ("Export all our data", "Full data export (GDPR)"),
        (
            "Under GDPR I'd like a copy of all data you store about me and my company. My "
            "account is {email}.\n\n{signoff}",
        ),
        ("gdpr", "export"),
    ),
    Template(
        "support", "low", "neutral", "question", "tier1",
        ("Change timezone", "How to set the account timezone?"),
        (
            "We moved offices. How do I change the account timezone so reports close at "
            "midnight local time?\n\n{signoff}",
        ),
        ("how_to",),
    ),
    Template(
        "support", "low", "positive", "question", "tier1",
        ("Custom domain for invoices", "Use our own domain for the customer portal"),
        (
            "Can invoices be sent from billing@our-domain instead of your address? We're on "
            "{plan_name}. Thanks!\n\n{signoff}",
        ),
        ("how_to", "invoicing"),
    ),
    # --- outages / urgent ----------------------------------------------------------------
    Template(
        "bug", "high", "negative", "incident", "engineering",
        ("URGENT: everything returns 500", "Site down for us", "Is {product} down?"),
        (
            "Every page gives \"500 Internal Server Error\" since {hour}:10 UTC. Our whole "
            "operation is stopped. Status page says all green. PLEASE respond.\n\n{signoff}",
            "Nobody in our office ({count} people) can use the {product}. Errors everywhere. "
            "This is costing us money every minute.\n\n{signoff}",
        ),
        ("outage",),
    ),
    Template(
        "bug", "high", "negative", "incident", "engineering",
        ("Data missing from account", "All our invoices disappeared",
         "Records gone after update"),
        (
            "I logged in and the last three weeks of invoices are gone. We did not delete "
            "anything. I need this restored today, we have an audit.\n\n{signoff}",
        ),
        ("data_loss",),
    ),
    Template(
        "bug", "high", "negative", "incident", "engineering",
        ("Payments not processing", "Customers can't pay invoices"),
        (
            "Since this morning customers clicking \"Pay now\" get \"Payment could not be "
            "processed\". We've lost {count} payments already. Stripe dashboard shows "
            "nothing.\n\n{signoff}",
        ),
        ("payments", "outage"),
    ),
    Template(
        "bug", "high", "neutral", "incident", "engineering",
        ("API timeouts", "API requests timing out", "Slow API since {date}"),
        (
            "Requests to the {product} take 30+ seconds and many time out (504). p95 was "
            "300 ms last week. Request id example: {request_id}.\n\n{signoff}",
        ),
        ("api", "performance"),
    ),
    # --- other ---------------------------------------------------------------------------
    Template(
        "other", "low", "positive", None, "success",
        ("Thank you!", "Great support from {agent_first}", "Just wanted to say thanks"),
        (
            "Just a quick note to say {agent_first} solved our issue in ten minutes. Best "
            "support I've had from any software company. Keep it up!\n\n{signoff}",
            "We've been using the {product} for a year now and it saved us hours every week. "
            "Thank you to the whole team.\n\n{signoff}",
        ),
        ("praise",),
    ),
    Template(
        "other", "low", "neutral", None, "success",
        ("Partnership inquiry", "Reseller program?", "Agency partnership"),
        (
            "I run a small accounting agency with {count} clients. Do you have a partner or "
            "reseller program? Call me at {phone}.\n\n{signoff}",
        ),
        ("partnership",),
    ),
    Template(
        "other", "low", "neutral", None, "success",
        ("Press inquiry", "Interview request for an article"),
        (
            "I'm writing an article on small-business software for a trade magazine. Could "
            "someone from your team answer a few questions by {date}?\n\n{signoff}",
        ),
        ("press",),
    ),
    Template(
        "other", "low", "neutral", None, "tier1",
        ("Re: your message", "Out of office", "Automatic reply"),
        (
            "I am out of the office until {date} with limited access to email. For urgent "
            "matters please contact {email2}.\n\n{signoff}",
        ),
        ("auto_reply",),
    ),
    # --- other languages -----------------------------------------------------------------
    Template(
        "billing", "medium", "negative", None, "billing",
        ("Cobro duplicado", "Me cobraron dos veces"),
        (
            "Hola, me cobraron {amount} dos veces este mes. Por favor devuelvan el cargo "
            "duplicado. Mi correo es {email}.\n\nSaludos",
        ),
        ("billing", "lang_es"),
    ),
    Template(
        "bug", "medium", "negative", "problem", "engineering",
        ("Export funktioniert nicht", "Fehler beim Export"),
        (
            "Hallo, seit dem letzten Update funktioniert der Export nach CSV nicht mehr. Es "
            "erscheint die Meldung {error_code}. Bitte um schnelle Hilfe.\n\nViele Grüße",
        ),
        ("export", "lang_de"),
    ),
    Template(
        "support", "low", "neutral", "question", "tier1",
        ("Comment ajouter un utilisateur ?", "Question sur les factures"),
        (
            "Bonjour, comment puis-je ajouter un collègue à notre compte ? Je ne trouve pas "
            "l'option.\n\nMerci d'avance",
        ),
        ("how_to", "lang_fr"),
    ),
    Template(
        "bug", "high", "negative", "incident", "engineering",
        ("Sistema fora do ar", "Não consigo acessar"),
        (
            "Olá, ninguém da nossa equipe consegue acessar o sistema desde as {hour}h. "
            "Precisamos de ajuda urgente.\n\nObrigado",
        ),
        ("outage", "lang_pt"),
    ),
]  # fmt: skip

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
