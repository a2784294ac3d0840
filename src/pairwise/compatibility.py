"""Compatibility: criteria and rules turned into a score matrix and an allowed mask, with reasons.

:class:`CompatibilityModel` holds the criteria (soft scores, weighted mean) and
the rules (hard masks). :meth:`CompatibilityModel.score` builds a
:class:`Compatibility`: the dense ``scores`` / ``allowed`` matrices (rows =
mentors, columns = mentees), or, with ``top_k``, a sparse matrix that keeps
only the ``k`` best allowed mentors of each mentee, built block by block so
that the dense n² matrix never exists (the fused plan and the block loops live
in :mod:`pairwise._topk`). A :class:`Compatibility` explains any pair (each
criterion's contribution, each rule's verdict), says in plain language why
someone has no allowed partner, and answers every "dense or sparse?" question
for its callers (candidates, pair scores, solver inputs), so code above it
never branches on the form.
"""

from __future__ import annotations

import datetime as _dt
import functools
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._terms import (
    EncodingCache,
    MaskTerm,
    Term,
    apply_terms,
    check_protected,
    evaluate_pairs,
    same_pool,
)
from ._topk import _Plan, column_blocks, dense_matrices, top_k_matrix
from .criteria import (
    Criterion,
)
from .errors import InputError
from .roster import PROTECTED_COLUMNS
from .rules import (
    Rule,
)

if TYPE_CHECKING:
    from .roster import Roster

__all__ = [
    "Compatibility",
    "CompatibilityModel",
    "Explanation",
]

