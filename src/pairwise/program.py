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
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import criteria as C
from . import rules as R
from ._run import ProgressCallback, Run
from .compatibility import Compatibility, CompatibilityModel
from .errors import InfeasibleError, InputError
from .results import (
    GroupsResult,
    PairsResult,
    PeersResult,
    RunInfo,
    groups_result,
    pairs_result,
    peers_result,
)
from .roster import Roster, load_roster
from .solvers import _ortools
from .solvers._result import GroupingResult, MatchingResult

__all__ = ["GroupOptions", "Program"]

logger = logging.getLogger(__name__)

RosterLike = Roster | pd.DataFrame | str | os.PathLike[str]

#: Above this many candidate pairs, ``top_k = 0`` ("auto") switches to the sparse form.
AUTO_SPARSE_PAIRS = 25_000_000
AUTO_TOP_K = 50

#: Seconds kept back from the run's budget for what follows the search: the
#: solver's own bound and reasons, the rule checks and the result tables. Measured
#: on 150 leaders x 930 protégés (groups, the heaviest per person: 0.2 s after the
#: search in the solver, 0.75 s for the result tables, mostly the per-group
#: summary), so a fixed 0.5 s plus 0.4 ms per person: 0.9 s there.
RESULTS_RESERVE = 0.5
RESULTS_RESERVE_PER_PERSON = 4e-4


