"""Programme results: solver indices joined back to ids, with reasons, summaries and files.

A solver answers in indices (:mod:`pairwise.solvers`); the builders here
(:func:`pairs_result`, :func:`peers_result`, :func:`groups_result`) turn those
into what a coordinator reads and an HR system stores: one row per pair or
group member, one row per participant left out *with the reason*, a short
summary, and CSV / Excel / JSON / HTML renderings. Every input participant
appears in exactly one of ``pairs`` / ``groups`` and ``unmatched``.

Files are for people: rows carry each person's ``name`` beside the id (when
the roster has names), criterion contributions are named ``fit_<criterion>``,
and floats are rounded to :data:`DECIMALS` places (JSON keeps full precision).
:func:`write_table` writes one table as CSV, or as an Excel workbook when the
path ends in ``.xlsx``; :meth:`PairsResult.files` lists what a result writes,
and ``to_csv`` writes it all-or-nothing (:class:`pairwise._outputs.OutputPlan`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._audit import AuditBasis, audit_basis, audit_table
from ._diagnosis import Finding
from ._lifecycle import changes_line, empty_changes
from ._outputs import OutputPlan, check_format, is_excel
from ._report import capacity_use, check_report_path, render_report, render_summary
from .errors import InputError
from .reports import composition_audit, group_summary
from .roster import LIST_COLUMNS, PROTECTED_COLUMNS, Roster
from .solvers._result import GroupingResult, MatchingResult, OptimalOver, _gap

if TYPE_CHECKING:
    from .compatibility import Compatibility

__all__ = [
    "DECIMALS",
    "GroupsResult",
    "PairsResult",
    "PeersResult",
    "ValidationReport",
    "escape_formulas",
    "for_people",
    "groups_result",
    "pairs_result",
    "peers_result",
    "summary_path_for",
    "unmatched_path_for",
    "write_table",
]

#: First characters that make a spreadsheet treat a cell as a formula
#: (OWASP "CSV injection"): such cells are written with a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

UNMATCHED_COLUMNS = ["id", "role", "reason"]

#: Decimals of the floats in files people read (CSV, Excel); ``to_json`` keeps full precision.
DECIMALS = 4
#: Reasons the summary shows before "... and N more".
SHOWN_REASONS = 3
#: Items a list in a message shows before "... and N more".
SHOWN = 5


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


def for_people(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` as files for people show it: floats rounded, formulas escaped.

    Float columns (float32 included) become float64 rounded to
    :data:`DECIMALS` places, so a file shows ``0.445``, not
    ``0.4450000077486038``; text cells are escaped by :func:`escape_formulas`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> out = for_people(pd.DataFrame({"fit": np.array([0.445], dtype=np.float32), "n": [3]}))
    >>> out["fit"].tolist(), out["n"].tolist()
    ([0.445], [3])
    """
    out = escape_formulas(frame)
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_float_dtype(column):
            out[name] = column.astype("float64").round(DECIMALS)
    return out


def write_table(
    frame: pd.DataFrame, path: str | os.PathLike[str], *, excel: bool | None = None
) -> Path:
    """Write one table to ``path``: CSV, or an Excel workbook for ``.xlsx`` paths.

    Parameters
    ----------
    frame : DataFrame
        Written through :func:`for_people` (rounded floats, escaped text), no index.
    path : path-like
        The file to write (replaced when it exists).
    excel : bool, optional
        Write a workbook (True) or CSV (False) whatever the suffix; by default
        the suffix decides (``.xlsx`` is a workbook). A temporary file written
        for a ``.xlsx`` target passes ``excel=True``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        A workbook is asked for but the optional package openpyxl is missing
        (the fix: ``pip install "pairwise[excel]"``), or the suffix names a
        spreadsheet format that cannot be written (``.xls``, ``.ods``).
    """
    target = Path(path)
    out = for_people(frame)
    if excel is None:
        check_format("`path`", target)
        excel = is_excel(target)
    if excel:
        check_format("`path`", target.with_suffix(".xlsx"))
        # a file handle: pandas picks the engine by suffix, and temporary names end in .tmp
        with target.open("wb") as handle:
            out.to_excel(handle, index=False, engine="openpyxl")
    else:
        out.to_csv(target, index=False)
    return target


