"""Stability of a programme's pairs: ranked preferences, blocking pairs, what stability costs.

:class:`~pairwise.Program` reads the mentees' ranked ``preferences`` column
into ranks (:func:`preference_ranks`), and after solving measures the other
side of the trade-off (:func:`assess`): for a stable plan what the optimum
would score, for an optimal plan how many blocking pairs it has and what a
stable plan would cost. :func:`blocking_frame` joins blocking pairs to ids,
with what each side would gain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import criteria as C
from ._terms import EncodingCache, cell_sets
from .compatibility import Compatibility, CompatibilityModel
from .roster import Roster
from .solvers._result import MatchingResult
from .solvers.stable import blocking_pairs

__all__ = [
    "BLOCKING_COLUMNS",
    "MEASURED_PAIRS",
    "Stability",
    "assess",
    "blocking_frame",
    "cut_short",
    "n_candidates",
    "preference_ranks",
    "skipped",
]

#: Above this many candidate pairs the other plan (the optimum for a stable
#: result, the stable plan for an optimal one) is not computed for the summary:
#: the second solve and the blocking pairs then cost more than a few seconds
#: (``benchmarks/bench_stable.py`` on a loaded 2-core machine, 5 million
#: candidates: deferred acceptance 13-18 s, the optimum 39 s, blocking pairs 7-10 s).
MEASURED_PAIRS = 2_000_000

BLOCKING_COLUMNS = ("mentor_id", "mentee_id", "score", "mentee_gain", "mentor_gain")


def preference_ranks(
    model: CompatibilityModel, mentors: Roster, mentees: Roster
) -> sp.csr_matrix | None:
    """The mentees' ranked choices as ranks (mentors × mentees; 1 = first choice), or None.

    The column is that of the model's mentee-side :class:`~pairwise.criteria.Preferences`
    criterion (default ``"preferences"``): ``;``-separated mentor ids, best
    first. Ids not among the mentors are skipped (the next one moves up); a
    repeated id keeps its first place. None when no mentee ranks anyone.
    """
    column = next(
        (
            c.column
            for c in model.criteria
            if isinstance(c, C.Preferences) and c.side in ("mentee", "both")
        ),
        "preferences",
    )
    if not mentees.has(column):
        return None
    lookup = {str(v): i for i, v in enumerate(mentors.ids.tolist())}
    rows: list[int] = []
    cols: list[int] = []
    ranks: list[int] = []
    for j, ranked in enumerate(cell_sets(EncodingCache(), mentees, column)):
        seen: set[int] = set()
        for ident in ranked:
            i = lookup.get(ident)
            if i is None or i in seen:
                continue
            seen.add(i)
            rows.append(i)
            cols.append(j)
            ranks.append(len(seen))
    if not ranks:
        return None
    return sp.csr_matrix(
        (np.asarray(ranks, float), (rows, cols)), shape=(len(mentors), len(mentees))
    )


def n_candidates(compat: Compatibility) -> int:
    """How many pairs may be formed (allowed, or kept candidates in the sparse form)."""
    if compat.is_sparse:
        return int(sp.csr_matrix(compat.scores).nnz)
    return int(np.count_nonzero(np.asarray(compat.allowed)))


@dataclass(frozen=True)
class Stability:
    """The summary's stability line and the number of blocking pairs (None: not measured)."""

    line: str
    n_blocking: int | None


def cut_short() -> Stability:
    """The line of a run whose time limit stopped the comparison."""
    return Stability(
        "stability: not measured (the time limit ran out); result.blocking_pairs() lists "
        "the blocking pairs",
        None,
    )


def skipped(n_pairs: int) -> Stability:
    """The line of a programme too large for the comparison to be measured."""
    return Stability(
        f"stability: not measured ({n_pairs:,} candidate pairs, more than "
        f"{MEASURED_PAIRS:,}); result.blocking_pairs() lists the blocking pairs",
        None,
    )


