"""Tests for pairwise.datasets: the synthetic organisation and the embedded demo rosters."""

from __future__ import annotations

import doctest
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pairwise.datasets as datasets_module
from pairwise.datasets import GOALS, SITES, SKILLS, _write_demo, demo_rosters, make_organisation
from pairwise.errors import InputError
from pairwise.roster import DEFAULT_COLUMNS, load_roster, parse_timezone, parse_work_hours

DEMO_NAMES = ("mentors", "mentees", "leaders", "proteges", "people")


@pytest.fixture(scope="module")
def org() -> pd.DataFrame:
    return make_organisation(500, seed=7)


def split(cell: str) -> list[str]:
    return [v for v in cell.split(";") if v]


def test_columns_and_types(org: pd.DataFrame) -> None:
    assert list(org.columns) == list(DEFAULT_COLUMNS)
    assert len(org) == 500 and org["id"].is_unique
    assert org["level"].dtype == np.int64 and org["capacity"].dtype == np.int64
    assert org["remote_ok"].dtype == bool and org["priority"].dtype == np.float64
    assert not org.isna().any().any()


def test_same_seed_same_frame_other_seed_differs() -> None:
    pd.testing.assert_frame_equal(make_organisation(120, seed=3), make_organisation(120, seed=3))
    assert not make_organisation(120, seed=3).equals(make_organisation(120, seed=4))


def test_loads_as_a_valid_roster(org: pd.DataFrame) -> None:
    roster = load_roster(org)
    assert len(roster) == len(org)
    assert all(isinstance(w, tuple) for w in roster.frame["work_hours"])
    assert not np.isnan(roster.utc_offset_minutes()).any()


def test_level_pyramid(org: pd.DataFrame) -> None:
    counts = org["level"].value_counts().reindex(range(1, 8), fill_value=0).to_numpy()
    assert counts[-1] == 1  # one head of the organisation
    assert np.all(np.diff(counts) <= 0)  # many juniors, few seniors
    assert counts[:3].sum() > 0.7 * len(org)


def test_manager_tree(org: pd.DataFrame) -> None:
    level = dict(zip(org["id"], org["level"], strict=True))
    function = dict(zip(org["id"], org["function"], strict=True))
    manager = dict(zip(org["id"], org["manager_id"], strict=True))
    roots = [p for p, m in manager.items() if m == ""]
    assert len(roots) == 1 and level[roots[0]] == 7
    same_function = 0
    for person, boss in manager.items():
        if boss == "":
            continue
        assert boss in level, f"{person}'s manager {boss} is not in the organisation"
        assert level[boss] > level[person]
        same_function += function[boss] == function[person]
        # walking up always reaches the head: no cycles
        seen = {person}
        while manager[boss] != "":
            assert boss not in seen
            seen.add(boss)
            boss = manager[boss]
        assert boss == roots[0]
    assert same_function > 0.7 * (len(org) - 1)


def test_vocabularies(org: pd.DataFrame) -> None:
    for cell, lv in zip(org["skills"], org["level"], strict=True):
        assert (len(split(cell)) > 0) == (lv >= 3)
        assert set(split(cell)) <= set(SKILLS)
    for wants, skills in zip(org["wants"], org["skills"], strict=True):
        assert 1 <= len(split(wants)) <= 3 and set(split(wants)) <= set(SKILLS)
        assert not set(split(wants)) & set(split(skills))
    assert all(1 <= len(split(g)) <= 2 and set(split(g)) <= set(GOALS) for g in org["goals"])
    assert len(SKILLS) == 20 and len(GOALS) == 8
    assert org["function"].nunique() >= 8
    english = org["languages"].map(lambda c: "English" in split(c)).mean()
    assert english > 0.8 and all(split(c) for c in org["languages"])


def test_sites_time_zones_and_hours(org: pd.DataFrame) -> None:
    for site, zone in zip(org["site"], org["timezone"], strict=True):
        assert SITES[site]["timezone"] == zone
        parse_timezone(zone)
    windows = [parse_work_hours(w) for w in org["work_hours"]]
    assert sum(w == (540, 1020) for w in windows) > 0.5 * len(org)
    assert org["site"].nunique() == len(SITES)


