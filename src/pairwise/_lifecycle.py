"""Re-matching a programme against its previous cohort: pins, previous pairs and changes.

:meth:`pairwise.Program.pairs` takes ``pinned`` (pairs that must be formed),
``previous`` (last cohort's published pairs) and ``max_changes``. This module
reads those tables (a DataFrame or a CSV path with ``mentor_id`` and
``mentee_id``), checks them against the rosters and the rules, turns them into
solver input, and builds ``result.changes``.

What counts as a change. Every previous pair gets one row: ``kept`` when the
new plan holds it, ``broken`` otherwise, with the reason. Only the pairs that
*could* have been kept count against ``max_changes``: a pair whose mentor or
mentee left the programme, that the rules no longer allow, whose mentor now
takes nobody, or whose mentee is pinned (or required) elsewhere is broken by
the input, not by the solver, and ``why`` says so. Every pair of the new plan
that was not a previous pair gets a ``new`` row (a new mentee, a mentee whose
previous pair ended, a pin, or a re-match that raised the number matched).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .compatibility import Compatibility
from .errors import InfeasibleError, InputError
from .roster import Roster
from .solvers._result import MatchingResult

__all__ = [
    "CHANGE_COLUMNS",
    "GROUP_COLUMNS",
    "PAIR_COLUMNS",
    "PEER_COLUMNS",
    "PairsPlan",
    "PeersPlan",
    "changes_line",
    "empty_changes",
    "groups_changes",
    "keep_bonus_fit",
    "keep_bonus_scores",
    "pairs_changes",
    "peers_changes",
    "plan_groups",
    "plan_pairs",
    "plan_peers",
    "read_pairs",
    "translate_infeasible",
    "without_bonus",
    "without_fit_bonus",
]

#: Columns of a pins or previous-pairs table for mentor–mentee pairs.
PAIR_COLUMNS = ("mentor_id", "mentee_id")
#: Columns of ``result.changes`` for pairs (the ids, then these two).
CHANGE_COLUMNS = ("mentor_id", "mentee_id", "change", "why")

PairsSource = pd.DataFrame | str | os.PathLike[str]

_SHOWN = 5


def empty_changes(id_columns: tuple[str, ...] = PAIR_COLUMNS) -> pd.DataFrame:
    """The ``changes`` table when no previous pairs were given: no rows, the usual columns."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in (*id_columns, "change", "why")})


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_pairs(
    source: PairsSource, option: str, columns: tuple[str, ...] = PAIR_COLUMNS
) -> pd.DataFrame:
    """A pins / previous table as text ids, with a ``where`` column naming each row's line.

    Parameters
    ----------
    source : DataFrame or path
        A table with ``columns`` (other columns are ignored); a path is read
        as CSV (or Excel for ``.xlsx``).
    option : str
        How messages name the argument, e.g. ``"previous"`` or ``"--pin"``.
    columns : tuple of str
        The id columns.

    Raises
    ------
    InputError
        The file cannot be read, a column is missing (with close names),
        a cell is blank (naming file, line and column) or a row repeats.

    Examples
    --------
    >>> read_pairs(pd.DataFrame({"mentor_id": [1], "mentee_id": ["e1"]}), "previous")
      mentor_id mentee_id   where
    0         1        e1  line 2
    """
    if isinstance(source, pd.DataFrame):
        frame, shown = source.copy(), f"the `{option}` table"
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        shown = f"{path} (`{option}`)"
        try:
            if path.suffix.lower() == ".xlsx":
                frame = pd.read_excel(path, dtype=str)
            else:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep=None,
                                    engine="python")  # fmt: skip
        except FileNotFoundError as exc:
            raise InputError(
                f"`{option}` must name a readable file; {path} does not exist. Fix: check "
                "the path."
            ) from exc
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise InputError(
                f"`{option}` must be a CSV table with columns {', '.join(columns)}; could not "
                f"read {path} ({exc}). Fix: save it as CSV with a header row."
            ) from exc
    else:
        raise InputError(
            f"`{option}` must be a DataFrame or a CSV path with columns {', '.join(columns)}; "
            f"got {type(source).__name__}. Fix: pass a table of {' and '.join(columns)}."
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns[:12])) or "no columns"
        close = difflib.get_close_matches(missing[0], list(frame.columns), n=1, cutoff=0.6)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise InputError(
            f"`{option}` must have columns {', '.join(columns)}; {shown} lacks "
            f"`{missing[0]}`{hint}; found {found}. Fix: rename the column in the file."
        )
    out = pd.DataFrame({c: [_text(v) for v in frame[c].tolist()] for c in columns})
    out["where"] = [f"line {k + 2}" for k in range(len(out))]
    problems = [
        f"{shown}, {w}: `{c}` is blank"
        for c in columns
        for w, v in zip(out["where"], out[c], strict=True)
        if not v
    ]
    dup = out.duplicated(list(columns), keep="first")
    problems += [f"{shown}, {w}: the pair repeats an earlier line" for w in out["where"][dup]]
    if problems:
        raise InputError(
            f"`{option}` must list each pair once with both ids; {problems[0]}"
            + (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else "")
            + ". Fix: fill in or remove those lines.",
            problems,
        )
    return out


