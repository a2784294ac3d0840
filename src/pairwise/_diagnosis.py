"""Measured diagnosis: what stands between people and a partner, and what a fix would gain.

Every figure here is a count of a maximum matching, never a guess: the number
of mentees a programme can match at most is the value of a maximum flow
(source → mentor with its capacity → allowed mentee → sink), and each fix is
measured by re-counting that flow with the fix applied:

* **capacity**: the places are too few. The smallest capacity that, given to
  every mentor with fewer places (a mentor with capacity 0 stays out), matches
  everyone the rules allow, found by bisection on the flow value;
* **rule**: a hard rule dropped, each rule's mask built once and the others
  ANDed to re-count;
* **rule_step**: a rule relaxed one step (:meth:`pairwise.rules.Rule.relaxed`:
  level gap 2 → 1, overlap 2 h → 1 h, the direct manager only, ...).

Only findings that gain someone a partner are kept, the largest gain first.
Above :data:`DENSE_PAIRS` pairs (or on a sparse top-k compatibility) the base
graph is the solver's own candidate graph and a relaxed rule adds only the
pairs of the unmatched mentees (at most :data:`PAIR_BUDGET` pairs evaluated):
the gain is then a measured lower bound, and the finding says so.

:func:`diagnose_groups` gives learning groups the same measured form: the
seats a maximum placement reaches (leaders' ``max_size`` as capacities, the
composition rules aside), the ``max_size`` or the number of leaders that seats
everyone, each leader–protégé rule dropped or relaxed, and the ``together``
checks (common hours, a shared language) relaxed, each re-counted.
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_bipartite_matching, maximum_flow

from ._terms import apply_terms
from .rules import (
    Accessible,
    MaxLevelGap,
    MinLevelGap,
    NoRepeat,
    NotManager,
    NotSelf,
    Rule,
    together,
)

if TYPE_CHECKING:
    from .compatibility import Compatibility, CompatibilityModel
    from .roster import Roster

__all__ = [
    "DENSE_PAIRS",
    "EXPAND_EDGES",
    "PAIR_BUDGET",
    "Finding",
    "GroupSizes",
    "diagnose_groups",
    "diagnose_pairs",
    "max_matching",
]

#: Above this many (mentor, mentee) pairs the relaxations are measured on the unmatched only.
DENSE_PAIRS = 4_000_000
#: Most pairs a relaxed rule is evaluated on in that budgeted form.
PAIR_BUDGET = 8_000_000
#: Up to this many edges (allowed pairs x capacity) a count repeats mentors (Hopcroft–Karp);
#: beyond, a maximum flow.
EXPAND_EDGES = 20_000_000

#: The programme key under [rules] of each rule name, for the fix.
_RULE_KEYS = {
    "min_level_gap": "min_level_gap",
    "max_level_gap": "max_level_gap",
    "level_within": "level_within",
    "not_manager": "not_manager",
    "opt_in": "opt_in",
    "accessible": "accessibility",
    "shared_language": "shared_language",
    "exclude": "exclude",
    "require": "require",
    "no_repeat": "history",
}


@dataclass(frozen=True)
class Finding:
    """One measured fact of a diagnosis, with the fix and what it gains.

    Attributes
    ----------
    kind : str
        ``"capacity"`` (too few places), ``"rule"`` (a rule dropped),
        ``"rule_step"`` (a rule relaxed one step), ``"together"`` (a group
        check relaxed), ``"seats"`` (group seats), ``"cut"`` (measurements
        skipped at the time limit) or ``"note"`` (a fact without a measured
        fix, e.g. a composition limit).
    message : str
        One full sentence with the measured fix; ``str(finding)``.
    affected : int
        How many people the fact concerns (e.g. the mentees left unmatched,
        or those the rule stands between and a possible partner).
    gain : int or None
        How many more people the fix matches (None for a note).
    rule : str or None
        The rule (or option) concerned.
    fix : str or None
        The change to make, in programme terms.
    matched : int or None
        How many are matched (placed) at most with the fix.
    exact : bool
        False when ``gain`` is a lower bound (measured on a budget).

    Examples
    --------
    >>> f = Finding("capacity", "capacity 2 for 3 mentees: 1 cannot be matched", 1, 1)
    >>> str(f)
    'capacity 2 for 3 mentees: 1 cannot be matched'
    """

    kind: str
    message: str
    affected: int
    gain: int | None = None
    rule: str | None = None
    fix: str | None = None
    matched: int | None = None
    exact: bool = True

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The finding in plain Python types (what ``to_json`` writes)."""
        return {
            "kind": self.kind,
            "message": self.message,
            "affected": int(self.affected),
            "gain": None if self.gain is None else int(self.gain),
            "rule": self.rule,
            "fix": self.fix,
            "matched": None if self.matched is None else int(self.matched),
            "exact": bool(self.exact),
        }


