"""Output files: refused before any work when they clash, written all-or-nothing."""

from __future__ import annotations

import os

import pytest

from pairwise._outputs import OutputPlan
from pairwise.errors import InputError


def test_refuses_an_output_naming_an_input(tmp_path):
    roster = tmp_path / "mentors.csv"
    roster.write_text("id\nA\n")
    plan = OutputPlan({"--out": roster}, inputs={"--mentors": roster})
    with pytest.raises(InputError, match=r"--out must not name an input file.*--mentors"):
        plan.check()
    assert roster.read_text() == "id\nA\n"


def test_refuses_two_outputs_naming_one_file(tmp_path):
    plan = OutputPlan({"--out": tmp_path / "a.csv", "--unmatched": tmp_path / "a.csv"})
    with pytest.raises(InputError, match=r"--unmatched and --out must name different files"):
        plan.check()


def test_refuses_a_directory(tmp_path):
    with pytest.raises(InputError, match=r"--json must name a file; got .* a folder"):
        OutputPlan({"--json": tmp_path}).check()


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root")
def test_refuses_an_unwritable_folder(tmp_path):  # pragma: no cover - not as root
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(InputError, match="no permission"):
        OutputPlan({"--out": folder / "x.csv"}).check()


def test_refuses_a_path_under_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="is not a folder"):
        OutputPlan({"--out": blocker / "x.csv"}).check()


def test_refuses_old_spreadsheet_formats(tmp_path):
    with pytest.raises(InputError, match=r"must be a .csv or .xlsx file.*Fix: use pairs.xlsx"):
        OutputPlan({"--out": tmp_path / "pairs.xls"}).check()


def test_write_is_all_or_nothing(tmp_path):
    first, second = tmp_path / "pairs.csv", tmp_path / "sub" / "pairs.unmatched.csv"
    first.write_text("old\n")
    plan = OutputPlan({"--out": first, "--unmatched": second})

    def fail(path):
        raise PermissionError(13, "Permission denied")

    with pytest.raises(InputError, match=r"--unmatched could not be written"):
        plan.write({"--out": lambda p: p.write_text("new\n"), "--unmatched": fail})
    assert first.read_text() == "old\n" and not second.exists()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["pairs.csv"]


def test_interrupt_while_writing_leaves_no_file(tmp_path):
    plan = OutputPlan({"--out": tmp_path / "a.csv", "--json": tmp_path / "a.json"})

    def interrupted(path):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        plan.write({"--out": lambda p: p.write_text("x"), "--json": interrupted})
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_every_target(tmp_path):
    plan = OutputPlan({"--out": tmp_path / "a.csv", "--json": tmp_path / "a.json"})
    plan.check()
    written = plan.write(
        {"--out": lambda p: p.write_text("1"), "--json": lambda p: p.write_text("2")}
    )
    assert [p.read_text() for p in written] == ["1", "2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.json"]