def _blocking(
    compat: Compatibility,
    rows: np.ndarray,
    cols: np.ndarray,
    capacity: np.ndarray,
    ranks: sp.csr_matrix | None,
) -> tuple[np.ndarray, np.ndarray]:
    return blocking_pairs(rows, cols, compat.scores, compat.allowed, capacity, mentee_ranks=ranks)


def assess(
    compat: Compatibility,
    rows: np.ndarray,
    cols: np.ndarray,
    capacity: np.ndarray,
    ranks: sp.csr_matrix | None,
    solved: MatchingResult,
    other: MatchingResult,
    *,
    stable: bool,
) -> Stability:
    """The stability line of a result: ``solved`` (pairs ``rows``, ``cols``) against ``other``.

    ``stable`` says that ``solved`` is the stable plan and ``other`` the
    optimum; otherwise the reverse. Objectives compare the solver's pairs only
    (required pairs are common to both plans).
    """
    b_rows, _ = _blocking(compat, rows, cols, capacity, ranks)
    n = int(b_rows.size)
    optimum, stable_plan = (other, solved) if stable else (solved, other)
    cost = float(optimum.objective - stable_plan.objective)
    share = f" ({100 * cost / optimum.objective:.1f}%)" if optimum.objective > 0 else ""
    fewer = optimum.n_matched - stable_plan.n_matched
    basis = "ranked preferences, then scores" if ranks is not None else "scores"
    if stable:
        head = (
            "stable: no blocking pairs"
            if n == 0
            else f"stable apart from the required pairs: {n} blocking pair(s)"
        )
        line = f"{head}; score cost vs the optimum: {cost:.3f}{share}"
        if fewer > 0:
            line += f"; the optimum also matches {fewer} more mentee(s)"
    else:
        # a plan that keeps previous pairs (or is cut) can score below the stable one
        way = "lower" if cost >= 0 else "higher"
        share = share.replace("(-", "(")
        plan = "the optimal plan" if cost >= 0 else "this plan"
        line = (
            f"{plan} has {n} blocking pair(s); a stable plan would score "
            f"{abs(cost):.3f} {way}{share}"
        )
        if fewer > 0:
            line += f" and match {fewer} fewer mentee(s)"
    return Stability(f"{line} (preferences: {basis})", n)


def blocking_frame(
    compat: Compatibility,
    mentors: Roster,
    mentees: Roster,
    rows: np.ndarray,
    cols: np.ndarray,
    capacity: np.ndarray,
    ranks: sp.csr_matrix | None,
) -> pd.DataFrame:
    """The blocking pairs of the pairs ``rows``, ``cols`` as a table of ids, with the gains.

    ``mentee_gain``: the pair's score minus the score of the mentee's mentor
    (the whole score when unmatched); ``mentor_gain``: the pair's score minus
    the lowest score among the mentor's mentees (the whole score when the
    mentor has room). With ranked preferences a mentee may block for a better
    rank at a lower score: its gain is then negative.
    """
    b_rows, b_cols = _blocking(compat, rows, cols, capacity, ranks)
    score = compat.pair_scores(b_rows, b_cols)
    n_rows, n_cols = compat.shape
    mentee_has = np.zeros(n_cols)
    mentee_has[cols] = compat.pair_scores(rows, cols)
    load = np.bincount(rows, minlength=n_rows)
    lowest = np.full(n_rows, np.inf)
    np.minimum.at(lowest, rows, compat.pair_scores(rows, cols))
    mentor_has = np.where(load[b_rows] < capacity[b_rows], 0.0, lowest[b_rows])
    return pd.DataFrame(
        {
            "mentor_id": mentors.ids[b_rows].astype(str),
            "mentee_id": mentees.ids[b_cols].astype(str),
            "score": score,
            "mentee_gain": score - mentee_has[b_cols],
            "mentor_gain": score - mentor_has,
        },
        columns=list(BLOCKING_COLUMNS),
    )
