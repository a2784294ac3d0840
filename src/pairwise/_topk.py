"""The fused evaluation plan: criteria and rules folded into few operations per block, top-k.

:class:`_Plan` folds every score term and mask term of a model into as few
array operations per block of rows as possible; :func:`dense_matrices` fills
the dense ``scores`` / ``allowed`` matrices block by block and
:func:`top_k_matrix` keeps only the ``k`` best allowed rows of each column,
block by block, so that the dense n² matrix never exists. Used by
:meth:`pairwise.compatibility.CompatibilityModel.score` only.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar, cast

import numpy as np
import scipy.sparse as sp

from ._terms import (
    ForbidPairs,
    LowRank,
    MaskTerm,
    SparseTerm,
    Table,
    TableMask,
    Term,
    index_length,
)

__all__ = [
    "POOLED",
    "candidates_csr",
    "column_blocks",
    "dense_matrices",
    "fill_rows",
    "top_k_layout",
    "top_k_matrix",
    "top_k_range",
    "top_k_range_both",
]

#: A rule table becomes part of the fused product of violation counts when its
#: smaller side has at most this many distinct values (beyond that, looking the
#: table up per pair is cheaper than a product column per value).
_LOWRANK_MASK = 16
#: A criterion table joins the fused score product under the same condition.
_LOWRANK_SCORE = 48
#: Largest table (mentor combinations x mentee combinations) rule tables merge into.
_MAX_MERGED_CELLS = 1 << 22
#: What a caller of :func:`column_blocks` makes of each block.
_R = TypeVar("_R")
#: Elements per block (rows x columns) when ``block_size`` is not given: small
#: enough that the element-wise passes of one block stay in cache.
_BLOCK_ELEMENTS = 1 << 19
#: Elements per block of the top-k pass: fewer, larger products (BLAS runs faster
#: with more rows per call) and less Python work per pair.
_TOP_K_BLOCK_ELEMENTS = 1 << 21
#: At most this many mentees per top-k block (a block repeated for a check is
#: as wide as all mentors).
_TOP_K_MAX_ROWS = 128


# ---------------------------------------------------------------------------
# The fused evaluation plan
# ---------------------------------------------------------------------------


class _Plan:
    """All criteria and rules of a model folded into as few operations per block as possible.

    Low-rank score terms (one-hot / multi-hot encodings and small tables) are
    concatenated into one pair of factors, so the weighted sum of every such
    criterion is a single matrix product; sparse terms are summed into one
    sparse matrix. Rule tables are merged into one table over combined codes
    (one look-up per pair for all of them), or, when that table has very few
    distinct values on one side, into a product counting violations (float32
    is exact for these small integers); forbidden pairs are merged too.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        score_terms: Sequence[tuple[float, Term]],
        mask_terms: Sequence[MaskTerm],
    ) -> None:
        self.shape = shape
        a_parts: list[np.ndarray] = []
        b_parts: list[np.ndarray] = []
        const = 0.0
        sparse: sp.csr_matrix | None = None
        others: list[tuple[float, Term]] = []
        for coef, term in score_terms:
            if coef == 0.0:
                continue
            if isinstance(term, Table) and term.rank <= _LOWRANK_SCORE:
                term = term.to_lowrank()
            if isinstance(term, LowRank):
                a_parts.append(coef * term.a.astype(np.float64, copy=False))
                b_parts.append(term.b.astype(np.float64, copy=False))
                const += coef * term.const
            elif isinstance(term, SparseTerm):
                part = coef * term.matrix
                sparse = part if sparse is None else sparse + part
            else:
                others.append((coef, term))
        self.a = np.hstack(a_parts).astype(np.float32, order="C") if a_parts else None
        self.b = np.hstack(b_parts).astype(np.float32, order="C") if b_parts else None
        self.const = const
        self.sparse = SparseTerm(sparse) if sparse is not None and sparse.nnz else None
        self.others = others

        va: list[np.ndarray] = []
        vb: list[np.ndarray] = []
        forbid: sp.csr_matrix | None = None
        masks: list[MaskTerm] = []
        for mterm in _merge_tables(mask_terms):
            if isinstance(mterm, TableMask) and mterm.table.rank <= _LOWRANK_MASK:
                low = mterm.violations().to_lowrank(np.float32)
                va.append(low.a)
                vb.append(low.b)
            elif isinstance(mterm, ForbidPairs):
                forbid = mterm.matrix if forbid is None else forbid + mterm.matrix
            else:
                masks.append(mterm)
        self.va = np.ascontiguousarray(np.hstack(va)) if va else None
        self.vb = np.ascontiguousarray(np.hstack(vb)) if vb else None
        if forbid is not None and forbid.nnz:
            masks.append(ForbidPairs(forbid))
        self.masks = masks

    def transpose(self) -> _Plan:
        plan = object.__new__(_Plan)
        plan.shape = (self.shape[1], self.shape[0])
        plan.a, plan.b = self.b, self.a
        plan.const = self.const
        plan.sparse = self.sparse.transpose() if self.sparse is not None else None
        plan.others = [(coef, t.transpose()) for coef, t in self.others]
        plan.va, plan.vb = self.vb, self.va
        plan.masks = [m.transpose() for m in self.masks]
        return plan

    def block(
        self,
        rows: slice | np.ndarray,
        scores: np.ndarray,
        allowed: np.ndarray,
        work: np.ndarray,
        cols: _Columns | None = None,
    ) -> None:
        """Fill ``scores`` / ``allowed`` (views of shape (len(rows), n_cols)) for ``rows``.

        ``work`` is a float32 buffer of the same shape: the weighted sum is
        accumulated in single precision (half the memory traffic and twice the
        BLAS speed; ~1e-7 absolute error on scores in [0, 1]) and written to
        ``scores`` clipped to [0, 1] in one pass. ``cols`` restricts the block
        to some columns whose rule tables are already known to allow every
        pair of the block (see :func:`_rule_blocks`): those tables are skipped.
        """
        self._scores(rows, scores, work, cols)
        self._allowed(rows, allowed, cols, self._dense_masks(cols))
        idx: slice | np.ndarray = slice(None) if cols is None else cols.index
        for mterm in self.masks:
            if isinstance(mterm, ForbidPairs):
                mterm.apply(allowed, rows, idx)

    def masked_block(
        self, rows: slice | np.ndarray, scores: np.ndarray, cols: _Columns | None = None
    ) -> None:
        """Fill the float32 ``scores`` of ``rows`` as :meth:`block` does, disallowed pairs at -2.

        The scores are bit for bit those of :meth:`block`. No dense ``allowed``
        matrix is made when only forbidden pairs (few) remain to check, as in
        the blocks of a blocked top-k: those pairs are set to -2 one by one.
        """
        self._scores(rows, scores, scores, cols)
        dense = self._dense_masks(cols)
        if dense or (cols is None and self.va is not None):
            allowed = np.empty(scores.shape, dtype=bool)
            self._allowed(rows, allowed, cols, dense)
            np.logical_not(allowed, out=allowed)
            scores.reshape(-1)[np.flatnonzero(allowed)] = -2.0
        idx: slice | np.ndarray = slice(None) if cols is None else cols.index
        for mterm in self.masks:
            if isinstance(mterm, ForbidPairs):
                r, c = mterm.entries(rows, idx)
                scores[r, c] = -2.0

    def _scores(
        self,
        rows: slice | np.ndarray,
        scores: np.ndarray,
        work: np.ndarray,
        cols: _Columns | None,
    ) -> None:
        idx: slice | np.ndarray = slice(None) if cols is None else cols.index
        b = self.b if cols is None else cols.b
        if self.a is not None and b is not None:
            np.matmul(self.a[rows], b.T, out=work)
        else:
            work.fill(0.0)
        if self.const:
            work += np.float32(self.const)
        if self.sparse is not None:
            self.sparse.add_into(work, rows, idx, 1.0)
        for coef, term in self.others:
            term.add_into(work, rows, idx, coef)
        np.clip(work, 0.0, 1.0, out=scores)

    def _dense_masks(self, cols: _Columns | None) -> list[MaskTerm]:
        """The mask terms a block evaluates as dense matrices (forbidden pairs apart)."""
        return [
            m
            for m in self.masks
            if not isinstance(m, ForbidPairs) and (cols is None or not isinstance(m, TableMask))
        ]

    def _allowed(
        self,
        rows: slice | np.ndarray,
        allowed: np.ndarray,
        cols: _Columns | None,
        dense: Sequence[MaskTerm],
    ) -> None:
        idx: slice | np.ndarray = slice(None) if cols is None else cols.index
        if cols is None and self.va is not None and self.vb is not None:
            violations = np.matmul(self.va[rows], self.vb.T)
            np.less(violations, 0.5, out=allowed)
        else:
            allowed.fill(True)
        for mterm in dense:
            mterm.apply(allowed, rows, idx)