def table_writer(table: pd.DataFrame, target: Path) -> Callable[[Path], Path]:
    """A writer for :meth:`OutputPlan.write`: ``table`` in ``target``'s format, to any path."""
    excel = is_excel(target)
    return lambda temporary: write_table(table, temporary, excel=excel)


def unmatched_path_for(path: str | os.PathLike[str]) -> Path:
    """``pairs.csv`` -> ``pairs.unmatched.csv`` (the default companion file)."""
    p = Path(path)
    suffix = p.suffix or ".csv"
    return p.with_name(f"{p.stem}.unmatched{suffix}")


def summary_path_for(path: str | os.PathLike[str]) -> Path:
    """``groups.csv`` -> ``groups.summary.csv`` (the group summary written beside groups)."""
    p = Path(path)
    return p.with_name(f"{p.stem}.summary{p.suffix or '.csv'}")


def changes_path_for(path: str | os.PathLike[str]) -> Path:
    """``pairs.csv`` -> ``pairs.changes.csv`` (kept / broken / new pairs against previous)."""
    p = Path(path)
    return p.with_name(f"{p.stem}.changes{p.suffix or '.csv'}")


def cut(items: Sequence[str], shown: int = SHOWN) -> str:
    """``"a, b, c, d, e and 3 more"``: a list for a message, cut to ``shown`` items.

    >>> cut([str(i) for i in range(8)])
    '0, 1, 2, 3, 4 and 3 more'
    """
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown} more"


def _diagnosis_lines(findings: Sequence[Finding], shown: int = SHOWN) -> list[str]:
    """The ``diagnosis:`` lines of a summary (none when there is nothing to say)."""
    if not findings:
        return []
    lines = ["diagnosis:"] + [f"  - {f.message}" for f in findings[:shown]]
    if len(findings) > shown:
        lines.append(f"  ... and {len(findings) - shown} more (see `diagnosis`)")
    return lines


def _names(roster: Roster, positions: np.ndarray) -> np.ndarray | None:
    """The ``name`` of each person at ``positions``, or None when the roster has no names."""
    if not roster.has("name"):
        return None
    values = roster.frame["name"].to_numpy(dtype=object)[np.asarray(positions, dtype=np.intp)]
    return np.array(["" if _blank(v) else str(v) for v in values], dtype=object)


