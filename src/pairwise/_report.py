"""The HTML review report: one self-contained file per run, rendered with Jinja2.

A coordinator reviews a run before it is announced: the header (programme,
date, status, objective and bound), the summary, the diagnosis, the audit by
segment, the changes against the previous cohort, plots drawn as inline SVG,
every pair or group with a one-line explanation and everyone left out with the
reason. The file makes no network request (inline CSS and SVG, no script, no
font or image from elsewhere; a Content-Security-Policy forbids any), so HR
data never leaves the machine. Every value is HTML-escaped (Jinja2
autoescaping).

Protected attributes (the programme's ``protected`` columns, kept in the
result's ``options["protected"]``) appear only in the audit table, which holds
aggregate figures with small cells suppressed: per-person tables drop any
column derived from a protected one, and a reason naming a protected column
names it only as "a protected attribute".

The templates live in ``pairwise/templates``; :func:`render_report` renders one
or several results (the demo's report holds all three modes), and
:func:`render_summary` the summary block alone (the notebook ``_repr_html_``).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .roster import PROTECTED_COLUMNS

__all__ = [
    "MAX_ROWS",
    "capacity_use",
    "check_report_path",
    "explain_fits",
    "render_report",
    "render_summary",
]

#: Rows of one table the report shows at most; beyond, a note points at the CSV file.
MAX_ROWS = 10_000
#: Rows shown open at the top of a table; the rest fold into pages of :data:`_PAGE` rows.
_FIRST_PAGE = 200
_PAGE = 1_000
#: Bins of the score histograms.
_BINS = 20
#: Values of one column the composition chart shows at most.
_MAX_VALUES = 12
#: Criteria named in a one-line explanation before the rest are left out.
_SHOWN_CRITERIA = 4
#: Suffixes a report file may have.
_SUFFIXES = (".html", ".htm")
_PROTECTED_NOTE = "a protected attribute"


# --------------------------------------------------------------------------- public helpers


def check_report_path(option: str, path: str | os.PathLike[str]) -> Path:
    """Refuse a report path that does not end in ``.html`` (or ``.htm``).

    Parameters
    ----------
    option : str
        How the caller names the path in a message (``"--report"``, ``"`path`"``).
    path : path-like

    Returns
    -------
    Path

    Raises
    ------
    InputError
        When the suffix is not ``.html`` / ``.htm``.

    Examples
    --------
    >>> check_report_path("--report", "out/review.html").name
    'review.html'
    """
    target = Path(path)
    if target.suffix.lower() not in _SUFFIXES:
        raise InputError(
            f"{option} must name an .html file; got {str(path)!r}. "
            f"Fix: e.g. {option} {target.with_suffix('.html').name}."
        )
    return target


def explain_fits(fits: pd.DataFrame, weights: Mapping[str, float] | None = None) -> list[str]:
    """One line per row saying why the pair scores what it does, from its ``fit_*`` columns.

    Each ``fit_<criterion>`` holds the criterion's share of the score
    (``weight × score / total weight``). With the criteria's ``weights`` the
    line names each criterion's own score and weight, largest contribution
    first (``"complement skills wants 0.67 × 3"``); without them, the
    contributions (``"+0.2"``). Criteria scoring 0 are listed after "0 on".

    Parameters
    ----------
    fits : DataFrame
        The ``fit_*`` columns (other columns are ignored).
    weights : mapping of str to float, optional
        Criterion name (without ``fit_``) -> weight.

    Returns
    -------
    list of str
        One explanation per row ("" when there is no ``fit_*`` column).

    Examples
    --------
    >>> import pandas as pd
    >>> fits = pd.DataFrame({"fit_skills": [0.5], "fit_goals": [0.0], "fit_site": [0.1]})
    >>> explain_fits(fits, {"skills": 3, "goals": 1, "site": 1})
    ['skills 0.83 × 3, site 0.5 × 1; 0 on goals']
    >>> explain_fits(fits)
    ['skills +0.5, site +0.1; 0 on goals']
    """
    columns = [c for c in fits.columns if str(c).startswith("fit_")]
    if not columns:
        return [""] * len(fits)
    names = [str(c).removeprefix("fit_") for c in columns]
    values = fits[columns].to_numpy(dtype=float, na_value=0.0)
    known = weights is not None and all(n in weights for n in names)
    total = float(sum(weights[n] for n in names)) if weights is not None and known else 0.0
    labels = [n.replace("_", " ") for n in names]
    order = np.argsort(-values, axis=1, kind="stable")
    lines = []
    for row, ranks in zip(values, order, strict=True):
        parts: list[str] = []
        zeros: list[str] = []
        for k in ranks:
            if not row[k] > 1e-12:
                zeros.append(labels[k])
            elif len(parts) < _SHOWN_CRITERIA:
                if known and total > 0 and weights is not None and weights[names[k]] > 0:
                    raw = row[k] * total / weights[names[k]]
                    parts.append(f"{labels[k]} {_short(raw)} × {_short(weights[names[k]])}")
                else:
                    parts.append(f"{labels[k]} +{_short(row[k])}")
        line = ", ".join(parts) if parts else "no criterion scores above 0"
        lines.append(line + (f"; 0 on {', '.join(zeros)}" if zeros else ""))
    return lines


def render_report(
    results: Any,
    *,
    max_rows: int = MAX_ROWS,
    timings: bool = True,
    title: str | None = None,
) -> str:
    """The review report of one result, or of several (a mapping label -> result), as HTML.

    Parameters
    ----------
    results : PairsResult, PeersResult, GroupsResult or mapping of str to them
        What the report covers; a mapping gives one part per entry, in order.
    max_rows : int
        Rows of each table shown at most (default :data:`MAX_ROWS`); a note
        says how many more are in the result (and its CSV files).
    timings : bool
        Show the wall time and the time of writing. Files the command line
        writes leave them out (the date is kept), so that the same inputs and
        seed give the same file.
    title : str, optional
        The page title (default: the programme's name).

    Returns
    -------
    str
        One HTML document.

    Raises
    ------
    InputError
        When ``max_rows`` is not a whole number >= 1, or ``results`` is empty.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.results import PeersResult
    >>> peers = PeersResult(
    ...     pairs=pd.DataFrame({"person_a": ["A"], "person_b": ["B"], "score": [0.5]}),
    ...     unmatched=pd.DataFrame({"id": ["C"], "role": ["person"], "reason": ["odd count"]}),
    ...     status="optimal", objective=0.5, bound=None, wall_time=0.0, method="t", seed=0)
    >>> html = render_report({"spring": peers, "autumn": peers}, timings=False)
    >>> html.count('data-section="unmatched"')
    2
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise InputError(
            f"`max_rows` must be a whole number >= 1; got {max_rows!r}. Fix: e.g. max_rows=10000."
        )
    parts = dict(results) if isinstance(results, Mapping) else {_kind(results): results}
    if not parts:
        raise InputError("`results` must hold at least one result; got none. Fix: pass one.")
    many = len(parts) > 1
    contexts = [
        _part(label, result, max_rows=max_rows, timings=timings, anchor=label if many else "")
        for label, result in parts.items()
    ]
    first = next(iter(parts.values()))
    programme = str(first.options.get("programme") or "pairwise")
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=title or f"{programme}: review",
            parts=contexts,
            many=many,
            date=_today(),
            written=_now() if timings else None,
        )
    )


