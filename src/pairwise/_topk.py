"""The fused evaluation plan: criteria and rules folded into few operations per block, top-k.

:class:`_Plan` folds every score term and mask term of a model into as few
array operations per block of rows as possible; :func:`dense_matrices` fills
the dense ``scores`` / ``allowed`` matrices block by block and
:func:`top_k_matrix` keeps only the ``k`` best allowed rows of each column,
block by block, so that the dense n² matrix never exists. Used by
:meth:`pairwise.compatibility.CompatibilityModel.score`, and by
:mod:`pairwise._dask`, whose tasks run :func:`fill_rows` / :func:`top_k_columns`
on ranges of the same blocks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ._terms import ForbidPairs, LowRank, MaskTerm, SparseTerm, Table, TableMask, Term

__all__ = [
    "candidates_csr",
    "dense_matrices",
    "fill_rows",
    "top_k_columns",
    "top_k_matrix",
]

#: A rule table becomes part of the fused product of violation counts when its
#: smaller side has at most this many distinct values (beyond that, looking the
#: table up per pair is cheaper than a product column per value).
_LOWRANK_MASK = 16
#: A criterion table joins the fused score product under the same condition.
_LOWRANK_SCORE = 48
#: Largest table (mentor combinations x mentee combinations) rule tables merge into.
_MAX_MERGED_CELLS = 1 << 22
#: Elements per block (rows x columns) when ``block_size`` is not given: small
#: enough that the element-wise passes of one block stay in cache.
_BLOCK_ELEMENTS = 1 << 19


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
        self, rows: slice, scores: np.ndarray, allowed: np.ndarray, work: np.ndarray
    ) -> None:
        """Fill ``scores`` / ``allowed`` (views of shape (len(rows), n_cols)) for ``rows``.

        ``work`` is a float32 buffer of the same shape: the weighted sum is
        accumulated in single precision (half the memory traffic and twice the
        BLAS speed; ~1e-7 absolute error on scores in [0, 1]) and written to
        ``scores`` clipped to [0, 1] in one pass.
        """
        cols = slice(None)
        if self.a is not None and self.b is not None:
            np.matmul(self.a[rows], self.b.T, out=work)
        else:
            work.fill(0.0)
        if self.const:
            work += np.float32(self.const)
        if self.sparse is not None:
            self.sparse.add_into(work, rows, cols, 1.0)
        for coef, term in self.others:
            term.add_into(work, rows, cols, coef)
        np.clip(work, 0.0, 1.0, out=scores)
        if self.va is not None and self.vb is not None:
            violations = np.matmul(self.va[rows], self.vb.T)
            np.less(violations, 0.5, out=allowed)
        else:
            allowed.fill(True)
        for mterm in self.masks:
            mterm.apply(allowed, rows, cols)


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


def _top_k_block(
    scores: np.ndarray, allowed: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` best allowed entries of each row: (row, column, score), rows ascending.

    Ties are broken towards the lower column index; ``scores`` (in [0, 1]) is
    overwritten. Each row is cut into ``m >= k`` interleaved chunks (columns
    ``j, j + m, j + 2m, ...``); the k-th largest chunk maximum ``t`` is a lower
    bound of the k-th largest entry (k chunks each hold an entry >= t), so
    only chunks whose maximum reaches ``t`` can hold the top k — typically
    about k of them. An exact sort of their entries >= t picks the final k.
    This avoids ``np.partition`` on the whole row, which is many times slower
    on rows full of ties (what discrete criteria and masks produce).
    """
    n_rows, n = scores.shape
    # disallowed entries drop below -1; allowed ones stay exact (x - 0.0 == x)
    blocked = ~allowed
    scores -= blocked
    scores -= blocked
    if k >= n:
        rows, cols = np.nonzero(scores >= 0.0)
        return rows, cols, scores[rows, cols]
    m = min(n, 8 * k)
    full, tail = divmod(n, m)
    peaks = scores[:, :m].copy()
    for t in range(1, full):
        np.maximum(peaks, scores[:, t * m : (t + 1) * m], out=peaks)
    if tail:
        np.maximum(peaks[:, :tail], scores[:, full * m :], out=peaks[:, :tail])
    cut = np.sort(peaks, axis=1)[:, m - k]
    np.maximum(cut, 0.0, out=cut)  # fewer than k allowed: keep every allowed entry
    chunk_row, chunk = np.nonzero(peaks >= cut[:, None])
    cols = chunk[:, None] + m * np.arange(full + (1 if tail else 0), dtype=np.intp)[None, :]
    inside = cols < n
    rows = np.broadcast_to(chunk_row[:, None], cols.shape)[inside]
    cols = cols[inside]
    values = scores[rows, cols]
    good = values >= cut[rows]
    rows, cols, values = rows[good], cols[good], values[good]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    first = np.searchsorted(rows, np.arange(n_rows))
    rank = np.arange(len(rows)) - first[rows]
    keep = rank < k
    rows, cols, values = rows[keep], cols[keep], values[keep]
    order = np.lexsort((cols, rows))
    return rows[order], cols[order], values[order]


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


