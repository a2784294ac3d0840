"""``pairwise.compare`` and ``pairwise compare``: programmes side by side on the same rosters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import pairwise as pw
from pairwise.cli import main
from pairwise.errors import InputError


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return pw.datasets.demo_rosters()


@pytest.fixture(scope="module")
def programs() -> dict[str, pw.Program]:
    base = pw.load_program().replace(time_limit=3.0)
    # one mentee per mentor: fewer matched, other pairs
    return {"capacities": base, "one each": base.replace(capacity_column=None, capacity=1)}


@pytest.fixture(scope="module")
def pairs(frames: dict[str, pd.DataFrame], programs: dict[str, pw.Program]) -> dict[str, Any]:
    return {n: p.pairs(frames["mentors"], frames["mentees"]) for n, p in programs.items()}


def test_two_pairs_programmes_side_by_side(pairs: dict[str, Any]) -> None:
    comparison = pw.compare(pairs)
    assert comparison.kind == "pairs" and comparison.names == ("capacities", "one each")
    table = comparison.table.set_index("programme")
    for name, result in pairs.items():
        row = table.loc[name]
        assert row["status"] == result.status
        assert row["n"] == result.n_mentees == 110
        assert row["matched"] == result.pairs["mentee_id"].nunique() == len(result.pairs)
        assert row["matched_share"] == pytest.approx(len(result.pairs) / 110)
        assert row["pairs"] == len(result.pairs)
        assert row["mean_score"] == pytest.approx(result.pairs["score"].mean())
        assert row["lowest_score"] == pytest.approx(result.pairs["score"].min())
        assert row["objective"] == pytest.approx(result.objective)
    assert table.loc["capacities", "matched"] > table.loc["one each", "matched"]
    # pairs in common: a plain set intersection of (mentor, mentee)
    a, b = (
        set(zip(r.pairs["mentor_id"], r.pairs["mentee_id"], strict=True)) for r in pairs.values()
    )
    common = comparison.common.iloc[0]
    assert (common["programme_a"], common["programme_b"]) == ("capacities", "one each")
    assert common["in_common"] == len(a & b)
    assert (common["only_a"], common["only_b"]) == (len(a - b), len(b - a))
    assert common["share_of_a"] == pytest.approx(len(a & b) / len(a))
    # the segment audit: each programme's own audit, side by side, small cells blank
    for name, result in pairs.items():
        own = result.audit()
        merged = own.merge(comparison.audit, on=["column", "value"], suffixes=("", "_c"))
        assert len(merged) == len(own) == len(comparison.audit)
        np.testing.assert_array_equal(merged["suppressed"], merged["suppressed_c"])
        np.testing.assert_allclose(
            merged["matched_share"].to_numpy(float),
            merged[f"matched_share_{name}"].to_numpy(float),
        )
    blank = comparison.audit[comparison.audit["suppressed"]]
    assert blank.filter(like="matched_share_").isna().all().all()


def test_summary_and_html_name_every_programme(pairs: dict[str, Any]) -> None:
    comparison = pw.compare(pairs)
    text = comparison.summary()
    assert (
        text.splitlines()[0] == "2 pairs programmes on the same rosters (110 mentees, 62 mentors)"
    )
    assert "capacities: optimal; 110 of 110 matched (100.0%)" in text
    assert "in common: capacities and one each share" in text
    assert "widest gaps in matched share:" in text
    page = comparison._repr_html_()
    assert "capacities" in page and "one each" in page and "<table" in page
    assert json.loads(json.dumps(comparison.to_dict()))["names"] == ["capacities", "one each"]


def test_groups_and_peers_compare(frames: dict[str, pd.DataFrame]) -> None:
    base = pw.load_program().replace(time_limit=2.0)
    groups = {
        "seed 0": base.groups(frames["leaders"], frames["proteges"]),
        "seed 1": base.replace(seed=1).groups(frames["leaders"], frames["proteges"]),
    }
    comparison = pw.compare(groups)
    assert comparison.kind == "groups"
    row = comparison.table.iloc[0]
    assert row["matched"] == len(groups["seed 0"].groups)
    assert row["groups"] == groups["seed 0"].groups["group"].nunique()
    assert row["mean_score"] == pytest.approx(groups["seed 0"].groups["fit"].mean())
    links = [
        set(zip(g.groups["leader_id"], g.groups["member_id"], strict=True))
        for g in groups.values()
    ]
    assert comparison.common["in_common"].iloc[0] == len(links[0] & links[1])
    assert "memberships" in comparison.summary()

    peers = {"a": base.peers(frames["people"]), "b": base.replace(seed=1).peers(frames["people"])}
    comparison = pw.compare(peers)
    assert comparison.kind == "peers"
    assert comparison.table["matched"].tolist() == [2 * len(p.pairs) for p in peers.values()]
    # unordered pairs: (a, b) and (b, a) are one pair
    keys = [
        {frozenset(x) for x in zip(p.pairs["person_a"], p.pairs["person_b"], strict=True)}
        for p in peers.values()
    ]
    assert comparison.common["in_common"].iloc[0] == len(keys[0] & keys[1])


def test_three_programmes_give_three_overlaps(pairs: dict[str, Any]) -> None:
    third = {**pairs, "again": pairs["capacities"]}
    comparison = pw.compare(third)
    assert len(comparison.common) == 3
    same = comparison.common.set_index(["programme_a", "programme_b"]).loc[("capacities", "again")]
    assert same["only_a"] == same["only_b"] == 0 and same["share_of_a"] == 1.0


def test_to_csv_writes_three_files_all_or_nothing(pairs: dict[str, Any], tmp_path: Path) -> None:
    comparison = pw.compare(pairs)
    written = comparison.to_csv(tmp_path / "compare.csv")
    assert [p.name for p in written] == ["compare.csv", "compare.audit.csv", "compare.common.csv"]
    table = pd.read_csv(written[0])
    assert table["programme"].tolist() == ["capacities", "one each"]
    assert table["matched"].tolist() == comparison.table["matched"].tolist()
    audit = pd.read_csv(written[1])
    assert audit.loc[audit["suppressed"], "n"].isna().all()
    # the audit's target is a folder: refused before anything is written
    (tmp_path / "again.audit.csv").mkdir()
    with pytest.raises(InputError, match="folder"):
        comparison.to_csv(tmp_path / "again.csv")
    assert not (tmp_path / "again.csv").exists()


# ------------------------------------------------------------------ errors


def test_compare_needs_two_results_of_one_kind(
    pairs: dict[str, Any], frames: dict[str, pd.DataFrame]
) -> None:
    one = pairs["capacities"]
    with pytest.raises(InputError, match="at least two programmes"):
        pw.compare({"a": one})
    with pytest.raises(InputError, match="mapping of programme names"):
        pw.compare([one, one])  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"`results\['b'\]` must be a PairsResult"):
        pw.compare({"a": one, "b": one.pairs})  # type: ignore[dict-item]
    with pytest.raises(InputError, match="programme names"):
        pw.compare({"a": one, "": one})
    peers = pw.load_program().replace(time_limit=2.0).peers(frames["people"])
    with pytest.raises(InputError, match="all be of one kind; got pairs: 'a'; peers: 'b'"):
        pw.compare({"a": one, "b": peers})


def test_compare_names_the_ids_of_different_rosters(
    pairs: dict[str, Any], frames: dict[str, pd.DataFrame]
) -> None:
    mentees = frames["mentees"].iloc[2:].copy()
    mentees.loc[mentees.index[0], "id"] = "NEW-1"
    other = pw.load_program().pairs(frames["mentors"], mentees)
    dropped = sorted(frames["mentees"]["id"].iloc[:3].astype(str))
    with pytest.raises(InputError) as err:
        pw.compare({"a": pairs["capacities"], "b": other})
    message = str(err.value)
    assert "the mentees of 'a' and 'b' differ" in message
    assert f"3 only in 'a' ({', '.join(dropped)})" in message
    assert "1 only in 'b' (NEW-1)" in message and "Fix:" in message


# ------------------------------------------------------------------ the command line


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("compare_inputs")
    for name, frame in pw.datasets.demo_rosters().items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / "capacities.toml").write_text("[program]\ntime_limit = 3.0\n", encoding="utf-8")
    (folder / "one_each.toml").write_text(
        '[program]\ntime_limit = 3.0\n[pairs]\ncapacity_column = ""\n', encoding="utf-8"
    )
    return folder


def test_cli_compare_round_trip(
    demo_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "compare.csv"
    argv = ["compare", "--mentors", str(demo_csv / "mentors.csv")]
    argv += ["--mentees", str(demo_csv / "mentees.csv"), "--out", str(out)]
    argv += ["--config", str(demo_csv / "capacities.toml")]
    argv += ["--config", str(demo_csv / "one_each.toml"), "--json", str(tmp_path / "c.json")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "2 pairs programmes on the same rosters" in printed and "wrote " in printed
    # the files hold what the API computes on the same files
    api = {
        name: pw.load_program(demo_csv / f"{name}.toml").pairs(
            pw.load_roster(demo_csv / "mentors.csv", role="mentor"),
            pw.load_roster(demo_csv / "mentees.csv", role="mentee"),
        )
        for name in ("capacities", "one_each")
    }
    expected = pw.compare(api)
    table = pd.read_csv(out)
    assert table["programme"].tolist() == ["capacities", "one_each"]
    assert table["matched"].tolist() == expected.table["matched"].tolist()
    assert table["mean_score"].tolist() == pytest.approx(
        expected.table["mean_score"].tolist(), abs=1e-4
    )  # files round to 4 decimals
    common = pd.read_csv(tmp_path / "compare.common.csv")
    assert common["in_common"].tolist() == expected.common["in_common"].tolist()
    audit = pd.read_csv(tmp_path / "compare.audit.csv")
    assert len(audit) == len(expected.audit)
    assert json.loads((tmp_path / "c.json").read_text())["kind"] == "pairs"


def test_cli_compare_groups_by_the_rosters_given(
    demo_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "groups.csv"
    argv = ["compare", "--leaders", str(demo_csv / "leaders.csv")]
    argv += ["--members", str(demo_csv / "proteges.csv"), "--out", str(out)]
    argv += ["--config", str(demo_csv / "capacities.toml")]
    argv += ["--config", str(demo_csv / "one_each.toml"), "--time-limit", "2"]
    assert main(argv) == 0
    assert "2 groups programmes" in capsys.readouterr().out
    assert "groups" in pd.read_csv(out).columns


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (
            ["--config", "{d}/capacities.toml", "--people", "{d}/people.csv"],
            "two or more --config",
        ),
        (
            [
                "--config",
                "{d}/capacities.toml",
                "--config",
                "{d}/one_each.toml",
                "--people",
                "{d}/people.csv",
                "--mentors",
                "{d}/mentors.csv",
            ],
            "one set of rosters",
        ),
        (
            [
                "--config",
                "{d}/capacities.toml",
                "--config",
                "{d}/capacities.toml",
                "--people",
                "{d}/people.csv",
            ],
            "different files",
        ),
    ],
)
def test_cli_compare_usage_errors(
    demo_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    needle: str,
) -> None:
    out = tmp_path / "c.csv"
    argv = ["compare", "--out", str(out), *(a.format(d=demo_csv) for a in extra)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Fix:" in err and "Traceback" not in err
    assert not out.exists()


def test_cli_compare_refuses_to_overwrite_an_input(
    demo_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = demo_csv / "people.csv"
    before = people.read_bytes()
    argv = ["compare", "--people", str(people), "--out", str(people)]
    argv += ["--config", str(demo_csv / "capacities.toml")]
    argv += ["--config", str(demo_csv / "one_each.toml")]
    assert main(argv) == 2
    assert "must not name an input file" in capsys.readouterr().err
    assert people.read_bytes() == before


def test_cli_compare_writes_one_report_with_a_part_per_programme(
    demo_csv: Path, tmp_path: Path
) -> None:
    report = tmp_path / "compare.html"
    argv = ["compare", "--mentors", str(demo_csv / "mentors.csv")]
    argv += ["--mentees", str(demo_csv / "mentees.csv"), "--out", str(tmp_path / "c.csv")]
    argv += ["--config", str(demo_csv / "capacities.toml")]
    argv += ["--config", str(demo_csv / "one_each.toml"), "--report", str(report)]
    assert main(argv) == 0
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "capacities" in html and "one_each" in html
    assert "http://" not in html and "https://" not in html
    # a bad report path is refused before any work, and nothing is written
    bad = tmp_path / "compare.txt"
    argv[-1] = str(bad)
    assert main(argv) == 2
    assert not bad.exists()