def render_summary(result: Any) -> str:
    """The report's summary block of ``result`` alone (what a notebook shows)."""
    part = _summary_part(result, timings=True)
    template = _environment().get_template("_summary.html.j2")
    return template.render(part=part, standalone=True)


# --------------------------------------------------------------------------- environment


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pairwise", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = _fmt
    return env


def _today() -> str:
    """The date of the report (``SOURCE_DATE_EPOCH`` when set, for reproducible files)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return _dt.datetime.fromtimestamp(int(epoch), _dt.UTC).date().isoformat()
    return _dt.date.today().isoformat()


def _now() -> str:
    return _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()


# --------------------------------------------------------------------------- formatting


def _short(value: float) -> str:
    """``0.6667 -> "0.67"``, ``1.0 -> "1"``, ``3.0 -> "3"``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _fmt(value: Any, kind: str = "") -> str:
    """A table cell: blanks as "—", shares as percents, floats to 3 places, ints grouped."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "—"
    if isinstance(value, float | np.floating) and math.isnan(value):
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return f"{100 * float(value):.1f}%" if kind == "share" else f"{float(value):.3f}"
    return str(value)


def _kind(result: Any) -> str:
    if getattr(result, "_main_name", "pairs") == "groups":
        return "groups"
    return "peers" if hasattr(result, "n_people") else "pairs"


# --------------------------------------------------------------------------- protection


def _protected(result: Any) -> tuple[str, ...]:
    names = result.options.get("protected")
    return tuple(str(n) for n in (PROTECTED_COLUMNS if names is None else names))


def _touches(column: Any, protected: Iterable[str]) -> bool:
    """Whether a column name is a protected column or derived from one (``fit_gender``)."""
    name = str(column)
    return any(
        name == p or name.startswith(f"{p}_") or name.endswith(f"_{p}") or f"_{p}_" in name
        for p in protected
    )


def _redact(text: str, protected: Sequence[str]) -> str:
    """``text`` with each protected column's name replaced by "a protected attribute"."""
    for p in protected:
        text = re.sub(rf"(?<![\w]){re.escape(p)}(?![\w])", _PROTECTED_NOTE, text)
    return text


