"""The features the offline model is trained on: TF-IDF word and character n-grams plus one
indicator per urgency rule (inference recomputes them in numpy, see `offline_analyzer`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from app.analysis.signals import RULE_FEATURE_NAMES, find_rule_signals, rule_features
from app.analysis.text import char_ngrams, word_ngrams

RULE_WEIGHT = 1.0


@dataclass
class Featurizer:
    word: TfidfVectorizer
    char: TfidfVectorizer

    @classmethod
    def fit(cls, texts: Sequence[str]) -> Featurizer:
        min_df = 3 if len(texts) >= 2000 else 2 if len(texts) >= 50 else 1
        word = TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True, min_df=min_df)
        char = TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True, min_df=min_df)
        word.fit(texts)
        char.fit(texts)
        return cls(word=word, char=char)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        rules = [rule_features(find_rule_signals(text), RULE_FEATURE_NAMES) for text in texts]
        return sp.hstack(
            [
                self.word.transform(texts),
                self.char.transform(texts),
                sp.csr_matrix(np.asarray(rules, dtype=np.float64).reshape(len(texts), -1))
                * RULE_WEIGHT,
            ],
            format="csr",
        )


def vocabulary_bytes(vectorizer: TfidfVectorizer) -> np.ndarray:
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    if any("\n" in term for term in terms):
        raise AssertionError("vocabulary terms must not contain newlines")
    return np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8)
