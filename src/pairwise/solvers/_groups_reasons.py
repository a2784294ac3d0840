"""Learning groups: pre-checks before the search and the reason every protégé or leader waits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..diversity import CompositionRules, Diagnosis, diagnose, group_counts
from ..errors import InfeasibleError
from ._groups_problem import _Problem


@dataclass
class _PreCheck:
    """What the pre-checks found when no check was fatal."""

    diag: Diagnosis
    excluded: dict[int, str]  # protégé -> why no group can take them
    notes: list[str]  # diagnosis notes, each naming a fix
    viable: np.ndarray  # (L,) bool: leaders with at least min_size candidates


def _precheck(prob: _Problem) -> _PreCheck:
    """Cheap feasibility checks; takes excluded protégés out of ``prob.cand``.

    Raises
    ------
    InfeasibleError
        When no group at all can be formed (no protégés, no leaders, a rule no
        group can meet, no leader with ``min_size`` candidates).
    """
    L, P = prob.fit.shape
    eligible = np.asarray(prob.allowed.any(axis=0))
    diag = diagnose(prob.rules, eligible=eligible, min_size=prob.min_size, max_size=prob.max_size)
    excluded = _excluded(prob, diag, eligible)
    for p in excluded:
        prob.cand[:, p] = False
    notes = list(diag.notes) + _capacity_notes(prob, eligible)
    fatal = list(diag.fatal)
    if P == 0 or L == 0:
        fatal.append(
            "there are no protégés to group" if P == 0 else "there are no leaders to lead groups"
        )
    viable = prob.cand.sum(axis=1) >= prob.min_size
    if not fatal and not viable.any():
        fatal.append(
            f"no leader has at least min_size ({int(prob.min_size.min())}) allowed protégés; "
            "lower min_size or allow more pairs"
        )
    if fatal:
        raise InfeasibleError("no learning group can be formed: " + fatal[0], fatal + notes)
    return _PreCheck(diag=diag, excluded=excluded, notes=notes, viable=viable)


def _excluded(prob: _Problem, diag: Diagnosis, eligible: np.ndarray) -> dict[int, str]:
    """Protégés no group can take, with why: the diagnosis's, then too few meeting partners."""
    excluded: dict[int, str] = dict(diag.excluded)
    if prob.conflict is not None:
        # a protégé who can meet fewer than min_size - 1 others can join no group
        degree = (~prob.conflict).sum(axis=1) - 1
        need = int(prob.min_size.min()) - 1 if prob.n_leaders else 0
        for p in np.flatnonzero(eligible & (degree < need)):
            excluded.setdefault(
                int(p),
                f"can meet only {int(degree[p])} other protégé(s) (`together`), but a group "
                f"needs {need + 1}; widen their working hours or lower min_size",
            )
    return excluded


def _capacity_notes(prob: _Problem, eligible: np.ndarray) -> list[str]:
    """Notes on too few places overall and on leaders with too few allowed protégés."""
    L = prob.n_leaders
    notes: list[str] = []
    cap_all = int(prob.max_size.sum())
    n_eligible = int(eligible.sum())
    if n_eligible > cap_all:
        uniform = len(set(prob.max_size.tolist())) == 1
        places = (
            f"{L} leaders × max {int(prob.max_size[0])} = {cap_all} places"
            if uniform
            else f"{L} leaders have {cap_all} places"
        )
        notes.append(f"{n_eligible} protégés but {places}: {n_eligible - cap_all} will wait")
    short = np.flatnonzero(prob.allowed.sum(axis=1) < prob.min_size)
    for g in short[:5]:
        notes.append(
            f"leader {g} has only {int(prob.allowed[g].sum())} allowed protégés, fewer than "
            f"min_size {int(prob.min_size[g])}"
        )
    if len(short) > 5:
        notes.append(f"... and {len(short) - 5} more leaders with too few allowed protégés")
    return notes


