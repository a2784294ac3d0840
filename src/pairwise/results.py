"""Programme results: solver indices joined back to ids, with reasons, summaries and files.

A solver answers in indices (:mod:`pairwise.solvers`); the builders here
(:func:`pairs_result`, :func:`peers_result`, :func:`groups_result`) turn those
into what a coordinator reads and an HR system stores: one row per pair or
group member, one row per participant left out *with the reason*, a short
summary, and CSV / JSON / HTML renderings. Every input participant appears in
exactly one of ``pairs`` / ``groups`` and ``unmatched``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from .reports import composition_audit, group_summary
from .roster import LIST_COLUMNS, Roster
from .solvers._result import GroupingResult, MatchingResult, _gap

if TYPE_CHECKING:
    from .compatibility import Compatibility

__all__ = [
    "GroupsResult",
    "PairsResult",
    "PeersResult",
    "escape_formulas",
    "groups_result",
    "pairs_result",
    "peers_result",
    "unmatched_path_for",
]

#: First characters that make a spreadsheet treat a cell as a formula
#: (OWASP "CSV injection"): such cells are written with a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

UNMATCHED_COLUMNS = ["id", "role", "reason"]


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text cells cannot run as spreadsheet formulas.

    Text cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return get a leading apostrophe, which spreadsheets display as text.
    Numeric columns are left as they are (a negative number is not a formula).

    Examples
    --------
    >>> import pandas as pd
    >>> out = escape_formulas(pd.DataFrame({"id": ["=1+1", "ok"], "score": [-0.5, 1.0]}))
    >>> out["id"].tolist(), out["score"].tolist()
    (["'=1+1", 'ok'], [-0.5, 1.0])
    """
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        out[name] = column.map(
            lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_STARTS) else v
        )
    return out