# --------------------------------------------------------------------------- tables


def _table(
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    *,
    total: int,
    what: str,
    where: str,
    classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A table for the template, folded into pages: ``columns`` are (label, kind) pairs.

    A cell is a value or a ``(main, small)`` pair (a name and its id).
    """
    cells = [[_cell(v, kind) for v, (_, kind) in zip(row, columns, strict=True)] for row in rows]
    marks = list(classes) if classes is not None else [""] * len(cells)
    pages = []
    start = 0
    while start < len(cells):
        size = _FIRST_PAGE if start == 0 else _PAGE
        pages.append(
            {
                "first": start + 1,
                "last": min(start + size, len(cells)),
                "rows": list(
                    zip(marks[start : start + size], cells[start : start + size], strict=True)
                ),
            }
        )
        start += size
    note = None
    if total > len(cells):
        note = (
            f"showing the first {len(cells):,} of {total:,} {what}; the full list is in {where}."
        )
    return {
        "columns": [
            {"label": label, "numeric": kind in ("num", "share")} for label, kind in columns
        ],
        "pages": pages,
        "total": total,
        "note": note,
    }


def _cell(value: Any, kind: str) -> tuple[str, str]:
    if isinstance(value, tuple):
        return str(value[0]), str(value[1])
    return _fmt(value, kind), ""


def _person(frame: pd.DataFrame, id_column: str, name_column: str) -> list[Any]:
    ids = frame[id_column].astype(str).tolist()
    if name_column not in frame.columns:
        return ids
    names = frame[name_column].fillna("").astype(str).tolist()
    return [(n, i) if n else (i, "") for n, i in zip(names, ids, strict=True)]


def _frame_table(
    frame: pd.DataFrame, protected: Sequence[str], *, what: str, where: str, max_rows: int
) -> dict[str, Any]:
    """A generic table of ``frame`` without protected columns (shares as percents)."""
    keep = [c for c in frame.columns if not _touches(c, protected)]
    shown = frame.head(max_rows)
    kinds = [_column_kind(shown[c]) if c in shown else "" for c in keep]
    columns = [(str(c).replace("_", " "), k) for c, k in zip(keep, kinds, strict=True)]
    rows = shown[keep].astype(object).to_numpy().tolist() if keep else [[] for _ in range(0)]
    return _table(columns, rows, total=len(frame), what=what, where=where)


def _column_kind(column: pd.Series) -> str:
    name = str(column.name)
    if pd.api.types.is_bool_dtype(column):
        return ""
    if pd.api.types.is_numeric_dtype(column):
        return "share" if name.endswith(("_share", "_rate")) else "num"
    return ""


# --------------------------------------------------------------------------- one part


def _part(label: str, result: Any, *, max_rows: int, timings: bool, anchor: str) -> dict[str, Any]:
    """Everything the template shows for one result."""
    kind = _kind(result)
    protected = _protected(result)
    prefix = f"{anchor}-" if anchor else ""
    builders: dict[str, Callable[..., dict[str, Any]]] = {
        "pairs": _pairs_part,
        "peers": _peers_part,
        "groups": _groups_part,
    }
    part = {
        "label": label,
        "prefix": prefix,
        **_summary_part(result, timings=timings),
        "diagnosis": _diagnosis(result),
        "audit": _audit(result, max_rows),
        "changes": _changes(result, protected, max_rows),
        "unmatched": _unmatched(result, protected, max_rows, kind),
    }
    part.update(builders[kind](result, protected, max_rows))
    return part


def _summary_part(result: Any, *, timings: bool) -> dict[str, Any]:
    """What the summary block shows: header figures, key figures, reasons, notes."""
    kind = _kind(result)
    return {
        "kind": kind,
        "header": _header(result, timings),
        "figures": _figures(result, kind),
        "reasons": _reason_counts(result),
        "notes": [str(n) for n in result.options.get("notes", ())],
    }


def _header(result: Any, timings: bool) -> dict[str, Any]:
    gap = result.gap
    return {
        "programme": str(result.options.get("programme") or "pairwise"),
        "status": str(result.status),
        "objective": f"{result.objective:.4f}",
        "bound": None if result.bound is None else f"{result.bound:.4f}",
        "gap": None if gap is None else f"{100 * gap:.2f}%",
        "method": str(result.method),
        "seed": result.seed,
        "wall_time": f"{result.wall_time:.2f} s" if timings else None,
        "stopped": bool(result.stopped_by_time_limit),
    }


def _figures(result: Any, kind: str) -> list[tuple[str, str]]:
    """The summary's key figures, label -> text."""
    main = result.main
    unmatched = result.unmatched
    out: list[tuple[str, str]] = []
    if kind == "pairs":
        n = int(getattr(result, "n_mentees", 0))
        out.append(("mentees matched", f"{len(main):,} of {n:,}" + _percent(len(main), n)))
        out.append(("mentors", f"{int(getattr(result, 'n_mentors', 0)):,}"))
        if len(main) and "mentor_id" in main:
            loads = main.groupby("mentor_id").size()
            out.append(("mentors used", f"{len(loads):,} (at most {int(loads.max())} mentees)"))
        if getattr(result, "certified", None) is not None:  # solved on the k best candidates
            out.append(("optimality", result._status_text()))
        if result.options.get("stability"):
            out.append(("stability", str(result.options["stability"])))
    elif kind == "peers":
        n = int(getattr(result, "n_people", 0))
        placed = 2 * len(main)
        out.append(("pairs", f"{len(main):,}"))
        out.append(("people paired", f"{placed:,} of {n:,}" + _percent(placed, n)))
    else:
        n_groups = int(main["group"].nunique()) if len(main) else 0
        n = int(getattr(result, "n_proteges", 0))
        out.append(("groups", f"{n_groups:,} of {int(getattr(result, 'n_leaders', 0)):,} leaders"))
        out.append(("protégés placed", f"{len(main):,} of {n:,}" + _percent(len(main), n)))
        violations = tuple(getattr(result, "violations", ()))
        out.append(("rules", "all met" if not violations else f"{len(violations)} broken"))
    column = "fit" if kind == "groups" else "score"
    if len(main) and column in main:
        s = main[column].astype(float)
        out.append((column, f"mean {s.mean():.3f}, lowest {s.min():.3f}, highest {s.max():.3f}"))
    out.append(("left out", f"{len(unmatched):,}" if len(unmatched) else "nobody"))
    return out


def _percent(part: int, whole: int) -> str:
    return f" ({100 * part / whole:.1f}%)" if whole else ""


def _reason_counts(result: Any) -> list[tuple[int, str]]:
    """The most frequent reasons people were left out (protected names redacted)."""
    if not len(result.unmatched) or "reason" not in result.unmatched:
        return []
    protected = _protected(result)
    reasons = result.unmatched["reason"].astype(str).map(lambda r: _redact(r, protected))
    counts = reasons.value_counts(sort=True)
    return [(int(n), str(r)) for r, n in counts.head(5).items()]


def _diagnosis(result: Any) -> list[dict[str, Any]]:
    """Findings: ``result.diagnosis`` when it exists, else the solver's diagnosis lines."""
    findings = getattr(result, "diagnosis", None)
    if findings is None or isinstance(findings, pd.DataFrame):
        findings = result.options.get("diagnosis") or ()
    out = []
    for f in findings:
        gain = getattr(f, "gain", None)
        out.append(
            {
                "message": str(getattr(f, "message", f)),
                "kind": str(getattr(f, "kind", "") or ""),
                "affected": getattr(f, "affected", None),
                "gain": None if gain is None else int(gain),
            }
        )
    return out


def _audit(result: Any, max_rows: int) -> dict[str, Any] | None:
    """``result.audit()`` as a table (the only table that may show protected columns)."""
    method = getattr(result, "audit", None)
    if not callable(method):
        return None
    try:
        frame = method()
    except InputError:  # a result made by hand holds no roster to audit
        return None
    if not isinstance(frame, pd.DataFrame):
        return None
    shown = frame.head(max_rows)
    suppressed = (
        shown["suppressed"].fillna(False).astype(bool).tolist()
        if "suppressed" in shown
        else [False] * len(shown)
    )
    keep = [c for c in shown.columns if c != "suppressed"]
    kinds = [_column_kind(shown[c]) for c in keep]
    columns = [(str(c).replace("_", " "), k) for c, k in zip(keep, kinds, strict=True)]
    rows = shown[keep].astype(object).to_numpy().tolist()
    table = _table(
        columns,
        rows,
        total=len(frame),
        what="segments",
        where="result.audit()",
        classes=["suppressed" if s else "" for s in suppressed],
    )
    table["n_suppressed"] = int(sum(suppressed))
    return table


def _changes(result: Any, protected: Sequence[str], max_rows: int) -> dict[str, Any] | None:
    frame = getattr(result, "changes", None)
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        return None
    counts = frame["change"].astype(str).value_counts().to_dict() if "change" in frame else {}
    table = _frame_table(
        frame, protected, what="changes", where="result.changes", max_rows=max_rows
    )
    table["counts"] = [(k, int(counts.get(k, 0))) for k in ("kept", "broken", "new")]
    return table


def _unmatched(result: Any, protected: Sequence[str], max_rows: int, kind: str) -> dict[str, Any]:
    frame = result.unmatched
    shown = frame.head(max_rows)
    people = _person(shown, "id", "name") if "id" in shown else [""] * len(shown)
    roles = shown["role"].astype(str).tolist() if "role" in shown else [""] * len(shown)
    reasons = (
        shown["reason"].astype(str).map(lambda r: _redact(r, protected)).tolist()
        if "reason" in shown
        else [""] * len(shown)
    )
    columns = [("person", ""), ("role", ""), ("reason", "")]
    return _table(
        columns,
        list(zip(people, roles, reasons, strict=True)),
        total=len(frame),
        what="people left out",
        where=f"{'groups' if kind == 'groups' else kind}.unmatched.csv",
    )


# --------------------------------------------------------------------------- per kind


def _extra_columns(frame: pd.DataFrame, known: set[str], protected: Sequence[str]) -> list[str]:
    """Columns a table shows as they are: not already shown, not fit_*, not protected."""
    return [
        c
        for c in frame.columns
        if c not in known and not str(c).startswith("fit_") and not _touches(c, protected)
    ]


def _pair_rows(
    result: Any, protected: Sequence[str], max_rows: int, sides: tuple[str, str]
) -> dict[str, Any]:
    """The pairs table of a pairs or peers result: the two people, score, why, extras."""
    frame = result.main
    shown = frame.head(max_rows)
    a, b = sides
    names = {
        s: s.removesuffix("_id") + "_name" if s.endswith("_id") else f"{s}_name" for s in sides
    }
    fits = shown[[c for c in shown.columns if str(c).startswith("fit_")]]
    fits = fits[[c for c in fits.columns if not _touches(c, protected)]]
    weights = result.options.get("weights")
    why = explain_fits(fits, weights) if len(fits.columns) else [""] * len(shown)
    extras = _extra_columns(shown, {a, b, *names.values(), "score"}, protected)
    columns = [
        (a.removesuffix("_id").replace("_", " "), ""),
        (b.removesuffix("_id").replace("_", " "), ""),
        ("score", "num"),
        ("why", ""),
        *[(str(c).replace("_", " "), _column_kind(shown[c])) for c in extras],
    ]
    rows = []
    left = _person(shown, a, names[a]) if a in shown else [""] * len(shown)
    right = _person(shown, b, names[b]) if b in shown else [""] * len(shown)
    scores = shown["score"].tolist() if "score" in shown else [None] * len(shown)
    extra_values = shown[extras].astype(object).to_numpy().tolist() if extras else None
    for k in range(len(shown)):
        rows.append(
            [left[k], right[k], scores[k], why[k], *(extra_values[k] if extra_values else [])]
        )
    return _table(columns, rows, total=len(frame), what="pairs", where=f"{_kind(result)}.csv")


def _histogram(values: np.ndarray, title: str, axis: str) -> dict[str, Any]:
    values = values[np.isfinite(values)]
    lo = min(0.0, float(values.min())) if len(values) else 0.0
    hi = max(1.0, float(values.max())) if len(values) else 1.0
    counts, edges = np.histogram(values, bins=_BINS, range=(lo, hi))
    return {
        "type": "histogram",
        "title": title,
        "axis": axis,
        "bins": [
            {"lo": float(edges[k]), "hi": float(edges[k + 1]), "count": int(counts[k])}
            for k in range(len(counts))
        ],
        "max": int(counts.max()) if len(counts) else 0,
        "lo": lo,
        "hi": hi,
        "n": len(values),
    }


def _pairs_part(result: Any, protected: Sequence[str], max_rows: int) -> dict[str, Any]:
    plots = []
    if len(result.pairs) and "score" in result.pairs:
        plots.append(
            _histogram(result.pairs["score"].to_numpy(dtype=float), "Scores of the pairs", "score")
        )
    capacity = _capacity_plot(result)
    if capacity is not None:
        plots.append(capacity)
    return {
        "main": _pair_rows(result, protected, max_rows, ("mentor_id", "mentee_id")),
        "main_title": "Pairs",
        "groups": None,
        "plots": [p for p in plots if p],
    }


def _peers_part(result: Any, protected: Sequence[str], max_rows: int) -> dict[str, Any]:
    plots = []
    if len(result.pairs) and "score" in result.pairs:
        plots.append(
            _histogram(result.pairs["score"].to_numpy(dtype=float), "Scores of the pairs", "score")
        )
    return {
        "main": _pair_rows(result, protected, max_rows, ("person_a", "person_b")),
        "main_title": "Pairs",
        "groups": None,
        "plots": plots,
    }


def _capacity_plot(result: Any) -> dict[str, Any] | None:
    """Mentors by capacity and by how many mentees they took (``options["capacity_use"]``)."""
    use = result.options.get("capacity_use")
    triples: list[tuple[int, int, int]]
    if use:
        triples = [(int(c), int(n), int(k)) for c, n, k in use]
    elif len(result.pairs) and "mentor_id" in result.pairs:
        # without capacities: mentees per mentor among the mentors who took some
        loads = result.pairs.groupby("mentor_id").size().value_counts()
        triples = [(-1, int(n), int(k)) for n, k in loads.items()]
    else:
        return None
    by_capacity: dict[int, dict[int, int]] = {}
    for capacity, load, mentors in sorted(triples):
        counts = by_capacity.setdefault(capacity, {})
        counts[load] = counts.get(load, 0) + mentors
    rows = []
    for capacity, counts in by_capacity.items():
        total = sum(counts.values())
        segments = [
            {
                "load": load,
                "count": n,
                "share": n / total if total else 0.0,
                "level": _use_level(capacity, load),
            }
            for load, n in counts.items()
        ]
        label = f"capacity {capacity}" if capacity >= 0 else "mentors used"
        rows.append({"label": label, "total": total, "segments": segments})
    return {
        "type": "stacked",
        "title": "Capacity use: mentors by capacity and mentees taken",
        "rows": rows,
        "legend": [("full", "at capacity"), ("part", "room left"), ("empty", "no mentee")],
    }


def _use_level(capacity: int, load: int) -> str:
    """``"full"``, ``"part"`` (room left) or ``"empty"`` (no mentee) for the capacity chart."""
    if load == 0:
        return "empty"
    return "full" if 0 <= capacity <= load else "part"


def _groups_part(result: Any, protected: Sequence[str], max_rows: int) -> dict[str, Any]:
    groups = result.groups
    summary = getattr(result, "group_summary", pd.DataFrame())
    plots = []
    if len(groups) and "fit" in groups:
        plots.append(
            _histogram(
                groups["fit"].to_numpy(dtype=float), "Fit of each member to the group", "fit"
            )
        )
    if len(summary) and "size" in summary:
        sizes = summary["size"].value_counts().sort_index()
        plots.append(
            {
                "type": "bars",
                "title": "Group sizes",
                "axis": "members",
                "bars": [{"label": str(k), "count": int(v)} for k, v in sizes.items()],
                "max": int(sizes.max()),
            }
        )
    composition = getattr(result, "composition", None)
    plots.extend(_composition_plots(composition, protected))
    return {
        "main": None,
        "main_title": "Groups",
        "groups": _group_rows(result, summary, protected, max_rows),
        "plots": plots,
    }


def _composition_plots(
    composition: pd.DataFrame | None, protected: Sequence[str]
) -> list[dict[str, Any]]:
    """Share of each value among placed protégés, with its range across groups (not protected)."""
    needed = {"column", "value", "placed_share", "min_group_share", "max_group_share"}
    if not isinstance(composition, pd.DataFrame) or not needed <= set(composition.columns):
        return []
    out = []
    for column, part in composition.groupby("column", sort=False):
        if _touches(column, protected):
            continue
        part = part.sort_values("placed_share", ascending=False).head(_MAX_VALUES)
        out.append(
            {
                "type": "ranges",
                "title": f"Group composition: {column}",
                "rows": [
                    {
                        "label": str(r.value),
                        "share": _finite(r.placed_share),
                        "lo": _finite(r.min_group_share),
                        "hi": _finite(r.max_group_share),
                    }
                    for r in part.itertuples(index=False)
                ],
            }
        )
    return out


def _finite(value: Any) -> float:
    v = float(value)
    return 0.0 if math.isnan(v) else min(max(v, 0.0), 1.0)


def _group_rows(
    result: Any, summary: pd.DataFrame, protected: Sequence[str], max_rows: int
) -> dict[str, Any]:
    """One row per group: leader, members (with fit), size, fit and the one-line why."""
    groups = result.groups
    members: dict[int, list[str]] = {}
    if len(groups):
        names = _person(groups, "member_id", "member_name")
        for g, person, fit in zip(groups["group"], names, groups["fit"], strict=True):
            text = (
                f"{person[0]} ({person[1]})"
                if isinstance(person, tuple) and person[1]
                else (person[0] if isinstance(person, tuple) else str(person))
            )
            members.setdefault(int(g), []).append(f"{text} {float(fit):.2f}")
    shown = summary.head(max_rows)
    leaders = _person(shown, "leader_id", "leader_name") if "leader_id" in shown else []
    rows = []
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in shown.to_dict(orient="records")
    ]
    for k, rec in enumerate(records):
        g = int(rec.get("group", k + 1))
        rows.append(
            [
                g,
                leaders[k] if leaders else "",
                "; ".join(members.get(g, [])),
                rec.get("size"),
                rec.get("mean_fit"),
                rec.get("min_fit"),
                _group_why(rec, protected),
            ]
        )
    columns = [
        ("group", "num"),
        ("leader", ""),
        ("members (fit)", ""),
        ("size", "num"),
        ("mean fit", "num"),
        ("lowest fit", "num"),
        ("why", ""),
    ]
    return _table(columns, rows, total=len(summary), what="groups", where="groups.summary.csv")