logger = logging.getLogger(__name__)

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
    plan: _Plan | None = None
    block_size: int | None = None


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

    # -- candidates: every "dense or sparse?" question is answered here ------

    @property
    def _csr(self) -> sp.csr_matrix:
        """``scores`` as the sparse matrix it is in the top-k form."""
        return cast(sp.csr_matrix, self.scores)

    @property
    def _mask(self) -> np.ndarray:
        """``allowed`` as the dense mask it is in the dense form."""
        return cast(np.ndarray, self.allowed)

    @functools.cached_property
    def _csc(self) -> sp.csc_matrix:
        # converted once: reasons ask about many columns of a sparse compatibility
        return self._csr.tocsc()

    def pair_scores(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Scores of the pairs ``(rows[k], cols[k])`` (positions), as a float array.

        >>> import numpy as np
        >>> c = Compatibility(np.array([[0.5, 0.25]]), np.ones((1, 2), bool),
        ...                   np.array(["m"]), np.array(["a", "b"]), (), (), ())
        >>> c.pair_scores(np.array([0, 0]), np.array([1, 0])).tolist()
        [0.25, 0.5]
        """
        if len(rows) == 0:
            return np.zeros(0)
        if self.is_sparse:
            return np.asarray(self._csr[rows, cols]).ravel()
        return np.asarray(self.scores[rows, cols], dtype=float)

    def candidate_rows(self, col: int) -> np.ndarray:
        """Rows (mentors) allowed for column ``col``, ascending (the kept candidates if sparse)."""
        if self.is_sparse:
            csc = self._csc
            return np.sort(csc.indices[csc.indptr[col] : csc.indptr[col + 1]].astype(np.intp))
        return np.flatnonzero(self._mask[:, col])

    def is_candidate(self, row: int, col: int) -> bool:
        """Whether the pair may be formed: allowed (dense), or a kept candidate (sparse)."""
        if self.is_sparse:
            return bool(row in set(self.candidate_rows(col).tolist()))
        return bool(self._mask[row, col])

    def n_candidates(self, *, row: int | None = None, col: int | None = None) -> int:
        """How many partners a row (or a column) may be paired with."""
        if self.is_sparse:
            if col is not None:  # per-person loops ask often: read the index pointers
                indptr = self._csc.indptr
                return int(indptr[col + 1] - indptr[col])
            indptr, at = self._csr.indptr, int(cast(int, row))
            return int(indptr[at + 1] - indptr[at])
        if col is not None:
            return int(self._mask[:, col].sum())
        return int(self._mask[row].sum())

    def candidate_counts(self, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per column: how many rows it may be paired with, and how many of them have ``capacity``.

        The counts :meth:`n_candidates` gives one column at a time, for every
        column at once (``capacity[i] > 0`` marks an open row).
        """
        open_row = np.asarray(capacity) > 0
        if self.is_sparse:
            csc = self._csc
            per_col = np.diff(csc.indptr)
            col_of = np.repeat(np.arange(self.shape[1]), per_col)
            is_open = open_row[csc.indices]
            return per_col.astype(np.int64), np.bincount(
                col_of[is_open], minlength=self.shape[1]
            ).astype(np.int64)
        mask = self._mask
        return mask.sum(axis=0).astype(np.int64), mask[open_row].sum(axis=0).astype(np.int64)

    def without_columns(
        self, cols: np.ndarray
    ) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray | None]:
        """``(scores, allowed)`` for a solver, with columns ``cols`` taken out of its reach."""
        if self.is_sparse:
            coo = self._csr.tocoo()
            keep = ~np.isin(coo.col, cols)
            trimmed = sp.csr_matrix(
                (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=coo.shape
            )
            return trimmed, None
        allowed = self._mask.copy()
        allowed[:, cols] = False
        return self.scores, allowed

    def column_blocks(
        self,
        needed: np.ndarray | None = None,
        fn: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], Any] | None = None,
    ) -> Iterator[Any]:
        """Every allowed pair re-scored by the model, by blocks (never the whole matrix).

        Yields ``(mentees, mentors, scores, allowed)`` per block, with
        ``scores`` (float32) / ``allowed`` of shape ``(len(mentees),
        len(mentors))`` (transposed), computed exactly as the sparse form's
        kept candidates were; pairs outside every block are excluded by the
        rules. With ``fn``, yields ``fn(mentees, mentors, scores, allowed)``
        instead (run on the scoring threads). With ``needed`` (bool per
        mentee), blocks without a needed mentee are skipped. Used to check
        the pairs a top-k form dropped.

        Raises
        ------
        InputError
            When this compatibility was not built by :meth:`CompatibilityModel.score`.
        """
        ctx = self._ctx()
        if ctx.plan is None:
            raise InputError(
                "`column_blocks` needs the model that built this compatibility. Fix: build "
                "it with CompatibilityModel.score."
            )
        return column_blocks(ctx.plan, ctx.block_size, needed, fn)

    def symmetric(self) -> tuple[np.ndarray, np.ndarray]:
        """A peer pool's ``(scores, allowed)``: the mean of both directions, allowed both ways.

        Dense form only (a pool is scored whole); nobody is paired with themself.
        """
        scores = (self.scores + self.scores.T) / 2.0
        allowed = self._mask & self._mask.T
        np.fill_diagonal(allowed, False)
        return np.asarray(scores), allowed

    def why_no_candidate_row(self, row: int) -> str:
        """Why row ``row`` (a mentor) has no candidate partner at all."""
        if self.is_sparse:
            return (
                "no mentee kept this mentor among their best-fitting candidates "
                f"(top_k = {self.top_k})"
            )
        return self.why_no_partner_row(row)

    def why_candidates_full(self, n_candidates: int, n_open: int) -> str:
        """Why a column is unmatched although ``n_open`` of its candidates take partners."""
        if self.is_sparse:
            return (
                f"capacity exhausted among the {n_candidates} best-fitting mentor(s) "
                f"kept (top_k = {self.top_k}); raise [pairs] top_k to consider more"
            )
        return f"capacity exhausted: all {n_open} allowed mentor(s) are full with other mentees"

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
        col = self._csr[:, [j]].tocsc()
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
        idx_rows: list[int] | None
        idx_cols: list[int] | None
        if col is not None:
            idx_rows, idx_cols = None, [col]
            others, me_pos = ctx.mentors, col
            noun = _singular(ctx.mentors, "mentor")
        else:
            me_pos = cast(int, row)
            idx_rows, idx_cols = [me_pos], None
            others = ctx.mentees
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
            kept = int(self._csr[:, [col]].nnz)
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


def _check_whole(value: Any, what: str, fix: str) -> None:
    """``value`` is None or a whole number >= 1 (``top_k``, ``block_size``)."""
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1
    ):
        raise InputError(
            f"`{what}` must be a whole number >= 1 or None; got {value!r}. Fix: {fix}"
        )


def _criterion_terms(
    criteria: Sequence[Criterion], mentors: Roster, mentees: Roster, cache: EncodingCache
) -> tuple[
    list[tuple[Criterion, float, list[tuple[float, Term]]]], list[tuple[float, Term]], float
]:
    """Each criterion's share of the weight and terms, all terms weighted, and the total weight."""
    total_weight = float(sum(c.weight for c in criteria))
    crit_terms = []
    score_terms: list[tuple[float, Term]] = []
    for c in criteria:
        share = float(c.weight) / total_weight if total_weight > 0 else 0.0
        terms = c.terms(mentors, mentees, cache)
        crit_terms.append((c, share, terms))
        score_terms += [(share * coef, t) for coef, t in terms]
    return crit_terms, score_terms, total_weight