# ---------------------------------------------------------------------------
# Maximum matching with capacities
# ---------------------------------------------------------------------------


def _edges(allowed: np.ndarray | sp.spmatrix) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Row and column indices of the True (stored) entries of a mask, row by row."""
    if sp.issparse(allowed):
        csr = sp.csr_matrix(allowed)
        csr.sort_indices()
        counts = np.diff(csr.indptr)
        rows = np.repeat(np.arange(csr.shape[0], dtype=np.intp), counts)
        return rows, csr.indices.astype(np.intp), csr.shape
    mask = np.asarray(allowed, dtype=bool)
    r, c = np.nonzero(mask)
    return r, c, mask.shape


class _Network:
    """A mask's bipartite graph, built once; :meth:`value` re-counts for any capacities.

    Small total capacities use Hopcroft–Karp (scipy's
    ``maximum_bipartite_matching``) on the mask with each mentor's row
    repeated ``capacity`` times; larger ones a maximum flow (scipy's Dinic)
    on source → mentor (capacity) → mentee → sink, whose CSR arrays are laid
    out directly (only the source's edge weights change between counts).
    """

    def __init__(self, allowed: np.ndarray | sp.spmatrix) -> None:
        rows, cols, (m, n) = _edges(allowed)
        self.m, self.n, self.n_edges = m, n, len(rows)
        self.degree = np.bincount(rows, minlength=m)
        self.csr = sp.csr_matrix(
            (
                np.ones(len(rows), dtype=np.int8),
                cols,
                np.concatenate([[0], np.cumsum(self.degree)]),
            ),
            shape=(m, n),
        )
        self._graph: sp.csr_matrix | None = None  # the flow network, built on first use

    def value(self, capacity: Sequence[int] | np.ndarray) -> int:
        """The most mentees matched with mentor ``i`` taking at most ``capacity[i]``."""
        if self.n_edges == 0:
            return 0
        cap = np.clip(np.asarray(capacity, dtype=np.int64), 0, self.n)
        if int(np.dot(cap, self.degree)) <= EXPAND_EDGES:
            copies = self.csr[np.repeat(np.arange(self.m), cap)]
            if copies.shape[0] == 0:
                return 0
            match = maximum_bipartite_matching(copies, perm_type="column")
            return int(np.count_nonzero(match >= 0))
        return self._flow(cap)

    def _flow(self, cap: np.ndarray) -> int:
        if self._graph is None:
            # Laid out once: only the source's edge weights (the capacities, last) change.
            m, n = self.m, self.n
            size = m + n + 2
            indptr = np.concatenate(
                [self.csr.indptr, self.n_edges + np.arange(1, n + 1), [self.n_edges + n + m] * 2]
            ).astype(np.int32)
            indices = np.concatenate(
                [m + self.csr.indices, np.full(n, m + n + 1), np.arange(m)]
            ).astype(np.int32)
            data = np.ones(self.n_edges + n + m, dtype=np.int32)
            self._graph = sp.csr_matrix((data, indices, indptr), shape=(size, size))
        graph = self._graph
        graph.data[self.n_edges + self.n :] = cap
        size = graph.shape[0]
        return int(maximum_flow(graph, size - 2, size - 1, method="dinic").flow_value)


def max_matching(allowed: np.ndarray | sp.spmatrix, capacity: Sequence[int] | np.ndarray) -> int:
    """Most mentees matched when mentor ``i`` takes at most ``capacity[i]`` allowed mentees.

    A maximum bipartite matching with each mentor repeated ``capacity``
    times (Hopcroft–Karp), or for large capacities the value of a maximum
    flow (Dinic) on source → mentor (``capacity``) → mentee (an allowed
    pair, 1) → sink (1); both from ``scipy.sparse.csgraph``.

    Parameters
    ----------
    allowed : numpy.ndarray or scipy.sparse matrix
        bool (mentors, mentees): True, or a stored entry, for an allowed pair.
    capacity : array_like of int
        Places per mentor (>= 0).

    Returns
    -------
    int

    Examples
    --------
    >>> import numpy as np
    >>> max_matching(np.array([[True, True, True], [False, False, True]]), [1, 1])
    2
    >>> max_matching(np.array([[True, True, True], [False, False, True]]), [2, 1])
    3
    """
    return _Network(allowed).value(capacity)


def _reachable(allowed: np.ndarray | sp.spmatrix, cap: np.ndarray) -> int:
    """Mentees with an allowed mentor who has places: all matched when places are unlimited."""
    rows, cols, (_, n) = _edges(allowed)
    keep = cap[rows] > 0
    return int(np.count_nonzero(np.bincount(cols[keep], minlength=n)))


def _smallest_uniform(
    allowed: np.ndarray | sp.spmatrix, cap: np.ndarray, target: int, base: int | None = None
) -> tuple[int, int]:
    """The smallest ``c`` with ``max_matching(allowed, max(cap, c)) == target`` (open mentors).

    Doubling then bisection on the flow value (monotone in ``c``). Returns
    ``c`` and the flow value with one more place for each open mentor.
    ``base`` (the value at ``cap`` itself, when the caller has it) answers
    every ``c`` up to the smallest open capacity without a count, and each
    count is made once (with equal open capacities, one more place each is
    one of the counts of the search).
    """
    network = _Network(allowed)
    open_ = cap > 0
    floor = int(cap[open_].min()) if open_.any() else 0
    counted: dict[int, int] = {}

    def value(c: int) -> int:
        if base is not None and c <= floor:
            return base
        if c not in counted:
            counted[c] = network.value(np.where(open_, np.maximum(cap, c), 0))
        return counted[c]

    hi = 1
    while value(hi) < target:
        hi *= 2
    lo = hi // 2 + 1 if hi > 1 else 1
    while lo < hi:
        mid = (lo + hi) // 2
        if value(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    if open_.any() and floor == int(cap[open_].max()):
        plus_one = value(floor + 1)  # equal open capacities: cap + 1 is a uniform capacity
    else:
        plus_one = network.value(np.where(open_, cap + 1, 0))
    return lo, plus_one


class _Budget:
    """The time a diagnosis may take: measurements past ``deadline`` are skipped and counted.

    A measurement is not started when the longest one so far (the longest time
    between two starts) would not fit before the deadline: at scale one
    re-count takes seconds, and the files still have to be written after the
    diagnosis.
    """

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.skipped = 0
        self._last: float | None = None
        self._step = 0.0

    def spent(self) -> bool:
        """True (a measurement skipped) once the next one would end past the deadline."""
        now = time.perf_counter()
        if self._last is not None:
            # the longest stretch between two starts so far: checks can come back to
            # back (then the last stretch says nothing of the next re-count's length)
            self._step = max(self._step, now - self._last)
        if self.deadline is not None and now + self._step >= self.deadline:
            self.skipped += 1
            return True
        self._last = now
        return False

    def findings(self) -> list[Finding]:
        """A ``"cut"`` finding when measurements were skipped."""
        if not self.skipped:
            return []
        return [
            Finding(
                "cut",
                "diagnosis cut at the time limit: some fixes were not measured; raise "
                "`time_limit` under [program] (or --time-limit) to measure them",
                affected=0,
            )
        ]


# ---------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Words:
    """How a diagnosis names its people and its capacity (pairs or groups)."""

    rows: str = "mentor"
    cols: str = "mentee"
    matched: str = "matched"
    capacity: str = "capacity"
    table: str = "rules"

    def many(self, n: int, word: str) -> str:
        return f"{n} {word if n == 1 else _plural(word)}"


def _plural(word: str) -> str:
    return word if word.endswith("s") else f"{word}s"


def _rule_key(rule: Rule) -> str:
    return _RULE_KEYS.get(rule.name, rule.name)


def _setting(rule: Rule, table: str) -> str:
    """The programme line that makes ``rule`` (a relaxed rule) the programme's rule."""
    key = _rule_key(rule)
    if isinstance(rule, MinLevelGap | MaxLevelGap):
        value = f"{rule.gap:g}"
    elif isinstance(rule, NotManager):
        value = '"direct"'
    elif isinstance(rule, Accessible):
        same = "true" if rule.same_site else "false"
        value = f"{{ min_overlap_hours = {rule.min_overlap_hours:g}, same_site = {same} }}"
    elif isinstance(rule, NoRepeat):
        return f"set `only_failed = true` under [{table}]"
    else:
        value = f"{getattr(rule, 'within', '')}"
    return f"set `{key} = {value}` under [{table}]"


def _drop_fix(rule: Rule, table: str) -> str:
    key = _rule_key(rule)
    if key in ("exclude", "require", "history"):
        return f"remove `{key}` from [{table}]"
    return f"set `{key} = false` under [{table}]"


# ---------------------------------------------------------------------------
# Pairs
# ---------------------------------------------------------------------------


@dataclass
class _Graph:
    """The base graph and where relaxed rules may add pairs."""

    base: np.ndarray | sp.spmatrix  # allowed (dense) or candidates (sparse / budgeted)
    cols: np.ndarray | None  # None: whole matrix; else the columns a relaxation may open
    note: str  # "" when exact, else what the figure covers


def _graph(compat: Compatibility, matched: np.ndarray, words: _Words) -> _Graph:
    """The dense mask when affordable, else the candidates plus the unmatched columns."""
    m, n = compat.shape
    if not compat.is_sparse and m * n <= DENSE_PAIRS:
        return _Graph(np.asarray(compat.allowed, dtype=bool), None, "")
    base = compat._csr if compat.is_sparse else np.asarray(compat.allowed, dtype=bool)
    unmatched = np.flatnonzero(~matched)
    limit = max(PAIR_BUDGET // max(m, 1), 1)
    cols = unmatched[:limit]
    sample = (
        f" (a sample of {len(cols)} of the {len(unmatched)} unmatched {_plural(words.cols)})"
        if len(cols) < len(unmatched)
        else ""
    )
    note = f"measured with the rule relaxed for the unmatched {_plural(words.cols)} only{sample}"
    return _Graph(base, cols, note)


def _with_columns(base: np.ndarray | sp.spmatrix, cols: np.ndarray, block: np.ndarray) -> Any:
    """The pairs of ``base`` (its stored entries, explicit zeros included) plus ``block``.

    ``block`` covers all rows x ``cols``; the result is a 0/1 CSR matrix.
    """
    rows, cs, shape = _edges(base)
    r, c = np.nonzero(block)
    both_r = np.concatenate([rows, r])
    both_c = np.concatenate([cs, cols[c]])
    union = sp.csr_matrix((np.ones(len(both_r), dtype=np.int8), (both_r, both_c)), shape=shape)
    union.sum_duplicates()
    union.data[:] = 1
    return union


def diagnose_pairs(
    model: CompatibilityModel | None,
    compat: Compatibility,
    mentors: Roster,
    mentees: Roster,
    capacity: Sequence[int] | np.ndarray,
    matched_cols: Sequence[int] | np.ndarray,
    *,
    deadline: float | None = None,
    words: _Words | None = None,
) -> tuple[Finding, ...]:
    """Measured findings for a pairs run: capacity shortfall and each hard rule's cost.

    Parameters
    ----------
    model : CompatibilityModel or None
        The model ``compat`` was scored with (its rules are ``compat``'s).
    compat : Compatibility
        From ``model.score(mentors, mentees)`` (dense or sparse top-k).
    mentors, mentees : Roster
    capacity : array_like of int
        Places per mentor.
    matched_cols : array_like of int
        Positions of the mentees the run matched.
    deadline : float, optional
        A :func:`time.perf_counter` time: measurements not started by then
        are skipped, and a ``"cut"`` finding says how many.

    Returns
    -------
    tuple of Finding
        Only findings with a gain, the largest first; empty when every mentee
        is matched or nothing measured would help.

    Examples
    --------
    >>> import pandas as pd
    >>> from pairwise.compatibility import CompatibilityModel
    >>> from pairwise.roster import load_roster
    >>> from pairwise.rules import MinLevelGap
    >>> m = load_roster(pd.DataFrame({"id": ["a"], "level": [4]}), role="mentor")
    >>> e = load_roster(pd.DataFrame({"id": ["x", "y"], "level": [2, 1]}), role="mentee")
    >>> model = CompatibilityModel([], [MinLevelGap(2)])
    >>> for f in diagnose_pairs(model, model.score(m, e), m, e, [1], [0]):
    ...     print(f)
    capacity 1 for 2 mentees: 1 cannot be matched; raising every capacity to 2 matches 2
    """
    words = words or _Words()
    cap = np.asarray(capacity, dtype=np.int64)
    n = compat.shape[1]
    matched = np.zeros(n, dtype=bool)
    matched[np.asarray(matched_cols, dtype=np.intp)] = True
    if matched.all() or n == 0:
        return ()
    budget = _Budget(deadline)
    if budget.spent():
        return tuple(budget.findings())
    graph = _graph(compat, matched, words)
    base = max_matching(graph.base, cap)
    findings = [] if budget.spent() else _capacity_findings(graph, cap, base, n, words, compat)
    if base < int(np.maximum(cap, 0).sum()):
        # with every place taken no rule relaxation can match anyone more: skip the re-counts
        findings += _rule_findings(
            compat, mentors, mentees, graph, cap, base, matched, words, budget=budget
        )
    findings = [f for f in findings if f.gain]
    findings.sort(key=lambda f: -(f.gain or 0))
    return tuple(findings + budget.findings())


def _capacity_findings(
    graph: _Graph, cap: np.ndarray, base: int, n: int, words: _Words, compat: Compatibility
) -> list[Finding]:
    """Too few places: the uniform capacity that matches everyone the rules allow."""
    open_ = cap > 0
    most = _reachable(graph.base, cap)
    if most <= base:
        return []
    c, plus_one = _smallest_uniform(graph.base, cap, most, base)
    where = (
        f" (among the {compat.top_k} best-fitting {_plural(words.rows)} kept per {words.cols})"
        if compat.is_sparse
        else ""
    )
    verb = "matches" if words.matched == "matched" else "places"
    text = (
        f"{words.capacity} {int(cap.sum())} for {words.many(n, words.cols)}: "
        f"{n - base} cannot be {words.matched}; raising every {words.capacity} to {c} "
        f"{verb} {most}{where}"
    )
    if c > int(cap[open_].max(initial=0)) + 1 and plus_one > base:
        text += f"; one more place per {words.rows} {verb} {plus_one}"
    return [
        Finding(
            "capacity",
            text,
            affected=n - base,
            gain=most - base,
            rule=words.capacity,
            fix=f"raise every {words.capacity} to {c}",
            matched=most,
        )
    ]


def _rule_masks(compat: Compatibility, cols: np.ndarray | None) -> list[tuple[Rule, np.ndarray]]:
    """Each active rule with its mask (over all columns, or ``cols``), built once."""
    ctx = compat._ctx()
    return [
        (rule, apply_terms(mterms, compat.shape, None, cols))
        for rule, mterms in ctx.rules
        if not isinstance(rule, NotSelf)
    ]


def _relaxed_mask(
    rule: Rule, compat: Compatibility, mentors: Roster, mentees: Roster, cols: np.ndarray | None
) -> tuple[Rule, np.ndarray] | None:
    step = rule.relaxed()
    if step is None:
        return None
    ctx = compat._ctx()
    at: _dt.date | None = step._at(ctx.at, ctx.cache)
    terms = step.terms(mentors, mentees, ctx.cache, at)
    return step, apply_terms(terms, compat.shape, None, cols)


def _rule_findings(
    compat: Compatibility,
    mentors: Roster,
    mentees: Roster,
    graph: _Graph,
    cap: np.ndarray,
    base: int,
    matched: np.ndarray,
    words: _Words,
    keep: np.ndarray | None = None,
    budget: _Budget | None = None,
) -> list[Finding]:
    """Each rule dropped, and relaxed one step, re-counted with a maximum matching.

    ``keep`` (bool per column) limits every graph to the columns that may be
    matched at all (groups: the protégés who can meet enough others).
    """
    budget = budget or _Budget(None)
    if budget.spent():
        return []
    masks = _rule_masks(compat, graph.cols)
    if not masks:
        return []
    violations = np.zeros(masks[0][1].shape, dtype=np.uint8)
    for _, mask in masks:
        violations += ~mask
    cols_now = np.arange(compat.shape[1]) if graph.cols is None else graph.cols
    if keep is not None:
        violations[:, ~keep[cols_now]] = len(masks) + 1  # never allowed, whatever is relaxed
    allowed_now = violations == 0
    stuck = ~matched[cols_now]
    n = compat.shape[1]
    if graph.cols is not None:
        # the candidates plus every pair now allowed in the measured columns: a fix
        # is credited only with the pairs the relaxed rule opens
        graph = _Graph(_with_columns(graph.base, graph.cols, allowed_now), graph.cols, graph.note)
        base = max_matching(graph.base, cap)
    no_partner = None
    if graph.cols is None:
        lonely = ~allowed_now.any(axis=0)
        no_partner = int(np.count_nonzero(lonely if keep is None else lonely & keep))
    unmatched = int(n - matched.sum())
    lead = (
        f"{words.many(no_partner, words.cols)} {'has' if no_partner == 1 else 'have'} "
        f"no allowed {words.rows}"
        if no_partner
        else f"{words.many(unmatched, words.cols)} cannot be {words.matched}"
    )
    out: list[Finding] = []
    for rule, mask in masks:
        others = violations == (~mask).astype(np.uint8)
        variants: list[tuple[str, Rule | None, np.ndarray]] = [("rule", None, others)]
        step = _relaxed_mask(rule, compat, mentors, mentees, graph.cols)
        if step is not None:
            variants.append(("rule_step", step[0], others & step[1]))
        for kind, relaxed, block in variants:
            opened = block & ~allowed_now
            affected = int(np.count_nonzero(opened[:, stuck].any(axis=0)))
            if affected == 0 or budget.spent():
                continue
            value = (
                max_matching(block, cap)
                if graph.cols is None
                else max_matching(_with_columns(graph.base, graph.cols, block), cap)
            )
            out.append(
                _rule_finding(kind, rule, relaxed, value, base, affected, lead, graph, words, n)
            )
    return out


def _rule_finding(
    kind: str,
    rule: Rule,
    relaxed: Rule | None,
    value: int,
    base: int,
    affected: int,
    lead: str,
    graph: _Graph,
    words: _Words,
    n: int,
) -> Finding:
    gain = value - base
    verb = "would match" if words.matched == "matched" else "would seat"
    more = f"{'at least ' if graph.note else ''}{gain} more ({value} of {n})"
    if relaxed is None:
        change = f"dropping `{rule.name}` ({rule.label()})"
        fix = _drop_fix(rule, words.table)
    else:
        change = f"relaxing `{rule.name}` from {rule.label()} to {relaxed.label()}"
        fix = _setting(relaxed, words.table)
    text = f"{lead}; {change} {verb} {more}: {fix}"
    if graph.note:
        text += f" ({graph.note})"
    return Finding(
        kind,
        text,
        affected=affected,
        gain=gain,
        rule=rule.name,
        fix=fix,
        matched=value,
        exact=not graph.note,
    )


# ---------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------


class GroupSizes(Protocol):
    """What :func:`diagnose_groups` reads of the group options."""

    @property
    def min_size(self) -> int: ...

    @property
    def max_size(self) -> int: ...

    @property
    def common_hours(self) -> float | None: ...

    @property
    def shared_language(self) -> bool: ...


def _together_variants(
    proteges: Roster, options: GroupSizes, at: _dt.date | None
) -> list[tuple[str, str, np.ndarray | None]]:
    """The ``together`` mask with one check relaxed, each with the option and its fix."""
    hours, language = options.common_hours, bool(options.shared_language)
    out: list[tuple[str, str, np.ndarray | None]] = []
    if hours:
        if hours > 1:
            fewer = float(hours) - 1.0
            mask = together(proteges, common_hours=fewer, shared_language=language, at=at)
            out.append(
                ("common_hours", f"setting `common_hours = {fewer:g}` under [groups]", mask)
            )
        mask = together(proteges, common_hours=None, shared_language=language, at=at)
        out.append(("common_hours", "setting `common_hours = false` under [groups]", mask))
    if language:
        mask = together(proteges, common_hours=hours, shared_language=False, at=at)
        out.append(
            (
                "shared_language",
                "not asking members to share a language (`shared_language = false` under "
                "[groups])",
                mask,
            )
        )
    return out


def diagnose_groups(
    compat: Compatibility,
    leaders: Roster,
    proteges: Roster,
    *,
    options: GroupSizes,
    placed: Sequence[int] | np.ndarray,
    together_mask: np.ndarray | None,
    at: _dt.date | None = None,
    notes: Sequence[str] = (),
    deadline: float | None = None,
) -> tuple[Finding, ...]:
    """Measured findings for learning groups, then the solver's notes unchanged.

    The seats are a maximum placement: each leader takes at most
    ``max_size`` allowed protégés, the composition rules and ``min_size``
    aside (they can only place fewer: the figures are upper bounds, each
    re-counted exactly), and a protégé who can meet fewer than
    ``min_size - 1`` others (``together``) is not placeable.

    Parameters
    ----------
    compat : Compatibility
        Leader × protégé (dense), from the group model.
    leaders, proteges : Roster
    options : GroupOptions
        ``min_size``, ``max_size``, ``common_hours`` and ``shared_language``.
    placed : array_like of int
        Positions of the protégés the run placed.
    together_mask : numpy.ndarray or None
        Protégé × protégé mask of who may share a group (:func:`pairwise.rules.together`).
    at : datetime.date, optional
        Day for time-zone offsets, as for ``together``.
    notes : sequence of str
        The solver's diagnosis notes, kept as ``"note"`` findings.
    deadline : float, optional
        As for :func:`diagnose_pairs`.

    Returns
    -------
    tuple of Finding
        Measured findings (largest gain first), then the notes.
    """
    words = _Words("leader", "protégé", "placed", "max_size", "groups")
    n = compat.shape[1]
    done = np.zeros(n, dtype=bool)
    done[np.asarray(placed, dtype=np.intp)] = True
    min_size, max_size = int(options.min_size), int(options.max_size)
    cap = np.full(compat.shape[0], max_size, dtype=np.int64)
    allowed = np.asarray(compat.allowed, dtype=bool)
    found: list[Finding] = []
    budget = _Budget(deadline)
    if not done.all() and n and len(cap) and not budget.spent():
        meet = _placeable(together_mask, min_size, n)
        base = max_matching(allowed[:, meet], cap)
        if not budget.spent():
            found += _seat_findings(allowed[:, meet], cap, base, words, n)
        graph = _Graph(allowed & meet[None, :], None, "")
        found += _rule_findings(
            compat, leaders, proteges, graph, cap, base, done, words, keep=meet, budget=budget
        )
        variants = [] if budget.spent() else _together_variants(proteges, options, at)
        for name, fix, mask in variants:
            if budget.spent():
                continue
            relaxed = _placeable(mask, min_size, n)
            value = max_matching(allowed[:, relaxed], cap)
            if value > base:
                freed = int(np.count_nonzero(relaxed & ~meet))
                found.append(
                    Finding(
                        "together",
                        f"{freed} protégé(s) can meet too few others to join a group "
                        f"(`together`); {fix} would seat {value - base} more "
                        f"({value} of {n} at most)",
                        affected=freed,
                        gain=value - base,
                        rule=name,
                        fix=fix,
                        matched=value,
                    )
                )
    found = [f for f in found if f.gain]
    found.sort(key=lambda f: -(f.gain or 0))
    found += budget.findings()
    return tuple(found) + tuple(Finding("note", str(t), affected=0) for t in notes)


def _placeable(together: np.ndarray | None, min_size: int, n: int) -> np.ndarray:
    """Protégés who can meet at least ``min_size - 1`` others (all when no check applies)."""
    if together is None:
        return np.ones(n, dtype=bool)
    degree = np.asarray(together, dtype=bool).sum(axis=1) - 1
    return np.asarray(degree >= int(min_size) - 1)


def _seat_findings(
    allowed: np.ndarray, cap: np.ndarray, base: int, words: _Words, n: int
) -> list[Finding]:
    """Too few seats: the max_size, or the number of leaders, that seats everyone placeable."""
    L = len(cap)
    most = _reachable(allowed, cap)
    if most <= base or L == 0:
        return []
    size, _ = _smallest_uniform(allowed, cap, most)
    seats = int(cap.sum())
    extra = math.ceil(max(most - seats, 0) / int(cap[0])) if cap[0] > 0 else 0
    leaders = f" (or about {extra} more leaders who may take any of them)" if extra else ""
    text = (
        f"{L} leaders × max_size {int(cap[0])} = {seats} seats for {n} protégés: at most "
        f"{base} can be placed; raising max_size to {size} seats {most}{leaders}"
    )
    return [
        Finding(
            "seats",
            text,
            affected=n - base,
            gain=most - base,
            rule="max_size",
            fix=f"set `max_size = {size}` under [groups]",
            matched=most,
        )
    ]
