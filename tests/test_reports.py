"""Reports: group summaries, composition audits and the optional plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pairwise as pw
from pairwise.program import GroupOptions
from pairwise.reports import composition_audit, group_summary


@pytest.fixture()
def grouped() -> tuple[pd.DataFrame, pw.Roster]:
    proteges = pw.load_roster(
        pd.DataFrame(
            {
                "id": list("ABCDEF"),
                "gender": ["W", "W", "M", "M", "M", "W"],
                "function": ["x", "y", "x", "x", "z", "z"],
            }
        )
    )
    groups = pd.DataFrame(
        {
            "group": [1, 1, 1, 2, 2],
            "leader_id": ["L1", "L1", "L1", "L2", "L2"],
            "member_id": ["A", "B", "C", "D", "E"],
            "fit": [0.5, 0.7, 0.9, 0.2, 0.4],
        }
    )
    return groups, proteges


def test_group_summary_counts_and_rules(grouped) -> None:
    groups, proteges = grouped
    options = GroupOptions(min_distinct={"function": 2}, no_isolation=("gender",))
    out = group_summary(groups, proteges, options, ["gender", "function"])
    assert out["size"].tolist() == [3, 2]
    assert out["mean_fit"].round(6).tolist() == [0.7, 0.3]
    assert out["no_isolation_gender"].tolist() == [False, True]  # C is the only M in group 1
    assert out["min_distinct_function"].tolist() == [True, True]


def test_composition_audit_shares(grouped) -> None:
    groups, proteges = grouped
    # gender unprotected here: value by value (protected columns pool cells under 5)
    audit = composition_audit(groups, proteges, ["gender"], protected=()).set_index("value")
    assert audit.loc["W", "population"] == 3 and audit.loc["W", "placed"] == 2
    assert audit.loc["W", "placement_rate"] == pytest.approx(2 / 3)
    assert audit.loc["M", "max_group_share"] == 1.0


def test_plots_draw(grouped) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from pairwise.reports import plot_groups, plot_scores
    from pairwise.results import GroupsResult, PairsResult

    groups, proteges = grouped
    summary = group_summary(groups, proteges, GroupOptions(), [])
    empty = pd.DataFrame(columns=["id", "role", "reason"])
    common = {
        "unmatched": empty,
        "status": "optimal",
        "objective": 1.0,
        "bound": 1.0,
        "wall_time": 0.0,
        "method": "t",
        "seed": 0,
    }
    ax = plot_groups(GroupsResult(groups=groups, group_summary=summary, **common))
    assert "2 groups" in ax.get_title()
    pairs = pd.DataFrame({"mentor_id": ["M"], "mentee_id": ["E"], "score": [0.5]})
    ax = plot_scores(PairsResult(pairs=pairs, **common))
    assert "1 pairs" in ax.get_title()


def test_group_summary_carries_the_leader_name(grouped) -> None:
    groups, proteges = grouped
    named = groups.assign(leader_name="Ada " + groups["leader_id"].astype(str))
    table = group_summary(named, proteges, GroupOptions(), ["gender"])
    assert list(table.columns[:3]) == ["group", "leader_id", "leader_name"]
    assert (table["leader_name"] == "Ada " + table["leader_id"].astype(str)).all()


def test_groups_warnings_room_and_idle_leaders() -> None:
    import pairwise as pw
    from pairwise.reports import groups_warnings

    frames = pw.datasets.demo_rosters()
    leaders = pw.load_roster(frames["leaders"].head(3), role="leader")
    proteges = pw.load_roster(frames["proteges"].head(30), role="protege")
    compat = pw.load_program().group_model.score(leaders, proteges)
    lines = groups_warnings(compat, 3, list(proteges.ids), min_size=5, max_size=7)
    assert any(
        line.startswith("room for 21 protégés (3 leaders × at most 7) for 30") for line in lines
    )
    few = groups_warnings(compat, 3, list(proteges.ids)[:7], min_size=5, max_size=7)
    assert not any("room for" in line for line in few)


def test_no_partner_warnings_name_five_and_count_the_rest() -> None:
    from pairwise.reports import peers_warnings

    class Compat:
        def why_no_partner_row(self, k: int) -> str:
            return "no allowed mentee: level"

    allowed = np.zeros((8, 8), dtype=bool)
    lines = peers_warnings(Compat(), allowed, [f"P{k}" for k in range(8)])
    assert (
        lines[0]
        == "person P0 has no allowed partner and will not be paired: no allowed partner: level"
    )
    assert lines[5] == "... and 3 more people have no allowed partner" and len(lines) == 6


# ---------------------------------------------------------------------------
# Composition audit: protected columns stay aggregate (cells under 5 pooled)
# ---------------------------------------------------------------------------


@pytest.fixture()
def audited() -> tuple[pd.DataFrame, pw.Roster]:
    """20 protégés: ethnicity A×8, B×6, C×3, D×1, blank×2; groups of 6, 6 and 3."""
    ethnicity = ["A"] * 8 + ["B"] * 6 + ["C"] * 3 + ["D"] + [None] * 2
    function = ["x"] * 10 + ["y"] * 9 + ["z"]
    ids = [f"P{i:02d}" for i in range(20)]
    proteges = pw.load_roster(
        pd.DataFrame({"id": ids, "ethnicity": ethnicity, "function": function})
    )
    members = ["P00", "P01", "P08", "P09", "P14", "P17"]  # group 1: A A B B C D
    members += ["P02", "P03", "P04", "P10", "P11", "P15"]  # group 2: A A A B B C
    members += ["P05", "P12", "P19"]  # group 3: A B z
    groups = pd.DataFrame(
        {
            "group": [1] * 6 + [2] * 6 + [3] * 3,
            "leader_id": ["L1"] * 6 + ["L2"] * 6 + ["L3"] * 3,
            "member_id": members,
            "fit": np.linspace(0.1, 0.9, 15),
        }
    )
    return groups, proteges


def test_audit_pools_protected_values_held_by_fewer_than_five(audited) -> None:
    from pairwise.reports import FEW_PEOPLE

    groups, proteges = audited
    audit = composition_audit(groups, proteges, ["ethnicity"])
    assert FEW_PEOPLE == "(fewer than 5 people)"
    assert audit["value"].tolist() == ["A", "B", FEW_PEOPLE]  # the pooled row last
    pooled = audit.set_index("value").loc[FEW_PEOPLE]
    # C (3), D (1) and the 2 blanks: 6 people, of whom C, C, D and a blank are placed
    assert pooled["population"] == 6 and pooled["placed"] == 4
    assert pooled["placement_rate"] == pytest.approx(4 / 6)
    assert audit["population"].sum() == 20 and audit["placed"].sum() == 15
    assert not {"C", "D", "(blank)"} & set(audit["value"])


def test_audit_group_shares_skip_groups_under_five(audited) -> None:
    groups, proteges = audited
    audit = composition_audit(groups, proteges, ["ethnicity"]).set_index("value")
    # only groups 1 and 2 (6 members each) count: A is 2/6 and 3/6 there
    assert audit.loc["A", "min_group_share"] == pytest.approx(2 / 6)
    assert audit.loc["A", "max_group_share"] == pytest.approx(3 / 6)
    # group 3 (3 members, B is 1/3 of it) is a small cell: not in the range
    assert audit.loc["B", "max_group_share"] == pytest.approx(2 / 6)
    # every group under five: the group shares are suppressed
    small = groups[groups["group"] == 3]
    tiny = composition_audit(small, proteges, ["ethnicity"])
    assert tiny["min_group_share"].isna().all() and tiny["max_group_share"].isna().all()
    assert tiny["placed"].sum() == 3  # the counts stay (A, B and a blank)


def test_audit_keeps_unprotected_columns_value_by_value(audited) -> None:
    groups, proteges = audited
    audit = composition_audit(groups, proteges, ["function"]).set_index("value")
    assert audit.loc["z", "population"] == 1  # a single person, but function is not protected
    assert audit.loc["z", "max_group_share"] == pytest.approx(1 / 3)  # small group included
    # the programme's list decides: function protected, ethnicity not
    custom = composition_audit(groups, proteges, ["function", "ethnicity"], protected=["function"])
    by_column = custom.groupby("column")["value"].apply(list).to_dict()
    assert by_column["function"] == ["x", "y", "(fewer than 5 people)"]
    assert {"C", "D", "(blank)"} <= set(by_column["ethnicity"])


def test_audit_of_a_numeric_protected_column() -> None:
    proteges = pw.load_roster(
        pd.DataFrame({"id": [f"P{i}" for i in range(8)], "age": [30] * 6 + [61, 62]})
    )
    groups = pd.DataFrame({"group": [1] * 5, "member_id": ["P0", "P1", "P2", "P6", "P7"]})
    audit = composition_audit(groups, proteges, ["age"], protected=["age"])
    assert audit["value"].tolist() == [30, "(fewer than 5 people)"]
    assert audit["placed"].tolist() == [3, 2]


def test_programme_audit_has_no_small_protected_cell() -> None:
    frames = pw.datasets.demo_rosters()
    proteges = frames["proteges"].copy()
    proteges.loc[0, "ethnicity"] = "Unique-Group"
    result = pw.load_program().replace(time_limit=3.0).groups(frames["leaders"], proteges)
    audit = result.composition
    assert "Unique-Group" not in set(audit["value"])
    for column in ("gender", "ethnicity"):
        rows = audit[audit["column"] == column]
        assert len(rows) and rows["population"].sum() == len(proteges)
        named = rows[rows["value"] != "(fewer than 5 people)"]
        assert (named["population"] >= 5).all(), named
    assert "Unique-Group" not in str(result.to_dict())


# ---------------------------------------------------------------------------
# group_summary: vectorised, identical to the per-group computation
# ---------------------------------------------------------------------------


def _summary_per_group(groups, proteges, options, columns) -> pd.DataFrame:
    """The former implementation (one value_counts per group and column): the oracle."""
    frame = groups.copy()
    present = [c for c in columns if c in proteges.frame.columns]
    position = {str(i): k for k, i in enumerate(proteges.ids)}
    for column in present:
        values = proteges.frame[column].to_numpy(dtype=object)
        frame[f"__{column}"] = pd.Series(
            [values[position[m]] for m in groups["member_id"]], index=groups.index, dtype=object
        )
    rows = []
    for number, members in frame.groupby("group", sort=True):
        row = {"group": number, "leader_id": members["leader_id"].iloc[0]}
        if "leader_name" in members.columns:
            row["leader_name"] = members["leader_name"].iloc[0]
        row |= {
            "size": len(members),
            "mean_fit": float(members["fit"].mean()),
            "min_fit": float(members["fit"].min()),
        }
        for column in present:
            counts = members[f"__{column}"].dropna().value_counts()
            row[f"distinct_{column}"] = len(counts)
            if column in options.min_distinct:
                row[f"min_distinct_{column}"] = bool(len(counts) >= options.min_distinct[column])
            if column in options.max_count:
                row[f"max_count_{column}"] = bool(
                    counts.max() <= options.max_count[column] if len(counts) else True
                )
            if column in options.no_isolation:
                row[f"no_isolation_{column}"] = bool((counts != 1).all())
        rows.append(row)
    return pd.DataFrame(rows)


def _random_groups(proteges: pw.Roster, n_groups: int, seed: int, *, names: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.asarray(proteges.ids, dtype=object)
    chosen = rng.choice(len(ids), size=min(len(ids), n_groups * 6), replace=False)
    number = rng.integers(1, n_groups + 1, size=len(chosen))  # uneven sizes, unsorted rows
    groups = pd.DataFrame(
        {
            "group": number,
            "leader_id": [f"L{g:03d}" for g in number],
            "member_id": [str(i) for i in ids[chosen]],
            "fit": rng.random(len(chosen)),
        }
    )
    if names:
        groups["leader_name"] = [f"Leader {g}" if g % 7 else None for g in number]
    return groups


def test_group_summary_equals_the_per_group_computation_on_an_organisation() -> None:
    from pairwise.datasets import make_organisation

    org = make_organisation(4000, seed=0)
    proteges = pw.load_roster(org[org["level"] <= 3].head(930), role="protege")
    options = GroupOptions(
        min_distinct={"function": 3}, max_count={"function": 3}, no_isolation=("gender",)
    )
    columns = ["gender", "ethnicity", "function", "level"]
    for seed, names in ((0, False), (1, True)):
        groups = _random_groups(proteges, 150, seed, names=names)
        pd.testing.assert_frame_equal(
            group_summary(groups, proteges, options, columns),
            _summary_per_group(groups, proteges, options, columns),
            check_exact=True,
        )


def test_group_summary_equals_the_per_group_computation_on_edge_cases() -> None:
    proteges = pw.load_roster(
        pd.DataFrame(
            {
                "id": [f"P{i}" for i in range(24)],
                "gender": (["F", "M", None, "X"] * 6),
                "function": ["x"] * 12 + [None] * 12,  # a group may have no known value
                "team": [1, 1.0, 2, 3] * 6,
            }
        )
    )
    options = GroupOptions(
        min_distinct={"gender": 2}, max_count={"function": 2}, no_isolation=("gender", "team")
    )
    groups = pd.DataFrame(
        {
            "group": [3] * 10 + [1] * 12 + [2] * 2,  # one large group, numbers out of order
            "leader_id": ["C"] * 10 + ["A"] * 12 + ["B"] * 2,
            "member_id": [f"P{i}" for i in range(24)],
            "fit": [0.1, 0.2, np.nan, 0.3] * 6,
        }
    )
    columns = ["gender", "function", "team", "absent"]
    pd.testing.assert_frame_equal(
        group_summary(groups, proteges, options, columns),
        _summary_per_group(groups, proteges, options, columns),
        check_exact=True,
    )


def test_group_summary_refuses_members_outside_the_roster(grouped) -> None:
    groups, proteges = grouped
    stray = groups.assign(member_id=["A", "B", "C", "D", "Q"])
    with pytest.raises(pw.InputError, match="`member_id` must name people of the roster"):
        group_summary(stray, proteges, GroupOptions(), ["gender"])