def _group_why(record: Mapping[str, Any], protected: Sequence[str]) -> str:
    """``"4 functions, 3 levels; rules met: min_distinct function, 2 on protected attributes"``."""
    distinct = [
        f"{int(v)} distinct {str(k).removeprefix('distinct_')}"
        for k, v in record.items()
        if str(k).startswith("distinct_") and not _touches(k, protected) and v == v
    ]
    met: list[str] = []
    broken: list[str] = []
    hidden_met = hidden_broken = 0
    for k, v in record.items():
        if not isinstance(v, bool | np.bool_):
            continue
        if _touches(k, protected):
            hidden_met += bool(v)
            hidden_broken += not bool(v)
        else:
            (met if v else broken).append(_rule_label(str(k)))
    if hidden_met:
        met.append(f"{hidden_met} on protected attributes")
    if hidden_broken:
        broken.append(f"{hidden_broken} on protected attributes")
    parts = [", ".join(distinct)] if distinct else []
    if met:
        parts.append("rules met: " + ", ".join(met))
    if broken:
        parts.append("BROKEN: " + ", ".join(broken))
    return "; ".join(parts)


def _rule_label(column: str) -> str:
    """``min_distinct_function`` -> ``min_distinct function``."""
    for rule in ("min_distinct", "max_count", "no_isolation"):
        if column.startswith(f"{rule}_"):
            return f"{rule} {column.removeprefix(rule + '_')}"
    return column.replace("_", " ")


def capacity_use(rows: np.ndarray, capacity: np.ndarray) -> list[list[int]]:
    """``[capacity, load, mentors]`` triples: how many mentors of each capacity took how many.

    Parameters
    ----------
    rows : array of int
        The mentor (position) of each pair.
    capacity : array of int
        Each mentor's capacity.

    Examples
    --------
    >>> import numpy as np
    >>> capacity_use(np.array([0, 0, 1]), np.array([2, 2, 1]))
    [[1, 0, 1], [2, 1, 1], [2, 2, 1]]
    """
    capacity = np.asarray(capacity, dtype=np.int64)
    if not len(capacity):
        return []
    load = np.bincount(np.asarray(rows, dtype=np.intp), minlength=len(capacity))[: len(capacity)]
    pairs, counts = np.unique(np.stack([capacity, load]), axis=1, return_counts=True)
    return [[int(c), int(n), int(k)] for (c, n), k in zip(pairs.T, counts, strict=True)]
