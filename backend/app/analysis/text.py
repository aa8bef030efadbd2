"""Text handling shared by the offline model, its training and the rules: cleaning, the
model's view of a ticket, n-grams, extractive summary and language detection."""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

from app.analysis.normalize import normalize_body

MAX_MODEL_CHARS = 6000
"""Longer texts are cut before featurizing: keeps analyze() bounded on pathological input."""
MAX_INPUT_CHARS = 20_000
"""Nothing in an analysis reads further than this into a subject or body."""
SUMMARY_MAX_CHARS = 300
SUMMARY_TARGET_CHARS = 120
CHAR_NGRAM_RANGE = (2, 5)

_WORD_RE = re.compile(r"\b\w\w+\b")
_HTML_TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]{0,200}>")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES_RE = re.compile(r"[ \t\r\f\v\u00a0]+")
_WHITESPACE_RE = re.compile(r"\s+")


def word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# --- summary -------------------------------------------------------------------------------
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_GREETING_PREFIX_RE = re.compile(
    r"^(?:dear|hello|hi|hey|greetings|good (?:morning|afternoon|evening)|to whom it may concern)"
    r"\b[^,.!?:\n]{0,50}[,:!\-]?\s*",
    re.IGNORECASE,
)
_FILLER_SENTENCE_RE = re.compile(
    r"^(?:i hope (?:this|that|you)|hope you|thank(?:s| you)|many thanks|best|kind|warm|regards"
    r"|sincerely|cheers|looking forward|sent from my|cordially)\b",
    re.IGNORECASE,
)


def clean_text(text: str | None) -> str:
    """Strip NULs, control characters and HTML tags; keep line breaks, collapse other spaces.

    Only the first MAX_INPUT_CHARS characters are kept.
    """
    if not text:
        return ""
    text = _CONTROL_RE.sub(" ", text[:MAX_INPUT_CHARS])
    text = _HTML_TAG_RE.sub("\n", text)
    return _SPACES_RE.sub(" ", text).strip()


def model_text(subject: str | None, body: str | None) -> str:
    """The lowercased, length-capped text the models and rules see."""
    return model_text_of_normalized(clean_text(subject), normalize_body(clean_text(body)))


def model_text_of_normalized(subject: str, body: str) -> str:
    """Subject twice (it names the problem; bodies ramble), then the normalised body."""
    return f"{subject}\n{subject}\n{body}"[:MAX_MODEL_CHARS].lower()


def word_ngrams(text: str) -> list[str]:
    """Word unigrams and bigrams of an already lowercased text."""
    tokens = _WORD_RE.findall(text)
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


@lru_cache(maxsize=65536)
def word_char_ngrams(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    size = len(padded)
    low, high = CHAR_NGRAM_RANGE
    return tuple(
        padded[start : start + n]
        for n in range(low, min(high, size) + 1)
        for start in range(size - n + 1)
    )


def char_ngrams(text: str) -> list[str]:
    """Character 2-5-grams inside space-padded words of an already lowercased text."""
    grams: list[str] = []
    for word in text.split():
        grams.extend(word_char_ngrams(word))
    return grams


def summarize(subject: str, body: str) -> str:
    """First meaningful sentence(s) of the body, whitespace-collapsed; subject as fallback."""
    return summary_of_clean(clean_text(subject), clean_text(body))


def summary_of_clean(subject: str, body: str) -> str:
    picked: list[str] = []
    length = 0
    for raw in _SENTENCE_SPLIT_RE.split(body[: SUMMARY_MAX_CHARS * 10]):
        sentence = _GREETING_PREFIX_RE.sub("", _WHITESPACE_RE.sub(" ", raw).strip()).strip()
        if len(sentence) < 3 or not any(ch.isalnum() for ch in sentence):
            continue
        if _FILLER_SENTENCE_RE.match(sentence):
            continue
        if picked and length + 1 + len(sentence) > SUMMARY_MAX_CHARS:
            break
        picked.append(sentence)
        length += len(sentence) + (1 if len(picked) > 1 else 0)
        if length >= SUMMARY_TARGET_CHARS:
            break
    summary = " ".join(picked) or _WHITESPACE_RE.sub(" ", subject).strip()
    return _truncate(summary, SUMMARY_MAX_CHARS)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "\u2026"
