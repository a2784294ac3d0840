"""``result.audit(by=...)``: figures equal a pandas re-count; small cells never show."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pairwise as pw
from pairwise._audit import (
    AUDIT_COLUMNS,
    BLANK,
    SEGMENT_COLUMNS,
    audit_basis,
    audit_table,
)
from pairwise.errors import InputError
from pairwise.reports import FEW_PEOPLE

MIN_CELL = 5


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return pw.datasets.demo_rosters()


@pytest.fixture(scope="module")
def program() -> pw.Program:
    return pw.load_program().replace(time_limit=3.0)


@pytest.fixture(scope="module")
def results(frames: dict[str, pd.DataFrame], program: pw.Program) -> dict[str, Any]:
    return {
        "pairs": program.pairs(frames["mentors"], frames["mentees"]),
        "peers": program.peers(frames["people"]),
        "groups": program.groups(frames["leaders"], frames["proteges"]),
    }


# ------------------------------------------------------------------ the oracle


def _segment(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return BLANK
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _per_person(kind: str, result: Any, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The audited roster with ``matched`` and ``score``, re-derived from the result's tables."""
    if kind == "pairs":
        people = frames["mentees"].copy()
        scores = dict(zip(result.pairs["mentee_id"], result.pairs["score"], strict=True))
    elif kind == "peers":
        people = frames["people"].copy()
        p = result.pairs
        scores = dict(zip(p["person_a"], p["score"], strict=True))
        scores.update(zip(p["person_b"], p["score"], strict=True))
    else:
        people = frames["proteges"].copy()
        scores = dict(zip(result.groups["member_id"], result.groups["fit"], strict=True))
    people["matched"] = people["id"].astype(str).isin(scores)
    people["score"] = people["id"].astype(str).map(scores).astype(float)
    return people


def _recount(people: pd.DataFrame, column: str) -> pd.DataFrame:
    """n, matched, share, mean and lowest score per value: a plain pandas groupby."""
    values = people[column].map(_segment)
    grouped = people.assign(value=values).groupby("value", dropna=False)
    return pd.DataFrame(
        {
            "n": grouped.size(),
            "matched": grouped["matched"].sum(),
            "mean_score": grouped["score"].mean(),
            "lowest_score": grouped["score"].min(),
        }
    )


def _check_against_recount(audit: pd.DataFrame, people: pd.DataFrame, protected: set[str]) -> None:
    for column, rows in audit.groupby("column", sort=False):
        oracle = _recount(people, str(column))
        small = set(oracle.index[oracle["n"] < MIN_CELL])
        if column in protected and small:
            # the small values are pooled and never named
            assert not small & set(rows["value"]), rows
            pooled = oracle.loc[sorted(small, key=str)].sum()
            pooled["mean_score"] = people.loc[
                people[column].map(_segment).isin(small) & people["matched"], "score"
            ].mean()
            pooled["lowest_score"] = people.loc[
                people[column].map(_segment).isin(small) & people["matched"], "score"
            ].min()
            oracle = pd.concat([oracle.drop(index=list(small)), pooled.to_frame(FEW_PEOPLE).T])
        assert set(rows["value"]) == set(oracle.index), (column, rows, oracle)
        for row in rows.itertuples(index=False):
            want = oracle.loc[row.value]
            if int(want["n"]) < MIN_CELL:
                assert row.suppressed, row
            if row.suppressed:
                assert pd.isna(row.n) and pd.isna(row.matched), row
                assert np.isnan([row.matched_share, row.mean_score, row.lowest_score]).all()
                continue
            assert row.n == int(want["n"]) >= MIN_CELL
            assert row.matched == int(want["matched"])
            assert row.matched_share == pytest.approx(want["matched"] / want["n"])
            for name in ("mean_score", "lowest_score"):
                got, expected = getattr(row, name), float(want[name])
                assert (np.isnan(got) and np.isnan(expected)) or got == pytest.approx(expected)
        # a lone blank cell would be the total minus the others
        if len(rows) > 1:
            assert rows["suppressed"].sum() != 1, rows


