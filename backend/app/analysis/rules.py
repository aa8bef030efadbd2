"""How rules and the learned models combine into the label analyze() serves.

Shared by inference and by the out-of-fold evaluation that sets the cascade's thresholds, so
the thresholds are measured on exactly what users are served.
- Urgency: a high signal (outage, breach, ...) raises to high, at least at the training share
  of high labels among tickets where one fired. Otherwise a cue that the ticket is minor lowers
  to low: "no rush" at least at its training share of low labels, cosmetic or minor ones at
  the model's own probability of low.
- Category: when the model is unsure (below CUE_OVERRIDE_BELOW), the ticket's phrasing names
  its kind (a how-to question, a feature wish) and the model gives that kind at least
  CUE_MIN_PROBA, that kind is served at the model's own probability for it (marked not sure).
  On out-of-fold scores of the training rows this gate costs nothing, while overriding every
  answer under 0.75 cost 2 points of English accuracy (the phrasing is common in the data
  set's generated tickets of every kind).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NO_RUSH_SIGNAL = "low_no_rush"
OVERRIDING_LOW_CUES = frozenset({NO_RUSH_SIGNAL, "low_cosmetic", "low_minor"})
"""Low cues that say the ticket is minor; a question ("how do I ...") is only a model feature:
on the labelled data questions are as often medium as low."""
CUE_OVERRIDE_BELOW = 0.6
CUE_MIN_PROBA = 0.15


def serve_urgency(
    classes: Sequence[str],
    proba: np.ndarray,
    high: bool,
    low_cues: Sequence[str],
    high_rate: float,
    low_rate: float,
) -> tuple[str, float]:
    index = int(proba.argmax())
    if high and "high" in classes:
        return "high", max(float(proba[list(classes).index("high")]), high_rate)
    if OVERRIDING_LOW_CUES.intersection(low_cues) and "low" in classes:
        low_proba = float(proba[list(classes).index("low")])
        return "low", max(low_proba, low_rate) if NO_RUSH_SIGNAL in low_cues else low_proba
    return str(classes[index]), float(proba[index])


def serve_category(classes: Sequence[str], proba: np.ndarray, cue: str | None) -> tuple[str, float]:
    index = int(proba.argmax())
    if cue is not None and cue in classes and float(proba[index]) < CUE_OVERRIDE_BELOW:
        cue_proba = float(proba[list(classes).index(cue)])
        if cue_proba >= CUE_MIN_PROBA:
            return cue, cue_proba
    return str(classes[index]), float(proba[index])
