"""The maximally diverse grouping problem (MDGP): exact when small, memetic tabu search beyond.

:func:`diverse_grouping` validates its input, then takes one of three paths:
nothing to choose (no element or one group), the exact subset DP of
:mod:`._mdgp_exact` when ``n`` is small, or the memetic tabu search of
:mod:`._mdgp_memetic` (over the kernels of :mod:`._mdgp_tabu`) beyond.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from pairwise.errors import InputError, SolverError
from pairwise.solvers._mdgp_exact import _exact_dp, _exact_fits
from pairwise.solvers._mdgp_memetic import _dense_sizes, _improve, _labels_of_sizes
from pairwise.solvers._mdgp_tabu import _Problem
from pairwise.solvers._result import GroupingResult
from pairwise.solvers._validation import (
    check_max_iterations,
    check_per_row,
    check_seed,
    check_time_limit,
)

__all__ = ["diverse_grouping"]

logger = logging.getLogger(__name__)


def diverse_grouping(
    distance: npt.ArrayLike,
    n_groups: int,
    *,
    min_size: int | npt.ArrayLike,
    max_size: int | npt.ArrayLike,
    time_limit: float | None = None,
    seed: int = 0,
    max_iterations: int | None = None,
) -> GroupingResult:
    """Partition all elements into ``n_groups`` groups of bounded size, maximising diversity.

    The maximally diverse grouping problem (MDGP): every element goes to
    exactly one group, group ``g`` holds between ``min_size[g]`` and
    ``max_size[g]`` elements, and the sum of ``distance[i, j]`` over pairs
    ``i < j`` in the same group is maximised.

    Parameters
    ----------
    distance : array_like, shape (n, n)
        Symmetric dissimilarities (larger = more diverse). The diagonal is ignored.
    n_groups : int
        Number of groups, ``>= 1``.
    min_size, max_size : int or array_like of int, length ``n_groups``
        Size bounds per group (one int applies to every group).
    time_limit : float, optional
        Wall-clock seconds for the heuristic search, as in the MDGP
        literature (the MDGPLIB benchmark compares methods at equal wall
        time). Unlike the other solvers, it is *not* turned into a
        deterministic budget: with a binding time limit the answer can depend
        on machine speed and load. ``max_iterations`` is the deterministic
        work budget here: use it (alone, or with ``time_limit`` as a safety
        cap: whichever ends first) for a reproducible run.
    seed : int
        Seed of the random choices; same inputs, seed and ``max_iterations``
        (without a binding ``time_limit``) give the same answer.
    max_iterations : int, optional
        Work limit: total tabu-search steps. When neither limit is given a
        default of ``50 * n + 2000`` steps is used (deterministic).

    Returns
    -------
    GroupingResult
        ``labels`` (group per element), ``objective`` (recomputed in float64),
        ``status`` (``"optimal"`` when solved exactly -- by dynamic
        programming over subsets for ``n <= 14`` (``n_groups <= 7`` at
        ``n = 14``), or with one group -- else ``"feasible"``), ``bound`` (an
        upper bound: each element meets at most ``max(max_size) - 1`` others),
        ``method`` (``"subset_dp"``, ``"memetic_tabu"`` or ``"trivial"``) and
        ``options`` (the bounds, limits, steps used, and ``backend``:
        ``"numba"`` or ``"numpy"``).

    Notes
    -----
    Beyond the exact range the search is a memetic tabu search: sizes are
    first chosen to maximise the number of within-group pairs, a small
    population is improved by tabu search over the one-move and swap
    neighbourhoods, and generations of group-inheriting crossover and random
    perturbation follow until the limit. Without numba the neighbourhoods are
    evaluated with numpy; with numba (``pip install numba``) a compiled
    kernel runs several times more steps per second. The first call in a
    process then spends 1-2 s loading numba, inside the time limit. The two
    backends explore differently: each is deterministic for a seed and step
    limit, but they need not return the same grouping.

    Raises
    ------
    InputError
        Non-square, asymmetric or non-finite ``distance``; ``n_groups < 1``;
        size bounds that are inconsistent or cannot hold the ``n`` elements;
        a non-positive ``time_limit``.

    Examples
    --------
    >>> d = np.array([[0, 9, 1, 1], [9, 0, 1, 1], [1, 1, 0, 9], [1, 1, 9, 0]], float)
    >>> res = diverse_grouping(d, 2, min_size=2, max_size=2)
    >>> res.objective, res.status
    (18.0, 'optimal')
    """
    start = time.perf_counter()
    seed = check_seed(seed, "diverse_grouping")
    d_in, lower, upper = _validate(
        distance, n_groups, min_size, max_size, time_limit, max_iterations
    )
    n = d_in.shape[0]
    k = lower.shape[0]
    upper = np.minimum(upper, n)
    d = (d_in + d_in.T) / 2.0
    np.fill_diagonal(d, 0.0)
    options: dict[str, Any] = {
        "n_groups": k,
        "min_size": lower.tolist(),
        "max_size": upper.tolist(),
        "time_limit": time_limit,
        "max_iterations": max_iterations,
    }
    if n == 0 or k == 1:
        # Nothing to choose: every element (if any) joins the one group.
        labels, method = np.zeros(n, dtype=np.int64), "trivial"
    elif _exact_fits(n, k):
        labels, method = _exact_dp(d, lower, upper)[0], "subset_dp"
    else:
        labels, stats = _memetic_labels(
            d,
            lower,
            upper,
            time_limit=time_limit,
            max_iterations=max_iterations,
            seed=seed,
            start=start,
        )
        options.update(stats)
        method = "memetic_tabu"
    obj = _grouping_objective(d_in, labels)
    if method != "memetic_tabu":
        elapsed = time.perf_counter() - start
        return GroupingResult(labels, obj, "optimal", obj, elapsed, method, seed, options)
    bound = max(_upper_bound(d, upper), obj)
    elapsed = time.perf_counter() - start
    return GroupingResult(labels, obj, "feasible", bound, elapsed, method, seed, options)


def _memetic_labels(
    d: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    time_limit: float | None,
    max_iterations: int | None,
    seed: int,
    start: float,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Labels by memetic tabu search from the sizes with most pairs; also the search stats."""
    n = d.shape[0]
    problem = _Problem(d, lower, upper)
    rng = np.random.default_rng(seed)
    initial = _labels_of_sizes(_dense_sizes(n, lower, upper, rng), rng)
    if time_limit is None and max_iterations is None:
        max_iterations = 50 * n + 2000
    remaining = (
        None if time_limit is None else max(0.0, float(time_limit) - (time.perf_counter() - start))
    )
    labels, _, stats = _improve(
        problem,
        initial,
        time_limit=remaining,
        max_iterations=max_iterations,
        seed=int(rng.integers(2**31)),
    )
    sizes = np.bincount(labels, minlength=lower.shape[0])
    if np.any(sizes < lower) or np.any(sizes > upper):  # pragma: no cover - a bug if reached
        raise SolverError(
            f"diverse_grouping produced group sizes {sizes.tolist()} outside the bounds; "
            "this is a bug. Fix: rerun with another seed and report the instance."
        )
    return labels, stats


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def _as_bounds(value: Any, name: str, n_groups: int) -> np.ndarray:
    """``value`` (int or sequence of ints) as an int64 array of length ``n_groups``."""
    return check_per_row(value, n_groups, name, "diverse_grouping", unit="group")


