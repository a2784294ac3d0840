"""A mentoring programme: compatibility models plus solver options, run end to end.

:class:`Program` is the high-level API of DESIGN: ``program.pairs(mentors,
mentees)``, ``program.groups(leaders, proteges)``, ``program.peers(people)``.
Each call validates the rosters, builds the compatibility, runs the right
solver and hands the answer to :mod:`pairwise.results`, which joins it back to
ids with a reason for everyone left out. This module orchestrates only:
programmes are built from TOML by :mod:`pairwise.config`
(:func:`pairwise.load_program`) or in code.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _lifecycle
from . import _stability as S
from . import criteria as C
from . import rules as R
from ._certify import certified_solve
from ._diagnosis import diagnose_groups, diagnose_pairs
from ._run import ProgressCallback, Run
from .compatibility import Compatibility, CompatibilityModel
from .errors import InfeasibleError, InputError
from .results import (
    GroupsResult,
    PairsResult,
    PeersResult,
    RunInfo,
    ValidationReport,
    groups_result,
    pairs_result,
    peers_result,
)
from .roster import Roster, load_roster
from .solvers import _ortools
from .solvers._result import GroupingResult, MatchingResult

if TYPE_CHECKING:
    from ._suggest import SuggestionsResult

__all__ = ["GroupOptions", "Program"]

logger = logging.getLogger(__name__)

RosterLike = Roster | pd.DataFrame | str | os.PathLike[str]

#: Above this many candidate pairs, ``top_k = 0`` ("auto") switches to the sparse form.
AUTO_SPARSE_PAIRS = 25_000_000
AUTO_TOP_K = 50
#: With kept candidates and fewer places (total capacity) than mentees, each mentor
#: also keeps its ``ceil(MENTOR_TOP_FACTOR * capacity)`` best mentees: the pairs a
#: capacity-starved optimum uses are often not among the mentees' own top k.
MENTOR_TOP_FACTOR = 2.0

#: Seconds kept back from the run's budget for what follows the search: the
#: solver's own bound and reasons, the rule checks and the result tables. Measured
#: on 150 leaders x 930 protégés (groups, the heaviest per person: 0.2 s after the
#: search in the solver, 0.75 s for the result tables, mostly the per-group
#: summary), so a fixed 0.5 s plus 0.4 ms per person: 0.9 s there.
RESULTS_RESERVE = 0.5
RESULTS_RESERVE_PER_PERSON = 4e-4
#: Pairs results (tables, audit, diagnosis within its own deadline) cost about an
#: eighth of groups' per person (4.4 s for 120,000 people, measured end to end).
PAIRS_RESERVE_SHARE = 8


def _reserve(n_people: int) -> float:
    return RESULTS_RESERVE + RESULTS_RESERVE_PER_PERSON * n_people


#: Writing the result files after the diagnosis: about 12 µs per person measured at
#: 200,000 people (CSV tables and summary); kept back from the diagnosis' deadline.
WRITE_RESERVE = 0.2
WRITE_RESERVE_PER_PERSON = 1.5e-5


def _diagnosis_deadline(run: Run, n_people: int) -> float | None:
    """When the diagnosis must stop measuring so that the files are written within the budget."""
    if run.time_limit is None:
        return None
    return run.start + run.time_limit - WRITE_RESERVE - WRITE_RESERVE_PER_PERSON * n_people


def _solver_deadline(run: Run, n_people: int) -> float | None:
    """When the solvers must stop so that the run's results are built within its budget."""
    if run.time_limit is None:
        return None
    return run.start + max(run.time_limit - _reserve(n_people), 0.0)


def _solver_limit(time_limit: float | None, n_people: int) -> float | None:
    """The ``time_limit`` a solver gets: the programme's minus the results' reserve.

    It depends on the programme and the roster sizes only, never on the clock,
    so the solvers' deterministic work budgets (and answers) do not either.
    """
    if time_limit is None:
        return None
    return max(time_limit - _reserve(n_people), 0.1 * time_limit)