def _reserve(n_people: int) -> float:
    return RESULTS_RESERVE + RESULTS_RESERVE_PER_PERSON * n_people


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
    """How learning groups are formed (the ``[groups]`` table of a programme)."""

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

    def rule_options(self) -> dict[str, Any]:
        """The composition rules as the group solver and the checks take them (None: unused)."""
        return {
            "min_distinct": dict(self.min_distinct) or None,
            "max_count": dict(self.max_count) or None,
            "no_isolation": list(self.no_isolation) or None,
        }


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
    objective : {"total", "fair"}
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
        mentors per mentee); k > 0 = always the sparse top-k form.
    groups_options : GroupOptions
    rename : mapping
        Input column -> pairwise column, applied when rosters are loaded.
    at : date or None
        Date on which time-zone offsets are computed (summer time).

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

    def replace(self, **changes: Any) -> Program:
        """A copy with some fields changed (e.g. ``time_limit``, ``seed``)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ helpers
    @property
    def _run(self) -> RunInfo:
        return RunInfo(programme=self.name, objective=self.objective, seed=self.seed)

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

    def _score(self, model: CompatibilityModel, rows: Roster, cols: Roster) -> Compatibility:
        top_k = self.top_k
        if top_k == 0 and len(rows) * len(cols) > AUTO_SPARSE_PAIRS:
            top_k = AUTO_TOP_K
        return model.score(rows, cols, top_k=top_k or None)

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
                    reasons[j] = (
                        f"the required pair with mentor {a} breaks another rule; "
                        f"see explain({a!r}, {b!r}). Fix: remove the pair from rules.require "
                        "or relax that rule"
                    )
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
        progress: ProgressCallback | None = None,
        run: Run | None = None,
    ) -> PairsResult:
        """Mentor–mentee pairs: one-to-one, or one-to-many when mentors take several.

        Every mentee is matched if an allowed mentor has room (priority mentees
        first), then the lowest score is raised (``objective = "fair"``), then
        the total. Mentees and mentors left out are listed with the reason.

        ``progress`` receives a :class:`pairwise._run.Progress` at each phase
        ("scoring", "solving", "results"); ``run`` is a :class:`pairwise._run.Run`
        whose clock already started (default: one started now, with this
        programme's ``time_limit``), so the whole run keeps that budget.

        Raises
        ------
        InputError
            Bad rosters or programme.
        InfeasibleError
            ``min_load`` cannot be met.
        """
        run = self._start(progress, run)
        m = _as_roster(mentors, "mentor", self.rename)
        e = _as_roster(mentees, "mentee", self.rename)
        run.phase("scoring")
        compat = self._score(self.model, m, e)
        cap = self._capacity(m)
        weights = self._weights(e, self.priority_column)
        fixed_rows, fixed_cols, fixed_reasons = self._required_pairs(compat, m, e, cap)
        run.phase("solving")
        with _ortools.wall_deadline(_solver_deadline(run, len(m) + len(e))):
            solved = self._solve_pairs(
                compat,
                cap,
                weights,
                fixed_rows,
                fixed_cols,
                _solver_limit(self.time_limit, len(m) + len(e)),
            )
        run.phase("results")
        return pairs_result(
            compat,
            solved,
            m,
            e,
            capacity=cap,
            weights=weights,
            fixed_rows=fixed_rows,
            fixed_cols=fixed_cols,
            fixed_reasons=fixed_reasons,
            run=self._run,
        )

    def _solve_pairs(
        self,
        compat: Compatibility,
        cap: np.ndarray,
        weights: np.ndarray | None,
        fixed_rows: np.ndarray,
        fixed_cols: np.ndarray,
        time_limit: float | None = None,
    ) -> MatchingResult:
        """One-to-one when every mentor takes one mentee, else one-to-many.

        Required pairs (``fixed_*``) are formed first: the solver sees the rest.
        """
        from .solvers import one_to_many, one_to_one

        scores, allowed = compat.scores, compat.allowed
        free_cap = cap.copy()
        np.subtract.at(free_cap, fixed_rows, 1)
        if len(fixed_cols):
            scores, allowed = compat.without_columns(fixed_cols)
        if np.all(free_cap == 1) and self.min_load == 0 and len(fixed_cols) == 0:
            return one_to_one(
                scores,
                allowed,
                objective=self.objective,
                weights=weights,
                time_limit=time_limit,
                seed=self.seed,
            )
        min_load = np.maximum(self.min_load - np.bincount(fixed_rows, minlength=len(cap)), 0)
        return one_to_many(
            scores,
            free_cap,
            allowed,
            min_load=min_load,
            objective=self.objective,
            weights=weights,
            time_limit=time_limit,
            seed=self.seed,
        )

    # ------------------------------------------------------------------ peers
    def peers(
        self,
        people: RosterLike,
        *,
        progress: ProgressCallback | None = None,
        run: Run | None = None,
    ) -> PeersResult:
        """Peer learning partners from one pool (about the same level).

        Scores are made symmetric (the mean of both directions) and a pair is
        allowed only when the rules allow it both ways. ``progress`` and
        ``run`` as in :meth:`pairs`.
        """
        from .solvers import peer_pairs

        run = self._start(progress, run)
        p = _as_roster(people, "person", self.rename)
        run.phase("scoring")
        compat = self.peer_model.score(p, p)
        scores, allowed = compat.symmetric()
        run.phase("solving")
        with _ortools.wall_deadline(_solver_deadline(run, len(p))):
            solved = peer_pairs(
                scores,
                allowed,
                objective=self.objective,
                time_limit=_solver_limit(self.time_limit, len(p)),
                seed=self.seed,
            )
        run.phase("results")
        return peers_result(compat, solved, p, scores=scores, allowed=allowed, run=self._run)

    # ------------------------------------------------------------------ groups
    def group_inputs(self, leaders: Roster, proteges: Roster) -> dict[str, Any]:
        """The arrays :func:`pairwise.solvers.learning_groups` receives for these rosters."""
        g = self.groups_options
        compat = self.group_model.score(leaders, proteges)
        rule_columns = sorted(set(g.min_distinct) | set(g.max_count) | set(g.no_isolation))
        for column in rule_columns:
            if not proteges.has(column) and column not in proteges.frame.columns:
                raise InputError(
                    f"group rule column `{column}` is not in the protégé roster "
                    f"({proteges.source}); found {', '.join(map(str, proteges.frame.columns))}. "
                    "Fix: add the column or remove the rule from [groups]."
                )
        attributes = proteges.frame[rule_columns].copy() if rule_columns else None
        together = R.together(
            proteges,
            common_hours=g.common_hours,
            shared_language=g.shared_language,
            at=self.at,
        )
        distance = None
        if g.diversity_weight > 0 and g.diversity_columns:
            distance = C.diversity_distance(proteges, g.diversity_columns)
        return {
            "compat": compat,
            "fit": compat.scores,
            "allowed": compat.allowed,
            "attributes": attributes,
            "together": together,
            "distance": distance,
            "weights": self._weights(proteges, g.priority_column),
        }

    def groups(
        self,
        leaders: RosterLike,
        proteges: RosterLike,
        *,
        progress: ProgressCallback | None = None,
        run: Run | None = None,
    ) -> GroupsResult:
        """Learning groups: each leader takes ``min_size``..``max_size`` protégés.

        Composition rules (``min_distinct``, ``max_count``, ``no_isolation``) hold
        in every group; the group shares ``common_hours`` of working time and a
        language; as many protégés as the rules allow are placed (priority
        first), then the fit (plus diversity) is maximised.

        ``progress`` and ``run`` as in :meth:`pairs`; while the search runs,
        ``progress`` also receives its best objective so far (phase
        "solving", about twice a second).

        Raises
        ------
        InfeasibleError
            No group at all can be formed; ``reasons`` says which rule and what to relax.
        """
        from .checks import violations as check_violations

        run = self._start(progress, run)
        g = self.groups_options
        lead = _as_roster(leaders, "leader", self.rename)
        prot = _as_roster(proteges, "protege", self.rename)
        run.phase("scoring")
        inputs = self.group_inputs(lead, prot)
        run.phase("solving")
        with _ortools.wall_deadline(_solver_deadline(run, len(lead) + len(prot))):
            solved = self._solve_groups(inputs, len(lead), len(prot), run)
        run.phase("results")
        violations = check_violations(
            np.asarray(solved.labels),
            fit=inputs["fit"],
            allowed=inputs["allowed"],
            min_size=g.min_size,
            max_size=g.max_size,
            attributes=inputs["attributes"],
            together=inputs["together"],
            **g.rule_options(),
        )
        return groups_result(
            inputs["compat"],
            solved,
            lead,
            prot,
            fit=inputs["fit"],
            options=g,
            violations=violations,
            run=self._run,
        )

    def _solve_groups(
        self,
        inputs: Mapping[str, Any],
        n_leaders: int,
        n_proteges: int,
        run: Run | None = None,
    ) -> GroupingResult:
        """The group solver's answer; when nothing can be formed, everyone with the diagnosis."""
        from .solvers import learning_groups

        g = self.groups_options

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
        mentors: Roster | None = None,
        mentees: Roster | None = None,
        leaders: Roster | None = None,
        members: Roster | None = None,
        people: Roster | None = None,
    ) -> list[str]:
        """Cheap checks of rosters against this programme; one sentence per problem.

        Builds each compatibility (which checks every column the programme
        uses) and reports participants who have no allowed partner at all.
        """
        problems: list[str] = []

        def attempt(label: str, fn: Any) -> None:
            try:
                fn()
            except (InputError, InfeasibleError) as exc:
                problems.extend(f"{label}: {p}" for p in exc.reasons)

        if mentors is not None and mentees is not None:

            def check_pairs() -> None:
                compat = self._score(self.model, mentors, mentees)
                for j in range(len(mentees)):
                    if compat.n_candidates(col=j) == 0:
                        problems.append(
                            f"pairs: mentee {mentees.ids[j]}: {compat.why_no_partner(j)}"
                        )

            attempt("pairs", check_pairs)
        if leaders is not None and members is not None:
            attempt("groups", lambda: self.group_inputs(leaders, members))
        if people is not None:
            attempt("peers", lambda: self.peer_model.score(people, people))
        return problems
