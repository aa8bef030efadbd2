"""Plausible ticket labels from keyword heuristics: what the simulated model answers."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

Labeller = Callable[[list[Mapping[str, Any]]], dict[str, Any]]
"""Messages → labels (category, urgency, sentiment, confidence, language, summary,
reply_draft, suggested_tags) that the simulated model fills the response schema with."""


def _words(alternatives: str) -> re.Pattern[str]:
    """Case-insensitive whole-word match of "a|b|c" alternatives."""
    return re.compile(r"\b(?:" + alternatives + r")\b", re.IGNORECASE)


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


_CATEGORY_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "bug",
        _words(
            "crash(?:es|ed|ing)?|error|errors|bug|bugs|broken|exception|fails?|failing"
            "|failed|not working|doesn'?t work|stack ?trace|500|502|freez(?:e|es|ing)"
            "|blank page|regression"
        ),
    ),
    (
        "billing",
        _words(
            "refund(?:ed|s)?|invoice[sd]?|charged?|charges|billing|billed|payment"
            "|subscription|overcharged|receipt|credit card|pricing|price|vat"
            "|cancel my (?:plan|subscription)"
        ),
    ),
    (
        "feature",
        _words(
            "would be (?:great|nice|awesome|helpful)|feature|feature request|please add"
            "|could you add|suggestion|it would help|wish|roadmap|support for"
        ),
    ),
    (
        "support",
        _words(
            "how (?:do|can) i|how to|help|question|can'?t find|password reset"
            "|reset my password|log ?in|sign ?in|access|set ?up|configure|documentation"
        ),
    ),
)
_URGENCY_HIGH = _words(
    "urgent|urgently|asap|immediately|critical|outage|down|production|emergency|data loss"
    "|security|losing money|all users"
)
_URGENCY_MEDIUM = _words("soon|blocked|blocking|important|deadline|again|still")
_NEGATIVE = _words(
    "angry|frustrat(?:ed|ing)|terrible|unacceptable|disappointed|worst|annoy(?:ed|ing)|hate"
    "|ridiculous|awful|useless|cancel"
)
_POSITIVE = _words("thanks?|thank you|great|love|awesome|appreciate|excellent|happy|wonderful")
_LANGUAGE_WORDS: dict[str, frozenset[str]] = {
    "de": _vocabulary("der die das und nicht ist bitte ich wir mit danke hallo funktioniert"),
    "fr": _vocabulary("le la les est pas merci bonjour je nous avec une fonctionne"),
    "es": _vocabulary("el la los es por favor gracias hola no funciona tengo una"),
    "pt": _vocabulary("o os não obrigado olá uma com está funciona"),
    "it": _vocabulary("il gli non grazie ciao una con funziona sono"),
    "nl": _vocabulary("de het een niet werkt bedankt hallo wij met"),
}
_TAG_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("refund", _words("refund(?:ed|s)?")),
    ("invoice", _words("invoice[sd]?")),
    ("double-charge", _words("charged twice|double charge|duplicate charges?")),
    ("payment", _words("payment|credit card|card")),
    ("crash", _words("crash(?:es|ed|ing)?")),
    ("error", _words("error|exception")),
    ("login", _words("log ?in|sign ?in|password")),
    ("performance", _words("slow|timeout|latency")),
    ("export", _words("export")),
    ("api", _words("api")),
    ("outage", _words("outage|down")),
)
_REPLIES: dict[str, str] = {
    "en": "Hello, thank you for contacting us. We are looking into your request about {topic} "
    "and will get back to you shortly.",
    "de": "Hallo, vielen Dank für Ihre Nachricht. Wir prüfen Ihr Anliegen zu {topic} und melden "
    "uns in Kürze.",
    "fr": "Bonjour, merci de nous avoir contactés. Nous examinons votre demande concernant "
    "{topic} et revenons vers vous rapidement.",
    "es": "Hola, gracias por contactarnos. Estamos revisando su solicitud sobre {topic} y le "
    "responderemos en breve.",
}
# The ticket block on its own lines (prompts may mention the tags in their instructions).
_TICKET_RE = re.compile(r"^<ticket>[ \t]*\n(.*)\n</ticket>[ \t]*$", re.DOTALL | re.MULTILINE)
_SUBJECT_RE = re.compile(r"<subject>(.*?)</subject>", re.DOTALL)
_REPLY_OFF_RE = re.compile(
    r"reply_draft[^.\n]*\bempty\b|\bempty\b[^.\n]*reply_draft|reply draft: not requested", re.I
)


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("text")
        )
    return ""


_ENGLISH_WORDS = frozenset({"the", "and", "is", "not", "please", "my", "we"})


def _analyse(messages: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Plausible labels for the ticket in the last user message (keyword heuristics)."""
    user_text = next((_message_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
    ticket_match = _TICKET_RE.search(user_text)
    ticket = ticket_match.group(1) if ticket_match else user_text
    instructions = user_text.replace(ticket, "") if ticket_match else ""
    subject_match = _SUBJECT_RE.search(ticket)
    subject = " ".join(subject_match.group(1).split()) if subject_match else ""

    scores = {name: len(pattern.findall(ticket)) for name, pattern in _CATEGORY_RULES}
    best = max(scores, key=lambda name: scores[name])
    category = best if scores[best] else "other"
    hits = scores[best]

    if _URGENCY_HIGH.search(ticket):
        urgency = "high"
    elif _URGENCY_MEDIUM.search(ticket) or category == "bug":
        urgency = "medium"
    else:
        urgency = "low"

    mood = len(_POSITIVE.findall(ticket)) - 2 * len(_NEGATIVE.findall(ticket))
    sentiment = "positive" if mood > 0 else "negative" if mood < 0 else "neutral"

    # Word counts once, then set intersections: a loop over every word for every language
    # was most of the simulator's CPU per call on long tickets.
    counts = Counter(re.findall(r"[a-zäöüßéèàçñãõ]+", ticket.lower()))
    language_hits = {
        code: sum(counts[word] for word in vocabulary & counts.keys())
        for code, vocabulary in _LANGUAGE_WORDS.items()
    }
    top_language = max(language_hits, key=lambda code: language_hits[code])
    english_hits = sum(counts[word] for word in _ENGLISH_WORDS & counts.keys())
    language = top_language if language_hits[top_language] > max(2, english_hits) else "en"

    body_text = " ".join(re.sub(r"</?(?:subject|body)>", " ", ticket).split())
    rest = body_text.replace(subject, "", 1).strip()
    first_sentence = re.split(r"(?<=[.!?])\s", rest, maxsplit=1)[0]
    topic = subject or first_sentence[:80] or "your ticket"
    summary = f"{subject}: {first_sentence}" if subject else first_sentence or "Empty ticket."

    tags = [tag for tag, pattern in _TAG_RULES if pattern.search(ticket)]
    reply_off = bool(_REPLY_OFF_RE.search(instructions))
    reply = "" if reply_off else _REPLIES.get(language, _REPLIES["en"]).format(topic=topic[:80])
    return {
        "category": category,
        "urgency": urgency,
        "sentiment": sentiment,
        "confidence": round(min(0.95, 0.55 + 0.1 * hits), 2) if hits else 0.4,
        "language": language,
        "summary": summary,
        "reply_draft": reply,
        "suggested_tags": tags,
    }
