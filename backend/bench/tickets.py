"""Realistic support e-mails for the benches: long, messy and full of personal data.

Bodies are drawn (seeded, reproducible) from what real inboxes hold: a greeting, one to four
paragraphs about a bug, a billing dispute, a how-to question or a feature wish, personal data
(e-mails, phone numbers, Luhn-valid card numbers, IBANs, addresses, IP addresses, an API
key), a signature with a legal footer, and often the quoted thread below ("On ... wrote:",
"> " lines, forwarded headers). Some carry a pasted log or stack trace and pass 10 KB.
The median body is about 1,000 characters (at least 600).

    python bench/tickets.py [--count 1000]   # prints the size distribution
"""

from __future__ import annotations

import argparse
import random
import statistics
from dataclasses import dataclass

FIRST_NAMES = ["Maria", "Jonas", "Aiko", "Pierre", "Fatima", "Liam", "Sofia", "Ravi", "Chen"]
LAST_NAMES = ["Lopez", "Schmidt", "Tanaka", "Dubois", "Haddad", "Murphy", "Rossi", "Patel"]
COMPANIES = ["Acme GmbH", "Northwind Ltd", "Globex Inc.", "Initech SARL", "Umbrella BV"]
STREETS = ["Hauptstrasse 12", "221B Baker Street", "5 Rue de Rivoli", "742 Evergreen Terrace"]
CITIES = ["10115 Berlin", "London NW1 6XE", "75001 Paris", "Springfield, OR 97477"]

PROBLEMS = {
    "bug": (
        "Export to CSV fails",
        [
            "Since this morning the export page crashes as soon as I click save. The spinner "
            "keeps turning for about a minute and then we get a blank page with error 500.",
            "It worked fine last week, nothing changed on our side as far as I know. Three of "
            "my colleagues see exactly the same thing on Chrome and Firefox.",
            "We need this report for the monthly close, so this is blocking the finance team. "
            "I attached a screenshot and the browser console output below.",
        ],
    ),
    "billing": (
        "Charged twice for the March invoice",
        [
            "I was charged twice for invoice INV-2291 this month, once on the 3rd and again on "
            "the 4th, both for the full annual amount.",
            "Please refund the duplicate payment to the same card. Our accounting department "
            "also needs a corrected invoice with our VAT number on it.",
            "Could you also confirm that the plan will renew at the price we agreed in the "
            "contract and not at the new list price?",
        ],
    ),
    "support": (
        "How do I give a colleague admin access?",
        [
            "We added a new team lead last week and I cannot find where to give her admin "
            "rights. The documentation mentions a Roles tab but I do not see it.",
            "Is it because we are on the Team plan? If so, what are the options?",
            "Also, is there a way to transfer ownership of the workspace to her while I am on "
            "parental leave and get it back later?",
        ],
    ),
    "feature": (
        "Feature request: scheduled exports",
        [
            "It would be great if exports could run on a schedule, e.g. every Monday at 6am, "
            "and land in our S3 bucket or be sent by e-mail.",
            "Right now someone has to remember to do it by hand and it is often forgotten.",
            "Several of your competitors offer this already, so it would help us justify the "
            "renewal internally.",
        ],
    ),
}

DISCLAIMER = (
    "CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and may be "
    "privileged. If you are not the intended recipient, please notify the sender immediately "
    "and delete this message. Any unauthorised use, disclosure or copying is prohibited. "
    "Registered office: {street}, {city}. Registered in the commercial register under "
    "HRB 123456. Managing directors: {name}."
)

LOG_LINE = (
    "{ts} ERROR [export-worker-{n}] request_id={rid} user={email} ip={ip} "
    "java.lang.IllegalStateException: export buffer closed\n"
    "    at com.example.export.CsvWriter.flush(CsvWriter.java:{line})\n"
    "    at com.example.export.ExportJob.run(ExportJob.java:88)\n"
)


@dataclass(frozen=True)
class RealisticTicket:
    subject: str
    body: str
    category: str


def luhn_card(rng: random.Random) -> str:
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if index % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    return " ".join(text[i : i + 4] for i in range(0, 16, 4))


