"""Readable reports on results: per-group summaries and composition audits.

These are what a coordinator shows when asked "is every group diverse, and do
the groups look like the population?". They read only result frames and
rosters; they never call a solver.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .roster import Roster

__all__ = ["composition_audit", "group_summary", "plot_groups", "plot_scores"]


def _member_values(groups: pd.DataFrame, roster: Roster, column: str) -> pd.Series:
    position = {str(i): k for k, i in enumerate(roster.ids)}
    values = roster.frame[column].to_numpy(dtype=object)
    return pd.Series(
        [values[position[m]] for m in groups["member_id"]], index=groups.index, dtype=object
    )


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
        ``group``, ``leader_id``, ``member_id``, ``fit`` (as in :class:`GroupsResult`).
    proteges : Roster
    options : GroupOptions
        Supplies ``min_distinct``, ``max_count`` and ``no_isolation``.
    columns : sequence of str
        Columns to count distinct values of.

    Returns
    -------
    DataFrame
        ``group``, ``leader_id``, ``size``, ``mean_fit``, ``min_fit``, then
        ``distinct_<column>`` per column and one boolean per composition rule
        (``min_distinct_<column>``, ``max_count_<column>``, ``no_isolation_<column>``).
    """
    base_cols = ["group", "leader_id", "size", "mean_fit", "min_fit"]
    if groups.empty:
        return pd.DataFrame(columns=base_cols)
    frame = groups.copy()
    present = [c for c in columns if c in proteges.frame.columns]
    for column in present:
        frame[f"__{column}"] = _member_values(groups, proteges, column)
    rows = []
    for number, members in frame.groupby("group", sort=True):
        row: dict[str, Any] = {
            "group": number,
            "leader_id": members["leader_id"].iloc[0],
            "size": len(members),
            "mean_fit": float(members["fit"].mean()),
            "min_fit": float(members["fit"].min()),
        }
        for column in present:
            values = members[f"__{column}"].dropna()
            counts = values.value_counts()
            row[f"distinct_{column}"] = len(counts)
            if column in options.min_distinct:
                row[f"min_distinct_{column}"] = bool(len(counts) >= options.min_distinct[column])
            if column in options.max_count:
                row[f"max_count_{column}"] = bool(
                    counts.max() <= options.max_count[column] if len(counts) else True
                )
            if column in options.no_isolation:
                row[f"no_isolation_{column}"] = bool((counts != 1).all())
        rows.append(row)
    return pd.DataFrame(rows)


def composition_audit(
    groups: pd.DataFrame, proteges: Roster, columns: Sequence[str]
) -> pd.DataFrame:
    """Compare group composition with the protégé population, value by value.

    Returns
    -------
    DataFrame
        ``column``, ``value``, ``population`` (count among all protégés),
        ``population_share``, ``placed`` (count among placed protégés),
        ``placed_share``, ``placement_rate`` (placed / population), and the
        lowest and highest share of the value across groups
        (``min_group_share``, ``max_group_share``). A low placement rate for
        one value is the first sign that a rule or the fit disadvantages a group.
    """
    out_cols = [
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
    records = []
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
        shares = (
            pd.crosstab(groups["group"], placed, normalize="index")
            if len(groups)
            else pd.DataFrame()
        )
        pop_counts = population.value_counts()
        placed_counts = placed.value_counts()
        for value, n in pop_counts.items():
            k = int(placed_counts.get(value, 0))
            in_groups = shares[value] if value in shares.columns else pd.Series([0.0])
            records.append(
                {
                    "column": column,
                    "value": value,
                    "population": int(n),
                    "population_share": float(n / len(population)),
                    "placed": k,
                    "placed_share": float(k / max(len(placed), 1)),
                    "placement_rate": float(k / n),
                    "min_group_share": float(np.min(in_groups)) if len(groups) else 0.0,
                    "max_group_share": float(np.max(in_groups)) if len(groups) else 0.0,
                }
            )
    return pd.DataFrame(records, columns=out_cols)


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
