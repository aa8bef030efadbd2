"""The offline analyzer over the committed artifact: labels, rules, sentiment, robustness."""

import csv

import numpy as np
import pytest

from app.analysis.ml.dataset import DEFAULT_HELDOUT_CSV as HELDOUT_CSV
from app.analysis.offline_analyzer import (
    DEFAULT_ARTIFACT_PATH,
    OfflineAnalyzer,
    get_offline_analyzer,
)
from app.analysis.signals import find_urgency_signals
from app.analysis.text import SUMMARY_MAX_CHARS, model_text, summarize
from app.enums import Category, Sentiment, Urgency

# Regression floors for the committed model on the committed held-out split. The product
# target is 0.85 for category; the labels of this data set (queue-derived) cap honest
# held-out accuracy near 0.76, see app/analysis/ml/artifacts/README.md.
MIN_HELDOUT_CATEGORY_ACCURACY = 0.74
MIN_HELDOUT_URGENCY_ACCURACY = 0.50

TICKETS = [
    ("Invoice charged twice", "We were billed twice for March. Please refund the duplicate."),
    ("Enhancement request", "Could you add an integration with Slack to improve our workflow?"),
    ("App crashes", "The mobile app crashes on start since the last update on Android 14."),
    ("Question", "How do I add a new teammate to our workspace?"),
    ("", ""),
]


@pytest.fixture(scope="module")
def analyzer() -> OfflineAnalyzer:
    return get_offline_analyzer()


def test_committed_artifact_is_small_versioned_and_carries_heldout_metrics(
    analyzer: OfflineAnalyzer,
) -> None:
    assert DEFAULT_ARTIFACT_PATH.stat().st_size < 5_000_000
    assert analyzer.version.startswith("offline_v1+")
    assert analyzer.metadata["training"]["attribution"]
    assert analyzer.metadata["heldout"]["category"]["accuracy"] >= MIN_HELDOUT_CATEGORY_ACCURACY


def test_get_offline_analyzer_returns_one_cached_instance() -> None:
    assert get_offline_analyzer() is get_offline_analyzer()


@pytest.mark.parametrize(("subject", "body"), TICKETS)
def test_analysis_labels_are_enums_and_confidences_are_probabilities(
    analyzer: OfflineAnalyzer, subject: str, body: str
) -> None:
    result = analyzer.analyze(subject, body)
    assert isinstance(result.category, Category)
    assert isinstance(result.urgency, Urgency)
    assert isinstance(result.sentiment, Sentiment)
    for confidence in (
        result.category_confidence,
        result.urgency_confidence,
        result.sentiment_confidence,
    ):
        assert 0.0 <= confidence <= 1.0
    assert len(result.summary) <= SUMMARY_MAX_CHARS
    assert len(result.suggested_tags) <= 5
    assert all(tag == tag.lower() and " " not in tag for tag in result.suggested_tags)
    assert 2 <= len(result.language) <= 3  # ISO 639-1, or 639-3 ("und": no letters)


def test_obvious_tickets_get_the_expected_category(analyzer: OfflineAnalyzer) -> None:
    categories = [analyzer.analyze(s, b).category for s, b in TICKETS[:3]]
    assert categories == [Category.billing, Category.feature, Category.bug]


def test_analyze_many_matches_analyze(analyzer: OfflineAnalyzer) -> None:
    assert analyzer.analyze_many(TICKETS) == [analyzer.analyze(s, b) for s, b in TICKETS]
    assert analyzer.analyze_many([]) == []


