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
    "exact_integers",
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
# 1024 (thirds, sevenths, quarters, ...), then larger powers of ten. Beyond
# them, the finest power of two every value is a multiple of (see _dyadic_exponent).
_SMALL_GRIDS = np.arange(1, 1025, dtype=np.float64)
_DECIMAL_GRIDS = tuple(10.0**k for k in range(4, 10))

#: Default upper limit on the scaled peak score when scores are not on a grid:
#: more bits make cost-scaling solvers slower for no practical gain.
MAX_SCALED_PEAK = 2.0**36

# A value "lies on" a grid when value * scale is within 4 units in the last place
# of a whole number: the float nearest k / scale (e.g. 0.1, 1/3) is on grid ``scale``.
_ON_GRID_ULPS = 2.0**-50
# Largest |value| * scale for which that test (and an exact rint after the
# offset is subtracted) still means something.
_GRID_RANGE = 2.0**48
# Whole floats below this convert to int64 exactly.
_INT64_SAFE = 2.0**62


@dataclass(frozen=True)
class Scaling:
    """How scores became integers: ``round((value - offset) * scale)``.

    ``exact`` when no value was rounded: every score lies on the grid
    ``offset + k / scale`` (to within 4 units in the last place of the float,
    which is how the float ``0.1`` stands for one tenth). ``offset`` is
    subtracted first when the caller's objective adds up a fixed number of
    terms (then it shifts every solution's total by the same amount); it keeps
    large, close scores such as 1e6 and 1e6 + 1e-4 on a fine grid.
    """

    scale: float
    exact: bool
    offset: float = 0.0

    def integers(self, values: np.ndarray) -> np.ndarray:
        """``values`` on the integer grid, as int64.

        On an exact grid, value and offset are each turned into whole numbers
        and subtracted in int64 (no float rounding); otherwise the offset is
        subtracted in float first.
        """
        if self.exact:
            ints = np.rint(values * self.scale).astype(np.int64)
            return ints - np.int64(np.rint(self.offset * self.scale)) if self.offset else ints
        shifted = values - self.offset if self.offset else values
        return np.rint(shifted * self.scale).astype(np.int64)

    def tolerance(self, n_terms: int) -> float:
        """Most the rounding can cost an objective adding up ``n_terms`` scaled values.

        Each value moves by at most half a grid step (plus half a unit in the last
        place of the offset, when one was subtracted in float), so an optimum on
        the grid is within ``n_terms`` times twice that of the true optimum (0
        when the grid is exact).
        """
        if self.exact:
            return 0.0
        return float(n_terms) * (1.0 / self.scale + float(np.spacing(abs(self.offset))))

    @staticmethod
    def combine(parts: list[Scaling]) -> Scaling:
        """One record for several integer solves: the coarsest grid; exact if all were."""
        return Scaling(min(p.scale for p in parts), all(p.exact for p in parts))


def _is_integral(x: np.ndarray) -> bool:
    """Every entry within 4 units in the last place of a whole number (relative only)."""
    r = np.rint(x)
    return bool(np.all(np.abs(x - r) <= _ON_GRID_ULPS * np.abs(x)))


def _dyadic_exponent(values: np.ndarray) -> int | None:
    """Smallest ``s`` such that every ``value * 2**s`` is a whole number (None: all zero).

    Every float is ``M * 2**e`` with a 53-bit integer ``M``; the answer is the
    largest ``-(e + trailing zeros of M)``. Computed exactly from the bits.
    """
    x = values[values != 0]
    if x.size == 0:
        return None
    frac, exp = np.frexp(np.abs(x))
    mant = np.ldexp(frac, 53).astype(np.int64)
    low = mant & -mant  # lowest set bit, a power of two
    tz = np.frexp(low.astype(np.float64))[1] - 1
    return int(np.max(53 - exp.astype(np.int64) - tz))


