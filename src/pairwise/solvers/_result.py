"""Result types shared by every solver: indices out, with status, objective, bound and time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["OPTIMAL_OVER", "GroupingResult", "MatchingResult", "OptimalOver", "Status"]

Status = Literal["optimal", "feasible", "infeasible"]
#: Over which pairs a matching's ``status`` holds: every allowed pair, or only
#: the ``k`` best candidates kept per mentee (a top-k solve that no LP
#: certificate extended to every pair).
OptimalOver = Literal["all pairs", "k best candidates per mentee"]
OPTIMAL_OVER: tuple[OptimalOver, ...] = ("all pairs", "k best candidates per mentee")


def _gap(objective: float, bound: float | None) -> float | None:
    if bound is None:
        return None
    denom = max(abs(bound), 1e-12)
    return max(0.0, (bound - objective) / denom)


@dataclass(frozen=True)
class MatchingResult:
    """Pairs chosen by :func:`one_to_one`, :func:`one_to_many` or :func:`peer_pairs`.

    Attributes
    ----------
    rows, cols : ndarray of int
        Indices of the matched pairs (mentor row, mentee column), sorted by
        ``cols`` (by ``rows`` for peers, where ``rows < cols``).
    objective : float
        Sum of the matched scores (weighted by mentee ``weights`` when given),
        recomputed from the input matrix.
    status : {"optimal", "feasible", "infeasible"}
    bound : float or None
        Upper bound on ``objective`` among solutions with the same number of
        matches (equal to ``objective`` when optimal), or None when unknown.
    wall_time : float
        Seconds spent in the solver.
    method : str
        Which algorithm produced the answer (e.g. ``"lsa"``, ``"min_cost_flow"``).
    seed : int
    options : dict
        The options the solver ran with (and solver-specific details).
    min_score : float or None
        Lowest matched (unweighted) score; None when nothing is matched.
    scale : float or None
        Integer units per unit of score when an integer solver was used
        (see :func:`pairwise.solvers._ortools.integer_scale`); None for the
        floating-point paths.
    tolerance : float
        How far ``objective`` may lie below the true optimum because scores
        were rounded onto the integer grid ``1 / scale``: 0.0 when the grid
        held every score exactly (or no integer solver was used). A result is
        ``"optimal"`` only with ``tolerance == 0``; otherwise it is
        ``"feasible"`` with ``bound = objective + tolerance``.
    stopped_by_time_limit : bool
        True when the wall clock (``time_limit`` or the run's budget) cut the
        search before its deterministic work budget was spent: the answer is
        the best found so far (``status="feasible"``) and may differ from the
        answer an unhurried run gives for the same seed.
    certified : bool or None
        After a solve on the ``k`` best candidates per mentee only: True when
        LP duals proved that no dropped pair could improve the result (the
        status then holds over all pairs), False when that was not proved.
        None when no pair was dropped (nothing to certify).
    optimal_over : {"all pairs", "k best candidates per mentee"}
        The pairs over which ``status`` (and ``bound``) hold.
    """

    rows: np.ndarray
    cols: np.ndarray
    objective: float
    status: Status
    bound: float | None
    wall_time: float
    method: str
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    min_score: float | None = None
    scale: float | None = None
    tolerance: float = 0.0
    stopped_by_time_limit: bool = False
    certified: bool | None = None
    optimal_over: OptimalOver = "all pairs"

    @property
    def n_matched(self) -> int:
        """Number of matched pairs."""
        return len(self.rows)

    @property
    def gap(self) -> float | None:
        """Relative gap ``(bound - objective) / |bound|``, or None when no bound is known."""
        return _gap(self.objective, self.bound)

    def to_frame(self) -> Any:
        """The pairs as a DataFrame with columns ``row`` and ``col``."""
        import pandas as pd

        return pd.DataFrame({"row": self.rows, "col": self.cols})


@dataclass(frozen=True)
class GroupingResult:
    """Groups chosen by :func:`learning_groups` or :func:`diverse_grouping`.

    Attributes
    ----------
    labels : ndarray of int
        Group (leader) index per element (protégé); -1 when unassigned.
    objective : float
        Recomputed objective (see the solver's docstring).
    status : {"optimal", "feasible", "infeasible"}
    bound : float or None
        Upper bound on ``objective`` when one is known.
    wall_time : float
    method : str
    seed : int
    options : dict
    reasons : dict
        Per-element (protégé index -> sentence) reasons for every unassigned
        element and per-group (``"leader:<index>"`` -> sentence) reasons for
        every group left closed.
    diagnosis : tuple of str
        Findings about the instance as a whole (which rules bind, what to
        relax), one sentence each; empty when there is nothing to report.
    scale : float or None
        Integer units per unit of objective used by CP-SAT, when it ran.
    stopped_by_time_limit : bool
        True when the wall clock cut the search before its deterministic work
        budget was spent (see :class:`MatchingResult`).
    """

    labels: np.ndarray
    objective: float
    status: Status
    bound: float | None
    wall_time: float
    method: str
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    diagnosis: tuple[str, ...] = ()
    scale: float | None = None
    stopped_by_time_limit: bool = False

    @property
    def n_assigned(self) -> int:
        """Number of elements with a group."""
        return int(np.count_nonzero(self.labels >= 0))

    @property
    def gap(self) -> float | None:
        """Relative gap ``(bound - objective) / |bound|``, or None when no bound is known."""
        return _gap(self.objective, self.bound)

    def to_frame(self) -> Any:
        """The labels as a DataFrame with columns ``element`` and ``group``."""
        import pandas as pd

        return pd.DataFrame({"element": np.arange(len(self.labels)), "group": self.labels})