def test_predict_proba_rows_are_distributions_over_enum_labels(analyzer: OfflineAnalyzer) -> None:
    probabilities = analyzer.predict_proba([s for s, _ in TICKETS], [b for _, b in TICKETS])
    assert set(probabilities) == {"category", "urgency"}
    for field, enum in (("category", Category), ("urgency", Urgency)):
        classes, matrix = probabilities[field]
        assert set(classes) <= {member.value for member in enum}
        assert matrix.shape == (len(TICKETS), len(classes))
        assert np.all(matrix >= 0) and np.allclose(matrix.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("Our whole site is down for everyone since 9am.", "outage"),
        ("The API is down and checkout fails for all customers.", "outage"),
        ("We are seeing a major outage in the EU region.", "outage"),
        ("We think our account was hacked last night.", "security_breach"),
        (
            "There has been a security breach: someone downloaded our customer list.",
            "security_breach",
        ),
        ("Unauthorized access to our admin panel was detected.", "security_breach"),
        ("After the sync all our files were deleted.", "data_loss"),
        ("We lost all our data after the migration.", "data_loss"),
        ("I can't log in since the password change.", "login_failure"),
        ("I'm unable to sign in to the dashboard.", "login_failure"),
        ("Our admin is locked out of the account.", "login_failure"),
        ("We need the corrected invoice by tomorrow for the audit.", "deadline"),
        ("URGENT: payroll export is failing.", "deadline"),
        ("This needs to be fixed by end of day.", "deadline"),
        ("If this is not refunded I will talk to my lawyer.", "legal_threat"),
        ("We are preparing a lawsuit over the lost orders.", "legal_threat"),
    ],
)
def test_explicit_signal_raises_urgency_to_high(
    analyzer: OfflineAnalyzer, text: str, signal: str
) -> None:
    result = analyzer.analyze("Help", text)
    assert signal in result.urgency_signals
    assert result.urgency is Urgency.high
    assert result.urgency_confidence >= 0.5


@pytest.mark.parametrize(
    "text",
    [
        "How do I log in with single sign-on?",
        "Can you explain how you prevent data breaches?",
        "This is not urgent, whenever you have time.",
        "No rush, but could you update our billing address?",
        "Our sales were down last month, can we get a report?",
        "I'd like to download my data as a CSV export.",
        "The legal page on your website has a typo.",
        "Please send the invoice when convenient.",
        "Will there be planned downtime during the maintenance window?",
        "The dropdown menu shows the wrong date format.",
    ],
)
def test_ordinary_wording_fires_no_urgency_rule(text: str) -> None:
    assert find_urgency_signals(model_text("Question", text)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thank you so much, the new dashboard is fantastic and saves us hours!", "positive"),
        ("Great job on the latest release, everything works perfectly.", "positive"),
        ("I love the export feature, really helpful. Thanks!", "positive"),
        ("Your support team was amazing and fixed my problem quickly.", "positive"),
        ("Just wanted to say the onboarding was smooth and pleasant.", "positive"),
        ("How do I change the billing address on my account?", "neutral"),
        ("Please send me a copy of last month's invoice.", "neutral"),
        ("Can you tell me which API endpoint returns the ticket history?", "neutral"),
        ("We would like to add three more seats to our subscription.", "neutral"),
        (
            "Dear Support Team, I hope this message finds you well. Could you help me set up "
            "single sign-on for our workspace? Thank you for your assistance.",
            "neutral",
        ),
        ("This is the third time the app crashed today and I am furious.", "negative"),
        ("Your service is terrible and nobody answers my emails.", "negative"),
        (
            "I am extremely disappointed, you charged me twice and ignored my complaints.",
            "negative",
        ),
        ("The sync is broken again and we lost a whole day of work. Unacceptable.", "negative"),
        ("Worst update ever, everything is slow and buggy.", "negative"),
    ],
)
def test_sentiment_on_labelled_sentences(
    analyzer: OfflineAnalyzer, text: str, expected: str
) -> None:
    result = analyzer.analyze("", text)
    assert result.sentiment == Sentiment(expected)
    assert result.sentiment_confidence >= 0.5


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("", ""),
        ("\x00\x00", "\x00"),
        ("Null\x00byte", "The export\x00 fails with code 0x00.\x00"),
        (
            "Ünïcödé 🚀",
            "Le système est en panne 😡 \u2014 \u7cfb\u7edf\u5d29\u6e83\u4e86\uff0c"
            "\u8bf7\u5c3d\u5feb\u5904\u7406\u3002 مرحبا \u200b\ufeff\U0001f9d1\u200d\U0001f4bb",
        ),
        ("Huge", "word " * 250_000),
        ("Long line", "x" * 200_000),
        ("<b>HTML</b>", "<p>Dear team,</p><p>The <i>export</i> is broken.</p>" * 3),
        ("Whitespace", " \n\t\r " * 1000),
    ],
)
def test_hostile_input_does_not_crash(analyzer: OfflineAnalyzer, subject: str, body: str) -> None:
    result = analyzer.analyze(subject, body)
    assert len(result.summary) <= SUMMARY_MAX_CHARS
    assert "\x00" not in result.summary


