"""Offline ticket analyzer: no network, no key; used without an OpenAI key and as LLM fallback.

Category and urgency come from linear models over TF-IDF word and character n-grams whose
weights live in a portable ``.npz`` artifact (numpy-only inference, no pickle), with
probabilities calibrated at training time. Explicit urgency signals (outage, breach, data loss,
login failure, deadline, legal threat) raise urgency to high. Sentiment is VADER on the text
with courtesy formulas removed. Training lives in ``app.ml.train``.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from app.enums import Category, Sentiment, Urgency

DEFAULT_ARTIFACT_PATH = Path(__file__).resolve().parents[1] / "ml" / "artifacts" / "offline_v1.npz"
ARTIFACT_FORMAT = 1
FIELDS = ("category", "urgency")
LABEL_ENUMS: dict[str, type[Category] | type[Urgency]] = {
    "category": Category,
    "urgency": Urgency,
}

MAX_MODEL_CHARS = 6000
"""Longer texts are cut before featurizing: keeps analyze() bounded on pathological input."""
MAX_INPUT_CHARS = 20_000
"""Nothing in an analysis reads further than this into a subject or body."""
SUMMARY_MAX_CHARS = 300
SUMMARY_TARGET_CHARS = 120
MAX_TAGS = 5
_CHAR_CACHE_SIZE = 200_000

CHAR_NGRAM_RANGE = (2, 5)
SENTIMENT_POSITIVE_THRESHOLD = 0.4
SENTIMENT_NEGATIVE_THRESHOLD = -0.4

_WORD_RE = re.compile(r"\b\w\w+\b")
_HTML_TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]{0,200}>")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES_RE = re.compile(r"[ \t\r\f\v\u00a0]+")
_WHITESPACE_RE = re.compile(r"\s+")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# --- explicit urgency signals --------------------------------------------------------------
_NEGATED_URGENCY_RE = re.compile(
    r"\b(?:not|isn't|is not|wasn't|no|nothing|non)[- ]"
    r"(?:very |really |that |particularly |too |super |an? )?"
    r"(?:urgent|urgently|critical|emergency|urgency|rush|hurry|deadline)\b|\bno (?:rush|hurry)\b"
)
_PREVENTIVE_CONTEXT_RE = re.compile(
    r"\b(?:prevent(?:s|ed|ing)?|avoid(?:s|ed|ing)?|against|prevention|protect(?:s|ion|ing)?"
    r"|risks? of|in case of|in the event of|minimi[sz]e|reduce|schedule[ds]?|planned"
    r"|detect(?:ing)?|policy|policies|how (?:do|does|would|can|could))\b[^.!?\n]{0,60}$"
)
URGENCY_RULES: dict[str, re.Pattern[str]] = {
    "outage": re.compile(
        r"\b(?:outages?|down for (?:everyone|everybody|all(?: users| of us)?|us all)"
        r"|(?:site|website|service|server|system|app|application|platform|api|everything|portal"
        r"|network|database|dashboard|checkout)s? (?:is|are|was|were|has been|have been|went"
        r"|goes|keeps going) (?:completely |totally |still |all )?down"
        r"|(?:unexpected |unplanned )?downtime|service (?:disruption|interruption|unavailable)"
        r"|(?:service|server|platform|network|site|system) crash(?:ed|es)?"
        r"|not (?:loading|responding|working) for (?:anyone|everyone|all))\b"
    ),
    "security_breach": re.compile(
        r"\b(?:(?:security|data) (?:breach|incident|compromise)(?:es)?"
        r"|(?:been|was|were|got|get|is|are) (?:hacked|compromised|breached)|hacked|hacker"
        r"|unauthori[sz]ed (?:access|logins?|transactions?|charges?|activity)"
        r"|ransomware|malware (?:attack|infection)|account takeover)\b"
    ),
    "data_loss": re.compile(
        r"\b(?:data loss|lost (?:all |some |most )?(?:of )?(?:my |our |the )?"
        r"(?:data|files|records|work|documents|emails|database)"
        r"|(?:data|files?|records?|documents?|emails?|database) (?:(?:was|were|has been"
        r"|have been|got|are|is) )?(?:deleted|lost|wiped|erased|corrupted|disappeared|gone)"
        r"|deleted (?:all|everything)|data (?:corruption|wiped))\b"
    ),
    "login_failure": re.compile(
        r"(?:\b(?:can ?not|can't|can.t|cannot|unable to|couldn't|could not|can no longer"
        r"|not able to|fail(?:ed|ing|s)? to) (?:log ?in(?:to)?|login|sign ?in(?:to)?"
        r"|access (?:my|our|the) (?:account|system|dashboard|email|portal)s?)\b"
        r"|\blocked out\b|\b(?:account|accounts) (?:is |are |was |has been |have been |got )?"
        r"(?:locked|suspended|disabled|blocked)\b"
        r"|\blogin (?:fails|failed|failure|not working|broken)\b"
        r"|\b(?:password reset|2fa|mfa|two[- ]factor) (?:is )?"
        r"(?:not working|fails|failed|broken)\b)"
    ),
    "deadline": re.compile(
        r"\b(?:urgent(?:ly)?|emergency|time[- ]sensitive|deadline"
        r"|immediate (?:attention|assistance|action|help|response|fix)"
        r"|by (?:tomorrow|tonight|today|end of (?:the )?(?:day|week)|eod|cob|noon"
        r"|this (?:afternoon|evening)|monday|tuesday|wednesday|thursday|friday)"
        r"|within (?:the next )?(?:\d+|an?|one|two|few) (?:hours?|minutes?))\b"
    ),
    "legal_threat": re.compile(
        r"\b(?:lawyers?|attorneys?|lawsuits?|legal action|legal proceedings|solicitors?"
        r"|(?:will|going to|gonna) sue|sue (?:you|your)|take (?:you|this|it) to court"
        r"|small claims)\b"
    ),
}
"""Rule name -> pattern on lowercased text; any hit raises urgency to high."""
_PREVENTIVE_RULES = frozenset({"outage", "security_breach", "data_loss"})

URGENCY_RULE_NAMES: tuple[str, ...] = tuple(URGENCY_RULES)

# --- topic tags ----------------------------------------------------------------------------
_TOPIC_TAGS: dict[str, str] = {
    "refund": r"refund",
    "invoice": r"invoice",
    "payment": r"payment|credit card|debit card|charged|overcharg|paypal",
    "subscription": r"subscription|renewal|upgrade (?:my|our) plan|downgrade",
    "login": r"(?:log ?in|sign ?in|password|2fa|mfa|two[- ]factor|sso)\b",
    "account": r"account settings|delete (?:my|our) account|profile\b",
    "security": r"security|breach|hack|unauthori[sz]ed|malware|encryption",
    "data-privacy": r"(?:gdpr|hipaa|privacy|personal data|compliance)\b",
    "outage": r"outage|downtime|service disruption",
    "performance": r"slow|latency|lag|timeout|performance|freez",
    "crash": r"crash",
    "integration": r"integrat|api\b|webhook|zapier|slack|salesforce|plugin",
    "data-export": r"export|backup|back up|csv|download (?:my|our|the) data",
    "sync": r"sync",
    "email": r"(?:e-?mails?|outlook|inbox|smtp)\b",
    "mobile": r"(?:ios|android|iphone|ipad|mobile app)\b",
    "printer": r"printer",
    "network": r"(?:vpn|wi-?fi|router|firewall|network)\b",
    "hardware": r"(?:laptop|hardware|keyboard|device)\b",
    "feature-request": (
        r"feature request|would (?:like|love) (?:to see|a feature)|please add|add support for"
    ),
    "documentation": r"(?:documentation|docs|tutorial|guide|how to|how do i)\b",
    "return": (
        r"(?:return(?:ing)? (?:the|my|our|an?|this) (?:item|order|product|device|laptop|printer"
        r"|purchase)|exchange (?:the|my|our|an?|this) (?:item|order|product|device)|return label"
        r"|replacement (?:unit|device|product|item)|rma)\b"
    ),
    "shipping": r"(?:shipping|delivery|shipment|tracking number)\b",
    "training": r"(?:training|onboarding)\b",
}
"""Tag -> pattern anchored at a word start, on lowercased text."""
_TOPIC_TAG_BY_GROUP = {tag.replace("-", "_"): tag for tag in _TOPIC_TAGS}
_TOPIC_TAGS_RE = re.compile(
    r"\b(?:"
    + "|".join(f"(?P<{tag.replace('-', '_')}>{pattern})" for tag, pattern in _TOPIC_TAGS.items())
    + ")"
)
"""One alternation behind one word boundary: a single cheap scan instead of one per tag."""

# --- sentiment -----------------------------------------------------------------------------
_COURTESY_RE = re.compile(
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

SUPPORT_NEUTRAL_WORDS = _word_set(
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

# --- language ------------------------------------------------------------------------------
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _word_set("the and is are to of for with my our you this that it not have please"),
    "de": _word_set("der die das und ist nicht mit ich wir sie ein eine für zu auf bitte"),
    "fr": _word_set("le la les et est pas avec je nous vous une des pour sur merci dans"),
    "es": _word_set("el la los las y es no con yo nosotros una para por gracias del que"),
    "pt": _word_set("o os as e é não com eu nós uma para por obrigado do da que"),
    "it": _word_set("il lo gli le e è non con io noi una per grazie del della che"),
    "nl": _word_set("de het en is niet met ik wij een voor op bedankt van dat"),
}
_SCRIPT_LANGUAGES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
)


@dataclass(frozen=True)
class OfflineAnalysis:
    """One ticket's offline classification; confidences are probabilities in [0, 1]."""

    category: Category
    category_confidence: float
    urgency: Urgency
    urgency_confidence: float
    sentiment: Sentiment
    sentiment_confidence: float
    summary: str
    suggested_tags: list[str]
    language: str
    urgency_signals: list[str]


