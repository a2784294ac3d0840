"""Ctrl-C (SIGINT) stops every long solver promptly with KeyboardInterrupt.

Each test sends SIGINT to this process from a timer thread while a solver
runs, and checks that ``KeyboardInterrupt`` arrives within 2 s of the signal
(the contract: OR-Tools' own signal catching is off, CP-SAT runs in a worker
thread, long graph solves in a forked child).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from pairwise._run import interrupts_raise
from pairwise.solvers import _ortools, learning_groups

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals"
)

#: The contract: stop within 2 s of the signal.
PROMPT = 2.0


def _interrupt_after(delay: float) -> dict[str, float]:
    sent: dict[str, float] = {}

    def fire() -> None:
        sent["at"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(delay, fire)
    timer.daemon = True
    timer.start()
    return sent


def _assert_prompt(work, delay: float = 0.5) -> None:
    with interrupts_raise():
        sent = _interrupt_after(delay)
        with pytest.raises(KeyboardInterrupt):
            work()
            time.sleep(5)  # the work ended before the signal: fail below, not hang
        stopped = time.perf_counter()
    assert "at" in sent, "the work ended before the signal was sent"
    assert stopped - sent["at"] < PROMPT


def _hard_groups(n_leaders: int, n_proteges: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    fit = rng.random((n_leaders, n_proteges))
    import pandas as pd

    attrs = pd.DataFrame(
        {
            "function": rng.choice(list("ABCDEFGH"), n_proteges),
            "gender": rng.choice(["F", "M", "X"], n_proteges, p=[0.47, 0.5, 0.03]),
        }
    )
    rules = {
        "min_distinct": {"function": 3},
        "max_count": {"function": 2},
        "no_isolation": ["gender"],
    }
    return fit, attrs, rules


def test_sigint_during_cp_sat_solve():
    fit, attrs, rules = _hard_groups(30, 180)
    _assert_prompt(
        lambda: learning_groups(fit, attributes=attrs, method="exact", time_limit=None, **rules)
    )


def test_sigint_during_groups_large_neighbourhood_search():
    fit, attrs, rules = _hard_groups(60, 400, seed=1)
    _assert_prompt(
        lambda: learning_groups(
            fit, attributes=attrs, method="heuristic", time_limit=None, **rules
        ),
        delay=1.5,
    )


def _hold_the_gil(seconds: float) -> int:
    """A stand-in for an OR-Tools graph solve: busy, never returning in time."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


@pytest.mark.skipif(not _ortools.can_fork(), reason="needs fork")
def test_sigint_during_long_forked_graph_solve():
    _assert_prompt(
        lambda: _ortools.run_cancellable(_hold_the_gil, 30.0, arcs=_ortools.FORK_ARCS + 1)
    )


@pytest.mark.skipif(not _ortools.can_fork(), reason="needs fork")
def test_forked_solve_stops_at_its_deadline_and_returns_results_otherwise():
    start = time.perf_counter()
    with pytest.raises(_ortools.DeadlineExceeded):
        _ortools.run_cancellable(
            _hold_the_gil, 30.0, deadline=start + 0.5, arcs=_ortools.FORK_ARCS + 1
        )
    assert time.perf_counter() - start < 0.5 + PROMPT
    # a finished child's result (and exception) come back through the pipe
    assert _ortools.run_cancellable(np.arange, 3, arcs=_ortools.FORK_ARCS + 1).tolist() == [
        0,
        1,
        2,
    ]
    with pytest.raises(ZeroDivisionError):
        _ortools.run_cancellable(lambda: 1 / 0, arcs=_ortools.FORK_ARCS + 1)


def test_cp_sat_leaves_sigint_to_python():
    cp = _ortools.cp_model()
    model = cp.CpModel()
    x = model.new_int_var(0, 10, "x")
    model.maximize(x)
    run = _ortools.solve_cp(model, max_det_time=1.0, seed=0)
    assert run.status == cp.OPTIMAL and not run.stopped_by_time_limit
    assert run.solver.parameters.catch_sigint_signal is False
