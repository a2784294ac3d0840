"""pairwise: developmental relationships in organisations.

Turn participant tables into compatibility matrices and solve mentor–mentee
pairings (one-to-one or by mentor capacity), peer learning partners and
learning groups of five to seven protégés per leader, under accessibility and
diversity rules.

>>> import pairwise as pw
>>> program = pw.load_program()                     # the built-in default programme
>>> frames = pw.datasets.demo_rosters()
>>> result = program.pairs(frames["mentors"], frames["mentees"])
>>> result.status
'optimal'

Importing pairwise has no side effects and does not import OR-Tools.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import checks, criteria, datasets, rules, solvers
from ._compare import Comparison, compare
from ._suggest import SuggestionsResult
from .compatibility import Compatibility, CompatibilityModel
from .config import default_model, default_peer_model, default_program, load_program
from .errors import InfeasibleError, InputError, PairwiseError, SolverError
from .program import GroupOptions, Program
from .results import GroupsResult, PairsResult, PeersResult
from .roster import Roster, load_roster

try:
    __version__ = version("pairwise")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "Comparison",
    "Compatibility",
    "CompatibilityModel",
    "GroupOptions",
    "GroupsResult",
    "InfeasibleError",
    "InputError",
    "PairsResult",
    "PairwiseError",
    "PeersResult",
    "Program",
    "Roster",
    "SolverError",
    "SuggestionsResult",
    "__version__",
    "checks",
    "compare",
    "criteria",
    "datasets",
    "default_model",
    "default_peer_model",
    "default_program",
    "load_program",
    "load_roster",
    "rules",
    "solvers",
]