class _Columns:
    """Some columns of a plan, with their score factors gathered once for many blocks."""

    def __init__(self, plan: _Plan, index: np.ndarray) -> None:
        self.index = index
        self.b = np.ascontiguousarray(plan.b[index]) if plan.b is not None else None


def _combine_codes(
    codes: Sequence[np.ndarray], sizes: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the distinct combinations of several code columns: (first row of each, codes)."""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    for c, size in zip(codes, sizes, strict=True):
        key = key * size + c
        # renumber after each column so that the key stays below the number of rows
        _, key = np.unique(key, return_inverse=True)
        key = np.asarray(key, dtype=np.int64).ravel()
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return first, np.asarray(inverse).ravel()


def _merge_tables(terms: Sequence[MaskTerm]) -> list[MaskTerm]:
    """Merge rule tables into one table over combined codes (one look-up per pair for all).

    Levels, sites, hours and language sets come in few combinations, so the
    table of every combination of a mentor with a mentee stays small; a group
    is closed when its table would exceed ``_MAX_MERGED_CELLS``.
    """
    tables = [t for t in terms if isinstance(t, TableMask)]
    rest = [t for t in terms if not isinstance(t, TableMask)]
    if len(tables) < 2:
        return list(terms)
    merged: list[MaskTerm] = []
    group: list[Table] = []

    def close() -> None:
        if len(group) == 1:
            merged.append(TableMask(group[0]))
        elif group:
            lf, lc = _combine_codes([g.left for g in group], [g.table.shape[0] for g in group])
            rf, rc = _combine_codes([g.right for g in group], [g.table.shape[1] for g in group])
            table = np.ones((len(lf), len(rf)), dtype=bool)
            for g in group:
                table &= g.table[g.left[lf]][:, g.right[rf]]
            merged.append(TableMask(Table(lc, rc, table)))
        group.clear()

    for t in tables:
        candidate = [*group, t.table]
        lf, _ = _combine_codes([g.left for g in candidate], [g.table.shape[0] for g in candidate])
        rf, _ = _combine_codes([g.right for g in candidate], [g.table.shape[1] for g in candidate])
        if group and len(lf) * len(rf) > _MAX_MERGED_CELLS:
            close()
        group.append(t.table)
    close()
    return merged + rest


def _auto_block(n_other: int) -> int:
    return max(8, _BLOCK_ELEMENTS // max(n_other, 1))


def _top_k_rows(n_other: int) -> int:
    """Mentees per block of the top-k pass (and of the blocks that repeat it)."""
    return max(8, min(_TOP_K_MAX_ROWS, _TOP_K_BLOCK_ELEMENTS // max(n_other, 1)))


def _top_k_block(
    scores: np.ndarray, allowed: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` best allowed entries of each row: (row, column, score), rows ascending.

    Ties are broken towards the lower column index; ``scores`` (in [0, 1]) is
    overwritten (disallowed entries become -2, then :func:`_top_k_masked`).
    """
    # disallowed entries drop below -1; allowed ones stay exact
    np.putmask(scores, ~allowed, -2.0)
    return _top_k_masked(scores, k)


def _top_k_masked(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` best entries ``>= 0`` of each row: (row, column, score), in row-major order.

    Ties are broken towards the lower column index. Each row is cut into
    ``m >= k`` interleaved chunks (columns ``j, j + m, j + 2m, ...``); the k-th
    largest chunk maximum ``t`` is a lower bound of the k-th largest entry (k
    chunks each hold an entry >= t), so only entries ``>= t`` can be among the
    top k — typically a few more than k. Their exact k-th largest value ``v``
    comes from one sort of those few; the result is every entry above ``v``
    and the first entries equal to ``v`` (in column order) up to k, read in
    row-major order, so no final sort is needed. This avoids ``np.partition``
    on the whole row, which is many times slower on rows full of ties (what
    discrete criteria and masks produce).
    """
    n_rows, n = scores.shape
    if k >= n:
        rows, cols = np.divmod(np.flatnonzero(scores >= 0.0), n)
        return rows, cols, scores[rows, cols]
    m = min(n, 8 * k)
    full, tail = divmod(n, m)
    peaks = scores[:, : full * m].reshape(n_rows, full, m).max(axis=1)
    if tail:
        np.maximum(peaks[:, :tail], scores[:, full * m :], out=peaks[:, :tail])
    cut = np.partition(peaks, m - k, axis=1)[:, m - k]
    np.maximum(cut, 0.0, out=cut)  # fewer than k allowed: keep every allowed entry
    rows, cols = np.divmod(np.flatnonzero(scores >= cut[:, None]), n)
    values = scores[rows, cols]
    # the k-th largest value of each row among its entries >= cut (-1: fewer than k)
    starts = np.searchsorted(rows, np.arange(n_rows + 1))
    over = np.diff(starts) > k
    if not over.any():
        return rows, cols, values
    kth = np.full(n_rows, -1.0, dtype=scores.dtype)
    kth[over] = _sorted_desc_by_row(rows, values)[starts[:-1][over] + k - 1]
    above = values > kth[rows]
    tie = values == kth[rows]
    # ties at the k-th value: the first ones in column order, as many as room is left
    room = k - np.bincount(rows[above], minlength=n_rows)
    seen = np.cumsum(tie)
    seen_before = np.concatenate(([0], seen))[starts[:-1]]
    keep = above | (tie & (seen - seen_before[rows] <= room[rows]))
    return rows[keep], cols[keep], values[keep]


def _sorted_desc_by_row(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` (>= 0, ``rows`` ascending) sorted descending within each row."""
    if values.dtype == np.float32 and len(rows) and rows[-1] < 2**31:
        # one integer sort: row in the high bits, the float's bits (monotonic for
        # non-negative floats) inverted in the low bits
        bits = values.view(np.int32).astype(np.int64)
        key = (rows.astype(np.int64) << 32) | (0x7FFFFFFF - bits)
        key.sort()
        return (0x7FFFFFFF - (key & 0xFFFFFFFF)).astype(np.int32).view(np.float32)
    order = np.lexsort((-values, rows))
    return values[order]


# ---------------------------------------------------------------------------
# Two-sided candidates: each mentor's own best mentees
# ---------------------------------------------------------------------------


def _best_first(group: np.ndarray, score: np.ndarray, member: np.ndarray) -> np.ndarray:
    """The order of entries by (group ascending, score descending, member ascending).

    ``score`` is float32 in [0, 1]. One integer sort when the three fit in 64 bits
    (the float's bits are monotonic for non-negative floats), else a lexsort.
    """
    if len(group) == 0:
        return np.zeros(0, dtype=np.intp)
    member_bits = max(int(member.max()), 1).bit_length()
    group_bits = max(int(group.max()), 1).bit_length()
    if member_bits + group_bits + 30 <= 63:
        inverted = 0x3F800000 - score.view(np.int32).astype(np.int64)
        key = (group.astype(np.int64) << (30 + member_bits)) | (inverted << member_bits)
        key |= member.astype(np.int64)
        return np.argsort(key)
    return np.lexsort((member, -score, group))


def _keep_ranks(group: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """For entries sorted by group: True for the first ``limit[group]`` of each group."""
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=bool)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(group[1:], group[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    rank = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
    return rank < limit[group]


class _RowBest:
    """Each mentor's ``limit`` best mentees seen so far: a running top-k per mentor.

    The order is total (score descending, then mentee ascending), so the final
    lists do not depend on the order in which blocks are merged: the local
    threads, a cluster's ranges and the merge of those ranges all end with the
    same pairs. ``floor`` (per mentor: the score of its ``limit``-th best so
    far, -1 while it has fewer) only ever rises; a block may skip every entry
    below it, read at any moment. Memory: ``n_mentors x max(limit)``.
    """

    def __init__(self, limit: np.ndarray) -> None:
        self.limit = np.asarray(limit, dtype=np.int64)
        width = max(int(self.limit.max()) if len(self.limit) else 0, 1)
        self.mentee = np.full((len(self.limit), width), -1, dtype=np.int64)
        self.score = np.full((len(self.limit), width), -1.0, dtype=np.float32)
        self.floor = np.where(self.limit > 0, -1.0, np.inf).astype(np.float32)

    def block(self, w: np.ndarray, mentees: np.ndarray, mentors: np.ndarray) -> _Part:
        """The entries of a scored block (disallowed < 0) that may enter some mentor's list.

        ``w`` is ``(len(mentees), len(mentors))``; returns at most ``limit`` entries
        per mentor, the block's best by the total order.
        """
        r, c = np.divmod(np.flatnonzero(w >= self.floor[mentors][None, :]), w.shape[1])
        if len(r) == 0:
            return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0, np.float32)
        values = w[r, c]
        order = _best_first(c, values, r)
        r, c, values = r[order], c[order], values[order]
        keep = _keep_ranks(c, self.limit[mentors])
        return mentees[r[keep]], mentors[c[keep]], values[keep]

    def merge(self, part: _Part) -> None:
        """Fold ``(mentee, mentor, score)`` entries into the lists."""
        mentee, mentor, score = part
        if len(mentee) == 0:
            return
        touched = np.unique(mentor)
        held = self.mentee[touched] >= 0
        own = np.repeat(touched, held.sum(axis=1))
        mentor = np.concatenate([own, mentor])
        mentee = np.concatenate([self.mentee[touched][held], mentee])
        score = np.concatenate([self.score[touched][held], score.astype(np.float32)])
        order = _best_first(mentor, score, mentee)
        mentor, mentee, score = mentor[order], mentee[order], score[order]
        keep = _keep_ranks(mentor, self.limit)
        mentor, mentee, score = mentor[keep], mentee[keep], score[keep]
        # duplicates cannot occur: each pair is scored in one block only
        starts = np.searchsorted(mentor, touched)
        slot = np.arange(len(mentor)) - np.repeat(starts, np.diff(np.append(starts, len(mentor))))
        self.mentee[touched] = -1
        self.score[touched] = -1.0
        self.mentee[mentor, slot] = mentee
        self.score[mentor, slot] = score
        full = touched[
            np.bincount(mentor, minlength=len(self.limit))[touched] >= self.limit[touched]
        ]
        self.floor[full] = self.score[full, self.limit[full] - 1]

    def entries(self) -> _Part:
        """The lists as ``(mentee, mentor, score)``, mentors ascending."""
        mentor, slot = np.nonzero(self.mentee >= 0)
        return self.mentee[mentor, slot], mentor, self.score[mentor, slot]


def _row_limits(row_k: int | np.ndarray | None, n_rows: int) -> np.ndarray | None:
    """``row_k`` as one whole number >= 0 per mentor, or None when no mentor keeps any."""
    if row_k is None:
        return None
    limit = np.broadcast_to(np.asarray(row_k, dtype=np.int64), (n_rows,)).copy()
    return limit if limit.any() else None


# ---------------------------------------------------------------------------
# Block-by-block evaluation
# ---------------------------------------------------------------------------


def dense_matrices(plan: _Plan, block_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The dense ``scores`` (float64) and ``allowed`` (bool) matrices, filled by blocks of rows."""
    n_m, n_e = plan.shape
    scores = np.empty((n_m, n_e), dtype=np.float64)
    allowed = np.empty((n_m, n_e), dtype=bool)
    fill_rows(plan, 0, n_m, block_size or _auto_block(n_e), scores, allowed)
    return scores, allowed


def fill_rows(
    plan: _Plan, r0: int, r1: int, step: int, scores: np.ndarray, allowed: np.ndarray
) -> None:
    """Fill ``scores`` / ``allowed`` (shape ``(r1 - r0, n_cols)``) with rows ``r0:r1``.

    Blocks of ``step`` rows start at ``r0``: callers that cut the rows into
    ranges starting at multiples of ``step`` (a cluster's tasks) evaluate the
    very blocks the whole-matrix loop evaluates, so every entry is the same.
    """
    n_e = plan.shape[1]
    work = np.empty((min(step, r1 - r0), n_e), dtype=np.float32)
    for s0 in range(r0, r1, step):
        s1 = min(s0 + step, r1)
        plan.block(
            slice(s0, s1), scores[s0 - r0 : s1 - r0], allowed[s0 - r0 : s1 - r0], work[: s1 - s0]
        )


#: Blocking pays when the rule tables leave at most this share of the pairs to score.
_BLOCKING_SHARE = 0.7
#: Largest table of rule signatures (mentee kinds x mentor kinds) worth building.
_MAX_SIGNATURE_CELLS = 1 << 24
#: Threads that score blocks at once (numpy's matrix products and sorts release the GIL).
_THREADS = 2


def _signature(parts: Sequence[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Kinds of rows with identical rule features: (first row of each kind, kind of each row).

    Kinds are numbered in the lexicographic order of the features (as
    ``np.unique(..., axis=0)`` numbers them), column by column in integer sorts.
    """
    if not parts:
        return np.zeros(1, dtype=np.intp), np.zeros(n, dtype=np.intp)
    return _unique_rows([c for p in parts for c in p.reshape(n, -1).T])


def _unique_rows(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of the matrix whose columns are given: (first row of each, row's number).

    Rows are numbered in lexicographic order; each column is folded into the
    numbers so far by one sort of integers (no comparisons of whole rows).
    """
    n = len(columns[0])
    key = np.zeros(n, dtype=np.int64)
    for column in columns:
        values, code = np.unique(column, return_inverse=True)
        key = key * len(values) + np.asarray(code, dtype=np.int64).ravel()
        # renumber after each column so that the key stays below the number of rows
        _, key = np.unique(key, return_inverse=True)
        key = np.asarray(key, dtype=np.int64).ravel()
    _, first = np.unique(key, return_index=True)
    return first, key.astype(np.intp)


def _rule_blocks(tplan: _Plan) -> _Blocking | None:
    """Blocking on the hard rules: groups of mentees (rows) with the mentors each may meet.

    Rules written as tables over a few values per side (level gap, site,
    working-hours and time-zone windows, languages: everything in the fused
    violation product and the merged rule tables) decide who may meet whom
    by a person's *kind* (the combination of those values). Mentees whose
    kinds allow the same mentors form one group, and only those pairs are
    scored. Returns ``(mentees, mentors)`` index pairs (both ascending), or
    None when the tables exclude too few pairs for blocking to pay.
    """
    tables = [m.table for m in tplan.masks if isinstance(m, TableMask)]
    if tplan.va is None and not tables:
        return None
    n_rows, n_cols = tplan.shape
    row_parts = ([tplan.va] if tplan.va is not None else []) + [t.left for t in tables]
    col_parts = ([tplan.vb] if tplan.vb is not None else []) + [t.right for t in tables]
    row_first, row_kind = _signature(row_parts, n_rows)
    col_first, col_kind = _signature(col_parts, n_cols)
    if len(row_first) * len(col_first) > _MAX_SIGNATURE_CELLS:
        return None
    kinds = np.ones((len(row_first), len(col_first)), dtype=bool)
    if tplan.va is not None and tplan.vb is not None:
        kinds &= np.matmul(tplan.va[row_first], tplan.vb[col_first].T) < 0.5
    for t in tables:
        kinds &= t.block(row_first, col_first)
    first, pattern_of_kind = _unique_rows(list(np.packbits(kinds, axis=1).T))
    patterns = kinds[first]
    pattern = pattern_of_kind[row_kind]
    n_mentees = np.bincount(pattern, minlength=len(patterns))
    n_mentors = patterns.astype(np.int64) @ np.bincount(col_kind, minlength=len(col_first))
    if int(n_mentees @ n_mentors) > _BLOCKING_SHARE * n_rows * n_cols:
        return None
    return _Blocking(patterns, pattern, col_kind)


#: A blocking group whose mentees are scored against every mentor instead (with
#: the rule tables as dense masks) when that adds at most this many pairs plus
#: :data:`_POOL_PER_MENTOR` per mentor of the group: a small group's own block
#: costs more in set-up (its mentors' factors gathered, a task of few rows) than
#: the extra pairs.
_POOL_PAIRS = 1 << 17
_POOL_PER_MENTOR = 12
#: Groups are pooled only with at least this many mentors in all (below it, the
#: set-up of a group is cheap anyway).
_POOL_MIN_MENTORS = 1 << 12
#: The pseudo-group of :func:`top_k_layout` holding the pooled mentees.
POOLED = -2


class _Blocking:
    """Mentee groups of :func:`_rule_blocks`; each group's mentors are listed only when used.

    Iterating yields ``(mentees, mentors)`` (both ascending) per group with at
    least one of each; the mentor lists are made one at a time, so memory stays
    that of one group however many groups there are. Mentees of small groups
    are not in any group but in ``pooled`` (ascending): they are scored against
    every mentor, the rule tables applied as masks.
    """

    def __init__(self, patterns: np.ndarray, pattern: np.ndarray, col_kind: np.ndarray) -> None:
        self.patterns, self.col_kind = patterns, col_kind
        self.row_order = np.argsort(pattern, kind="stable")
        self.bounds = np.searchsorted(pattern[self.row_order], np.arange(len(patterns) + 1))
        n_cols = len(col_kind)
        self.n_mentors = patterns.astype(np.int64) @ np.bincount(
            col_kind, minlength=patterns.shape[1]
        )
        n_in = np.diff(self.bounds)
        self.small = (
            (n_cols >= _POOL_MIN_MENTORS)
            & (n_in > 0)
            & (self.n_mentors > 0)
            & (n_in * (n_cols - self.n_mentors) <= _POOL_PAIRS + _POOL_PER_MENTOR * self.n_mentors)
        )
        self.pooled = np.sort(
            np.concatenate(
                [np.zeros(0, dtype=np.intp)]
                + [
                    self.row_order[self.bounds[p] : self.bounds[p + 1]]
                    for p in np.flatnonzero(self.small)
                ]
            )
        )

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for p, _, _ in self.sizes():
            yield self.group(p)

    def group(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Group ``p``'s mentees and the mentors they may meet (both ascending)."""
        mentees = self.row_order[self.bounds[p] : self.bounds[p + 1]]
        return mentees, np.flatnonzero(self.patterns[p][self.col_kind])

    def sizes(self) -> list[tuple[int, int, int]]:
        """``(group, number of mentees, number of mentors)`` of every group with both.

        Pooled groups (see ``pooled``) are not listed.
        """
        return [
            (p, int(self.bounds[p + 1] - self.bounds[p]), int(self.n_mentors[p]))
            for p in range(len(self.patterns))
            if self.bounds[p + 1] > self.bounds[p] and self.n_mentors[p] > 0 and not self.small[p]
        ]


def _blas_one_thread() -> contextlib.AbstractContextManager[object]:
    """BLAS limited to one thread while blocks are scored by our own threads.

    Two BLAS threads on top of two scoring threads oversubscribe the cores, and
    a multi-threaded BLAS may round a product differently from a single-threaded
    one: with one thread the candidates do not depend on the machine's BLAS set-up.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _tasks(
    tplan: _Plan, groups: _Blocking | None, step: int | None
) -> Iterator[tuple[slice | np.ndarray, _Columns | None]]:
    """Blocks of mentees to score: ranges of all mentees, or chunks of each blocking group."""
    n_e, n_m = tplan.shape
    if groups is None:
        size = step or _top_k_rows(n_m)
        for c0 in range(0, n_e, size):
            yield slice(c0, min(c0 + size, n_e)), None
        return
    for mentees, mentors in groups:
        cols = _Columns(tplan, mentors)
        size = step or _top_k_rows(len(mentors))
        for c0 in range(0, len(mentees), size):
            yield mentees[c0 : c0 + size], cols
    size = step or _top_k_rows(n_m)
    for c0 in range(0, len(groups.pooled), size):
        yield groups.pooled[c0 : c0 + size], None


_Task = tuple[slice | np.ndarray, "_Columns | None"]
_Part = tuple[np.ndarray, np.ndarray, np.ndarray]
_Scored = tuple[_Part, "_Part | None"]


def _score_task(
    tplan: _Plan,
    k: int,
    rows: slice | np.ndarray,
    cols: _Columns | None,
    best: _RowBest | None = None,
) -> _Scored:
    """The top k of one block: (mentee, mentor, score) in global indices.

    With ``best``, also the block's entries that may enter a mentor's own list
    (see :class:`_RowBest`), else None.
    """
    n_rows = index_length(rows, tplan.shape[0])
    n_cols = tplan.shape[1] if cols is None else len(cols.index)
    # the float32 buffer is both the work and the scores: the top k is taken in
    # single precision, where the scores were summed (returned as float64, exactly)
    w = np.empty((n_rows, n_cols), dtype=np.float32)
    tplan.masked_block(rows, w, cols)
    local, mentor, values = _top_k_masked(w, k)
    mentees = np.arange(rows.start, rows.stop) if isinstance(rows, slice) else rows
    mentors = np.arange(n_cols) if cols is None else cols.index
    extra = None if best is None else best.block(w, mentees, mentors)
    return (mentees[local], mentors[mentor], values), extra


def _in_order(
    fn: Callable[[_Task], _Scored], tasks: Iterator[_Task], threads: int
) -> Iterator[_Scored]:
    """``map(fn, tasks)`` on ``threads`` threads, results in task order, few tasks in flight.

    ``Executor.map`` would submit every task at once (and hold every block's
    inputs); here at most ``2 * threads`` are pending, so memory stays bounded.
    """
    if threads <= 1:
        yield from map(fn, tasks)
        return
    with ThreadPoolExecutor(threads) as pool:
        pending: collections.deque[Future[_Scored]] = collections.deque()
        for task in tasks:
            pending.append(pool.submit(fn, task))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def top_k_matrix(
    plan: _Plan, k: int, block_size: int | None, row_k: int | np.ndarray | None = None
) -> sp.csr_matrix:
    """The ``k`` best allowed rows of each column as a CSR matrix, built by blocks of columns.

    Mentees are first grouped by the hard rules (:func:`_rule_blocks`), so that
    only allowed pairs are scored; blocks are scored on :data:`_THREADS`
    threads, each result in a fixed place (the answer does not depend on the
    threads' timing). Memory is ``O(threads * block + k * n_columns)``: the
    dense matrix never exists. Ties are broken towards the lower mentor index.
    With ``row_k`` (per mentor or one number), each mentor's ``row_k`` best
    allowed mentees are kept too, in the same pass (ties towards the lower
    mentee index; memory ``O(n_rows * max(row_k))``).
    """

    tplan = plan.transpose()  # rows of the transposed plan are mentees
    limits = _row_limits(row_k, plan.shape[0])
    best = None if limits is None else _RowBest(limits)
    tasks = _tasks(tplan, _rule_blocks(tplan), block_size)
    parts = []
    with _blas_one_thread():
        for part, extra in _in_order(lambda t: _score_task(tplan, k, *t, best), tasks, _THREADS):
            parts.append(part)
            if best is not None and extra is not None:
                best.merge(extra)
    return candidates_csr(plan.shape, parts, None if best is None else best.entries())


def candidates_csr(
    shape: tuple[int, int], parts: Sequence[_Part], extra: _Part | None = None
) -> sp.csr_matrix:
    """The CSR matrix (mentors x mentees) of scored parts ``(mentee, mentor, score)``.

    Each mentee's entries come from one part, mentors ascending (what the
    blocks give): they are moved to their place in one pass, without a sort.
    ``extra`` pairs (the mentors' own best mentees) join them; a pair already
    there is kept once (both carry the same score, from the same block).
    """
    n_m, n_e = shape
    mentee = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.intp)
    mentor = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.intp)
    values = np.concatenate([p[2] for p in parts]).astype(np.float64) if parts else np.zeros(0)
    if extra is not None and len(extra[0]):
        key = mentee.astype(np.int64) * n_m + mentor
        extra_key = extra[0].astype(np.int64) * n_m + extra[1]
        new = ~np.isin(extra_key, key)
        mentee = np.concatenate([mentee, extra[0][new]])
        mentor = np.concatenate([mentor, extra[1][new]])
        values = np.concatenate([values, extra[2][new].astype(np.float64)])
    counts = np.bincount(mentee, minlength=n_e)
    indptr = np.zeros(n_e + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    order = _by_mentee(mentee, mentor, indptr)
    indices = mentor[order].astype(np.int32 if n_m < 2**31 else np.int64)
    csc = sp.csc_matrix((values[order], indices, indptr), shape=(n_m, n_e))
    # csc -> csr moves entries without dropping explicit zeros (candidates scoring 0)
    return csc.tocsr()


def _by_mentee(mentee: np.ndarray, mentor: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """The order of the entries by (mentee, mentor); one pass when each mentee is one run."""
    n = len(mentee)
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    new_run = np.empty(n, dtype=bool)
    new_run[0] = True
    np.not_equal(mentee[1:], mentee[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    runs_are_mentees = len(starts) == int(np.count_nonzero(np.diff(indptr)))
    if not (runs_are_mentees and bool(np.all((mentor[1:] > mentor[:-1]) | new_run[1:]))):
        return np.lexsort((mentor, mentee))
    lengths = np.diff(np.append(starts, n))
    dest = np.arange(n) + np.repeat(indptr[mentee[starts]] - starts, lengths)
    order = np.empty(n, dtype=np.intp)
    order[dest] = np.arange(n)
    return order


def top_k_layout(
    tplan: _Plan, block_size: int | None
) -> tuple[_Blocking | None, list[tuple[int, int, int, int]]]:
    """How :func:`top_k_matrix` cuts the work: the blocking and ``(group, n, chunk)`` rows.

    Each row is ``(group, first, stop, chunk)``: mentees ``first:stop`` of a
    blocking group (group -1: of all mentees; :data:`POOLED`: of the pooled
    mentees, against every mentor) are scored in chunks of ``chunk``
    mentees starting at ``first``. A cluster that cuts these ranges at
    multiples of ``chunk`` scores the very blocks the local loop scores.
    """
    n_e, n_m = tplan.shape
    blocking = _rule_blocks(tplan)
    if blocking is None:
        return None, [(-1, 0, n_e, block_size or _top_k_rows(n_m))]
    layout = [
        (p, 0, n_in, block_size or _top_k_rows(n_mentors))
        for p, n_in, n_mentors in blocking.sizes()
    ]
    if len(blocking.pooled):
        layout.append((POOLED, 0, len(blocking.pooled), block_size or _top_k_rows(n_m)))
    return blocking, layout


def top_k_range(
    tplan: _Plan,
    blocking: _Blocking | None,
    group: int,
    first: int,
    stop: int,
    chunk: int,
    k: int,
) -> _Part:
    """The top k of mentees ``first:stop`` of a group (see :func:`top_k_layout`), in chunks."""
    return _range_parts(tplan, blocking, group, first, stop, chunk, k, None)[0]


def top_k_range_both(
    tplan: _Plan,
    blocking: _Blocking | None,
    group: int,
    first: int,
    stop: int,
    chunk: int,
    k: int,
    row_k: int | np.ndarray,
) -> tuple[_Part, _Part]:
    """:func:`top_k_range` and each mentor's ``row_k`` best mentees within the range.

    Merging the second parts of every range (:class:`_RowBest`) gives each
    mentor's best mentees overall, exactly as :func:`top_k_matrix` keeps them.
    """
    part, best = _range_parts(tplan, blocking, group, first, stop, chunk, k, row_k)
    assert best is not None
    return part, best


def _range_parts(
    tplan: _Plan,
    blocking: _Blocking | None,
    group: int,
    first: int,
    stop: int,
    chunk: int,
    k: int,
    row_k: int | np.ndarray | None,
) -> tuple[_Part, _Part | None]:
    pooled = group == POOLED and blocking is not None
    if pooled and blocking is not None:
        rows = blocking.pooled[first:stop]
        cols = None
    elif group < 0 or blocking is None:
        rows = np.arange(first, stop)
        cols = None
    else:
        mentees, mentors = blocking.group(group)
        rows = mentees[first:stop]
        cols = _Columns(tplan, mentors)
    limits = None if row_k is None else np.broadcast_to(np.asarray(row_k), (tplan.shape[1],))
    best = None if limits is None else _RowBest(limits)
    parts = []
    with _blas_one_thread():  # as the local threads do: the same rounding everywhere
        for c0 in range(0, len(rows), chunk):
            block = rows[c0 : c0 + chunk]
            sub = (
                slice(int(block[0]), int(block[-1]) + 1) if cols is None and not pooled else block
            )
            part, extra = _score_task(tplan, k, sub, cols, best)
            parts.append(part)
            if best is not None and extra is not None:
                best.merge(extra)
    own = None if best is None else best.entries()
    if not parts:
        return (np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0, np.float32)), own
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    ), own


def column_blocks(
    plan: _Plan,
    block_size: int | None,
    needed: np.ndarray | None = None,
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], _R] | None = None,
) -> Iterator[_R]:
    """Every allowed pair's score, by the blocks :func:`top_k_matrix` scores.

    Each block is ``(mentees, mentors, scores, allowed)``: ``mentees`` and
    ``mentors`` index arrays (the mentors are those the block's blocking group
    allows, :func:`_rule_blocks`; all mentors without blocking) and
    ``scores`` (float32) / ``allowed`` of shape ``(len(mentees), len(mentors))``.
    The blocks, chunks and arithmetic are those of the top-k build, so a
    pair's float32 score is bit for bit the score it kept; pairs outside a
    block are excluded by a rule table and never scored. Blocks are scored on
    :data:`_THREADS` threads (BLAS one thread) and yielded in a fixed order;
    ``fn`` (default: the block itself) runs on the scoring thread, so that
    only its result is held. Memory is ``O(threads * block_size * width)``.
    With ``needed`` (bool per mentee), blocks without a needed mentee are
    skipped (not scored).
    """
    tplan = plan.transpose()
    tasks = _tasks(tplan, _rule_blocks(tplan), block_size)

    def index_of(rows: slice | np.ndarray) -> np.ndarray:
        return np.arange(rows.start, rows.stop) if isinstance(rows, slice) else rows

    if needed is not None:
        tasks = (t for t in tasks if needed[index_of(t[0])].any())
    everyone = np.arange(plan.shape[0])

    def score(task: _Task) -> Any:
        rows, cols = task
        n_rows = index_length(rows, tplan.shape[0])
        width = tplan.shape[1] if cols is None else len(cols.index)
        w = np.empty((n_rows, width), dtype=np.float32)
        a = np.empty((n_rows, width), dtype=bool)
        if cols is None:
            tplan.block(rows, w, a, w)
        else:
            tplan.block(rows, w, a, w, cols)
        mentors = everyone if cols is None else cols.index
        if fn is None:
            return index_of(rows), mentors, w, a
        return fn(index_of(rows), mentors, w, a)

    with _blas_one_thread():
        for part in _in_order(score, tasks, _THREADS):
            yield cast(_R, part)