def test_capacity_priority_and_remote(org: pd.DataFrame) -> None:
    junior = org["level"] <= 3
    assert (org.loc[junior, "capacity"] == 0).all()
    assert org.loc[~junior, "capacity"].between(0, 3).all()
    assert (org.loc[~junior, "capacity"] > 0).mean() > 0.6
    assert set(org["priority"]) == {1.0, 2.0}
    assert (org.loc[org["priority"] == 2.0, "level"] <= 3).all()
    assert 0.05 < (org["priority"] == 2.0).mean() < 0.4
    assert 0.7 < org["remote_ok"].mean() < 0.95


def test_preferences_name_willing_seniors(org: pd.DataFrame) -> None:
    level = dict(zip(org["id"], org["level"], strict=True))
    capacity = dict(zip(org["id"], org["capacity"], strict=True))
    stating = 0
    for person, cell in zip(org["id"], org["preferences"], strict=True):
        choices = split(cell)
        if not choices:
            continue
        stating += 1
        assert level[person] <= 3 and len(choices) == len(set(choices)) <= 3
        for choice in choices:
            assert capacity[choice] > 0 and level[choice] >= level[person] + 2
    assert stating > 0.1 * len(org)


def test_protected_attributes(org: pd.DataFrame) -> None:
    assert set(org["gender"]) == {"Woman", "Man", "Non-binary"}
    shares = org["gender"].value_counts(normalize=True)
    assert 0.3 < shares["Woman"] < 0.6 and shares["Non-binary"] < 0.1
    assert 5 <= org["ethnicity"].nunique() <= 6
    assert org["ethnicity"].value_counts(normalize=True).max() < 0.6
    assert org["name"].str.contains(" ").all()


@pytest.mark.parametrize("n", [1, 2, 7, 30])
def test_small_organisations(n: int) -> None:
    frame = make_organisation(n, seed=1)
    assert len(frame) == n and (frame["manager_id"] == "").sum() == 1
    load_roster(frame)


@pytest.mark.parametrize("bad", [0, -5, 2.5, "10", True])
def test_n_people_message(bad: object) -> None:
    with pytest.raises(InputError, match=r"`n_people` must be a positive integer.*Fix:"):
        make_organisation(bad)  # type: ignore[arg-type]


def test_demo_rosters_splits() -> None:
    demo = demo_rosters()
    assert tuple(demo) == DEMO_NAMES
    org = make_organisation(300, seed=2024)
    for name, frame in demo.items():
        assert list(frame.columns) == list(DEFAULT_COLUMNS)
        # every row is the organisation's own row, unchanged
        rows = org.set_index("id").loc[frame["id"]].reset_index()
        pd.testing.assert_frame_equal(frame, rows, check_dtype=False, obj=name)
        load_roster(frame, role=name)
    mentors, mentees = demo["mentors"], demo["mentees"]
    assert ((mentors["level"] >= 4) & (mentors["capacity"] > 0)).all()
    assert len(mentors) == ((org["level"] >= 4) & (org["capacity"] > 0)).sum()
    assert (mentees["level"] <= 3).all() and len(mentees) == 110
    assert (demo["leaders"]["level"] >= 5).all() and 10 <= len(demo["leaders"]) <= 15
    assert demo["proteges"]["level"].between(1, 3).all()
    assert 60 <= len(demo["proteges"]) <= 80 and demo["proteges"]["id"].is_unique
    assert demo["people"]["level"].isin([2, 3]).all()
    assert len(demo["people"]) == org["level"].isin([2, 3]).sum()


def test_demo_rosters_are_fresh_copies() -> None:
    first = demo_rosters()
    first["mentors"].loc[0, "id"] = "changed"
    assert demo_rosters()["mentors"].loc[0, "id"] != "changed"


def test_demo_files_load_as_rosters() -> None:
    data = resources.files("pairwise") / "data"
    for name in DEMO_NAMES:
        with resources.as_file(data / f"{name}.csv") as path:
            roster = load_roster(path)
        assert len(roster) == len(demo_rosters()[name])


def test_regenerating_reproduces_shipped_files(tmp_path: Path) -> None:
    written = _write_demo(tmp_path)
    data = resources.files("pairwise") / "data"
    assert sorted(written) == sorted(DEMO_NAMES)
    for name, path in written.items():
        shipped = (data / f"{name}.csv").read_bytes()
        assert path.read_bytes() == shipped, f"{name}.csv differs from a fresh _write_demo"


def test_doctests() -> None:
    result = doctest.testmod(datasets_module)
    assert result.attempted > 0 and result.failed == 0
