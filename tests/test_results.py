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


def _many_reasons() -> PairsResult:
    reasons = [f"reason {k}" for k in range(6) for _ in range(6 - k)]
    unmatched = pd.DataFrame(
        {"id": [f"E{k}" for k in range(len(reasons))], "role": "mentee", "reason": reasons}
    )
    return PairsResult(
        pairs=pd.DataFrame({"mentor_id": [], "mentee_id": [], "score": []}),
        unmatched=unmatched,
        status="optimal",
        objective=0.0,
        bound=None,
        wall_time=0.0,
        method="test",
        seed=0,
        n_mentees=len(reasons),
    )


def test_summary_shows_top_reasons_and_how_many_more() -> None:
    text = _many_reasons().summary(unmatched_file="out/pairs.unmatched.csv")
    assert "6 × reason 0" in text and "4 × reason 2" in text and "reason 3" not in text
    # reasons 3, 4, 5 hold 3 + 2 + 1 mentees
    assert "... and 3 more reason(s) for 6 participant(s) (see out/pairs.unmatched.csv)" in text
    assert "(see `unmatched`)" in _many_reasons().summary()


def test_files_round_floats_and_json_keeps_them(tmp_path: Path) -> None:
    import numpy as np

    from pairwise.results import for_people

    result = _result()
    noisy = result.pairs.assign(score=np.array([0.4450000077486038, 1 / 3], dtype=np.float32))
    result = PairsResult(**{**result.__dict__, "pairs": noisy})
    main, _ = result.to_csv(tmp_path / "pairs.csv")
    assert "'+E1,0.445\n" in main.read_text()
    assert "0.3333" in main.read_text() and "0.33333" not in main.read_text()
    assert for_people(noisy)["score"].tolist() == [0.445, 0.3333]
    assert json.loads(result.to_json())["pairs"][1]["score"] != 0.3333


def test_to_csv_writes_a_workbook_for_xlsx(tmp_path: Path) -> None:
    openpyxl = __import__("pytest").importorskip("openpyxl")
    main, other = _result().to_csv(tmp_path / "pairs.xlsx")
    assert other.name == "pairs.unmatched.xlsx"
    rows = list(openpyxl.load_workbook(main).active.values)
    assert rows[0] == ("mentor_id", "mentee_id", "score") and rows[1][0] == "'=HYPERLINK(1)"


def test_to_csv_is_all_or_nothing(tmp_path: Path) -> None:
    import pytest

    from pairwise.errors import InputError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="`unmatched` cannot be written"):
        _result().to_csv(tmp_path / "pairs.csv", unmatched=blocker / "u.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_programme_results_carry_names_and_contributions() -> None:
    import pairwise as pw

    frames = pw.datasets.demo_rosters()
    program = pw.load_program().replace(time_limit=2)
    mentees = frames["mentees"].copy()
    mentees.loc[0, "level"] = 7  # nobody is more senior: unmatched, with a name
    result = program.pairs(frames["mentors"], mentees)
    columns = list(result.pairs.columns)
    assert columns[:5] == ["mentor_id", "mentor_name", "mentee_id", "mentee_name", "score"]
    assert columns[5:] and all(c.startswith("fit_") for c in columns[5:])
    names = dict(zip(mentees["id"], mentees["name"], strict=True))
    assert (result.pairs["mentee_name"] == result.pairs["mentee_id"].map(names)).all()
    row = result.unmatched.set_index("id").loc[mentees.loc[0, "id"]]
    assert row["name"] == mentees.loc[0, "name"] and row["role"] == "mentee"
    peers = program.peers(frames["people"].head(9))
    assert list(peers.pairs.columns) == [
        "person_a",
        "person_a_name",
        "person_b",
        "person_b_name",
        "score",
    ]
    assert list(peers.unmatched.columns) == ["id", "name", "role", "reason"]


def test_results_without_names_keep_the_id_columns() -> None:
    import pairwise as pw

    frames = pw.datasets.demo_rosters()
    result = pw.load_program().pairs(
        frames["mentors"].drop(columns="name"), frames["mentees"].drop(columns="name")
    )
    assert list(result.pairs.columns)[:3] == ["mentor_id", "mentee_id", "score"]
    assert list(result.unmatched.columns) == ["id", "role", "reason"]


def test_program_validate_separates_errors_and_warnings() -> None:
    import pairwise as pw
    from pairwise.results import ValidationReport

    frames = pw.datasets.demo_rosters()
    program = pw.load_program()
    report = program.validate(mentors=frames["mentors"].head(3), mentees=frames["mentees"])
    assert isinstance(report, ValidationReport) and report.ok and not report.errors
    assert report.warnings[0].startswith("pairs: capacity ")
    assert "cannot be matched" in report.warnings[0]
    people = program.validate(people=frames["people"].head(8))
    assert people.warnings[-1] == (
        "peers: 7 people can be paired, an odd number: at least one will have no partner"
    )
    assert people.warnings[0].startswith("peers: person P0009 has no allowed partner")
    broken = program.validate(
        mentors=frames["mentors"].drop(columns="id"), mentees=frames["mentees"]
    )
    assert not broken.ok and broken.errors[0].startswith("pairs: ")
    assert str(ValidationReport()) == "no errors; no warnings"
