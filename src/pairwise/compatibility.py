"""Compatibility: criteria and rules turned into a score matrix and an allowed mask, with reasons.

:class:`CompatibilityModel` holds the criteria (soft scores, weighted mean) and
the rules (hard masks). :meth:`CompatibilityModel.score` builds a
:class:`Compatibility`: the dense ``scores`` / ``allowed`` matrices (rows =
mentors, columns = mentees), or, with ``top_k``, a sparse matrix that keeps
only the ``k`` best allowed mentors of each mentee, built block by block so
that the dense n² matrix never exists. A :class:`Compatibility` explains any
pair (each criterion's contribution, each rule's verdict) and says in plain
language why someone has no allowed partner.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._terms import (
    EncodingCache,
    ForbidPairs,
    LowRank,
    MaskTerm,
    SparseTerm,
    Table,
    TableMask,
    Term,
    apply_terms,
    check_protected,
    evaluate_pairs,
    same_pool,
)
from .criteria import (
    Closeness,
    Complement,
    Criterion,
    Different,
    LevelGap,
    Preferences,
    SharedGoals,
)
from .errors import InputError
from .rules import (
    Accessible,
    LevelWithin,
    MinLevelGap,
    NoRepeat,
    NotManager,
    NotSelf,
    OptIn,
    Rule,
    SharedLanguage,
)

if TYPE_CHECKING:
    from .roster import Roster

__all__ = [
    "Compatibility",
    "CompatibilityModel",
    "Explanation",
    "default_model",
    "default_peer_model",
]

logger = logging.getLogger(__name__)

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
# Results
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Explanation:
    """Why a pair scores what it scores, and whether the rules allow it.

    Attributes
    ----------
    row_id, col_id : str
        The mentor and the mentee.
    total : float
        The pair's score: the sum of ``criteria["contribution"]``.
    allowed : bool
        Whether every rule allows the pair.
    criteria : pandas.DataFrame
        One row per criterion: ``criterion``, ``description``, ``score`` (raw,
        in [0, 1]), ``weight``, ``contribution`` (``weight * score / sum of weights``).
    rules : pandas.DataFrame
        One row per rule: ``rule``, ``allowed``, ``reason`` (plain language).
    candidate : bool or None
        In the sparse (top-k) form, whether the pair is among the kept
        candidates; None for the dense form.
    """

    row_id: str
    col_id: str
    total: float
    allowed: bool
    criteria: pd.DataFrame
    rules: pd.DataFrame
    candidate: bool | None = None

    def to_frame(self) -> pd.DataFrame:
        """One table: criteria rows, rule rows and a ``total`` row."""
        crit = self.criteria.rename(columns={"criterion": "name"}).assign(kind="criterion")
        rules = self.rules.rename(columns={"rule": "name"}).assign(kind="rule")
        total = pd.DataFrame(
            [
                {
                    "kind": "total",
                    "name": "total",
                    "contribution": self.total,
                    "allowed": self.allowed,
                }
            ]
        )
        cols = ["kind", "name", "score", "weight", "contribution", "allowed", "reason"]
        frames = [f for f in (crit, rules, total) if len(f)]
        return pd.concat(frames, ignore_index=True).reindex(columns=cols)

    def __str__(self) -> str:
        verdict = "allowed" if self.allowed else "NOT allowed"
        lines = [f"{self.row_id} -> {self.col_id}: score {self.total:.3f}, {verdict}"]
        for rec in self.criteria.itertuples(index=False):
            lines.append(
                f"  {rec.criterion}: {rec.score:.3f} x weight {rec.weight:g} "
                f"-> {rec.contribution:.3f}"
            )
        for rec in self.rules.itertuples(index=False):
            lines.append(f"  [{'ok' if rec.allowed else 'NO'}] {rec.rule}: {rec.reason}")
        if self.candidate is False:
            lines.append("  (not among the kept top-k candidates of this mentee)")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Context:
    """What explanations need: the rosters, encodings and the active criteria and rules."""

    mentors: Roster
    mentees: Roster
    cache: EncodingCache
    criteria: tuple[tuple[Criterion, float, list[tuple[float, Term]]], ...]
    rules: tuple[tuple[Rule, list[MaskTerm]], ...]
    total_weight: float
    at: _dt.date | None


def _resolve(value: Any, roster: Roster, what: str) -> int:
    """A position from an id (str) or a position (int)."""
    if isinstance(value, bool):
        raise InputError(f"`{what}` must be an id or a position; got {value!r}. Fix: pass an id.")
    if isinstance(value, int | np.integer):
        n = len(roster)
        if not -n <= int(value) < n:
            raise InputError(
                f"`{what}` must be a position between 0 and {n - 1} or an id; got {value}. "
                "Fix: pass an id (str) or a valid position."
            )
        return int(value) % n
    return int(roster.position(str(value)))


def _singular(roster: Roster, default: str) -> str:
    role = getattr(roster, "role", None)
    return str(role) if role else default


def _plural(word: str) -> str:
    return word if word.endswith("s") else f"{word}s"


@dataclass(frozen=True, eq=False)
class Compatibility:
    """Scores and allowed pairs of mentors (rows) x mentees (columns), with explanations.

    Attributes
    ----------
    scores : numpy.ndarray or scipy.sparse.csr_matrix
        float64 weighted mean of the criteria, in [0, 1], accumulated in
        single precision (about 1e-7 absolute; :meth:`explain` recomputes a
        pair in double precision). In the sparse
        (top-k) form only the ``top_k`` best *allowed* mentors of each mentee
        are stored (explicit zeros included: every stored entry is a
        candidate pair, even one scoring 0).
    allowed : numpy.ndarray or None
        bool mask (True = every rule allows the pair); None in the sparse form,
        where the stored entries are the allowed candidates.
    row_ids, col_ids : numpy.ndarray
        Ids of the mentors and the mentees, in matrix order.
    criteria : tuple of str
        Names of the criteria used (criteria skipped for missing columns are
        not listed; see ``notes``).
    weights : tuple of float
        Their weights.
    rules : tuple of str
        Names of the rules applied.
    top_k : int or None
    notes : tuple of str
        What was skipped and why (default models only).
    """

    scores: np.ndarray | sp.csr_matrix
    allowed: np.ndarray | None
    row_ids: np.ndarray
    col_ids: np.ndarray
    criteria: tuple[str, ...]
    weights: tuple[float, ...]
    rules: tuple[str, ...]
    top_k: int | None = None
    notes: tuple[str, ...] = ()
    _context: _Context | None = field(default=None, repr=False)

    @property
    def is_sparse(self) -> bool:
        """True for the top-k form (``scores`` is a scipy.sparse matrix)."""
        return sp.issparse(self.scores)

    @property
    def shape(self) -> tuple[int, int]:
        """(number of mentors, number of mentees)."""
        return (len(self.row_ids), len(self.col_ids))

    def _ctx(self) -> _Context:
        if self._context is None:
            raise InputError(
                "`Compatibility` must come from CompatibilityModel.score() to explain pairs; "
                "got one built by hand. Fix: build it with model.score(mentors, mentees)."
            )
        return self._context

    # -- explanations ---------------------------------------------------------

    def explain(self, row_id: Any, col_id: Any) -> Explanation:
        """Each criterion's raw score, weight and contribution, and each rule's verdict.

        Parameters
        ----------
        row_id, col_id : str or int
            The mentor and the mentee, by id (str) or by position (int).

        Returns
        -------
        Explanation
            ``.total`` equals the sum of the contributions and the stored score.

        Raises
        ------
        InputError
            When an id is unknown (the message names it).
        """
        ctx = self._ctx()
        i = _resolve(row_id, ctx.mentors, "row_id")
        j = _resolve(col_id, ctx.mentees, "col_id")
        r, c = np.array([i]), np.array([j])
        crit_rows = []
        for criterion, share, terms in ctx.criteria:
            raw = float(evaluate_pairs(terms, r, c)[0])
            crit_rows.append(
                {
                    "criterion": criterion.name,
                    "description": criterion.describe(),
                    "score": raw,
                    "weight": float(criterion.weight),
                    "contribution": share * raw,
                }
            )
        rule_rows = []
        for rule, mterms in ctx.rules:
            ok = bool(apply_terms(mterms, self.shape, r, c)[0, 0])
            reason = rule.reason(
                ctx.mentors, ctx.mentees, i, j, ok, ctx.cache, rule._at(ctx.at, ctx.cache)
            )
            rule_rows.append({"rule": rule.name, "allowed": ok, "reason": reason})
        crit = pd.DataFrame(
            crit_rows, columns=["criterion", "description", "score", "weight", "contribution"]
        )
        rules = pd.DataFrame(rule_rows, columns=["rule", "allowed", "reason"])
        total = float(np.clip(crit["contribution"].sum(), 0.0, 1.0)) if len(crit) else 0.0
        candidate = None
        if self.is_sparse:
            candidate = self._stored(i, j)
        return Explanation(
            row_id=str(self.row_ids[i]),
            col_id=str(self.col_ids[j]),
            total=total,
            allowed=bool(rules["allowed"].all()) if len(rules) else True,
            criteria=crit,
            rules=rules,
            candidate=candidate,
        )

    def _stored(self, i: int, j: int) -> bool:
        col = self.scores[:, [j]].tocsc()
        return bool(np.any(col.indices == i))

    def breakdown(
        self, rows: Sequence[int] | np.ndarray, cols: Sequence[int] | np.ndarray
    ) -> pd.DataFrame:
        """Per-criterion contributions for the pairs ``(rows[k], cols[k])`` (positions).

        Parameters
        ----------
        rows, cols : sequence of int
            Positions of mentors and mentees, one pair per index.

        Returns
        -------
        pandas.DataFrame
            One column per criterion (named as in ``criteria``) holding
            ``weight * score / sum of weights``; the columns of a row sum to
            the pair's score. Index ``0..len(rows)-1``.

        Raises
        ------
        InputError
            When the lengths differ or a position is out of range.
        """
        ctx = self._ctx()
        r = np.asarray(rows, dtype=np.intp).ravel()
        c = np.asarray(cols, dtype=np.intp).ravel()
        if r.shape != c.shape:
            raise InputError(
                f"`rows` and `cols` must have the same length; got {len(r)} and {len(c)}. "
                "Fix: pass one mentor position and one mentee position per pair."
            )
        n_m, n_e = self.shape
        if r.size and (r.min() < 0 or r.max() >= n_m or c.min() < 0 or c.max() >= n_e):
            raise InputError(
                f"`rows` / `cols` must be positions below {n_m} / {n_e}; got values out of "
                "range. Fix: pass positions from the solver result."
            )
        data = {
            criterion.name: share * evaluate_pairs(terms, r, c)
            for criterion, share, terms in ctx.criteria
        }
        return pd.DataFrame(data, index=pd.RangeIndex(len(r)), columns=list(self.criteria))

    def _why(self, *, col: int | None = None, row: int | None = None) -> str:
        ctx = self._ctx()
        if col is not None:
            idx_rows, idx_cols = None, [col]
            others, me_pos = ctx.mentors, col
            noun = _singular(ctx.mentors, "mentor")
        else:
            idx_rows, idx_cols = [row], None
            others, me_pos = ctx.mentees, row
            noun = _singular(ctx.mentees, "mentee")
        n = len(others)
        keep = np.ones(n, dtype=bool)
        if same_pool(ctx.mentors, ctx.mentees):
            keep[me_pos] = False  # one's own row in a peer pool is not a candidate
        total = int(keep.sum())
        if total == 0:
            return f"no {_plural(noun)} to pair with"
        fails: list[tuple[int, str]] = []
        every = keep.copy()
        for rule, mterms in ctx.rules:
            ok = apply_terms(mterms, self.shape, idx_rows, idx_cols).ravel()
            every &= ok
            count = int((~ok & keep).sum())
            if count:
                fails.append((count, rule.label()))
        fails.sort(key=lambda t: -t[0])
        n_ok = int(every.sum())
        parts = [f"{count} fail {label}" for count, label in fails]
        if n_ok == 0:
            if parts:
                parts[0] = f"{fails[0][0]} of {total} fail {fails[0][1]}"
            return f"no allowed {noun}: " + ", ".join(parts)
        text = f"{n_ok} of {total} {_plural(noun)} allowed"
        if self.is_sparse and col is not None:
            kept = int(self.scores[:, [col]].nnz)
            text += f" ({kept} kept as candidates)"
        return text + (f"; excluded: {', '.join(parts)}" if parts else "")

    def why_no_partner(self, col: Any) -> str:
        """Plain-language account of a mentee's allowed mentors (which rules exclude how many).

        Parameters
        ----------
        col : int or str
            The mentee, by position or id.

        Returns
        -------
        str
            e.g. ``"no allowed mentor: 38 of 40 fail level gap ≥ 2, 2 fail same
            site or ≥ 2 h working-hours overlap"``; when some are allowed,
            ``"3 of 40 mentors allowed; excluded: ..."``. A mentor may fail
            several rules, so the counts can add up to more than the total.
        """
        return self._why(col=_resolve(col, self._ctx().mentees, "col"))

    def why_no_partner_row(self, row: Any) -> str:
        """The same account for a mentor (row): which rules exclude how many mentees."""
        return self._why(row=_resolve(row, self._ctx().mentors, "row"))

    def __repr__(self) -> str:
        form = f"sparse top-{self.top_k}" if self.is_sparse else "dense"
        return (
            f"Compatibility({self.shape[0]} x {self.shape[1]}, {form}, "
            f"criteria={list(self.criteria)}, rules={list(self.rules)})"
        )


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------


def _check_roster(value: Any, what: str) -> None:
    if not (hasattr(value, "frame") and hasattr(value, "ids") and hasattr(value, "has")):
        raise InputError(
            f"`{what}` must be a Roster; got {type(value).__name__}. "
            "Fix: load it with pairwise.load_roster(path_or_dataframe)."
        )


@dataclass(frozen=True)
class CompatibilityModel:
    """Criteria (soft, weighted mean) and rules (hard masks) for one kind of pairing.

    Parameters
    ----------
    criteria : sequence of Criterion
        The total score of a pair is ``sum(w * s) / sum(w)`` over criteria, in
        [0, 1]. Names must be unique (they become output columns).
    rules : sequence of Rule
        A pair is allowed when every rule allows it.
    allow_protected : bool
        Allow criteria or rules on protected columns (gender, ethnicity);
        refused by default — those belong in diversity rules.
    at : datetime.date, optional
        Day for time-zone offsets (summer time); default today.
    skip_missing : bool
        Skip (with a logged note) criteria and rules whose columns are absent
        or blank in a roster, instead of raising. The default models set it.

    Raises
    ------
    InputError
        For a criterion / rule of the wrong type, duplicate criterion names,
        or a protected column without ``allow_protected``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.roster import load_roster
    >>> from pairwise.criteria import Different, LevelGap
    >>> from pairwise.rules import MinLevelGap
    >>> mentors = load_roster(pd.DataFrame(
    ...     {"id": ["m1", "m2"], "level": [5, 4], "function": ["IT", "HR"]}))
    >>> mentees = load_roster(pd.DataFrame(
    ...     {"id": ["e1", "e2"], "level": [3, 3], "function": ["IT", "IT"]}))
    >>> model = CompatibilityModel([Different("function"), LevelGap(ideal=2)], [MinLevelGap(2)])
    >>> compat = model.score(mentors, mentees)
    >>> compat.scores.round(4)
    array([[0.5   , 0.5   ],
           [0.8333, 0.8333]])
    >>> compat.allowed
    array([[ True,  True],
           [False, False]])
    >>> compat.why_no_partner_row("m2")
    'no allowed mentee: 2 of 2 fail level gap ≥ 2'
    """

    criteria: Sequence[Criterion] = ()
    rules: Sequence[Rule] = ()
    allow_protected: bool = field(default=False, kw_only=True)
    at: _dt.date | None = field(default=None, kw_only=True)
    skip_missing: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        crit = tuple(self.criteria)
        rules = tuple(self.rules)
        for c in crit:
            if not isinstance(c, Criterion):
                raise InputError(
                    f"`criteria` must hold criteria such as Same('function'); got "
                    f"{type(c).__name__} {c!r}. Fix: use the classes of pairwise.criteria."
                )
        for r in rules:
            if not isinstance(r, Rule):
                raise InputError(
                    f"`rules` must hold rules such as MinLevelGap(2); got {type(r).__name__} "
                    f"{r!r}. Fix: use the classes of pairwise.rules."
                )
        names = [c.name for c in crit]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InputError(
                f"criterion names must be unique; got {', '.join(map(repr, dupes))} more than "
                "once. Fix: give each a distinct name=..."
            )
        if self.at is not None and not isinstance(self.at, _dt.date):
            raise InputError(
                f"`at` must be a datetime.date; got {self.at!r}. "
                "Fix: e.g. datetime.date(2025, 3, 1)."
            )
        for c in crit:
            check_protected(
                (col for _, col in c.columns()), f"criterion {c.name!r}", self.allow_protected
            )
        for r in rules:
            check_protected(
                (col for _, col in r.columns()), f"rule {r.name!r}", self.allow_protected
            )
        object.__setattr__(self, "criteria", crit)
        object.__setattr__(self, "rules", rules)

    def score(
        self,
        mentors: Roster,
        mentees: Roster,
        *,
        top_k: int | None = None,
        block_size: int | None = None,
    ) -> Compatibility:
        """Build the compatibility of mentors (rows) x mentees (columns).

        Parameters
        ----------
        mentors, mentees : Roster
            The same roster twice for a peer pool.
        top_k : int, optional
            Keep only the ``top_k`` best allowed mentors of each mentee, in a
            scipy.sparse CSR matrix built block by block (memory
            ``O(block_size * n_mentors + top_k * n_mentees)``). Ties at the
            cut go to the mentor listed first. Default: dense.
        block_size : int, optional
            Rows (dense) or mentees (sparse) per block; default about 2**19
            elements per block.

        Returns
        -------
        Compatibility

        Raises
        ------
        InputError
            When a column a criterion or rule needs is absent (naming column and
            roster; skipped instead when ``skip_missing``), a column is
            protected, or an option is invalid.
        """
        _check_roster(mentors, "mentors")
        _check_roster(mentees, "mentees")
        if top_k is not None and (
            isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1
        ):
            raise InputError(
                f"`top_k` must be a whole number >= 1 or None; got {top_k!r}. "
                "Fix: e.g. top_k=50, or None for the dense matrix."
            )
        if block_size is not None and (
            isinstance(block_size, bool)
            or not isinstance(block_size, int | np.integer)
            or block_size < 1
        ):
            raise InputError(
                f"`block_size` must be a whole number >= 1 or None; got {block_size!r}. "
                "Fix: leave it None (automatic) or use e.g. 256."
            )
        cache = EncodingCache(at=self.at)
        notes: list[str] = []

        active_c: list[Criterion] = []
        for c in self.criteria:
            if self.skip_missing:
                missing = c.missing_columns(mentors, mentees)
                if missing:
                    notes.append(f"criterion {c.name!r} skipped: no {', '.join(missing)}")
                    continue
            c.check_columns(mentors, mentees, allow_protected=self.allow_protected)
            active_c.append(c)
        active_r: list[Rule] = []
        for r in self.rules:
            if self.skip_missing:
                missing = r.missing_columns(mentors, mentees)
                if missing:
                    notes.append(f"rule {r.name!r} skipped: no {', '.join(missing)}")
                    continue
            r.check_columns(mentors, mentees, allow_protected=self.allow_protected)
            active_r.append(r)
        for note in notes:
            logger.info("%s", note)

        total_weight = float(sum(c.weight for c in active_c))
        crit_terms = []
        score_terms: list[tuple[float, Term]] = []
        for c in active_c:
            share = float(c.weight) / total_weight if total_weight > 0 else 0.0
            terms = c.terms(mentors, mentees, cache)
            crit_terms.append((c, share, terms))
            score_terms += [(share * coef, t) for coef, t in terms]
        rule_terms = []
        mask_terms: list[MaskTerm] = []
        for r in active_r:
            mterms = r.terms(mentors, mentees, cache, r._at(None, cache))
            rule_terms.append((r, mterms))
            mask_terms += mterms

        shape = (len(mentors), len(mentees))
        plan = _Plan(shape, score_terms, mask_terms)
        if top_k is None:
            scores, allowed = self._dense(plan, block_size)
        else:
            scores, allowed = self._sparse(plan, int(top_k), block_size), None
        context = _Context(
            mentors=mentors,
            mentees=mentees,
            cache=cache,
            criteria=tuple(crit_terms),
            rules=tuple(rule_terms),
            total_weight=total_weight,
            at=self.at,
        )
        return Compatibility(
            scores=scores,
            allowed=allowed,
            row_ids=mentors.ids,
            col_ids=mentees.ids,
            criteria=tuple(c.name for c in active_c),
            weights=tuple(float(c.weight) for c in active_c),
            rules=tuple(r.name for r in active_r),
            top_k=None if top_k is None else int(top_k),
            notes=tuple(notes),
            _context=context,
        )

    @staticmethod
    def _dense(plan: _Plan, block_size: int | None) -> tuple[np.ndarray, np.ndarray]:
        n_m, n_e = plan.shape
        scores = np.empty((n_m, n_e), dtype=np.float64)
        allowed = np.empty((n_m, n_e), dtype=bool)
        step = block_size or _auto_block(n_e)
        work = np.empty((min(step, n_m), n_e), dtype=np.float32)
        for r0 in range(0, n_m, step):
            rows = slice(r0, min(r0 + step, n_m))
            plan.block(rows, scores[rows], allowed[rows], work[: rows.stop - r0])
        return scores, allowed

    @staticmethod
    def _sparse(plan: _Plan, k: int, block_size: int | None) -> sp.csr_matrix:
        n_m, n_e = plan.shape
        tplan = plan.transpose()  # rows of the transposed plan are mentees
        step = block_size or _auto_block(n_m)
        counts = np.zeros(n_e, dtype=np.int64)
        data_parts: list[np.ndarray] = []
        index_parts: list[np.ndarray] = []
        buf_s = np.empty((min(step, n_e), n_m), dtype=np.float64)
        buf_a = np.empty((min(step, n_e), n_m), dtype=bool)
        buf_w = np.empty((min(step, n_e), n_m), dtype=np.float32)
        for c0 in range(0, n_e, step):
            c1 = min(c0 + step, n_e)
            s, a = buf_s[: c1 - c0], buf_a[: c1 - c0]
            tplan.block(slice(c0, c1), s, a, buf_w[: c1 - c0])
            local, mentor, values = _top_k_block(s, a, k)  # mentors ascending per mentee
            counts[c0:c1] = np.bincount(local, minlength=c1 - c0)
            data_parts.append(values)
            index_parts.append(mentor.astype(np.int32 if n_m < 2**31 else np.int64))
        indptr = np.zeros(n_e + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        data = np.concatenate(data_parts) if data_parts else np.zeros(0)
        indices = np.concatenate(index_parts) if index_parts else np.zeros(0, dtype=np.int32)
        csc = sp.csc_matrix((data, indices, indptr), shape=(n_m, n_e))
        # csc -> csr moves entries without dropping explicit zeros (candidates scoring 0)
        return csc.tocsr()


# ---------------------------------------------------------------------------
# Default programmes
# ---------------------------------------------------------------------------


def default_model(
    at: _dt.date | None = None, *, history: pd.DataFrame | None = None
) -> CompatibilityModel:
    """The default mentoring programme (mentors two levels above their mentees).

    Criteria (weight): mentor's skills covering the mentee's wants (3), shared
    goals (2), ranked preferences of the mentee (2), a different function —
    cross-function exposure (1), a level gap near 2 (1), nearby time zones
    (1). Rules: mentor at least 2 levels above, not in the mentee's reporting
    line, same site or 2 h of common working hours, a shared language, opt-in
    (``opt_in`` column) and — when ``history`` is given — no repeat of
    earlier pairs.

    Unlike a hand-built model, this one is lenient about columns: a criterion
    or rule whose columns are absent (or entirely blank) in a roster is
    skipped with a logged note (listed in ``Compatibility.notes``) instead of
    raising. So the opt-in rule only applies when a roster has the column.

    Parameters
    ----------
    at : datetime.date, optional
        Day for time-zone offsets; default today.
    history : pandas.DataFrame, optional
        Earlier pairs (``mentor_id``, ``mentee_id``); adds ``NoRepeat``.

    Returns
    -------
    CompatibilityModel

    Examples
    --------
    >>> [c.name for c in default_model().criteria]  # doctest: +NORMALIZE_WHITESPACE
    ['complement_skills_wants', 'shared_goals', 'preferences', 'different_function',
     'level_gap', 'close_timezone']
    """
    rules: list[Rule] = [
        NotSelf(),
        MinLevelGap(2),
        NotManager(chain=True),
        Accessible(min_overlap_hours=2.0),
        SharedLanguage(),
        OptIn(),
    ]
    if history is not None:
        rules.append(NoRepeat(history))
    return CompatibilityModel(
        criteria=(
            Complement("skills", "wants", "coverage", weight=3.0),
            SharedGoals(weight=2.0),
            Preferences(weight=2.0),
            Different("function", weight=1.0),
            LevelGap(ideal=2, tolerance=2, weight=1.0),
            Closeness("timezone", scale=6.0, weight=1.0),
        ),
        rules=tuple(rules),
        at=at,
        skip_missing=True,
    )


def default_peer_model(
    at: _dt.date | None = None, *, history: pd.DataFrame | None = None
) -> CompatibilityModel:
    """The default peer-learning programme: one pool, partners of about the same level.

    Criteria (weight), all symmetric: shared goals (2), skills meeting wants
    in both directions (2), a different function (1), nearby time zones (1),
    ranked preferences of either partner (1). Rules: not oneself, levels
    within 1, not in each other's reporting line, same site or 2 h of common
    working hours, a shared language, opt-in, and no repeat when ``history``
    is given. Lenient about absent columns like :func:`default_model`.

    Parameters
    ----------
    at : datetime.date, optional
    history : pandas.DataFrame, optional

    Returns
    -------
    CompatibilityModel
        Score it with the same roster twice: ``model.score(people, people)``.
    """
    rules: list[Rule] = [
        NotSelf(),
        LevelWithin(1),
        NotManager(chain=True),
        Accessible(min_overlap_hours=2.0),
        SharedLanguage(),
        OptIn(),
    ]
    if history is not None:
        rules.append(NoRepeat(history))
    return CompatibilityModel(
        criteria=(
            SharedGoals(weight=2.0),
            Complement("skills", "wants", "coverage", weight=2.0, mutual=True),
            Different("function", weight=1.0),
            Closeness("timezone", scale=6.0, weight=1.0),
            Preferences(side="both", weight=1.0),
        ),
        rules=tuple(rules),
        at=at,
        skip_missing=True,
    )
