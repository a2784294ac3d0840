"""Two or more programmes run on the same rosters, side by side: :func:`compare`.

A pilot asks "which programme should we publish?": the default criteria or a
stricter language rule, one mentee per mentor or two. :func:`compare` lines up
the results of each on the same rosters: how many were matched (placed), the
mean and lowest score, the solver's status, the matched share of every segment
(from each result's :meth:`~pairwise.results.PairsResult.audit`, so small cells
stay blank) and how many pairs (or group memberships) each two programmes have
in common.
"""

from __future__ import annotations

import html
import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._audit import audit_table, default_columns
from ._outputs import OutputPlan
from .errors import InputError
from .results import GroupsResult, PairsResult, PeersResult, cut, table_writer

__all__ = ["Comparison", "compare", "comparison_paths"]

Result = PairsResult | PeersResult | GroupsResult

#: The kind of each result type, and what one row of its main table is called.
_KINDS: dict[type, str] = {PairsResult: "pairs", PeersResult: "peers", GroupsResult: "groups"}
#: Per kind: the audited role (plural) and the other roster's role, as ``unmatched`` names them.
_ROLES = {
    "pairs": (("mentee", "mentees"), ("mentor", "mentors")),
    "peers": (("person", "people"), None),
    "groups": (("protege", "protégés"), ("leader", "leaders")),
}
#: Segments the summary names where the programmes' matched shares differ most.
SHOWN_GAPS = 3