def _unknown(ids: list[str], roster: Roster, role: str, option: str) -> str:
    """One sentence listing unknown ids, with close ids of the roster where there are any."""
    known = [str(i) for i in roster.ids.tolist()]
    parts = []
    for u in ids[:_SHOWN]:
        close = difflib.get_close_matches(u, known, n=1, cutoff=0.6)
        parts.append(f"{u!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    more = f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else ""
    return (
        f"`{option}` names {role} id(s) not in {roster.display}: {', '.join(parts)}{more}. "
        f"Fix: correct the ids, or remove those lines."
    )


def _positions(roster: Roster, ids: pd.Series) -> np.ndarray:
    lookup = {str(v): k for k, v in enumerate(roster.ids.tolist())}
    return np.array([lookup.get(str(i), -1) for i in ids.tolist()], dtype=np.intp)


def _broken_rules(compat: Compatibility, mentor: str, mentee: str) -> str:
    """The rules a pair breaks, for a message ("level gap (...); shared language (...)")."""
    try:
        rules = compat.explain(mentor, mentee).rules
    except InputError:
        return "not among the kept candidates"
    broken = rules[~rules["allowed"].astype(bool)]
    if broken.empty:
        return f"not among the mentee's best-fitting candidates (top_k = {compat.top_k})"
    named = [f"{r.rule} ({r.reason})" for r in broken.head(3).itertuples()]
    return "; ".join(named) + (f" and {len(broken) - 3} more" if len(broken) > 3 else "")


@dataclass
class PairsPlan:
    """Solver input derived from pins and previous pairs, and what the changes table needs."""

    fixed_rows: np.ndarray
    fixed_cols: np.ndarray
    pinned: set[tuple[str, str]] = field(default_factory=set)
    previous: pd.DataFrame | None = None  # mentor_id, mentee_id, where, row, col
    solver_previous: tuple[np.ndarray, np.ndarray] | None = None
    ended: dict[tuple[str, str], str] = field(default_factory=dict)


def _pins(
    source: PairsSource, compat: Compatibility, m: Roster, e: Roster
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    frame = read_pairs(source, "pinned")
    rows, cols = _positions(m, frame["mentor_id"]), _positions(e, frame["mentee_id"])
    problems = []
    for ids, pos, roster, role in (
        (frame["mentor_id"], rows, m, "mentor"),
        (frame["mentee_id"], cols, e, "mentee"),
    ):
        unknown = list(dict.fromkeys(ids[pos < 0].tolist()))
        if unknown:
            problems.append(_unknown(unknown, roster, role, "pinned"))
    if problems:
        raise InputError(problems[0], problems)
    twice = frame["mentee_id"].duplicated(keep=False)
    if twice.any():
        lines = ", ".join(frame["where"][twice].tolist()[:_SHOWN])
        raise InputError(
            f"`pinned` must give each mentee one mentor; mentee "
            f"{frame['mentee_id'][twice].iloc[0]!r} is pinned more than once ({lines}). "
            "Fix: keep one pin per mentee."
        )
    for k in range(len(frame)):
        if not compat.is_candidate(int(rows[k]), int(cols[k])):
            a, b = frame["mentor_id"].iloc[k], frame["mentee_id"].iloc[k]
            raise InputError(
                f"`pinned` pair {a} - {b} ({frame['where'].iloc[k]}) breaks a rule: "
                f"{_broken_rules(compat, a, b)}. Fix: remove the pin, or relax that rule "
                "in the programme file."
            )
    return rows, cols, frame


def plan_pairs(
    compat: Compatibility,
    m: Roster,
    e: Roster,
    capacity: np.ndarray,
    fixed: tuple[np.ndarray, np.ndarray],
    *,
    pinned: PairsSource | None,
    previous: PairsSource | None,
) -> PairsPlan:
    """Pins joined to the required pairs, and previous pairs as solver indices.

    Raises
    ------
    InputError
        A bad table, an unknown pinned id, a pin breaking a rule, a mentee
        pinned twice or pinned against a required pair.
    InfeasibleError
        The pins and required pairs exceed a mentor's capacity.
    """
    fixed_rows, fixed_cols = (np.asarray(a, dtype=np.intp) for a in fixed)
    plan = PairsPlan(fixed_rows, fixed_cols)
    if pinned is not None:
        rows, cols, frame = _pins(pinned, compat, m, e)
        clash = np.isin(cols, fixed_cols)
        for k in np.flatnonzero(clash):
            j = int(cols[k])
            other = int(fixed_rows[np.flatnonzero(fixed_cols == j)[0]])
            if other != rows[k]:
                raise InputError(
                    f"`pinned` pair {frame['mentor_id'].iloc[k]} - {e.ids[j]} "
                    f"({frame['where'].iloc[k]}) contradicts the rule `require`, which pairs "
                    f"{e.ids[j]} with {m.ids[other]}. Fix: remove one of the two."
                )
        plan.fixed_rows = np.concatenate([fixed_rows, rows[~clash]])
        plan.fixed_cols = np.concatenate([fixed_cols, cols[~clash]])
        plan.pinned = set(zip(frame["mentor_id"], frame["mentee_id"], strict=True))
        load = np.bincount(plan.fixed_rows, minlength=len(m))
        over = np.flatnonzero(load > capacity)
        if over.size:
            named = ", ".join(
                f"{m.ids[i]} (pinned or required for {int(load[i])}, capacity {int(capacity[i])})"
                for i in over[:_SHOWN]
            )
            raise InfeasibleError(
                f"pinned pairs exceed mentor capacity: {named}. Fix: raise the capacity or "
                "remove pins."
            )
    if previous is not None:
        _plan_previous(plan, compat, m, e, capacity, previous)
    return plan


def _plan_previous(
    plan: PairsPlan,
    compat: Compatibility,
    m: Roster,
    e: Roster,
    capacity: np.ndarray,
    source: PairsSource,
) -> None:
    frame = read_pairs(source, "previous")
    twice = frame["mentee_id"].duplicated(keep=False)
    if twice.any():
        lines = ", ".join(frame["where"][twice].tolist()[:_SHOWN])
        raise InputError(
            f"`previous` must give each mentee one mentor; mentee "
            f"{frame['mentee_id'][twice].iloc[0]!r} appears more than once ({lines}). "
            "Fix: keep one line per mentee (the published pair)."
        )
    frame["row"] = _positions(m, frame["mentor_id"])
    frame["col"] = _positions(e, frame["mentee_id"])
    fixed_mentor = dict(zip(plan.fixed_cols.tolist(), plan.fixed_rows.tolist(), strict=True))
    usable = []
    for k, (a, b, i, j) in enumerate(
        zip(frame["mentor_id"], frame["mentee_id"], frame["row"], frame["col"], strict=True)
    ):
        why = None
        if i < 0:
            why = f"mentor {a} left the programme"
        elif j < 0:
            why = f"mentee {b} left the programme"
        elif j in fixed_mentor and fixed_mentor[j] != i:
            why = f"mentee {b} is pinned (or required) with mentor {m.ids[fixed_mentor[j]]}"
        elif j in fixed_mentor:
            why = "pinned"
        elif capacity[i] <= 0:
            why = f"mentor {a} takes no mentees this cohort (capacity 0)"
        elif not compat.is_candidate(int(i), int(j)):
            why = f"no longer allowed: {_broken_rules(compat, a, b)}"
        if why is None:
            usable.append(k)
        else:
            plan.ended[(a, b)] = why
    plan.previous = frame
    picked = frame.iloc[usable]
    plan.solver_previous = (
        picked["row"].to_numpy(np.int64),
        picked["col"].to_numpy(np.int64),
    )


def pairs_changes(plan: PairsPlan, pairs: pd.DataFrame, *, priority: bool = False) -> pd.DataFrame:
    """``result.changes``: one row per previous pair (kept / broken) and per new pair.

    ``pairs`` is the result's table (``mentor_id``, ``mentee_id``).
    """
    if plan.previous is None:
        return empty_changes()
    prev = plan.previous
    now = dict(zip(pairs["mentee_id"].astype(str), pairs["mentor_id"].astype(str), strict=True))
    before = dict(zip(prev["mentee_id"], prev["mentor_id"], strict=True))
    rows = []
    raised = "re-matched to raise the number matched" + (
        " or place priority mentees first" if priority else ""
    )
    for a, b in zip(prev["mentor_id"], prev["mentee_id"], strict=True):
        if now.get(b) == a:
            why = "pinned" if (a, b) in plan.pinned else "kept from the previous cohort"
            rows.append((a, b, "kept", why))
        elif (a, b) in plan.ended:
            rows.append((a, b, "broken", plan.ended[(a, b)]))
        elif b in now:
            rows.append((a, b, "broken", f"mentee {b} {raised} (now with mentor {now[b]})"))
        else:
            rows.append((a, b, "broken", f"{raised}: mentee {b} is left out"))
    for b, a in now.items():
        if before.get(b) == a:
            continue
        if (a, b) in plan.pinned:
            why = "pinned"
        elif b not in before:
            why = "new mentee"
        elif (before[b], b) in plan.ended:
            why = f"previous pair ended: {plan.ended[(before[b], b)]}"
        else:
            why = raised
        rows.append((a, b, "new", why))
    return pd.DataFrame(rows, columns=list(CHANGE_COLUMNS))


def changes_line(changes: pd.DataFrame) -> str:
    """``"changes: 107 kept, 3 broken, 3 new"`` for a summary."""
    counts = changes["change"].value_counts()
    return "changes: " + ", ".join(
        f"{int(counts.get(kind, 0))} {kind}" for kind in ("kept", "broken", "new")
    )


def translate_infeasible(error: InfeasibleError, mentors: Roster) -> InfeasibleError:
    """The solver's ``max_changes`` error with mentor ids instead of positions."""
    ids = mentors.ids

    def named(text: str) -> str:
        return re.sub(r"mentor (\d+) had", lambda mo: f"mentor {ids[int(mo.group(1))]} had", text)

    def cli(text: str) -> str:
        return named(text).replace("max_changes", "max_changes (--max-changes)")

    return InfeasibleError(cli(str(error)), [cli(r) for r in error.reasons])


# --------------------------------------------------------------------------- peers

#: Columns of a previous-pairs table for peers.
PEER_COLUMNS = ("person_a", "person_b")


@dataclass
class PeersPlan:
    """Previous peer pairs: positions of those still possible, and why the others ended."""

    previous: pd.DataFrame
    rows: np.ndarray
    cols: np.ndarray
    ended: dict[frozenset[str], str] = field(default_factory=dict)


def plan_peers(
    compat: Compatibility, people: Roster, allowed: np.ndarray, source: PairsSource
) -> PeersPlan:
    """Last cohort's peer pairs (``person_a``, ``person_b``) checked against the pool.

    A pair ends (it cannot be kept) when one of the two left the pool or the
    rules no longer allow it both ways.

    Raises
    ------
    InputError
        A bad table, a person in two previous pairs, or a person paired with themself.
    """
    frame = read_pairs(source, "previous", PEER_COLUMNS)
    people_in = pd.concat([frame["person_a"], frame["person_b"]], ignore_index=True)
    twice = people_in[people_in.duplicated()]
    if len(twice):
        raise InputError(
            f"`previous` must put each person in at most one pair; {twice.iloc[0]!r} appears "
            "more than once. Fix: keep the published pairs only."
        )
    a = _positions(people, frame["person_a"])
    b = _positions(people, frame["person_b"])
    plan = PeersPlan(frame, np.zeros(0, np.intp), np.zeros(0, np.intp))
    usable = []
    for k, (x, y) in enumerate(zip(frame["person_a"], frame["person_b"], strict=True)):
        key = frozenset((x, y))
        if a[k] < 0 or b[k] < 0:
            plan.ended[key] = f"{x if a[k] < 0 else y} left the programme"
        elif not allowed[a[k], b[k]]:
            rules = _broken_rules(compat, x, y)
            if rules.startswith("not among"):
                rules = _broken_rules(compat, y, x)
            plan.ended[key] = f"no longer allowed: {rules}"
        else:
            usable.append(k)
    plan.rows, plan.cols = a[usable], b[usable]
    return plan


def keep_bonus_scores(
    scores: np.ndarray, allowed: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, float]:
    """Scores with a keep bonus on the previous pairs, and the bonus.

    The bonus exceeds the largest difference between the totals of any two
    matchings (``n / 2`` pairs times the spread of the allowed scores), so
    among the matchings with the most pairs one with the most kept pairs wins,
    and among those the best total: (count, kept, score), lexicographic, for
    an exact solver. The spread is tiny next to float64's range for any pool
    pairwise handles (scores in [0, 1], 50,000 people: a bonus of 25,001).
    """
    values = scores[allowed] if allowed.any() else np.zeros(1)
    spread = float(values.max() - values.min()) if values.size else 0.0
    bonus = (scores.shape[0] // 2) * spread + 1.0
    out = np.array(scores, dtype=float, copy=True)
    out[rows, cols] += bonus
    out[cols, rows] += bonus
    return out, bonus


def peers_changes(plan: PeersPlan | None, pairs: pd.DataFrame) -> pd.DataFrame:
    """``result.changes`` for peers: one row per previous pair (kept / broken) and per new pair."""
    if plan is None:
        return empty_changes(PEER_COLUMNS)
    now = {
        frozenset((x, y)): (x, y)
        for x, y in zip(pairs["person_a"].astype(str), pairs["person_b"].astype(str), strict=True)
    }
    partner_now = {p: q for x, y in now.values() for p, q in ((x, y), (y, x))}
    prev = plan.previous
    old_pairs = list(zip(prev["person_a"], prev["person_b"], strict=True))
    before = {frozenset(pair) for pair in old_pairs}
    partner_before = {p: frozenset(pair) for pair in old_pairs for p in pair}
    raised = "re-matched to raise the number of pairs"
    rows = []
    for x, y in zip(prev["person_a"], prev["person_b"], strict=True):
        key = frozenset((x, y))
        if key in now:
            rows.append((x, y, "kept", "kept from the previous cohort"))
        elif key in plan.ended:
            rows.append((x, y, "broken", plan.ended[key]))
        else:
            moved = [p for p in (x, y) if p in partner_now]
            where = f" ({moved[0]} now with {partner_now[moved[0]]})" if moved else ""
            rows.append((x, y, "broken", raised + where))
    for key, (x, y) in now.items():
        if key in before:
            continue
        olds = [partner_before[p] for p in (x, y) if p in partner_before]
        if not olds:
            why = "new pair of people not paired last cohort"
        elif any(o in plan.ended for o in olds):
            why = "previous pair ended: " + "; ".join(
                plan.ended[o] for o in olds if o in plan.ended
            )
        else:
            why = raised
        rows.append((x, y, "new", why))
    return pd.DataFrame(rows, columns=[*PEER_COLUMNS, "change", "why"])


def without_bonus(solved: MatchingResult, scores: np.ndarray) -> MatchingResult:
    """A peers result solved on :func:`keep_bonus_scores`, its objective on the real scores.

    An optimal result stays optimal (its bound is its objective); any other
    loses its bound, as a bound on the bonus total says nothing about the
    real one, and ``options["kept_bonus"]`` records that the bonus was used.
    """
    rows, cols = np.asarray(solved.rows), np.asarray(solved.cols)
    values = scores[rows, cols] if len(rows) else np.zeros(0)
    objective = float(values.sum())
    optimal = solved.status == "optimal"
    return dataclasses.replace(
        solved,
        objective=objective,
        bound=objective if optimal else None,
        min_score=float(values.min()) if len(values) else None,
        options=dict(solved.options, kept_bonus=True),
    )


# --------------------------------------------------------------------------- groups

#: Columns of a previous groups table (the ``groups`` output of a run).
GROUP_COLUMNS = ("leader_id", "member_id")


def plan_groups(
    compat: Compatibility,
    leaders: Roster,
    proteges: Roster,
    allowed: np.ndarray,
    source: PairsSource,
) -> PairsPlan:
    """Last cohort's memberships (``leader_id``, ``member_id``) checked against the rosters.

    A membership ends when its leader or member left or the rules no longer
    allow the member with that leader; the others are kept where the search
    can (see :func:`keep_bonus_fit`).

    Raises
    ------
    InputError
        A bad table or a member in two previous groups.
    """
    frame = read_pairs(source, "previous", GROUP_COLUMNS)
    twice = frame["member_id"].duplicated(keep=False)
    if twice.any():
        lines = ", ".join(frame["where"][twice].tolist()[:_SHOWN])
        raise InputError(
            f"`previous` must put each member in one group; member "
            f"{frame['member_id'][twice].iloc[0]!r} appears more than once ({lines}). "
            "Fix: pass the groups file of the last run."
        )
    rows, cols = _positions(leaders, frame["leader_id"]), _positions(proteges, frame["member_id"])
    plan = PairsPlan(np.zeros(0, np.intp), np.zeros(0, np.intp), previous=frame)
    usable = []
    for k, (a, b) in enumerate(zip(frame["leader_id"], frame["member_id"], strict=True)):
        if rows[k] < 0:
            plan.ended[(a, b)] = f"leader {a} left the programme"
        elif cols[k] < 0:
            plan.ended[(a, b)] = f"member {b} left the programme"
        elif not allowed[rows[k], cols[k]]:
            plan.ended[(a, b)] = f"no longer allowed: {_broken_rules(compat, a, b)}"
        else:
            usable.append(k)
    plan.solver_previous = (rows[usable].astype(np.int64), cols[usable].astype(np.int64))
    return plan


def keep_bonus_fit(
    fit: np.ndarray, allowed: np.ndarray, previous: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, float]:
    """The fit with a keep bonus on last cohort's memberships, and the bonus.

    The bonus (the number of protégés times the spread of the allowed fits,
    plus one) outweighs any gain in total fit, so after the placement (which
    the group search maximises first, and which the bonus does not enter)
    the search prefers keeping a membership to any re-arrangement for fit.
    The group search is exact only on small rosters (CP-SAT); on large ones
    it is a heuristic, so kept memberships are preferred, not proven maximal.
    """
    values = fit[allowed] if allowed.any() else np.zeros(1)
    spread = float(values.max() - values.min()) if values.size else 0.0
    bonus = fit.shape[1] * spread + 1.0
    out = np.array(fit, dtype=float, copy=True)
    rows, cols = previous
    out[rows, cols] += bonus
    return out, bonus


def groups_changes(plan: PairsPlan | None, groups: pd.DataFrame) -> pd.DataFrame:
    """``result.changes`` for groups: one row per previous membership and per new one."""
    if plan is None or plan.previous is None:
        return empty_changes(GROUP_COLUMNS)
    now = dict(zip(groups["member_id"].astype(str), groups["leader_id"].astype(str), strict=True))
    prev = plan.previous
    before = dict(zip(prev["member_id"], prev["leader_id"], strict=True))
    moved = "moved to place more protégés or to meet the composition rules"
    rows = []
    for a, b in zip(prev["leader_id"], prev["member_id"], strict=True):
        if now.get(b) == a:
            rows.append((a, b, "kept", "kept from the previous cohort"))
        elif (a, b) in plan.ended:
            rows.append((a, b, "broken", plan.ended[(a, b)]))
        elif b in now:
            rows.append((a, b, "broken", f"{moved} (now with leader {now[b]})"))
        else:
            rows.append((a, b, "broken", f"member {b} is not placed this cohort"))
    for b, a in now.items():
        if before.get(b) == a:
            continue
        if b not in before:
            why = "new member placed in an open seat"
        elif (before[b], b) in plan.ended:
            why = f"previous membership ended: {plan.ended[(before[b], b)]}"
        else:
            why = moved
        rows.append((a, b, "new", why))
    return pd.DataFrame(rows, columns=[*GROUP_COLUMNS, "change", "why"])


def without_fit_bonus(solved: Any, bonus: float, kept: int) -> Any:
    """A grouping solved on :func:`keep_bonus_fit`: objective less the bonus of kept members.

    The bound of a search that did not finish loses its meaning (it bounds
    the bonus objective) and is dropped; an optimal result keeps its own.
    """
    objective = float(solved.objective) - bonus * kept
    return dataclasses.replace(
        solved,
        objective=objective,
        bound=objective if solved.status == "optimal" else None,
        options=dict(solved.options, kept_bonus=True),
    )