def _blank(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _insert_names(frame: pd.DataFrame, names: Mapping[str, np.ndarray | None]) -> pd.DataFrame:
    """Insert each ``<x>_name`` column right after its id column ``<x>_id`` (or ``<x>``)."""
    for id_column, values in names.items():
        if values is None:
            continue
        stem = id_column.removesuffix("_id")
        at = list(frame.columns).index(id_column) + 1
        frame.insert(at, f"{stem}_name" if stem != "id" else "name", values)
    return frame


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
    stopped_by_time_limit: bool = False
    # what :meth:`audit` reads: the audited roster's segment columns, matched, scores
    _audit_basis: AuditBasis | None = field(default=None, repr=False, compare=False)

    # the main table, named per kind: ``pairs`` or ``groups``
    _main_name = "pairs"

    @property
    def main(self) -> pd.DataFrame:
        return getattr(self, self._main_name)

    @property
    def gap(self) -> float | None:
        """Relative gap to the bound, when a bound is known."""
        return _gap(self.objective, self.bound)

    def _status_text(self) -> str:
        """The status as the summary shows it (pairs say over which pairs it holds)."""
        return self.status

    def _headline(self, unmatched_file: str | os.PathLike[str] | None = None) -> list[str]:
        gap = self.gap
        lines = [
            f"status: {self._status_text()} ({self.method}, {self.wall_time:.2f} s)",
            f"objective: {self.objective:.4f}"
            + ("" if gap is None else f"  (bound {self.bound:.4f}, gap {100 * gap:.2f}%)"),
        ]
        if self.stopped_by_time_limit:
            lines.append("stopped at the time limit: the best answer found so far is kept")
        where = "`unmatched`" if unmatched_file is None else str(unmatched_file)
        if len(self.unmatched):
            counts = self.unmatched.groupby("role", sort=False).size()
            left = ", ".join(f"{n} {role}(s)" for role, n in counts.items())
            lines.append(f"left out: {left} (each with the reason in {where})")
            reasons = self.unmatched["reason"].value_counts(sort=True)
            for reason, n in reasons.head(SHOWN_REASONS).items():
                lines.append(f"  {n:>4} × {reason}")
            if len(reasons) > SHOWN_REASONS:
                rest = reasons.iloc[SHOWN_REASONS:]
                lines.append(
                    f"  ... and {len(rest)} more reason(s) for {int(rest.sum())} "
                    f"participant(s) (see {where})"
                )
        else:
            lines.append("left out: nobody")
        lines.extend(f"note: {note}" for note in self.options.get("notes", ()))
        return lines

    def audit(self, by: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Who was matched, segment by segment, with cells under 5 people blanked.

        One row per (column, value) of the audited people (mentees, peers or
        protégés): ``n``, ``matched``, ``matched_share``, ``mean_score`` and
        ``lowest_score`` (group fit for groups), ``suppressed``. Small cells
        identify people, so a segment of fewer than 5 people (and, when it is
        the only one of its column, the next smallest) has its figures blanked
        with ``suppressed=True``; in protected columns the values held by
        fewer than 5 people are pooled and not named
        (:func:`pairwise._audit.audit_table`).

        Parameters
        ----------
        by : str or sequence of str, optional
            Roster columns to audit; by default those among ``gender``,
            ``ethnicity``, ``level``, ``site``, ``function`` the roster has,
            plus the programme's protected columns.

        Raises
        ------
        InputError
            ``by`` names no single-valued roster column, or this result was
            not made by a programme (it holds no roster to audit).

        Examples
        --------
        >>> import pairwise as pw
        >>> frames = pw.datasets.demo_rosters()
        >>> result = pw.load_program().pairs(frames["mentors"], frames["mentees"])
        >>> result.audit("site").columns.tolist()
        ['column', 'value', 'n', 'matched', 'matched_share', 'mean_score', 'lowest_score', \
'suppressed']
        """
        if self._audit_basis is None:
            raise InputError(
                f"this {type(self).__name__} holds no roster to audit. Fix: audit the result "
                "of Program.pairs / Program.peers / Program.groups."
            )
        return audit_table(self._audit_basis, by)

    def summary(self, *, unmatched_file: str | os.PathLike[str] | None = None) -> str:
        """A few lines a coordinator can read (each kind adds its counts first).

        ``unmatched_file`` names the file the unmatched list was written to, so
        that "... and N more" points at it.
        """
        return "\n".join(self._headline(unmatched_file))

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables this result writes: ``"main"`` and ``"unmatched"`` (groups add more)."""
        return {"main": self.main, "unmatched": self.unmatched}

    def files(
        self,
        path: str | os.PathLike[str],
        *,
        unmatched: str | os.PathLike[str] | None = None,
    ) -> dict[str, tuple[Path, pd.DataFrame]]:
        """Where each table goes for ``to_csv(path, unmatched=...)``: name -> (file, table).

        The unmatched list defaults to ``<stem>.unmatched<suffix>`` beside
        ``path``; a groups result adds ``"summary"`` (``<stem>.summary<suffix>``).
        """
        main_path = Path(path)
        paths = {
            "main": main_path,
            "unmatched": Path(unmatched) if unmatched is not None else unmatched_path_for(path),
            "summary": summary_path_for(main_path),
            "changes": changes_path_for(main_path),
        }
        return {name: (paths[name], table) for name, table in self.tables().items()}

    def to_csv(
        self,
        path: str | os.PathLike[str],
        *,
        unmatched: str | os.PathLike[str] | None = None,
    ) -> tuple[Path, Path]:
        """Write the main table to ``path`` and the unmatched list beside it.

        The unmatched file defaults to ``<stem>.unmatched.csv``. A path ending
        in ``.xlsx`` is written as an Excel workbook (:func:`write_table`).
        Floats are rounded to :data:`DECIMALS` places and text cells escaped
        against spreadsheet formula injection (:func:`escape_formulas`). The
        files are written all-or-nothing: when one cannot be written, none is
        changed. Returns the main and the unmatched path.

        Raises
        ------
        InputError
            A file cannot be written (naming it), two targets are one file, or
            a workbook is asked for without openpyxl installed.
        """
        files = self.files(path, unmatched=unmatched)
        labels = {
            "main": "`path`",
            "unmatched": "`unmatched`",
            "summary": "the summary file",
            "changes": "the changes file",
        }
        plan = OutputPlan({labels[name]: target for name, (target, _) in files.items()})
        plan.check()
        plan.write(
            {labels[name]: table_writer(table, target) for name, (target, table) in files.items()}
        )
        return files["main"][0], files["unmatched"][0]

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
            "stopped_by_time_limit": self.stopped_by_time_limit,
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

    def to_html(
        self, path: str | os.PathLike[str] | None = None, *, max_rows: int = 10_000
    ) -> str:
        """The self-contained HTML review report; also written to ``path`` when given.

        One file with no network request: the summary, diagnosis, audit,
        plots, every pair or group with a one-line explanation and everyone
        left out with the reason (:func:`pairwise._report.render_report`);
        tables show at most ``max_rows`` rows, with a note beyond. Protected
        attributes appear only in the audit.

        Raises
        ------
        InputError
            When ``path`` does not end in ``.html`` or ``max_rows`` is not >= 1.

        Examples
        --------
        >>> import pandas as pd
        >>> result = PairsResult(
        ...     pairs=pd.DataFrame({"mentor_id": ["M1"], "mentee_id": ["E1"], "score": [0.5]}),
        ...     unmatched=pd.DataFrame(columns=["id", "role", "reason"]), status="optimal",
        ...     objective=0.5, bound=0.5, wall_time=0.0, method="lsap", seed=0, n_mentees=1)
        >>> html = result.to_html()
        >>> html.startswith("<!DOCTYPE html>"), "E1" in html, "http:" in html
        (True, True, False)
        """
        target = None if path is None else check_report_path("`path`", path)
        text = render_report(self, max_rows=max_rows)
        if target is not None:
            target.write_text(text, encoding="utf-8")
        return text

    def _repr_html_(self) -> str:
        return render_summary(self)

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
    changes : DataFrame
        Against ``previous``: ``mentor_id``, ``mentee_id``, ``change`` (``kept``,
        ``broken``, ``new``) and ``why``; no rows when no previous was given.
    unmatched : DataFrame
        ``id``, ``role`` (``mentor`` / ``mentee``), ``reason``: everyone in no pair.
    status, objective, bound, wall_time, method, seed, options
        From the solver (objective in the solver's terms, weighted by priority).
    diagnosis : tuple of Finding
        Measured findings (:mod:`pairwise._diagnosis`): too little capacity and
        what capacity fixes it, each hard rule dropped or relaxed one step and
        how many more mentees a maximum matching then reaches; largest gain
        first, empty when nothing would help.
    certified : bool or None
        When only the k best candidates per mentee were kept (``top_k``):
        True when LP duals proved the result optimal over all pairs, False
        when it holds over the kept candidates only (``options["certificate"]``
        says why); None when no pair was dropped.
    optimal_over : {"all pairs", "k best candidates per mentee"}
        The pairs over which ``status`` and ``bound`` hold.
    """

    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_mentors: int = 0
    n_mentees: int = 0
    certified: bool | None = None
    optimal_over: OptimalOver = "all pairs"
    diagnosis: tuple[Finding, ...] = ()
    changes: pd.DataFrame = field(default_factory=empty_changes)
    _blocking: Callable[[], pd.DataFrame] | None = field(default=None, compare=False)

    _main_name = "pairs"

    def _status_text(self) -> str:
        if self.certified is None:
            return self.status
        info = self.options.get("certificate", {})
        k = info.get("top_k")
        n, added = info.get("rounds", 0), info.get("added_pairs", 0)
        more = f"; {n} round(s) added {added:,} dropped pair(s)" if n else ""
        if self.certified:
            return f"{self.status} over all pairs, certified by LP duals (top_k = {k}{more})"
        why = "; ".join(x for x in (info.get("reason"), more[2:]) if x)
        return (
            f"{self.status} over the {k} best candidates per mentee only, "
            f"not certified over all pairs{f' ({why})' if why else ''}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything in plain Python types, with ``certified`` and ``optimal_over``."""
        out = super().to_dict()
        at = list(out).index("status") + 1
        items = list(out.items())
        items[at:at] = [("certified", self.certified), ("optimal_over", self.optimal_over)]
        out = dict(items)
        out["diagnosis"] = [f.to_dict() for f in self.diagnosis]
        return out

    def tables(self) -> dict[str, pd.DataFrame]:
        """``"main"``, ``"unmatched"`` and, when ``previous`` was given, ``"changes"``."""
        tables = super().tables()
        if len(self.changes):
            tables["changes"] = self.changes
        return tables

    def blocking_pairs(self) -> pd.DataFrame:
        """Pairs (mentor, mentee) who both prefer each other to their partners; empty = stable.

        Columns ``mentor_id``, ``mentee_id``, ``score`` and each side's gain
        in score (``mentee_gain``, ``mentor_gain``; see
        :func:`pairwise._stability.blocking_frame`). Mentees rank by their
        ranked ``preferences`` where given, then by score; mentors by score.

        Raises
        ------
        InputError
            For a result not built by :meth:`pairwise.Program.pairs`.
        """
        if self._blocking is None:
            raise InputError(
                "blocking pairs are known only for a result of Program.pairs. "
                "Fix: run program.pairs(mentors, mentees)."
            )
        return self._blocking()

    def summary(self, *, unmatched_file: str | os.PathLike[str] | None = None) -> str:
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
        if self.options.get("stability"):
            lines.append(str(self.options["stability"]))
        if len(self.changes):
            lines.append(changes_line(self.changes))
        lines += self._headline(unmatched_file) + _diagnosis_lines(self.diagnosis)
        return "\n".join(lines)


@dataclass(frozen=True, repr=False)
class PeersResult(_ResultBase):
    """Peer learning partners from one pool.

    ``pairs`` has one row per pair: ``person_a``, ``person_b`` and ``score``
    (the mean of both directions' scores); ``unmatched`` lists everyone without
    a partner. ``optimal_over`` says over which pairs ``status`` and ``bound``
    hold: ``"all pairs"``, or above the dense budget ``"k best candidates per
    person"`` (each person's ``options["top_k"]`` best allowed partners).
    """

    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_people: int = 0
    changes: pd.DataFrame = field(default_factory=lambda: empty_changes(("person_a", "person_b")))
    optimal_over: str = "all pairs"
    _main_name = "pairs"

    def _status_text(self) -> str:
        if self.optimal_over == "all pairs":
            return self.status
        k = self.options.get("top_k")
        return f"{self.status} over the {k} best candidates per person (bound and gap too)"

    def to_dict(self) -> dict[str, Any]:
        """Everything in plain Python types, with ``optimal_over``."""
        items = list(super().to_dict().items())
        at = [key for key, _ in items].index("status") + 1
        items[at:at] = [("optimal_over", self.optimal_over)]
        return dict(items)

    def tables(self) -> dict[str, pd.DataFrame]:
        """``"main"``, ``"unmatched"`` and, when ``previous`` was given, ``"changes"``."""
        tables = super().tables()
        if len(self.changes):
            tables["changes"] = self.changes
        return tables

    def summary(self, *, unmatched_file: str | os.PathLike[str] | None = None) -> str:
        """A few lines a coordinator can read."""
        lines = [f"peers: {len(self.pairs)} pairs from {self.n_people} people"]
        if len(self.pairs):
            s = self.pairs["score"]
            lines.append(
                f"score: mean {s.mean():.3f}, lowest {s.min():.3f}, highest {s.max():.3f}"
            )
        if len(self.changes):
            lines.append(changes_line(self.changes))
        return "\n".join(lines + self._headline(unmatched_file))


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
    composition : DataFrame
        Composition audit: for each audited column and value, its share in the
        protégé population, among placed protégés, and the range across groups.
    violations : tuple of str
        Rule violations found by :func:`pairwise.checks.violations` (empty when
        every rule holds).
    diagnosis : tuple of Finding
        Measured findings (seats, leader rules, ``together`` checks, each with
        the fix and how many more protégés it seats), then the solver's
        pre-check notes (``options["diagnosis"]``) as ``"note"`` findings.
    """

    groups: pd.DataFrame = field(default_factory=pd.DataFrame)
    group_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    composition: pd.DataFrame = field(default_factory=pd.DataFrame)
    violations: tuple[str, ...] = ()
    n_leaders: int = 0
    n_proteges: int = 0
    diagnosis: tuple[Finding, ...] = ()
    changes: pd.DataFrame = field(
        default_factory=lambda: empty_changes(("leader_id", "member_id"))
    )
    _main_name = "groups"

    def summary(self, *, unmatched_file: str | os.PathLike[str] | None = None) -> str:
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
        lines.extend(f"  ! {v}" for v in self.violations[:SHOWN])
        if len(self.violations) > SHOWN:
            lines.append(f"  ... and {len(self.violations) - SHOWN} more (see the group summary)")
        if len(self.changes):
            lines.append(changes_line(self.changes))
        measured = tuple(f for f in self.diagnosis if f.kind != "note")
        return "\n".join(lines + self._headline(unmatched_file) + _diagnosis_lines(measured))

    def tables(self) -> dict[str, pd.DataFrame]:
        """``"main"``, ``"unmatched"``, ``"summary"`` and, with previous, ``"changes"``."""
        tables = {**super().tables(), "summary": self.group_summary}
        if len(self.changes):
            tables["changes"] = self.changes
        return tables

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["group_summary"] = _records(self.group_summary)
        out["composition"] = _records(self.composition)
        out["violations"] = list(self.violations)
        out["diagnosis"] = [f.to_dict() for f in self.diagnosis]
        return out


@dataclass(frozen=True)
class ValidationReport:
    """What :meth:`pairwise.Program.validate` found, before any solving.

    Attributes
    ----------
    errors : tuple of str
        Problems that stop a run: a roster or the programme cannot be used.
    warnings : tuple of str
        Predictions a run will still go ahead with: capacity shortfall, people
        with no allowed partner, how many will be left unmatched.

    Examples
    --------
    >>> report = ValidationReport(warnings=("pairs: capacity 3 for 5 mentees",))
    >>> report.ok, str(report)
    (True, 'warning: pairs: capacity 3 for 5 mentees')
    """

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing stops a run (warnings allowed)."""
        return not self.errors

    def __str__(self) -> str:
        lines = [f"error: {e}" for e in self.errors] + [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines) if lines else "no errors; no warnings"


# ---------------------------------------------------------------------------
# Builders: solver indices -> ids, with a reason for everyone left out
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """What a programme adds to each of its results: its name, objective and seed."""

    programme: str
    objective: str
    seed: int
    #: The programme's protected columns (``[program] protected``), for the audit.
    protected: tuple[str, ...] = PROTECTED_COLUMNS


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
    @property
    def protected(self) -> tuple[str, ...]: ...


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


def _unmatched_frame(unmatched: list[dict[str, str]], rosters: Sequence[Roster]) -> pd.DataFrame:
    """The unmatched rows as a table, with ``name`` after ``id`` when the rosters have names.

    ``rosters`` are looked up in order (a mentee row in the mentee roster, a
    mentor row in the mentor roster: ids of two rosters may coincide, so each
    row's role picks its roster first).
    """
    frame = pd.DataFrame(unmatched, columns=UNMATCHED_COLUMNS)
    tables: list[tuple[str | None, dict[str, str]]] = []
    for roster in rosters:
        names = _names(roster, np.arange(len(roster)))
        if names is not None:
            tables.append((roster.role, dict(zip(roster.ids.astype(str), names, strict=True))))
    if not tables:
        return frame

    def name_of(row: Mapping[str, str]) -> str:
        ordered = sorted(tables, key=lambda t: t[0] != row["role"])  # stable: own role first
        return next((str(t[row["id"]]) for _, t in ordered if row["id"] in t), "")

    frame.insert(1, "name", [name_of(row) for row in unmatched])
    return frame


def _shared_fields(
    solved: MatchingResult | GroupingResult,
    compat: Compatibility,
    unmatched: list[dict[str, str]],
    run: RunInfo,
    offset: float = 0.0,
    rosters: Sequence[Roster] = (),
) -> dict[str, Any]:
    """The result fields every mode shares; ``offset`` adds pairs formed outside the solver.

    ``rosters`` supply the ``name`` column of the unmatched list.
    """
    return {
        "unmatched": _unmatched_frame(unmatched, rosters),
        "status": solved.status,
        "objective": float(solved.objective) + offset,
        "bound": None if solved.bound is None else float(solved.bound) + offset,
        "wall_time": float(solved.wall_time),
        "method": solved.method,
        "seed": run.seed,
        "stopped_by_time_limit": bool(getattr(solved, "stopped_by_time_limit", False)),
        "options": {
            **solved.options,
            **_typed_details(solved),
            "objective": run.objective,
            "programme": run.programme,
            "notes": list(compat.notes),
            "protected": list(run.protected),
            "weights": dict(zip(compat.criteria, map(float, compat.weights), strict=False)),
        },
    }


def _ids(roster: Roster, positions: np.ndarray) -> np.ndarray:
    return roster.id_view[positions].astype(str) if len(positions) else np.array([], dtype=str)


def pairs_result(
    compat: Compatibility,
    solved: MatchingResult,
    mentors: Roster,
    mentees: Roster,
    *,
    capacity: np.ndarray,
    fixed_rows: np.ndarray,
    fixed_cols: np.ndarray,
    fixed_reasons: Mapping[int, str],
    run: RunInfo,
) -> PairsResult:
    """The pairs the solver formed plus the required ones (``fixed_*``), joined to ids.

    The objective adds the required pairs' scores to the solver's; every
    mentee and mentor in no pair is listed with the reason (``fixed_reasons``
    for required pairs that broke another rule).
    """
    rows = np.concatenate([np.asarray(solved.rows, dtype=np.intp), fixed_rows])
    cols = np.concatenate([np.asarray(solved.cols, dtype=np.intp), fixed_cols])
    order = np.argsort(cols, kind="stable")
    rows, cols = rows[order], cols[order]
    objective = float(solved.objective)
    if len(fixed_cols):
        objective += float(np.sum(compat.pair_scores(fixed_rows, fixed_cols)))
    pairs = pd.DataFrame(
        {
            "mentor_id": _ids(mentors, rows),
            "mentee_id": _ids(mentees, cols),
            "score": compat.pair_scores(rows, cols),
        }
    )
    _insert_names(pairs, {"mentor_id": _names(mentors, rows), "mentee_id": _names(mentees, cols)})
    breakdown = compat.breakdown(rows, cols).reset_index(drop=True)
    breakdown.columns = [f"fit_{name}" for name in breakdown.columns]
    pairs = pd.concat([pairs, breakdown], axis=1)
    unmatched = _unmatched_mentees(compat, mentees, cols, capacity, fixed_reasons)
    unmatched += _unmatched_mentors(compat, mentors, rows, capacity)
    result = PairsResult(
        pairs=pairs,
        **_shared_fields(
            solved,
            compat,
            unmatched,
            run,
            offset=objective - solved.objective,
            rosters=(mentees, mentors),
        ),
        n_mentors=len(mentors),
        n_mentees=len(mentees),
        _audit_basis=audit_basis(mentees, cols, pairs["score"].to_numpy(), run.protected),
        certified=solved.certified,
        optimal_over=solved.optimal_over,
    )
    result.options["capacity_use"] = capacity_use(rows, capacity)
    return result


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
    n_cand, n_open = compat.candidate_counts(capacity)
    out = []
    for j in np.flatnonzero(~matched).tolist():
        if j in fixed_reasons:
            reason = fixed_reasons[j]
        elif n_cand[j] == 0:
            reason = compat.why_no_partner(j)
        elif n_open[j] == 0:
            reason = (
                f"no allowed mentor takes mentees: all {n_cand[j]} allowed "
                "mentor(s) have capacity 0"
            )
        else:
            reason = compat.why_candidates_full(int(n_cand[j]), int(n_open[j]))
        out.append({"id": str(mentees.id_view[j]), "role": "mentee", "reason": reason})
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
        out.append({"id": str(mentors.id_view[i]), "role": "mentor", "reason": reason})
    return out


def peers_result(
    compat: Compatibility,
    solved: MatchingResult,
    people: Roster,
    *,
    scores: np.ndarray | sp.csr_array,
    allowed: np.ndarray | sp.csr_array,
    run: RunInfo,
) -> PeersResult:
    """Peer pairs joined to ids; everyone without a partner listed with the reason.

    ``scores`` / ``allowed`` are the symmetric matrices the solver received
    (dense, or sparse with the candidate pairs stored).
    """
    rows, cols = np.asarray(solved.rows), np.asarray(solved.cols)
    pairs = pd.DataFrame(
        {
            "person_a": _ids(people, rows),
            "person_b": _ids(people, cols),
            "score": scores[rows, cols] if len(rows) else np.array([], dtype=float),
        }
    )
    _insert_names(pairs, {"person_a": _names(people, rows), "person_b": _names(people, cols)})
    matched = np.zeros(len(people), dtype=bool)
    matched[rows] = True
    matched[cols] = True
    unmatched = []
    # sparse (top-k) form: the stored entries are the candidate partners
    counts = np.asarray(allowed.sum(axis=1)).ravel()
    kept = " candidate" if sp.issparse(allowed) else " allowed"
    for i in np.flatnonzero(~matched):
        n_allowed = int(counts[i])
        if n_allowed == 0:
            reason = compat.why_no_partner_row(int(i)).replace("mentee", "partner")
        else:
            reason = (
                f"no partner left: all {n_allowed}{kept} partner(s) were paired with "
                "others (odd numbers leave one out)"
            )
        unmatched.append({"id": str(people.id_view[i]), "role": "person", "reason": reason})
    pair_scores = pairs["score"].to_numpy()
    return PeersResult(
        pairs=pairs,
        **_shared_fields(solved, compat, unmatched, run, rosters=(people,)),
        n_people=len(people),
        _audit_basis=audit_basis(
            people, np.r_[rows, cols], np.r_[pair_scores, pair_scores], run.protected
        ),
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
            "leader_id": [str(leaders.id_view[labels[p]]) for p in placed],
            "member_id": [str(proteges.id_view[p]) for p in placed],
            "fit": [float(fit[labels[p], p]) for p in placed],
        }
    )
    _insert_names(
        groups,
        {"leader_id": _names(leaders, labels[placed]), "member_id": _names(proteges, placed)},
    )
    groups = groups.sort_values(["group", "member_id"], kind="stable", ignore_index=True)
    unmatched = _unmatched_proteges(compat, solved, labels, proteges)
    unmatched += _unmatched_leaders(solved, number, leaders, options.min_size)
    columns = _audit_columns(options, proteges)
    return GroupsResult(
        groups=groups,
        **_shared_fields(solved, compat, unmatched, run, rosters=(proteges, leaders)),
        group_summary=group_summary(groups, proteges, options, columns),
        composition=composition_audit(groups, proteges, columns, protected=options.protected),
        violations=tuple(violations),
        n_leaders=len(leaders),
        n_proteges=len(proteges),
        _audit_basis=audit_basis(
            proteges,
            placed,
            np.array([float(fit[labels[p], p]) for p in placed], dtype=float),
            (*run.protected, *options.protected),
        ),
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
        out.append({"id": str(proteges.id_view[p]), "role": "protege", "reason": reason})
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
        out.append({"id": str(leaders.id_view[leader]), "role": "leader", "reason": reason})
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
