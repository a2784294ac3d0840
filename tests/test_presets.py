"""Programme presets: each loads, its rules hold on the demo rosters, file keys override it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pairwise as pw
from pairwise import rules as R
from pairwise.checks import matching_violations
from pairwise.config import PRESETS, load_program
from pairwise.criteria import LevelGap
from pairwise.errors import InputError
from pairwise.roster import load_roster


@pytest.fixture(scope="module")
def demo():
    return pw.datasets.demo_rosters()


def _rosters(preset, demo):
    if preset == "reverse":  # the juniors mentor the seniors
        return demo["mentees"].assign(capacity=1), demo["mentors"]
    return demo["mentors"], demo["mentees"]


def _positions(roster, ids):
    lookup = {str(v): i for i, v in enumerate(roster["id"].astype(str))}
    return np.array([lookup[str(i)] for i in ids], dtype=int)


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_loads_and_its_rules_hold_on_the_demo(preset, demo, tmp_path):
    program = load_program(preset=preset).replace(time_limit=20.0)
    assert program.preset == preset
    mentors, mentees = _rosters(preset, demo)
    result = program.pairs(mentors, mentees)
    assert len(result.pairs) > 0
    # every pair is allowed by the preset's rules and capacities hold (independent check)
    m, e = load_roster(mentors, role="mentor"), load_roster(mentees, role="mentee")
    compat = program.model.score(m, e)
    rows = _positions(mentors, result.pairs["mentor_id"])
    cols = _positions(mentees, result.pairs["mentee_id"])
    cap = program._capacity(m)
    assert (
        matching_violations(rows, cols, shape=compat.shape, allowed=compat.allowed, capacity=cap)
        == []
    )
    # the same preset named in a file gives the same programme
    path = tmp_path / "p.toml"
    path.write_text(f'[program]\npreset = "{preset}"\n', encoding="utf-8")
    assert load_program(path) == load_program(preset=preset)


def test_reverse_pairs_have_the_mentor_below(demo):
    mentors, mentees = _rosters("reverse", demo)
    result = load_program(preset="reverse").pairs(mentors, mentees)
    level_m = mentors.set_index("id")["level"]
    level_e = mentees.set_index("id")["level"]
    gaps = [
        level_e[b] - level_m[a]
        for a, b in zip(result.pairs["mentor_id"], result.pairs["mentee_id"], strict=True)
    ]
    assert len(gaps) > 0 and min(gaps) >= 2
    # the ordinary direction finds no pair at all on the same rosters
    ordinary = load_program().pairs(mentors, mentees)
    assert len(ordinary.pairs) == 0


def test_buddy_pairs_share_a_site_and_are_about_the_same_level(demo):
    result = load_program(preset="buddy").pairs(demo["mentors"], demo["mentees"])
    m = demo["mentors"].set_index("id")
    e = demo["mentees"].set_index("id")
    for a, b in zip(result.pairs["mentor_id"], result.pairs["mentee_id"], strict=True):
        assert m.loc[a, "site"] == e.loc[b, "site"]
        assert abs(int(m.loc[a, "level"]) - int(e.loc[b, "level"])) <= 1
    assert result.pairs.groupby("mentor_id").size().max() == 1


def test_expert_has_no_level_rule_and_ranks_by_skill_coverage():
    program = load_program(preset="expert")
    assert not any(isinstance(r, R.MinLevelGap) for r in program.model.rules)
    assert program.model.criteria[0].name == "complement_skills_wants"
    mentors = pd.DataFrame(
        {"id": ["junior", "senior"], "level": [1, 9], "skills": ["Python;SQL", "Budgeting"]}
    )
    mentees = pd.DataFrame({"id": ["x"], "level": [5], "wants": ["Python;SQL"]})
    result = program.pairs(mentors, mentees)
    assert result.pairs["mentor_id"].tolist() == ["junior"]


def test_file_keys_override_the_preset(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        '[program]\npreset = "reverse"\nname = "Digital mentors"\n[rules]\nmin_level_gap = 3\n',
        encoding="utf-8",
    )
    program = load_program(path)
    assert program.name == "Digital mentors" and program.preset == "reverse"
    gap = next(r for r in program.model.rules if isinstance(r, R.MinLevelGap))
    assert (gap.gap, gap.direction) == (3, "below")
    # the argument overrides the file's preset
    assert load_program(path, preset="buddy").preset == "buddy"


def test_unknown_preset_is_refused(tmp_path):
    with pytest.raises(InputError, match="`preset` must be one of 'mentoring', 'reverse'"):
        load_program(preset="reversed")
    path = tmp_path / "p.toml"
    path.write_text('[program]\npreset = "reversed"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"`program\.preset` must be 'mentoring' or 'reverse'"):
        load_program(path)


def test_level_direction_below_inverts_rule_and_criterion():
    m = load_roster(pd.DataFrame({"id": ["a", "b"], "level": [1, 5]}))
    e = load_roster(pd.DataFrame({"id": ["x"], "level": [3]}))
    assert R.MinLevelGap(2, direction="below").mask(m, e).ravel().tolist() == [True, False]
    assert R.MaxLevelGap(1, direction="below").mask(m, e).ravel().tolist() == [False, True]
    assert R.MinLevelGap(2, direction="below").label() == "mentor ≥ 2 levels below"
    scores = LevelGap(ideal=2, tolerance=2, direction="below").score(m, e).ravel()
    assert scores.tolist() == pytest.approx([1.0, 0.0])
    with pytest.raises(InputError, match="`direction` of MinLevelGap must be 'above' or"):
        R.MinLevelGap(2, direction="down")
    with pytest.raises(InputError, match="`direction` of LevelGap must be one of"):
        LevelGap(direction="down")


def test_cli_demo_takes_a_preset(tmp_path, capsys):
    from pairwise.cli import main

    assert main(["demo", "--out", str(tmp_path), "--preset", "reverse", "--time-limit", "6"]) == 0
    pairs = pd.read_csv(tmp_path / "pairs.csv", dtype=str)
    juniors = set(pw.datasets.demo_rosters()["mentees"]["id"].astype(str))
    assert len(pairs) > 0 and set(pairs["mentor_id"]) <= juniors
    assert "blocking pair" in capsys.readouterr().out
