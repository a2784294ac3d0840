"""Learning groups: pre-checks before the search and the reason every protégé or leader waits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..diversity import CompositionRules, Diagnosis, diagnose, group_counts, group_penalties
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
    base_pen = group_penalties(labels, prob.rules, L) if not prob.rules.is_empty else None
    for p in np.flatnonzero(labels < 0):
        reasons[str(int(p))] = _protege_reason(
            prob, labels, int(p), sizes, base_pen, excluded, weights_given
        )
    for g in np.flatnonzero(sizes == 0):
        reasons[f"leader:{int(g)}"] = _leader_reason(prob, labels, int(g), sizes, diag)
    return reasons


def _protege_reason(
    prob: _Problem,
    labels: np.ndarray,
    p: int,
    sizes: np.ndarray,
    base_pen: np.ndarray | None,
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
    return _rule_reason(prob, labels, p, room, base_pen)


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


def _rule_reason(
    prob: _Problem,
    labels: np.ndarray,
    p: int,
    room: np.ndarray,
    base_pen: np.ndarray | None,
) -> str:
    """Why ``p`` joins none of the groups with room (``room``): the rule most often broken."""
    L = prob.n_leaders
    broken: dict[str, int] = {}
    for g in room:
        if prob.conflict is not None and np.any(prob.conflict[p, labels == g]):
            broken["no common meeting time with every member (`together`)"] = 1
            continue
        if base_pen is None:
            broken.setdefault("", 0)
            continue
        trial = labels.copy()
        trial[p] = g
        pen = group_penalties(trial, prob.rules, L)[g]
        if pen > base_pen[g]:
            name = _rule_broken(prob.rules, trial, labels, int(g))
            broken[name] = broken.get(name, 0) + 1
        else:
            broken.setdefault("", 0)
    if "" in broken:
        return (
            "an allowed group had room but the search ended before placing them; raise time_limit"
        )
    which = max(broken, key=lambda s: broken[s])
    return f"joining any allowed group with room would break a rule: {which}"


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


def _rule_broken(rules: CompositionRules, trial: np.ndarray, labels: np.ndarray, g: int) -> str:
    """The first rule that putting one more protégé into group ``g`` (``trial``) breaks."""
    for c, col in enumerate(rules.columns):
        nv = rules.n_values(c)
        n_groups = int(max(trial.max(), labels.max())) + 1
        new = group_counts(trial, rules.codes[c], n_groups, nv)[g]
        old = group_counts(labels, rules.codes[c], n_groups, nv)[g]
        if rules.max_count[c] > 0 and np.any((new > rules.max_count[c]) & (new > old)):
            return f"max_count {col}={int(rules.max_count[c])}"
        if rules.no_isolation[c] and np.count_nonzero(new == 1) > np.count_nonzero(old == 1):
            return f"no_isolation {col}"
    return "a composition rule"
