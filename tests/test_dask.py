"""Candidate generation on a Dask cluster: exactly the local result, clear errors otherwise.

The cluster is a ``LocalCluster`` of two single-threaded worker processes, so
that the plan really travels (serialised) to the workers as on a remote
cluster. Independent oracle for the sparse form: the k best allowed mentors of
each mentee read off the dense local matrices (score descending, lower mentor
index first).
"""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pairwise as pw
from pairwise import _dask
from pairwise.cli import main
from pairwise.errors import InputError
from pairwise.roster import load_roster

HAS_DASK = importlib.util.find_spec("distributed") is not None
needs_dask = pytest.mark.skipif(not HAS_DASK, reason="needs pairwise[dask] (distributed)")


@pytest.fixture(scope="module")
def program() -> pw.Program:
    return pw.load_program()


@pytest.fixture(scope="module")
def org_rosters() -> tuple[Any, Any]:
    """A demo-like organisation large enough for several blocks and tasks."""
    org = pw.datasets.make_organisation(1500, seed=7)
    mentors = load_roster(org[org["level"] >= 4].reset_index(drop=True), role="mentor")
    mentees = load_roster(org[org["level"] <= 3].reset_index(drop=True), role="mentee")
    return mentors, mentees


@pytest.fixture(scope="module")
def demo() -> dict[str, pd.DataFrame]:
    return pw.datasets.demo_rosters()


def _same_sparse(a: sp.csr_matrix, b: sp.csr_matrix) -> None:
    assert a.shape == b.shape
    assert a.format == b.format == "csr"
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)  # bit for bit, stored zeros included


#: Scores are summed in single precision; blocks of other shapes (the dense matrix, the
#: rule-blocked top-k) may round a sum one unit in the last place apart.
ULP = 1e-6


def _check_top_k_oracle(sparse, scores: np.ndarray, allowed: np.ndarray, k: int) -> None:
    """Each mentee keeps k best allowed mentors (all if fewer), up to single-precision ties."""
    csc = sparse.tocsc()
    for j in range(scores.shape[1]):
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        ranked = np.sort(scores[allowed[:, j], j])[::-1]
        assert allowed[rows, j].all()
        assert len(rows) == min(k, len(ranked))
        if len(rows) == 0:
            continue
        kth = ranked[len(rows) - 1]
        assert scores[rows, j].min() >= kth - ULP
        dropped = np.setdiff1d(np.flatnonzero(allowed[:, j]), rows)
        assert len(dropped) == 0 or scores[dropped, j].max() <= kth + ULP


# --------------------------------------------------------------------------- exactness


@needs_dask
@pytest.mark.parametrize("block_size", [None, 7, 64])
def test_dense_scores_and_allowed_equal_local(client, program, org_rosters, block_size) -> None:
    mentors, mentees = org_rosters
    local = program.model.score(mentors, mentees, block_size=block_size)
    remote = program.model.score(mentors, mentees, block_size=block_size, client=client)
    assert not remote.is_sparse
    np.testing.assert_array_equal(remote.scores, local.scores)
    np.testing.assert_array_equal(remote.allowed, local.allowed)
    np.testing.assert_array_equal(remote.row_ids, local.row_ids)
    np.testing.assert_array_equal(remote.col_ids, local.col_ids)
    assert (remote.criteria, remote.rules, remote.notes) == (
        local.criteria,
        local.rules,
        local.notes,
    )


@needs_dask
@pytest.mark.parametrize(("k", "block_size"), [(1, None), (5, 13), (50, None), (10_000, 100)])
def test_top_k_candidates_equal_local_and_oracle(
    client, program, org_rosters, k, block_size
) -> None:
    mentors, mentees = org_rosters
    local = program.model.score(mentors, mentees, top_k=k, block_size=block_size)
    remote = program.model.score(mentors, mentees, top_k=k, block_size=block_size, client=client)
    assert remote.is_sparse and remote.top_k == k
    _same_sparse(remote.scores, local.scores)
    dense = program.model.score(mentors, mentees)
    coo = remote.scores.tocoo()
    _check_top_k_oracle(remote.scores, dense.scores, dense.allowed, k)
    np.testing.assert_allclose(coo.data, dense.scores[coo.row, coo.col], rtol=0, atol=ULP)
    # explanations work on the cluster's result as on the local one
    j = int(np.flatnonzero(np.diff(remote.scores.tocsc().indptr))[0])
    i = int(remote.candidate_rows(j)[0])
    assert remote.explain(i, j).candidate is True


@needs_dask
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    k=st.integers(1, 12),
    block_size=st.one_of(st.none(), st.integers(1, 40)),
    n_mentees=st.integers(1, 60),
)
def test_top_k_equal_local_any_blocks(client, program, demo, k, block_size, n_mentees) -> None:
    mentors = load_roster(demo["mentors"], role="mentor")
    mentees = load_roster(demo["mentees"].iloc[:n_mentees], role="mentee")
    local = program.model.score(mentors, mentees, top_k=k, block_size=block_size)
    remote = program.model.score(mentors, mentees, top_k=k, block_size=block_size, client=client)
    _same_sparse(remote.scores, local.scores)


def test_task_ranges_are_whole_blocks() -> None:
    for n in (1, 5, 64, 1000, 1001):
        for step in (1, 3, 64, 5000):
            for threads in (1, 2, 7):
                ranges = _dask.task_ranges(n, step, threads)
                assert ranges[0][0] == 0 and ranges[-1][1] == n
                assert all(b == c for (_, b), (c, _) in itertools.pairwise(ranges))
                assert all(a % step == 0 and b > a for a, b in ranges)
                assert len(ranges) <= max(1, threads * _dask._TASKS_PER_THREAD)