@pytest.mark.parametrize("kind", ["pairs", "peers", "groups"])
def test_audit_equals_a_pandas_recount_on_the_demo(
    kind: str, results: dict[str, Any], frames: dict[str, pd.DataFrame]
) -> None:
    result = results[kind]
    audit = result.audit()
    assert list(audit.columns) == AUDIT_COLUMNS
    assert list(dict.fromkeys(audit["column"])) == list(SEGMENT_COLUMNS)
    _check_against_recount(audit, _per_person(kind, result, frames), {"gender", "ethnicity"})
    # every segment column covers the whole audited roster once its blank rows are counted
    people = _per_person(kind, result, frames)
    for _, rows in audit.groupby("column"):
        shown = rows.loc[~rows["suppressed"], "n"].sum()
        hidden = len(people) - shown
        assert hidden == 0 or (rows["suppressed"].sum() >= 2 and hidden > 0)


def test_audit_by_one_column_and_many(results: dict[str, Any]) -> None:
    result = results["pairs"]
    site = result.audit("site")
    assert set(site["column"]) == {"site"}
    both = result.audit(["level", "site"])
    assert list(dict.fromkeys(both["column"])) == ["level", "site"]
    pd.testing.assert_frame_equal(both[both["column"] == "site"].reset_index(drop=True), site)
    # a non-default column the roster has: remote_ok
    assert set(result.audit("remote_ok")["column"]) == {"remote_ok"}


@pytest.mark.parametrize(
    ("by", "needle"),
    [
        ("nope", "no such column"),
        ("skills", "list column"),
        ("id", "one person per value"),
        ("name", "one person per value"),
        ([3], "a column name or a list"),
    ],
)
def test_audit_by_refuses_what_it_cannot_audit(
    results: dict[str, Any], by: Any, needle: str
) -> None:
    with pytest.raises(InputError, match=needle) as err:
        results["pairs"].audit(by)
    assert "Fix:" in str(err.value)


def test_result_without_roster_cannot_be_audited() -> None:
    result = pw.PairsResult(
        unmatched=pd.DataFrame(columns=["id", "role", "reason"]),
        status="optimal",
        objective=0.0,
        bound=None,
        wall_time=0.0,
        method="manual",
        seed=0,
    )
    with pytest.raises(InputError, match="holds no roster to audit"):
        result.audit()


def test_groups_composition_is_the_renamed_field(results: dict[str, Any]) -> None:
    groups = results["groups"]
    assert {"population", "placed", "placement_rate"} <= set(groups.composition.columns)
    assert callable(groups.audit)
    assert "composition" in groups.to_dict() and "audit" not in groups.to_dict()


# ------------------------------------------------------------------ suppression


def _roster(values: dict[str, list[Any]]) -> pw.Roster:
    n = len(next(iter(values.values())))
    return pw.load_roster(pd.DataFrame({"id": [f"E{i}" for i in range(n)], **values}))


def test_small_cells_and_their_complement_are_blank() -> None:
    # sites: 7, 6, 3 people -> the 3 is blank, and the 6 too (else 3 = total - 7 - 6)
    sites = ["A"] * 7 + ["B"] * 6 + ["C"] * 3
    roster = _roster({"site": sites})
    basis = audit_basis(roster, np.arange(0, 16, 2), np.linspace(0, 1, 8), protected=())
    table = audit_table(basis, "site").set_index("value")
    assert table["suppressed"].to_dict() == {"A": False, "B": True, "C": True}
    assert table.loc["A", "n"] == 7 and table.loc["A", "matched"] == 4
    assert table.loc[["B", "C"], ["n", "matched"]].isna().all().all()
    # two small cells already hide each other: nothing more is blanked
    sites = ["A"] * 7 + ["B"] * 6 + ["C"] * 3 + ["D"] * 2
    table = audit_table(audit_basis(_roster({"site": sites}), [0], [0.5], ()), "site")
    assert table.set_index("value")["suppressed"].to_dict() == {
        "A": False,
        "B": False,
        "C": True,
        "D": True,
    }


