"""Program.suggest: featured pairs within capacity, ranking, explanations, the expert finder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pairwise as pw
from pairwise.cli import main
from pairwise.errors import InputError
from pairwise.roster import load_roster
from pairwise.solvers import one_to_many
from pairwise.solvers._regret import pair_regret


@pytest.fixture(scope="module")
def demo() -> dict[str, pd.DataFrame]:
    return pw.datasets.demo_rosters()


@pytest.fixture(scope="module")
def program() -> pw.Program:
    return pw.load_program()


@pytest.fixture(scope="module")
def result(demo, program) -> pw.SuggestionsResult:
    return program.suggest(demo["mentors"], demo["mentees"], k=4)


def _small() -> tuple[pd.DataFrame, pd.DataFrame]:
    hours = "09:00-17:00"
    mentors = pd.DataFrame(
        {
            "id": ["M1", "M2", "M3"],
            "level": [5, 5, 5],
            "function": ["Sales", "Ops", "Sales"],
            "site": ["Berlin", "Berlin", "Paris"],
            "timezone": ["Europe/Berlin", "Europe/Berlin", "Europe/Paris"],
            "work_hours": [hours] * 3,
            "languages": ["English"] * 3,
            "skills": ["Python;SQL;Coaching", "Python", "Budgeting;SQL"],
            "goals": ["Leadership", "Career change", "Leadership"],
            "capacity": [1, 1, 2],
            "remote_ok": [True, True, False],
        }
    )
    mentees = pd.DataFrame(
        {
            "id": ["E1", "E2"],
            "level": [2, 3],
            "function": ["Ops", "Sales"],
            "site": ["Berlin", "Berlin"],
            "timezone": ["Europe/Berlin"] * 2,
            "work_hours": [hours] * 2,
            "languages": ["English"] * 2,
            "wants": ["Python;SQL;Statistics", "Budgeting"],
            "goals": ["Leadership", "Leadership"],
        }
    )
    return mentors, mentees


# --------------------------------------------------------------------------- the capacity claim


def test_featured_suggestions_are_the_plan_and_respect_capacity(demo, program, result) -> None:
    s = result.suggestions
    capacity = program._capacity(load_roster(demo["mentors"], role="mentor"))
    ids = load_roster(demo["mentors"], role="mentor").ids.astype(str)
    featured = s[s["featured"]]
    assert (featured["rank"] == 1).all()
    assert featured["mentee_id"].is_unique
    per_mentor = featured.groupby("mentor_id").size()
    cap = dict(zip(ids, capacity.tolist(), strict=True))
    assert all(n <= cap[mentor] for mentor, n in per_mentor.items())
    # without priority in the rosters, the featured pairs form an optimal plan of `pairs`
    pairs = program.pairs(demo["mentors"], demo["mentees"])
    assert len(featured) == len(pairs.pairs)
    assert featured["score"].sum() == pytest.approx(pairs.pairs["score"].sum())
    assert (featured["regret"] == 0).all()


def test_rank_one_is_featured_for_every_matched_mentee_and_capacity_holds_with_shortfall(
    demo, program
) -> None:
    mentors = demo["mentors"].head(20).assign(capacity=1)
    res = program.suggest(mentors, demo["mentees"], k=3)
    s = res.suggestions
    first = s[s["rank"] == 1]
    # a mentor is featured no more often than its capacity (1), even with far more mentees
    assert first[first["featured"]]["mentor_id"].is_unique
    left = set(res.unmatched["id"])
    assert left  # 20 seats for 110 mentees
    assert not first[first["mentee_id"].isin(left)]["featured"].any()
    assert set(first[~first["featured"]]["mentee_id"]) <= left
    waiting = first[~first["featured"]]["mentee_id"].nunique()
    assert f"{waiting} mentee(s) with a list have no featured suggestion" in res.summary()


def test_lists_are_ordered_by_lost_match_then_regret_then_score(result) -> None:
    for _, group in result.suggestions.groupby("mentee_id", sort=False):
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert len(group) <= result.k
        rest = group[~group["featured"]]
        keys = list(zip(rest["fewer_matched"], rest["regret"], -rest["score"], strict=True))
        assert keys == sorted(keys)


def test_suggested_regret_equals_the_solver_level_regret(demo, program, result) -> None:
    mentors = load_roster(demo["mentors"], role="mentor")
    mentees = load_roster(demo["mentees"], role="mentee")
    compat = program.model.score(mentors, mentees)
    cap = program._capacity(mentors)
    plan = one_to_many(compat.scores, cap, compat.allowed)
    regret = pair_regret(
        compat.scores, compat.allowed, cap, plan_rows=plan.rows, plan_cols=plan.cols
    )
    table = pd.DataFrame(
        {
            "mentor_id": mentors.ids[regret.rows].astype(str),
            "mentee_id": mentees.ids[regret.cols].astype(str),
            "expected": regret.regret,
        }
    )
    joined = result.suggestions.merge(table, on=["mentor_id", "mentee_id"])
    assert len(joined) == len(result.suggestions)
    np.testing.assert_allclose(joined["regret"], joined["expected"], atol=1e-9)
    assert joined["regret_exact"].all()


# --------------------------------------------------------------------------- explanations


def test_explanation_names_skills_goals_and_site(program) -> None:
    mentors, mentees = _small()
    res = program.suggest(mentors, mentees, k=3)
    s = res.suggestions.set_index(["mentee_id", "mentor_id"])
    text = s.loc[("E1", "M1"), "explanation"]
    assert text.startswith("covers 2 of 3 wanted skills (Python, SQL)")
    assert "shared goal 'Leadership'" in text
    assert "same site (Berlin)" in text
    assert "level gap 3" in text
    assert "covers 1 of 3 wanted skills (Python)" in s.loc[("E1", "M2"), "explanation"]
    # M3 is in Paris and works in person only: never suggested
    assert "M3" not in set(res.suggestions["mentor_id"])
    assert s.loc[("E1", "M1"), "featured"] and s.loc[("E2", "M2"), "featured"]
    assert s.loc[("E1", "M2"), "regret"] == pytest.approx(0.375)


def test_mentee_with_no_allowed_mentor_has_no_list_and_a_reason(program) -> None:
    mentors, mentees = _small()
    mentees.loc[1, "level"] = 5  # no mentor two levels above
    res = program.suggest(mentors, mentees)
    assert set(res.suggestions["mentee_id"]) == {"E1"}
    reason = res.unmatched.set_index("id").loc["E2", "reason"]
    assert reason.startswith("no allowed mentor")


# --------------------------------------------------------------------------- expert finder


def test_expert_query_ranks_by_coverage_then_accessibility(program) -> None:
    mentors, _ = _small()
    mentors.loc[2, "remote_ok"] = True
    res = program.suggest(mentors, skills=["python", "sql"], k=10)
    s = res.suggestions
    assert s["mentee_id"].unique().tolist() == ["query"]
    assert s["mentor_id"].tolist() == ["M1", "M3", "M2"]  # 2/2, then 1/2 with capacity 2, 1/2
    assert s["score"].tolist() == [1.0, 0.5, 0.5]
    assert s["explanation"].iloc[0].startswith("covers 2 of 2 wanted skills (Python, SQL)")
    assert "open to remote mentoring" in s["explanation"].iloc[0]
    assert s["regret"].isna().all()
    assert res.summary().startswith("experts for python, sql")


def test_expert_query_with_nobody_and_errors(program) -> None:
    mentors, mentees = _small()
    res = program.suggest(mentors, skills=["Knitting"])
    assert res.suggestions.empty
    assert "Knitting" in res.unmatched["reason"].iloc[0]
    with pytest.raises(InputError, match="exactly one of `mentees`"):
        program.suggest(mentors, mentees, skills=["sql"])
    with pytest.raises(InputError, match="exactly one of `mentees`"):
        program.suggest(mentors)
    with pytest.raises(InputError, match="`skills` must name at least one skill"):
        program.suggest(mentors, skills=[" "])
    with pytest.raises(InputError, match="`k` must be a positive integer"):
        program.suggest(mentors, mentees, k=0)
    with pytest.raises(InputError, match="lacks it"):
        program.suggest(mentors.drop(columns="skills"), skills=["sql"])


# --------------------------------------------------------------------------- outputs


def test_outputs_are_consistent(result, tmp_path: Path) -> None:
    data = result.to_dict()
    assert data["kind"] == "suggestions"
    assert len(data["suggestions"]) == len(result.suggestions)
    assert json.loads(result.to_json())["suggestions"][0]["rank"] == 1
    main_path, unmatched_path = result.to_csv(tmp_path / "s.csv")
    back = pd.read_csv(main_path)
    assert back.columns.tolist() == result.suggestions.columns.tolist()
    assert unmatched_path.exists()
    page = result.to_html(tmp_path / "s.html")
    assert page.startswith("<!DOCTYPE html>") and "http" not in page
    assert (tmp_path / "s.html").read_text(encoding="utf-8") == page
    assert "featured (first) suggestions" in result.summary()
    assert repr(result).startswith("SuggestionsResult(suggestions=")


def test_cli_suggest_and_skill(tmp_path: Path, demo, capsys) -> None:
    demo["mentors"].to_csv(tmp_path / "m.csv", index=False)
    demo["mentees"].to_csv(tmp_path / "e.csv", index=False)
    out = tmp_path / "s.csv"
    argv = ["suggest", "--mentors", str(tmp_path / "m.csv"), "--quiet", "--out"]
    assert main([*argv, str(out), "--mentees", str(tmp_path / "e.csv"), "-k", "2"]) == 0
    table = pd.read_csv(out)
    assert table.groupby("mentee_id").size().max() == 2
    assert (tmp_path / "s.unmatched.csv").exists()
    experts = tmp_path / "x.csv"
    assert main([*argv, str(experts), "--skill", "Python", "--skill", "sql"]) == 0
    assert pd.read_csv(experts)["mentee_id"].eq("query").all()
    capsys.readouterr()
    assert main([*argv, str(tmp_path / "y.csv")]) == 2
    assert "exactly one of `mentees`" in capsys.readouterr().err
    assert not (tmp_path / "y.csv").exists()


def test_cli_suggest_writes_its_report(tmp_path: Path, demo) -> None:
    demo["mentors"].to_csv(tmp_path / "m.csv", index=False)
    demo["mentees"].head(12).to_csv(tmp_path / "e.csv", index=False)
    report = tmp_path / "s.html"
    argv = ["suggest", "--mentors", str(tmp_path / "m.csv"), "--mentees", str(tmp_path / "e.csv")]
    argv += ["--quiet", "-k", "2", "--out", str(tmp_path / "s.csv"), "--report", str(report)]
    assert main(argv) == 0
    html = report.read_text(encoding="utf-8")
    table = pd.read_csv(tmp_path / "s.csv")
    assert html.startswith("<!DOCTYPE html>")
    assert all(str(m) in html for m in table["mentor_id"])
    assert "http://" not in html and "https://" not in html