def test_summary_skips_greetings_and_collapses_whitespace() -> None:
    body = (
        "Dear Customer Support Team,\n\nI hope this message finds you well.\n"
        "Our   nightly   export   has failed three times this week. It stops at 80%."
    )
    summary = summarize("Export failing", body)
    assert summary.startswith("Our nightly export has failed three times this week.")
    assert "  " not in summary


def test_summary_falls_back_to_subject_and_truncates() -> None:
    assert summarize("Printer offline", "") == "Printer offline"
    long_summary = summarize("", "word " * 500)
    assert len(long_summary) <= SUMMARY_MAX_CHARS
    assert long_summary.endswith("\u2026")


def test_language_is_detected_for_non_english_tickets(analyzer: OfflineAnalyzer) -> None:
    german = (
        "Ich kann mich nicht anmelden und die Rechnung ist nicht korrekt, bitte helfen Sie mir."
    )
    assert analyzer.analyze("Problem mit dem Konto", german).language == "de"
    assert analyzer.analyze("Export", "The export is broken for our team.").language == "en"


def test_heldout_accuracy_of_committed_model_meets_floor(analyzer: OfflineAnalyzer) -> None:
    with HELDOUT_CSV.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    results = analyzer.analyze_many([(row["subject"], row["body"]) for row in rows])
    pairs = list(zip(results, rows, strict=True))
    category_accuracy = np.mean([result.category == row["category"] for result, row in pairs])
    urgency_accuracy = np.mean([result.urgency == row["urgency"] for result, row in pairs])
    assert category_accuracy >= MIN_HELDOUT_CATEGORY_ACCURACY
    assert urgency_accuracy >= MIN_HELDOUT_URGENCY_ACCURACY


def test_only_the_customers_latest_message_is_analysed(analyzer: OfflineAnalyzer) -> None:
    """A reply quoting the thread below it (angry, about billing, in German) is read as its
    own latest words: category, urgency, sentiment and language as for those words alone."""
    latest = (
        "Hi team,\n\nHow do I give my colleague admin rights in the workspace? "
        "I cannot find the Roles tab the documentation mentions."
    )
    thread = (
        "\n\nBest regards,\nMaria Lopez\nHead of Operations | Acme GmbH\n\n"
        "On Tue, 4 Mar 2025 at 09:12, Jonas Schmidt <support@example.com> wrote:\n"
        "> Ich bin wirklich wütend, Sie haben mir die Rechnung zweimal belastet!\n"
        "> Erstatten Sie sofort das Geld, das ist inakzeptabel, ich kündige den Vertrag.\n"
        ">\n> On Mon, 3 Mar 2025, Maria Lopez wrote:\n"
        ">> This is the worst service ever, I was charged twice and nobody answers!\n"
    )
    subject = "Admin access"

    alone = analyzer.analyze(subject, latest)
    with_thread = analyzer.analyze(subject, latest + thread)

    assert with_thread.category == alone.category == Category.support
    assert (with_thread.urgency, with_thread.sentiment) == (alone.urgency, alone.sentiment)
    assert with_thread.sentiment == Sentiment.neutral
    assert with_thread.language == alone.language == "en"
    assert with_thread.sentiment_confidence == alone.sentiment_confidence
    assert with_thread.category_confidence == alone.category_confidence