@dataclass(frozen=True, repr=False)
class Comparison:
    """Programmes run on the same rosters, side by side (made by :func:`compare`).

    Attributes
    ----------
    kind : str
        ``"pairs"``, ``"peers"`` or ``"groups"``.
    names : tuple of str
        The programmes, in the order given.
    table : DataFrame
        One row per programme: ``programme``, ``status``, ``n`` (mentees,
        people or protégés), ``matched`` (placed, for groups),
        ``matched_share``, ``pairs`` (``groups`` for groups: how many were
        formed), ``mean_score``, ``lowest_score`` (pair score; group fit for
        groups), ``objective`` and ``wall_time``.
    audit : DataFrame
        One row per segment (``column``, ``value``, ``n``, ``suppressed``),
        then ``matched_share_<name>`` and ``mean_score_<name>`` per programme.
        Cells under 5 people are blank, as in ``result.audit()``.
    common : DataFrame
        One row per two programmes: ``programme_a``, ``programme_b``,
        ``in_common`` (pairs, or leader–protégé memberships, formed by both),
        ``only_a``, ``only_b``, ``share_of_a``, ``share_of_b``.
    roster_sizes : tuple of (str, int)
        The rosters the programmes share, e.g. ``(("mentees", 110), ("mentors", 62))``.
    """

    kind: str
    names: tuple[str, ...]
    table: pd.DataFrame
    audit: pd.DataFrame
    common: pd.DataFrame
    roster_sizes: tuple[tuple[str, int], ...] = ()

    def summary(self) -> str:
        """A few lines a coordinator can read: each programme, overlaps, widest segment gaps."""
        sizes = ", ".join(f"{n} {role}" for role, n in self.roster_sizes)
        lines = [f"{len(self.names)} {self.kind} programmes on the same rosters ({sizes})"]
        verb = "placed" if self.kind == "groups" else "matched"
        measure = "fit" if self.kind == "groups" else "score"
        for row in _rows(self.table):
            scores = (
                f"{measure} mean {row['mean_score']:.3f}, lowest {row['lowest_score']:.3f}"
                if row["matched"]
                else f"no {measure}"
            )
            lines.append(
                f"  {row['programme']}: {row['status']}; {row['matched']} of {row['n']} {verb} "
                f"({_percent(row['matched_share'], 1)}); {scores}"
            )
        unit = "memberships" if self.kind == "groups" else "pairs"
        for row in _rows(self.common):
            a, b = row["programme_a"], row["programme_b"]
            lines.append(
                f"in common: {a} and {b} share {row['in_common']} {unit} "
                f"({_percent(row['share_of_a'])} of {a}'s, {_percent(row['share_of_b'])} of {b}'s)"
            )
        lines.extend(self._gaps())
        return "\n".join(lines)

    def _gaps(self) -> list[str]:
        """The segments whose matched share differs most between programmes (shown cells only)."""
        shares = self.audit[[f"matched_share_{name}" for name in self.names]]
        spread = (shares.max(axis=1) - shares.min(axis=1)).where(~self.audit["suppressed"])
        spread = spread[spread > 1e-9].sort_values(ascending=False, kind="stable")
        if spread.empty:
            return ["segments: the matched share of every shown segment is the same"]
        items = []
        for at in spread.index[:SHOWN_GAPS]:
            row = self.audit.loc[at]
            each = ", ".join(
                f"{name} {_percent(row[f'matched_share_{name}'])}" for name in self.names
            )
            items.append(f"{row['column']}={row['value']} ({each})")
        return ["widest gaps in matched share: " + "; ".join(items)]

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables :meth:`to_csv` writes: ``"main"``, ``"audit"`` and ``"common"``."""
        return {"main": self.table, "audit": self.audit, "common": self.common}

    def files(self, path: str | os.PathLike[str]) -> dict[str, tuple[Path, pd.DataFrame]]:
        """Where each table goes for ``to_csv(path)``: name -> (file, table).

        ``compare.csv`` -> ``compare.csv``, ``compare.audit.csv``, ``compare.common.csv``.
        """
        targets = comparison_paths(path)
        return {name: (targets[name], table) for name, table in self.tables().items()}

    def to_csv(self, path: str | os.PathLike[str]) -> tuple[Path, ...]:
        """Write the side-by-side table to ``path``, the audit and the overlaps beside it.

        Written all-or-nothing, floats rounded and text escaped as every result
        file (:func:`pairwise.results.write_table`; ``.xlsx`` writes workbooks).
        Returns the paths written: main, audit, common.

        Raises
        ------
        InputError
            A file cannot be written (naming it), or two targets are one file.
        """
        files = self.files(path)
        plan = OutputPlan({name: target for name, (target, _) in files.items()})
        plan.check()
        plan.write({name: table_writer(table, target) for name, (target, table) in files.items()})
        return tuple(target for target, _ in files.values())

    def to_dict(self) -> dict[str, Any]:
        """The comparison in plain Python types (NaN and missing as None)."""
        return {
            "kind": self.kind,
            "names": list(self.names),
            **{name: _records(table) for name, table in self.tables().items()},
        }

    def _repr_html_(self) -> str:
        head = "<br>".join(html.escape(line) for line in self.summary().splitlines())
        return (
            f"<div><p><b>pairwise comparison</b><br>{head}</p>"
            f"{self.table.to_html(index=False)}"
            f"<p>in common</p>{self.common.to_html(index=False)}"
            f"<p>matched share by segment (cells under 5 people blank)</p>"
            f"{self.audit.to_html(index=False, na_rep='')}</div>"
        )

    def __repr__(self) -> str:
        return f"Comparison(kind={self.kind!r}, names={list(self.names)!r})"


def comparison_paths(path: str | os.PathLike[str]) -> dict[str, Path]:
    """The files of ``Comparison.to_csv(path)``: ``main``, ``audit`` and ``common``.

    >>> {k: p.name for k, p in comparison_paths("out/compare.csv").items()}
    {'main': 'compare.csv', 'audit': 'compare.audit.csv', 'common': 'compare.common.csv'}
    """
    main = Path(path)
    suffix = main.suffix or ".csv"
    return {
        "main": main,
        **{part: main.with_name(f"{main.stem}.{part}{suffix}") for part in ("audit", "common")},
    }


def _percent(share: Any, decimals: int = 0) -> str:
    return "–" if share is None or pd.isna(share) else f"{100 * float(share):.{decimals}f}%"


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict(orient="records")]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(pd.notna(frame), None)
    return [
        {str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
        for r in clean.to_dict(orient="records")
    ]


def compare(results: Mapping[str, Result], *, by: str | Sequence[str] | None = None) -> Comparison:
    """Put the results of two or more programmes on the same rosters side by side.

    Parameters
    ----------
    results : mapping of str to PairsResult, PeersResult or GroupsResult
        Programme name -> its result, all of one kind, all on the same rosters
        (the same ids; scores and rules may differ).
    by : str or sequence of str, optional
        Columns of the segment audit (as in ``result.audit(by=...)``); by
        default the default audit columns every result has. Values held by
        fewer than 5 people in a column any of the programmes protects are
        pooled.

    Returns
    -------
    Comparison
        ``table`` (one row per programme), ``audit`` (matched share per
        segment and programme), ``common`` (pairs in common per two
        programmes), ``summary()``, ``to_csv(path)``.

    Raises
    ------
    InputError
        Fewer than two results, a value that is not a result, results of
        different kinds, or results on different rosters (naming the ids that
        differ).

    Examples
    --------
    >>> import pairwise as pw
    >>> frames = pw.datasets.demo_rosters()
    >>> program = pw.load_program()
    >>> two = program.replace(capacity_column=None, capacity=2)
    >>> comparison = pw.compare({
    ...     "capacities": program.pairs(frames["mentors"], frames["mentees"]),
    ...     "two each": two.pairs(frames["mentors"], frames["mentees"]),
    ... })
    >>> comparison.table["programme"].tolist()
    ['capacities', 'two each']
    >>> int(comparison.common["in_common"].iloc[0]) > 0
    True
    """
    kind = _check(results)
    names = tuple(results)
    first = results[names[0]]
    table = pd.DataFrame([_figures(name, results[name], kind) for name in names])
    return Comparison(
        kind=kind,
        names=names,
        table=table,
        audit=_audit(results, by),
        common=_common(results, kind),
        roster_sizes=tuple((plural, len(ids)) for plural, ids in _rosters(first, kind)),
    )


def _check(results: Mapping[str, Result]) -> str:
    """The one kind of ``results``, after checking them (see :func:`compare`'s Raises)."""
    example = "Fix: pass a mapping of names to results, e.g. {'A': result_a, 'B': result_b}."
    if not isinstance(results, Mapping):
        raise InputError(
            f"`results` must be a mapping of programme names to results; got "
            f"{type(results).__name__}. {example}"
        )
    if len(results) < 2:
        raise InputError(
            f"`results` must hold at least two programmes to compare; got {len(results)}. "
            f"{example}"
        )
    kinds: dict[str, list[str]] = {}
    for name, result in results.items():
        if not isinstance(name, str) or not name.strip():
            raise InputError(
                f"`results` must be keyed by programme names (non-empty text); got {name!r}. "
                f"{example}"
            )
        kind = _KINDS.get(type(result))
        if kind is None:
            raise InputError(
                f"`results[{name!r}]` must be a PairsResult, PeersResult or GroupsResult; got "
                f"{type(result).__name__}. Fix: pass what Program.pairs, Program.peers or "
                "Program.groups returned."
            )
        kinds.setdefault(kind, []).append(name)
    if len(kinds) > 1:
        each = "; ".join(f"{kind}: {', '.join(map(repr, n))}" for kind, n in kinds.items())
        raise InputError(
            f"`results` must all be of one kind; got {each}. Fix: compare pairs with pairs, "
            "peers with peers and groups with groups."
        )
    kind = next(iter(kinds))
    names = list(results)
    reference = dict(_rosters(results[names[0]], kind))
    for name in names[1:]:
        for plural, ids in _rosters(results[name], kind):
            _same_ids(plural, reference[plural], ids, names[0], name)
    return kind


def _same_ids(plural: str, a: set[str], b: set[str], name_a: str, name_b: str) -> None:
    if a == b:
        return
    only_a, only_b = sorted(a - b), sorted(b - a)
    parts = [
        f"{len(ids)} only in {name!r} ({cut(ids)})"
        for name, ids in ((name_a, only_a), (name_b, only_b))
        if ids
    ]
    raise InputError(
        f"`results` must be on the same rosters; the {plural} of {name_a!r} and {name_b!r} "
        f"differ: {'; '.join(parts)}. Fix: run every programme on the same roster files."
    )


def _rosters(result: Result, kind: str) -> list[tuple[str, set[str]]]:
    """Each roster's ids (plural role, id set), from the main table and the unmatched list."""
    main, unmatched = result.main, result.unmatched
    audited, other = _ROLES[kind]
    if kind == "pairs":
        columns = {"mentee": ["mentee_id"], "mentor": ["mentor_id"]}
    elif kind == "peers":
        columns = {"person": ["person_a", "person_b"]}
    else:
        columns = {"protege": ["member_id"], "leader": ["leader_id"]}
    out = []
    for role, plural in [audited] + ([other] if other else []):
        ids = {str(i) for c in columns[role] if c in main for i in main[c]}
        ids |= {str(i) for i in unmatched.loc[unmatched["role"] == role, "id"]}
        out.append((plural, ids))
    return out


def _figures(name: str, result: Result, kind: str) -> dict[str, Any]:
    """One row of the side-by-side table."""
    main = result.main
    score = main["fit" if kind == "groups" else "score"] if len(main) else pd.Series(dtype=float)
    if isinstance(result, PairsResult):
        n, matched = result.n_mentees, int(main["mentee_id"].nunique()) if len(main) else 0
    elif isinstance(result, PeersResult):
        n, matched = result.n_people, 2 * len(main)
    else:
        n, matched = result.n_proteges, len(main)
    formed = int(main["group"].nunique()) if kind == "groups" and len(main) else len(main)
    return {
        "programme": name,
        "status": result.status,
        "n": int(n),
        "matched": int(matched),
        "matched_share": matched / n if n else float("nan"),
        "groups" if kind == "groups" else "pairs": formed,
        "mean_score": float(score.mean()) if len(score) else float("nan"),
        "lowest_score": float(score.min()) if len(score) else float("nan"),
        "objective": float(result.objective),
        "wall_time": float(result.wall_time),
    }


def _links(result: Result, kind: str) -> set[tuple[str, str]]:
    """The pairs (or leader–protégé memberships) a result formed, as comparable keys."""
    main = result.main
    if kind == "groups":
        return set(zip(main["leader_id"].astype(str), main["member_id"].astype(str), strict=True))
    if kind == "peers":
        a, b = main["person_a"].astype(str), main["person_b"].astype(str)
        return {(min(x, y), max(x, y)) for x, y in zip(a, b, strict=True)}
    return set(zip(main["mentor_id"].astype(str), main["mentee_id"].astype(str), strict=True))


def _common(results: Mapping[str, Result], kind: str) -> pd.DataFrame:
    """Pairs in common between each two programmes."""
    links = {name: _links(result, kind) for name, result in results.items()}
    rows = []
    for a, b in itertools.combinations(results, 2):
        both = len(links[a] & links[b])
        rows.append(
            {
                "programme_a": a,
                "programme_b": b,
                "in_common": both,
                "only_a": len(links[a]) - both,
                "only_b": len(links[b]) - both,
                "share_of_a": both / len(links[a]) if links[a] else float("nan"),
                "share_of_b": both / len(links[b]) if links[b] else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def _audit(results: Mapping[str, Result], by: str | Sequence[str] | None) -> pd.DataFrame:
    """Matched share and mean score per segment and programme, small cells blank."""
    bases = {}
    for name, result in results.items():
        if result._audit_basis is None:
            raise InputError(
                f"`results[{name!r}]` holds no roster to audit. Fix: compare results of "
                "Program.pairs / Program.peers / Program.groups."
            )
        bases[name] = result._audit_basis
    protected = list(dict.fromkeys(c for b in bases.values() for c in b.protected))
    if by is None:
        defaults = [default_columns(b) for b in bases.values()]
        columns: str | list[str] = [
            c
            for c in dict.fromkeys(itertools.chain(*defaults))
            if all(c in b.people.columns for b in bases.values())
        ]
    else:
        columns = [by] if isinstance(by, str) else list(by)
    keys = ["column", "value", "n", "suppressed"]
    merged: pd.DataFrame | None = None
    for k, (name, basis) in enumerate(bases.items()):
        table = audit_table(basis, columns, protected=protected)
        part = table[keys].copy()
        part[f"_order{k}"] = np.arange(len(table))
        part[f"matched_share_{name}"] = table["matched_share"]
        part[f"mean_score_{name}"] = table["mean_score"]
        merged = part if merged is None else merged.merge(part, on=keys, how="outer")
    assert merged is not None  # at least two results
    # rows in the first programme's order (its rows first), then any the others add
    order = [f"_order{k}" for k in range(len(bases))]
    merged = merged.sort_values(order, kind="stable", na_position="last")
    return merged.drop(columns=order).reset_index(drop=True)
