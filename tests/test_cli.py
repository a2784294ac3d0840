"""The command line: exit codes, output files, one plain sentence per bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pairwise.cli import main
from pairwise.datasets import demo_rosters


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo_inputs")
    for name, frame in demo_rosters().items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _ids(path: Path) -> set[str]:
    return set(pd.read_csv(path, dtype=str)["id"])


def test_pairs_every_input_id_in_output(demo_csv: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "pairs.csv"
    code, stdout, err = _run(
        capsys,
        "pairs",
        "--mentors",
        str(demo_csv / "mentors.csv"),
        "--mentees",
        str(demo_csv / "mentees.csv"),
        "--out",
        str(out),
        "--time-limit",
        "5",
    )
    assert code == 0, err
    assert "pairs:" in stdout
    pairs = pd.read_csv(out, dtype={"mentor_id": str, "mentee_id": str})
    assert {"mentor_id", "mentee_id", "score"} <= set(pairs.columns)
    unmatched = pd.read_csv(tmp_path / "pairs.unmatched.csv", dtype=str)
    # the demo rosters have names: each row carries the name beside the id
    assert list(unmatched.columns) == ["id", "name", "role", "reason"]
    assert unmatched["reason"].str.len().min() > 10
    mentees = set(pd.read_csv(demo_csv / "mentees.csv", dtype=str)["id"])
    mentors = set(pd.read_csv(demo_csv / "mentors.csv", dtype=str)["id"])
    assert (
        set(pairs["mentee_id"]) | set(unmatched.loc[unmatched.role == "mentee", "id"]) == mentees
    )
    assert (
        set(pairs["mentor_id"]) | set(unmatched.loc[unmatched.role == "mentor", "id"]) == mentors
    )
    assert not set(pairs["mentee_id"]) & set(unmatched["id"])


def test_groups_every_input_id_in_output(demo_csv: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "g.csv"
    code, _, err = _run(
        capsys,
        "groups",
        "--leaders",
        str(demo_csv / "leaders.csv"),
        "--members",
        str(demo_csv / "proteges.csv"),
        "--out",
        str(out),
        "--unmatched",
        str(tmp_path / "waiting.csv"),
        "--time-limit",
        "5",
    )
    assert code == 0, err
    groups = pd.read_csv(out, dtype={"leader_id": str, "member_id": str})
    assert list(groups.columns) == [
        "group",
        "leader_id",
        "leader_name",
        "member_id",
        "member_name",
        "fit",
    ]
    assert groups.groupby("group").size().between(5, 7).all()
    waiting = pd.read_csv(tmp_path / "waiting.csv", dtype=str)
    members = _ids(demo_csv / "proteges.csv")
    leaders = _ids(demo_csv / "leaders.csv")
    assert set(groups["member_id"]) | set(waiting.loc[waiting.role == "protege", "id"]) == members
    assert set(groups["leader_id"]) | set(waiting.loc[waiting.role == "leader", "id"]) == leaders


def test_peers_every_input_id_in_output(demo_csv: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "peers.csv"
    code, _, err = _run(
        capsys, "peers", "--people", str(demo_csv / "people.csv"), "--out", str(out)
    )
    assert code == 0, err
    peers = pd.read_csv(out, dtype={"person_a": str, "person_b": str})
    assert list(peers.columns) == [
        "person_a",
        "person_a_name",
        "person_b",
        "person_b_name",
        "score",
    ]
    unmatched = pd.read_csv(tmp_path / "peers.unmatched.csv", dtype=str)
    people = _ids(demo_csv / "people.csv")
    seen = set(peers["person_a"]) | set(peers["person_b"]) | set(unmatched["id"])
    assert seen == people
    assert len(seen) == 2 * len(peers) + len(unmatched)


def test_demo_writes_all_three_modes(tmp_path: Path, capsys) -> None:
    code, stdout, err = _run(capsys, "demo", "--out", str(tmp_path), "--time-limit", "5")
    assert code == 0, err
    for name in ("pairs", "groups", "peers"):
        assert (tmp_path / f"{name}.csv").stat().st_size > 0
        assert (tmp_path / f"{name}.unmatched.csv").exists()
        assert f"== {name} ==" in stdout


def _bad(capsys, *argv: str) -> str:
    code, _, err = _run(capsys, *argv)
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line]
    assert lines and all(line.startswith("pairwise:") for line in lines), err
    assert "Traceback" not in err
    return err


def _pairs_args(mentors: Path, mentees: Path, out: Path) -> list[str]:
    return ["pairs", "--mentors", str(mentors), "--mentees", str(mentees), "--out", str(out)]


def test_missing_file(demo_csv: Path, tmp_path: Path, capsys) -> None:
    err = _bad(
        capsys, *_pairs_args(tmp_path / "nope.csv", demo_csv / "mentees.csv", tmp_path / "o.csv")
    )
    assert "nope.csv" in err


def test_empty_file(demo_csv: Path, tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    err = _bad(capsys, *_pairs_args(empty, demo_csv / "mentees.csv", tmp_path / "o.csv"))
    assert "empty.csv" in err and "empty" in err.lower()


def test_binary_file(demo_csv: Path, tmp_path: Path, capsys) -> None:
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\xff\xfe")
    err = _bad(capsys, *_pairs_args(binary, demo_csv / "mentees.csv", tmp_path / "o.csv"))
    assert "photo.csv" in err


def test_missing_id_column(demo_csv: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "noid.csv"
    pd.read_csv(demo_csv / "mentors.csv", dtype=str).rename(columns={"id": "ident"}).to_csv(
        bad, index=False
    )
    err = _bad(capsys, *_pairs_args(bad, demo_csv / "mentees.csv", tmp_path / "o.csv"))
    assert "noid.csv" in err and "id" in err


def test_duplicate_ids_are_named(demo_csv: Path, tmp_path: Path, capsys) -> None:
    frame = pd.read_csv(demo_csv / "mentees.csv", dtype=str)
    frame.loc[3, "id"] = frame.loc[1, "id"]
    bad = tmp_path / "dup.csv"
    frame.to_csv(bad, index=False)
    err = _bad(capsys, *_pairs_args(demo_csv / "mentors.csv", bad, tmp_path / "o.csv"))
    assert str(frame.loc[1, "id"]) in err and "dup.csv" in err


def test_non_numeric_level_names_row(demo_csv: Path, tmp_path: Path, capsys) -> None:
    frame = pd.read_csv(demo_csv / "mentees.csv", dtype=str)
    frame.loc[4, "level"] = "senior"
    bad = tmp_path / "lvl.csv"
    frame.to_csv(bad, index=False)
    err = _bad(capsys, *_pairs_args(demo_csv / "mentors.csv", bad, tmp_path / "o.csv"))
    assert "lvl.csv" in err and "level" in err and "senior" in err
    assert "line 6" in err  # header is line 1, row index 4 is line 6


def test_unknown_config_key_did_you_mean(demo_csv: Path, tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text("[rules]\nmin_level_gpa = 2\n", encoding="utf-8")
    err = _bad(
        capsys,
        *_pairs_args(demo_csv / "mentors.csv", demo_csv / "mentees.csv", tmp_path / "o.csv"),
        "--config",
        str(cfg),
    )
    assert "min_level_gpa" in err and "did you mean `min_level_gap`" in err


def test_broken_toml(demo_csv: Path, tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_text("[program\nname = x\n", encoding="utf-8")
    err = _bad(
        capsys,
        *_pairs_args(demo_csv / "mentors.csv", demo_csv / "mentees.csv", tmp_path / "o.csv"),
        "--config",
        str(cfg),
    )
    assert "broken.toml" in err and "TOML" in err


def test_validate_reports_problems_and_ok(demo_csv: Path, tmp_path: Path, capsys) -> None:
    code, out, err = _run(
        capsys,
        "validate",
        "--mentors",
        str(demo_csv / "mentors.csv"),
        "--mentees",
        str(demo_csv / "mentees.csv"),
    )
    assert code in (0, 2)
    assert "mentors" in out and "rows ok" in out
    cfg = tmp_path / "p.toml"
    cfg.write_text("[groups]\nmax_sise = 7\n", encoding="utf-8")
    err = _bad(capsys, "validate", "--config", str(cfg))
    assert "max_size" in err


def test_no_command_is_usage_error(capsys) -> None:
    assert main([]) == 2


def test_console_script_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pairwise.cli",
            "pairs",
            "--mentors",
            str(tmp_path / "x.csv"),
            "--mentees",
            str(tmp_path / "y.csv"),
            "--out",
            str(tmp_path / "o.csv"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("pairwise:")


def test_nothing_feasible_exits_1_and_still_accounts_for_everyone(
    demo_csv: Path, tmp_path: Path, capsys
) -> None:
    leaders = pd.read_csv(demo_csv / "leaders.csv", dtype=str)
    leaders["level"] = "1"  # nobody is two levels above any protégé
    low = tmp_path / "low.csv"
    leaders.to_csv(low, index=False)
    out = tmp_path / "g.csv"
    code, _, err = _run(
        capsys,
        "groups",
        "--leaders",
        str(low),
        "--members",
        str(demo_csv / "proteges.csv"),
        "--out",
        str(out),
        "--time-limit",
        "2",
    )
    assert code == 1, err
    assert "no feasible solution" in err and "Traceback" not in err
    waiting = pd.read_csv(tmp_path / "g.unmatched.csv", dtype=str)
    assert set(waiting["id"]) == _ids(demo_csv / "proteges.csv") | set(leaders["id"])
    assert waiting["reason"].str.len().min() > 10