def unmatched_path_for(path: str | os.PathLike[str]) -> Path:
    """``pairs.csv`` -> ``pairs.unmatched.csv`` (the default companion file)."""
    p = Path(path)
    suffix = p.suffix or ".csv"
    return p.with_name(f"{p.stem}.unmatched{suffix}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(pd.notna(frame), None)
    return [_jsonable(r) for r in clean.to_dict(orient="records")]


@dataclass(frozen=True)
class _ResultBase:
    """Shared rendering for the three kinds of programme result."""

    unmatched: pd.DataFrame
    status: str
    objective: float
    bound: float | None
    wall_time: float
    method: str
    seed: int
    options: dict[str, Any] = field(default_factory=dict)

    # the main table, named per kind: ``pairs`` or ``groups``
    _main_name = "pairs"

    @property
    def main(self) -> pd.DataFrame:
        return getattr(self, self._main_name)

    @property
    def gap(self) -> float | None:
        """Relative gap to the bound, when a bound is known."""
        return _gap(self.objective, self.bound)

    def _headline(self) -> list[str]:
        gap = self.gap
        lines = [
            f"status: {self.status} ({self.method}, {self.wall_time:.2f} s)",
            f"objective: {self.objective:.4f}"
            + ("" if gap is None else f"  (bound {self.bound:.4f}, gap {100 * gap:.2f}%)"),
        ]
        if len(self.unmatched):
            counts = self.unmatched.groupby("role").size()
            left = ", ".join(f"{n} {role}(s)" for role, n in counts.items())
            lines.append(f"left out: {left} (see unmatched for each reason)")
            top = self.unmatched["reason"].value_counts().head(3)
            for reason, n in top.items():
                lines.append(f"  {n:>4} × {reason}")
        else:
            lines.append("left out: nobody")
        lines.extend(f"note: {note}" for note in self.options.get("notes", ()))
        return lines

    def summary(self) -> str:
        """A few lines a coordinator can read (each kind adds its counts first)."""
        return "\n".join(self._headline())

    def to_csv(
        self,
        path: str | os.PathLike[str],
        *,
        unmatched: str | os.PathLike[str] | None = None,
    ) -> tuple[Path, Path]:
        """Write the main table to ``path`` and the unmatched list beside it.

        The unmatched file defaults to ``<stem>.unmatched.csv``. Text cells are
        escaped against spreadsheet formula injection (:func:`escape_formulas`).
        Returns the two paths written.
        """
        main_path = Path(path)
        other = Path(unmatched) if unmatched is not None else unmatched_path_for(main_path)
        main_path.parent.mkdir(parents=True, exist_ok=True)
        other.parent.mkdir(parents=True, exist_ok=True)
        escape_formulas(self.main).to_csv(main_path, index=False, float_format="%.6g")
        escape_formulas(self.unmatched).to_csv(other, index=False)
        return main_path, other

    def to_dict(self) -> dict[str, Any]:
        """Everything in plain Python types (what :meth:`to_json` writes)."""
        return {
            "kind": self._main_name,
            "status": self.status,
            "objective": _jsonable(self.objective),
            "bound": _jsonable(self.bound),
            "gap": _jsonable(self.gap),
            "wall_time": _jsonable(self.wall_time),
            "method": self.method,
            "seed": self.seed,
            "options": _jsonable(self.options),
            self._main_name: _records(self.main),
            "unmatched": _records(self.unmatched),
        }

    def to_json(self, path: str | os.PathLike[str] | None = None, *, indent: int = 2) -> str:
        """The result as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def _repr_html_(self) -> str:
        head = "<br>".join(self._headline())
        return (
            f"<div><p><b>pairwise {self._main_name}</b><br>{head}</p>"
            f"{self.main.head(20).to_html(index=False)}"
            + (
                f"<p>unmatched ({len(self.unmatched)})</p>"
                f"{self.unmatched.head(20).to_html(index=False)}"
                if len(self.unmatched)
                else ""
            )
            + "</div>"
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._main_name}={len(self.main)}, "
            f"unmatched={len(self.unmatched)}, status={self.status!r}, "
            f"objective={self.objective:.4f})"
        )


@dataclass(frozen=True, repr=False)
class PairsResult(_ResultBase):
    """Mentor–mentee pairs (one-to-one or one-to-many).

    Attributes
    ----------
    pairs : DataFrame
        One row per matched pair: ``mentor_id``, ``mentee_id``, ``score`` and
        one column per criterion's weighted contribution.
    unmatched : DataFrame
        ``id``, ``role`` (``mentor`` / ``mentee``), ``reason``: everyone in no pair.
    status, objective, bound, wall_time, method, seed, options
        From the solver (objective in the solver's terms, weighted by priority).
    """

    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_mentors: int = 0
    n_mentees: int = 0
    _main_name = "pairs"

    def summary(self) -> str:
        """A few lines a coordinator can read: counts, scores, who waits and why."""
        lines = [
            f"pairs: {len(self.pairs)} matched of {self.n_mentees} mentees "
            f"({self.n_mentors} mentors)"
        ]
        if len(self.pairs):
            s = self.pairs["score"]
            lines.append(
                f"score: mean {s.mean():.3f}, lowest {s.min():.3f}, highest {s.max():.3f}"
            )
            loads = self.pairs.groupby("mentor_id").size()
            lines.append(f"mentors used: {len(loads)}, most mentees per mentor: {loads.max()}")
        return "\n".join(lines + self._headline())


@dataclass(frozen=True, repr=False)
class PeersResult(_ResultBase):
    """Peer learning partners from one pool.

    ``pairs`` has one row per pair: ``person_a``, ``person_b`` and ``score``
    (the mean of both directions' scores); ``unmatched`` lists everyone without
    a partner.
    """

    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_people: int = 0
    _main_name = "pairs"

    def summary(self) -> str:
        """A few lines a coordinator can read."""
        lines = [f"peers: {len(self.pairs)} pairs from {self.n_people} people"]
        if len(self.pairs):
            s = self.pairs["score"]
            lines.append(
                f"score: mean {s.mean():.3f}, lowest {s.min():.3f}, highest {s.max():.3f}"
            )
        return "\n".join(lines + self._headline())


@dataclass(frozen=True, repr=False)
class GroupsResult(_ResultBase):
    """Learning groups: one leader and five to seven protégés each.

    Attributes
    ----------
    groups : DataFrame
        One row per assigned protégé: ``group``, ``leader_id``, ``member_id``, ``fit``.
    unmatched : DataFrame
        Every protégé without a group and every leader without one, with the reason.
    group_summary : DataFrame
        One row per group: size, mean fit, distinct values per audited column,
        and one boolean column per composition rule (met or not).
    audit : DataFrame
        Composition audit: for each audited column and value, its share in the
        protégé population, among placed protégés, and the range across groups.
    violations : tuple of str
        Rule violations found by :func:`pairwise.checks.violations` (empty when
        every rule holds).
    """

    groups: pd.DataFrame = field(default_factory=pd.DataFrame)
    group_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    audit: pd.DataFrame = field(default_factory=pd.DataFrame)
    violations: tuple[str, ...] = ()
    n_leaders: int = 0
    n_proteges: int = 0
    _main_name = "groups"

    def summary(self) -> str:
        """A few lines a coordinator can read: groups, sizes, fit, rules, who waits."""
        n_groups = int(self.groups["group"].nunique()) if len(self.groups) else 0
        lines = [
            f"groups: {n_groups} of {self.n_leaders} leaders, "
            f"{len(self.groups)} of {self.n_proteges} protégés placed"
        ]
        if len(self.group_summary):
            gs = self.group_summary
            lines.append(
                f"size: {gs['size'].min()}–{gs['size'].max()}, mean fit "
                f"{gs['mean_fit'].mean():.3f} (lowest group {gs['mean_fit'].min():.3f})"
            )
        lines.append(
            "rules: all met" if not self.violations else f"rules: {len(self.violations)} broken"
        )
        lines.extend(f"  ! {v}" for v in self.violations[:5])
        return "\n".join(lines + self._headline())

    def to_csv(
        self,
        path: str | os.PathLike[str],
        *,
        unmatched: str | os.PathLike[str] | None = None,
    ) -> tuple[Path, Path]:
        """Write ``groups`` to ``path``, the unmatched list and a group summary beside it.

        The summary goes to ``<stem>.summary.csv``.
        """
        written = super().to_csv(path, unmatched=unmatched)
        p = Path(path)
        summary_path = p.with_name(f"{p.stem}.summary{p.suffix or '.csv'}")
        escape_formulas(self.group_summary).to_csv(summary_path, index=False)
        return written

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["group_summary"] = _records(self.group_summary)
        out["audit"] = _records(self.audit)
        out["violations"] = list(self.violations)
        return out


# ---------------------------------------------------------------------------
# Builders: solver indices -> ids, with a reason for everyone left out
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """What a programme adds to each of its results: its name, objective and seed."""

    programme: str
    objective: str
    seed: int


class GroupRules(Protocol):
    """The group options a groups result reads (``pairwise.GroupOptions`` has them)."""

    @property
    def min_size(self) -> int: ...
    @property
    def min_distinct(self) -> Mapping[str, int]: ...
    @property
    def max_count(self) -> Mapping[str, int]: ...
    @property
    def no_isolation(self) -> tuple[str, ...]: ...
    @property
    def diversity_columns(self) -> tuple[str, ...]: ...


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


def _shared_fields(
    solved: MatchingResult | GroupingResult,
    compat: Compatibility,
    unmatched: list[dict[str, str]],
    run: RunInfo,
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
        "seed": run.seed,
        "options": {
            **solved.options,
            **_typed_details(solved),
            "objective": run.objective,
            "programme": run.programme,
            "notes": list(compat.notes),
        },
    }


def _ids(roster: Roster, positions: np.ndarray) -> np.ndarray:
    return roster.ids[positions].astype(str) if len(positions) else np.array([], dtype=str)


def pairs_result(
    compat: Compatibility,
    solved: MatchingResult,
    mentors: Roster,
    mentees: Roster,
    *,
    capacity: np.ndarray,
    weights: np.ndarray | None,
    fixed_rows: np.ndarray,
    fixed_cols: np.ndarray,
    fixed_reasons: Mapping[int, str],
    run: RunInfo,
) -> PairsResult:
    """The pairs the solver formed plus the required ones (``fixed_*``), joined to ids.

    The objective adds the required pairs' scores (weighted by priority) to
    the solver's; every mentee and mentor in no pair is listed with the reason
    (``fixed_reasons`` for required pairs that broke another rule).
    """
    rows = np.concatenate([np.asarray(solved.rows, dtype=np.intp), fixed_rows])
    cols = np.concatenate([np.asarray(solved.cols, dtype=np.intp), fixed_cols])
    order = np.argsort(cols, kind="stable")
    rows, cols = rows[order], cols[order]
    objective = float(solved.objective)
    if len(fixed_cols):
        w = weights[fixed_cols] if weights is not None else 1.0
        objective += float(np.sum(compat.pair_scores(fixed_rows, fixed_cols) * w))
    pairs = pd.DataFrame({"mentor_id": _ids(mentors, rows), "mentee_id": _ids(mentees, cols)})
    breakdown = compat.breakdown(rows, cols)
    pairs = pd.concat([pairs, breakdown.reset_index(drop=True)], axis=1)
    if "score" not in pairs.columns:
        pairs.insert(2, "score", compat.pair_scores(rows, cols))
    unmatched = _unmatched_mentees(compat, mentees, cols, capacity, fixed_reasons)
    unmatched += _unmatched_mentors(compat, mentors, rows, capacity)
    return PairsResult(
        pairs=pairs,
        **_shared_fields(solved, compat, unmatched, run, offset=objective - solved.objective),
        n_mentors=len(mentors),
        n_mentees=len(mentees),
    )


def _unmatched_mentees(
    compat: Compatibility,
    mentees: Roster,
    cols: np.ndarray,
    capacity: np.ndarray,
    fixed_reasons: Mapping[int, str],
) -> list[dict[str, str]]:
    """A row per mentee in no pair, with the first reason that applies."""
    matched = np.zeros(len(mentees), dtype=bool)
    matched[cols] = True
    out = []
    for j in np.flatnonzero(~matched):
        candidates = compat.candidate_rows(int(j))
        open_candidates = candidates[capacity[candidates] > 0]
        if j in fixed_reasons:
            reason = fixed_reasons[int(j)]
        elif len(candidates) == 0:
            reason = compat.why_no_partner(int(j))
        elif len(open_candidates) == 0:
            reason = (
                f"no allowed mentor takes mentees: all {len(candidates)} allowed "
                "mentor(s) have capacity 0"
            )
        else:
            reason = compat.why_candidates_full(len(candidates), len(open_candidates))
        out.append({"id": str(mentees.ids[j]), "role": "mentee", "reason": reason})
    return out


def _unmatched_mentors(
    compat: Compatibility, mentors: Roster, rows: np.ndarray, capacity: np.ndarray
) -> list[dict[str, str]]:
    """A row per mentor with no mentee, with the reason."""
    load = np.bincount(rows, minlength=len(mentors)) if len(mentors) else np.zeros(0, int)
    out = []
    for i in np.flatnonzero(load == 0):
        if capacity[i] <= 0:
            reason = "capacity is 0: this mentor takes no mentees this cohort"
        elif compat.n_candidates(row=int(i)) == 0:
            reason = compat.why_no_candidate_row(int(i))
        else:
            reason = (
                "no mentee assigned: each allowed mentee was matched to another mentor "
                "with a better overall fit"
            )
        out.append({"id": str(mentors.ids[i]), "role": "mentor", "reason": reason})
    return out


def peers_result(
    compat: Compatibility,
    solved: MatchingResult,
    people: Roster,
    *,
    scores: np.ndarray,
    allowed: np.ndarray,
    run: RunInfo,
) -> PeersResult:
    """Peer pairs joined to ids; everyone without a partner listed with the reason.

    ``scores`` / ``allowed`` are the symmetric matrices the solver received.
    """
    rows, cols = np.asarray(solved.rows), np.asarray(solved.cols)
    pairs = pd.DataFrame(
        {
            "person_a": _ids(people, rows),
            "person_b": _ids(people, cols),
            "score": scores[rows, cols] if len(rows) else np.array([], dtype=float),
        }
    )
    matched = np.zeros(len(people), dtype=bool)
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
        unmatched.append({"id": str(people.ids[i]), "role": "person", "reason": reason})
    return PeersResult(
        pairs=pairs, **_shared_fields(solved, compat, unmatched, run), n_people=len(people)
    )


def groups_result(
    compat: Compatibility,
    solved: GroupingResult,
    leaders: Roster,
    proteges: Roster,
    *,
    fit: np.ndarray,
    options: GroupRules,
    violations: Sequence[str],
    run: RunInfo,
) -> GroupsResult:
    """Groups joined to ids (numbered 1.. in leader order), reasons, summary and audit.

    ``violations`` are the broken rules :func:`pairwise.checks.violations`
    found; the summary and the composition audit cover the composition rules'
    columns and the categorical diversity columns.
    """
    labels = np.asarray(solved.labels)
    placed = np.flatnonzero(labels >= 0)
    used = sorted(set(labels[placed].tolist()))
    number = {leader: k + 1 for k, leader in enumerate(used)}
    groups = pd.DataFrame(
        {
            "group": [number[int(labels[p])] for p in placed],
            "leader_id": [str(leaders.ids[labels[p]]) for p in placed],
            "member_id": [str(proteges.ids[p]) for p in placed],
            "fit": [float(fit[labels[p], p]) for p in placed],
        }
    ).sort_values(["group", "member_id"], kind="stable", ignore_index=True)
    unmatched = _unmatched_proteges(compat, solved, labels, proteges)
    unmatched += _unmatched_leaders(solved, number, leaders, options.min_size)
    columns = _audit_columns(options, proteges)
    return GroupsResult(
        groups=groups,
        **_shared_fields(solved, compat, unmatched, run),
        group_summary=group_summary(groups, proteges, options, columns),
        audit=composition_audit(groups, proteges, columns),
        violations=tuple(violations),
        n_leaders=len(leaders),
        n_proteges=len(proteges),
    )


def _unmatched_proteges(
    compat: Compatibility, solved: GroupingResult, labels: np.ndarray, proteges: Roster
) -> list[dict[str, str]]:
    """A row per protégé in no group: the solver's reason, else the rules' account."""
    out = []
    for p in np.flatnonzero(labels < 0):
        reason = solved.reasons.get(str(int(p)))
        if reason is None:
            reason = (
                compat.why_no_partner(int(p))
                if not compat.n_candidates(col=int(p))
                else "not placed: no group could take this protégé within the rules"
            )
        out.append({"id": str(proteges.ids[p]), "role": "protege", "reason": reason})
    return out


def _unmatched_leaders(
    solved: GroupingResult, number: Mapping[int, int], leaders: Roster, min_size: int
) -> list[dict[str, str]]:
    """A row per leader without a group, with the solver's reason or the default one."""
    out = []
    for leader in range(len(leaders)):
        if leader in number:
            continue
        reason = solved.reasons.get(f"leader:{leader}") or (
            f"no group opened: too few protégés for another group of {min_size} within the rules"
        )
        out.append({"id": str(leaders.ids[leader]), "role": "leader", "reason": reason})
    return out


def _audit_columns(options: GroupRules, proteges: Roster) -> list[str]:
    """Columns the summary and audit cover: rule columns, then categorical diversity ones."""
    return list(
        dict.fromkeys(
            [
                *options.no_isolation,
                *options.min_distinct,
                *options.max_count,
                *[
                    c
                    for c in options.diversity_columns
                    if proteges.has(c) and c not in LIST_COLUMNS
                ],
            ]
        )
    )
