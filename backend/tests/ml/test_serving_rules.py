"""How rules and learned probabilities combine into the served label (`app.analysis.rules`),
and the written support messages the shared model trains on."""

import numpy as np

from app.analysis.ml.dataset import SUPPORT_MESSAGES_CSV, field_labels, read_rows
from app.analysis.rules import CUE_MIN_PROBA, CUE_OVERRIDE_BELOW, serve_category, serve_urgency
from app.analysis.signals import find_low_urgency_signals

CATEGORIES = ("billing", "bug", "feature", "other", "support")
URGENCIES = ("high", "low", "medium")


def test_a_phrasing_cue_decides_only_an_unsure_answer_that_the_model_finds_plausible() -> None:
    plausible = np.array([0.1, 0.45, 0.1, 0.05, 0.3])
    assert serve_category(CATEGORIES, plausible, "support") == ("support", 0.3)


def test_a_phrasing_cue_the_model_finds_implausible_is_ignored() -> None:
    implausible = np.array([0.05, 0.55, 0.05, 0.05, CUE_MIN_PROBA / 2])
    assert implausible.max() < CUE_OVERRIDE_BELOW
    assert serve_category(CATEGORIES, implausible, "support") == ("bug", 0.55)


def test_a_confident_model_answer_is_never_overridden_by_a_cue() -> None:
    confident = np.array([0.02, 0.7, 0.25, 0.02, 0.01])
    assert serve_category(CATEGORIES, confident, "feature") == ("bug", 0.7)


def test_no_rush_serves_low_at_least_at_its_training_share_of_low() -> None:
    proba = np.array([0.3, 0.2, 0.5])
    assert serve_urgency(URGENCIES, proba, False, ["low_no_rush"], 0.6, 0.7) == ("low", 0.7)


def test_a_cosmetic_or_minor_cue_serves_low_at_the_models_own_probability() -> None:
    proba = np.array([0.3, 0.2, 0.5])
    assert serve_urgency(URGENCIES, proba, False, ["low_cosmetic"], 0.6, 0.7) == ("low", 0.2)
    assert serve_urgency(URGENCIES, proba, False, ["low_minor"], 0.6, 0.7) == ("low", 0.2)


def test_a_high_signal_beats_a_minor_cue() -> None:
    proba = np.array([0.2, 0.3, 0.5])
    label, confidence = serve_urgency(URGENCIES, proba, True, ["low_no_rush"], 0.6, 0.7)
    assert (label, confidence) == ("high", 0.6)


def test_a_question_alone_does_not_force_low() -> None:
    proba = np.array([0.2, 0.3, 0.5])
    assert serve_urgency(URGENCIES, proba, False, ["low_question"], 0.6, 0.7) == ("medium", 0.5)


def test_minor_said_in_passing_is_a_minor_cue() -> None:
    assert "low_minor" in find_low_urgency_signals("minor, but confusing for my team.")
    assert "low_minor" in find_low_urgency_signals("it is minor but annoying")
    assert "low_minor" not in find_low_urgency_signals("after the minor version upgrade")


def test_the_written_support_messages_cover_every_label_and_many_low_ones() -> None:
    rows = read_rows(SUPPORT_MESSAGES_CSV, ("subject", "body", "category", "urgency"))
    categories = field_labels(rows, "category")
    urgencies = field_labels(rows, "urgency")
    assert set(categories) == set(CATEGORIES)
    assert set(urgencies) == set(URGENCIES)
    assert urgencies.count("low") >= len(rows) // 3
