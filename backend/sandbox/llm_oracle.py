"""An oracle labeller for the OpenAI simulator: answers from a labelled CSV, like a good LLM.

For the ticket in a request it looks up the labelled row (by subject, then by the most shared
body words) and answers its true category, urgency and sentiment each with probability `p`
(default 0.92, about what gpt-4o-mini reaches on ticket triage), else a plausible wrong label:
an adjacent urgency, another category, a neighbouring sentiment. The rest of the answer
(summary, language, reply draft, tags) comes from the simulator's own heuristics. Draws are
seeded per ticket, so a ticket asked twice gets the same answer, and a run is reproducible.

    sim = OpenAISimulator(labeller=OracleLabeller.from_csv(Path("tickets.csv")))
    python -m sandbox.llm_oracle --oracle tickets.csv --port 8200   # served over HTTP
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sandbox.openai_sim.heuristics import _analyse, _message_text

DEFAULT_P = 0.92
ORACLE_CONFIDENCE = 0.92
LABELS: dict[str, tuple[str, ...]] = {
    "category": ("bug", "feature", "billing", "support", "other"),
    "urgency": ("low", "medium", "high"),
    "sentiment": ("negative", "neutral", "positive"),
}
ORDERED_FIELDS = frozenset({"urgency", "sentiment"})
_TICKET_RE = re.compile(r"<subject>(.*?)</subject>\s*(?:<body>(.*?)</body>)?", re.DOTALL)
_WORD_RE = re.compile(r"\w{3,}")


def _key(text: str) -> str:
    return " ".join(_WORD_RE.findall(text.lower()))


class OracleLabeller:
    """Callable the simulator uses as its `labeller`; see the module docstring."""

    def __init__(self, rows: Sequence[Mapping[str, str]], p: float = DEFAULT_P, seed: int = 0):
        if not 0.0 <= p <= 1.0:
            raise ValueError("p must be between 0 and 1")
        self.p = p
        self.seed = seed
        self.rows = [dict(row) for row in rows]
        self._by_subject: dict[str, list[int]] = {}
        for index, row in enumerate(self.rows):
            self._by_subject.setdefault(_key(row.get("subject", "")), []).append(index)
        self.answered = 0
        self.unmatched = 0

    @classmethod
    def from_csv(cls, path: Path, p: float = DEFAULT_P, seed: int = 0) -> OracleLabeller:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return cls(list(csv.DictReader(handle)), p=p, seed=seed)

    def find(self, subject: str, body: str) -> Mapping[str, str] | None:
        """The labelled row of a ticket (redaction placeholders and cuts tolerated)."""
        candidates = self._by_subject.get(_key(subject))
        if candidates is None:
            candidates = range(len(self.rows))
        words = set(_WORD_RE.findall(body.lower()))
        if len(candidates) == 1:
            return self.rows[candidates[0]]
        best, best_overlap = None, 0
        for index in candidates:
            row_words = set(_WORD_RE.findall(self.rows[index].get("body", "").lower()))
            overlap = len(words & row_words)
            if overlap > best_overlap:
                best, best_overlap = index, overlap
        return None if best is None else self.rows[best]

    def answer(self, field: str, truth: str, draw: random.Random) -> str:
        labels = LABELS[field]
        if truth not in labels or draw.random() < self.p:
            return truth
        if field in ORDERED_FIELDS:
            position = labels.index(truth)
            neighbours = [labels[i] for i in (position - 1, position + 1) if 0 <= i < len(labels)]
            return draw.choice(neighbours)
        return draw.choice([label for label in labels if label != truth])

    def __call__(self, messages: list[Mapping[str, Any]]) -> dict[str, Any]:
        analysis = _analyse(messages)
        user_text = next(
            (_message_text(m) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        match = _TICKET_RE.search(user_text)
        subject, body = (match.group(1), match.group(2) or "") if match else ("", user_text)
        row = self.find(subject, body)
        if row is None:
            self.unmatched += 1
            return analysis
        self.answered += 1
        digest = hashlib.sha256(f"{self.seed}\x1f{subject}\x1f{body[:200]}".encode()).digest()
        draw = random.Random(int.from_bytes(digest[:8], "big"))
        for field in LABELS:
            truth = (row.get(field) or "").strip().lower()
            if truth:
                analysis[field] = self.answer(field, truth, draw)
        analysis["confidence"] = ORACLE_CONFIDENCE
        return analysis


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the simulator with this oracle as its labeller."""
    import uvicorn

    from sandbox.openai_sim import OpenAISimulator, create_openai_app

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--oracle", type=Path, required=True, help="labelled tickets CSV")
    parser.add_argument("--p", type=float, default=DEFAULT_P, help="chance of the true label")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    args = parser.parse_args(argv)
    labeller = OracleLabeller.from_csv(args.oracle, p=args.p)
    uvicorn.run(
        create_openai_app(OpenAISimulator(labeller=labeller)), host=args.host, port=args.port
    )


if __name__ == "__main__":
    main()
