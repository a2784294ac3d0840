"""Demo results and stand-ins for the report tests (audit, diagnosis, changes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pairwise._audit import AUDIT_COLUMNS
from pairwise.config import load_program
from pairwise.datasets import demo_rosters
from pairwise.roster import load_roster


def demo_results(time_limit: float = 2.0) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """The three demo results (pairs, groups, peers) and the demo rosters."""
    frames = demo_rosters()
    program = load_program(None).replace(time_limit=time_limit)

    def roster(name: str, role: str) -> Any:
        return load_roster(frames[name], role=role)

    results = {
        "pairs": program.pairs(roster("mentors", "mentor"), roster("mentees", "mentee")),
        "groups": program.groups(roster("leaders", "leader"), roster("proteges", "protege")),
        "peers": program.peers(roster("people", "person")),
    }
    return results, frames


def segment_audit(pairs: pd.DataFrame, mentees: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """An independent audit of mentees by segment, small cells (< 5) suppressed."""
    score = pairs.set_index("mentee_id")["score"]
    rows = []
    for column in columns:
        for value, part in mentees.groupby(column, sort=True):
            scores = score.reindex(part["id"].astype(str)).dropna()
            small = len(part) < 5
            rows.append(
                {
                    "column": column,
                    "value": "(fewer than 5 people)" if small else str(value),
                    "n": len(part),
                    "matched": np.nan if small else len(scores),
                    "matched_share": np.nan if small else len(scores) / len(part),
                    "mean_score": np.nan if small or scores.empty else scores.mean(),
                    "lowest_score": np.nan if small or scores.empty else scores.min(),
                    "suppressed": small,
                }
            )
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


@dataclass(frozen=True)
class Finding:
    """A finding as the diagnosis gives them (message, kind, affected, gain)."""

    message: str
    kind: str = "capacity"
    affected: int = 0
    gain: int | None = None

    def __str__(self) -> str:
        return self.message


class Reviewed:
    """A result seen with extra attributes (``audit``, ``diagnosis``, ``changes``) added.

    The report reads results by their attributes; this stands in for a result
    that has them, whatever the result class itself has.
    """

    def __init__(self, result: Any, *, audit: pd.DataFrame | None = None, **extra: Any) -> None:
        self._result = result
        self._extra = dict(extra)
        if audit is not None:
            self._extra["audit"] = lambda by=None: audit

    def __getattr__(self, name: str) -> Any:
        if name in self._extra:
            return self._extra[name]
        return getattr(self._result, name)


def with_audit(result: Any, mentees: pd.DataFrame) -> tuple[Any, pd.DataFrame]:
    """``result`` with an ``audit()`` method (its own when it has one) and that audit."""
    if callable(getattr(result, "audit", None)):
        return result, result.audit()
    frame = segment_audit(result.pairs, mentees, ["gender", "ethnicity", "level"])
    return Reviewed(result, audit=frame), frame
