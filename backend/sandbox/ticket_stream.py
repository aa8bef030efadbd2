"""A synthetic support queue of one company, for long cascade and learning-curve streams.

The demo seed (`sandbox.make_seed`) has 260 tickets; measuring whether the cascade pays for
itself needs thousands of tickets of one customer's domain that no shipped model was trained
on. This module writes them: the support queue of "Bookwell", an online booking and scheduling
service for clinics, salons and studios. Every text is composed from the parts below (written
for this project, not taken from any data set); the labels are those of the parts a ticket is
made of, never what a model said:

- category: the scenario the customer writes about (a sync failure is a bug, a wish for
  recurring group classes a feature, a double charge billing, a how-to question support,
  a partnership pitch or job application other);
- urgency: the impact the customer states (a clinic that cannot take bookings today is
  high, "whenever you get a chance" low); without a stated impact, the scenario's default;
- sentiment: the tone the message is written in (an angry opener, praise, or plain).

Scenarios occur with unequal frequency (a few common issues, a long tail), some appear only
after a point in the stream (a new feature brings new questions and bugs), and each ticket is
an e-mail, a web form or a chat message with its own conventions (quoted replies, signatures,
lower case and typos in chat). It is still synthetic: a real queue has a longer tail and
noisier labels, so figures on it are optimistic in that respect; say so where they are used.

    python -m sandbox.ticket_stream --count 3000 --seed 1 --out stream.csv
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("subject", "body", "category", "urgency", "sentiment")


@dataclass(frozen=True)
class Scenario:
    category: str
    urgency: str  # the default when the ticket states no impact
    weight: float
    subjects: tuple[str, ...]
    problems: tuple[str, ...]
    # Which stated impacts fit: e.g. a how-to question is never "high".
    urgencies: tuple[str, ...] = ("low", "medium", "high")
    starts_at: float = 0.0  # share of the stream before which it never occurs
    sentiment: str | None = None  # the tone when the scenario fixes it (a thank-you note)


S = Scenario
# fmt: off
SCENARIOS: tuple[Scenario, ...] = (
    # --- bugs ---------------------------------------------------------------------------
    S("bug", "high", 6, ("Google Calendar sync stopped", "Bookings not showing in {calendar}",
      "Calendar sync broken", "sync issue"),
      ("Appointments booked online no longer appear in our {calendar}. The last synced one is "
       "from {day} morning.",
       "The two-way sync with {calendar} stopped working. New bookings stay in Bookwell only "
       "and the staff calendars are empty.",
       "Since the update on {day} nothing syncs to {calendar} anymore, the integration page "
       "still says connected.")),
    S("bug", "high", 5, ("Booking page not loading", "Our booking page is down",
      "Clients can't book online", "Booking widget blank"),
      ("Our public booking page shows a blank white screen for every client. Tried {browser} "
       "and my phone, same thing.",
       "The booking widget embedded on our website just spins and never loads the time slots.",
       "Clients are calling us because the online booking page gives error {error}."),
      urgencies=("medium", "high")),
    S("bug", "medium", 5, ("Reminder SMS not sent", "Clients not getting reminders",
      "Text reminders missing", "No reminder emails"),
      ("Clients stopped receiving the reminder text the day before their appointment. The "
       "setting is still on under Notifications.",
       "None of our clients got their reminder e-mails for {day}. We had {count} no-shows.",
       "The SMS reminders go out for some staff members but not for others, no idea why.")),
    S("bug", "medium", 4, ("Double booking happened", "Same slot booked twice",
      "Overlapping appointments", "double bookings again"),
      ("Two clients were able to book the same 10:30 slot with {staff}. The calendar showed "
       "it as free for both.",
       "We keep getting double bookings: the slot is taken but still offered on the booking "
       "page.",
       "Yesterday {staff} had three overlapping appointments that the system accepted.")),
    S("bug", "medium", 3, ("App crashes on Android", "Staff app keeps closing",
      "Mobile app crash", "App freezes when opening calendar"),
      ("The staff app on {device} crashes as soon as I open the week view.",
       "Since the last update the Bookwell app closes by itself when I tap on an appointment. "
       "Device: {device}.",
       "The app freezes on the loading screen on {device}, reinstalling didn't help.")),
    S("bug", "low", 3, ("Wrong time zone on confirmation", "Times off by one hour",
      "Confirmation shows wrong time"),
      ("The confirmation e-mail shows the appointment one hour later than it is in the "
       "calendar. Our location is set to {timezone}.",
       "Since the clocks changed, the times in reminder texts are an hour off.",
       "Clients in {timezone} see the slots shifted by an hour on the booking page.")),
    S("bug", "medium", 3, ("Payment at booking fails", "Deposit payment error",
      "Clients can't pay the deposit"),
      ("When clients try to pay the deposit at booking they get \"{error}\" and the booking "
       "is not saved.",
       "The card form on the booking page rejects every card since {day}, even ones that "
       "work elsewhere.")),
    S("bug", "low", 2, ("Typo in the German booking page", "Translation missing",
      "Button text cut off"),
      ("On the German version of the booking page the button says \"Termin buchen\" twice "
       "and the second one does nothing.",
       "The \"Cancel appointment\" button text is cut off on small phones.",
       "Some labels on the French booking page are still in English.")),
    S("bug", "medium", 2, ("Export to Excel broken", "Report export empty",
      "CSV export has no rows"),
      ("Exporting the monthly appointments report gives an empty file.",
       "The export to Excel downloads but the revenue column is all zeros.")),
    S("bug", "high", 2, ("Can't log in", "Login not working", "Locked out of my account",
      "password reset link broken"),
      ("I can't log in: after entering my password the page reloads and I'm back at the "
       "login screen.",
       "The password reset link in the e-mail says it has expired, every time, even when I "
       "click it right away.",
       "None of our staff can log in this morning, we get error {error}."),
      urgencies=("medium", "high")),
    S("bug", "medium", 3, ("Waitlist not notifying clients", "Waitlist emails not sent",
      "Waitlist bug"),
      ("A slot opened up but nobody on the waitlist was notified.",
       "The waitlist offered the same freed slot to two clients at once."),
      starts_at=0.45),
    S("bug", "low", 1, ("Logo looks blurry", "Colours wrong on booking page"),
      ("Our logo looks blurry on the booking page although I uploaded a large PNG.",
       "The brand colour I picked shows as a different shade on the confirmation page."),
      urgencies=("low", "medium")),
    # --- features ------------------------------------------------------------------------
    S("feature", "low", 4, ("Feature request: recurring appointments",
      "Recurring bookings?", "Suggestion - repeat appointments"),
      ("It would be great if clients could book a recurring weekly appointment instead of "
       "booking each one by hand.",
       "Could you add repeating appointments? Many of our physio clients come every "
       "Tuesday.",
       "We'd love an option to set up a series of appointments in one go."),
      urgencies=("low", "medium")),
    S("feature", "low", 3, ("Group classes", "Request: class bookings with capacity",
      "Feature idea for group sessions"),
      ("We run yoga classes and need a way to let up to {count} people book the same slot.",
       "Please add group bookings with a maximum number of participants per class.",
       "Is there any plan to support classes where several clients book one time slot?"),
      urgencies=("low", "medium")),
    S("feature", "low", 3, ("Integration with {tool}", "Any plans for a {tool} integration?",
      "{tool} connection please"),
      ("We use {tool} for our accounting and would love to send paid appointments there "
       "automatically.",
       "Do you plan to integrate with {tool}? Right now we copy everything by hand.",
       "A {tool} integration would save us hours every week."),
      urgencies=("low", "medium")),
    S("feature", "low", 2, ("Dark mode for the staff app", "Suggestion: dark theme"),
      ("Small wish: a dark mode for the staff app, the evening shifts would thank you.",
       "Would it be possible to have a dark theme in the dashboard?"),
      urgencies=("low",)),
    S("feature", "medium", 2, ("Custom intake form fields", "Need more fields on the booking form",
      "Add custom questions to booking"),
      ("We need to ask new clients for their insurance number when they book. Can we add "
       "our own fields to the booking form?",
       "Please let us add custom questions (allergies, referral) to the booking form."),
      urgencies=("low", "medium")),
    S("feature", "low", 2, ("Waitlist priority option", "Idea for the new waitlist"),
      ("The new waitlist is great. Could regular clients get priority over new ones?",
       "Suggestion for the waitlist: let us choose how long a client has to accept a slot."),
      urgencies=("low", "medium"), starts_at=0.45),
    S("feature", "low", 2, ("More SMS templates", "Custom reminder text"),
      ("We would like to write our own reminder text, the default one is a bit stiff.",
       "Could you add a second reminder an hour before the appointment?"),
      urgencies=("low", "medium")),
    # --- billing -------------------------------------------------------------------------
    S("billing", "high", 4, ("Charged twice this month", "Double charge on my card",
      "Duplicate payment", "billed 2x"),
      ("We were charged {amount} twice for the {plan} plan this month, invoice {invoice} and "
       "another one the same day.",
       "My card statement shows two charges of {amount} from Bookwell on {day}.",
       "You billed us twice for the same period, please refund one of them."),
      urgencies=("medium", "high")),
    S("billing", "medium", 4, ("Question about my invoice", "Invoice {invoice}",
      "Invoice amount looks wrong", "VAT on invoice"),
      ("Invoice {invoice} shows {amount} but our plan is cheaper, can you explain the "
       "difference?",
       "Our invoice is missing our VAT number, we need it corrected for our accountant.",
       "Could you resend invoice {invoice} with our new company address?"),
      urgencies=("low", "medium")),
    S("billing", "medium", 3, ("Cancel subscription", "How do I cancel?", "Stop my plan",
      "Downgrade to {plan}"),
      ("We are closing the second location and want to downgrade to the {plan} plan from "
       "next month.",
       "Please cancel our subscription at the end of this billing period.",
       "How do I switch from yearly to monthly billing?"),
      urgencies=("low", "medium")),
    S("billing", "medium", 3, ("Refund request", "Refund for unused months",
      "Money back for the outage?"),
      ("We cancelled in the first week of the month, can we get a refund for the rest?",
       "After last week's outage we lost bookings. Is there any credit for that?",
       "I was charged for {count} staff seats but we only have 3, please refund the "
       "difference.")),
    S("billing", "high", 2, ("Payment failed, account suspended", "Account locked for payment",
      "Card declined - account paused"),
      ("Our account was suspended because the card payment failed. I updated the card but "
       "it's still locked.",
       "The renewal payment was declined and now the booking page is offline for our "
       "clients."),
      urgencies=("medium", "high")),
    S("billing", "low", 2, ("Pricing for more staff", "Cost of adding a location"),
      ("What would it cost to add a second location with 4 more staff members?",
       "How is the price calculated when we add seasonal staff for two months?"),
      urgencies=("low", "medium")),
    # --- support (how-to) ----------------------------------------------------------------
    S("support", "low", 5, ("How do I block a day off?", "Holidays in the calendar",
      "Question about closing days", "how to block time"),
      ("How do I block a whole day so clients can't book it? {staff} is on holiday next "
       "week.",
       "What's the easiest way to close the booking page over the holidays?",
       "Where can I set public holidays for our location?"),
      urgencies=("low", "medium")),
    S("support", "low", 4, ("Add a new staff member", "How to add an employee",
      "New therapist account"),
      ("We hired a new therapist. How do I give her access without sharing my login?",
       "How do I add a staff member and set their working hours?",
       "Can a staff member see only their own calendar?"),
      urgencies=("low", "medium")),
    S("support", "low", 4, ("Change booking page text", "How to edit services",
      "Setting up service durations"),
      ("How do I change the duration of a service? Massages are now 50 minutes.",
       "Where can I edit the description text that clients see on the booking page?",
       "How do I add a buffer of 10 minutes between appointments?"),
      urgencies=("low", "medium")),
    S("support", "medium", 3, ("Move appointments to another staff member",
      "Reassign bookings", "Staff member left - what now?"),
      ("{staff} is leaving us. How can I move all her future appointments to another "
       "colleague?",
       "How do I reassign a client's bookings when their therapist is sick?")),
    S("support", "low", 3, ("Embed booking widget", "Booking button on our website",
      "Widget on Wix"),
      ("How do I put the booking button on our {site} website?",
       "Is there a guide for embedding the booking widget on {site}?"),
      urgencies=("low", "medium")),
    S("support", "medium", 2, ("Import clients from old system", "Migrating client list",
      "Import from spreadsheet"),
      ("We are switching from another booking tool. How do we import about {count} clients "
       "with their history?",
       "What format does the client import need? Our spreadsheet has first and last name "
       "in one column."),
      urgencies=("low", "medium")),
    S("support", "low", 2, ("How does the waitlist work?", "Waitlist setup question"),
      ("How do I switch on the new waitlist for only some services?",
       "Where do I see who is on the waitlist for a given day?"),
      urgencies=("low", "medium"), starts_at=0.45),
    S("support", "low", 2, ("GDPR data export for a client", "Client asked for their data"),
      ("A client asked for all the data we hold about them. How do I export it?",
       "How do I delete a client's records completely when they ask us to?"),
      urgencies=("low", "medium")),
    # --- other ---------------------------------------------------------------------------
    S("other", "low", 2, ("Partnership proposal", "Collaboration idea", "Reseller inquiry"),
      ("We are a marketing agency for salons and would like to discuss a partnership with "
       "Bookwell.",
       "Do you have a reseller programme? We set up software for about {count} clinics.",
       "I write a blog about running a small studio and would love to feature Bookwell."),
      urgencies=("low",)),
    S("other", "low", 1, ("Job application", "Open positions?", "Internship"),
      ("I saw that you are hiring support agents. Attached is my CV.",
       "Are you taking interns in customer success this summer?"),
      urgencies=("low",)),
    S("other", "low", 1, ("Out of office", "Automatic reply", "Away until {day}"),
      ("I am out of the office until {day} with limited access to e-mail. For urgent "
       "matters please contact {staff}.",
       "Thank you for your message. I'm on leave and will reply when I'm back."),
      urgencies=("low",), sentiment="neutral"),
    S("other", "low", 1, ("Thank you!", "Just wanted to say thanks", "Great product"),
      ("No question, just wanted to say the new booking page looks great and our clients "
       "love it.",
       "Thanks to your team for the webinar last week, very useful."),
      urgencies=("low",), sentiment="positive"),
    S("other", "low", 1, ("Press inquiry", "Interview request", "Survey for our magazine"),
      ("I'm a journalist writing about software for independent clinics. Could I ask your "
       "founders a few questions?",
       "We're running a survey among booking software vendors for our trade magazine."),
      urgencies=("low",)),
)
# fmt: on

IMPACT = {
    "high": (
        "We can't take any bookings right now and clients are calling the front desk.",
        "This is blocking our whole clinic today, please treat it as urgent.",
        "We have a full day of appointments and no way to see them, this is urgent.",
        "All {count} of our staff are affected, we need this fixed right away.",
        "Our busiest day starts in an hour, please help ASAP.",
        "Clients are turning up for appointments we can't see, so this is critical for us.",
        "Every hour this stays broken costs us bookings.",
    ),
    "medium": (
        "We can work around it for now.",
        "We'd like this sorted this week if possible.",
        "It affects a few clients a day, so not an emergency, but please look into it.",
        "Could someone have a look in the next few days?",
        "We manage by hand for now, but it costs us time.",
    ),
    "low": (
        "No rush at all, whenever you get a chance.",
        "Not urgent, just curious.",
        "Whenever you have time, thanks.",
        "Low priority, we're planning ahead.",
    ),
}
LOW_BUG_IMPACT = (
    "Minor thing, it's not affecting clients.",
    "Low priority, just something I noticed.",
    "Just a small cosmetic thing.",
)
TONE = {
    "negative": (
        "This is the second time I'm writing about this and nobody answered.",
        "Honestly, this is really frustrating.",
        "I'm very disappointed with how this has been handled.",
        "We pay for the premium plan and this keeps happening.",
        "Still waiting for a reply from your team since {day}.",
        "Seriously, this is unacceptable.",
    ),
    "positive": (
        "We love Bookwell, our clients find the booking page so easy.",
        "Thanks a lot for the quick help last time, you're great.",
        "Really happy with the service so far!",
        "Big fan of the new update, well done.",
    ),
}
TONE_WEIGHTS = {  # (negative, neutral, positive) by category
    "bug": (0.45, 0.45, 0.10),
    "feature": (0.05, 0.55, 0.40),
    "billing": (0.35, 0.55, 0.10),
    "support": (0.08, 0.67, 0.25),
    "other": (0.0, 0.55, 0.45),
}
GREETINGS = ("Hi,", "Hello,", "Hi team,", "Hello Bookwell support,", "Dear support team,",
             "Hey there,", "Good morning,", "")  # fmt: skip
CONTEXTS = (
    "We run a physiotherapy clinic with {count} therapists.",
    "I own a small hair salon in {city}.",
    "We're a yoga studio and use Bookwell for all our classes.",
    "I manage the front desk of a dental practice.",
    "Our massage studio has been with you for two years.",
    "I'm the office manager at a veterinary clinic in {city}.",
    "", "", "",
)  # fmt: skip
TRIED = (
    "I already logged out and in again.",
    "Cleared the cache, same result.",
    "I checked the help centre but couldn't find anything.",
    "Screenshot attached.",
    "It happens on {browser} and on my phone.",
    "", "", "",
)  # fmt: skip
ASKS = (
    "Can you help?", "Could you please look into this?", "What should I do?",
    "Please advise.", "Any idea?", "Let me know.", "",
)  # fmt: skip
SIGNOFFS = ("Thanks,\n{name}", "Best regards,\n{name}\n{company}", "Kind regards,\n{name}",
            "{name}", "Cheers,\n{first}", "Thank you\n{first}\n\nSent from my iPhone",
            "Best,\n{name}\n{company} | {phone}")  # fmt: skip
FIRST = ("Anna", "Ben", "Carla", "David", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas",
         "Kemi", "Liam", "Mara", "Nils", "Olga", "Pedro", "Rosa", "Sven", "Tara",
         "Yusuf")  # fmt: skip
LAST = ("Meyer", "Okafor", "Rossi", "Lindqvist", "Tanaka", "Novak", "Haddad", "Moreau",
        "Costa", "Walker", "Fischer", "Kim")  # fmt: skip
COMPANIES = ("Harbor Physio", "Studio Lumen", "Oak Dental", "Cut & Colour", "Calm Yoga",
             "Northside Vets", "Kinetic Clinic", "Bloom Spa", "Riverside Massage")  # fmt: skip
SLOTS = {
    "calendar": ("Google Calendar", "Outlook", "iCloud calendar", "Google calendar"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the 3rd", "last Friday"),
    "browser": ("Chrome", "Firefox", "Safari", "Edge"),
    "error": ("500", "ERR_BOOKING_TIMEOUT", "Something went wrong (E1043)", "403 Forbidden"),
    "count": ("3", "5", "8", "12", "40", "200", "1,500"),
    "staff": ("Sarah", "Tom", "Dr. Weber", "Lena", "Marco", "our new hire"),
    "device": ("Pixel 7", "Galaxy S22", "iPhone 13", "iPad", "iPhone 15"),
    "timezone": ("Europe/Berlin", "America/New_York", "Europe/London", "Australia/Sydney"),
    "amount": ("$49.00", "$89.00", "$129.00", "€79.00", "$290.00"),
    "plan": ("Starter", "Team", "Clinic", "Premium"),
    "invoice": ("BW-20418", "BW-20977", "BW-21503", "BW-19882"),
    "tool": ("QuickBooks", "Xero", "Mailchimp", "Zoom", "Stripe", "HubSpot"),
    "site": ("Wix", "Squarespace", "WordPress", "Shopify"),
    "city": ("Leeds", "Porto", "Austin", "Lyon", "Graz", "Cork"),
}
TYPOS = {"the": "teh", "booking": "bookng", "please": "pls", "appointment": "appt",
         "you": "u", "calendar": "calender", "because": "bc"}  # fmt: skip


def _fill(text: str, rng: random.Random, person: dict[str, str]) -> str:
    values = {key: rng.choice(options) for key, options in SLOTS.items()}
    values.update(person)
    return text.format(**values)


def _person(rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "first": first,
        "name": f"{first} {last}",
        "company": rng.choice(COMPANIES),
        "phone": f"+44 20 7946 {rng.randint(0, 9999):04d}",
    }


def _chatify(text: str, rng: random.Random) -> str:
    words = text.lower().replace("\n", " ").split()
    return " ".join(TYPOS.get(w, w) if rng.random() < 0.5 else w for w in words)


def ticket(rng: random.Random, position: float) -> dict[str, str]:
    """One ticket at `position` (0..1) of the stream, with the labels of its parts."""
    live = [s for s in SCENARIOS if s.starts_at <= position]
    scenario = rng.choices(live, weights=[s.weight for s in live])[0]
    person = _person(rng)
    urgency = scenario.urgency
    impact = ""
    if rng.random() < 0.75:
        urgency = rng.choice(scenario.urgencies)
        low_bug = urgency == "low" and scenario.category == "bug"
        impact = rng.choice(IMPACT[urgency] + (LOW_BUG_IMPACT if low_bug else ()))
    negative, neutral, _ = TONE_WEIGHTS[scenario.category]
    draw = rng.random()
    sentiment = (
        "negative" if draw < negative else "neutral" if draw < negative + neutral else ("positive")
    )
    sentiment = scenario.sentiment or sentiment
    tone = rng.choice(TONE[sentiment]) if sentiment != "neutral" else ""
    problem = rng.choice(scenario.problems)
    parts = [rng.choice(CONTEXTS), problem, rng.choice(TRIED) if scenario.category == "bug"
             else "", impact, rng.choice(ASKS)]  # fmt: skip
    if tone:
        parts.insert(0 if sentiment == "negative" and rng.random() < 0.6 else len(parts), tone)
    paragraph = " ".join(part for part in parts if part)
    subject = rng.choice(scenario.subjects)
    channel = rng.random()
    if channel < 0.2:  # chat: one line, lower case, typos, no signature
        body = _chatify(paragraph, rng)
        subject = f"Chat with {person['first']}"
    elif channel < 0.45:  # web form
        body = f"Name: {{name}}\nCompany: {{company}}\nTopic: {subject}\n\nMessage:\n{paragraph}"
    else:  # e-mail
        greeting = rng.choice(GREETINGS)
        body = (f"{greeting}\n\n" if greeting else "") + paragraph
        body += "\n\n" + rng.choice(SIGNOFFS)
        if rng.random() < 0.2:
            subject = f"Re: {subject}"
            body += (
                "\n\nOn {day}, Bookwell Support <support@bookwell.example> wrote:\n"
                "> Thanks for contacting Bookwell support. We have received your request and "
                "will get back to you shortly.\n> Ticket reference: BW-"
                f"{rng.randint(10000, 99999)}"
            )
    return {
        "subject": _fill(subject, rng, person),
        "body": _fill(body, rng, person),
        "category": scenario.category,
        "urgency": urgency,
        "sentiment": sentiment,
    }


def generate(count: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [ticket(rng, index / max(1, count)) for index in range(count)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="CSV path (default: standard output)")
    args = parser.parse_args(argv)
    rows = generate(args.count, args.seed)
    handle = args.out.open("w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    finally:
        if args.out:
            handle.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
