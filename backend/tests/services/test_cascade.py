"""The cascade: calibrated confidences, thresholds from a target precision, routing and why."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts.integrations import ProcessingOptions
from app.analysis import cascade, learning
from app.analysis.ml import user_models
from app.analysis.ml.dataset import DEFAULT_HELDOUT_CSV, read_rows
from app.analysis.ml.evaluation import expected_calibration_error
from app.analysis.offline_analyzer import get_offline_analyzer
from app.integrations.llm import LLMAnalyzer
from app.models import TicketAnalysis
from app.pipeline import analysis as analysis_service
from sandbox.openai_sim import OpenAISimulator
from tests.factories import UserFactory, configure_zendesk

CONFIDENT = (  # the shared model: category 0.90+, urgency 0.86 (rules fired)
    "Production outage: our website is down for all users",
    "Our website has been down for everyone since 9am. This is an urgent outage, customers "
    "cannot check out. Please fix immediately.",
)
UNSURE = (  # the shared model: category 0.33, urgency 0.45
    "Feature request: dark mode",
    "It would be great if the dashboard had a dark mode option. Not urgent, just an idea.",
)


@pytest.fixture(scope="module")
def heldout() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rows = read_rows(DEFAULT_HELDOUT_CSV)
    results = get_offline_analyzer().analyze_many([(r["subject"], r["body"]) for r in rows])
    confidence = {
        field: np.array([getattr(result, f"{field}_confidence") for result in results])
        for field in cascade.GATED_FIELDS
    }
    correct = {
        field: np.array(
            [
                str(getattr(result, field)) == row[field]
                for result, row in zip(results, rows, strict=True)
            ]
        )
        for field in cascade.GATED_FIELDS
    }
    return confidence, correct


@pytest.mark.parametrize("field", cascade.GATED_FIELDS)
def test_confidences_are_calibrated_on_the_heldout_split(
    heldout: tuple[dict[str, np.ndarray], dict[str, np.ndarray]], field: str
) -> None:
    """Overall ECE, and reliability where the cascade decides (confidence above 0.7): there
    "0.9" is right about 9 times in 10. A bin of n held-out tickets may miss by sampling error
    alone: the gap allowed is 0.07 or 2.5 standard errors of the bin's accuracy, whichever is
    larger (about 40 tickets per bin here, where one standard error is ~0.075)."""
    confidence, correct = heldout
    assert expected_calibration_error(confidence[field], correct[field]) <= 0.09
    for low in (0.7, 0.8, 0.9):
        in_bin = (confidence[field] > low) & (confidence[field] <= low + 0.1)
        if in_bin.sum() >= 30:
            accuracy = correct[field][in_bin].mean()
            allowed = max(0.07, 2.5 * np.sqrt(accuracy * (1 - accuracy) / in_bin.sum()))
            gap = abs(confidence[field][in_bin].mean() - accuracy)
            assert gap <= allowed, (field, low, gap, allowed)


def test_thresholds_are_the_lowest_confidence_reaching_the_target_precision() -> None:
    confidence = np.linspace(1.0, 0.01, 100)  # sorted high to low
    correct = np.ones(100, dtype=bool)
    correct[[5, 15, 25, 35, 45, 55, 65, 75, 85, 95]] = False  # 90 % right overall
    correct[60:] = False  # wrong below 0.4
    table = user_models.precision_thresholds(
        confidence, correct, targets=(0.5, 0.85, 0.9, 0.99), min_support=10
    )
    # 0.85: the deepest prefix whose precision is still >= 0.85.
    prefix_precision = np.cumsum(correct) / np.arange(1, 101)
    deepest = max(i for i in range(9, 100) if prefix_precision[i] >= 0.85)
    assert table["0.85"] == round(float(confidence[deepest]), 4)
    assert table["0.50"] is not None and table["0.50"] < table["0.85"] <= table["0.90"]
    assert table["0.99"] is None  # no prefix of 10+ rows is 99 % right: never confident
    # Any target uses the stored grid rounded up: never less strict than asked.
    assert user_models.threshold_for(table, 0.845) == table["0.85"]
    assert user_models.threshold_for(table, 0.995) is None


def test_stored_thresholds_belong_to_the_shared_model_and_its_training_split() -> None:
    analyzer = get_offline_analyzer()
    table = user_models.load_shared_calibration(analyzer)
    assert table is not None, "run python -m app.analysis.ml.retrain --calibrate-shared"
    assert table["data_sha256"] == analyzer.metadata["training"]["data_sha256"]
    for field in cascade.GATED_FIELDS:
        values = [table["thresholds"][field][key] for key in sorted(table["thresholds"][field])]
        reachable = [value for value in values if value is not None]
        assert reachable == sorted(reachable), "stricter targets need higher confidence"
        assert table["out_of_fold"][field]["expected_calibration_error"] <= 0.08


def _options(mode: str = "auto") -> ProcessingOptions:
    return ProcessingOptions(analysis_mode=mode, redact_pii=True)


def test_confident_ticket_is_answered_locally_without_calling_the_llm(
    db: Session,
    users: UserFactory,
    openai_sim: OpenAISimulator,
    make_llm_analyzer: Callable[..., LLMAnalyzer],
) -> None:
    user = users.create()
    # 0.8: the shared model's urgency reaches 0.84 out-of-fold precision at most (noisy labels)
    learning.update_settings(db=db, user_id=user.id, target_precision=0.8)
    outcome = analysis_service.analyze(
        *CONFIDENT, options=_options(), llm=make_llm_analyzer(), user_id=user.id, db=db
    )
    shared = get_offline_analyzer().analyze(*CONFIDENT)
    assert outcome.source == "local"
    assert outcome.decision_reason.startswith(
        f"cascade: local confident (category {shared.category_confidence:.2f} ≥ "
    )
    assert f"urgency {shared.urgency_confidence:.2f} ≥ " in outcome.decision_reason
    assert outcome.cost_usd == 0 and openai_sim.chat_requests() == []


def test_unsure_ticket_goes_to_the_llm_and_the_reason_says_which_field(
    db: Session,
    users: UserFactory,
    openai_sim: OpenAISimulator,
    make_llm_analyzer: Callable[..., LLMAnalyzer],
) -> None:
    user = users.create()
    learning.update_settings(db=db, user_id=user.id, target_precision=0.9)
    outcome = analysis_service.analyze(
        *UNSURE, options=_options(), llm=make_llm_analyzer(), user_id=user.id, db=db
    )
    shared = get_offline_analyzer().analyze(*UNSURE)
    thresholds = cascade.shared_context(0.9).thresholds.values
    assert outcome.source == "llm" and outcome.cost_usd > 0
    assert outcome.decision_reason.startswith(
        f"cascade: category {shared.category_confidence:.2f} < {thresholds['category']:.2f}, "
        f"urgency {shared.urgency_confidence:.2f}"
    )
    assert outcome.decision_reason.endswith("→ llm") and len(outcome.decision_reason) <= 200
    assert len(openai_sim.chat_requests()) == 1


def test_a_field_without_a_threshold_at_the_target_is_never_sure_enough() -> None:
    """When no confidence reached the target out of fold, that field never lets a ticket stay
    local, however confident the other field is."""
    thresholds = cascade.Thresholds(0.98, {"category": 0.0, "urgency": None}, "out-of-fold")
    result = get_offline_analyzer().analyze(*CONFIDENT)
    decision = cascade.decide(result, thresholds)
    assert not decision.local
    assert f"urgency {result.urgency_confidence:.2f}, no threshold reaches 0.98" in decision.reason


def test_llm_failure_in_the_cascade_falls_back_and_records_both_reasons(
    openai_sim: OpenAISimulator, make_llm_analyzer: Callable[..., LLMAnalyzer]
) -> None:
    openai_sim.fail_next(1, "500")
    outcome = analysis_service.analyze(*UNSURE, options=_options(), llm=make_llm_analyzer())
    shared = get_offline_analyzer().analyze(*UNSURE)
    assert outcome.source == "fallback"
    assert outcome.decision_reason.startswith(
        f"cascade: category {shared.category_confidence:.2f} < "
    )
    assert outcome.decision_reason.endswith("→ llm upstream → offline")


@pytest.mark.parametrize(
    ("mode", "with_llm", "source", "reason"),
    [
        ("auto", False, "local", "no LLM configured"),
        ("cascade", False, "local", "no LLM configured"),
        ("local", True, "local", "mode=local"),
        ("llm", True, "llm", "mode=llm → llm"),
    ],
)
def test_modes(
    openai_sim: OpenAISimulator,
    make_llm_analyzer: Callable[..., LLMAnalyzer],
    mode: str,
    with_llm: bool,
    source: str,
    reason: str,
) -> None:
    llm = make_llm_analyzer() if with_llm else None
    outcome = analysis_service.analyze(*CONFIDENT, options=_options(mode), llm=llm)
    assert (outcome.source, outcome.decision_reason) == (source, reason)
    assert len(openai_sim.chat_requests()) == (1 if source == "llm" else 0)


def test_processing_a_ticket_records_the_cascade_decision(
    db: Session,
    users: UserFactory,
    client: TestClient,
    zendesk_url: str,
    openai_base_url: str,
    openai_api_key: str,
) -> None:
    user, headers = users.authed()
    configure_zendesk(
        db, user, zendesk_url, openai_api_key=openai_api_key, openai_base_url=openai_base_url
    )
    response = client.post("/tickets/process", json={"ticket_id": 1}, headers=headers)
    assert response.status_code == 200, response.text
    analysis = db.query(TicketAnalysis).filter_by(user_id=user.id).one()
    assert analysis.decision_reason.startswith("cascade: ")
