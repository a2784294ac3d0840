"""The only module that imports OR-Tools; every import happens lazily, on first use.

Keeping OR-Tools behind this module means ``import pairwise`` stays fast and
works for the parts of the library (rosters, compatibility) that need no solver.
It also fixes, in one place, how scores become integers (:func:`integer_scale`,
the one scaling policy of every integer solver) and how CP-SAT is made
deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MAX_SCALED_PEAK",
    "Scaling",
    "cp_model",
    "integer_scale",
    "linear_sum_assignment",
    "lsa_cost_limit",
    "max_flow",
    "mcf_cost_limit",
    "min_cost_flow",
    "solve_cp",
]


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


# Scales tried to turn scores into integers exactly: every whole number up to
# 1024 (thirds, sevenths, quarters, ...), then larger powers of ten and two.
_SMALL_GRIDS = np.arange(1, 1025, dtype=np.float64)
_LARGE_GRIDS = tuple(sorted({10.0**k for k in range(4, 10)} | {2.0**k for k in range(11, 31)}))

#: Default upper limit on the scaled peak score when scores are not on a grid:
#: more bits make cost-scaling solvers slower for no practical gain.
MAX_SCALED_PEAK = 2.0**36


@dataclass(frozen=True)
class Scaling:
    """How scores became integers: ``round(value * scale)``; ``exact`` when no rounding."""

    scale: float
    exact: bool

    def integers(self, values: np.ndarray) -> np.ndarray:
        """``values`` on the integer grid, as int64."""
        return np.rint(values * self.scale).astype(np.int64)

    def tolerance(self, n_terms: int) -> float:
        """Most the rounding can cost an objective adding up ``n_terms`` scaled values.

        Each value moves by at most half a grid step, so an optimum on the grid is
        within ``n_terms / scale`` of the true optimum (0 when the grid is exact).
        """
        return 0.0 if self.exact else float(n_terms) / self.scale

    @staticmethod
    def combine(parts: list[Scaling]) -> Scaling:
        """One record for several integer solves: the coarsest grid; exact if all were."""
        return Scaling(min(p.scale for p in parts), all(p.exact for p in parts))


def _is_integral(x: np.ndarray) -> bool:
    r = np.rint(x)
    return bool(np.all(np.abs(x - r) <= 1e-9 * np.maximum(1.0, np.abs(r))))


def integer_scale(
    values: np.ndarray, *, limit: float, terms: int = 1, max_peak: float = MAX_SCALED_PEAK
) -> Scaling:
    """The scale that makes ``values * scale`` integers, for every integer solver.

    ``terms`` scaled values (the most an objective can add up) must stay
    within ``limit``. The result is the smallest grid scale (any whole number
    up to 1024, then 10**k and 2**k) under which every value is a whole number,
    when there is one within the limit: then the integer problem *is* the
    original one (``exact``). Otherwise it is the largest power of two keeping
    the scaled peak within ``limit / terms`` and ``max_peak``, which rounds
    each value to a multiple of ``1 / scale`` (see :meth:`Scaling.tolerance`).

    Examples
    --------
    >>> integer_scale(np.array([0.25, 1.5]), limit=2.0**52)
    Scaling(scale=4.0, exact=True)
    >>> integer_scale(np.array([1 / 3, 2 / 3]), limit=2.0**52)
    Scaling(scale=3.0, exact=True)
    >>> integer_scale(np.array([np.pi]), limit=1000)
    Scaling(scale=256.0, exact=False)
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Scaling(1.0, True)
    peak = float(np.max(np.abs(finite)))
    if peak == 0.0:
        return Scaling(1.0, True)
    sample = finite[:: max(1, finite.size // 1024)][:1024]
    grid = sample[:, None] * _SMALL_GRIDS[None, :]
    fits = np.all(np.abs(grid - np.rint(grid)) <= 1e-9 * np.maximum(1.0, np.abs(grid)), axis=0)
    candidates = [float(q) for q in _SMALL_GRIDS[fits]] + list(_LARGE_GRIDS)
    for scale in candidates:
        # ``limit`` may be a large int: compare exactly, without rounding it to a float.
        if peak * scale * terms > limit:
            break
        if _is_integral(sample * scale) and _is_integral(finite * scale):
            return Scaling(scale, True)
    # Largest power of two within the limits (below 1 when scores are huge).
    cap = min(float(limit) / terms, max_peak) / peak
    return Scaling(2.0 ** math.floor(math.log2(cap)), False)


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