def _rule_terms(
    rules: Sequence[Rule], mentors: Roster, mentees: Roster, cache: EncodingCache
) -> tuple[list[tuple[Rule, list[MaskTerm]]], list[MaskTerm]]:
    """Each rule with its mask terms, and all mask terms together."""
    rule_terms = []
    mask_terms: list[MaskTerm] = []
    for r in rules:
        mterms = r.terms(mentors, mentees, cache, r._at(None, cache))
        rule_terms.append((r, mterms))
        mask_terms += mterms
    return rule_terms, mask_terms


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
        Allow criteria or rules on protected columns; refused by default —
        those belong in group diversity rules.
    protected : sequence of str
        The protected columns (the programme's ``[program] protected``);
        default :data:`pairwise.roster.PROTECTED_COLUMNS` (gender, ethnicity).
    at : datetime.date, optional
        Day for time-zone offsets (summer time); default today.
    skip_missing : bool
        Skip (with a logged note) criteria and rules whose columns are absent
        or blank in a roster, instead of raising. The default models set it.
    required : mapping of str to str
        Names of criteria and rules that are never skipped, each mapped to the
        programme key that named it (e.g. ``{"opt_in": "rules.opt_in"}``): a
        criterion or rule the *user's* programme file names is kept or refused,
        only those of the embedded default programme are skipped. When one of
        their columns is absent or blank, :meth:`score` raises an
        :class:`InputError` naming that key, the column, the roster and the fix.

    Raises
    ------
    InputError
        For a criterion / rule of the wrong type, duplicate criterion names,
        or a protected column (one of ``protected``) without ``allow_protected``.

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
    protected: Sequence[str] = field(default=PROTECTED_COLUMNS, kw_only=True)
    required: Mapping[str, str] = field(default_factory=dict, kw_only=True)

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
        if isinstance(self.protected, str) or not all(isinstance(p, str) for p in self.protected):
            raise InputError(
                f"`protected` must be a list of column names; got {self.protected!r}. "
                'Fix: e.g. protected=("gender", "ethnicity").'
            )
        object.__setattr__(self, "protected", tuple(self.protected))
        object.__setattr__(self, "required", dict(self.required))
        for owner, columns in [
            *((f"criterion {c.name!r}", c.columns()) for c in crit),
            *((f"rule {r.name!r}", r.columns()) for r in rules),
        ]:
            check_protected(
                (col for _, col in columns), owner, self.allow_protected, self.protected
            )
        for r in rules:
            # rules that read a column of their own outside ``columns()`` (opt-in, manager)
            own = getattr(r, "column", None)
            if isinstance(own, str):
                check_protected([own], f"rule {r.name!r}", self.allow_protected, self.protected)
        object.__setattr__(self, "criteria", crit)
        object.__setattr__(self, "rules", rules)

    def score(
        self,
        mentors: Roster,
        mentees: Roster,
        *,
        top_k: int | None = None,
        block_size: int | None = None,
        client: Any = None,
        row_top_k: int | Sequence[int] | np.ndarray | None = None,
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
        client : distributed.Client or str, optional
            Evaluate the blocks on a Dask cluster (a client, or a scheduler
            address such as ``"tcp://10.0.0.5:8786"``; needs ``pairwise[dask]``).
            The encoded rosters are shipped to every worker once and the
            result is exactly the local one. Default: this machine.
        row_top_k : int or sequence of int, optional
            With ``top_k``: also keep each mentor's ``row_top_k`` best allowed
            mentees (one number, or one per mentor; ties go to the mentee listed
            first), found in the same blockwise pass (memory
            ``O(n_mentors * max(row_top_k))``). The two-sided candidates are what
            a capacity-starved programme needs: with far fewer places than
            mentees, the best pairs for the mentors are rarely among each
            mentee's own ``top_k``.

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
        _check_whole(top_k, "top_k", "e.g. top_k=50, or None for the dense matrix.")
        _check_whole(block_size, "block_size", "leave it None (automatic) or use e.g. 256.")
        row_k = _row_top_k(row_top_k, top_k, len(mentors))
        cache = EncodingCache(at=self.at)
        active_c, active_r, notes = self._active(mentors, mentees)
        crit_terms, score_terms, total_weight = _criterion_terms(active_c, mentors, mentees, cache)
        rule_terms, mask_terms = _rule_terms(active_r, mentors, mentees, cache)
        shape = (len(mentors), len(mentees))
        plan = _Plan(shape, score_terms, mask_terms)
        if client is not None:
            scores, allowed = _score_on_cluster(client, plan, top_k, block_size, row_k)
        elif top_k is None:
            scores, allowed = dense_matrices(plan, block_size)
        else:
            scores, allowed = top_k_matrix(plan, int(top_k), block_size, row_k), None
        context = _Context(
            mentors=mentors,
            mentees=mentees,
            cache=cache,
            criteria=tuple(crit_terms),
            rules=tuple(rule_terms),
            total_weight=total_weight,
            at=self.at,
            plan=plan,
            block_size=block_size,
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

    def _active(
        self, mentors: Roster, mentees: Roster
    ) -> tuple[list[Criterion], list[Rule], list[str]]:
        """The criteria and rules whose columns the rosters have, and a note for each skipped.

        A criterion or rule named in ``required`` is never skipped: an absent
        or blank column raises, naming the programme key. Others are skipped
        with a note under ``skip_missing``; without it an absent column raises
        (naming the column and the roster).
        """
        notes: list[str] = []
        active_c: list[Criterion] = []
        for c in self.criteria:
            if self._keep(c, "criterion", mentors, mentees, notes):
                active_c.append(c)
        active_r: list[Rule] = []
        for r in self.rules:
            if self._keep(r, "rule", mentors, mentees, notes):
                active_r.append(r)
        for note in notes:
            logger.info("%s", note)
        return active_c, active_r, notes

    def _keep(
        self,
        item: Criterion | Rule,
        kind: str,
        mentors: Roster,
        mentees: Roster,
        notes: list[str],
    ) -> bool:
        """Whether ``item`` applies to these rosters (False: skipped, with a note)."""
        key = self.required.get(item.name)
        if key is not None or self.skip_missing:
            missing = item.missing_columns(mentors, mentees)
            if missing and key is not None:
                raise InputError(_required_message(key, missing))
            if missing:
                notes.append(f"{kind} {item.name!r} skipped: no {', '.join(missing)}")
                return False
        # protection was checked against ``protected`` when the model was built
        item.check_columns(mentors, mentees, allow_protected=True)
        return True


def _score_on_cluster(
    client: Any,
    plan: _Plan,
    top_k: int | None,
    block_size: int | None,
    row_k: np.ndarray | None = None,
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray | None]:
    """``(scores, allowed)`` with the plan's blocks evaluated on a Dask cluster."""
    from ._dask import connect, dense_matrices_on, top_k_matrix_on

    with connect(client) as cluster:
        if top_k is None:
            return dense_matrices_on(cluster, plan, block_size)
        return top_k_matrix_on(cluster, plan, int(top_k), block_size, row_k), None


def _row_top_k(value: Any, top_k: int | None, n_rows: int) -> np.ndarray | None:
    """``row_top_k`` as one whole number >= 0 per mentor (None: not asked)."""
    if value is None:
        return None
    fix = "Fix: e.g. row_top_k=2, one number per mentor, or None."
    if top_k is None:
        raise InputError(
            f"`row_top_k` needs `top_k` (the sparse form); got row_top_k={value!r} with "
            "top_k=None. Fix: pass top_k=50 as well, or drop row_top_k."
        )
    arr = np.asarray(value)
    if arr.ndim > 1 or (arr.ndim == 1 and len(arr) != n_rows):
        raise InputError(
            f"`row_top_k` must be one number or one per mentor ({n_rows}); got shape "
            f"{arr.shape}. {fix}"
        )
    if arr.dtype.kind not in "iub" and not (
        arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
    ):
        raise InputError(f"`row_top_k` must hold whole numbers; got {value!r}. {fix}")
    if np.any(arr < 0):
        raise InputError(f"`row_top_k` must be >= 0; got {arr.min()!r}. {fix}")
    return np.broadcast_to(arr.astype(np.int64), (n_rows,)).copy()


def _required_message(key: str, missing: Sequence[str]) -> str:
    """A programme key names a criterion or rule whose column the rosters lack."""
    leaf = key.rsplit(".", 1)[-1]
    return (
        f"`{key}` needs the column {' and '.join(missing)}, which is absent or blank. "
        f"Fix: add the column (or map yours to it under [columns] in the programme), "
        f"or remove `{leaf}` from the programme."
    )
