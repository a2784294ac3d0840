"""A mentoring programme: compatibility models plus solver options, run end to end.

:class:`Program` is the high-level API of DESIGN: ``program.pairs(mentors,
mentees)``, ``program.groups(leaders, proteges)``, ``program.peers(people)``.
Each call validates the rosters, builds the compatibility, runs the right
solver and joins the answer back to ids, with a reason for everyone left out.
Programmes come from TOML (:func:`pairwise.load_program`) or are built in code.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import criteria as C
from . import rules as R
from .compatibility import Compatibility, CompatibilityModel, default_peer_model
from .errors import InfeasibleError, InputError
from .results import UNMATCHED_COLUMNS, GroupsResult, PairsResult, PeersResult
from .roster import LIST_COLUMNS, Roster, load_roster, overlap_minutes
from .solvers._result import GroupingResult, MatchingResult

__all__ = ["GroupOptions", "Program"]

logger = logging.getLogger(__name__)

RosterLike = Roster | pd.DataFrame | str | os.PathLike[str]

#: Above this many candidate pairs, ``top_k = 0`` ("auto") switches to the sparse form.
AUTO_SPARSE_PAIRS = 25_000_000
AUTO_TOP_K = 50


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


_CRITERION_KINDS: dict[str, Any] = {
    "same": lambda t: C.Same(column=t["column"], weight=t.get("weight", 1.0)),
    "different": lambda t: C.Different(column=t["column"], weight=t.get("weight", 1.0)),
    "complement": lambda t: C.Complement(
        offer=t.get("offer", "skills"),
        want=t.get("want", "wants"),
        method=t.get("method", "coverage"),
        weight=t.get("weight", 1.0),
    ),
    "closeness": lambda t: C.Closeness(
        column=t["column"],
        scale=None if t.get("scale") is None else float(t["scale"]),
        weight=t.get("weight", 1.0),
    ),
    "level_gap": lambda t: C.LevelGap(
        ideal=float(t.get("ideal", 2)),
        tolerance=float(t.get("tolerance", 2)),
        weight=t.get("weight", 1.0),
    ),
    "preferences": lambda t: C.Preferences(
        column=t.get("column", "preferences"),
        side=t.get("side", "mentee"),
        weight=t.get("weight", 1.0),
    ),
    "shared_goals": lambda t: C.SharedGoals(
        column=t.get("column", "goals"), weight=t.get("weight", 1.0)
    ),
}


def _criteria(tables: Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
    return tuple(_CRITERION_KINDS[t["kind"]](t) for t in tables)


def _accessibility(spec: Any, at: _dt.date | None) -> list[Any]:
    if spec is False or spec is None:
        return []
    spec = {} if spec is True else dict(spec)
    return [
        R.Accessible(
            min_overlap_hours=float(spec.get("min_overlap_hours", 2.0)),
            same_site=bool(spec.get("same_site", True)),
            remote_column=spec.get("remote_column", "remote_ok"),
            at=at,
        )
    ]


def _read_history(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(
            f"history file {path} does not exist. Fix: check `rules.history` in the programme."
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(
            f"history file {path} cannot be read as CSV ({type(exc).__name__}). "
            "Fix: save it as a UTF-8 CSV with columns mentor_id, mentee_id."
        ) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("mentor_id", "mentee_id") if c not in frame.columns]
    if missing:
        raise InputError(
            f"history file {path} must have columns mentor_id and mentee_id; "
            f"missing {', '.join(missing)} (found {', '.join(frame.columns)}). "
            "Fix: rename the columns."
        )
    return frame


def _column_or_none(value: Any) -> str | None:
    return None if value is False or value is None or value == "" else str(value)


def _as_date(value: Any) -> _dt.date | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    return _dt.date.fromisoformat(str(value))


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
        Seconds each solver may use.
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

    # ------------------------------------------------------------------ building
    @classmethod
    def from_config(
        cls, data: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None
    ) -> Program:
        """Build a programme from a checked TOML mapping (see :mod:`pairwise.config`)."""
        prog = dict(data.get("program", {}))
        at = _as_date(prog.get("date"))
        allow_protected = bool(prog.get("allow_protected", False))
        # lenient by default: a criterion or rule on a column the rosters lack is
        # skipped with a note in the result (strict = true makes it an error)
        lenient = not bool(prog.get("strict", False))
        rules_cfg = dict(data.get("rules", {}))
        base = Path(base_dir) if base_dir is not None else Path.cwd()

        def off(value: Any) -> bool:
            # ``false`` turns a rule off; 0 is a value (e.g. a level gap of 0)
            return value is False or value is None

        # rules about who may develop whom, shared by pairs, peers and groups
        common: list[Any] = []
        nm = rules_cfg.get("not_manager", "chain")
        if not off(nm):
            common.append(R.NotManager(chain=(nm == "chain")))
        opt_in = rules_cfg.get("opt_in")
        if not off(opt_in):
            common.append(R.OptIn(column=str(opt_in)))

        rules: list[Any] = [R.NotSelf()]
        gap = rules_cfg.get("min_level_gap", 2)
        if not off(gap):
            rules.append(R.MinLevelGap(int(gap)))
        if not off(rules_cfg.get("max_level_gap")):
            rules.append(R.MaxLevelGap(int(rules_cfg["max_level_gap"])))
        rules += common
        rules += _accessibility(rules_cfg.get("accessibility", True), at)
        if rules_cfg.get("shared_language", True):
            rules.append(R.SharedLanguage())
        # pair-specific rules: they name mentor-mentee pairs, so they stay out of groups
        specific: list[Any] = []
        if rules_cfg.get("exclude"):
            specific.append(R.Exclude(tuple((str(a), str(b)) for a, b in rules_cfg["exclude"])))
        if rules_cfg.get("require"):
            specific.append(R.Require(tuple((str(a), str(b)) for a, b in rules_cfg["require"])))
        history = rules_cfg.get("history")
        if not off(history):
            specific.append(
                R.NoRepeat(
                    _read_history(base / str(history)),
                    only_failed=bool(rules_cfg.get("only_failed", False)),
                )
            )

        crit = _criteria(data.get("criteria", []))
        model = CompatibilityModel(
            criteria=crit,
            rules=tuple(rules + specific),
            allow_protected=allow_protected,
            at=at,
            skip_missing=lenient,
        )

        peers_cfg = dict(data.get("peers", {}))
        peer_rules: list[Any] = [R.NotSelf()]
        within = peers_cfg.get("level_within", 1)
        if not off(within):
            peer_rules.append(R.LevelWithin(int(within)))
        peer_rules += common
        peer_rules += _accessibility(peers_cfg.get("accessibility", True), at)
        if peers_cfg.get("shared_language", True):
            peer_rules.append(R.SharedLanguage())
        # without its own [[peers.criteria]], a pool uses the library's default peer
        # criteria (mutual skills <-> wants, shared goals, mutual preferences, ...)
        peer_crit = (
            _criteria(peers_cfg["criteria"])
            if "criteria" in peers_cfg
            else default_peer_model(at=at).criteria
        )
        peer_model = CompatibilityModel(
            criteria=peer_crit,
            rules=tuple(peer_rules),
            allow_protected=allow_protected,
            at=at,
            skip_missing=lenient,
        )

        groups_cfg = dict(data.get("groups", {}))
        group_gap = groups_cfg.get("min_level_gap", 2)
        hours = groups_cfg.get("common_hours", 1.0)
        gopts = GroupOptions(
            min_size=int(groups_cfg.get("min_size", 5)),
            max_size=int(groups_cfg.get("max_size", 7)),
            min_level_gap=None if off(group_gap) else int(group_gap),
            min_distinct=dict(groups_cfg.get("min_distinct", {})),
            max_count=dict(groups_cfg.get("max_count", {})),
            no_isolation=tuple(groups_cfg.get("no_isolation", ())),
            common_hours=None if off(hours) else float(hours),
            shared_language=bool(groups_cfg.get("shared_language", True)),
            diversity_columns=tuple(groups_cfg.get("diversity_columns", ())),
            diversity_weight=float(groups_cfg.get("diversity_weight", 0.0)),
            priority_column=_column_or_none(groups_cfg.get("priority_column", "priority")),
        )
        group_rules: list[Any] = [R.NotSelf()]
        if gopts.min_level_gap is not None:
            group_rules.append(R.MinLevelGap(gopts.min_level_gap))
        group_rules += common
        group_rules += _accessibility(rules_cfg.get("accessibility", True), at)
        if gopts.shared_language:
            group_rules.append(R.SharedLanguage())
        group_model = CompatibilityModel(
            criteria=crit,
            rules=tuple(group_rules),
            allow_protected=allow_protected,
            at=at,
            skip_missing=lenient,
        )

        pairs_cfg = dict(data.get("pairs", {}))
        return cls(
            model=model,
            peer_model=peer_model,
            group_model=group_model,
            name=str(prog.get("name", "Mentoring programme")),
            objective=str(prog.get("objective", "total")),
            time_limit=float(prog["time_limit"]) if "time_limit" in prog else 30.0,
            seed=int(prog.get("seed", 0)),
            capacity=int(pairs_cfg.get("capacity", 1)),
            capacity_column=_column_or_none(pairs_cfg.get("capacity_column", "capacity")),
            min_load=int(pairs_cfg.get("min_load", 0)),
            priority_column=_column_or_none(pairs_cfg.get("priority_column", "priority")),
            top_k=int(pairs_cfg.get("top_k", 0)),
            groups_options=gopts,
            rename=dict(data.get("columns", {})),
            at=at,
        )

    def replace(self, **changes: Any) -> Program:
        """A copy with some fields changed (e.g. ``time_limit``, ``seed``)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ helpers
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

    def _fields(
        self,
        solved: Any,
        compat: Compatibility,
        unmatched: list[dict[str, str]],
        offset: float = 0.0,
    ) -> dict[str, Any]:
        """The result fields every mode shares; ``offset`` adds pairs formed outside the solver."""
        return {
            "unmatched": pd.DataFrame(unmatched, columns=UNMATCHED_COLUMNS),
            "status": solved.status,
            "objective": float(solved.objective) + offset,
            "bound": None if solved.bound is None else float(solved.bound) + offset,
            "wall_time": float(solved.wall_time),
            "method": solved.method,
            "seed": self.seed,
            "options": {
                **solved.options,
                **_typed_details(solved),
                "objective": self.objective,
                "programme": self.name,
                "notes": list(compat.notes),
            },
        }

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
                if compat.is_sparse:
                    ok = bool(i in set(_candidate_rows(compat, j).tolist()))
                else:
                    ok = bool(compat.allowed[i, j])
                if ok:
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
        over = np.flatnonzero(np.bincount(r, minlength=len(m)) > cap) if len(r) else []
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
    def pairs(self, mentors: RosterLike, mentees: RosterLike) -> PairsResult:
        """Mentor–mentee pairs: one-to-one, or one-to-many when mentors take several.

        Every mentee is matched if an allowed mentor has room (priority mentees
        first), then the lowest score is raised (``objective = "fair"``), then
        the total. Mentees and mentors left out are listed with the reason.

        Raises
        ------
        InputError
            Bad rosters or programme.
        InfeasibleError
            ``min_load`` cannot be met.
        """
        from .solvers import one_to_many, one_to_one

        m = _as_roster(mentors, "mentor", self.rename)
        e = _as_roster(mentees, "mentee", self.rename)
        compat = self._score(self.model, m, e)
        cap = self._capacity(m)
        weights = self._weights(e, self.priority_column)
        fixed_rows, fixed_cols, fixed_reasons = self._required_pairs(compat, m, e, cap)
        scores, allowed = compat.scores, None if compat.is_sparse else compat.allowed
        free_cap = cap.copy()
        np.subtract.at(free_cap, fixed_rows, 1)
        if len(fixed_cols):
            # required pairs are formed first; the solver sees the rest
            scores, allowed = _without_columns(compat, fixed_cols)
        if np.all(free_cap == 1) and self.min_load == 0 and len(fixed_cols) == 0:
            solved = one_to_one(
                scores,
                allowed,
                objective=self.objective,
                weights=weights,
                time_limit=self.time_limit,
                seed=self.seed,
            )
        else:
            min_load = np.maximum(self.min_load - np.bincount(fixed_rows, minlength=len(m)), 0)
            solved = one_to_many(
                scores,
                free_cap,
                allowed,
                min_load=min_load,
                objective=self.objective,
                weights=weights,
                time_limit=self.time_limit,
                seed=self.seed,
            )
        rows = np.concatenate([np.asarray(solved.rows, dtype=np.intp), fixed_rows])
        cols = np.concatenate([np.asarray(solved.cols, dtype=np.intp), fixed_cols])
        order = np.argsort(cols, kind="stable")
        rows, cols = rows[order], cols[order]
        objective = float(solved.objective)
        if len(fixed_cols):
            w = weights[fixed_cols] if weights is not None else 1.0
            objective += float(np.sum(_pair_scores(compat, fixed_rows, fixed_cols) * w))
        pairs = pd.DataFrame(
            {
                "mentor_id": m.ids[rows].astype(str) if len(rows) else np.array([], dtype=str),
                "mentee_id": e.ids[cols].astype(str) if len(cols) else np.array([], dtype=str),
            }
        )
        breakdown = compat.breakdown(rows, cols)
        pairs = pd.concat([pairs, breakdown.reset_index(drop=True)], axis=1)
        if "score" not in pairs.columns:
            pairs.insert(2, "score", _pair_scores(compat, rows, cols))

        unmatched: list[dict[str, str]] = []
        matched_cols = np.zeros(len(e), dtype=bool)
        matched_cols[cols] = True
        load = np.bincount(rows, minlength=len(m)) if len(m) else np.zeros(0, int)
        csc = compat.scores.tocsc() if compat.is_sparse else None
        for j in np.flatnonzero(~matched_cols):
            candidates = _candidate_rows(compat, int(j), csc)
            open_candidates = candidates[cap[candidates] > 0]
            if j in fixed_reasons:
                reason = fixed_reasons[int(j)]
            elif len(candidates) == 0:
                reason = compat.why_no_partner(int(j))
            elif len(open_candidates) == 0:
                reason = (
                    f"no allowed mentor takes mentees: all {len(candidates)} allowed "
                    "mentor(s) have capacity 0"
                )
            elif compat.is_sparse:
                reason = (
                    f"capacity exhausted among the {len(candidates)} best-fitting mentor(s) "
                    f"kept (top_k = {compat.top_k}); raise [pairs] top_k to consider more"
                )
            else:
                reason = (
                    f"capacity exhausted: all {len(open_candidates)} allowed mentor(s) "
                    "are full with other mentees"
                )
            unmatched.append({"id": str(e.ids[j]), "role": "mentee", "reason": reason})
        for i in np.flatnonzero(load == 0):
            if cap[i] <= 0:
                reason = "capacity is 0: this mentor takes no mentees this cohort"
            elif _n_candidates(compat, row=int(i)) == 0:
                reason = (
                    "no mentee kept this mentor among their best-fitting candidates "
                    f"(top_k = {compat.top_k})"
                    if compat.is_sparse
                    else compat.why_no_partner_row(int(i))
                )
            else:
                reason = (
                    "no mentee assigned: each allowed mentee was matched to another mentor "
                    "with a better overall fit"
                )
            unmatched.append({"id": str(m.ids[i]), "role": "mentor", "reason": reason})
        return PairsResult(
            pairs=pairs,
            **self._fields(solved, compat, unmatched, offset=objective - solved.objective),
            n_mentors=len(m),
            n_mentees=len(e),
        )

    # ------------------------------------------------------------------ peers
    def peers(self, people: RosterLike) -> PeersResult:
        """Peer learning partners from one pool (about the same level).

        Scores are made symmetric (the mean of both directions) and a pair is
        allowed only when the rules allow it both ways.
        """
        from .solvers import peer_pairs

        p = _as_roster(people, "person", self.rename)
        compat = self.peer_model.score(p, p)
        scores = (compat.scores + compat.scores.T) / 2.0
        allowed = compat.allowed & compat.allowed.T
        np.fill_diagonal(allowed, False)
        solved = peer_pairs(
            scores, allowed, objective=self.objective, time_limit=self.time_limit, seed=self.seed
        )
        rows, cols = np.asarray(solved.rows), np.asarray(solved.cols)
        pairs = pd.DataFrame(
            {
                "person_a": p.ids[rows].astype(str) if len(rows) else np.array([], dtype=str),
                "person_b": p.ids[cols].astype(str) if len(cols) else np.array([], dtype=str),
                "score": scores[rows, cols] if len(rows) else np.array([], dtype=float),
            }
        )
        matched = np.zeros(len(p), dtype=bool)
        matched[rows] = True
        matched[cols] = True
        unmatched = []
        for i in np.flatnonzero(~matched):
            n_allowed = int(allowed[i].sum())
            if n_allowed == 0:
                reason = compat.why_no_partner_row(int(i)).replace("mentee", "partner")
            else:
                reason = (
                    f"no partner left: all {n_allowed} allowed partner(s) were paired with "
                    "others (odd numbers leave one out)"
                )
            unmatched.append({"id": str(p.ids[i]), "role": "person", "reason": reason})
        return PeersResult(
            pairs=pairs,
            **self._fields(solved, compat, unmatched),
            n_people=len(p),
        )

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
        together = _together(proteges, g, self.at)
        distance = None
        if g.diversity_weight > 0 and g.diversity_columns:
            distance = diversity_distance(proteges, g.diversity_columns)
        return {
            "compat": compat,
            "fit": compat.scores,
            "allowed": compat.allowed,
            "attributes": attributes,
            "together": together,
            "distance": distance,
            "weights": self._weights(proteges, g.priority_column),
        }

    def groups(self, leaders: RosterLike, proteges: RosterLike) -> GroupsResult:
        """Learning groups: each leader takes ``min_size``..``max_size`` protégés.

        Composition rules (``min_distinct``, ``max_count``, ``no_isolation``) hold
        in every group; the group shares ``common_hours`` of working time and a
        language; as many protégés as the rules allow are placed (priority
        first), then the fit (plus diversity) is maximised.

        Raises
        ------
        InfeasibleError
            No group at all can be formed; ``reasons`` says which rule and what to relax.
        """
        from .checks import violations as check_violations
        from .reports import composition_audit, group_summary
        from .solvers import learning_groups

        g = self.groups_options
        lead = _as_roster(leaders, "leader", self.rename)
        prot = _as_roster(proteges, "protege", self.rename)
        inputs = self.group_inputs(lead, prot)
        compat = inputs["compat"]
        rules_kw = {
            "min_distinct": dict(g.min_distinct) or None,
            "max_count": dict(g.max_count) or None,
            "no_isolation": list(g.no_isolation) or None,
        }
        solve = functools.partial(
            learning_groups,
            inputs["fit"],
            min_size=g.min_size,
            max_size=g.max_size,
            allowed=inputs["allowed"],
            attributes=inputs["attributes"],
            distance=inputs["distance"],
            diversity_weight=g.diversity_weight if inputs["distance"] is not None else 0.0,
            time_limit=self.time_limit,
            seed=self.seed,
            weights=inputs["weights"],
            together=inputs["together"],
            **rules_kw,
        )
        try:
            solved = solve()
        except InfeasibleError as exc:
            # nothing can be formed: still account for everyone, with the diagnosis
            solved = GroupingResult(
                labels=np.full(len(prot), -1, dtype=np.intp),
                objective=0.0,
                status="infeasible",
                bound=None,
                wall_time=0.0,
                method="diagnosis",
                seed=self.seed,
                diagnosis=exc.reasons,
                reasons={f"leader:{i}": str(exc) for i in range(len(lead))},
            )
        labels = np.asarray(solved.labels)
        placed = np.flatnonzero(labels >= 0)
        used = sorted(set(labels[placed].tolist()))
        number = {leader: k + 1 for k, leader in enumerate(used)}
        groups = pd.DataFrame(
            {
                "group": [number[int(labels[p])] for p in placed],
                "leader_id": [str(lead.ids[labels[p]]) for p in placed],
                "member_id": [str(prot.ids[p]) for p in placed],
                "fit": [float(inputs["fit"][labels[p], p]) for p in placed],
            }
        ).sort_values(["group", "member_id"], kind="stable", ignore_index=True)

        unmatched = []
        for p in np.flatnonzero(labels < 0):
            reason = solved.reasons.get(str(int(p)))
            if reason is None:
                reason = (
                    compat.why_no_partner(int(p))
                    if not compat.allowed[:, p].any()
                    else "not placed: no group could take this protégé within the rules"
                )
            unmatched.append({"id": str(prot.ids[p]), "role": "protege", "reason": reason})
        for leader in range(len(lead)):
            if leader in number:
                continue
            reason = solved.reasons.get(f"leader:{leader}") or (
                "no group opened: too few protégés for another group of "
                f"{g.min_size} within the rules"
            )
            unmatched.append({"id": str(lead.ids[leader]), "role": "leader", "reason": reason})

        violations = tuple(
            check_violations(
                labels,
                fit=inputs["fit"],
                allowed=inputs["allowed"],
                min_size=g.min_size,
                max_size=g.max_size,
                attributes=inputs["attributes"],
                together=inputs["together"],
                **rules_kw,
            )
        )
        audit_columns = list(
            dict.fromkeys(
                [
                    *g.no_isolation,
                    *g.min_distinct,
                    *g.max_count,
                    *[c for c in g.diversity_columns if prot.has(c) and c not in LIST_COLUMNS],
                ]
            )
        )
        summary = group_summary(groups, prot, g, audit_columns)
        audit = composition_audit(groups, prot, audit_columns)
        return GroupsResult(
            groups=groups,
            **self._fields(solved, compat, unmatched),
            group_summary=summary,
            audit=audit,
            violations=violations,
            n_leaders=len(lead),
            n_proteges=len(prot),
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
                    if _n_candidates(compat, col=j) == 0:
                        problems.append(
                            f"pairs: mentee {mentees.ids[j]}: {compat.why_no_partner(j)}"
                        )

            attempt("pairs", check_pairs)
        if leaders is not None and members is not None:
            attempt("groups", lambda: self.group_inputs(leaders, members))
        if people is not None:
            attempt("peers", lambda: self.peer_model.score(people, people))
        return problems


def _typed_details(solved: MatchingResult | GroupingResult) -> dict[str, Any]:
    """The solver's typed details, as the programme result's ``options`` reports them."""
    if isinstance(solved, GroupingResult):
        out: dict[str, Any] = {} if solved.scale is None else {"scale": solved.scale}
        out["diagnosis"] = list(solved.diagnosis)
        return out
    out = {"min_score": solved.min_score}
    if solved.scale is not None:
        out.update(scale=solved.scale, tolerance=solved.tolerance)
    return out


def _pair_scores(compat: Compatibility, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    if len(rows) == 0:
        return np.zeros(0)
    if compat.is_sparse:
        return np.asarray(compat.scores[rows, cols]).ravel()
    return np.asarray(compat.scores[rows, cols], dtype=float)


def _candidate_rows(compat: Compatibility, col: int, csc: Any = None) -> np.ndarray:
    """Rows (mentors) allowed for mentee ``col`` (the kept candidates in sparse form).

    ``csc`` is the score matrix in column-compressed form, when the caller asks
    about many columns of a sparse compatibility (converted once, by the caller).
    """
    if compat.is_sparse:
        csc = compat.scores.tocsc() if csc is None else csc
        return np.sort(csc.indices[csc.indptr[col] : csc.indptr[col + 1]].astype(np.intp))
    return np.flatnonzero(compat.allowed[:, col])


def _without_columns(compat: Compatibility, cols: np.ndarray) -> tuple[Any, np.ndarray | None]:
    """Scores and mask with mentees ``cols`` taken out of the solver's reach."""
    if compat.is_sparse:
        coo = compat.scores.tocoo()
        keep = ~np.isin(coo.col, cols)
        import scipy.sparse as sp

        trimmed = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=coo.shape)
        return trimmed, None
    allowed = compat.allowed.copy()
    allowed[:, cols] = False
    return compat.scores, allowed


def _n_candidates(compat: Compatibility, *, row: int | None = None, col: int | None = None) -> int:
    if compat.is_sparse:
        s = compat.scores
        if col is not None:
            return int(s.getcol(col).nnz)
        return int(s.getrow(row).nnz)
    if col is not None:
        return int(compat.allowed[:, col].sum())
    return int(compat.allowed[row].sum())


def _together(proteges: Roster, g: GroupOptions, at: _dt.date | None) -> np.ndarray | None:
    """Protégé × protégé mask of who may share a group (a common window and a language).

    Two members may share a group when their working hours overlap by at
    least ``common_hours`` (or they work at the same site) and they share a
    language. For windows on one line, every pair overlapping by ≥ h hours is
    the same as the whole group sharing an h-hour window (Helly's theorem in
    one dimension: the common part is [latest start, earliest end], the
    overlap of one pair). Working days compared in UTC lie on a 24-hour
    circle, where that equivalence can fail for windows spread round the clock
    (three 12-hour shifts starting 8 hours apart overlap pairwise but share no
    hour); such groups need a site in common or a manual look.
    """
    n = len(proteges)
    mask = np.ones((n, n), dtype=bool)
    touched = False
    frame = proteges.frame
    if g.common_hours and proteges.has("work_hours") and proteges.has("timezone"):
        hours = frame["work_hours"]
        known = np.array([isinstance(v, tuple) for v in hours], dtype=bool)
        start = np.array([v[0] if isinstance(v, tuple) else 0 for v in hours], dtype=float)
        end = np.array([v[1] if isinstance(v, tuple) else 0 for v in hours], dtype=float)
        off = np.array(proteges.utc_offset_minutes(at), dtype=float)
        known &= ~np.isnan(off)
        off = np.nan_to_num(off)
        overlap = overlap_minutes(
            start[:, None], end[:, None], off[:, None], start[None, :], end[None, :], off[None, :]
        )
        ok = overlap >= 60.0 * g.common_hours
        ok |= ~(known[:, None] & known[None, :])
        if proteges.has("site"):
            site = frame["site"].astype(object).to_numpy()
            same = (site[:, None] == site[None, :]) & pd.notna(site)[:, None]
            ok |= same
        mask &= ok
        touched = True
    if g.shared_language and proteges.has("languages"):
        langs = frame["languages"]
        vocab = sorted({x for cell in langs for x in cell})
        if vocab:
            index = {v: k for k, v in enumerate(vocab)}
            hot = np.zeros((n, len(vocab)), dtype=np.float32)
            for i, cell in enumerate(langs):
                for x in cell:
                    hot[i, index[x]] = 1.0
            empty = hot.sum(axis=1) == 0
            share = (hot @ hot.T) > 0
            share |= empty[:, None] | empty[None, :]
            mask &= share
            touched = True
    if not touched:
        return None
    np.fill_diagonal(mask, True)
    return mask


def diversity_distance(roster: Roster, columns: Sequence[str]) -> np.ndarray:
    """Protégé × protégé dissimilarity in [0, 1]: the mean over ``columns``.

    A categorical column adds 1 when two values differ; ``level`` (or any
    numeric column) adds the absolute difference over its range; a list
    column adds one minus the Jaccard similarity of the two sets. Missing
    values count as "different" (0.5).
    """
    n = len(roster)
    total = np.zeros((n, n), dtype=float)
    used = 0
    for column in columns:
        if not roster.has(column):
            continue
        values = roster.column(column)
        if column in LIST_COLUMNS:
            vocab = sorted({x for cell in values for x in cell})
            if not vocab:
                continue
            index = {v: k for k, v in enumerate(vocab)}
            hot = np.zeros((n, len(vocab)), dtype=float)
            for i, cell in enumerate(values):
                for x in cell:
                    hot[i, index[x]] = 1.0
            inter = hot @ hot.T
            size = hot.sum(axis=1)
            union = size[:, None] + size[None, :] - inter
            with np.errstate(invalid="ignore", divide="ignore"):
                d = np.where(union > 0, 1.0 - inter / np.maximum(union, 1), 0.0)
        elif pd.api.types.is_numeric_dtype(values):
            v = values.to_numpy(float)
            span = np.nanmax(v) - np.nanmin(v) if np.isfinite(v).any() else 0.0
            d = np.abs(v[:, None] - v[None, :]) / (span if span > 0 else 1.0)
            d = np.where(np.isnan(d), 0.5, d)
        else:
            codes, _ = pd.factorize(values.astype(object), use_na_sentinel=True)
            d = (codes[:, None] != codes[None, :]).astype(float)
            missing = codes < 0
            d[missing[:, None] | missing[None, :]] = 0.5
        total += d
        used += 1
    if used:
        total /= used
    np.fill_diagonal(total, 0.0)
    return total
