"""The simulator's oracle mode: the true label with probability p, else a plausible wrong one."""

from collections import Counter

from app.integrations.llm import LLMAnalyzer
from sandbox.llm_oracle import OracleLabeller
from sandbox.openai_sim import SIM_API_KEY, OpenAISimulator, create_openai_app
from sandbox.serve import serve_in_thread

ROWS = [
    {
        "subject": f"Invoice {n} charged twice",
        "body": f"Our card was charged twice for invoice {n}. Please refund one payment.",
        "category": "billing",
        "urgency": "medium",
        "sentiment": "negative",
    }
    for n in range(200)
]


def messages_for(row: dict[str, str]) -> list[dict[str, str]]:
    ticket = f"<ticket>\n<subject>{row['subject']}</subject>\n<body>\n{row['body']}\n</body>\n"
    return [{"role": "user", "content": ticket + "</ticket>"}]


def test_p_one_answers_the_truth_and_p_zero_a_plausible_other_label() -> None:
    truthful, wrong = OracleLabeller(ROWS, p=1.0), OracleLabeller(ROWS, p=0.0)
    for row in ROWS[:20]:
        assert truthful(messages_for(row))["category"] == "billing"
        answer = wrong(messages_for(row))
        assert answer["category"] != "billing"
        assert answer["urgency"] in ("low", "high")  # a neighbour of medium
        assert answer["sentiment"] == "neutral"  # the only neighbour of negative


def test_the_share_of_true_labels_is_about_p_and_answers_are_reproducible() -> None:
    oracle = OracleLabeller(ROWS, p=0.92, seed=3)
    answers = [oracle(messages_for(row))["category"] for row in ROWS]
    assert 0.85 <= Counter(answers)["billing"] / len(ROWS) <= 0.98
    assert answers == [
        OracleLabeller(ROWS, p=0.92, seed=3)(messages_for(r))["category"] for r in ROWS
    ]


def test_the_product_client_gets_oracle_answers_over_http() -> None:
    oracle = OracleLabeller(ROWS, p=1.0)
    with serve_in_thread(create_openai_app(OpenAISimulator(labeller=oracle))) as url:
        analyzer = LLMAnalyzer(api_key=SIM_API_KEY, base_url=f"{url}/v1", reply_draft=False)
        result = analyzer.analyze(ROWS[7]["subject"], ROWS[7]["body"])
    output = result.output
    assert (output.category, output.urgency, output.sentiment) == ("billing", "medium", "negative")
    assert oracle.answered == 1 and oracle.unmatched == 0
