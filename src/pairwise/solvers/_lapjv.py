"""Dense assignment on a small score lattice: shortest augmenting paths compiled by numba.

Scores built from a few weighted criteria and rounded (a coordinator's rubric)
take a handful of values: the assignment is then an integer problem with very
many ties. :func:`solve_costs` adds the rows one at a time from zero column
prices, as the augmentation phase of Jonker and Volgenant's LAPJV
(*Computing* 38, 1987): a row whose cheapest reduced cost lies at a free
column takes it in two contiguous passes; any other row gets a shortest
augmenting path (dense Dijkstra, columns at equal distance in batches), in
which a row identical to one already scanned is skipped. On tie-heavy scores
nearly every row takes the quick step. (LAPJV's column reduction and
augmenting row reduction were measured slower here: on ties the row reduction
stalls and leaves most rows to long searches.)

The kernels are plain Python loops that numba compiles (``pairwise[fast]``),
cached on disk after the first compilation; without numba :func:`lattice`
returns None and the caller keeps SciPy's solver. The lattice is checked on
every cell while the scores become integer costs (:func:`_lattice_costs`), so
a matrix off the grid is never rounded: the result is an exact optimum of the
scores given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from pairwise.solvers import _ortools
from pairwise.solvers._ortools import sample_lattice

__all__ = [
    "PLAIN",
    "Kernels",
    "Lattice",
    "compiled_kernels",
    "lattice",
    "lattice_assignment",
    "solve_costs",
    "warm",
]

logger = logging.getLogger(__name__)

# Cells sampled to guess the lattice (then verified on every cell).
_SAMPLE = 4096
# Largest spread of the sampled integer scores (levels of the lattice) accepted; also the
# headroom for cells above the sample's best score.
_MAX_LEVELS = 4096
# Finest lattice step accepted is 1 / _MAX_STEP.
_MAX_STEP = 1024.0
# Integer costs of the kernels: the forbidden-cell cost and every distance stay far
# below this (int32 matrix, int64 duals and distances).
_INT32_MAX = 2**31 - 1
# A float on the grid is within this many units in the last place of a whole number
# (the rule of :func:`pairwise.solvers._ortools.integer_scale`).
_ULPS = 4.0
# Distances larger than every real one.
_LARGE = 2**62


# --------------------------------------------------------------------------
# Kernels: plain Python, compiled by numba when it is installed
# --------------------------------------------------------------------------


def _lattice_costs(
    T: np.ndarray,
    scale: float,
    shift: float,
    C: np.ndarray,
    row_low: np.ndarray,
) -> tuple[int, int]:
    """Fill ``C`` with the minimising costs ``shift - rint(T * scale)`` of maximising scores.

    Returns ``(largest cost, forbidden cells)``, the cost -1 when a cell is off
    the grid (not within ``_ULPS`` units in the last place of a whole number)
    or its cost leaves ``[0, _INT32_MAX)``. Forbidden cells (``-inf``) get
    cost ``-1`` for :func:`_forbid`; ``+inf`` and NaN are off every grid.
    In the same pass ``row_low[i]`` gets the cheapest allowed cost of row ``i``.
    """
    n, m = T.shape
    eps = _ULPS * 2.220446049250313e-16
    top = 0
    forbidden = 0
    # Branch-free cells with integer reductions only, so that the compiled loop vectorises:
    # a forbidden cell is selected out of every test and reduction instead of skipped.
    for i in range(n):
        bad = 0
        row_top = 0
        low = _INT32_MAX
        for j in range(m):
            t = T[i, j]
            forbid = t == -np.inf
            y = (0.0 if forbid else t) * scale
            r = np.rint(y)
            c = shift - r
            fits = (abs(y - r) <= eps * abs(y)) & (c >= 0.0) & (c < _INT32_MAX)
            bad += 1 - (fits | forbid)
            ci = int(c) if fits else 0
            row_top = max(row_top, 0 if forbid else ci)
            low = min(low, _INT32_MAX if forbid else ci)
            C[i, j] = -1 if forbid else ci
            forbidden += forbid
        row_low[i] = low if low < _INT32_MAX else -1
        if bad:
            return -1, forbidden
        top = max(top, row_top)
    return int(top), forbidden


def _forbid(C: np.ndarray, cost: int) -> None:
    """Give the forbidden cells (``-1``) of ``C`` the cost ``cost``."""
    n, m = C.shape
    for i in range(n):
        for j in range(m):
            if C[i, j] < 0:
                C[i, j] = cost


def _hashes(C: np.ndarray, weights: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
    """Row and column hashes modulo 2**64: equal for identical rows (columns) of ``C``.

    ``rows[i] = sum_j C[i, j] * weights[j]`` and ``cols[j] = sum_i C[i, j] *
    weights[i]`` (``weights`` has ``max(n, m)`` entries).
    """
    n, m = C.shape
    for j in range(m):
        cols[j] = 0
    for i in range(n):
        acc = np.uint64(0)
        wi = weights[i]
        for j in range(m):
            c = np.uint64(C[i, j])
            acc += c * weights[j]
            cols[j] += c * wi
        rows[i] = acc


def _split_false_types(C: np.ndarray, row_type: np.ndarray, first: np.ndarray) -> None:
    """Give every row that differs from the first row of its type a type of its own.

    Makes the hashed types exact: afterwards rows of one type are identical.
    """
    n, m = C.shape
    fresh = first.size
    for i in range(n):
        rep = first[row_type[i]]
        if rep == i:
            continue
        for j in range(m):
            if C[i, j] != C[rep, j]:
                row_type[i] = fresh
                fresh += 1
                break


def _augment(
    C: np.ndarray,
    start: int,
    x: np.ndarray,
    y: np.ndarray,
    v: np.ndarray,
    d: np.ndarray,
    cols: np.ndarray,
    pred: np.ndarray,
    row_type: np.ndarray,
    stamp: np.ndarray,
    tick: int,
) -> None:
    """Shortest augmenting path from the free row ``start`` (Dijkstra on reduced costs, dense).

    Reduced costs are ``C[i, j] - v[j] - u[i]`` with the implicit row dual
    ``u[i] = C[i, x[i]] - v[x[i]]``. Columns closer than the free column
    reached get their price cut by the difference, which keeps every reduced
    cost non-negative and makes the path tight; then the path is flipped.
    Columns at equal distance are handled in batches (``cols[lo:hi]``).

    A row identical to one already scanned (same ``row_type``; ``stamp`` marks
    the types scanned in this search, number ``tick``) is skipped: identical
    rows have equal duals ``u``, so the later one, reached no earlier, cannot
    shorten any distance.
    """
    m = C.shape[1]
    for j in range(m):
        cols[j] = j
        d[j] = C[start, j] - v[j]
        pred[j] = start
    stamp[row_type[start]] = tick
    lo = 0
    hi = 0
    n_ready = 0
    final = -1
    while final < 0:
        if lo == hi:
            # Columns at the smallest distance move to cols[lo:hi].
            n_ready = lo
            hi = lo + 1
            low = d[cols[lo]]
            for k in range(hi, m):
                j = cols[k]
                h = d[j]
                if h <= low:
                    if h < low:
                        hi = lo
                        low = h
                    cols[k] = cols[hi]
                    cols[hi] = j
                    hi += 1
            for k in range(lo, hi):
                if y[cols[k]] < 0:
                    final = cols[k]
                    break
        # Scan the rows matched to the columns at the smallest distance.
        while lo != hi and final < 0:
            j0 = cols[lo]
            lo += 1
            i = y[j0]
            if stamp[row_type[i]] == tick:
                continue
            stamp[row_type[i]] = tick
            low = d[j0]
            h = C[i, j0] - v[j0] - low
            for k in range(hi, m):
                j = cols[k]
                red = C[i, j] - v[j] - h
                if red < d[j]:
                    d[j] = red
                    pred[j] = i
                    if red == low:
                        if y[j] < 0:
                            final = j
                            break
                        cols[k] = cols[hi]
                        cols[hi] = j
                        hi += 1
    low = d[final]
    for k in range(n_ready):
        j = cols[k]
        v[j] += d[j] - low
    j = final
    while True:
        i = pred[j]
        y[j] = i
        k = x[i]
        x[i] = j
        j = k
        if i == start:
            break


def _free_tight_column(C: np.ndarray, i: int, y: np.ndarray, v: np.ndarray) -> int:
    """A free column of least reduced cost ``C[i, j] - v[j]`` over all columns, or -1."""
    m = C.shape[1]
    low = _LARGE
    for j in range(m):
        red = C[i, j] - v[j]
        low = min(low, red)
    for j in range(m):
        if y[j] < 0 and C[i, j] - v[j] == low:
            return j
    return -1


def solve_costs(C: np.ndarray, row_type: np.ndarray) -> np.ndarray:
    """Minimum-cost assignment of every row of the integer matrix ``C`` (rows <= columns).

    ``row_type`` numbers the rows so that rows of one type are identical
    (:func:`_row_types`; distinct numbers are always safe). Returns the
    column of each row. Rows are added one at a time from zero
    column prices (so rectangular matrices need nothing special: a free
    column's price never moves). A row whose cheapest reduced cost is reached
    at a free column takes it in two contiguous passes; any other row gets a
    shortest augmenting path (:func:`_augment`). On tie-heavy costs most rows
    take the quick step.

    Examples
    --------
    >>> C = np.array([[4, 1, 3], [2, 0, 5], [3, 2, 2]], dtype=np.int32)
    >>> solve_costs(C, np.arange(3))
    array([1, 0, 2])
    """
    n, m = C.shape
    x = np.full(n, -1, dtype=np.int64)
    y = np.full(m, -1, dtype=np.int64)
    v = np.zeros(m, dtype=np.int64)
    d = np.empty(m, dtype=np.int64)
    cols = np.empty(m, dtype=np.int64)
    pred = np.empty(m, dtype=np.int64)
    stamp = np.zeros(n, dtype=np.int64)
    tick = 0
    for i in range(n):
        j = _free_tight_column(C, i, y, v)
        if j >= 0:
            x[i] = j
            y[j] = i
        else:
            tick += 1
            _augment(C, i, x, y, v, d, cols, pred, row_type, stamp, tick)
    return x


#: The functions the compiled kernels call: numba must know them before compiling.
_HELPERS = (_augment, _free_tight_column)


class Kernels(NamedTuple):
    """The loop kernels :func:`lattice_assignment` runs (compiled, or plain Python in tests)."""

    lattice_costs: Callable[..., tuple[int, int]]
    forbid: Callable[..., None]
    hashes: Callable[..., None]
    split_false_types: Callable[..., None]
    solve_costs: Callable[..., np.ndarray]


#: The kernels as plain Python: slow, but the very code numba compiles (tests use them).
PLAIN = Kernels(_lattice_costs, _forbid, _hashes, _split_false_types, solve_costs)

_COMPILED: dict[str, Kernels | None] = {}


def compiled_kernels() -> Kernels | None:
    """The kernels compiled by numba, or None when numba is not installed.

    Compiled lazily on the first call and cached on disk (``cache=True``), so
    only the first process on a machine pays the compilation (about 10 s);
    later processes load it (about 0.4 s with numba's import).
    """
    if "kernels" not in _COMPILED:
        try:
            import numba
            from numba.extending import register_jitable
        except ImportError:
            _COMPILED["kernels"] = None
        else:
            # Registered, the helpers compile wherever a kernel calls them and stay
            # plain Python everywhere else.
            for helper in _HELPERS:
                register_jitable(helper)
            jit = numba.njit(cache=True, nogil=True)
            compiled: list[Any] = [jit(kernel) for kernel in PLAIN]
            _COMPILED["kernels"] = Kernels(*compiled)
    return _COMPILED["kernels"]


def _loaded(kernels: Kernels) -> bool:
    """Whether ``kernels`` can run now: plain Python, or compiled code already in this process.

    A forked child (:func:`pairwise.solvers._ortools.run_cancellable`) whose
    parent never loaded the compiled code would pay numba's import and load
    (or compilation) in every child: there the caller's other methods run.
    """
    if not _ortools._IN_CHILD:  # set in the children of run_cancellable
        return True
    return all(getattr(kernel, "signatures", True) for kernel in kernels)


def warm() -> bool:
    """Load (or compile) the compiled kernels in this process; False without numba.

    Called before forking a solve that may use them, so that the child
    inherits the compiled code instead of loading it again.

    Examples
    --------
    >>> warm() in (True, False)
    True
    """
    kernels = compiled_kernels()
    if kernels is None:
        return False
    if not all(getattr(kernel, "signatures", True) for kernel in kernels):
        T = np.array([[1.0, 0.5, -np.inf], [0.25, 0.75, 0.0]])
        grid = lattice(T, kernels)
        assert grid is not None
        grid.solve()
    return True


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def _lattice_scale(T: np.ndarray) -> tuple[float, float] | None:
    """``(scale, shift)`` of a lattice of few levels guessed from a sample of ``T``; else None."""
    found = sample_lattice(T, size=_SAMPLE, levels=_MAX_LEVELS)
    if found is None:
        return None
    sample, scaling = found
    if not scaling.exact or scaling.scale > _MAX_STEP:
        return None
    scale = float(scaling.scale)
    y = sample * scale
    if np.any(np.abs(y - np.rint(y)) > _ULPS * np.spacing(np.abs(y))):
        return None  # on a grid only once shifted (e.g. one repeated value): not handled
    return scale, float(np.rint(float(sample.max()) * scale))


def _row_types(C: np.ndarray, hashes: np.ndarray, kernels: Kernels) -> np.ndarray:
    """Row types of ``C`` from row hashes: rows of one type are identical (verified)."""
    _, first, row_type = np.unique(hashes, return_index=True, return_inverse=True)
    row_type = row_type.astype(np.int64).ravel()
    kernels.split_false_types(C, row_type, first.astype(np.int64))
    return row_type


@dataclass
class Lattice:
    """Scores on a small lattice as minimising int32 costs, ready for :meth:`solve`.

    ``n_row_types`` / ``n_col_types`` count the distinct rows and columns (from
    hashes: never more than the truth, so a test on them decides only which
    exact method runs).
    """

    costs: np.ndarray
    row_low: np.ndarray
    row_hashes: np.ndarray
    n_row_types: int
    n_col_types: int
    kernels: Kernels

    def solve(self) -> np.ndarray:
        """The column of each row in a maximum-score assignment (rows <= columns)."""
        row_type = _row_types(self.costs, self.row_hashes, self.kernels)
        mate: np.ndarray = self.kernels.solve_costs(self.costs, row_type)
        return mate

    def at_row_maxima(self, mate: np.ndarray) -> bool:
        """Whether every row has its best score: then the row maxima prove ``mate`` optimal."""
        rows = np.arange(mate.size)
        return bool(np.array_equal(self.costs[rows, mate], self.row_low))


def lattice(T: np.ndarray, kernels: Kernels | None = None) -> Lattice | None:
    """``T`` (rows <= columns, ``-inf`` = forbidden) as integer costs, if on a small lattice.

    None when numba is absent (and ``kernels`` not given), when the scores
    are not all on one lattice of at most ``_MAX_LEVELS`` levels and step
    ``1 / _MAX_STEP`` or more (every cell is checked), or when the forbidden
    cells' cost would not fit: the caller then solves another way. With
    forbidden cells, a full matching of the rows must exist among the
    allowed ones.

    ``kernels`` replaces the compiled kernels (tests run :data:`PLAIN`).

    Examples
    --------
    >>> T = np.array([[1.0, 0.5, 0.25], [0.75, 1.0, 0.0]])
    >>> grid = lattice(T, PLAIN)
    >>> mate = grid.solve()
    >>> mate.tolist(), grid.at_row_maxima(mate)
    ([0, 1], True)
    """
    kernels = kernels or compiled_kernels()
    if kernels is None or not _loaded(kernels):
        return None
    n, m = T.shape
    if n > m:
        raise ValueError(f"`T` must have no more rows than columns; got shape {T.shape}")
    if n == 0:
        empty = np.empty(0, dtype=np.uint64)
        return Lattice(np.empty((0, m), np.int32), np.empty(0, np.int32), empty, 0, 0, kernels)
    guess = _lattice_scale(T)
    if guess is None:
        return None
    scale, top = guess
    if not T.flags.c_contiguous:
        T = np.ascontiguousarray(T)  # one compiled signature, not one per memory layout
    C = np.empty((n, m), dtype=np.int32)
    rng = np.random.default_rng(0x1A7)  # hashing only: fixed, not the caller's seed
    weights = rng.integers(1, 2**63, max(n, m), dtype=np.uint64) | np.uint64(1)
    row_low = np.empty(n, dtype=np.int32)
    # Headroom above the sample's top score: every cost stays >= 0 unless a cell lies
    # far above it (then the lattice guess was wrong and the caller solves another way).
    spread, forbidden = kernels.lattice_costs(T, scale, top + _MAX_LEVELS, C, row_low)
    if spread < 0 or np.any(row_low < 0):
        return None  # off the grid, or a row without any allowed cell
    if forbidden:
        # Dearer than any whole assignment of allowed cells, so none is used when a
        # full matching of allowed cells exists; every distance still fits in int64.
        cost = (spread + 1) * n + 1
        if cost >= _INT32_MAX:
            return None
        kernels.forbid(C, cost)
    hashes = np.empty(n, dtype=np.uint64)
    col_hashes = np.empty(m, dtype=np.uint64)
    with np.errstate(over="ignore"):  # hashes wrap on purpose (plain Python kernels warn)
        kernels.hashes(C, weights, hashes, col_hashes)
    n_rows = int(np.unique(hashes).size)
    n_cols = int(np.unique(col_hashes).size)
    return Lattice(C, row_low, hashes, n_rows, n_cols, kernels)


def lattice_assignment(T: np.ndarray, kernels: Kernels | None = None) -> np.ndarray | None:
    """Maximum-score assignment of every row of ``T`` on a small lattice (see :func:`lattice`).

    Returns the column of each row, or None when :func:`lattice` declines.

    Examples
    --------
    >>> lattice_assignment(np.array([[1.0, 0.5, 0.25], [0.75, 1.0, 0.0]]), PLAIN).tolist()
    [0, 1]
    """
    grid = lattice(T, kernels)
    if grid is None:
        return None
    started = time.perf_counter()
    mate = grid.solve()
    logger.debug("lattice assignment %s in %.3f s", T.shape, time.perf_counter() - started)
    return mate
