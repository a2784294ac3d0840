"""Learning groups: leaders with 5–7 protégés each, under composition and accessibility rules.

Two engines solve the same problem:

* an exact CP-SAT model (boolean per allowed pair, group-open booleans with
  size bounds, composition rules as linear constraints on per-value counts,
  a lexicographic objective: most protégés placed, then the best objective),
  used when the instance is small enough to prove optimality and as the
  baseline a user would otherwise write by hand;
* for organisation scale, a construction by min-cost flow (the assignment
  optimum with group capacities and one ``max_count`` rule kept exactly; the
  same flow without minimum sizes gives the reported upper bound), a
  penalty-driven local search with vectorised move and swap gains that
  repairs the composition rules (strategic oscillation of the penalty
  weight), and large-neighbourhood search that re-solves a few groups at a
  time exactly with CP-SAT, choosing them along chains of protégés displaced
  from the rule-free optimum or among groups whose members would rather swap.

At organisation scale (over a million allowed pairs, thousands of protégés)
the construction's flows keep each protégé's best leaders only, local-search
passes repair only the groups that break a rule and sample the swaps, and the
checks and bounds read the protégé × protégé matrices by row blocks, making no
temporary copy of them.

Both are deterministic for a fixed seed: ``time_limit`` is turned into a
*deterministic* work budget (local-search work counted in calibrated units,
CP-SAT in its own deterministic time) sized to take at most
:data:`~pairwise.solvers._ortools.WORK_SHARE` (40 %) of the limit on an idle
2-core machine, and the wall clock is only a safety cap at exactly
``time_limit`` (or the run's deadline, see
:func:`pairwise.solvers._ortools.wall_deadline`): a result it cut says so in
``stopped_by_time_limit``.

The maximally-diverse-grouping kernels of :mod:`pairwise.solvers.mdgp` are not
reused: moves here must also weigh the fit to a leader, rule penalties, the
unassigned pool and the ``together`` mask, which the kernels of
:mod:`._groups_search` track together.

This module is the public entry; the engines live beside it:
:mod:`._groups_problem` (validation), :mod:`._groups_flow` (construction and
bound), :mod:`._groups_search` (local search), :mod:`._groups_cp` (CP-SAT
model, large-neighbourhood search) and :mod:`._groups_reasons` (pre-checks
and reasons).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import InfeasibleError, SolverError
from ..roster import PROTECTED_COLUMNS
from . import _ortools
from ._groups_cp import _explain, _lns, _solve_exact
from ._groups_flow import _bound, _construct, bound_source
from ._groups_problem import METHODS as METHODS
from ._groups_problem import _Problem, _validate
from ._groups_reasons import _PreCheck, _precheck, _reasons
from ._groups_search import _Budget, _local_search, _objective, _Search, _seat_waiting
from ._result import GroupingResult, Status

if TYPE_CHECKING:
    import pandas as pd
    import scipy.sparse as sp

__all__ = ["learning_groups"]

logger = logging.getLogger(__name__)

#: Largest number of allowed (leader, protégé) pairs for which ``method="auto"``
#: uses the exact model; above it the heuristic runs.
EXACT_PAIRS = 400

#: Default deterministic budget (calibrated seconds of work) when ``time_limit`` is
#: None: the heuristic then stops when large-neighbourhood search stalls, the exact
#: model (``method="auto"``) when proven optimal or after this much work.
_DEFAULT_HEURISTIC_LIMIT = 60.0

#: Share of the construction's measured time kept before the deadline for the final
#: bound when it is the one-pass "best leader" bound (measured: 0.4 of 1.5 CPU s at
#: 1,500 x 9,000).
_PASS_SHARE = 0.25

#: Calibrated seconds per allowed pair to select the construction's arcs at scale
#: (:func:`._groups_flow._flow_arcs`, two partial sorts by row blocks).
_SELECT_PER_PAIR = 3e-8


def learning_groups(
    fit: npt.ArrayLike | sp.sparray | sp.spmatrix,
    *,
    min_size: int | Sequence[int] | np.ndarray = 5,
    max_size: int | Sequence[int] | np.ndarray = 7,
    allowed: np.ndarray | None = None,
    attributes: pd.DataFrame | None = None,
    min_distinct: Mapping[str, int] | None = None,
    max_count: Mapping[str, int] | None = None,
    no_isolation: str | Iterable[str] | None = None,
    distance: np.ndarray | None = None,
    diversity_weight: float = 0.0,
    time_limit: float | None = None,
    seed: int = 0,
    weights: np.ndarray | Sequence[float] | None = None,
    together: np.ndarray | None = None,
    max_iterations: int | None = None,
    method: str = "auto",
    progress: Callable[[float, float | None], None] | None = None,
    protected: Iterable[str] = PROTECTED_COLUMNS,
) -> GroupingResult:
    """Form learning groups: each leader takes ``min_size``..``max_size`` protégés or none.

    Maximises, in this order: the number of protégés placed (the sum of
    ``weights`` of placed protégés when given); then ``objective`` =
    Σ fit[label[p], p] + ``diversity_weight`` × Σ distance[p, q] over protégé
    pairs p < q in the same group. Every group satisfies the composition rules
    and, with ``together``, every two members may meet.

    Parameters
    ----------
    fit : array_like or scipy.sparse matrix, shape (n_leaders, n_proteges)
        Larger is better. A sparse matrix's stored entries are the allowed pairs.
    min_size, max_size : int or array of int per leader
        Size of every group that opens (default 5..7).
    allowed : ndarray of bool, optional
        Pairs that may be used (accessibility, level rules, ...).
    attributes : pandas.DataFrame, optional
        One row per protégé (column order of ``fit``) holding the rule columns.
    min_distinct : dict column -> int, optional
        Each group has at least this many distinct known values.
    max_count : dict column -> int, optional
        No group has more members than this with the same known value.
    no_isolation : str or list of str, optional
        No group has exactly one member with a given known value. Missing
        values (None, NaN, blank) are "unknown": never isolated, never capped,
        not counted as a distinct value.
    distance : ndarray, shape (n_proteges, n_proteges), optional
        Dissimilarity of protégés; only the upper triangle is read. A float32
        matrix is kept in float32 (half the memory of a large pool; sums are
        taken in float64), any other in float64.
    diversity_weight : float
        Weight of the within-group dissimilarity in the objective.
    time_limit : float, optional
        Wall-clock seconds for the call. The search spends a deterministic
        work budget of 0.4 × ``time_limit`` calibrated seconds (about that
        long on an idle 2-core machine), so the same seed gives the same
        groups on an idle or a loaded machine; only when the machine is so
        slow that the work would overrun ``time_limit`` does the wall clock
        cut it (then ``status="feasible"`` and ``stopped_by_time_limit``).
        None: the exact model runs to proven optimality, the heuristic until
        large-neighbourhood search stalls (at most 60 calibrated seconds),
        with no wall clock.
    seed : int
        Same inputs and seed give the same groups.
    weights : array of float >= 0, optional
        Priority per protégé. When not everybody can be placed, the sum of
        weights of placed protégés is maximised first (whole numbers exactly,
        otherwise to a relative 1e-6), then ``objective``.
    together : ndarray of bool, shape (n_proteges, n_proteges), optional
        Symmetric mask, True where two protégés may share a group (e.g. they
        have a common working-hours window of N hours; for intervals on a
        line, pairwise overlap implies a common window, so a pairwise mask is
        exact for that rule).
    max_iterations : int, optional
        Deterministic cap on heuristic iterations (local-search passes plus
        large-neighbourhood steps), independent of the clock; the exact model
        ignores it.
    method : {"auto", "exact", "heuristic"}
        ``"exact"``: one CP-SAT model of the whole problem; ``"heuristic"``:
        flow construction, local search and large-neighbourhood search;
        ``"auto"``: exact when there are at most 400 allowed pairs and no
        diversity term (then None means at most 60 units), else heuristic.
    progress : callable, optional
        Called as ``progress(objective, bound)`` with the best objective so
        far (``bound`` None while searching), at most about twice a second.
    protected : iterable of str
        Protected columns (a programme passes its ``[program] protected``;
        default :data:`pairwise.roster.PROTECTED_COLUMNS`, gender and
        ethnicity): ``reasons`` and ``diagnosis`` never state a person's value
        in them, and name a value only in a sentence about at least five
        protégés of the pool.

    Returns
    -------
    GroupingResult
        ``labels`` (leader per protégé, -1 unassigned), recomputed
        ``objective``, ``status`` ("optimal" only when proven), ``bound`` (an
        upper bound on the objective of groupings placing as many protégés:
        CP-SAT's bound, or the min-cost-flow optimum without minimum sizes
        and composition rules, one ``max_count`` rule excepted, plus a
        per-protégé bound on the diversity term; above a million allowed
        pairs the leaders' capacities are dropped too, ``bound_source``
        "best leader"), ``reasons`` (a
        sentence for every unassigned protégé, key ``str(p)``, and every
        leader without a group, key ``f"leader:{g}"``). ``options`` records
        the options and ``scale`` (integer units per unit of objective given
        to OR-Tools), ``diagnosis`` (pre-check notes, each naming a fix),
        ``bound_source`` and, for the heuristic, ``first_feasible_time``
        (seconds until the first grouping meeting every rule).
        ``stopped_by_time_limit`` is True when the wall clock cut the search.

    Raises
    ------
    InputError
        Bad shapes, values or rule specs (unknown column: the message lists
        the available ones), unknown ``method``.
    InfeasibleError
        No group at all can satisfy the rules; ``reasons`` names them and a fix.
    SolverError
        ``method="exact"`` and CP-SAT found no grouping within ``time_limit``.

    Examples
    --------
    >>> import numpy as np
    >>> fit = np.array([[3, 1, 2, 1], [1, 3, 1, 2]])
    >>> res = learning_groups(fit, min_size=2, max_size=2)
    >>> res.labels.tolist(), res.objective, res.status
    ([0, 1, 0, 1], 10.0, 'optimal')
    """
    t0 = time.perf_counter()
    options = _options_record(
        min_size=min_size,
        max_size=max_size,
        min_distinct=min_distinct,
        max_count=max_count,
        no_isolation=no_isolation,
        diversity_weight=diversity_weight,
        time_limit=time_limit,
        weights=weights,
        together=together,
        max_iterations=max_iterations,
        method=method,
    )
    prob = _validate(
        fit,
        min_size=min_size,
        max_size=max_size,
        allowed=allowed,
        attributes=attributes,
        min_distinct=min_distinct,
        max_count=max_count,
        no_isolation=no_isolation,
        distance=distance,
        diversity_weight=diversity_weight,
        time_limit=time_limit,
        seed=seed,
        weights=weights,
        together=together,
        max_iterations=max_iterations,
        method=method,
        protected=protected,
    )
    seed = int(seed)
    pre = _precheck(prob)
    clock = _Clock(_ortools.deadline_after(t0, time_limit), progress)
    labels, status, bound, used_method = _solve(
        prob,
        pre.viable,
        options,
        method=method,
        time_limit=time_limit,
        max_iterations=max_iterations,
        seed=seed,
        clock=clock,
    )
    objective = _objective(prob, labels)
    bound = _final_bound(prob, labels, objective, status, bound, pre.viable, options)
    if not np.any(labels >= 0):
        raise _no_group_error(prob, labels, pre, seed, time_limit, weights is not None)
    reasons = _reasons(prob, labels, pre.diag, pre.excluded, weights is not None)
    wall = time.perf_counter() - t0
    logger.debug("learning_groups: %s, objective %.6g, bound %s", used_method, objective, bound)
    return GroupingResult(
        labels=labels,
        objective=objective,
        status=status,
        bound=bound,
        wall_time=wall,
        method=used_method,
        seed=seed,
        options=options,
        reasons=reasons,
        diagnosis=tuple(pre.notes),
        scale=prob.scale,
        stopped_by_time_limit=clock.stopped,
    )


def _options_record(
    *,
    min_size: Any,
    max_size: Any,
    min_distinct: Mapping[str, int] | None,
    max_count: Mapping[str, int] | None,
    no_isolation: str | Iterable[str] | None,
    diversity_weight: Any,
    time_limit: float | None,
    weights: Any,
    together: Any,
    max_iterations: int | None,
    method: str,
) -> dict[str, Any]:
    """The options as recorded in ``GroupingResult.options`` (the solve adds its own keys)."""
    return {
        "min_size": min_size if np.ndim(min_size) == 0 else "per leader",
        "max_size": max_size if np.ndim(max_size) == 0 else "per leader",
        "min_distinct": dict(min_distinct or {}),
        "max_count": dict(max_count or {}),
        "no_isolation": [no_isolation]
        if isinstance(no_isolation, str)
        else list(no_isolation or []),
        "diversity_weight": float(diversity_weight)
        if isinstance(diversity_weight, int | float)
        else diversity_weight,
        "time_limit": time_limit,
        "weights": weights is not None,
        "together": together is not None,
        "max_iterations": max_iterations,
        "method": method,
    }


def _solve(
    prob: _Problem,
    viable: np.ndarray,
    options: dict[str, Any],
    *,
    method: str,
    time_limit: float | None,
    max_iterations: int | None,
    seed: int,
    clock: _Clock,
) -> tuple[np.ndarray, Status, float | None, str]:
    """Exact CP-SAT when asked for or small enough, else (or if it finds nothing) the heuristic.

    Returns ``(labels, status, bound, method used)``; ``bound`` is CP-SAT's
    (None from the heuristic). Records ``bound_source`` and, for the
    heuristic, ``first_feasible_time`` in ``options``; ``clock.stopped``
    when the wall clock cut a search.
    """
    n_pairs = int(prob.cand[viable].sum())
    # CP-SAT proves small instances quickly, but not with the quadratic diversity term
    use_exact = method == "exact" or (
        method == "auto" and n_pairs <= EXACT_PAIRS and prob.wd is None
    )
    used_method = "flow+local-search+lns"
    if use_exact:
        exact_limit = time_limit
        if exact_limit is None and method == "auto":
            exact_limit = _DEFAULT_HEURISTIC_LIMIT
        out = _solve_exact(prob, clock.budget(exact_limit, None), seed)
        options["bound_source"] = "cp-sat"
        cut = clock.stopped or _ortools.past(clock.deadline)
        if out is not None and (np.any(out[0] >= 0) or not cut):
            exact_labels, exact_status, bound = out
            return exact_labels.astype(np.int64), exact_status, bound, "cp-sat"
        if method == "exact" and not cut:
            raise SolverError(
                f"CP-SAT found no grouping within time_limit={time_limit}; raise time_limit "
                "or use method='heuristic' (or 'auto')"
            )
        # cut by the run's clock before CP-SAT placed anyone, it proves nothing: the
        # flow construction below still forms groups (flagged as cut), never "no group"
        used_method = "flow+local-search+lns (cp-sat " + (
            "cut at the time limit)" if cut else "found nothing in time)"
        )
    limit = _DEFAULT_HEURISTIC_LIMIT if time_limit is None else float(time_limit)
    budget = clock.budget(limit, max_iterations)
    rng = np.random.default_rng(seed)
    labels, proven = _heuristic(prob, viable, budget, rng, seed, stall_free=time_limit is None)
    status: Status = "optimal" if proven else "feasible"
    if not proven and not np.any(labels >= 0):
        # the search placed nobody: let the exact model decide whether any group exists
        out = _solve_exact(prob, clock.budget(min(limit, 30.0), None), seed)
        if out is not None and np.any(out[0] >= 0):
            labels = out[0]
            used_method += "+cp-sat"
    options["first_feasible_time"] = budget.first_feasible
    options["bound_source"] = "flow"
    return labels.astype(np.int64), status, None, used_method


class _Clock:
    """The wall-clock deadline and progress channel shared by every search of one call."""

    def __init__(
        self, deadline: float | None, progress: Callable[[float, float | None], None] | None
    ) -> None:
        self.deadline = deadline
        self.progress = progress
        self.budgets: list[_Budget] = []

    def budget(self, time_limit: float | None, max_iterations: int | None) -> _Budget:
        """A work budget of :data:`WORK_SHARE` × ``time_limit`` calibrated seconds."""
        work = None if time_limit is None else _ortools.WORK_SHARE * float(time_limit)
        made = _Budget(work, max_iterations, deadline=self.deadline, progress=self.progress)
        self.budgets.append(made)
        return made

    @property
    def stopped(self) -> bool:
        """Whether the wall clock cut any search of this call."""
        return any(b.stopped_by_time_limit for b in self.budgets)


def _heuristic(
    prob: _Problem,
    viable: np.ndarray,
    budget: _Budget,
    rng: np.random.Generator,
    seed: int,
    *,
    stall_free: bool,
) -> tuple[np.ndarray, bool]:
    """Flow construction, penalty local search to a rule-feasible grouping, then LNS."""
    started = time.perf_counter()
    info: dict[str, int] = {}
    labels, ideal = _construct(prob, viable, info)
    # two min-cost flows over the arcs they use, measured; at scale also the
    # selection of those arcs among every allowed pair
    n_cand = int(np.count_nonzero(prob.cand))
    select = _SELECT_PER_PAIR * n_cand if info["arcs"] < n_cand else 0.0
    budget.spend(1.5e-6 * info["arcs"] + select)
    if budget.deadline is not None:
        # the final bound is one more such flow: keep its time (as measured here,
        # on this machine under its present load) before the deadline; at scale it
        # is one pass over the allowed pairs instead, about the arcs' selection
        spent = time.perf_counter() - started
        budget.deadline -= spent if bound_source(prob) == "flow" else _PASS_SHARE * spent
    search = _Search(prob, labels)
    spread = prob.fit[prob.cand]
    lam0 = float(spread.max() - spread.min()) if spread.size else 1.0
    if prob.wd is not None:
        peak = max(abs(float(prob.wd.max())), abs(float(prob.wd.min())))  # no |wd| copy
        lam0 += peak * float(prob.max_size.max())
    lam0 = max(lam0, 1e-9)
    lam_w = 1e3 * lam0 * max(1.0, float(prob.max_size.max()))
    best = _local_search(search, budget, rng, lam_w=lam_w, lam0=lam0)
    if not np.array_equal(best, search.lab):  # a rebuild costs two protégé² passes
        search.reset(best)
    budget.first_feasible = time.perf_counter() - budget.start
    budget.report(search.objective)
    if not search.total_pen == 0:  # pragma: no cover - _local_search guarantees this
        raise SolverError("local search ended with broken composition rules")
    stall_limit = max(20, 2 * int(viable.sum())) if stall_free else 10**9
    _lns(search, budget, rng, seed, stall_limit=stall_limit, ideal=ideal)
    # A budget that ends inside a pass can leave protégés waiting beside a group with room
    # that takes them with every rule kept: seat them (one evaluation each, rules kept).
    _seat_waiting(search, lam_w=lam_w, lam=4.0 * lam0, deadline=budget.deadline)
    return search.lab.copy(), search.proven


def _final_bound(
    prob: _Problem,
    labels: np.ndarray,
    objective: float,
    status: Status,
    bound: float | None,
    viable: np.ndarray,
    options: dict[str, Any],
) -> float | None:
    """The tighter of CP-SAT's bound and the flow bound, never below the objective.

    Updates ``options["bound_source"]`` to the one reported.
    """
    if status == "optimal":
        return objective
    if not np.any(labels >= 0):
        return bound
    # the rule-free flow bound holds for every grouping placing as many protégés
    flow_bound = _bound(prob, int(np.count_nonzero(labels >= 0)), viable)
    if flow_bound is not None:
        if bound is not None and bound < flow_bound:
            options["bound_source"] = "cp-sat"
        else:
            bound = flow_bound
            options["bound_source"] = bound_source(prob)
    if bound is not None:
        bound = max(bound, objective)
    return bound


def _no_group_error(
    prob: _Problem,
    labels: np.ndarray,
    pre: _PreCheck,
    seed: int,
    time_limit: float | None,
    weights_given: bool,
) -> InfeasibleError:
    """The error when the search placed nobody: the rule families in conflict, then notes.

    (The pre-checks' fatal findings raised earlier, so none remain to list here.)
    """
    reasons = _explain(prob, seed, time_limit=min(10.0, time_limit or 10.0))
    reasons += pre.notes
    why = _reasons(prob, labels, pre.diag, pre.excluded, weights_given)
    if not reasons:
        reasons = sorted(set(why.values()))
    return InfeasibleError(
        "no learning group can be formed that satisfies the rules: " + reasons[0], reasons
    )