def _check_distance(distance: Any) -> np.ndarray:
    """``distance`` as a float64 square symmetric finite array (a copy is never mutated)."""
    try:
        d = np.asarray(distance, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"`distance` must be a numeric square matrix; got {type(distance).__name__} "
            f"({exc}). Fix: pass a 2-D numpy array of floats."
        ) from None
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise InputError(
            f"`distance` must be a square matrix (n x n); got shape {d.shape}. "
            "Fix: pass the full symmetric element x element dissimilarity matrix."
        )
    if np.isnan(d).any():
        where = np.argwhere(np.isnan(d))[:5].tolist()
        raise InputError(
            f"`distance` must not contain NaN; got {int(np.isnan(d).sum())} NaN entries "
            f"(first at {where}). Fix: fill the missing dissimilarities."
        )
    if not np.isfinite(d).all():
        where = np.argwhere(~np.isfinite(d))[:5].tolist()
        raise InputError(
            f"`distance` must be finite; got infinite entries at {where}. "
            "Fix: replace infinities by a large finite value."
        )
    scale = float(np.max(np.abs(d))) if d.size else 0.0
    asym = np.abs(d - d.T)
    if d.size and float(asym.max()) > 1e-9 * max(1.0, scale):
        i, j = np.unravel_index(int(np.argmax(asym)), d.shape)
        raise InputError(
            f"`distance` must be symmetric; got distance[{i}, {j}] = {d[i, j]!r} but "
            f"distance[{j}, {i}] = {d[j, i]!r}. Fix: pass (D + D.T) / 2 or fill both halves."
        )
    return d


