"""Language detection with py3langid, whose model ships inside its package (no download).

The local model covers SUPPORTED_LANGUAGES (its training data); tickets in any other language
are detected and left to the LLM in cascade mode. Short texts are where detectors guess: below
MIN_CONFIDENCE the guess is narrowed to the supported languages, so a terse "Export broken" is
not sent to the LLM as Dutch.
"""

from __future__ import annotations

import threading

from py3langid.langid import MODEL_FILE, LanguageIdentifier

SUPPORTED_LANGUAGES = ("en", "de", "es", "pt", "fr")
MIN_CONFIDENCE = 0.5
MAX_DETECT_CHARS = 400
"""A few sentences decide the language; reading further only costs time."""

_lock = threading.Lock()
_identifiers: dict[str, LanguageIdentifier] = {}


def _identifier(kind: str) -> LanguageIdentifier:
    with _lock:
        identifier = _identifiers.get(kind)
        if identifier is None:
            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            if kind == "supported":
                identifier.set_languages(list(SUPPORTED_LANGUAGES))
            _identifiers[kind] = identifier
        return identifier


def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639 code, probability); "und" with 0.0 for text without letters."""
    sample = text[:MAX_DETECT_CHARS]
    if not any(char.isalpha() for char in sample):
        return "und", 0.0
    code, probability = _identifier("all").classify(sample)
    if probability >= MIN_CONFIDENCE:
        return str(code), round(float(probability), 4)
    code, probability = _identifier("supported").classify(sample)
    return str(code), round(float(probability), 4)


def is_supported(language: str) -> bool:
    return language in SUPPORTED_LANGUAGES
