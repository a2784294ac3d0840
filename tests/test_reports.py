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
    audit = composition_audit(groups, proteges, ["gender"]).set_index("value")
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
