"""Learning groups: the validated problem (`_Problem`) and the checks that build it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..diversity import CompositionRules, make_rules
from ..errors import InputError
from . import _ortools
from ._validation import check_max_iterations, check_per_row, check_seed, check_time_limit

#: Pairs above which ``_Problem.fit_int`` is rounded on demand instead of stored.
_DENSE_FIT_INT = 1 << 20

#: Values of ``method`` that :func:`pairwise.solvers.groups.learning_groups` accepts.
METHODS = ("auto", "exact", "heuristic")


class _Scaled:
    """``round(values * scale)`` as int64, computed only for the entries indexed.

    Stands for the integer diversity matrix, which CP-SAT reads a few
    entries at a time, so no protégé × protégé int64 copy is ever made.
    """

    def __init__(self, values: np.ndarray, scale: float) -> None:
        self.values = values
        self.scale = scale

    def __getitem__(self, key: Any) -> Any:
        return np.round(np.asarray(self.values[key], dtype=np.float64) * self.scale).astype(
            np.int64
        )


@dataclass
class _Problem:
    """Validated arrays the engines share (never the caller's objects)."""

    fit: np.ndarray  # (L, P) float64, 0 where not allowed
    allowed: np.ndarray  # (L, P) bool as given
    cand: np.ndarray  # (L, P) bool: allowed and not excluded by pre-checks
    min_size: np.ndarray  # (L,) int64
    max_size: np.ndarray  # (L,) int64
    weights: np.ndarray | None  # (P,) float64 or None
    w_int: np.ndarray  # (P,) int64 priority tiers (1 when no weights)
    rules: CompositionRules
    conflict: np.ndarray | None  # (P, P) bool: True where two may NOT share a group
    # (P, P) symmetric diversity_weight * distance, 0 diagonal: float32 when the distance
    # is float32, else float64
    wd: np.ndarray | None
    scale: float
    fit_int: np.ndarray | _Scaled  # (L, P) int64; above _DENSE_FIT_INT pairs on demand
    wd_int: _Scaled | None  # (P, P) int64 on demand: wd_int[rows, cols]

    @property
    def n_leaders(self) -> int:
        return self.fit.shape[0]

    @property
    def n_proteges(self) -> int:
        return self.fit.shape[1]


def _as_sizes(value: Any, n: int, name: str) -> np.ndarray:
    return check_per_row(value, n, name, "learning_groups", unit="leader", minimum=1)


def _validate(
    fit: Any,
    *,
    min_size: Any,
    max_size: Any,
    allowed: Any,
    attributes: Any,
    min_distinct: Mapping[str, int] | None,
    max_count: Mapping[str, int] | None,
    no_isolation: str | Iterable[str] | None,
    distance: Any,
    diversity_weight: Any,
    time_limit: Any,
    seed: Any,
    weights: Any,
    together: Any,
    max_iterations: Any,
    method: Any,
    protected: Iterable[str],
) -> _Problem:
    """Check every input and build a :class:`_Problem` (its ``allowed`` is the pair mask).

    The checks run in a fixed order (options, ``fit`` and ``allowed``, sizes,
    ``weights``, ``together``, the diversity term, the composition rules), so
    the first bad input is the one reported.
    """
    if method not in METHODS:
        raise InputError(
            f"`method` must be one of {list(METHODS)}; got {method!r}. Fix: use method='auto'."
        )
    check_time_limit(time_limit, "learning_groups")
    check_seed(seed, "learning_groups")
    check_max_iterations(max_iterations, "learning_groups")
    fit_arr, allowed_arr = _check_fit(fit, allowed)
    n_leaders, n_proteges = fit_arr.shape
    mins, maxs = _check_sizes(min_size, max_size, n_leaders)
    w_arr = _check_weights(weights, n_proteges)
    conflict = _check_together(together, n_proteges)
    wd = _check_diversity(distance, diversity_weight, n_proteges)
    rules = make_rules(
        attributes,
        n_proteges,
        min_distinct=min_distinct,
        max_count=max_count,
        no_isolation=no_isolation,
        protected=protected,
    )
    scale = _shared_scale(fit_arr, allowed_arr, wd, maxs)
    return _Problem(
        fit=fit_arr,
        allowed=allowed_arr,
        cand=allowed_arr.copy(),
        min_size=mins,
        max_size=maxs,
        weights=w_arr,
        w_int=_weight_tiers(w_arr, n_proteges),
        rules=rules,
        conflict=conflict,
        wd=wd,
        scale=scale,
        # at scale the integer fit is rounded only where CP-SAT reads it
        fit_int=np.round(fit_arr * scale).astype(np.int64)
        if fit_arr.size <= _DENSE_FIT_INT
        else _Scaled(fit_arr, scale),
        wd_int=None if wd is None else _Scaled(wd, scale),
    )


def _check_fit(fit: Any, allowed: Any) -> tuple[np.ndarray, np.ndarray]:
    """``fit`` as a dense float copy (0 where not allowed) and the allowed mask."""
    if sp.issparse(fit):
        if allowed is not None:
            raise InputError(
                "`allowed` must be omitted when `fit` is sparse (its stored entries are the "
                "allowed pairs); got both. Fix: drop `allowed`."
            )
        coo = fit.tocoo()
        fit_arr = np.zeros(fit.shape, dtype=np.float64)
        allowed_arr = np.zeros(fit.shape, dtype=bool)
        fit_arr[coo.row, coo.col] = coo.data
        allowed_arr[coo.row, coo.col] = True
    else:
        fit_arr = np.array(fit, dtype=np.float64, copy=True)
        if fit_arr.ndim != 2:
            raise InputError(
                f"`fit` must be a 2-D array (leaders × protégés); got {fit_arr.ndim} dimension(s)."
            )
        allowed_arr = _check_allowed(allowed, fit_arr.shape)
    bad = allowed_arr & ~np.isfinite(fit_arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(
            f"`fit` must be finite where pairs are allowed; got {fit_arr[r, c]} at "
            f"(leader {r}, protégé {c}) and {int(bad.sum()) - 1} more. "
            "Fix: mark such pairs as not allowed."
        )
    np.copyto(fit_arr, 0.0, where=~allowed_arr)  # fit_arr is already a private copy
    return fit_arr, allowed_arr


def _check_allowed(allowed: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A copy of the boolean ``allowed`` mask of ``shape`` (all True when None)."""
    if allowed is None:
        return np.ones(shape, dtype=bool)
    allowed_arr = np.asarray(allowed)
    if allowed_arr.shape != shape:
        raise InputError(
            f"`allowed` must have the shape of `fit` {shape}; "
            f"got {allowed_arr.shape}. Fix: pass a mask with one entry per pair."
        )
    if allowed_arr.dtype != bool:
        raise InputError(
            f"`allowed` must be a boolean mask; got dtype {allowed_arr.dtype}. "
            "Fix: pass allowed.astype(bool)."
        )
    return allowed_arr.copy()


def _check_sizes(min_size: Any, max_size: Any, n_leaders: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-leader ``min_size`` and ``max_size`` as int64 arrays, each min <= max."""
    mins = _as_sizes(min_size, n_leaders, "min_size")
    maxs = _as_sizes(max_size, n_leaders, "max_size")
    if np.any(mins > maxs):
        g = int(np.argmax(mins > maxs))
        raise InputError(
            f"`min_size` must not exceed `max_size`; got {mins[g]} > {maxs[g]} (leader {g}). "
            "Fix: swap them or widen the range."
        )
    return mins, maxs


def _check_weights(weights: Any, n_proteges: int) -> np.ndarray | None:
    """A float copy of ``weights`` (one finite value >= 0 per protégé), or None."""
    if weights is None:
        return None
    w_arr = np.array(weights, dtype=np.float64, copy=True)
    if w_arr.shape != (n_proteges,):
        raise InputError(
            f"`weights` must hold one number per protégé ({n_proteges}); got shape {w_arr.shape}."
        )
    if not np.all(np.isfinite(w_arr)) or np.any(w_arr < 0):
        raise InputError(
            "`weights` must be finite and >= 0; got "
            f"{w_arr[~np.isfinite(w_arr) | (w_arr < 0)][:5].tolist()}. "
            "Fix: use 1 for ordinary protégés and e.g. 2 for priority ones."
        )
    return w_arr


def _check_together(together: Any, n_proteges: int) -> np.ndarray | None:
    """The conflict mask (True where two may NOT share a group), or None when there is none."""
    if together is None:
        return None
    tog = np.asarray(together)
    if tog.shape != (n_proteges, n_proteges) or tog.dtype != bool:
        raise InputError(
            f"`together` must be a boolean protégé × protégé mask ({n_proteges}, "
            f"{n_proteges}); got shape {tog.shape}, dtype {tog.dtype}."
        )
    if not _is_symmetric(tog):
        raise InputError(
            "`together` must be symmetric (p may meet q exactly when q may meet p); got an "
            "asymmetric mask. Fix: pass together & together.T."
        )
    conflict = ~tog
    np.fill_diagonal(conflict, False)
    return conflict if conflict.any() else None


def _check_diversity(distance: Any, diversity_weight: Any, n_proteges: int) -> np.ndarray | None:
    """``diversity_weight * distance`` made symmetric (0 diagonal), or None when it is 0."""
    if isinstance(diversity_weight, bool) or not isinstance(
        diversity_weight, int | float | np.integer | np.floating
    ):
        raise InputError(f"`diversity_weight` must be a number; got {diversity_weight!r}.")
    if not math.isfinite(float(diversity_weight)):
        raise InputError(f"`diversity_weight` must be finite; got {diversity_weight!r}.")
    if distance is None:
        if float(diversity_weight) != 0.0:
            raise InputError(
                "`distance` must be given when `diversity_weight` is not 0; got None. "
                "Fix: pass a protégé × protégé distance matrix or diversity_weight=0."
            )
        return None
    d = np.asarray(distance)
    if d.dtype != np.float32:  # float32 stays float32 (half the memory), the rest float64
        d = d.astype(np.float64, copy=False)
    if d.ndim != 2 or d.shape != (n_proteges, n_proteges):
        raise InputError(
            f"`distance` must be protégé × protégé ({n_proteges}, {n_proteges}); "
            f"got shape {d.shape}."
        )
    wd = _symmetric_upper(d, float(diversity_weight))
    if wd is None:
        raise InputError("`distance` must be finite above the diagonal.")
    if float(diversity_weight) == 0.0:
        return None
    return wd if wd.any() else None


#: Side of the square tiles in which protégé × protégé matrices are copied and
#: compared (a tile and its mirror stay in cache while one is transposed).
_TILE = 1024


def _symmetric_upper(d: np.ndarray, weight: float) -> np.ndarray | None:
    """``weight × (U + U.T)``, ``U = triu(d, 1)``, by tiles; None if ``U`` is not finite.

    One output matrix (float32 when ``d`` is float32, else float64) and
    tile-sized temporaries only (the distance matrix of a large pool is the
    largest array of a call): each upper tile is scaled in place and
    mirrored below the diagonal while it is in cache.
    """
    n = d.shape[0]
    out = np.empty((n, n), dtype=np.float32 if d.dtype == np.float32 else np.float64)
    w = out.dtype.type(weight)
    for s in range(0, n, _TILE):
        e = min(n, s + _TILE)
        diag = np.triu(d[s:e, s:e], 1)
        if not (np.all(np.isfinite(d[s:e, e:])) and np.all(np.isfinite(diag))):
            return None
        np.multiply(d[s:e, e:], w, out=out[s:e, e:])
        for s2 in range(e, n, _TILE):
            e2 = min(n, s2 + _TILE)
            out[s2:e2, s:e] = out[s:e, s2:e2].T
        diag = w * diag
        out[s:e, s:e] = diag + diag.T
    return out


def _is_symmetric(m: np.ndarray) -> bool:
    """Whether the square ``m`` equals its transpose, compared tile by tile (no copy)."""
    n = m.shape[0]
    for s in range(0, n, _TILE):
        e = min(n, s + _TILE)
        for s2 in range(s, n, _TILE):
            e2 = min(n, s2 + _TILE)
            if not np.array_equal(m[s:e, s2:e2], m[s2:e2, s:e].T):
                return False
    return True


def _shared_scale(
    fit: np.ndarray, allowed: np.ndarray, wd: np.ndarray | None, max_size: np.ndarray
) -> float:
    """One integer scale for fit and the diversity term, so CP-SAT adds them exactly.

    The scale is first sought on a sample holding the extreme values (see
    :func:`_scale_sample`): a sample off every exact grid proves the whole set
    is off them too, and the inexact scale depends only on the extremes, so
    the whole set is scanned only when the sample lies on an exact grid (and
    the pool has at most :data:`_FULL_SCAN_MAX` protégés).
    """
    n_proteges = fit.shape[1]
    terms = n_proteges * (1 + (int(max_size.max()) if wd is not None else 0))
    # fit scores lie in [0, 1]: a scaled peak of 2**21 keeps at least 10**6 units per
    # point of fit (the old fixed scale) while CP-SAT's coefficients stay small
    options: dict[str, Any] = {"limit": 2.0**50, "terms": max(terms, 1), "max_peak": 2.0**21}
    fit_values = fit[allowed]
    if wd is None and fit_values.size <= _SCALE_SAMPLE:
        return _ortools.integer_scale(fit_values, **options).scale
    scaling = _ortools.integer_scale(_scale_sample(fit_values, wd), **options)
    if not scaling.exact or n_proteges > _FULL_SCAN_MAX:
        # a large pool keeps the sample's scale: the search recomputes its objective in
        # floats and the bound carries its own rounding error, so an inexact grid only
        # rounds CP-SAT's sub-models
        return scaling.scale
    parts = [fit_values]
    if wd is not None:
        parts.append(wd[np.triu_indices(n_proteges, 1)])
    return _ortools.integer_scale(np.concatenate(parts), **options).scale


#: Values of the fit and the diversity term :func:`_shared_scale` samples.
_SCALE_SAMPLE = 1 << 16
#: Most protégés for which :func:`_shared_scale` scans every value when the sample is exact.
_FULL_SCAN_MAX = 2000


def _scale_sample(fit_values: np.ndarray, wd: np.ndarray | None) -> np.ndarray:
    """A strided sample of the fit values and ``wd``'s upper triangle, plus their extremes.

    No protégé × protégé temporary is made.
    """
    parts = [fit_values[:: max(1, fit_values.size // _SCALE_SAMPLE)]]
    if fit_values.size:
        parts.append(np.array([fit_values.min(), fit_values.max()]))
    if wd is not None and wd.shape[0] > 1:
        n = wd.shape[0]
        # about _SCALE_SAMPLE values: rows hold n / 2 upper-triangle values on average
        rows = np.arange(0, n - 1, max(1, n * n // (2 * _SCALE_SAMPLE)))
        parts.extend(wd[r, r + 1 :] for r in rows)
        # the extremes of the whole matrix: its zero diagonal changes neither the peak
        # nor any grid, and the upper triangle holds every off-diagonal value
        parts.append(np.array([wd.min(), wd.max()]))
    return np.concatenate(parts)


def _weight_tiers(weights: np.ndarray | None, n: int) -> np.ndarray:
    """Integer priority per protégé: exact for whole-number weights, else 1e-6 relative."""
    if weights is None:
        return np.ones(n, dtype=np.int64)
    if np.all(weights == np.round(weights)) and weights.max(initial=0) <= 1e6:
        return weights.astype(np.int64)
    top = weights.max(initial=0.0)
    if top <= 0:
        return np.zeros(n, dtype=np.int64)
    return np.round(weights / top * 1e6).astype(np.int64)