def integer_scale(
    values: np.ndarray,
    *,
    limit: float,
    terms: int = 1,
    max_peak: float = MAX_SCALED_PEAK,
    shift: bool = False,
) -> Scaling:
    """The scale that makes ``values * scale`` integers, for every integer solver.

    ``terms`` scaled values (the most an objective can add up) must stay
    within ``limit``. With ``shift`` (only for objectives that add up the same
    number of terms in every solution) the smallest value is subtracted first
    (``offset``), so only the spread of the scores has to fit.

    The result is, in this order, the first that fits the limit:

    1. the smallest grid (any whole number up to 1024, then 10**4 .. 10**9)
       every value lies on, to 4 units in the last place (0.1 is on grid 10,
       1/3 on grid 3);
    2. the power of two ``2**s`` that makes every value *exactly* a whole number
       (every float is a multiple of some power of two; computed from the bits);

    both ``exact``: then the integer problem *is* the original one. Otherwise
    the largest power of two keeping the scaled peak within ``limit / terms``
    and ``max_peak``, which rounds each value to a multiple of ``1 / scale``
    (not exact; see :meth:`Scaling.tolerance`).

    Examples
    --------
    >>> integer_scale(np.array([0.25, 1.5]), limit=2.0**52)
    Scaling(scale=4.0, exact=True, offset=0.0)
    >>> integer_scale(np.array([1 / 3, 2 / 3]), limit=2.0**52)
    Scaling(scale=3.0, exact=True, offset=0.0)
    >>> integer_scale(np.array([np.pi]), limit=1000)
    Scaling(scale=256.0, exact=False, offset=0.0)
    >>> integer_scale(np.array([1e6, 1e6 + 1e-4]), limit=2.0**40, shift=True).exact
    True
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Scaling(1.0, True)
    low, high = float(np.min(finite)), float(np.max(finite))
    offset = low if shift and low != 0.0 else 0.0
    absmax = max(abs(low), abs(high))
    # The spread after the offset, rounded up a little: it only decides what fits.
    peak = (max(abs(high - offset), abs(low - offset))) * (1.0 + 2.0**-40)
    if peak == 0.0:
        return Scaling(1.0, True, offset)
    sample = finite[:: max(1, finite.size // 1024)][:1024]
    grid = sample[:, None] * _SMALL_GRIDS[None, :]
    fits = np.all(np.abs(grid - np.rint(grid)) <= _ON_GRID_ULPS * np.abs(grid), axis=0)
    candidates = [float(q) for q in _SMALL_GRIDS[fits]] + list(_DECIMAL_GRIDS)
    for scale in candidates:
        # ``limit`` may be a large int: compare exactly, without rounding it to a float.
        if peak * scale * terms > limit or absmax * scale > _GRID_RANGE:
            break
        if _is_integral(sample * scale) and _is_integral(finite * scale):
            return Scaling(scale, True, offset)
    s = _dyadic_exponent(finite)
    if s is not None and abs(s) < 1000:
        scale = 2.0**s
        # Each value * 2**s is a whole float; below 2**62 it converts to int64 exactly.
        if peak * scale * terms <= limit and absmax * scale < _INT64_SAFE:
            return Scaling(scale, True, offset)
    # Largest power of two within the limits (below 1 when scores are huge).
    cap = min(float(limit) / terms, max_peak) / peak
    return Scaling(2.0 ** math.floor(math.log2(cap)), False, offset)


def exact_integers(values: np.ndarray) -> tuple[list[int], float] | None:
    """``values`` as exact Python integers ``(value - min) * 2**s`` and the scale ``2**s``.

    For solvers that compute with Python integers (no overflow): every float
    is a multiple of a power of two, so this is always exact. None when the
    values are not all finite or the scaled values would overflow a float.
    """
    if values.size == 0 or not np.all(np.isfinite(values)):
        return None
    s = _dyadic_exponent(values)
    if s is None:
        return [0] * values.size, 1.0
    with np.errstate(over="ignore"):
        scaled = np.ldexp(values, s)
    if not np.all(np.isfinite(scaled)):
        return None
    ints = [int(v) for v in scaled.tolist()]  # exact: each is a whole float
    low = min(ints)
    return [v - low for v in ints], math.ldexp(1.0, s) if s < 1024 else math.inf


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
