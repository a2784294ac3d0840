"""Every solver-input constraint, declared once: each public solver validates through here.

The checks return normalised values (a float, an int, an int64 array, a
validated score problem) so that the solver bodies stay short, and they raise
:class:`~pairwise.errors.InputError` with one wording per constraint:
"`name` must be …; got … (where). Fix: …". ``where`` names the calling
function, e.g. ``"one_to_one"``.

The table :data:`COMMON` lists, for the options every public solver shares,
one bad value and the start of the message it must produce; the test suite
runs it against every public solver.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from pairwise.errors import InputError

__all__ = [
    "COMMON",
    "RankTable",
    "ScoreProblem",
    "check_choice",
    "check_max_iterations",
    "check_per_row",
    "check_priority",
    "check_ranks",
    "check_scores",
    "check_seed",
    "check_time_limit",
    "check_weights",
    "fmt_shape",
]

#: Shared options: ``name -> [(bad value, start of the message), ...]``.
COMMON: dict[str, list[tuple[Any, str]]] = {
    "time_limit": [
        (0, "`time_limit` must be a positive number of seconds or None; got 0"),
        (-1.0, "`time_limit` must be a positive number of seconds or None; got -1.0"),
        ("fast", "`time_limit` must be a positive number of seconds or None; got 'fast'"),
        (True, "`time_limit` must be a positive number of seconds or None; got True"),
        (math.inf, "`time_limit` must be a positive number of seconds or None; got inf"),
    ],
    "seed": [
        (1.5, "`seed` must be an integer; got 1.5"),
        (True, "`seed` must be an integer; got True"),
        ("0", "`seed` must be an integer; got '0'"),
    ],
}


def fmt_shape(shape: Sequence[int]) -> str:
    """``(2, 3)`` for any shape-like sequence (numpy ints included)."""
    return str(tuple(int(s) for s in shape))


def check_choice(value: Any, name: str, valid: Sequence[str], where: str, fix: str) -> str:
    """``value`` if it is one of ``valid``; otherwise an error listing them."""
    if not isinstance(value, str) or value not in valid:
        listed = ", ".join(repr(v) for v in valid)
        raise InputError(f"`{name}` must be one of {listed}; got {value!r} ({where}). Fix: {fix}")
    return value


def check_time_limit(time_limit: Any, where: str) -> float | None:
    """A positive, finite number of seconds, or None (no limit)."""
    if time_limit is None:
        return None
    ok = isinstance(time_limit, numbers.Real) and not isinstance(time_limit, bool | np.bool_)
    if not ok or not math.isfinite(float(time_limit)) or float(time_limit) <= 0:
        raise InputError(
            f"`time_limit` must be a positive number of seconds or None; got {time_limit!r} "
            f"({where}). Fix: pass e.g. time_limit=10, or None for no limit."
        )
    return float(time_limit)


def check_seed(seed: Any, where: str) -> int:
    """An integer seed (numpy integers accepted; bools and floats refused)."""
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, numbers.Integral):
        raise InputError(
            f"`seed` must be an integer; got {seed!r} ({where}). Fix: pass e.g. seed=0."
        )
    return int(seed)


def check_max_iterations(value: Any, where: str, *, minimum: int = 0) -> int | None:
    """A whole number of iterations ``>= minimum``, or None (no iteration budget)."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        ok = False
    else:
        ok = int(value) >= minimum
    if not ok:
        kind = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise InputError(
            f"`max_iterations` must be {kind} or None; got {value!r} ({where}). "
            f"Fix: pass e.g. max_iterations=10000, or None for no iteration budget."
        )
    return int(value)


