"""The only module that imports OR-Tools; every import happens lazily, on first use.

Keeping OR-Tools behind this module means ``import pairwise`` stays fast and
works for the parts of the library (rosters, compatibility) that need no solver.
It also fixes, in one place, how scores become integers (:func:`integer_scale`,
the one scaling policy of every integer solver), how CP-SAT is made
deterministic and interruptible (:func:`solve_cp`), how long graph solves stay
stoppable (:func:`run_cancellable`) and the run-wide wall-clock deadline every
solver obeys (:func:`wall_deadline`).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "CP_WALL_PER_DET",
    "FORK_ARCS",
    "MAX_SCALED_PEAK",
    "WORK_SHARE",
    "CpRun",
    "DeadlineExceeded",
    "Scaling",
    "can_fork",
    "cp_model",
    "cp_work",
    "deadline_after",
    "earliest",
    "exact_integers",
    "integer_scale",
    "linear_sum_assignment",
    "lsa_cost_limit",
    "max_flow",
    "mcf_cost_limit",
    "min_cost_flow",
    "no_deadline",
    "past",
    "run_cancellable",
    "sample_lattice",
    "solve_cp",
    "solve_cp_small",
    "wall_deadline",
]

T = TypeVar("T")


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
# Values per chunk of a full on-grid check: small enough to stay in cache.
_CHUNK = 1 << 16
# Distinct off-grid values taken into the probe per round of the lattice search.
_PROBE_ADD = 64

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


def _on_grid(x: np.ndarray, scale: float | np.ndarray) -> np.ndarray:
    """Whether each ``x * scale`` is within 4 units in the last place of a whole number."""
    y = x * scale
    return np.abs(y - np.rint(y)) <= _ON_GRID_ULPS * np.abs(y)


def _off_grid(x: np.ndarray, scale: float) -> np.ndarray:
    """Up to :data:`_PROBE_ADD` distinct entries of ``x`` off the grid ``scale`` (empty: none).

    One pass over ``x`` in cache-sized chunks, stopping at the first chunk
    with an off-grid entry.
    """
    for start in range(0, x.size, _CHUNK):
        part = x[start : start + _CHUNK]
        bad = ~_on_grid(part, scale)
        if bad.any():
            return np.unique(part[bad])[:_PROBE_ADD]
    return x[:0]


def _denominators(x: np.ndarray) -> np.ndarray:
    """Smallest whole ``q <= 1024`` putting each entry of ``x`` on the grid ``q`` (0: none)."""
    fits = _on_grid(x[:, None], _SMALL_GRIDS[None, :])
    return np.where(fits.any(axis=1), fits.argmax(axis=1) + 1, 0)


def _small_lattice(finite: np.ndarray, probe: np.ndarray) -> int | None:
    """Smallest whole ``q <= 1024`` with every value on the grid ``q``; None when there is none.

    A rational reconstruction: each distinct value of ``probe`` (a sample)
    that the current ``q`` misses gives its own smallest denominator, and
    ``q`` becomes their least common multiple; once the probe fits, one pass
    over all values verifies ``q`` (values it misses join the probe). ``q``
    grows by a factor of at least 2 per round, so there are at most 11 rounds
    and, in practice, one full pass.
    """
    q = 1
    while q <= _SMALL_GRIDS.size:
        off = probe[~_on_grid(probe, float(q))][:_PROBE_ADD]
        if off.size == 0:
            off = _off_grid(finite, float(q))
            if off.size == 0:
                return q
            probe = np.concatenate([probe, off])
        den = _denominators(off)
        if np.any(den == 0):
            return None
        grown = math.lcm(q, *(int(d) for d in np.unique(den)))
        if grown == q:  # rounding at the edge of the tolerance: no lattice to trust
            return None
        q = grown
    return None


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


def sample_lattice(
    values: np.ndarray, *, size: int, levels: int, min_size: int = 1
) -> tuple[np.ndarray, Scaling] | None:
    """A lattice of at most ``levels`` levels guessed from an even sample of ``values``.

    The finite values among ``size`` evenly spaced ones (any shape) and their
    :func:`integer_scale` with ``shift``; None when fewer than ``min_size``
    are finite. A cheap recogniser: callers verify every value before they
    rely on the grid.

    Examples
    --------
    >>> sample, scaling = sample_lattice(np.array([[0.25, 0.5], [1.0, np.inf]]), size=8, levels=16)
    >>> sample.tolist(), scaling.scale, scaling.exact
    ([0.25, 0.5, 1.0], 4.0, True)
    """
    flat = np.asarray(values).reshape(-1)
    step = max(1, flat.size // size)
    sample = flat[::step][:size]
    sample = sample[np.isfinite(sample)]
    if sample.size < min_size:
        return None
    return sample, integer_scale(sample, limit=levels, max_peak=levels, shift=True)


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

    both ``exact``: then the integer problem *is* the original one. The grid
    of step 1 is found without trying grids one by one: the distinct values of
    a sample give their smallest denominators, whose least common multiple is
    then verified in one pass over all values (:func:`_small_lattice`), so the
    cost is linear in ``values.size``. Otherwise
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
    values = np.asarray(values, dtype=np.float64).ravel()
    keep = np.isfinite(values)
    finite = values if keep.all() else values[keep]
    if finite.size == 0:
        return Scaling(1.0, True)
    low, high = float(np.min(finite)), float(np.max(finite))
    offset = low if shift and low != 0.0 else 0.0
    absmax = max(abs(low), abs(high))
    # The spread after the offset, rounded up a little: it only decides what fits.
    peak = (max(abs(high - offset), abs(low - offset))) * (1.0 + 2.0**-40)
    if peak == 0.0:
        return Scaling(1.0, True, offset)
    probe = np.unique(finite[:: max(1, finite.size // 1024)][:1024])

    def fits(scale: float) -> bool:
        # ``limit`` may be a large int: compare exactly, without rounding it to a float.
        return peak * scale * terms <= limit and absmax * scale <= _GRID_RANGE

    q = _small_lattice(finite, probe)
    if q is not None:
        if fits(float(q)):
            return Scaling(float(q), True, offset)
    else:
        for scale in _DECIMAL_GRIDS:
            if not fits(scale):
                break
            if np.all(_on_grid(probe, scale)):
                off = _off_grid(finite, scale)
                if off.size == 0:
                    return Scaling(scale, True, offset)
                probe = np.concatenate([probe, off])
    # The sample's exponent is a lower bound: when it already overflows, skip the full pass.
    s = _dyadic_exponent(probe)
    if s is None or peak * 2.0 ** min(s, 1000) * terms <= limit:
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


#: Share of a time limit that the deterministic work budgets are sized to use on an idle
#: 2-core machine: the same seed then gives the same answer on a machine up to 2.5x
#: slower (or busier) before the wall-clock cap cuts the search.
WORK_SHARE = 0.4

#: Wall-clock seconds per unit of CP-SAT deterministic time on an idle 2-core machine for
#: whole learning-group models with two interleaved workers (measured 1.4-2.9; a process
#: CPU time of about 3.3 s per unit with one worker), rounded up.
CP_WALL_PER_DET = 3.0


def cp_work(seconds: float) -> float:
    """CP-SAT deterministic time taking at most ``seconds`` of wall clock on an idle machine."""
    return float(seconds) / CP_WALL_PER_DET


# --- Wall-clock deadlines -----------------------------------------------------

_DEADLINE: ContextVar[float | None] = ContextVar("pairwise_deadline", default=None)


@contextlib.contextmanager
def wall_deadline(deadline: float | None) -> Iterator[None]:
    """Within the block, every solver also stops at ``deadline`` (a ``time.perf_counter()``).

    :class:`pairwise.Program` sets it to the run's end minus the time its
    results take to build, so that the whole run keeps its ``time_limit``; a
    solver's own ``time_limit`` still applies (the earlier of the two wins).
    Nested blocks keep the earliest deadline.
    """
    outer = _DEADLINE.get()
    inner = deadline if outer is None or deadline is None else min(outer, deadline)
    token = _DEADLINE.set(inner if deadline is not None else outer)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


@contextlib.contextmanager
def no_deadline() -> Iterator[None]:
    """Within the block, no enclosing :func:`wall_deadline` applies (work that must finish)."""
    token = _DEADLINE.set(None)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def earliest(deadline: float | None) -> float | None:
    """The earlier of ``deadline`` and the enclosing :func:`wall_deadline` (None: neither)."""
    outer = _DEADLINE.get()
    if deadline is None:
        return outer
    return deadline if outer is None else min(deadline, outer)


def deadline_after(started: float, time_limit: float | None) -> float | None:
    """The earlier of ``started + time_limit`` and the enclosing :func:`wall_deadline`."""
    return earliest(None if time_limit is None else started + float(time_limit))


def past(deadline: float | None) -> bool:
    """Whether the wall clock has reached ``deadline`` (never, for None)."""
    return deadline is not None and time.perf_counter() >= deadline


# --- CP-SAT -------------------------------------------------------------------


@dataclass(frozen=True)
class CpRun:
    """A finished CP-SAT solve: the solver (for values and bounds), its status and how it ended.

    ``stopped_by_time_limit`` is True when the wall-clock deadline stopped the
    search before its deterministic budget was spent.
    """

    solver: Any
    status: int
    stopped_by_time_limit: bool = False


#: How often (seconds) the waiting main thread checks the deadline and lets signals in.
_POLL = 0.1


def _solve_in_thread(solver: Any, model: Any, deadline: float | None) -> tuple[int, bool]:
    """``solver.solve(model)`` in a worker thread; the main thread stays interruptible.

    CP-SAT releases the GIL while it searches, so the calling thread waits in
    short ``join`` steps: at ``deadline`` it asks CP-SAT to stop (the best
    solution so far is kept), and on :class:`KeyboardInterrupt` (Ctrl-C,
    SIGTERM through :class:`pairwise._run.Terminated`) it stops the search,
    waits for the worker and re-raises. Returns ``(status, stopped by deadline)``.
    """
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            out["status"] = solver.solve(model)
        except BaseException as exc:  # pragma: no cover - re-raised in the caller
            out["error"] = exc

    worker = threading.Thread(target=work, name="pairwise-cp-sat", daemon=True)
    stopped = False
    worker.start()
    try:
        while worker.is_alive():
            wait = _POLL
            if deadline is not None:
                wait = max(0.0, min(_POLL, deadline - time.perf_counter()))
            worker.join(wait)
            if worker.is_alive() and past(deadline):
                # repeated: a stop asked before CP-SAT set up its search is lost
                solver.stop_search()
                stopped = True
    except BaseException:
        while worker.is_alive():
            solver.stop_search()
            worker.join(_POLL)
        raise
    if "error" in out:
        raise out["error"]
    return int(out["status"]), stopped


def _params(solver: Any, *, seed: int, max_det_time: float | None, deadline: float | None) -> Any:
    params = solver.parameters
    params.random_seed = int(seed) % (2**31)
    # Ctrl-C belongs to Python: CP-SAT would otherwise swallow it and keep going.
    params.catch_sigint_signal = False
    if max_det_time is not None:
        params.max_deterministic_time = float(max(max_det_time, 1e-3))
    if deadline is not None:
        # backstop only: the waiting thread stops the search at the deadline itself
        params.max_time_in_seconds = float(max(deadline - time.perf_counter(), 0.0) + 1.0)
    return params


def solve_cp(
    model: Any,
    *,
    max_det_time: float | None,
    seed: int,
    deadline: float | None = None,
    workers: int = 2,
    hint_log: bool = False,
) -> CpRun:
    """Solve a CP-SAT ``model`` reproducibly and interruptibly.

    Parameters
    ----------
    model : CpModel
    max_det_time : float or None
        The work budget in CP-SAT's deterministic time (see :func:`cp_work`);
        None: until proven optimal.
    seed : int
    deadline : float, optional
        ``time.perf_counter()`` value at which the search is stopped whatever
        the budget (a safety cap; the earlier of it and the enclosing
        :func:`wall_deadline` applies).
    workers : int
        Search workers; with more than one, ``interleave_search`` keeps the
        search deterministic.
    hint_log : bool
        Log CP-SAT's search.

    Returns
    -------
    CpRun
        The solver, the status and whether the deadline cut the search.

    Notes
    -----
    The same seed and budget give the same answer on an idle or a loaded
    machine, unless the deadline cuts the search (then
    ``stopped_by_time_limit``). CP-SAT's own SIGINT handling is off and the
    solve runs in a worker thread, so Ctrl-C raises :class:`KeyboardInterrupt`
    here within about 0.1 s (see :func:`_solve_in_thread`).
    """
    module = cp_model()
    solver = module.CpSolver()
    deadline = earliest(deadline)
    params = _params(solver, seed=seed, max_det_time=max_det_time, deadline=deadline)
    params.num_workers = max(1, int(workers))
    if params.num_workers > 1:
        params.interleave_search = True
    params.log_search_progress = bool(hint_log)
    status, stopped = _solve_in_thread(solver, model, deadline)
    return CpRun(solver, status, stopped and status != module.OPTIMAL)


def solve_cp_small(
    model: Any, *, max_det_time: float, seed: int, deadline: float | None = None
) -> CpRun:
    """Solve a small CP-SAT ``model`` quickly, reproducibly and interruptibly.

    For the many small models of a large-neighbourhood search: one worker and
    no presolve (on models of a few hundred booleans presolve costs more than
    it saves: about 6x faster to optimality in measurements on
    learning-group neighbourhoods) and a deterministic time limit. No wall
    clock of its own (a per-model wall cap made answers depend on machine
    load): only ``deadline`` and the enclosing :func:`wall_deadline` stop it.
    """
    module = cp_model()
    solver = module.CpSolver()
    deadline = earliest(deadline)
    params = _params(solver, seed=seed, max_det_time=max_det_time, deadline=deadline)
    params.num_workers = 1
    params.cp_model_presolve = False
    status, stopped = _solve_in_thread(solver, model, deadline)
    return CpRun(solver, status, stopped and status != module.OPTIMAL)


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


# --- Long graph solves: in a child process that can be stopped --------------------

#: Graph solves with more arcs than this run in a forked child process (POSIX), so that
#: Ctrl-C and deadlines act while OR-Tools holds the GIL. Measured: a fork costs about
#: 11-30 ms; ``SimpleLinearSumAssignment`` takes about 25 ms on 200,000 arcs with random
#: costs and seconds to minutes on large tie-heavy ones.
FORK_ARCS = 200_000


class DeadlineExceeded(Exception):
    """A cancellable call was stopped at its deadline; the caller falls back to its best answer."""


def can_fork() -> bool:
    """Whether :func:`run_cancellable` can run work in a forked child on this platform."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