# --------------------------------------------------------------------------- the programme


@needs_dask
def test_program_pairs_via_client_equal_local(client, program, demo) -> None:
    sparse = program.replace(top_k=5, time_limit=20.0)
    for prog in (program.replace(time_limit=20.0), sparse):
        local = prog.pairs(demo["mentors"], demo["mentees"])
        remote = prog.pairs(demo["mentors"], demo["mentees"], client=client)
        pd.testing.assert_frame_equal(remote.pairs, local.pairs)
        pd.testing.assert_frame_equal(remote.unmatched, local.unmatched)


@needs_dask
def test_program_pairs_via_scheduler_address(client, program, demo) -> None:
    prog = program.replace(top_k=3, time_limit=20.0)
    local = prog.pairs(demo["mentors"], demo["mentees"])
    remote = prog.pairs(demo["mentors"], demo["mentees"], client=client.scheduler.address)
    pd.testing.assert_frame_equal(remote.pairs, local.pairs)


@needs_dask
def test_program_peers_and_groups_via_client_equal_local(client, program, demo) -> None:
    prog = program.replace(time_limit=20.0)
    local = prog.peers(demo["people"])
    remote = prog.peers(demo["people"], client=client)
    pd.testing.assert_frame_equal(remote.pairs, local.pairs)
    inputs_local = prog.group_inputs(
        load_roster(demo["leaders"], role="leader"), load_roster(demo["proteges"], role="protege")
    )
    inputs_remote = prog.group_inputs(
        load_roster(demo["leaders"], role="leader"),
        load_roster(demo["proteges"], role="protege"),
        client,
    )
    np.testing.assert_array_equal(inputs_remote["fit"], inputs_local["fit"])
    np.testing.assert_array_equal(inputs_remote["allowed"], inputs_local["allowed"])


@needs_dask
def test_cli_dask_option_writes_the_local_files(client, demo, tmp_path: Path, capsys) -> None:
    for name in ("mentors", "mentees"):
        demo[name].to_csv(tmp_path / f"{name}.csv", index=False)
    args = ["pairs", "--mentors", str(tmp_path / "mentors.csv")]
    args += ["--mentees", str(tmp_path / "mentees.csv"), "--time-limit", "20", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "local.csv")]) == 0
    address = client.scheduler.address
    assert main([*args, "--out", str(tmp_path / "dask.csv"), "--dask", address]) == 0
    capsys.readouterr()
    local = (tmp_path / "local.csv").read_text(encoding="utf-8")
    assert (tmp_path / "dask.csv").read_text(encoding="utf-8") == local


# --------------------------------------------------------------------------- errors


@needs_dask
def test_bad_address_is_a_clear_error(program, demo, monkeypatch) -> None:
    monkeypatch.setattr(_dask, "CONNECT_TIMEOUT", 1.0)
    mentors = load_roster(demo["mentors"], role="mentor")
    mentees = load_roster(demo["mentees"], role="mentee")
    with pytest.raises(InputError, match=r"Dask scheduler.*tcp://127\.0\.0\.1:9.*Fix: start one"):
        program.model.score(mentors, mentees, client="tcp://127.0.0.1:9")


@needs_dask
def test_cli_bad_address_exits_with_usage_error(demo, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(_dask, "CONNECT_TIMEOUT", 1.0)
    for name in ("mentors", "mentees"):
        demo[name].to_csv(tmp_path / f"{name}.csv", index=False)
    code = main(
        [
            "pairs",
            "--mentors",
            str(tmp_path / "mentors.csv"),
            "--mentees",
            str(tmp_path / "mentees.csv"),
            "--out",
            str(tmp_path / "out.csv"),
            "--dask",
            "tcp://127.0.0.1:9",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "--dask" in err and "tcp://127.0.0.1:9" in err and "Traceback" not in err
    assert not (tmp_path / "out.csv").exists()


@needs_dask
@pytest.mark.parametrize("bad", [42, "", "   ", object()])
def test_client_of_the_wrong_kind(program, demo, bad) -> None:
    mentors = load_roster(demo["mentors"], role="mentor")
    with pytest.raises(InputError, match=r"`client` must be a distributed\.Client or"):
        program.model.score(mentors, mentors, client=bad)


@needs_dask
def test_scheduler_without_workers_is_refused(program, demo, monkeypatch) -> None:
    from distributed import Client, LocalCluster

    monkeypatch.setattr(_dask, "CONNECT_TIMEOUT", 0.5)
    mentors = load_roster(demo["mentors"], role="mentor")
    with (
        LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty,
        Client(empty, set_as_default=False) as idle,
        pytest.raises(InputError, match="has no worker"),
    ):
        program.model.score(mentors, mentors, client=idle)


def test_missing_distributed_names_the_extra(program, demo, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    mentors = load_roster(demo["mentors"], role="mentor")
    with pytest.raises(InputError, match=r"pip install 'pairwise\[dask\]'"):
        program.model.score(mentors, mentors, client="tcp://127.0.0.1:8786")


def test_local_runs_never_import_dask() -> None:
    code = (
        "import sys, pairwise as pw\n"
        "d = pw.datasets.demo_rosters()\n"
        "pw.load_program().replace(top_k=5).pairs(d['mentors'], d['mentees'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    src = str(Path(pw.__file__).resolve().parents[1])
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": src, "PATH": ""},
    )
    assert out.stdout.strip() == "[]"