def check_per_row(
    value: Any, n: int, name: str, where: str, *, unit: str = "mentor", minimum: int = 0
) -> np.ndarray:
    """An int, or one int per row (``unit``: mentor, leader, group), as an int64 array.

    Every value must be a whole number ``>= minimum``.
    """
    arr = np.asarray(value)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise InputError(
            f"`{name}` must be an integer or one integer per {unit}; got dtype {arr.dtype} "
            f"({where}). Fix: pass e.g. {name}={max(minimum, 2)} or an integer array of "
            f"length {n}."
        )
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(
            f"`{name}` must be an integer or one integer per {unit} ({n}); got shape "
            f"{fmt_shape(arr.shape)} ({where}). Fix: pass a single integer or an array with "
            f"one entry per {unit}."
        )
    whole = np.isfinite(arr) & (arr == np.round(arr))
    if not whole.all():
        j = int(np.flatnonzero(~whole)[0])
        raise InputError(
            f"`{name}` must hold whole numbers; got {arr[j].item()!r} for {unit} {j} ({where}). "
            f"Fix: round the values, e.g. np.floor({name}).astype(int)."
        )
    if np.any(arr < minimum):
        j = int(np.flatnonzero(arr < minimum)[0])
        bound = "non-negative" if minimum == 0 else f">= {minimum}"
        fix = (
            f"use 0 for a {unit} who takes no one"
            if minimum == 0
            else f"use values of at least {minimum}"
        )
        raise InputError(
            f"`{name}` must be {bound}; got {int(arr[j])} for {unit} {j} ({where}). Fix: {fix}."
        )
    return arr.astype(np.int64)


def _per_mentee_numbers(
    values: Any, n_cols: int, name: str, where: str, *, shape_fix: str, number_fix: str
) -> np.ndarray:
    """One positive, finite number per mentee (column), as float64."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n_cols:
        raise InputError(
            f"`{name}` must have one entry per mentee ({n_cols}); got shape "
            f"{fmt_shape(arr.shape)} ({where}). Fix: pass a 1-D array aligned with the columns "
            f"of `scores`{shape_fix}."
        )
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise InputError(
            f"`{name}` must be numbers; got dtype {arr.dtype} ({where}). Fix: {number_fix}."
        )
    out = arr.astype(np.float64)
    bad = ~np.isfinite(out) | (out <= 0)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"`{name}` must be positive and finite; got {out[j].item()!r} for mentee {j} "
            f"({where}). Fix: use 1 for ordinary mentees and a larger value (e.g. 2) for "
            f"priority mentees."
        )
    return out


def check_weights(weights: Any, n_cols: int, where: str) -> np.ndarray | None:
    """One positive, finite weight (score multiplier) per mentee (column), or None."""
    if weights is None:
        return None
    return _per_mentee_numbers(
        weights,
        n_cols,
        "weights",
        where,
        shape_fix="",
        number_fix="pass e.g. np.ones(n_mentees) with 2.0 for priority mentees",
    )


def check_priority(priority: Any, n_cols: int, where: str) -> np.ndarray | None:
    """One positive, finite priority per mentee (column), or None.

    Only the order of the values matters (higher is placed first); None when
    every mentee has the same priority, as then priority changes nothing.
    """
    if priority is None:
        return None
    p = _per_mentee_numbers(
        priority,
        n_cols,
        "priority",
        where,
        shape_fix=" (in a programme: one value per mentee in the priority column)",
        number_fix="pass 1 for ordinary mentees and 2 for priority mentees",
    )
    return None if p.size == 0 or np.all(p == p[0]) else p


@dataclass(frozen=True)
class ScoreProblem:
    """Validated scores: either a dense matrix (+ mask) or candidate arcs."""

    shape: tuple[int, int]
    dense: np.ndarray | None  # float64 scores (read-only view or copy)
    mask: np.ndarray | None  # bool, None when every pair is allowed
    arc_rows: np.ndarray | None  # sparse form: candidate arcs
    arc_cols: np.ndarray | None
    arc_scores: np.ndarray | None

    @property
    def is_sparse(self) -> bool:
        return self.dense is None

    def arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Allowed arcs ``(rows, cols, scores)`` in row-major order."""
        if self.dense is None:
            assert self.arc_rows is not None and self.arc_cols is not None
            assert self.arc_scores is not None
            return self.arc_rows, self.arc_cols, self.arc_scores
        if self.mask is None:
            n, m = self.shape
            rows = np.repeat(np.arange(n, dtype=np.int64), m)
            cols = np.tile(np.arange(m, dtype=np.int64), n)
            return rows, cols, self.dense.ravel()
        rows, cols = np.nonzero(self.mask)
        return rows.astype(np.int64), cols.astype(np.int64), self.dense[rows, cols]