def top_k_matrix(plan: _Plan, k: int, block_size: int | None) -> sp.csr_matrix:
    """The ``k`` best allowed rows of each column as a CSR matrix, built by blocks of columns.

    Memory is ``O(block_size * n_rows + k * n_columns)``: the dense matrix never exists.
    """
    n_m, n_e = plan.shape
    tplan = plan.transpose()  # rows of the transposed plan are mentees
    part = top_k_columns(tplan, 0, n_e, k, block_size or _auto_block(n_m))
    return candidates_csr(plan.shape, [part])


def top_k_columns(
    tplan: _Plan, c0: int, c1: int, k: int, step: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` best mentors of mentees ``c0:c1``: (count per mentee, scores, mentor indices).

    ``tplan`` is the transposed plan (rows = mentees); blocks of ``step``
    mentees start at ``c0``, so ranges starting at multiples of ``step`` (a
    cluster's tasks) evaluate the very blocks of the whole-roster loop. Each
    mentee's entries are listed by ascending mentor.
    """
    n_m = tplan.shape[1]
    counts = np.zeros(c1 - c0, dtype=np.int64)
    data_parts: list[np.ndarray] = []
    index_parts: list[np.ndarray] = []
    height = min(step, c1 - c0)
    buf_s = np.empty((height, n_m), dtype=np.float64)
    buf_a = np.empty((height, n_m), dtype=bool)
    buf_w = np.empty((height, n_m), dtype=np.float32)
    for s0 in range(c0, c1, step):
        s1 = min(s0 + step, c1)
        s, a = buf_s[: s1 - s0], buf_a[: s1 - s0]
        tplan.block(slice(s0, s1), s, a, buf_w[: s1 - s0])
        local, mentor, values = _top_k_block(s, a, k)  # mentors ascending per mentee
        counts[s0 - c0 : s1 - c0] = np.bincount(local, minlength=s1 - s0)
        data_parts.append(values)
        index_parts.append(mentor.astype(np.int32 if n_m < 2**31 else np.int64))
    data = np.concatenate(data_parts) if data_parts else np.zeros(0)
    indices = np.concatenate(index_parts) if index_parts else np.zeros(0, dtype=np.int32)
    return counts, data, indices


def candidates_csr(
    shape: tuple[int, int], parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> sp.csr_matrix:
    """The CSR matrix (mentors x mentees) of :func:`top_k_columns` parts, in mentee order."""
    n_m, n_e = shape
    counts = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    indptr = np.zeros(n_e + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    data = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
    indices = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, dtype=np.int32)
    csc = sp.csc_matrix((data, indices, indptr), shape=(n_m, n_e))
    # csc -> csr moves entries without dropping explicit zeros (candidates scoring 0)
    return csc.tocsr()