# --- text helpers shared with training ------------------------------------------------------
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
    return _model_text_of_clean(clean_text(subject), clean_text(body))


def _model_text_of_clean(subject: str, body: str) -> str:
    return f"{subject}\n{body}"[:MAX_MODEL_CHARS].lower()


def word_ngrams(text: str) -> list[str]:
    """Word unigrams and bigrams of an already lowercased text."""
    tokens = _WORD_RE.findall(text)
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


@lru_cache(maxsize=65536)
def _word_char_ngrams(word: str) -> tuple[str, ...]:
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
        grams.extend(_word_char_ngrams(word))
    return grams


def find_urgency_signals(text: str) -> list[str]:
    """Names of the explicit urgency rules matching a lowercased text, in rule order."""
    text = _NEGATED_URGENCY_RE.sub(" ", text)
    fired: list[str] = []
    for name, pattern in URGENCY_RULES.items():
        for match in pattern.finditer(text):
            if name in _PREVENTIVE_RULES and _PREVENTIVE_CONTEXT_RE.search(
                text, max(0, match.start() - 80), match.start()
            ):
                continue
            fired.append(name)
            break
    return fired


def rule_features(signals: Sequence[str]) -> list[float]:
    """One indicator per urgency rule, in URGENCY_RULE_NAMES order."""
    return [1.0 if name in signals else 0.0 for name in URGENCY_RULE_NAMES]