#: True inside a child of :func:`run_cancellable`: a nested call then runs in-process,
#: so that killing the child never leaves a grandchild solving on its own.
_IN_CHILD = False


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """Run ``fn(*args)`` in the child and send ``(ok, value or exception)`` back."""
    import signal

    global _IN_CHILD
    _IN_CHILD = True

    # The parent decides when to stop: a terminal's Ctrl-C reaches the whole process
    # group, and the child must not print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        payload: tuple[bool, Any] = (True, fn(*args))
    except BaseException as exc:
        payload = (False, exc)
    try:
        conn.send(payload)
    except Exception as exc:  # e.g. an exception that does not pickle
        conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def run_cancellable(
    fn: Callable[..., T], *args: Any, deadline: float | None = None, arcs: int = 0
) -> T:
    """``fn(*args)``, stoppable by Ctrl-C, SIGTERM and ``deadline`` even if ``fn`` holds the GIL.

    OR-Tools' graph solvers (``SimpleLinearSumAssignment``,
    ``SimpleMinCostFlow``, ``SimpleMaxFlow``) keep the GIL for their whole
    ``solve()``: no signal handler and no deadline can act until it returns.
    With more than :data:`FORK_ARCS` arcs (``arcs``) and on a platform that
    can fork, ``fn`` runs in a forked child process and its (picklable)
    result comes back through a pipe; the parent waits in 0.1 s steps, kills
    the child at ``deadline`` (raising :class:`DeadlineExceeded`) or on
    :class:`KeyboardInterrupt` (re-raised). Smaller calls, and every call
    where ``fork`` is not available, run in-process (then ``deadline`` is
    only checked before the call).

    Parameters
    ----------
    fn : callable
        The work; its arguments are inherited by the child, never pickled.
    *args
        Passed to ``fn``.
    deadline : float, optional
        ``time.perf_counter()`` value; the earlier of it and the enclosing
        :func:`wall_deadline` applies.
    arcs : int
        Size of the graph, which decides whether forking pays.

    Raises
    ------
    DeadlineExceeded
        The deadline passed before ``fn`` finished.
    """
    deadline = earliest(deadline)
    if past(deadline):
        raise DeadlineExceeded
    if arcs <= FORK_ARCS or _IN_CHILD or not can_fork():
        return fn(*args)
    import multiprocessing
    import warnings

    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn, args), daemon=True)
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a threaded process may deadlock: the child
        # only runs ``fn`` (OR-Tools graph code), never a lock another thread held.
        warnings.simplefilter("ignore", DeprecationWarning)
        proc.start()
    send.close()
    try:
        while True:
            wait = (
                _POLL if deadline is None else max(0.0, min(_POLL, deadline - time.perf_counter()))
            )
            if recv.poll(wait):
                ok, value = recv.recv()
                break
            if not proc.is_alive() and not recv.poll(0):
                raise RuntimeError(
                    f"the solver process ended with exit code {proc.exitcode} without an "
                    "answer (out of memory?). Fix: use a sparser compatibility (top_k)."
                )
            if past(deadline):
                raise DeadlineExceeded
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        recv.close()
    if not ok:
        raise value
    return value