@dataclass(frozen=True)
class GroupOptions:
    """How learning groups are formed (the ``[groups]`` table of a programme).

    ``protected`` lists the protected columns (``[program] protected``): their
    values never appear in a per-person reason. ``skippable`` names the
    column keys (``min_distinct``, ``max_count``, ``no_isolation``,
    ``diversity_columns``) that come from the embedded default programme: a
    column they name that the protégé roster lacks is skipped with a note
    (:meth:`for_roster`). Columns named by any other key — by the user's
    programme file, or by code — are required.
    """

    min_size: int = 5
    max_size: int = 7
    min_level_gap: int | None = 2
    min_distinct: Mapping[str, int] = field(default_factory=dict)
    max_count: Mapping[str, int] = field(default_factory=dict)
    no_isolation: tuple[str, ...] = ()
    common_hours: float | None = 1.0
    shared_language: bool = True
    diversity_columns: tuple[str, ...] = ()
    diversity_weight: float = 0.0
    priority_column: str | None = "priority"
    protected: tuple[str, ...] = ("gender", "ethnicity")
    skippable: frozenset[str] = frozenset()

    def rule_options(self) -> dict[str, Any]:
        """The composition rules as the group solver and the checks take them (None: unused)."""
        return {
            "min_distinct": dict(self.min_distinct) or None,
            "max_count": dict(self.max_count) or None,
            "no_isolation": list(self.no_isolation) or None,
        }

    def for_roster(self, proteges: Roster) -> tuple[GroupOptions, tuple[str, ...]]:
        """These options for one protégé roster: default columns it lacks dropped, with notes.

        Parameters
        ----------
        proteges : Roster

        Returns
        -------
        (GroupOptions, tuple of str)
            The options without the columns of ``skippable`` keys that the
            roster lacks (absent or entirely blank), and one note per column
            dropped, e.g. ``"group rule no_isolation on `ethnicity` skipped: no
            `ethnicity` column in proteges.csv"``.

        Raises
        ------
        InputError
            When a key that is not ``skippable`` names a column the roster
            lacks; the message names the key, the column, the roster and the fix.
        """
        changes: dict[str, Any] = {}
        notes: list[str] = []
        absent: list[tuple[str, str]] = []
        for key in ("min_distinct", "max_count", "no_isolation", "diversity_columns"):
            value = getattr(self, key)
            lacking = [c for c in value if not proteges.has(c)]
            if not lacking:
                continue
            if key not in self.skippable:
                absent += [(key, c) for c in lacking]
                continue
            notes += [
                f"group rule {key} on `{c}` skipped: no `{c}` column in {proteges.display}"
                for c in lacking
            ]
            kept = [c for c in value if c not in lacking]
            changes[key] = (
                {c: value[c] for c in kept} if isinstance(value, Mapping) else tuple(kept)
            )
        if absent:
            found = ", ".join(map(str, proteges.frame.columns[:12]))
            named = "; ".join(f"`groups.{k}` names column `{c}`" for k, c in absent[:5])
            more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
            raise InputError(
                f"{named}{more}, which {proteges.display} lacks (or leaves blank); found "
                f"{found}. Fix: add the column (or map yours to it under [columns]), or "
                "remove it from [groups] in the programme."
            )
        for note in notes:
            logger.info("%s", note)
        return (dataclasses.replace(self, **changes) if changes else self), tuple(notes)


def _as_roster(source: RosterLike, role: str, rename: Mapping[str, str] | None) -> Roster:
    if isinstance(source, Roster):
        return source
    return load_roster(source, role=role, rename=rename or None)


