"""Offline ticket analyzer: no network, no key; used without an OpenAI key and as LLM fallback.

Category and urgency come from linear models over TF-IDF word and character n-grams whose
weights live in a portable ``.npz`` artifact (numpy-only inference, no pickle), with
probabilities calibrated at training time. Explicit urgency signals (outage, breach, data loss,
login failure, deadline, legal threat) raise urgency to high. Sentiment is VADER on the text
with courtesy formulas removed. Training lives in ``app.analysis.ml.train``.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import numpy as np

from app.analysis.language import detect_language, is_supported
from app.analysis.normalize import normalize_body, strip_quoted
from app.analysis.rules import serve_category, serve_urgency
from app.analysis.sentiment import (
    SentimentScorer,
    sentiment_from_compound,
    unit,
)
from app.analysis.signals import (
    URGENCY_RULE_NAMES,
    find_category_cue,
    find_rule_signals,
    suggest_tags,
)
from app.analysis.text import (
    MAX_MODEL_CHARS,
    clean_text,
    model_text_of_normalized,
    summary_of_clean,
    word_char_ngrams,
    word_ngrams,
)
from app.enums import Category, Sentiment, Urgency

DEFAULT_ARTIFACT_PATH = Path(__file__).resolve().parent / "ml" / "artifacts" / "offline_v1.npz"
ARTIFACT_FORMAT = 1
FIELDS = ("category", "urgency")
LABEL_ENUMS: dict[str, type[Category] | type[Urgency] | type[Sentiment]] = {
    "category": Category,
    "urgency": Urgency,
    "sentiment": Sentiment,
}
LEARNED_SENTIMENT = "sentiment"
"""A user's model may carry a sentiment head learned from that user's labels (see
`app.analysis.ml.user_models`); it then replaces the lexicon. The shared model has none.
With `sentiment_stack_coef` / `sentiment_stack_intercept` arrays the head is stacked with the
lexicon: a softmax over `sentiment_stack_features` (see `app.analysis.ml.learned_sentiment`)."""

_CHAR_CACHE_SIZE = 200_000
TEXT_VERSION = 2
"""1: cleaned subject + body; 2: subject twice + normalised body (see `normalize`)."""
ABSTAIN_BELOW = 0.5
"""Below this calibrated confidence a field is reported as uncertain (never as a sure guess)."""


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
    low_urgency_signals: list[str] = dataclass_field(default_factory=list)
    language_supported: bool = True
    uncertain: list[str] = dataclass_field(default_factory=list)
    """Fields whose confidence is below ABSTAIN_BELOW: an honest "not sure"."""


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


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def sentiment_stack_features(
    proba: np.ndarray, compound: np.ndarray, classes: Sequence[str]
) -> np.ndarray:
    """Inputs of a user's stacked sentiment, per row: the learned head's log-probabilities,
    the lexicon's compound score, and the lexicon's label one-hot over the head's classes."""
    lexicon = [sentiment_from_compound(float(value))[0].value for value in compound]
    onehot = np.array([[label == name for name in classes] for label in lexicon], dtype=float)
    return np.hstack([np.log(np.clip(proba, 1e-6, 1.0)), compound.reshape(-1, 1), onehot])


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
        learned = (LEARNED_SENTIMENT,) if LEARNED_SENTIMENT in metadata["fields"] else ()
        for field in (*FIELDS, *learned):
            info = metadata["fields"][field]
            self._fields[field] = _FieldModel(
                classes=tuple(info["classes"]),
                column_start=info["columns"][0],
                column_stop=info["columns"][1],
                calibration_coef=arrays[f"{field}_calibration_coef"].astype(np.float64),
                calibration_intercept=arrays[f"{field}_calibration_intercept"].astype(np.float64),
            )
        self._rule_names = tuple(metadata["features"].get("rules", URGENCY_RULE_NAMES))
        self._text_version = int(metadata["features"].get("text_version", 1))
        self._rule_high_rate = float(metadata["urgency_rules"]["high_rate"])
        self._rule_low_rate = float(metadata["urgency_rules"].get("low_rate", 0.0))
        # False for a user's model whose own labels the urgency rules did worse on.
        self._rules_apply = bool(metadata["urgency_rules"].get("apply", True))
        self._sentiment_stack = (
            (
                arrays["sentiment_stack_coef"].astype(np.float64),
                arrays["sentiment_stack_intercept"].astype(np.float64),
            )
            if "sentiment_stack_coef" in arrays
            else None
        )
        self._sentiment = SentimentScorer()
        self._char_cache: dict[str, tuple[int, ...]] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> OfflineAnalyzer:
        """Read an artifact written by app.analysis.ml.train (default: the committed one)."""
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
                    for gram in word_char_ngrams(word)
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
            [self._rule_offset + i for i, name in enumerate(self._rule_names) if name in signals],
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
        texts = [self.model_text(s, b) for s, b in zip(subjects, bodies, strict=True)]
        scores = self._scores(texts, [find_rule_signals(text) for text in texts])
        return {
            field: (model.classes, model.probabilities(scores))
            for field, model in self._fields.items()
        }

    def model_text(self, subject: str, body: str) -> str:
        """The text this artifact was trained on (its text version) for a raw subject and body."""
        return self._model_text_of_clean(clean_text(subject), clean_text(body))

    def _model_text_of_clean(self, subject: str, body: str, normalized: str | None = None) -> str:
        if self._text_version == 1:
            return f"{subject}\n{body}"[:MAX_MODEL_CHARS].lower()
        return model_text_of_normalized(
            subject, normalize_body(body) if normalized is None else normalized
        )

    # -- per-field pieces --
    def sentiment(self, subject: str, body: str) -> tuple[Sentiment, float]:
        """VADER compound of the text without courtesy formulas; confidence from its magnitude."""
        return self._sentiment_of_clean(clean_text(subject), clean_text(body))

    def _sentiment_of_clean(
        self, subject: str, body: str, normalized: str | None = None
    ) -> tuple[Sentiment, float]:
        """Over the customer's own latest words: `normalize_body` cuts the quoted thread."""
        own_words = normalize_body(body) if normalized is None else normalized
        return self._sentiment.label(f"{subject}.\n{own_words}"[:MAX_MODEL_CHARS])

    def sentiment_compound(self, subject: str, body: str) -> float:
        """The lexicon's compound score in [-1, 1] of the text `sentiment` labels."""
        own_words = normalize_body(clean_text(body))
        return self._sentiment.score(f"{clean_text(subject)}.\n{own_words}"[:MAX_MODEL_CHARS])

    def _stacked_sentiment(self, proba: np.ndarray, subject: str, own_words: str) -> np.ndarray:
        if self._sentiment_stack is None:
            return proba
        coef, intercept = self._sentiment_stack
        compound = self._sentiment.score(f"{subject}.\n{own_words}"[:MAX_MODEL_CHARS])
        classes = self._fields[LEARNED_SENTIMENT].classes
        features = sentiment_stack_features(proba[None, :], np.array([compound]), classes)
        return softmax_rows(features @ coef.T + intercept)[0]

    def analyze(self, subject: str, body: str) -> OfflineAnalysis:
        """Classify one ticket."""
        return self.analyze_many([(subject, body)])[0]

    def analyze_many(self, items: Sequence[tuple[str, str]]) -> list[OfflineAnalysis]:
        """Classify a batch; the linear models score all tickets in one numpy pass."""
        if not items:
            return []
        subjects = [clean_text(subject) for subject, _ in items]
        bodies = [clean_text(body) for _, body in items]
        # The customer's latest message (quoted thread, signature and markup cut), prepared
        # once: features, language and sentiment all read it.
        normalized = [normalize_body(body) for body in bodies]
        texts = [
            self._model_text_of_clean(s, b, n)
            for s, b, n in zip(subjects, bodies, normalized, strict=True)
        ]
        signals = [find_rule_signals(text) for text in texts]
        scores = self._scores(texts, signals)
        category_model, urgency_model = self._fields["category"], self._fields["urgency"]
        category_proba = category_model.probabilities(scores)
        urgency_proba = urgency_model.probabilities(scores)
        sentiment_model = self._fields.get(LEARNED_SENTIMENT)
        sentiment_proba = sentiment_model.probabilities(scores) if sentiment_model else None
        results: list[OfflineAnalysis] = []
        for row, (subject, body, own_text, text, fired) in enumerate(
            zip(subjects, bodies, normalized, texts, signals, strict=True)
        ):
            high = [name for name in fired if name in URGENCY_RULE_NAMES]
            low = [name for name in fired if name not in URGENCY_RULE_NAMES]
            category, category_confidence = serve_category(
                category_model.classes, category_proba[row], find_category_cue(text)
            )
            category_confidence = unit(category_confidence)
            urgency, urgency_confidence = self._served_urgency(urgency_proba[row], high, low)
            own_words = strip_quoted(body)
            language, _ = detect_language(f"{subject}\n{own_text}")
            if sentiment_model is not None and sentiment_proba is not None:
                proba = self._stacked_sentiment(sentiment_proba[row], subject, own_text)
                best = int(np.argmax(proba))
                sentiment = Sentiment(sentiment_model.classes[best])
                sentiment_confidence = unit(float(proba[best]))
            else:
                sentiment, sentiment_confidence = self._sentiment_of_clean(subject, body, own_text)
            confidences = {
                "category": category_confidence,
                "urgency": urgency_confidence,
                "sentiment": sentiment_confidence,
            }
            results.append(
                OfflineAnalysis(
                    category=Category(category),
                    category_confidence=category_confidence,
                    urgency=urgency,
                    urgency_confidence=urgency_confidence,
                    sentiment=sentiment,
                    sentiment_confidence=sentiment_confidence,
                    summary=summary_of_clean(subject, own_words),
                    suggested_tags=suggest_tags(text, high),
                    language=language,
                    urgency_signals=high,
                    low_urgency_signals=low,
                    language_supported=is_supported(language),
                    uncertain=[
                        name for name, value in confidences.items() if value < ABSTAIN_BELOW
                    ],
                )
            )
        return results

    def _served_urgency(
        self, proba: np.ndarray, high: Sequence[str], low: Sequence[str]
    ) -> tuple[Urgency, float]:
        """See `rules.serve_urgency`."""
        classes = self._fields["urgency"].classes
        if not self._rules_apply:
            high, low = (), ()
        label, confidence = serve_urgency(
            classes, proba, bool(high), low, self._rule_high_rate, self._rule_low_rate
        )
        return Urgency(label), unit(confidence)


def uncertain_fields(confidences: dict[str, float]) -> list[str]:
    return [name for name, value in confidences.items() if value < ABSTAIN_BELOW]


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
