"""Suggestion lists: per mentee the k best mentors with score, regret and a one-line why.

:func:`suggest` is what :meth:`pairwise.Program.suggest` runs. Two forms:

* **Mentees given.** The optimal plan (most matched mentees, then the best
  total score) is solved once; every candidate pair gets its *regret* — how
  much of the plan's total score is lost when that pair is chosen instead
  (:func:`pairwise.solvers._regret.pair_regret`). Each mentee's list starts
  with its partner in the plan (the *featured* suggestion, so no mentor is
  featured more often than its capacity), then the other candidates by
  regret (the best whole plan that contains the pair comes first; pairs that
  would leave another mentee unmatched last), then by score.
* **Skills given** (the expert finder): who can teach these skills, ranked by
  the share of them a mentor offers, then by accessibility (open to remote
  work, room for more mentees).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from . import criteria as C
from . import rules as R
from ._run import Run
from .compatibility import Compatibility
from .errors import InputError
from .results import (
    RunInfo,
    _insert_names,
    _names,
    _ResultBase,
    _shared_fields,
    _unmatched_frame,
    _unmatched_mentees,
)
from .roster import Roster, load_roster
from .solvers import _ortools
from .solvers._regret import DEFAULT_BUDGET, pair_regret

if TYPE_CHECKING:
    from .compatibility import CompatibilityModel


class _Programme(Protocol):
    """What suggestions need of a :class:`pairwise.Program` (kept structural: no import)."""

    @property
    def model(self) -> CompatibilityModel: ...

    @property
    def name(self) -> str: ...

    @property
    def seed(self) -> int: ...

    def _score(self, model: CompatibilityModel, rows: Roster, cols: Roster) -> Compatibility: ...

    def _capacity(self, mentors: Roster) -> np.ndarray: ...


__all__ = ["SuggestionsResult", "check_request", "explanations", "suggest"]

#: Id of the one-row mentee the expert finder builds from ``skills``.
QUERY_ID = "query"
#: Dijkstra work spent on exact regrets before reduced costs (lower bounds) are used.
REGRET_BUDGET = DEFAULT_BUDGET // 4
SUGGESTION_COLUMNS = [
    "mentee_id",
    "rank",
    "featured",
    "mentor_id",
    "score",
    "regret",
    "regret_exact",
    "fewer_matched",
    "explanation",
]


@dataclass(frozen=True, repr=False)
class SuggestionsResult(_ResultBase):
    """Ranked mentor suggestions per mentee.

    Attributes
    ----------
    suggestions : DataFrame
        One row per suggestion: ``mentee_id``, ``rank`` (1 = first),
        ``featured`` (the mentee's partner in the optimal plan: a mentor is
        featured no more often than its capacity), ``mentor_id``, ``score``,
        ``regret`` (the optimal plan's total score minus the best total of a
        plan containing this pair; 0 for featured pairs), ``regret_exact``
        (False: ``regret`` is a lower bound, the pair's reduced cost),
        ``fewer_matched`` (the best plan with this pair matches one mentee
        fewer), ``explanation`` (one line from the criteria, e.g. "covers 2 of
        3 wanted skills (SQL, Python); shared goal 'Leadership'; same site
        (Berlin)"); names after the ids when the rosters have them.
    unmatched : DataFrame
        ``id``, ``role``, ``reason``: mentees the optimal plan leaves without a
        mentor (their lists have no featured suggestion), and mentees with no
        allowed mentor at all (no list).
    k : int
        Suggestions asked per mentee.
    """

    suggestions: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_mentors: int = 0
    n_mentees: int = 0
    k: int = 5
    _main_name = "suggestions"

    def summary(self, *, unmatched_file: str | os.PathLike[str] | None = None) -> str:
        """A few lines a coordinator can read: how many lists, featured pairs, regrets."""
        s = self.suggestions
        if "skills" in self.options:
            wanted = ", ".join(self.options["skills"])
            lines = [
                f"experts for {wanted}: {len(s)} mentor(s) shown of {self.n_mentors}, ranked "
                "by the share of these skills they offer, then remote, then capacity"
            ]
            return "\n".join(lines + self._headline(unmatched_file))
        listed = s["mentee_id"].nunique() if len(s) else 0
        lines = [
            f"suggestions: up to {self.k} mentors for each of {listed} of {self.n_mentees} "
            f"mentee(s) ({self.n_mentors} mentors)"
        ]
        if len(s):
            featured = int(s["featured"].sum())
            lines.append(
                f"featured (first) suggestions: {featured}, each the mentee's partner in the "
                "optimal plan (no mentor featured beyond its capacity)"
            )
            waiting = listed - featured
            if waiting:
                lines.append(
                    f"{waiting} mentee(s) with a list have no featured suggestion: the optimal "
                    "plan leaves them unmatched (every mentor on their list is needed elsewhere)"
                )
            others = s[~s["featured"].astype(bool)]
            known = others["regret"].dropna()
            if len(known):
                lines.append(
                    f"other suggestions: {len(others)}, regret mean {known.mean():.3f}, lowest "
                    f"{known.min():.3f}; {int(others['fewer_matched'].sum())} would leave "
                    "another mentee unmatched"
                )
            inexact = int((~s["regret_exact"].astype(bool) & s["regret"].notna()).sum())
            if inexact:
                lines.append(
                    f"regret is a lower bound (reduced cost) for {inexact} suggestion(s): the "
                    "exact search was cut by its work budget"
                )
        return "\n".join(lines + self._headline(unmatched_file))

    def to_html(
        self, path: str | os.PathLike[str] | None = None, *, max_rows: int = 10_000
    ) -> str:
        """A self-contained HTML page (no network requests) with the summary and tables.

        At most ``max_rows`` rows of each table are shown (the CSV holds them all).
        """
        import html

        body = "".join(f"<p>{html.escape(line)}</p>" for line in self.summary().splitlines())
        tables = "".join(
            f"<h2>{name}</h2>{table.head(max_rows).to_html(index=False, escape=True, na_rep='')}"
            for name, table in (("Suggestions", self.suggestions), ("Unmatched", self.unmatched))
            if len(table)
        )
        text = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            "<title>pairwise suggestions</title></head><body>"
            f"<h1>pairwise suggestions</h1>{body}{tables}</body></html>"
        )
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(
            f"`k` must be a positive integer; got {k!r} (suggest). Fix: pass e.g. k=5 (CLI: -k 5)."
        )
    return int(k)


def check_request(mentees: object, skills: object, k: Any) -> int:
    """``k`` as an int, once the request names exactly one of ``mentees`` and ``skills``."""
    k = _check_k(k)
    if (mentees is None) == (skills is None):
        raise InputError(
            "suggest needs exactly one of `mentees` (a suggestion list per mentee) and "
            f"`skills` (who can teach them); got {'both' if skills is not None else 'neither'}."
            " Fix: pass mentees, or skills=['python', 'sql'] (CLI: --mentees or --skill)."
        )
    return k


def suggest(
    program: _Programme,
    mentors: Roster,
    mentees: Roster | None,
    *,
    skills: Sequence[str] | None,
    k: int,
    run: Run,
    limits: tuple[float | None, float | None] = (None, None),
) -> SuggestionsResult:
    """Per mentee the ``k`` best mentors, or the mentors who can teach ``skills``.

    See :meth:`pairwise.Program.suggest`. ``limits`` are the solver's wall
    deadline and time limit (what the programme keeps back for the results).
    """
    if skills is not None:
        return _expert(program, mentors, skills, k, run)
    assert mentees is not None
    return _for_mentees(program, mentors, mentees, k, run, limits)


# ---------------------------------------------------------------------------
# Suggestions for mentees
# ---------------------------------------------------------------------------


def _for_mentees(
    program: _Programme,
    m: Roster,
    e: Roster,
    k: int,
    run: Run,
    limits: tuple[float | None, float | None],
) -> SuggestionsResult:
    from .solvers import one_to_many

    run.phase("scoring")
    compat = program._score(program.model, m, e)
    cap = program._capacity(m)
    run.phase("solving")
    with _ortools.wall_deadline(limits[0]):
        solved = one_to_many(
            compat.scores,
            cap,
            compat.allowed,
            objective="total",
            time_limit=limits[1],
            seed=program.seed,
        )
    budget = REGRET_BUDGET if not solved.stopped_by_time_limit else 0
    regret = pair_regret(
        compat.scores,
        compat.allowed,
        cap,
        plan_rows=solved.rows,
        plan_cols=solved.cols,
        budget=budget,
    )
    run.phase("results")
    order = np.lexsort(
        (
            regret.rows,
            -regret.scores,
            regret.regret,
            regret.lost,
            ~regret.in_plan,
            regret.cols,
        )
    )
    cols = regret.cols[order]
    first = np.r_[True, cols[1:] != cols[:-1]] if len(cols) else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(first, np.arange(len(cols)), 0))
    rank = np.arange(len(cols)) - start + 1
    pick = order[rank <= k]
    rows, cols = regret.rows[pick], regret.cols[pick]
    table = pd.DataFrame(
        {
            "mentee_id": e.ids[cols].astype(str) if len(cols) else np.array([], str),
            "rank": rank[rank <= k].astype(np.int64),
            "featured": regret.in_plan[pick],
            "mentor_id": m.ids[rows].astype(str) if len(rows) else np.array([], str),
            "score": regret.scores[pick],
            "regret": regret.regret[pick],
            "regret_exact": regret.exact[pick],
            "fewer_matched": regret.lost[pick],
            "explanation": explanations(compat, rows, cols),
        },
        columns=SUGGESTION_COLUMNS,
    )
    _insert_names(table, {"mentor_id": _names(m, rows), "mentee_id": _names(e, cols)})
    unmatched = _unmatched_mentees(compat, e, np.asarray(solved.cols, dtype=np.intp), cap, {})
    info = RunInfo(programme=program.name, objective="total", seed=program.seed)
    fields = _shared_fields(solved, compat, unmatched, info, rosters=(e,))
    fields["options"]["regret_budget"] = budget
    return SuggestionsResult(suggestions=table, n_mentors=len(m), n_mentees=len(e), k=k, **fields)


# ---------------------------------------------------------------------------
# Explanations
# ---------------------------------------------------------------------------


def _cells(roster: Roster, column: str, position: int) -> list[str]:
    if not roster.has(column):
        return []
    value = roster.column(column).iloc[position]
    if isinstance(value, tuple | list):
        return [str(v) for v in value]
    return [] if value is None or (isinstance(value, float) and np.isnan(value)) else [str(value)]


def _quoted(items: Sequence[str], shown: int = 3) -> str:
    text = ", ".join(f"'{x}'" for x in items[:shown])
    return text + (f" and {len(items) - shown} more" if len(items) > shown else "")


def _phrase(criterion: Any, mentors: Roster, mentees: Roster, i: int, j: int) -> str | None:
    """One criterion's plain-language part of a pair's explanation (None: nothing to say)."""
    if isinstance(criterion, C.Complement):
        wanted = _cells(mentees, criterion.want, j)
        if not wanted:
            return None
        offered = set(_cells(mentors, criterion.offer, i))
        hit = [w for w in wanted if w in offered]
        listed = f" ({', '.join(hit[:3])}{', ...' if len(hit) > 3 else ''})" if hit else ""
        return f"covers {len(hit)} of {len(wanted)} wanted {criterion.offer}{listed}"
    if isinstance(criterion, C.SharedGoals):
        mine = set(_cells(mentors, criterion.column, i))
        shared = [g for g in _cells(mentees, criterion.column, j) if g in mine]
        if not shared:
            return None
        noun = criterion.column.rstrip("s") if len(shared) == 1 else criterion.column
        return f"shared {noun} {_quoted(shared)}"
    if isinstance(criterion, C.Preferences):
        found = []
        for side, chooser, pos, chosen, other in (
            ("mentee", mentees, j, mentors, i),
            ("mentor", mentors, i, mentees, j),
        ):
            if criterion.side in (side, "both"):
                ranked = _cells(chooser, criterion.column, pos)
                target = str(chosen.ids[other])
                if target in ranked:
                    found.append(f"the {side}'s choice #{ranked.index(target) + 1}")
        return "; ".join(found) or None
    if isinstance(criterion, C.LevelGap) and mentors.has(criterion.column):
        a = pd.to_numeric(mentors.column(criterion.column), errors="coerce").iloc[i]
        b = pd.to_numeric(mentees.column(criterion.column), errors="coerce").iloc[j]
        return None if pd.isna(a) or pd.isna(b) else f"{criterion.column} gap {a - b:g}"
    return None


def explanations(compat: Compatibility, rows: np.ndarray, cols: np.ndarray) -> list[str]:
    """One line per pair: what the criteria found, then how the pair meets (site, hours).

    Criteria that add nothing to a pair's score are left out; other kinds
    than those phrased here are named by their description.
    """
    if len(rows) == 0:
        return []
    ctx = compat._ctx()
    breakdown = compat.breakdown(rows, cols)
    access = [(r, r._at(ctx.at, ctx.cache)) for r, _ in ctx.rules if isinstance(r, R.Accessible)]
    out = []
    for k, (i, j) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        parts = []
        for criterion, _share, _terms in ctx.criteria:
            phrase = _phrase(criterion, ctx.mentors, ctx.mentees, i, j)
            gives = breakdown[criterion.name].iloc[k] > 0
            if phrase is not None and (gives or isinstance(criterion, C.Complement)):
                parts.append(phrase)
            elif (
                phrase is None
                and gives
                and not isinstance(criterion, C.Complement | C.SharedGoals | C.Preferences)
            ):
                parts.append(criterion.describe())
        for rule, at in access:
            parts.append(rule.reason(ctx.mentors, ctx.mentees, i, j, True, ctx.cache, at))
        out.append("; ".join(parts) if parts else "allowed by every rule; no criterion adds")
    return out


# ---------------------------------------------------------------------------
# Expert finder
# ---------------------------------------------------------------------------


def _check_skills(skills: Any) -> list[str]:
    if isinstance(skills, str):
        skills = [skills]
    items = [str(s).strip() for s in skills] if isinstance(skills, Sequence) else []
    items = [s for s in items if s]
    if not items:
        raise InputError(
            f"`skills` must name at least one skill; got {skills!r} (suggest). Fix: pass "
            "e.g. skills=['python', 'sql'] (CLI: --skill python --skill sql)."
        )
    return list(dict.fromkeys(items))


def _expert(
    program: _Programme, m: Roster, skills: Sequence[str], k: int, run: Run
) -> SuggestionsResult:
    """Mentors ranked by the share of ``skills`` they offer, then by accessibility."""
    started = time.perf_counter()
    wanted = _check_skills(skills)
    complement = next(
        (c for c in program.model.criteria if isinstance(c, C.Complement)),
        C.Complement(offer="skills", want="wants", method="coverage"),
    )
    offer = complement.offer
    if not m.has(offer):
        raise InputError(
            f"the expert finder needs the mentors' `{offer}` column; {m.display} lacks it "
            f"(or leaves it blank). Fix: add a `{offer}` column listing what each mentor can "
            "teach (separated by ';')."
        )
    run.phase("scoring")
    query = _query_roster(m, offer, complement.want, wanted)
    coverage = np.asarray(complement.score(m, query), dtype=float)[:, 0]
    cap = program._capacity(m)
    remote = np.ones(len(m))
    if m.has("remote_ok"):
        remote = np.asarray(m.column("remote_ok").astype(bool), dtype=float)
    eligible = np.flatnonzero((coverage > 0) & (cap > 0))
    keys = (eligible, -cap[eligible], -remote[eligible], -coverage[eligible])
    rows = eligible[np.lexsort(keys)][:k]
    run.phase("results")
    notes = []
    for i in rows.tolist():
        part = [_phrase(complement, m, query, i, 0) or ""]
        part.append("open to remote mentoring" if remote[i] else "in person only")
        part.append(f"takes up to {int(cap[i])} mentee(s)")
        if _cells(m, "site", i):
            part.append(f"site {_cells(m, 'site', i)[0]}")
        notes.append("; ".join(part))
    table = pd.DataFrame(
        {
            "mentee_id": [QUERY_ID] * len(rows),
            "rank": np.arange(1, len(rows) + 1, dtype=np.int64),
            "featured": np.zeros(len(rows), dtype=bool),
            "mentor_id": m.ids[rows].astype(str) if len(rows) else np.array([], str),
            "score": coverage[rows],
            "regret": np.full(len(rows), np.nan),
            "regret_exact": np.zeros(len(rows), dtype=bool),
            "fewer_matched": np.zeros(len(rows), dtype=bool),
            "explanation": notes,
        },
        columns=SUGGESTION_COLUMNS,
    )
    _insert_names(table, {"mentor_id": _names(m, rows)})
    unmatched = []
    if not len(rows):
        unmatched.append(
            {
                "id": QUERY_ID,
                "role": "mentee",
                "reason": f"no mentor with room offers any of {', '.join(wanted)} (in `{offer}`)",
            }
        )
    return SuggestionsResult(
        suggestions=table,
        unmatched=_unmatched_frame(unmatched, ()),
        status="optimal",
        objective=float(coverage[rows].sum()),
        bound=None,
        wall_time=time.perf_counter() - started,
        method="skill_coverage",
        seed=program.seed,
        options={"skills": wanted, "offer": offer, "programme": program.name, "notes": []},
        n_mentors=len(m),
        n_mentees=1,
        k=k,
    )


def _query_roster(mentors: Roster, offer: str, want: str, skills: Sequence[str]) -> Roster:
    """The one-row mentee who wants ``skills``, spelled as the mentors' ``offer`` spells them.

    Skills are matched case-insensitively ("python" finds "Python"); one that
    no mentor offers keeps the spelling given.
    """
    spelling: dict[str, str] = {}
    for i in range(len(mentors)):
        for item in _cells(mentors, offer, i):
            spelling.setdefault(item.casefold(), item)
    wanted = [spelling.get(s.casefold(), s) for s in skills]
    frame = pd.DataFrame({"id": [QUERY_ID], want: [";".join(wanted)]})
    return load_roster(frame, role="mentee")