@dataclass(frozen=True)
class Program:
    """A programme: who may pair with whom, how pairs are scored, how the solver runs.

    Parameters
    ----------
    model : CompatibilityModel
        Mentor × mentee criteria and rules (``pairs``).
    peer_model : CompatibilityModel
        Person × person criteria and rules for one pool (``peers``).
    group_model : CompatibilityModel
        Leader × protégé criteria and rules (``groups``).
    name : str
    objective : {"total", "fair", "stable"}
        ``"stable"``: mentor–mentee pairs form the mentee-optimal stable
        matching (:func:`pairwise.solvers.stable_matching`; mentees rank by
        their ``preferences`` column, then by score, mentors by score); peers
        and groups then use ``"total"``. Every pairs summary says what the
        other choice would give (see :meth:`pairs`).
    time_limit : float or None
        Wall-clock seconds for a whole run (scoring, solving, results; the
        CLI also counts loading the files). The solvers spend a deterministic
        work budget sized from it (the same seed gives the same answer on an
        idle or a loaded machine) and are cut at the run's end minus the
        time the results take; a cut result says so
        (``stopped_by_time_limit``). None: no limit.
    seed : int
    capacity : int
        Mentees per mentor when the mentor roster has no ``capacity_column``
        (or a blank cell).
    capacity_column, priority_column : str or None
    min_load : int
    top_k : int
        0 = automatic (dense below 25 million candidate pairs, else the 50 best
        mentors per mentee); k > 0 = always the sparse top-k form. Pairs
        solved on top-k candidates are checked against every dropped pair
        (LP duals): the result's ``certified`` / ``optimal_over`` say whether
        it is optimal over all pairs or over the kept candidates only. When
        the mentors' places (total capacity) are fewer than the mentees, each
        mentor also keeps its ``ceil(2 x capacity)`` best mentees as candidates
        (:data:`MENTOR_TOP_FACTOR`), found in the same pass.
    groups_options : GroupOptions
    rename : mapping
        Input column -> pairwise column, applied when rosters are loaded.
    at : date or None
        Date on which time-zone offsets are computed (summer time).
    preset : {"mentoring", "reverse", "buddy", "expert"}
        The preset the programme was built from (``[program] preset``).

    Examples
    --------
    >>> import pairwise as pw
    >>> frames = pw.datasets.demo_rosters()
    >>> result = pw.load_program().pairs(frames["mentors"], frames["mentees"])
    >>> len(result.pairs) + int((result.unmatched["role"] == "mentee").sum()) == len(
    ...     frames["mentees"])
    True
    """

    model: CompatibilityModel
    peer_model: CompatibilityModel
    group_model: CompatibilityModel
    name: str = "Mentoring programme"
    objective: str = "total"
    time_limit: float | None = 30.0
    seed: int = 0
    capacity: int = 1
    capacity_column: str | None = "capacity"
    min_load: int = 0
    priority_column: str | None = "priority"
    top_k: int = 0
    groups_options: GroupOptions = field(default_factory=GroupOptions)
    rename: Mapping[str, str] = field(default_factory=dict)
    at: _dt.date | None = None
    preset: str = "mentoring"

    def replace(self, **changes: Any) -> Program:
        """A copy with some fields changed (e.g. ``time_limit``, ``seed``)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ helpers
    @property
    def _run(self) -> RunInfo:
        return RunInfo(
            programme=self.name,
            objective=self.objective,
            seed=self.seed,
            protected=(*self.model.protected, *self.groups_options.protected),
        )

    def _capacity(self, mentors: Roster) -> np.ndarray:
        n = len(mentors)
        cap = np.full(n, self.capacity, dtype=np.int64)
        col = self.capacity_column
        if col and mentors.has(col):
            values = pd.to_numeric(mentors.column(col), errors="coerce").to_numpy(float)
            known = ~np.isnan(values)
            cap[known] = values[known].astype(np.int64)
        return cap

    def _weights(self, roster: Roster, column: str | None) -> np.ndarray | None:
        if not column or not roster.has(column):
            return None
        values = pd.to_numeric(roster.column(column), errors="coerce").to_numpy(float)
        values = np.where(np.isnan(values), 1.0, values)
        if np.all(values == 1.0):
            return None
        return values

    def _score(
        self, model: CompatibilityModel, rows: Roster, cols: Roster, client: Any = None
    ) -> Compatibility:
        top_k = self.top_k
        if top_k == 0 and len(rows) * len(cols) > AUTO_SPARSE_PAIRS:
            top_k = AUTO_TOP_K
        row_top_k = None
        if top_k and model is self.model:
            cap = np.maximum(self._capacity(rows), 0)
            if int(cap.sum()) < len(cols):  # places < mentees: two-sided candidates
                row_top_k = np.ceil(MENTOR_TOP_FACTOR * cap).astype(np.int64)
        return model.score(rows, cols, top_k=top_k or None, client=client, row_top_k=row_top_k)

    def _required_pairs(
        self, compat: Compatibility, m: Roster, e: Roster, cap: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
        """Required pairs that every other rule allows, to be formed before solving.

        Returns their row and column indices, and a reason for each required
        mentee whose pair breaks another rule (that mentee is then not matched).
        """
        rows: list[int] = []
        cols: list[int] = []
        reasons: dict[int, str] = {}
        required = [r for r in self.model.rules if isinstance(r, R.Require)]
        for rule in required:
            for a, b in rule.pairs:
                i, j = m.position(a), e.position(b)
                if compat.is_candidate(i, j):
                    rows.append(i)
                    cols.append(j)
                else:
                    reasons[j] = _required_pair_reason(compat, a, b)
        r = np.asarray(rows, dtype=np.intp)
        c = np.asarray(cols, dtype=np.intp)
        over: np.ndarray | list[int] = (
            np.flatnonzero(np.bincount(r, minlength=len(m)) > cap) if len(r) else []
        )
        if len(over):
            names = ", ".join(
                f"{m.ids[i]} (required for {int(np.sum(r == i))}, capacity {cap[i]})"
                for i in over[:5]
            )
            raise InfeasibleError(
                f"required pairs exceed mentor capacity: {names}. Fix: raise the capacity "
                "or remove pairs from rules.require."
            )
        return r, c, reasons

    # ------------------------------------------------------------------ pairs
    def _start(self, progress: ProgressCallback | None, run: Run | None) -> Run:
        """The run's clock: the caller's (already started, e.g. by the CLI) or a new one."""
        return run if run is not None else Run(self.time_limit, progress)

    def pairs(
        self,
        mentors: RosterLike,
        mentees: RosterLike,
        *,
        pinned: _lifecycle.PairsSource | None = None,
        previous: _lifecycle.PairsSource | None = None,
        max_changes: int | None = None,
        progress: ProgressCallback | None = None,
        run: Run | None = None,
        client: Any = None,
    ) -> PairsResult:
        """Mentor–mentee pairs: one-to-one, or one-to-many when mentors take several.

        Every mentee is matched if an allowed mentor has room (priority mentees
        first), then the lowest score is raised (``objective = "fair"``), then
        the total. Mentees and mentors left out are listed with the reason.

        ``pinned`` pairs (a DataFrame or CSV path with ``mentor_id``,
        ``mentee_id``) are formed first. ``previous`` (last cohort's pairs, same
        form) are kept where still allowed, right after the number matched and
        priority and before any score, so a dropout or a late joiner changes as
        few pairs as possible; ``max_changes`` caps the previous pairs broken
        by the solve (pairs of people who left, pairs no longer allowed and
        pins do not count). ``result.changes`` lists kept / broken / new pairs
        with why (see :mod:`pairwise._lifecycle`).

        ``progress`` receives a :class:`pairwise._run.Progress` at each phase
        ("scoring", "solving", "results"); ``run`` is a :class:`pairwise._run.Run`
        whose clock already started (default: one started now, with this
        programme's ``time_limit``), so the whole run keeps that budget.

        With ``objective = "stable"`` the pairs are the mentee-optimal stable
        matching instead. Either way the summary compares the two plans (up
        to 2 million candidate pairs): the cost of stability against the
        optimum, or the blocking pairs of the optimal plan;
        ``result.blocking_pairs()`` lists them.
        ``client`` (a ``distributed.Client`` or a scheduler address; needs
        ``pairwise[dask]``) scores the candidates on a Dask cluster, with
        exactly the local result; the solve stays on this machine.

        Raises
        ------
        InputError
            Bad rosters or programme (``min_load`` with ``objective = "stable"``).
            Also a bad ``pinned`` / ``previous`` table, an unknown pinned id or
            a pin that breaks a rule.
        InfeasibleError
            ``min_load`` cannot be met, pins exceed a capacity, or no plan
            breaks at most ``max_changes`` previous pairs.
        """
        run = self._start(progress, run)
        m = _as_roster(mentors, "mentor", self.rename)
        e = _as_roster(mentees, "mentee", self.rename)
        run.phase("scoring")
        compat = self._score(self.model, m, e, client)
        cap = self._capacity(m)
        # The priority column places mentees first; it never multiplies scores.
        priority = self._weights(e, self.priority_column)
        fixed_rows, fixed_cols, fixed_reasons = self._required_pairs(compat, m, e, cap)
        plan = _lifecycle.plan_pairs(
            compat, m, e, cap, (fixed_rows, fixed_cols), pinned=pinned, previous=previous
        )
        fixed_rows, fixed_cols = plan.fixed_rows, plan.fixed_cols
        ranks = S.preference_ranks(self.model, m, e)
        # pair results take ~40 µs a person (groups' 0.4 ms sized the reserve): an eighth
        n_reserve = (len(m) + len(e)) // PAIRS_RESERVE_SHARE
        limit = _solver_limit(self.time_limit, n_reserve)
        run.phase("solving")
        with _ortools.wall_deadline(_solver_deadline(run, n_reserve)):
            # top-k candidates: prove the result optimal over all pairs, or say it is not
            kept = "" if plan.solver_previous is None else ", keeping previous pairs"
            try:
                solved, compat = certified_solve(
                    compat,
                    lambda c: self._solve_pairs(
                        c,
                        cap,
                        priority,
                        fixed_rows,
                        fixed_cols,
                        limit,
                        mentee_ranks=ranks,
                        previous=plan.solver_previous,
                        max_changes=max_changes,
                    ),
                    capacity=cap,
                    priority=priority,
                    fixed_rows=fixed_rows,
                    fixed_cols=fixed_cols,
                    objective=self.objective + kept,
                    min_load=self.min_load,
                )
            except InfeasibleError as error:
                raise _lifecycle.translate_infeasible(error, m) from error
            inputs = (compat, cap, priority, fixed_rows, fixed_cols, limit, ranks)
            stability = self._stability(solved, *inputs)
        run.phase("results")
        result = pairs_result(
            compat,
            solved,
            m,
            e,
            capacity=cap,
            fixed_rows=fixed_rows,
            fixed_cols=fixed_cols,
            fixed_reasons=fixed_reasons,
            run=self._run,
        )
        rows = np.concatenate([solved.rows, fixed_rows]).astype(np.int64)
        cols = np.concatenate([solved.cols, fixed_cols]).astype(np.int64)
        blocking = functools.partial(S.blocking_frame, compat, m, e, rows, cols, cap, ranks)
        notes = list(result.options.get("notes", ()))
        if self.objective == "stable" and priority is not None:
            notes.append("the priority column is not used by objective 'stable'")
        options = {**result.options, "stability": stability.line, "notes": notes}
        matched = np.concatenate([np.asarray(solved.cols, dtype=np.intp), fixed_cols])
        end = _diagnosis_deadline(run, len(m) + len(e))
        diagnosis = diagnose_pairs(self.model, compat, m, e, cap, matched, deadline=end)
        changes = _lifecycle.pairs_changes(plan, result.pairs, priority=priority is not None)
        return dataclasses.replace(
            result, options=options, _blocking=blocking, diagnosis=diagnosis, changes=changes
        )

    def _stability(
        self,
        solved: MatchingResult,
        compat: Compatibility,
        cap: np.ndarray,
        priority: np.ndarray | None,
        fixed_rows: np.ndarray,
        fixed_cols: np.ndarray,
        time_limit: float | None,
        ranks: Any,
    ) -> S.Stability:
        """The summary's stability line: the stable plan against the optimum (small enough)."""
        if solved.stopped_by_time_limit:
            return S.cut_short()
        size = S.n_candidates(compat)
        if size > S.MEASURED_PAIRS:
            return S.skipped(size)
        stable = self.objective == "stable"
        other = self.replace(objective="total" if stable else "stable")._solve_pairs(
            compat, cap, priority, fixed_rows, fixed_cols, time_limit, mentee_ranks=ranks
        )
        if other.stopped_by_time_limit:
            return S.cut_short()
        rows = np.concatenate([solved.rows, fixed_rows]).astype(np.int64)
        cols = np.concatenate([solved.cols, fixed_cols]).astype(np.int64)
        return S.assess(compat, rows, cols, cap, ranks, solved, other, stable=stable)

    def _solve_pairs(
        self,
        compat: Compatibility,
        cap: np.ndarray,
        priority: np.ndarray | None,
        fixed_rows: np.ndarray,
        fixed_cols: np.ndarray,
        time_limit: float | None = None,
        *,
        mentee_ranks: Any = None,
        previous: tuple[np.ndarray, np.ndarray] | None = None,
        max_changes: int | None = None,
    ) -> MatchingResult:
        """One-to-one when every mentor takes one mentee, else one-to-many (or stable).

        Required pairs (``fixed_*``) are formed first: the solver sees the rest
        (and ``previous`` / ``max_changes``, see :func:`pairwise.solvers.one_to_one`).
        """
        from .solvers import one_to_many, one_to_one, stable_matching

        scores, allowed = compat.scores, compat.allowed
        free_cap = cap.copy()
        np.subtract.at(free_cap, fixed_rows, 1)
        if len(fixed_cols):
            scores, allowed = compat.without_columns(fixed_cols)
        if self.objective == "stable":
            if self.min_load:
                raise InputError(
                    f"`pairs.min_load` must be 0 with objective 'stable'; got {self.min_load}. "
                    'Fix: set `pairs.min_load = 0`, or `program.objective = "total"`.'
                )
            return stable_matching(
                scores,
                allowed,
                free_cap,
                mentee_ranks=mentee_ranks,
                time_limit=time_limit,
                seed=self.seed,
            )
        if np.all(free_cap == 1) and self.min_load == 0 and len(fixed_cols) == 0:
            return one_to_one(
                scores,
                allowed,
                objective=self.objective,
                priority=priority,
                time_limit=time_limit,
                seed=self.seed,
                previous=previous,
                max_changes=max_changes,
            )
        min_load = np.maximum(self.min_load - np.bincount(fixed_rows, minlength=len(cap)), 0)
        return one_to_many(
            scores,
            free_cap,
            allowed,
            min_load=min_load,
            objective=self.objective,
            priority=priority,
            time_limit=time_limit,
            seed=self.seed,
            previous=previous,
            max_changes=max_changes,
        )

    # ------------------------------------------------------------------ suggest
    def suggest(
        self,
        mentors: RosterLike,
        mentees: RosterLike | None = None,
        *,
        skills: Sequence[str] | None = None,
        k: int = 5,
        progress: ProgressCallback | None = None,
        run: Run | None = None,
    ) -> SuggestionsResult:
        """Per mentee the ``k`` best mentors, with score, regret and a one-line explanation.

        The first suggestion of a mentee is its partner in the optimal plan
        (most matched mentees, then the best total score; priority tiers,
        ``objective = "fair"``, ``min_load`` and required pairs are not applied
        here), so a mentor is first no more often than its capacity; the
        others follow by ``regret`` (the plan's total score lost when that
        pair is chosen), then by score. With ``skills`` instead of
        ``mentees`` (the expert finder): the mentors who offer those skills,
        ranked by coverage, then accessibility (remote, capacity).
        ``progress`` and ``run`` as in :meth:`pairs`.

        Raises
        ------
        InputError
            Bad rosters, ``k`` or ``skills``, or both / neither of
            ``mentees`` and ``skills``.

        Examples
        --------
        >>> import pairwise as pw
        >>> frames = pw.datasets.demo_rosters()
        >>> found = pw.load_program().suggest(frames["mentors"], skills=["sql"], k=3)
        >>> found.suggestions["rank"].tolist()
        [1, 2, 3]
        """
        from ._suggest import check_request, suggest

        k = check_request(mentees, skills, k)
        run = self._start(progress, run)
        m = _as_roster(mentors, "mentor", self.rename)
        e = None if mentees is None else _as_roster(mentees, "mentee", self.rename)
        n = len(m) + (0 if e is None else len(e))
        limits = (_solver_deadline(run, n), _solver_limit(self.time_limit, n))
        return suggest(self, m, e, skills=skills, k=k, run=run, limits=limits)

    # ------------------------------------------------------------------ peers
    def peers(
        self,
        people: RosterLike,
        *,
        previous: _lifecycle.PairsSource | None = None,
        progress: ProgressCallback | None = None,
        run: Run | None = None,
        client: Any = None,
    ) -> PeersResult:
        """Peer learning partners from one pool (about the same level).

        Scores are made symmetric (the mean of both directions) and a pair is
        allowed only when the rules allow it both ways. ``progress``,
        ``run`` and ``client`` as in :meth:`pairs`. ``previous`` (last cohort's pairs:
        ``person_a``, ``person_b``) are kept where still allowed, after the
        number of pairs and before the score (a keep bonus, see
        :func:`pairwise._lifecycle.keep_bonus_scores`); ``result.changes``
        lists kept / broken / new pairs with why.
        """
        from ._peer_candidates import (
            keep_bonus,
            late_bound,
            peer_matrices,
            peer_top_k,
            previous_positions,
        )
        from .solvers import peer_pairs

        run = self._start(progress, run)
        p = _as_roster(people, "person", self.rename)
        run.phase("scoring")
        compat = self.peer_model.score(p, p, top_k=peer_top_k(len(p)), client=client)
        extra = previous_positions(compat, p, previous)
        deadline = _solver_deadline(run, len(p) // 20)  # the solve's, as below
        scores, allowed = peer_matrices(compat, extra, deadline=deadline)
        plan = None if previous is None else _lifecycle.plan_peers(compat, p, allowed, previous)
        solver_scores = scores
        if plan is not None:
            solver_scores, _ = keep_bonus(scores, allowed, plan.rows, plan.cols)
        run.phase("solving")
        # peers' results are light (20,000 people: about 0.1 s after the solve; the
        # per-person reserve is sized on groups): reserve as for a twentieth of them
        n_reserve = len(p) // 20
        with _ortools.wall_deadline(_solver_deadline(run, n_reserve)):
            solved = peer_pairs(
                solver_scores,
                None if compat.is_sparse else allowed,
                objective="total" if self.objective == "stable" else self.objective,
                time_limit=_solver_limit(self.time_limit, n_reserve),
                seed=self.seed,
            )
        if plan is not None:
            solved = _lifecycle.without_bonus(solved, scores)
        solved = late_bound(solved, scores)  # sparse: a bound even when the clock left none
        run.phase("results")
        result = peers_result(compat, solved, p, scores=scores, allowed=allowed, run=self._run)
        if compat.is_sparse:  # never a bare "optimal": say over which pairs it holds
            note = (
                f"solved over each person's {compat.top_k} best candidates (allowed both ways); "
                "the status and bound hold over these candidates, not over all pairs"
            )
            notes = [*result.options.get("notes", ()), note]
            options = {**result.options, "notes": notes, "top_k": compat.top_k}
            over = "k best candidates per person"
            result = dataclasses.replace(result, options=options, optimal_over=over)
        return dataclasses.replace(result, changes=_lifecycle.peers_changes(plan, result.pairs))

    # ------------------------------------------------------------------ groups
    def group_inputs(
        self, leaders: Roster, proteges: Roster, client: Any = None
    ) -> dict[str, Any]:
        """The arrays :func:`pairwise.solvers.learning_groups` receives for these rosters."""
        g, notes = self.groups_options.for_roster(proteges)
        compat = self.group_model.score(leaders, proteges, client=client)
        if notes:
            compat = dataclasses.replace(compat, notes=(*compat.notes, *notes))
        rule_columns = sorted(set(g.min_distinct) | set(g.max_count) | set(g.no_isolation))
        attributes = proteges.frame[rule_columns].copy() if rule_columns else None
        together = R.together(
            proteges,
            common_hours=g.common_hours,
            shared_language=g.shared_language,
            at=self.at,
        )
        distance = None
        if g.diversity_weight > 0 and g.diversity_columns:
            # float32: half the memory of the largest array of a large pool
            distance = C.diversity_distance(proteges, g.diversity_columns, dtype=np.float32)
        return {
            "options": g,
            "compat": compat,
            "fit": compat.scores,
            "allowed": compat.allowed,
            "attributes": attributes,
            "together": together,
            "distance": distance,
            "weights": _count_then_priority(self._weights(proteges, g.priority_column)),
        }

    def groups(
        self,
        leaders: RosterLike,
        proteges: RosterLike,
        *,
        previous: _lifecycle.PairsSource | None = None,
        progress: ProgressCallback | None = None,
        run: Run | None = None,
        client: Any = None,
    ) -> GroupsResult:
        """Learning groups: each leader takes ``min_size``..``max_size`` protégés.

        Composition rules (``min_distinct``, ``max_count``, ``no_isolation``) hold
        in every group; the group shares ``common_hours`` of working time and a
        language; as many protégés as the rules allow are placed (priority
        first), then the fit (plus diversity) is maximised.

        ``progress``, ``run`` and ``client`` as in :meth:`pairs`; while the search runs,
        ``progress`` also receives its best objective so far (phase
        "solving", about twice a second).

        ``previous`` (last cohort's groups table: ``leader_id``, ``member_id``)
        keeps memberships where still valid, after the placement and before
        the fit (a keep bonus, :func:`pairwise._lifecycle.keep_bonus_fit`), so
        a late joiner takes an open seat; ``result.changes`` lists kept /
        broken / new memberships with why.

        Raises
        ------
        InfeasibleError
            No group at all can be formed; ``reasons`` says which rule and what to relax.
        """
        from .checks import violations as check_violations

        run = self._start(progress, run)
        lead = _as_roster(leaders, "leader", self.rename)
        prot = _as_roster(proteges, "protege", self.rename)
        run.phase("scoring")
        inputs = self.group_inputs(lead, prot, client)
        g = inputs["options"]
        plan = None
        solver_inputs = inputs
        if previous is not None:
            plan = _lifecycle.plan_groups(
                inputs["compat"], lead, prot, np.asarray(inputs["allowed"]), previous
            )
            assert plan.solver_previous is not None
            fit, bonus = _lifecycle.keep_bonus_fit(
                inputs["fit"], np.asarray(inputs["allowed"]), plan.solver_previous
            )
            solver_inputs = dict(inputs, fit=fit)
        run.phase("solving")
        with _ortools.wall_deadline(_solver_deadline(run, len(lead) + len(prot))):
            solved = self._solve_groups(solver_inputs, len(lead), len(prot), run)
        if plan is not None and plan.solver_previous is not None:
            labels = np.asarray(solved.labels)
            kept = int(np.sum(labels[plan.solver_previous[1]] == plan.solver_previous[0]))
            solved = _lifecycle.without_fit_bonus(solved, bonus, kept)
        run.phase("results")
        violations = check_violations(
            np.asarray(solved.labels),
            fit=inputs["fit"],
            allowed=inputs["allowed"],
            min_size=g.min_size,
            max_size=g.max_size,
            attributes=inputs["attributes"],
            together=inputs["together"],
            protected=g.protected,
            **g.rule_options(),
        )
        result = groups_result(
            inputs["compat"],
            solved,
            lead,
            prot,
            fit=inputs["fit"],
            options=g,
            violations=violations,
            run=self._run,
        )
        diagnosis = diagnose_groups(
            inputs["compat"],
            lead,
            prot,
            options=g,
            placed=np.flatnonzero(np.asarray(solved.labels) >= 0),
            together_mask=inputs["together"],
            at=self.at,
            notes=solved.diagnosis,
            deadline=_diagnosis_deadline(run, len(lead) + len(prot)),
        )
        result = dataclasses.replace(result, diagnosis=diagnosis)
        if plan is None:
            return result
        changes = _lifecycle.groups_changes(plan, result.groups)
        return dataclasses.replace(result, changes=changes)

    def _solve_groups(
        self,
        inputs: Mapping[str, Any],
        n_leaders: int,
        n_proteges: int,
        run: Run | None = None,
    ) -> GroupingResult:
        """The group solver's answer; when nothing can be formed, everyone with the diagnosis."""
        from .solvers import learning_groups

        g = inputs["options"]

        def report(objective: float, bound: float | None) -> None:
            if run is not None:
                run.report("solving", objective=objective, bound=bound)

        try:
            return learning_groups(
                inputs["fit"],
                min_size=g.min_size,
                max_size=g.max_size,
                allowed=inputs["allowed"],
                attributes=inputs["attributes"],
                distance=inputs["distance"],
                diversity_weight=g.diversity_weight if inputs["distance"] is not None else 0.0,
                time_limit=_solver_limit(self.time_limit, n_leaders + n_proteges),
                seed=self.seed,
                weights=inputs["weights"],
                together=inputs["together"],
                progress=report,
                protected=g.protected,
                **g.rule_options(),
            )
        except InfeasibleError as exc:
            # nothing can be formed: still account for everyone, with the diagnosis
            return GroupingResult(
                labels=np.full(n_proteges, -1, dtype=np.intp),
                objective=0.0,
                status="infeasible",
                bound=None,
                wall_time=0.0,
                method="diagnosis",
                seed=self.seed,
                diagnosis=exc.reasons,
                reasons={f"leader:{i}": str(exc) for i in range(n_leaders)},
            )

    # ------------------------------------------------------------------ validate
    def validate(
        self,
        *,
        mentors: RosterLike | None = None,
        mentees: RosterLike | None = None,
        leaders: RosterLike | None = None,
        members: RosterLike | None = None,
        people: RosterLike | None = None,
    ) -> ValidationReport:
        """Check rosters against this programme without solving: errors and warnings.

        Errors stop a run: a roster that cannot be read or a column, rule or
        setting of the programme that cannot be used (everything
        :meth:`pairs`, :meth:`groups` and :meth:`peers` would refuse before
        solving). Warnings predict what a run will do and go ahead with:
        capacity shortfall ("capacity 393 for 1077 mentees: at least 684
        cannot be matched"), people with no allowed partner, leaders who will
        have no group, the odd one out of a peer pool.

        Parameters
        ----------
        mentors, mentees : Roster, DataFrame or path, optional
            Checked together for :meth:`pairs`.
        leaders, members : Roster, DataFrame or path, optional
            Checked together for :meth:`groups` (members are the protégés).
        people : Roster, DataFrame or path, optional
            Checked for :meth:`peers`.

        Returns
        -------
        ValidationReport
            ``errors`` and ``warnings``, one sentence each, prefixed by the mode.

        Examples
        --------
        >>> import pairwise as pw
        >>> frames = pw.datasets.demo_rosters()
        >>> report = pw.load_program().validate(
        ...     mentors=frames["mentors"].head(3), mentees=frames["mentees"])
        >>> report.ok, report.warnings[0].startswith("pairs: capacity")
        (True, True)
        """
        from .reports import groups_warnings, pairs_warnings, peers_warnings

        errors: list[str] = []
        warnings: list[str] = []

        def attempt(label: str, check: Any) -> None:
            try:
                warnings.extend(f"{label}: {w}" for w in check())
            except (InputError, InfeasibleError) as exc:
                errors.extend(f"{label}: {p}" for p in exc.reasons)

        def rosters(label: str, *given: tuple[RosterLike, str]) -> list[Roster] | None:
            loaded = []
            for source, role in given:
                try:
                    loaded.append(_as_roster(source, role, self.rename))
                except InputError as exc:
                    errors.extend(f"{label}: {p}" for p in exc.reasons)
            return loaded if len(loaded) == len(given) else None

        if mentors is not None and mentees is not None:
            pair = rosters("pairs", (mentors, "mentor"), (mentees, "mentee"))
            if pair is not None:
                m, e = pair

                def check_pairs() -> list[str]:
                    compat = self._score(self.model, m, e)
                    cap = self._capacity(m)
                    self._required_pairs(compat, m, e, cap)  # refuses impossible requirements
                    return pairs_warnings(compat, [str(i) for i in e.ids], cap)

                attempt("pairs", check_pairs)
        if leaders is not None and members is not None:
            group = rosters("groups", (leaders, "leader"), (members, "protege"))
            if group is not None:
                lead, prot = group

                def check_groups() -> list[str]:
                    compat = self.group_inputs(lead, prot)["compat"]
                    g = self.groups_options
                    ids = [str(i) for i in prot.ids]
                    return groups_warnings(
                        compat, len(lead), ids, min_size=g.min_size, max_size=g.max_size
                    )

                attempt("groups", check_groups)
        if people is not None:
            pool = rosters("peers", (people, "person"))
            if pool is not None:
                (p,) = pool

                def check_peers() -> list[str]:
                    from ._peer_candidates import peer_matrices, peer_top_k

                    compat = self.peer_model.score(p, p, top_k=peer_top_k(len(p)))
                    _, allowed = peer_matrices(compat)
                    return peers_warnings(compat, allowed, [str(i) for i in p.ids])

                attempt("peers", check_peers)
        return ValidationReport(errors=tuple(errors), warnings=tuple(warnings))


def _required_pair_reason(compat: Compatibility, mentor: str, mentee: str) -> str:
    """Why a pair the programme requires cannot be formed, naming the rules it breaks."""
    explanation = compat.explain(mentor, mentee)
    broken = explanation.rules[~explanation.rules["allowed"].astype(bool)]
    if broken.empty:
        why = "it is not among the kept candidates (raise `top_k` under [pairs])"
    else:
        named = [f"{r.rule} ({r.reason})" for r in broken.head(5).itertuples()]
        more = f" and {len(broken) - 5} more" if len(broken) > 5 else ""
        why = "it breaks " + "; ".join(named) + more
    return (
        f"the required pair with mentor {mentor} cannot be formed: {why}. Fix: remove the "
        "pair from `require` under [rules], or relax that rule in the programme file"
    )


def _count_then_priority(priority: np.ndarray | None) -> np.ndarray | None:
    """Placement weights that place the most protégés first, then the most priority.

    ``learning_groups`` maximises the weighted number of placed protégés
    before the fit. Weights ``C + rank`` (rank of the protégé's priority among
    the distinct values, ``C`` larger than any sum of rank differences) make
    that order exact: (1) the number placed, (2) the priority placed — as
    pairs do; only the order of the priority values matters.
    """
    if priority is None:
        return None
    levels = np.unique(priority)
    if len(levels) == 1:
        return None
    rank = np.searchsorted(levels, priority)
    return (len(priority) * (len(levels) - 1) + 1 + rank).astype(float)
