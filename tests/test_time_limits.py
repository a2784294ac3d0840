"""Time limits: deterministic work budgets, the wall clock only as a cap that says so.

* the same inputs and seed give identical answers on an idle and on a loaded
  machine (a CPU-burning subprocess runs during the second solve);
* when the wall clock does cut a search, the best answer so far comes back
  with ``status="feasible"`` and ``stopped_by_time_limit=True``;
* ``Program`` reports its phases and keeps the run's budget.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import pairwise as pw
from pairwise import checks
from pairwise._run import Run
from pairwise.solvers import _ortools, learning_groups, one_to_one, peer_pairs
from pairwise.solvers._result import GroupingResult, MatchingResult


def _groups_instance(n_leaders: int = 20, n_proteges: int = 130, seed: int = 3):
    rng = np.random.default_rng(seed)
    fit = rng.random((n_leaders, n_proteges))
    attrs = pd.DataFrame(
        {
            "function": rng.choice(list("ABCDEF"), n_proteges),
            "gender": rng.choice(["F", "M"], n_proteges),
        }
    )
    rules = {"min_distinct": {"function": 3}, "no_isolation": ["gender"]}
    return fit, attrs, rules


def _peers_instance(n: int = 400, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    S = rng.random((n, n))
    return (S + S.T) / 2


class _Burner:
    """A CPU-burning subprocess for the block."""

    def __enter__(self) -> _Burner:
        code = "while True: pass"
        self.procs = [subprocess.Popen([sys.executable, "-c", code])]
        time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()


def test_results_have_a_typed_stopped_by_time_limit_field():
    for cls in (MatchingResult, GroupingResult):
        assert cls.__dataclass_fields__["stopped_by_time_limit"].default is False
    assert not one_to_one(np.eye(3)).stopped_by_time_limit


def test_same_answer_on_an_idle_and_a_loaded_machine():
    fit, attrs, rules = _groups_instance()
    S = _peers_instance()

    def solve() -> tuple[GroupingResult, MatchingResult]:
        # The iteration cap keeps the test short and the limits leave a wide margin:
        # this machine is shared, and only a search the cap cuts may differ.
        groups = learning_groups(
            fit,
            attributes=attrs,
            method="heuristic",
            time_limit=15.0,
            max_iterations=40,
            seed=7,
            **rules,
        )
        peers = peer_pairs(S, time_limit=5.0, seed=7)
        return groups, peers

    g1, p1 = solve()
    with _Burner():
        g2, p2 = solve()
    assert not (g1.stopped_by_time_limit or g2.stopped_by_time_limit)
    assert not (p1.stopped_by_time_limit or p2.stopped_by_time_limit)
    np.testing.assert_array_equal(g1.labels, g2.labels)
    assert p1.method == "double-cover"
    np.testing.assert_array_equal(p1.rows, p2.rows)
    np.testing.assert_array_equal(p1.cols, p2.cols)


def test_the_wall_clock_cuts_a_groups_search_and_says_so():
    fit, attrs, rules = _groups_instance(40, 260)
    start = time.perf_counter()
    with _ortools.wall_deadline(start + 1.0):
        res = learning_groups(fit, attributes=attrs, method="heuristic", time_limit=100.0, **rules)
    assert res.stopped_by_time_limit
    assert res.status == "feasible"
    assert res.n_assigned > 0
    # the search stops at the deadline; the bound and reasons follow (generous margin)
    assert time.perf_counter() - start < 1.0 + 3.0


def test_the_wall_clock_cuts_an_exact_cp_sat_solve():
    fit, attrs, rules = _groups_instance(12, 70)
    start = time.perf_counter()
    with _ortools.wall_deadline(start + 0.5):
        res = learning_groups(fit, attributes=attrs, method="exact", time_limit=100.0, **rules)
    if res.status == "optimal":  # pragma: no cover - proven before the cap on a fast machine
        assert not res.stopped_by_time_limit
    else:
        assert res.stopped_by_time_limit
    assert time.perf_counter() - start < 0.5 + 3.0


def test_peer_pairs_swap_phase_is_a_deterministic_budget():
    S = _peers_instance(300, seed=1)
    a = peer_pairs(S, time_limit=1.0, seed=2)
    b = peer_pairs(S, time_limit=1.0, seed=2)
    assert a.method == "double-cover"
    assert a.options["improve_rounds"] == b.options["improve_rounds"]
    np.testing.assert_array_equal(a.rows, b.rows)


def test_peer_pairs_cut_by_the_wall_clock_keeps_its_matching():
    S = _peers_instance(300, seed=1)
    with _ortools.wall_deadline(time.perf_counter()):
        res = peer_pairs(S, time_limit=1.0, seed=2)
    assert res.stopped_by_time_limit and res.status == "feasible"
    assert res.n_matched == 150


def _big_sparse(n: int = 700, k: int = 320, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), k)
    cols = np.concatenate([rng.choice(n, k, replace=False) for _ in range(n)])
    return sp.csr_matrix((rng.random(rows.size), (rows, cols)), shape=(n, n))


def test_pairs_fall_back_to_a_maximum_matching_at_the_deadline():
    S = _big_sparse()
    assert S.nnz > _ortools.FORK_ARCS
    full = one_to_one(S)
    with _ortools.wall_deadline(time.perf_counter()):
        cut = one_to_one(S)
    assert cut.stopped_by_time_limit and cut.status == "feasible" and cut.bound is None
    assert cut.n_matched == full.n_matched
    assert cut.objective <= full.objective
    assert not full.stopped_by_time_limit and full.status == "optimal"


def test_program_reports_phases_and_search_progress():
    frames = pw.datasets.demo_rosters()
    program = pw.load_program().replace(time_limit=5.0)
    events = []
    run = Run(5.0, events.append)
    program.groups(frames["leaders"], frames["proteges"], run=run)
    phases = [e.phase for e in events if e.objective is None]
    assert phases == ["scoring", "solving", "results"]
    assert all(e.limit == 5.0 for e in events)
    assert run.elapsed() < 5.0 * 1.1 + 2.0
    seen = []
    program.peers(frames["people"], progress=seen.append)
    assert [e.phase for e in seen] == ["scoring", "solving", "results"]


def test_program_run_budget_covers_the_whole_run():
    frames = pw.datasets.demo_rosters()
    program = pw.load_program().replace(time_limit=3.0)
    run = Run(3.0)
    time.sleep(1.0)  # e.g. loading files: already spent from the run's budget
    res = program.pairs(frames["mentors"], frames["mentees"], run=run)
    assert len(res.pairs) > 0
    assert run.elapsed() < 3.0 * 1.1 + 2.0


@pytest.mark.parametrize("limit", [None, 5.0])
def test_solvers_without_time_pressure_are_not_flagged(limit):
    fit, attrs, rules = _groups_instance(6, 30)
    res = learning_groups(fit, attributes=attrs, time_limit=limit, **rules)
    assert not res.stopped_by_time_limit


# --- time_limit of the assignment solvers and of large peer pools ------------


def test_one_to_one_time_limit_caps_a_large_sparse_solve():
    S = _big_sparse()
    full = one_to_one(S, time_limit=60.0)
    assert not full.stopped_by_time_limit and full.status == "optimal"
    cut = one_to_one(S, time_limit=1e-9)  # no wall_deadline around: the call's own limit
    assert cut.stopped_by_time_limit and cut.status == "feasible" and cut.bound is None
    assert cut.n_matched == full.n_matched
    assert cut.objective <= full.objective


@pytest.mark.parametrize("capacity", [1, 2])
def test_one_to_many_time_limit_caps_a_large_flow(capacity):
    S = _big_sparse()
    full = pw.solvers.one_to_many(S, capacity, time_limit=60.0)
    cut = pw.solvers.one_to_many(S, capacity, time_limit=1e-9)
    assert not full.stopped_by_time_limit
    assert cut.stopped_by_time_limit and cut.status == "feasible" and cut.bound is None
    assert cut.n_matched == full.n_matched
    assert cut.objective <= full.objective


def test_one_to_many_with_min_load_finishes_despite_the_time_limit():
    S = _big_sparse()
    res = pw.solvers.one_to_many(S, 2, min_load=1, time_limit=1e-9)
    assert not res.stopped_by_time_limit and res.bound is not None
    assert np.all(np.bincount(res.rows, minlength=S.shape[0]) >= 1)


def test_peer_pairs_time_limit_cuts_the_dense_cover_solve():
    S = _peers_instance(600, seed=2)  # 360,000 cells: the cover solve runs stoppable
    assert S.size > _ortools.FORK_ARCS
    res = peer_pairs(S, time_limit=1e-9, seed=0)
    assert res.stopped_by_time_limit and res.status == "feasible" and res.bound is None
    assert res.n_matched == 300  # greedy completion still pairs everyone
    full = peer_pairs(S, time_limit=60.0, seed=0)
    assert not full.stopped_by_time_limit and full.objective >= res.objective


def test_peer_pairs_skips_a_sparse_cover_that_cannot_fit(monkeypatch):
    from pairwise.solvers import peers

    monkeypatch.setattr(peers, "_exact_affordable", lambda *args: False)
    S = sp.csr_matrix(_peers_instance(200, seed=4))
    full = peer_pairs(S, time_limit=60.0, seed=0)
    assert not full.stopped_by_time_limit
    # as if each arc of the set-up took a second: it cannot fit in a minute
    monkeypatch.setattr(peers, "_PREP_SECONDS_PER_ARC", 1.0)
    res = peer_pairs(S, time_limit=60.0, seed=0)
    assert res.stopped_by_time_limit and res.status == "feasible" and res.bound is None
    assert res.n_matched == full.n_matched == 100
    assert peer_pairs(S, seed=0).n_matched == 100  # no limit: never skipped


def test_peer_pairs_bound_solve_stops_at_the_deadline():
    from pairwise.solvers import peers

    n = 600
    rng = np.random.default_rng(0)
    D = rng.random((n, n))
    D = (D + D.T) / 2
    np.fill_diagonal(D, -np.inf)
    u, v = np.nonzero(np.triu(np.ones((n, n), bool), 1))
    with _ortools.wall_deadline(time.perf_counter()), pytest.raises(_ortools.DeadlineExceeded):
        peers._any_cardinality_bound(n, u, v, D[u, v], D, 0)


def test_dense_one_to_one_is_stoppable_at_a_deadline():
    rng = np.random.default_rng(5)
    S = rng.random((600, 650))
    allowed = rng.random(S.shape) < 0.9
    free = one_to_one(S, allowed)
    # with a deadline far ahead the solve runs in a killable child: the same optimum
    with _ortools.wall_deadline(time.perf_counter() + 120.0):
        boxed = one_to_one(S, allowed)
    assert boxed.status == "optimal" and not boxed.stopped_by_time_limit
    assert boxed.objective == free.objective and boxed.n_matched == free.n_matched
    # a deadline already past: a maximum matching, flagged
    with _ortools.wall_deadline(time.perf_counter()):
        cut = one_to_one(S, allowed)
    assert cut.stopped_by_time_limit and cut.status == "feasible" and cut.bound is None
    assert cut.n_matched == free.n_matched
    assert not checks.matching_violations(cut.rows, cut.cols, shape=S.shape, allowed=allowed)
