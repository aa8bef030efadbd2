"""Choosing per-field targets from a tuning stream's trace: the replay routes as the cascade
would, and the choice is as good as all-LLM on every field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.analysis.ml.thresholds import TARGET_PRECISIONS, target_key
from bench import cascade_tune

# A user's model whose threshold for a target t is t itself (measured on the user's rows).
TABLE = {target_key(t): t for t in TARGET_PRECISIONS}


def line(n: int, confidence: float, local_right: bool, route: str = "llm") -> dict[str, Any]:
    entry = {
        "truth": "bug",
        "local": "bug" if local_right else "billing",
        "confidence": confidence,
        "served": "bug" if route == "llm" else ("bug" if local_right else "billing"),
    }
    urgency = {"truth": "low", "local": "low", "confidence": 0.99, "served": "low"}
    out: dict[str, Any] = {
        "n": n,
        "model": "user1_v1",
        "language_supported": True,
        "route": route,
        "category": entry,
        "urgency": urgency,
    }
    if n == 1:
        out["thresholds"] = {"category": TABLE, "urgency": TABLE}
        out["measured_on"] = {"category": "user rows", "urgency": "user rows"}
    return out


def write(tmp_path: Path, lines: list[dict[str, Any]]) -> Path:
    path = tmp_path / "trace.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in lines), encoding="utf-8")
    return path


def test_a_lower_target_keeps_more_tickets_local_and_scores_their_local_answers(
    tmp_path: Path,
) -> None:
    # 10 tickets: confidence 0.95 (local answer right) and 0.86 (wrong), all sent to the LLM.
    trace = [line(n, 0.95 if n % 2 else 0.86, local_right=bool(n % 2)) for n in range(1, 11)]
    lines, tables = cascade_tune.read_trace(write(tmp_path, trace))
    strict = cascade_tune.replay(lines, tables, {"category": 0.9, "urgency": 0.9}, 0.9, 1.0)
    lenient = cascade_tune.replay(lines, tables, {"category": 0.85, "urgency": 0.9}, 0.9, 1.0)
    assert strict["local_share"] == pytest.approx(0.5) and strict["category_agreement"] == 1.0
    assert lenient["local_share"] == 1.0
    assert lenient["category_agreement"] == pytest.approx(0.5)  # the wrong local answers count


def test_all_llm_scores_the_llm_answers_and_the_choice_is_as_good_as_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = [line(n, 0.95 if n % 2 else 0.86, local_right=bool(n % 2)) for n in range(1, 11)]
    lines, tables = cascade_tune.read_trace(write(tmp_path, trace))
    all_llm = cascade_tune.replay(lines, tables, {}, 0.9, 1.0, all_llm=True)
    assert all_llm["local_share"] == 0 and all_llm["category_agreement"] == 1.0

    assert cascade_tune.main(["--trace", str(tmp_path / "trace.jsonl"), "--margin", "0"]) == 0
    printed = dict(
        item.split("=", 1) for item in capsys.readouterr().out.splitlines() if "=" in item
    )
    # Below 0.86 the wrong local answers would stay local: the choice stops above them.
    assert float(printed["chosen_category_target"]) > 0.86
    assert float(printed["chosen_category_agreement"]) == 1.0
    assert float(printed["chosen_local_share"]) == pytest.approx(0.5)