def _reasons(
    prob: _Problem,
    labels: np.ndarray,
    diag: Diagnosis,
    excluded: Mapping[int, str],
    weights_given: bool,
) -> dict[str, str]:
    """A plain sentence for every unassigned protégé and every leader without a group."""
    L = prob.n_leaders
    sizes = np.bincount(labels[labels >= 0], minlength=L)
    reasons: dict[str, str] = {}
    ctx = _RuleContext.of(prob, labels) if np.any(labels < 0) else None
    for p in np.flatnonzero(labels < 0):
        assert ctx is not None
        reasons[str(int(p))] = _protege_reason(
            prob, labels, int(p), sizes, ctx, excluded, weights_given
        )
    for g in np.flatnonzero(sizes == 0):
        reasons[f"leader:{int(g)}"] = _leader_reason(prob, labels, int(g), sizes, diag)
    return reasons


def _protege_reason(
    prob: _Problem,
    labels: np.ndarray,
    p: int,
    sizes: np.ndarray,
    ctx: _RuleContext,
    excluded: Mapping[int, str],
    weights_given: bool,
) -> str:
    """Why the unassigned protégé ``p`` waits."""
    if p in excluded:
        return excluded[p]
    allowed_g = np.flatnonzero(prob.allowed[:, p])
    if len(allowed_g) == 0:
        return "no allowed leader (accessibility/level rules)"
    open_ = sizes > 0
    og = allowed_g[open_[allowed_g]]
    if len(og) == 0:
        return (
            f"none of their {len(allowed_g)} allowed leader(s) has a group "
            "(see those leaders' reasons)"
        )
    room = og[sizes[og] < prob.max_size[og]]
    if len(room) == 0:
        text = _full_reason(prob, open_, og, len(allowed_g))
        if weights_given and np.any(prob.w_int[labels >= 0] > prob.w_int[p]):
            text += "; protégés with a higher priority weight were placed first"
        return text
    return _rule_reason(prob, labels, p, room, ctx)


def _full_reason(prob: _Problem, open_: np.ndarray, og: np.ndarray, n_allowed: int) -> str:
    """Every group a protégé may join is full (``og``: their allowed leaders with a group)."""
    L = prob.n_leaders
    if open_.all() and len(set(prob.max_size.tolist())) == 1:
        eligible = int(prob.allowed.any(axis=0).sum())
        return (
            f"all groups full: {int(prob.max_size[0])} × {L} leaders = "
            f"{int(prob.max_size.sum())} places for {eligible} protégés"
        )
    if open_.all():
        return (
            f"all groups full: {int(prob.max_size.sum())} places in {L} groups "
            f"for {int(prob.allowed.any(axis=0).sum())} protégés"
        )
    return (
        f"every group they may join is full: {len(og)} of their {n_allowed} "
        f"allowed leader(s) have a group, {int(prob.max_size[og].sum())} places, all "
        "taken, and no further group can be opened within the rules"
    )


@dataclass
class _RuleContext:
    """What every unassigned protégé's rule reason reads, computed once per grouping.

    ``counts[c]`` is the count of each known value of rule column ``c`` per
    group (``group_counts``); the composition penalty change of adding one
    protégé to a group follows from them, so no reason re-counts the
    whole grouping.
    """

    counts: list[np.ndarray]
    rules_empty: bool

    @classmethod
    def of(cls, prob: _Problem, labels: np.ndarray) -> _RuleContext:
        rules = prob.rules
        L = prob.n_leaders
        counts = [
            group_counts(labels, rules.codes[c], L, rules.n_values(c))
            for c in range(rules.n_columns)
        ]
        return cls(counts=counts, rules_empty=rules.is_empty)


#: Kinds of rule a placement can break, per column, in the order they are named.
_MAX_COUNT, _ISOLATION = 0, 1