def summarize(subject: str, body: str) -> str:
    """First meaningful sentence(s) of the body, whitespace-collapsed; subject as fallback."""
    return _summary_of_clean(clean_text(subject), clean_text(body))


def _summary_of_clean(subject: str, body: str) -> str:
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


def suggest_tags(text: str, signals: Sequence[str]) -> list[str]:
    """Lowercase slugs: fired urgency rules first, then topics by first mention."""
    tags = [signal.replace("_", "-") for signal in signals][:MAX_TAGS]
    for match in _TOPIC_TAGS_RE.finditer(text):
        if len(tags) >= MAX_TAGS:
            break
        tag = _TOPIC_TAG_BY_GROUP[match.lastgroup or ""]
        if tag not in tags:
            tags.append(tag)
    return tags


def detect_language(text: str) -> str:
    """ISO 639-1 code by script, then by stopword overlap; "en" when unsure."""
    sample = text[:2000]
    for code, pattern in _SCRIPT_LANGUAGES:
        if len(pattern.findall(sample)) >= 3:
            return code
    words = _WORD_RE.findall(sample.lower())
    if not words:
        return "en"
    scores = {code: sum(word in stop for word in words) for code, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda code: scores[code])
    return best if scores[best] > scores["en"] else "en"


# --- the model ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _FieldModel:
    classes: tuple[str, ...]
    column_start: int
    column_stop: int
    calibration_coef: np.ndarray
    calibration_intercept: np.ndarray

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        logits = scores[:, self.column_start : self.column_stop] @ self.calibration_coef.T
        logits += self.calibration_intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def _decode_vocabulary(raw: np.ndarray) -> dict[str, int]:
    text = raw.tobytes().decode("utf-8")
    return {term: index for index, term in enumerate(text.split("\n"))} if text else {}


