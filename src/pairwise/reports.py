"""Readable reports on results: per-group summaries and composition audits.

These are what a coordinator shows when asked "is every group diverse, and do
the groups look like the population?". They read only result frames and
rosters; they never call a solver.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .diversity import MIN_CELL
from .errors import InputError
from .roster import PROTECTED_COLUMNS, Roster

__all__ = [
    "composition_audit",
    "group_summary",
    "groups_warnings",
    "pairs_warnings",
    "peers_warnings",
    "plot_groups",
    "plot_scores",
]


def _member_values(groups: pd.DataFrame, roster: Roster, column: str) -> pd.Series:
    """The roster's ``column`` value of every row's ``member_id`` (index of ``groups``)."""
    members = pd.Index(groups["member_id"].astype(str))
    position = pd.Index([str(i) for i in roster.ids]).get_indexer(members)
    if np.any(position < 0):
        unknown = list(dict.fromkeys(members[position < 0]))
        raise InputError(
            f"`member_id` must name people of the roster; got {len(unknown)} unknown "
            f"(e.g. {unknown[:5]}). Fix: pass the protégé roster the groups were formed from."
        )
    values = roster.frame[column].to_numpy(dtype=object)
    return pd.Series(values[position], index=groups.index, dtype=object)


def group_summary(
    groups: pd.DataFrame,
    proteges: Roster,
    options: Any,
    columns: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per group: size, mean and lowest fit, distinct values, rules met.

    Parameters
    ----------
    groups : DataFrame
        ``group``, ``leader_id``, ``member_id``, ``fit`` (as in :class:`GroupsResult`;
        ``leader_name`` is carried over when present).
    proteges : Roster
    options : GroupOptions
        Supplies ``min_distinct``, ``max_count`` and ``no_isolation``.
    columns : sequence of str
        Columns to count distinct values of (absent ones are skipped). Missing
        values (None, NaN) are not counted as a value.

    Returns
    -------
    DataFrame
        ``group``, ``leader_id`` (and ``leader_name`` when ``groups`` has it),
        ``size``, ``mean_fit``, ``min_fit``, then
        ``distinct_<column>`` per column and one boolean per composition rule
        (``min_distinct_<column>``, ``max_count_<column>``, ``no_isolation_<column>``).
        Groups are sorted by number; leader columns come from a group's first row.

    Notes
    -----
    Every statistic is computed once for all groups (one sort, one value
    count matrix per column), not group by group: 150 groups take a few
    milliseconds.
    """
    base_cols = ["group", "leader_id", "size", "mean_fit", "min_fit"]
    if groups.empty:
        return pd.DataFrame(columns=base_cols)
    order = np.argsort(groups["group"].to_numpy(), kind="stable")
    keys = groups["group"].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    sizes = ends - starts
    member_group = np.repeat(np.arange(len(starts)), sizes)
    out: dict[str, Any] = {"group": keys[starts].tolist()}
    for name in ("leader_id", "leader_name"):
        if name in groups.columns:
            out[name] = groups[name].to_numpy(dtype=object)[order][starts].tolist()
    fit = groups["fit"].to_numpy(dtype=np.float64)[order]
    # per-group sums by numpy's own summation, so the means equal Series.mean bit for bit
    known = ~np.isnan(fit)
    filled = np.where(known, fit, 0.0)
    n_known = np.add.reduceat(known.astype(np.int64), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.array([filled[a:b].sum() for a, b in zip(starts, ends, strict=True)]) / n_known
    out |= {
        "size": sizes.tolist(),
        "mean_fit": mean.tolist(),
        "min_fit": np.fmin.reduceat(fit, starts).tolist(),
    }
    for column in (c for c in columns if c in proteges.frame.columns):
        values = _member_values(groups, proteges, column).to_numpy(dtype=object)[order]
        out |= _rule_columns(column, _value_counts(member_group, values, len(starts)), options)
    return pd.DataFrame(out)


def _value_counts(member_group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Count of each known value per group, shape ``(n_groups, n_values)`` (missing ignored)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    n_values = len(uniques)
    known = codes >= 0
    flat = member_group[known] * n_values + codes[known]
    return np.bincount(flat, minlength=n_groups * n_values).reshape(n_groups, n_values)


def _rule_columns(column: str, counts: np.ndarray, options: Any) -> dict[str, list[Any]]:
    """``distinct_<column>`` and the rule booleans of one column, from its count matrix."""
    distinct = np.count_nonzero(counts, axis=1)
    out: dict[str, list[Any]] = {f"distinct_{column}": distinct.tolist()}
    if column in options.min_distinct:
        out[f"min_distinct_{column}"] = (distinct >= options.min_distinct[column]).tolist()
    if column in options.max_count:
        largest = counts.max(axis=1) if counts.shape[1] else np.zeros(len(counts), np.int64)
        out[f"max_count_{column}"] = (largest <= options.max_count[column]).tolist()
    if column in options.no_isolation:
        out[f"no_isolation_{column}"] = (~np.any(counts == 1, axis=1)).tolist()
    return out


#: Label of the audit row pooling the protected values held by fewer than
#: :data:`~pairwise.diversity.MIN_CELL` protégés (their own rows would be small cells).
FEW_PEOPLE = f"(fewer than {MIN_CELL} people)"

_AUDIT_COLUMNS = [
    "column",
    "value",
    "population",
    "population_share",
    "placed",
    "placed_share",
    "placement_rate",
    "min_group_share",
    "max_group_share",
]


def composition_audit(
    groups: pd.DataFrame,
    proteges: Roster,
    columns: Sequence[str],
    *,
    protected: Iterable[str] = PROTECTED_COLUMNS,
) -> pd.DataFrame:
    """Compare group composition with the protégé population, value by value.

    Parameters
    ----------
    groups : DataFrame
        ``group`` and ``member_id`` (as in :class:`GroupsResult`).
    proteges : Roster
    columns : sequence of str
        Columns to audit; absent ones and list columns are skipped. A missing
        value counts as ``"(blank)"``.
    protected : iterable of str
        Protected columns (a programme passes its ``[program] protected``;
        default :data:`pairwise.roster.PROTECTED_COLUMNS`). In these the audit
        stays aggregate: values held by fewer than
        :data:`~pairwise.diversity.MIN_CELL` (5) protégés are pooled into one
        row, ``value`` :data:`FEW_PEOPLE` ("(fewer than 5 people)"), with their
        counts summed; and the group shares are taken over groups of at least
        5 members only (NaN when there is none). Other columns are audited
        value by value over every group.

    Returns
    -------
    DataFrame
        ``column``, ``value``, ``population`` (count among all protégés),
        ``population_share``, ``placed`` (count among placed protégés),
        ``placed_share``, ``placement_rate`` (placed / population), and the
        lowest and highest share of the value across groups
        (``min_group_share``, ``max_group_share``). A low placement rate for
        one value is the first sign that a rule or the fit disadvantages a group.

    Examples
    --------
    >>> import pandas as pd, pairwise as pw
    >>> people = pw.load_roster(pd.DataFrame(
    ...     {"id": list("ABCDEFG"), "gender": ["F"] * 5 + ["X", "Y"]}))
    >>> groups = pd.DataFrame({"group": [1] * 6, "member_id": list("ABCDEF")})
    >>> audit = composition_audit(groups, people, ["gender"])
    >>> audit["value"].tolist(), audit["population"].tolist(), audit["placed"].tolist()
    (['F', '(fewer than 5 people)'], [5, 2], [5, 1])
    """
    shielded = frozenset(
        [protected] if isinstance(protected, str) else (str(c) for c in protected)
    )
    records: list[dict[str, Any]] = []
    for column in columns:
        if column not in proteges.frame.columns:
            continue
        population = proteges.frame[column].astype(object).fillna("(blank)")
        if population.map(lambda v: isinstance(v, tuple)).any():
            continue  # list cells are not audited value by value
        placed = (
            _member_values(groups, proteges, column).fillna("(blank)")
            if len(groups)
            else pd.Series([], dtype=object)
        )
        if column in shielded:
            population, placed = _pool_small_cells(population, placed)
        records += _audit_rows(
            column, population, placed, groups, MIN_CELL if column in shielded else 0
        )
    return pd.DataFrame(records, columns=_AUDIT_COLUMNS)


def _pool_small_cells(population: pd.Series, placed: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Both series with the values held by fewer than ``MIN_CELL`` people as ``FEW_PEOPLE``."""
    counts = population.value_counts()
    small = counts.index[counts < MIN_CELL]
    if not len(small):
        return population, placed
    return (
        population.where(~population.isin(small), FEW_PEOPLE),
        placed.where(~placed.isin(small), FEW_PEOPLE),
    )


def _audit_rows(
    column: str, population: pd.Series, placed: pd.Series, groups: pd.DataFrame, min_group: int
) -> list[dict[str, Any]]:
    """One audit record per value of ``population`` (a pooled row last).

    Group shares are taken over groups of at least ``min_group`` members.
    """
    shares = None
    if len(groups):
        shares = pd.crosstab(groups["group"], placed, normalize="index")
        if min_group:
            size = groups["group"].value_counts().reindex(shares.index)
            shares = shares[size.to_numpy() >= min_group]
    pop_counts = population.value_counts()
    if FEW_PEOPLE in pop_counts.index:
        pop_counts = pd.concat([pop_counts.drop(FEW_PEOPLE), pop_counts[[FEW_PEOPLE]]])
    placed_counts = placed.value_counts()
    records = []
    for value, n in pop_counts.items():
        k = int(placed_counts.get(value, 0))
        if shares is None:
            low = high = 0.0
        elif not len(shares):
            low = high = float("nan")  # every group is a small cell: suppressed
        elif value in shares.columns:
            low, high = float(shares[value].min()), float(shares[value].max())
        else:
            low = high = 0.0
        records.append(
            {
                "column": column,
                "value": value,
                "population": int(n),
                "population_share": float(n / len(population)),
                "placed": k,
                "placed_share": float(k / max(len(placed), 1)),
                "placement_rate": float(k / n),
                "min_group_share": low,
                "max_group_share": high,
            }
        )
    return records


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib. Fix: pip install 'pairwise[plot]'.") from None
    return plt


def plot_scores(result: Any, *, ax: Any = None, bins: int = 20) -> Any:
    """Histogram of the pair scores of a :class:`PairsResult` or :class:`PeersResult`.

    The title says how many pairs were formed and how many people were left
    out, so the picture never hides the unmatched. Returns the matplotlib Axes.
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    scores = result.pairs["score"].to_numpy(dtype=float) if len(result.pairs) else np.zeros(0)
    ax.hist(scores, bins=bins, range=(0.0, 1.0), color="#4C72B0", edgecolor="white")
    if len(scores):
        ax.axvline(float(np.mean(scores)), color="#C44E52", linestyle="--", label="mean")
        ax.legend(loc="upper left")
    ax.set_xlabel("pair score (weighted mean of the criteria)")
    ax.set_ylabel("pairs")
    ax.set_title(f"{len(scores)} pairs; {len(result.unmatched)} left out (see unmatched)")
    return ax


def plot_groups(result: Any, *, ax: Any = None) -> Any:
    """Mean leader fit per learning group, lowest first, with each group's size.

    Returns the matplotlib Axes.
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    gs = result.group_summary.sort_values("mean_fit", kind="stable")
    x = np.arange(len(gs))
    ax.bar(x, gs["mean_fit"], color="#55A868")
    ax.set_xticks(x, [str(leader) for leader in gs["leader_id"]], rotation=60, fontsize=7)
    for xi, (fit, size) in enumerate(zip(gs["mean_fit"], gs["size"], strict=True)):
        ax.text(xi, float(fit), str(int(size)), ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("mean fit (number = group size)")
    ax.set_title(f"{len(gs)} groups; {len(result.unmatched)} without a group (see unmatched)")
    return ax


# ---------------------------------------------------------------------------
# Predictions before solving (``Program.validate``): warnings, not errors
# ---------------------------------------------------------------------------

#: Participants named one by one in a warning before "... and N more".
_NAMED = 5


def _alone_lines(
    alone: Sequence[int],
    ids: Sequence[str],
    why: Any,
    *,
    noun: str,
    plural: str,
    partner: str,
    verb: str,
) -> list[str]:
    """One warning per person with no allowed partner: five named (with ``why``), then a count."""
    lines = [
        f"{noun} {ids[k]} has no allowed {partner} and will not be {verb}: {why(int(k))}"
        for k in alone[:_NAMED]
    ]
    if len(alone) > _NAMED:
        lines.append(f"... and {len(alone) - _NAMED} more {plural} have no allowed {partner}")
    return lines


def _no_partner(
    compat: Any, ids: Sequence[str], noun: str, partner: str, verb: str = "matched"
) -> tuple[list[str], int]:
    """Warnings for people with no allowed partner (five named, then a count) and their number."""
    alone = [k for k in range(len(ids)) if len(compat.candidate_rows(k)) == 0]
    lines = _alone_lines(
        alone, ids, compat.why_no_partner, noun=noun, plural=f"{noun}s", partner=partner, verb=verb
    )
    return lines, len(alone)


def pairs_warnings(compat: Any, mentee_ids: Sequence[str], capacity: np.ndarray) -> list[str]:
    """Capacity shortfall, mentees with no allowed mentor, and how many will be unmatched.

    Parameters
    ----------
    compat : Compatibility
        Mentors × mentees.
    mentee_ids : sequence of str
    capacity : ndarray of int
        Mentees each mentor may take.

    Examples
    --------
    >>> import numpy as np, pairwise as pw
    >>> frames = pw.datasets.demo_rosters()
    >>> mentors, mentees = frames["mentors"].head(1), frames["mentees"].head(3)
    >>> compat = pw.CompatibilityModel().score(pw.load_roster(mentors), pw.load_roster(mentees))
    >>> print(pairs_warnings(compat, list(mentees["id"]), np.array([1]))[0])
    capacity 1 for 3 mentees: at least 2 cannot be matched. Fix: raise `capacity` ...
    """
    n = len(mentee_ids)
    total = int(np.clip(capacity, 0, None).sum())
    lines = []
    if total < n:
        lines.append(
            f"capacity {total} for {n} mentees: at least {n - total} cannot be matched. "
            "Fix: raise `capacity` (programme key, or the mentors' capacity column) or add "
            "mentors."
        )
    alone_lines, alone = _no_partner(compat, mentee_ids, "mentee", "mentor")
    lines += alone_lines
    if alone and total < n:  # both causes: the larger one is the prediction
        lines.append(f"at least {max(n - total, alone)} of {n} mentees will be unmatched")
    return lines


def groups_warnings(
    compat: Any, n_leaders: int, protege_ids: Sequence[str], *, min_size: int, max_size: int
) -> list[str]:
    """Room in the groups, protégés with no allowed leader, leaders who will have no group."""
    n = len(protege_ids)
    lines, alone = _no_partner(compat, protege_ids, "protégé", "leader", "placed")
    room = n_leaders * max_size
    if room < n:
        lines.append(
            f"room for {room} protégés ({n_leaders} leaders × at most {max_size}) for {n}: "
            f"at least {n - room} cannot be placed. Fix: add leaders or raise `max_size` "
            "under [groups]."
        )
    placeable = min(n - alone, room)
    if placeable < min_size:
        lines.append(
            f"only {placeable} protégés can be placed, fewer than a group of {min_size} "
            "(`min_size` under [groups]): no group can be formed"
        )
    elif placeable // min_size < n_leaders:
        idle = n_leaders - placeable // min_size
        lines.append(
            f"at least {idle} of {n_leaders} leaders will have no group: {placeable} "
            f"placeable protégés fill at most {placeable // min_size} groups of {min_size}"
        )
    if n - placeable > 0 and alone and room < n:
        lines.append(f"at least {n - placeable} of {n} protégés will not be placed")
    return lines


def peers_warnings(compat: Any, allowed: Any, ids: Sequence[str]) -> list[str]:
    """People with no allowed partner (both ways) and the odd one out.

    ``allowed`` is dense, or sparse with the candidate pairs stored (top-k form).
    """
    counts = allowed.sum(axis=1) if sp.issparse(allowed) else np.asarray(allowed).sum(axis=1)
    alone = np.flatnonzero(np.asarray(counts).ravel() == 0)
    lines = _alone_lines(
        alone.tolist(),
        ids,
        lambda k: compat.why_no_partner_row(k).replace("mentee", "partner"),
        noun="person",
        plural="people",
        partner="partner",
        verb="paired",
    )
    left = len(ids) - len(alone)
    if left % 2:
        lines.append(
            f"{left} people can be paired, an odd number: at least one will have no partner"
        )
    return lines