def _validate(
    distance: Any,
    n_groups: Any,
    min_size: Any,
    max_size: Any,
    time_limit: Any,
    max_iterations: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = _check_distance(distance)
    n = d.shape[0]
    if isinstance(n_groups, bool | np.bool_) or not isinstance(n_groups, int | np.integer):
        raise InputError(
            f"`n_groups` must be a positive integer; got {n_groups!r}. Fix: pass e.g. n_groups=4."
        )
    n_groups = int(n_groups)
    if n_groups < 1:
        raise InputError(
            f"`n_groups` must be >= 1; got {n_groups}. Fix: ask for at least one group."
        )
    lower = _as_bounds(min_size, "min_size", n_groups)
    upper = _as_bounds(max_size, "max_size", n_groups)
    bad = np.flatnonzero(lower > upper)
    if bad.size:
        g = int(bad[0])
        raise InputError(
            f"`min_size` must be <= `max_size` for every group; got min_size={lower[g]} > "
            f"max_size={upper[g]} for group {g} ({bad.size} group(s) in all: "
            f"{bad[:5].tolist()}). Fix: swap or correct the bounds."
        )
    if int(lower.sum()) > n:
        raise InputError(
            f"the groups need at least sum(min_size) = {int(lower.sum())} elements; got n = {n}. "
            "Fix: lower min_size or use fewer groups."
        )
    if int(upper.sum()) < n:
        raise InputError(
            f"the groups hold at most sum(max_size) = {int(upper.sum())} elements; got n = {n}. "
            "Fix: raise max_size or use more groups."
        )
    check_time_limit(time_limit, "diverse_grouping")
    check_max_iterations(max_iterations, "diverse_grouping", minimum=1)
    return d, lower, upper


# --------------------------------------------------------------------------------------
# Objective and bound
# --------------------------------------------------------------------------------------


def _grouping_objective(distance: np.ndarray, labels: np.ndarray) -> float:
    """Sum of ``distance[i, j]`` over pairs ``i < j`` with the same label (>= 0), in float64."""
    total = 0.0
    labels = np.asarray(labels)
    for g in np.unique(labels[labels >= 0]):
        idx = np.flatnonzero(labels == g)
        block = distance[np.ix_(idx, idx)]
        total += float(np.triu(block, 1).sum())
    return total


def _upper_bound(d: np.ndarray, upper: np.ndarray) -> float:
    """Each element meets at most ``max(upper) - 1`` others: half their largest distances."""
    n = d.shape[0]
    k = int(min(int(upper.max()), n)) - 1
    if n < 2 or k <= 0:
        return 0.0
    off = d.copy()
    np.fill_diagonal(off, -np.inf)
    top = -np.partition(-off, k - 1, axis=1)[:, :k]
    # Only partners with positive distance can raise an element's contribution.
    per_element = float(np.maximum(top, 0.0).sum()) / 2.0
    if float(d.min(initial=0.0)) >= 0.0:
        # With non-negative distances, grouping everybody together is also an upper bound.
        return min(per_element, float(np.triu(d, 1).sum()))
    return per_element
