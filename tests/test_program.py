"""The high-level API end to end on the demo organisation: every rule holds, everyone appears."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pairwise as pw
from pairwise import checks


@pytest.fixture(scope="module")
def demo() -> dict[str, pw.Roster]:
    frames = pw.datasets.demo_rosters()
    roles = {
        "mentors": "mentor",
        "mentees": "mentee",
        "leaders": "leader",
        "proteges": "protege",
        "people": "person",
    }
    return {k: pw.load_roster(v, role=roles[k]) for k, v in frames.items()}


@pytest.fixture(scope="module")
def program() -> pw.Program:
    return pw.load_program().replace(time_limit=5.0)


def _levels(roster: pw.Roster, ids: pd.Series) -> np.ndarray:
    return roster.frame["level"].to_numpy()[roster.index_of(ids.astype(str))]


def test_pairs_respect_every_rule(demo, program) -> None:
    m, e = demo["mentors"], demo["mentees"]
    result = program.pairs(m, e)
    assert result.status == "optimal"
    pairs = result.pairs
    # everyone appears exactly once (mentees) / at least once (mentors)
    listed = set(pairs["mentee_id"]) | set(result.unmatched.query("role == 'mentee'")["id"])
    assert listed == set(e.ids) and not pairs["mentee_id"].duplicated().any()
    assert set(pairs["mentor_id"]) | set(result.unmatched.query("role == 'mentor'")["id"]) == set(
        m.ids
    )
    # the two-level rule and the manager rule, recomputed from the rosters
    assert np.all(_levels(m, pairs["mentor_id"]) - _levels(e, pairs["mentee_id"]) >= 2)
    managers = dict(zip(e.frame["id"], e.frame["manager_id"], strict=True))
    assert all(
        managers[b] != a for a, b in zip(pairs["mentor_id"], pairs["mentee_id"], strict=True)
    )
    # capacities
    cap = dict(zip(m.frame["id"], m.frame["capacity"], strict=True))
    assert all(n <= cap[i] for i, n in pairs.groupby("mentor_id").size().items())
    # the solver's objective is the score sum (weighted by priority)
    compat = program.model.score(m, e)
    rows, cols = m.index_of(pairs["mentor_id"]), e.index_of(pairs["mentee_id"])
    np.testing.assert_allclose(pairs["score"], compat.scores[rows, cols], atol=1e-6)
    assert compat.allowed[rows, cols].all()
    assert not checks.matching_violations(
        rows,
        cols,
        shape=compat.scores.shape,
        allowed=compat.allowed,
        capacity=m.frame["capacity"].to_numpy(),
    )


def test_scarce_capacity_places_priority_mentees_first() -> None:
    mentors = pd.DataFrame({"id": ["M1"], "level": [5], "capacity": [1]})
    mentees = pd.DataFrame(
        {"id": ["E1", "E2"], "level": [1, 1], "priority": [1.0, 2.0], "goals": ["a", "b"]}
    )
    program = pw.load_program()
    result = program.pairs(mentors, mentees)
    assert result.pairs["mentee_id"].tolist() == ["E2"]
    reason = result.unmatched.set_index("id").loc["E1", "reason"]
    assert "capacity" in reason


def test_groups_respect_every_rule(demo, program) -> None:
    result = program.groups(demo["leaders"], demo["proteges"])
    assert result.violations == ()
    sizes = result.groups.groupby("group").size()
    assert sizes.between(5, 7).all()
    ids = set(result.groups["member_id"]) | set(result.unmatched.query("role == 'protege'")["id"])
    assert ids == set(demo["proteges"].ids)
    assert not result.groups["member_id"].duplicated().any()
    leaders = set(result.groups["leader_id"]) | set(
        result.unmatched.query("role == 'leader'")["id"]
    )
    assert leaders == set(demo["leaders"].ids)
    # independent re-check of no_isolation on gender from the roster
    frame = demo["proteges"].frame.set_index("id")
    for _, members in result.groups.groupby("group"):
        counts = frame.loc[members["member_id"], "gender"].value_counts()
        assert (counts != 1).all()
    assert set(result.group_summary["size"]) <= {5, 6, 7}
    composition = set(result.composition.columns)
    assert {"column", "value", "population_share", "placed_share"} <= composition


def test_peers_are_about_the_same_level(demo, program) -> None:
    people = demo["people"]
    result = program.peers(people)
    lv = _levels(people, result.pairs["person_a"]) - _levels(people, result.pairs["person_b"])
    assert np.all(np.abs(lv) <= 1)
    seen = list(result.pairs["person_a"]) + list(result.pairs["person_b"])
    assert len(seen) == len(set(seen))
    assert set(seen) | set(result.unmatched["id"]) == set(people.ids)


def test_history_prevents_repeats(tmp_path, demo) -> None:
    m, e = demo["mentors"], demo["mentees"]
    first = pw.load_program().replace(time_limit=5.0).pairs(m, e)
    history = first.pairs[["mentor_id", "mentee_id"]]
    history.to_csv(tmp_path / "history.csv", index=False)
    cfg = tmp_path / "p.toml"
    cfg.write_text('[rules]\nhistory = "history.csv"\n', encoding="utf-8")
    second = pw.load_program(cfg).replace(time_limit=5.0).pairs(m, e)
    before = set(zip(history["mentor_id"], history["mentee_id"], strict=True))
    after = set(zip(second.pairs["mentor_id"], second.pairs["mentee_id"], strict=True))
    assert not before & after


def test_program_does_not_mutate_frames() -> None:
    frames = pw.datasets.demo_rosters()
    copy = {k: v.copy() for k, v in frames.items()}
    pw.load_program().replace(time_limit=2.0).pairs(frames["mentors"], frames["mentees"])
    for k in frames:
        pd.testing.assert_frame_equal(frames[k], copy[k])


def test_required_pairs_are_formed_even_when_capacity_is_tight(tmp_path) -> None:
    mentors = pd.DataFrame({"id": ["M1"], "level": [5], "capacity": [1]})
    mentees = pd.DataFrame({"id": ["E1", "E2", "E3"], "level": [1, 1, 1], "goals": ["a", "a", ""]})
    cfg = tmp_path / "p.toml"
    cfg.write_text('[rules]\nrequire = [["M1", "E3"]]\n', encoding="utf-8")
    result = pw.load_program(cfg).pairs(mentors, mentees)
    assert result.pairs[["mentor_id", "mentee_id"]].values.tolist() == [["M1", "E3"]]
    assert set(result.unmatched["id"]) == {"E1", "E2"}


def test_required_pairs_beyond_capacity_are_infeasible(tmp_path) -> None:
    mentors = pd.DataFrame({"id": ["M1"], "level": [5], "capacity": [1]})
    mentees = pd.DataFrame({"id": ["E1", "E2"], "level": [1, 1]})
    cfg = tmp_path / "p.toml"
    cfg.write_text('[rules]\nrequire = [["M1", "E1"], ["M1", "E2"]]\n', encoding="utf-8")
    with pytest.raises(pw.InfeasibleError, match="M1"):
        pw.load_program(cfg).pairs(mentors, mentees)


def test_same_roster_never_pairs_a_person_with_themself() -> None:
    people = pd.DataFrame({"id": ["A", "B", "C"]})
    result = pw.load_program().pairs(people, people)
    assert not (result.pairs["mentor_id"] == result.pairs["mentee_id"]).any()


def test_capacity_zero_reason() -> None:
    mentors = pd.DataFrame({"id": ["M1"], "level": [5], "capacity": [0]})
    mentees = pd.DataFrame({"id": ["E1"], "level": [1]})
    result = pw.load_program().pairs(mentors, mentees)
    reasons = result.unmatched.set_index("id")["reason"]
    assert "capacity 0" in reasons["E1"] and "capacity is 0" in reasons["M1"]