class OfflineAnalyzer:
    """Loads a trained artifact once; analyze() is pure CPU, about a millisecond per ticket."""

    def __init__(self, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
        if metadata.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"unsupported offline model format: {metadata.get('format')!r}")
        self.metadata = metadata
        self.version: str = metadata["version"]
        self._word_vocab = _decode_vocabulary(arrays["word_vocab"])
        self._char_vocab = _decode_vocabulary(arrays["char_vocab"])
        self._word_idf = arrays["word_idf"].astype(np.float64)
        self._char_idf = arrays["char_idf"].astype(np.float64)
        self._rule_weight = float(metadata["features"]["rule_weight"])
        self._char_offset = len(self._word_vocab)
        self._rule_offset = self._char_offset + len(self._char_vocab)
        self._weights = arrays["coef"].astype(np.float64)
        self._intercept = arrays["intercept"].astype(np.float64)
        self._fields: dict[str, _FieldModel] = {}
        for field in FIELDS:
            info = metadata["fields"][field]
            self._fields[field] = _FieldModel(
                classes=tuple(info["classes"]),
                column_start=info["columns"][0],
                column_stop=info["columns"][1],
                calibration_coef=arrays[f"{field}_calibration_coef"].astype(np.float64),
                calibration_intercept=arrays[f"{field}_calibration_intercept"].astype(np.float64),
            )
        self._rule_high_rate = float(metadata["urgency_rules"]["high_rate"])
        self._sentiment = SentimentIntensityAnalyzer()
        for word in SUPPORT_NEUTRAL_WORDS:
            self._sentiment.lexicon.pop(word, None)
        self._char_cache: dict[str, tuple[int, ...]] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> OfflineAnalyzer:
        """Read an artifact written by app.ml.train (default: the committed one)."""
        with np.load(path or DEFAULT_ARTIFACT_PATH, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        metadata = json.loads(arrays.pop("metadata").tobytes().decode("utf-8"))
        return cls(arrays, metadata)

    @property
    def classes(self) -> dict[str, tuple[str, ...]]:
        return {field: model.classes for field, model in self._fields.items()}

    # -- features and scores --
    @staticmethod
    def _weigh(known: list[int], idf: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """Sublinear tf-idf, l2-normalised, as in training."""
        counts = Counter(known)
        if not counts:
            return np.empty(0, dtype=np.intp), np.empty(0)
        indices = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        values = np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts))) + 1.0
        values *= idf[indices]
        values /= math.sqrt(float(values @ values))
        return indices + offset, values

    def _char_indices(self, text: str) -> list[int]:
        """Known character n-gram ids of a text, memoised per word (words repeat a lot)."""
        indices: list[int] = []
        cache, vocab = self._char_cache, self._char_vocab
        for word in text.split():
            known = cache.get(word)
            if known is None:
                known = tuple(
                    index
                    for gram in _word_char_ngrams(word)
                    if (index := vocab.get(gram)) is not None
                )
                if len(cache) < _CHAR_CACHE_SIZE:
                    cache[word] = known
            indices.extend(known)
        return indices

    def _features(self, text: str, signals: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        word_idx, word_val = self._weigh(
            [i for gram in word_ngrams(text) if (i := self._word_vocab.get(gram)) is not None],
            self._word_idf,
            0,
        )
        char_idx, char_val = self._weigh(
            self._char_indices(text), self._char_idf, self._char_offset
        )
        rule_idx = np.array(
            [self._rule_offset + i for i, name in enumerate(URGENCY_RULE_NAMES) if name in signals],
            dtype=np.intp,
        )
        rule_val = np.full(len(rule_idx), self._rule_weight)
        return np.concatenate([word_idx, char_idx, rule_idx]), np.concatenate(
            [word_val, char_val, rule_val]
        )

    def _scores(self, texts: Sequence[str], signals: Sequence[Sequence[str]]) -> np.ndarray:
        """Raw decision scores (n_texts x all classifier columns), one gather for the batch."""
        scores = np.tile(self._intercept, (len(texts), 1))
        features = [self._features(text, sig) for text, sig in zip(texts, signals, strict=True)]
        lengths = np.array([len(indices) for indices, _ in features], dtype=np.intp)
        non_empty = np.flatnonzero(lengths)
        if len(non_empty):
            indices = np.concatenate([features[i][0] for i in non_empty])
            values = np.concatenate([features[i][1] for i in non_empty])
            starts = np.concatenate([[0], np.cumsum(lengths[non_empty])[:-1]])
            contributions = self._weights[indices] * values[:, None]
            scores[non_empty] += np.add.reduceat(contributions, starts, axis=0)
        return scores

    def predict_proba(
        self, subjects: Sequence[str], bodies: Sequence[str]
    ) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        """Calibrated probabilities of the learned models per field (urgency rules not applied)."""
        texts = [model_text(s, b) for s, b in zip(subjects, bodies, strict=True)]
        scores = self._scores(texts, [find_urgency_signals(text) for text in texts])
        return {
            field: (model.classes, model.probabilities(scores))
            for field, model in self._fields.items()
        }

    # -- per-field pieces --
    def sentiment(self, subject: str, body: str) -> tuple[Sentiment, float]:
        """VADER compound of the text without courtesy formulas; confidence from its magnitude."""
        return self._sentiment_of_clean(clean_text(subject), clean_text(body))

    def _sentiment_of_clean(self, subject: str, body: str) -> tuple[Sentiment, float]:
        text = _COURTESY_RE.sub(" ", f"{subject}.\n{body}"[:MAX_MODEL_CHARS])
        compound = float(self._sentiment.polarity_scores(text)["compound"])
        return sentiment_from_compound(compound)

    def analyze(self, subject: str, body: str) -> OfflineAnalysis:
        """Classify one ticket."""
        return self.analyze_many([(subject, body)])[0]

    def analyze_many(self, items: Sequence[tuple[str, str]]) -> list[OfflineAnalysis]:
        """Classify a batch; the linear models score all tickets in one numpy pass."""
        if not items:
            return []
        subjects = [clean_text(subject) for subject, _ in items]
        bodies = [clean_text(body) for _, body in items]
        texts = [_model_text_of_clean(s, b) for s, b in zip(subjects, bodies, strict=True)]
        signals = [find_urgency_signals(text) for text in texts]
        scores = self._scores(texts, signals)
        category_model, urgency_model = self._fields["category"], self._fields["urgency"]
        category_proba = category_model.probabilities(scores)
        urgency_proba = urgency_model.probabilities(scores)
        high_column = (
            urgency_model.classes.index(Urgency.high)
            if Urgency.high in urgency_model.classes
            else None
        )
        results: list[OfflineAnalysis] = []
        for row, (subject, body, text, fired) in enumerate(
            zip(subjects, bodies, texts, signals, strict=True)
        ):
            category_index = int(category_proba[row].argmax())
            urgency_index = int(urgency_proba[row].argmax())
            urgency = Urgency(urgency_model.classes[urgency_index])
            urgency_confidence = float(urgency_proba[row, urgency_index])
            if fired:
                high_proba = 0.0 if high_column is None else float(urgency_proba[row, high_column])
                urgency, urgency_confidence = Urgency.high, max(high_proba, self._rule_high_rate)
            sentiment, sentiment_confidence = self._sentiment_of_clean(subject, body)
            results.append(
                OfflineAnalysis(
                    category=Category(category_model.classes[category_index]),
                    category_confidence=_unit(category_proba[row, category_index]),
                    urgency=urgency,
                    urgency_confidence=_unit(urgency_confidence),
                    sentiment=sentiment,
                    sentiment_confidence=sentiment_confidence,
                    summary=_summary_of_clean(subject, body),
                    suggested_tags=suggest_tags(text, fired),
                    language=detect_language(f"{subject}\n{body}"),
                    urgency_signals=list(fired),
                )
            )
        return results


def sentiment_from_compound(compound: float) -> tuple[Sentiment, float]:
    """Label a VADER compound score; confidence is 0.5 at a threshold, 1 at the extremes."""
    if compound >= SENTIMENT_POSITIVE_THRESHOLD:
        span = 1.0 - SENTIMENT_POSITIVE_THRESHOLD
        return Sentiment.positive, _unit(
            0.5 + 0.5 * (compound - SENTIMENT_POSITIVE_THRESHOLD) / span
        )
    if compound <= SENTIMENT_NEGATIVE_THRESHOLD:
        span = 1.0 + SENTIMENT_NEGATIVE_THRESHOLD
        return Sentiment.negative, _unit(
            0.5 + 0.5 * (SENTIMENT_NEGATIVE_THRESHOLD - compound) / span
        )
    threshold = SENTIMENT_POSITIVE_THRESHOLD if compound > 0 else -SENTIMENT_NEGATIVE_THRESHOLD
    return Sentiment.neutral, _unit(1.0 - 0.5 * abs(compound) / threshold)


def _unit(value: float) -> float:
    return round(min(1.0, max(0.0, float(value))), 4)


_cached_analyzer: OfflineAnalyzer | None = None
_cache_lock = threading.Lock()


def get_offline_analyzer() -> OfflineAnalyzer:
    """The process-wide analyzer over the committed artifact, loaded on first use."""
    global _cached_analyzer
    if _cached_analyzer is None:
        with _cache_lock:
            if _cached_analyzer is None:
                _cached_analyzer = OfflineAnalyzer.load()
    return _cached_analyzer
