"""Solvers: numpy arrays in, indices out (rows = mentors / leaders, columns = mentees / protégés).

Every solver takes ``time_limit`` and ``seed``, never modifies its inputs, and
returns a :class:`MatchingResult` or :class:`GroupingResult` with ``status``,
``objective`` (recomputed from the input), ``bound`` and ``wall_time``.
OR-Tools is imported only when a solver that needs it runs.
"""

from __future__ import annotations

from ._result import GroupingResult, MatchingResult
from .assignment import one_to_many, one_to_one
from .groups import learning_groups
from .mdgp import diverse_grouping
from .peers import peer_pairs
from .stable import blocking_pairs, stable_matching

__all__ = [
    "GroupingResult",
    "MatchingResult",
    "blocking_pairs",
    "diverse_grouping",
    "learning_groups",
    "one_to_many",
    "one_to_one",
    "peer_pairs",
    "stable_matching",
]
