"""The only module that imports OR-Tools; every import happens lazily, on first use.

Keeping OR-Tools behind this module means ``import pairwise`` stays fast and
works for the parts of the library (rosters, compatibility) that need no solver.
It also fixes, in one place, how scores become integers and how CP-SAT is made
deterministic.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_SCALE",
    "cp_model",
    "int_scale",
    "linear_sum_assignment",
    "lsa_cost_limit",
    "max_flow",
    "mcf_cost_limit",
    "min_cost_flow",
    "solve_cp",
]

#: Default number of integer units per unit of score when a float matrix is
#: handed to an integer solver: scores in [0, 1] keep six decimals.
DEFAULT_SCALE = 1_000_000


def cp_model() -> Any:
    """The ``ortools.sat.python.cp_model`` module."""
    from ortools.sat.python import cp_model as module

    return module


def linear_sum_assignment() -> Any:
    """The ``ortools.graph.python.linear_sum_assignment`` module."""
    from ortools.graph.python import linear_sum_assignment as module

    return module


def min_cost_flow() -> Any:
    """The ``ortools.graph.python.min_cost_flow`` module."""
    from ortools.graph.python import min_cost_flow as module

    return module


def int_scale(values: np.ndarray, *, budget: float = 2.0**52, terms: int = 1) -> float:
    """The scale that turns ``values`` into integers without overflow.

    Scores that are already integral keep scale 1 (exact). Otherwise the
    scale is :data:`DEFAULT_SCALE`, lowered when ``terms`` scaled values (the
    number of terms an objective can add up) could exceed ``budget``.
    The caller records the scale it used in the result's ``options``.
    """
    finite = values[np.isfinite(values)] if values.size else values
    if finite.size == 0:
        return 1.0
    peak = float(np.max(np.abs(finite)))
    if np.all(finite == np.round(finite)) and peak * max(terms, 1) < budget:
        return 1.0
    scale = float(DEFAULT_SCALE)
    if peak > 0:
        limit = budget / (peak * max(terms, 1))
        if scale > limit:
            scale = float(2 ** math.floor(math.log2(max(limit, 1.0))))
    return scale


def solve_cp(
    model: Any,
    *,
    time_limit: float | None,
    seed: int,
    workers: int = 2,
    hint_log: bool = False,
) -> tuple[Any, int]:
    """Solve a CP-SAT ``model`` reproducibly; return ``(solver, status)``.

    Determinism: with more than one worker CP-SAT is deterministic only with
    ``interleave_search``; the time limit is also applied as a *deterministic*
    time limit (CP-SAT's work units, about a second each) so that the same
    seed gives the same answer on a loaded machine. A wall-clock cap of three
    times the limit guards against pathological slowness.
    """
    module = cp_model()
    solver = module.CpSolver()
    params = solver.parameters
    params.random_seed = int(seed) % (2**31)
    params.num_workers = max(1, int(workers))
    if params.num_workers > 1:
        params.interleave_search = True
    if time_limit is not None:
        params.max_deterministic_time = float(max(time_limit, 0.01))
        params.max_time_in_seconds = float(max(3.0 * time_limit, 1.0))
    params.log_search_progress = bool(hint_log)
    status = solver.solve(model)
    return solver, status


def solve_cp_small(model: Any, *, time_limit: float, seed: int) -> tuple[Any, int]:
    """Solve a small CP-SAT ``model`` quickly and reproducibly; return ``(solver, status)``.

    For the many small models of a large-neighbourhood search: one worker and
    no presolve (on models of a few hundred booleans presolve costs more than
    it saves: about 6x faster to optimality in measurements on
    learning-group neighbourhoods), a deterministic time limit and a
    wall-clock cap of three times it.
    """
    module = cp_model()
    solver = module.CpSolver()
    params = solver.parameters
    params.random_seed = int(seed) % (2**31)
    params.num_workers = 1
    params.cp_model_presolve = False
    params.max_deterministic_time = float(max(time_limit, 0.001))
    params.max_time_in_seconds = float(max(3.0 * time_limit, 0.5))
    status = solver.solve(model)
    return solver, status


# --- Graph solvers: entry points and cost ranges (used by solvers/assignment.py) ---


def max_flow() -> Any:
    """The ``ortools.graph.python.max_flow`` module."""
    from ortools.graph.python import max_flow as module

    return module


def lsa_cost_limit(n_left: int) -> int:
    """Largest cost magnitude ``SimpleLinearSumAssignment`` accepts for ``n_left`` rows.

    Its cost-scaling bound needs ``max|cost| * (n_left + 1) ** 2`` below about
    ``2**61.4`` (measured: beyond it ``solve`` returns ``POSSIBLE_OVERFLOW`` and
    logs a warning); ``2**60`` keeps a margin.
    """
    return int(2**60 // (int(n_left) + 1) ** 2)


def mcf_cost_limit(n_nodes: int) -> int:
    """Largest cost magnitude ``SimpleMinCostFlow`` accepts on ``n_nodes`` nodes.

    Measured: ``max|cost| * n_nodes`` must stay below about ``2**61.6``
    (beyond it ``BAD_COST_RANGE``); ``2**60`` keeps a margin.
    """
    return int(2**60 // max(int(n_nodes), 1))
