"""The customer messages the demo tickets are made of, with each kind's own labels.

Written for this project as realistic support mail (e-mails, web-form and chat messages in
English, German, French, Spanish and Portuguese). The labels belong to the template a ticket
is rendered from: what the message was written to be (a billing question, an outage, a
feature wish), never what a model said about it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    """One kind of customer message and its labels: what the message was written to be."""

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