def _check_sparse_scores(scores: Any, allowed: Any, where: str) -> ScoreProblem:
    if allowed is not None:
        raise InputError(
            f"`allowed` must be None when `scores` is a sparse matrix (its stored entries "
            f"are the candidate pairs); got a mask ({where}). Fix: leave out the pairs "
            f"you want to forbid from the sparse matrix, or pass scores.toarray() with "
            f"the mask."
        )
    if scores.ndim != 2:
        raise InputError(
            f"`scores` must be a 2-D matrix (mentors × mentees); got {scores.ndim} "
            f"dimensions ({where}). Fix: pass one row per mentor, one column per mentee."
        )
    if not (np.issubdtype(scores.dtype, np.number) or scores.dtype == bool) or (
        np.issubdtype(scores.dtype, np.complexfloating)
    ):
        raise InputError(
            f"`scores` must hold real numbers; got dtype {scores.dtype} ({where}). "
            f"Fix: convert with scores.astype(float)."
        )
    csr = scores.tocsr()  # a new object unless it already is CSR; never written to
    n_rows, n_cols = (int(x) for x in csr.shape)
    indptr = np.asarray(csr.indptr, dtype=np.int64)
    cols = np.asarray(csr.indices, dtype=np.int64)
    # Canonical = column indices strictly increasing within each row.
    increasing = cols[1:] > cols[:-1]
    increasing[indptr[1:-1][(indptr[1:-1] > 0) & (indptr[1:-1] < cols.size)] - 1] = True
    if not increasing.all():
        csr = csr.copy()
        csr.sum_duplicates()
        indptr = np.asarray(csr.indptr, dtype=np.int64)
        cols = np.asarray(csr.indices, dtype=np.int64)
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(indptr))
    data = np.asarray(csr.data, dtype=np.float64)
    with np.errstate(all="ignore"):
        clean = bool(np.isfinite(data.sum()))
    if not clean:
        bad = ~np.isfinite(data)
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"`scores` must be finite for every stored (candidate) pair; got "
            f"{int(bad.sum())} NaN/inf entries, first at ({int(rows[first])}, "
            f"{int(cols[first])}) ({where}). Fix: remove those entries from the sparse "
            f"matrix or give them a score."
        )
    return ScoreProblem((n_rows, n_cols), None, None, rows, cols, data)


def check_scores(scores: Any, allowed: Any, where: str) -> ScoreProblem:
    """Validate ``scores`` / ``allowed`` (dense or sparse) without copying more than needed."""
    if sp.issparse(scores):
        return _check_sparse_scores(scores, allowed, where)
    try:
        arr = np.asarray(scores)
    except Exception as exc:  # ragged lists and the like
        raise InputError(
            f"`scores` must be a 2-D numeric matrix; could not read it as an array ({exc}) "
            f"({where}). Fix: pass a numpy array of shape (mentors, mentees)."
        ) from exc
    if arr.ndim != 2:
        raise InputError(
            f"`scores` must be a 2-D matrix (mentors × mentees); got shape "
            f"{fmt_shape(arr.shape)} ({where}). Fix: pass one row per mentor and one column "
            f"per mentee (use .reshape(1, -1) for a single mentor)."
        )
    if arr.dtype != bool and (
        not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating)
    ):
        raise InputError(
            f"`scores` must hold real numbers; got dtype {arr.dtype} ({where}). "
            f"Fix: convert with np.asarray(scores, dtype=float)."
        )
    dense = arr.astype(np.float64, copy=False)
    mask: np.ndarray | None = None
    if allowed is not None:
        mask_arr = np.asarray(allowed)
        if mask_arr.shape != dense.shape:
            raise InputError(
                f"`allowed` must have the same shape as `scores` {fmt_shape(dense.shape)}; "
                f"got {fmt_shape(mask_arr.shape)} ({where}). Fix: build the mask from the "
                f"same mentor and mentee lists as the scores."
            )
        if mask_arr.dtype != bool:
            raise InputError(
                f"`allowed` must be a boolean mask; got dtype {mask_arr.dtype} ({where}). "
                f"Fix: pass np.asarray(allowed, dtype=bool)."
            )
        mask = None if mask_arr.all() else mask_arr
    # One summation pass settles the common case (no NaN/inf anywhere).
    with np.errstate(all="ignore"):
        clean = bool(np.isfinite(dense.sum()))
    bad = None if clean else ~np.isfinite(dense)
    if bad is not None and mask is not None:
        bad &= mask
    if bad is not None and bad.any():
        i, j = (int(x) for x in np.argwhere(bad)[0])
        raise InputError(
            f"`scores` must be finite wherever a pair is allowed; got {int(bad.sum())} NaN/inf "
            f"entries, first at ({i}, {j}) ({where}). Fix: set allowed[i, j] = False for "
            f"pairs without a score, or replace the NaN/inf values."
        )
    return ScoreProblem(dense.shape, dense, mask, None, None, None)