def person(rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company = rng.choice(COMPANIES)
    domain = company.split()[0].lower() + ".example.com"
    return {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}@{domain}",
        "phone": f"+49 30 {rng.randrange(1000000, 9999999)}",
        "company": company,
        "street": rng.choice(STREETS),
        "city": rng.choice(CITIES),
        "ip": f"203.0.113.{rng.randrange(1, 255)}",
    }


def _signature(who: dict[str, str], rng: random.Random, disclaimer: bool) -> str:
    lines = [
        "Best regards,",
        who["name"],
        f"Head of Operations | {who['company']}",
        f"{who['street']}, {who['city']}",
        f"Phone: {who['phone']} | Mail: {who['email']}",
    ]
    if disclaimer:
        lines += ["", DISCLAIMER.format(street=who["street"], city=who["city"], name=who["name"])]
    return "\n".join(lines)


def _quoted_thread(rng: random.Random, who: dict[str, str], depth: int) -> str:
    parts = []
    for level in range(1, depth + 1):
        agent = person(rng)
        prefix = "> " * level
        said = [
            f"On Tue, 4 Mar 2025 at 09:{rng.randrange(10, 59)}, {agent['name']} "
            f"<support@example.com> wrote:",
            "Thank you for contacting us. Could you tell us which browser and version you use,",
            "and send us the exact time the problem happened so we can look at our logs?",
            f"Your case number is #{rng.randrange(100000, 999999)}.",
            "",
            "Kind regards,",
            f"{agent['name']}, Customer Support",
        ]
        parts.append("\n".join(prefix + line if line else prefix.rstrip() for line in said))
    forwarded = (
        "---------- Forwarded message ---------\n"
        f"From: {who['name']} <{who['email']}>\nDate: Mon, 3 Mar 2025\nSubject: Re: case\n"
    )
    return "\n\n".join(([forwarded] if rng.random() < 0.3 else []) + parts)


def make_ticket(rng: random.Random) -> RealisticTicket:
    category = rng.choice(list(PROBLEMS))
    subject, paragraphs = PROBLEMS[category]
    who = person(rng)
    body = [rng.choice(["Hello team,", "Hi,", "Dear support,", f"Hello {who['company']} team,"])]
    body += paragraphs[: rng.randint(1, len(paragraphs))]
    pii = [
        f"You can reach me at {who['phone']} or {who['email']}.",
        f"The card on file is {luhn_card(rng)}.",
        f"Our IBAN is DE89 3704 0044 0532 0130 {rng.randrange(10, 99)}.",
        f"The requests come from {who['ip']}.",
        "Our API key is sk-live-" + "".join(rng.choice("abcdef0123456789") for _ in range(32)),
        f"Please send the documents to {who['street']}, {who['city']}.",
    ]
    body += rng.sample(pii, k=rng.randint(2, 4))
    if rng.random() < 0.06:  # a pasted log: the body passes 10 KB
        lines = [
            LOG_LINE.format(
                ts=f"2025-03-04T09:{minute % 60:02d}:{minute % 57:02d}Z",
                n=minute % 8,
                rid=f"{rng.getrandbits(64):016x}",
                email=who["email"],
                ip=who["ip"],
                line=100 + minute,
            )
            for minute in range(rng.randint(50, 90))
        ]
        body.append("Here is the log:\n" + "".join(lines))
    body.append(_signature(who, rng, disclaimer=rng.random() < 0.6))
    if rng.random() < 0.7:
        body.append(_quoted_thread(rng, who, depth=rng.randint(1, 3)))
    return RealisticTicket(subject=f"{subject} ({who['company']})", body="\n\n".join(body),
                           category=category)  # fmt: skip


def realistic_tickets(count: int, seed: int = 17) -> list[RealisticTicket]:
    rng = random.Random(seed)
    return [make_ticket(rng) for _ in range(count)]


def size_summary(tickets: list[RealisticTicket]) -> dict[str, float]:
    sizes = [len(ticket.body) for ticket in tickets]
    return {
        "ticket_body_median_chars": statistics.median(sizes),
        "ticket_body_max_chars": max(sizes),
        "ticket_body_over_10kb_share": sum(size > 10_000 for size in sizes) / len(sizes),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    for name, value in size_summary(realistic_tickets(parser.parse_args().count)).items():
        print(f"{name}={value:g}")