def _rule_reason(
    prob: _Problem,
    labels: np.ndarray,
    p: int,
    room: np.ndarray,
    ctx: _RuleContext,
) -> str:
    """Why ``p`` joins none of the groups with room (``room``): the rule most often broken.

    A group counts as blocked by ``together`` when one of its members may not
    meet ``p``; otherwise by the first rule (column by column, ``max_count``
    before ``no_isolation``) that adding ``p`` breaks, when it raises the
    group's composition penalty (:func:`pairwise.diversity.group_penalties`).
    If some group with room would take ``p`` without a broken rule, the search
    simply ended first.
    """
    rules = prob.rules
    clash = np.zeros(len(room), dtype=bool)
    if prob.conflict is not None:
        met = labels[np.flatnonzero(prob.conflict[p])]
        clash = np.isin(room, met[met >= 0])
    # kind per room group: -2 together, -1 nothing broken, else 2 * column + kind
    kind = np.where(clash, -2, -1)
    if not ctx.rules_empty:
        delta = np.zeros(len(room), dtype=np.int64)
        first = np.full(len(room), -1, dtype=np.int64)
        for c in range(rules.n_columns):
            v = int(rules.codes[c][p])
            if v < 0:
                continue
            x = ctx.counts[c][room, v]
            if rules.min_distinct[c] > 0:
                distinct = np.count_nonzero(ctx.counts[c][room], axis=1)
                delta -= (x == 0) & (distinct < rules.min_distinct[c])
            if rules.max_count[c] > 0:
                over = x >= rules.max_count[c]
                delta += over
                first = np.where((first < 0) & over, 2 * c + _MAX_COUNT, first)
            if rules.no_isolation[c]:
                delta += (x == 0).astype(np.int64) - (x == 1)
                first = np.where((first < 0) & (x == 0), 2 * c + _ISOLATION, first)
        kind = np.where(~clash & (delta > 0), first, kind)
    if np.any(kind == -1):
        return (
            "an allowed group had room but the search ended before placing them; raise time_limit"
        )
    values, first_at, n = np.unique(kind, return_index=True, return_counts=True)
    n = np.where(values == -2, 1, n)  # `together` counts once, however many groups it blocks
    # the most frequent; ties go to the one met first in ``room`` order
    best = int(values[np.lexsort((first_at, -n))[0]])
    return f"joining any allowed group with room would break a rule: {_rule_name(rules, best)}"


def _rule_name(rules: CompositionRules, kind: int) -> str:
    """The sentence fragment of a kind from :func:`_rule_reason`."""
    if kind == -2:
        return "no common meeting time with every member (`together`)"
    if kind < 0:
        return "a composition rule"
    c, which = divmod(kind, 2)
    col = rules.columns[c]
    if which == _MAX_COUNT:
        return f"max_count {col}={int(rules.max_count[c])}"
    return f"no_isolation {col}"


def _leader_reason(
    prob: _Problem, labels: np.ndarray, g: int, sizes: np.ndarray, diag: Diagnosis
) -> str:
    """Why leader ``g`` has no group."""
    need = int(prob.min_size[g])
    n_allowed = int(prob.allowed[g].sum())
    if n_allowed < need:
        return f"only {n_allowed} allowed protégés, fewer than min_size {need}"
    n_open = int(np.count_nonzero(sizes))
    if diag.max_groups and n_open >= diag.max_groups and not prob.rules.is_empty:
        return f"composition rules allow at most {diag.max_groups} groups (see diagnosis)"
    waiting_idx = np.flatnonzero(prob.cand[g] & (labels < 0))
    waiting = len(waiting_idx)
    if waiting >= need:
        return (
            f"its {waiting} waiting protégés cannot form a group that meets the rules"
            + _group_blocker(prob.rules, waiting_idx, need)
        )
    return (
        f"not enough protégés left to open this group (needs {need}; "
        f"{waiting} of its {n_allowed} allowed protégés are waiting, the "
        "others are placed in groups where they fit better or that the rules need)"
    )


def _group_blocker(rules: CompositionRules, members: np.ndarray, need: int) -> str:
    """Which composition rule keeps ``members`` from forming a group of ``need`` (or "")."""
    for c, col in enumerate(rules.columns):
        codes = rules.codes[c][members]
        counts = np.bincount(codes[codes >= 0], minlength=rules.n_values(c))
        unknown = int(np.count_nonzero(codes < 0))
        cap = int(rules.max_count[c])
        if cap > 0 and int(np.minimum(counts, cap).sum()) + unknown < need:
            return (
                f" (max_count {col}={cap} lets at most "
                f"{int(np.minimum(counts, cap).sum()) + unknown} of them into one group)"
            )
        k = int(rules.min_distinct[c])
        if k > 0 and np.count_nonzero(counts) < k:
            return f" (only {np.count_nonzero(counts)} distinct {col} values among them)"
    return ""
