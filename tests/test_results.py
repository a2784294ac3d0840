"""Result rendering: formula escaping, JSON, companion file names, summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pairwise.results import PairsResult, escape_formulas, unmatched_path_for


def _result() -> PairsResult:
    pairs = pd.DataFrame(
        {"mentor_id": ["=HYPERLINK(1)", "M2"], "mentee_id": ["+E1", "@E2"], "score": [-0.5, 0.7]}
    )
    unmatched = pd.DataFrame(
        {"id": ["-E3"], "role": ["mentee"], "reason": ["no allowed mentor: level gap"]}
    )
    return PairsResult(
        pairs=pairs,
        unmatched=unmatched,
        status="optimal",
        objective=0.2,
        bound=0.2,
        wall_time=0.01,
        method="test",
        seed=0,
        n_mentors=2,
        n_mentees=3,
    )


def test_escape_formulas_only_touches_text() -> None:
    frame = pd.DataFrame({"a": ["=1", "+2", "-3", "@4", "\t5", "ok", None], "n": range(7)})
    out = escape_formulas(frame)
    assert out["a"].tolist()[:6] == ["'=1", "'+2", "'-3", "'@4", "'\t5", "ok"]
    assert out["n"].tolist() == list(range(7))
    assert frame["a"].iloc[0] == "=1"  # input untouched


def test_to_csv_escapes_and_writes_companion(tmp_path: Path) -> None:
    main, other = _result().to_csv(tmp_path / "pairs.csv")
    assert other == tmp_path / "pairs.unmatched.csv"
    text = main.read_text(encoding="utf-8")
    assert "'=HYPERLINK(1)" in text and "'+E1" in text and "'@E2" in text
    assert "-0.5" in text  # numbers are not escaped
    assert "'-E3" in other.read_text(encoding="utf-8")


def test_unmatched_path_for() -> None:
    assert unmatched_path_for("out/pairs.csv") == Path("out/pairs.unmatched.csv")
    assert unmatched_path_for("x") == Path("x.unmatched.csv")


def test_to_json_round_trips(tmp_path: Path) -> None:
    text = _result().to_json(tmp_path / "r.json")
    data = json.loads(text)
    assert data["status"] == "optimal"
    assert data["pairs"][0]["mentor_id"] == "=HYPERLINK(1)"
    assert data["unmatched"][0]["reason"].startswith("no allowed")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8")) == data


def test_summary_and_html_mention_counts() -> None:
    result = _result()
    text = result.summary()
    assert "2 matched of 3 mentees" in text and "left out: 1 mentee" in text
    assert "<table" in result._repr_html_()
    assert "PairsResult(pairs=2" in repr(result)
