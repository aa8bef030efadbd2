"""Sentiment: VADER (lexicon shipped in its package) on the text without courtesy formulas."""

from __future__ import annotations

import re

from app.analysis.text import word_set
from app.enums import Sentiment

SENTIMENT_POSITIVE_THRESHOLD = 0.4
SENTIMENT_NEGATIVE_THRESHOLD = -0.4

# --- sentiment -----------------------------------------------------------------------------
COURTESY_RE = re.compile(
    r"\b(?:thank(?:s| you)(?: (?:so|very) much)?(?: in advance)?"
    r"(?: for (?:your|the) (?:help|assistance|time|support|attention|understanding|patience"
    r"|prompt (?:attention|response|assistance)|consideration))?"
    r"|(?:much |greatly |highly |really )?appreciat(?:e|ed|ion|ive)"
    r"|i hope (?:this|that) (?:message|email|e-mail|note|letter) finds you well"
    r"|hope (?:you are|you're) (?:doing )?well|(?:kind|best|warm|warmest)? ?regards"
    r"|looking forward to (?:hearing from you|your (?:reply|response|assistance))"
    r"|(?:would|'d) (?:like|love) to|please|kindly|dear|sincerely|cheers"
    r"|(?:good|great) (?:morning|afternoon|evening|day)|valued customer|welcome)\b",
    re.IGNORECASE,
)

SUPPORT_NEUTRAL_WORDS = word_set(
    """
    help helps helped helping helpful support supports supported supporting assist assistance
    solution solutions solve solved resolve resolved resolving growth grow care secure securing
    security protect protected protection safeguard safeguarding prevent ensure ensures ensuring
    like please thank thanks appreciate appreciated grateful hope hoping kind kindly well dear
    welcome greetings respected interested interest keen eager eagerly await advice recommend
    recommended benefit benefits beneficial improve improved improving improvement improvements
    enhance enhanced enhancing efficient efficiency efficiently effective effectively optimize
    optimizing optimized optimization optimal robust success successful value valued valuable
    important essential significant substantial vital matter matters reach reaching reached share
    sharing number troubleshoot troubleshooting swift swiftly challenge challenges engagement
    integrity increase increased comprehensive ability advanced progress stable creation clear
    boost boosting restore highlight gain free trust confident clarity innovative creative urgent
    urgently critical problem problems issue issues error errors question questions
    """
)
"""Words VADER scores but that are routine vocabulary in support tickets, not sentiment."""


def sentiment_from_compound(compound: float) -> tuple[Sentiment, float]:
    """Label a VADER compound score; confidence is 0.5 at a threshold, 1 at the extremes."""
    if compound >= SENTIMENT_POSITIVE_THRESHOLD:
        span = 1.0 - SENTIMENT_POSITIVE_THRESHOLD
        return Sentiment.positive, unit(
            0.5 + 0.5 * (compound - SENTIMENT_POSITIVE_THRESHOLD) / span
        )
    if compound <= SENTIMENT_NEGATIVE_THRESHOLD:
        span = 1.0 + SENTIMENT_NEGATIVE_THRESHOLD
        return Sentiment.negative, unit(
            0.5 + 0.5 * (SENTIMENT_NEGATIVE_THRESHOLD - compound) / span
        )
    threshold = SENTIMENT_POSITIVE_THRESHOLD if compound > 0 else -SENTIMENT_NEGATIVE_THRESHOLD
    return Sentiment.neutral, unit(1.0 - 0.5 * abs(compound) / threshold)


def unit(value: float) -> float:
    return round(min(1.0, max(0.0, float(value))), 4)