@dataclass(frozen=True)
class RankTable:
    """Validated ranks (1 = first choice, lower = better), dense or as sorted pair keys."""

    shape: tuple[int, int]
    dense: np.ndarray | None  # float64, inf where unranked
    keys: np.ndarray | None  # sparse form: row * n_cols + col, sorted
    values: np.ndarray | None

    def at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The ranks of the pairs ``(rows[k], cols[k])``; ``inf`` where unranked."""
        if self.dense is not None:
            return self.dense[rows, cols]
        assert self.keys is not None and self.values is not None
        out = np.full(len(rows), np.inf)
        if self.keys.size == 0 or len(rows) == 0:
            return out
        wanted = np.asarray(rows, np.int64) * self.shape[1] + np.asarray(cols, np.int64)
        pos = np.minimum(np.searchsorted(self.keys, wanted), self.keys.size - 1)
        hit = self.keys[pos] == wanted
        out[hit] = self.values[pos[hit]]
        return out


def check_ranks(ranks: Any, shape: tuple[int, int], name: str, where: str) -> RankTable | None:
    """Ranks per (mentor, mentee) pair: positive numbers, lower = better; 0 / NaN = unranked.

    Dense (an array of ``shape``) or a scipy.sparse matrix of ``shape`` whose
    stored positive entries are the ranks (absent entries are unranked).
    None when ``ranks`` is None or ranks nothing.
    """
    if ranks is None:
        return None
    fix = (
        f"pass an array of shape {fmt_shape(shape)} (mentors × mentees) holding 1 for a "
        "first choice, 2 for a second, ... and 0 where a pair is not ranked."
    )
    if sp.issparse(ranks):
        coo = sp.coo_matrix(ranks)
        arr_shape, values = coo.shape, coo.data
    else:
        try:
            dense_in = np.asarray(ranks)
        except Exception as exc:  # ragged lists and the like
            raise InputError(
                f"`{name}` must be a numeric matrix; could not read it as an array ({exc}) "
                f"({where}). Fix: {fix}"
            ) from exc
        arr_shape, values = dense_in.shape, dense_in
    if tuple(arr_shape) != tuple(shape):
        raise InputError(
            f"`{name}` must have the shape of `scores` {fmt_shape(shape)}; got "
            f"{fmt_shape(arr_shape)} ({where}). Fix: {fix}"
        )
    dtype = values.dtype
    if (
        dtype.kind == "b"
        or not np.issubdtype(dtype, np.number)
        or np.issubdtype(dtype, np.complexfloating)
    ):
        raise InputError(f"`{name}` must hold numbers; got dtype {dtype} ({where}). Fix: {fix}")
    vals = np.asarray(values, dtype=np.float64)
    bad = np.isinf(vals) | (vals < 0)
    if bad.any():
        first = vals[bad].ravel()[0].item()
        raise InputError(
            f"`{name}` must be positive ranks or 0 (unranked); got {first!r} in "
            f"{int(bad.sum())} entries ({where}). Fix: {fix}"
        )
    unranked = np.isnan(vals) | (vals == 0)
    if unranked.all():
        return None
    if not sp.issparse(ranks):
        return RankTable(shape, np.where(unranked, np.inf, vals), None, None)
    keep = ~unranked
    keys = coo.row[keep].astype(np.int64) * shape[1] + coo.col[keep].astype(np.int64)
    vals = vals[keep]
    order = np.argsort(keys, kind="stable")
    keys, vals = keys[order], vals[order]
    dup = np.flatnonzero(keys[1:] == keys[:-1])
    if dup.size:
        k = int(keys[dup[0]])
        raise InputError(
            f"`{name}` must rank each pair once; got pair ({k // shape[1]}, {k % shape[1]}) "
            f"twice ({where}). Fix: call .sum_duplicates() or build the matrix without "
            "repeated entries."
        )
    return RankTable(shape, None, keys, vals)