def test_protected_small_values_are_pooled_and_not_named() -> None:
    race = ["Alpha"] * 8 + ["Beta"] * 6 + ["Rare"] * 2 + ["Odd"] * 1 + [None] * 5
    roster = _roster({"race": race})
    basis = audit_basis(roster, np.arange(22), np.full(22, 0.5), protected=("race",))
    table = audit_table(basis, "race")
    assert table["value"].tolist() == ["Alpha", "Beta", BLANK, FEW_PEOPLE]
    assert "Rare" not in table.to_string() and "Odd" not in table.to_string()
    # the pool holds 3 people: blank, with its complement (the smallest other: blank, 5)
    assert table["suppressed"].tolist() == [False, False, True, True]
    # not protected: the values are named, the figures still blank
    table = audit_table(basis, "race", protected=())
    assert {"Rare", "Odd"} <= set(table["value"])
    assert table.set_index("value").loc[["Rare", "Odd"], "suppressed"].all()


@st.composite
def _segments(draw: st.DrawFn) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, set[str]]:
    n = draw(st.integers(1, 60))
    frame = pd.DataFrame(
        {
            "site": draw(st.lists(st.sampled_from("ABCDE"), min_size=n, max_size=n)),
            "level": draw(
                st.lists(st.sampled_from([1.0, 2.0, 3.0, None]), min_size=n, max_size=n)
            ),
            "gender": draw(
                st.lists(st.sampled_from(["F", "M", "X", None]), min_size=n, max_size=n)
            ),
        }
    )
    matched = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    score = np.round(np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))), 6)
    protected = set(draw(st.sets(st.sampled_from(["site", "level", "gender"]))))
    return frame, matched, score, protected


@settings(max_examples=80)
@given(_segments())
def test_audit_of_random_rosters_equals_the_recount(
    case: tuple[pd.DataFrame, np.ndarray, np.ndarray, set[str]],
) -> None:
    frame, matched, score, protected = case
    roster = _roster({c: frame[c].tolist() for c in frame.columns})
    at = np.flatnonzero(matched)
    basis = audit_basis(roster, at, score[at], protected=tuple(sorted(protected)))
    audit = audit_table(basis, ["site", "level", "gender"])
    people = frame.assign(matched=matched, score=np.where(matched, score, np.nan))
    _check_against_recount(audit, people, protected)


# ------------------------------------------------------------------ protected attributes


def test_protected_values_appear_nowhere_but_the_suppressed_audit(
    frames: dict[str, pd.DataFrame], program: pw.Program, tmp_path: Path
) -> None:
    mentees = frames["mentees"].copy()
    mentees.loc[0, "ethnicity"] = "Unique-Group"
    people = frames["people"].copy()
    people.loc[0, "ethnicity"] = "Unique-Group"
    proteges = frames["proteges"].copy()
    proteges.loc[0, "ethnicity"] = "Unique-Group"
    made = {
        "pairs": program.pairs(frames["mentors"], mentees),
        "peers": program.peers(people),
        "groups": program.groups(frames["leaders"], proteges),
    }
    for kind, result in made.items():
        audit = result.audit()
        assert "Unique-Group" not in set(audit["value"])
        for column in ("gender", "ethnicity"):
            rows = audit[audit["column"] == column]
            named = rows[~rows["suppressed"] & (rows["value"] != FEW_PEOPLE)]
            assert (named["n"] >= MIN_CELL).all(), named
        # every other rendering: no protected column, no protected value
        texts = [
            result.summary(),
            result._repr_html_(),
            repr(result),
            json.dumps(result.to_dict(), default=str),
        ]
        written = result.to_csv(tmp_path / f"{kind}.csv")
        texts += [Path(p).read_text(encoding="utf-8") for p in written]
        for text in texts:
            assert "Unique-Group" not in text, kind
        for table in result.tables().values():
            assert not {"gender", "ethnicity"} & set(table.columns), kind


def test_programme_protected_columns_are_audited_and_pooled(
    frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    mentees = frames["mentees"].copy()
    mentees["race"] = np.where(np.arange(len(mentees)) % 2 == 0, "Alpha", "Beta")
    mentees.loc[3, "race"] = "Unique-Race"
    cfg = tmp_path / "p.toml"
    cfg.write_text('[program]\nprotected = ["race"]\n', encoding="utf-8")
    result = pw.load_program(cfg).pairs(frames["mentors"], mentees)
    audit = result.audit()
    assert "race" in set(audit["column"])  # the programme's protected column, by default
    race = audit[audit["column"] == "race"]
    assert race["value"].tolist() == ["Alpha", "Beta", FEW_PEOPLE]
    assert "Unique-Race" not in audit.to_string()
