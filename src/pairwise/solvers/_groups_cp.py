"""Learning groups: the CP-SAT model (exact method, infeasibility core) and LNS on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _ortools
from ._groups_problem import _Problem
from ._groups_search import _Budget, _Search
from ._result import Status

#: Calibrated seconds per unit of CP-SAT deterministic time on the small models
#: of large-neighbourhood search, and per variable to build such a model, plus a
#: fixed cost per step. Measured as process CPU time on 150 x 930 (which a busy
#: machine barely changes): a step costs about 1.5x what the former idle wall-clock
#: figures (2.0, 3e-5, 2e-3) charged.
_CP_WALL_PER_DET = 3.0
_CP_BUILD_PER_VAR = 4.5e-5
_CP_STEP = 3e-3

#: Share of large-neighbourhood steps guided by the rule-free optimum.
_GUIDED_SHARE = 0.5


@dataclass
class _CpModel:
    """A built CP-SAT model with handles on its pair and open booleans and objective parts."""

    model: Any
    x: dict[tuple[int, int], Any]
    opens: dict[int, Any]
    placed: Any  # linear expr: Σ w_int · x
    value: Any  # linear expr: Σ fit_int · x + Σ wd_int · y
    assumptions: dict[str, Any]


class _Assumptions:
    """One assumption literal per rule family, made on first use (only when explaining).

    With ``explain`` every rule family is enforced only under its literal, so
    an infeasible core names the families in conflict; otherwise no literal
    is made and the rules are enforced unconditionally.
    """

    def __init__(self, model: Any, explain: bool) -> None:
        self.model = model
        self.explain = explain
        self.lits: dict[str, Any] = {}

    def __call__(self, name: str) -> list[Any]:
        if not self.explain:
            return []
        if name not in self.lits:
            self.lits[name] = self.model.new_bool_var(name)
        return [self.lits[name]]


def _build_cp(
    prob: _Problem,
    leaders: Sequence[int],
    proteges: Sequence[int],
    *,
    explain: bool = False,
    need_group: bool = False,
) -> _CpModel:
    """CP-SAT model of the grouping restricted to ``leaders`` × ``proteges``.

    With ``explain``, every rule family is enforced only under its own
    assumption literal so an infeasible core names the families in conflict.
    The steps below add variables and constraints in a fixed order: CP-SAT's
    search (and so the answer for a seed) depends on that order.
    """
    cp = _ortools.cp_model()
    m = cp.CpModel()
    lit = _Assumptions(m, explain)
    leaders = list(leaders)
    x, by_g = _pair_vars(m, prob, leaders, list(proteges))
    opens = _size_constraints(m, prob, leaders, x, by_g, lit)
    if need_group:
        m.add_bool_or(list(opens.values()))
    _rule_constraints(m, prob, leaders, x, by_g, opens, lit)
    if prob.conflict is not None:
        _together_constraints(m, prob.conflict, leaders, x, by_g, lit)
    placed, value = _objective_terms(m, prob, leaders, x, by_g)
    return _CpModel(model=m, x=x, opens=opens, placed=placed, value=value, assumptions=lit.lits)


def _pair_vars(
    m: Any, prob: _Problem, leaders: list[int], proteges: list[int]
) -> tuple[dict[tuple[int, int], Any], dict[int, list[int]]]:
    """One boolean per candidate (protégé, leader) pair; each protégé in at most one group.

    Returns the booleans keyed ``(p, g)`` and the candidate members per leader.
    """
    x: dict[tuple[int, int], Any] = {}
    by_g: dict[int, list[int]] = {}
    by_p: dict[int, list[Any]] = {p: [] for p in proteges}
    pset = np.array(proteges, dtype=np.int64)
    for g in leaders:
        members = pset[prob.cand[g, pset]] if len(pset) else pset
        by_g[g] = [int(p) for p in members]
        for p in by_g[g]:
            var = m.new_bool_var(f"x{p}_{g}")
            x[p, g] = var
            by_p[p].append(var)
    for p in proteges:
        if len(by_p[p]) > 1:
            m.add_at_most_one(by_p[p])
    return x, by_g


def _size_constraints(
    m: Any,
    prob: _Problem,
    leaders: list[int],
    x: dict[tuple[int, int], Any],
    by_g: dict[int, list[int]],
    lit: _Assumptions,
) -> dict[int, Any]:
    """An "open" boolean per leader: an open group is non-empty and within its sizes."""
    opens: dict[int, Any] = {}
    for g in leaders:
        members = by_g[g]
        o = m.new_bool_var(f"open{g}")
        opens[g] = o
        xs = [x[p, g] for p in members]
        lo, hi = int(prob.min_size[g]), int(prob.max_size[g])
        if not xs:
            m.add(o == 0)
            continue
        m.add(sum(xs) <= hi * o)
        m.add_bool_or(xs).only_enforce_if(o)  # an open group is never empty
        for v in xs:
            m.add_implication(v, o)
        if lit.explain:
            m.add(sum(xs) >= lo).only_enforce_if([o, *lit("min_size")])
        else:
            m.add(sum(xs) >= lo * o)
    return opens


def _rule_constraints(
    m: Any,
    prob: _Problem,
    leaders: list[int],
    x: dict[tuple[int, int], Any],
    by_g: dict[int, list[int]],
    opens: dict[int, Any],
    lit: _Assumptions,
) -> None:
    """The composition rules as linear constraints on per-value counts in every group."""
    rules = prob.rules
    for c, col in enumerate(rules.columns):
        codes = rules.codes[c]
        md, mc, iso = (
            int(rules.min_distinct[c]),
            int(rules.max_count[c]),
            bool(rules.no_isolation[c]),
        )
        for g in leaders:
            members = by_g[g]
            if not members:
                continue
            per_value: dict[int, list[Any]] = {}
            for p in members:
                if codes[p] >= 0:
                    per_value.setdefault(int(codes[p]), []).append(x[p, g])
            if mc > 0:
                for xs in per_value.values():
                    if len(xs) > mc:
                        m.add(sum(xs) <= mc).only_enforce_if(lit(f"max_count {col}"))
            if iso:
                for v, xs in per_value.items():
                    z = m.new_bool_var(f"iso{g}_{c}_{v}")
                    enf = lit(f"no_isolation {col}")
                    m.add(sum(xs) >= 2).only_enforce_if([z, *enf])
                    m.add(sum(xs) == 0).only_enforce_if([z.Not(), *enf])
            if md > 0:
                present = []
                for v, xs in per_value.items():
                    y = m.new_bool_var(f"has{g}_{c}_{v}")
                    m.add_bool_or(xs).only_enforce_if(y)
                    present.append(y)
                enf = [opens[g], *lit(f"min_distinct {col}")]
                if len(present) < md:
                    m.add_bool_or([opens[g].Not(), *[e.Not() for e in enf[1:]]])
                else:
                    m.add(sum(present) >= md).only_enforce_if(enf)


def _together_constraints(
    m: Any,
    conflict: np.ndarray,
    leaders: list[int],
    x: dict[tuple[int, int], Any],
    by_g: dict[int, list[int]],
    lit: _Assumptions,
) -> None:
    """No two members of a group who may not meet (`together`)."""
    for g in leaders:
        members = np.array(by_g[g], dtype=np.int64)
        if len(members) < 2:
            continue
        sub = conflict[np.ix_(members, members)]
        ii, jj = np.nonzero(np.triu(sub, 1))
        for i, j in zip(ii, jj, strict=True):
            m.add_bool_or(
                [
                    x[members[i], g].Not(),
                    x[members[j], g].Not(),
                    *[e.Not() for e in lit("together")],
                ]
            )


def _objective_terms(
    m: Any,
    prob: _Problem,
    leaders: list[int],
    x: dict[tuple[int, int], Any],
    by_g: dict[int, list[int]],
) -> tuple[Any, Any]:
    """``(placed, value)``: Σ w_int · x and Σ fit_int · x + Σ wd_int · y (y: pair together)."""
    placed = sum(int(prob.w_int[p]) * v for (p, _g), v in x.items()) if x else 0
    terms = [int(prob.fit_int[g, p]) * v for (p, g), v in x.items() if prob.fit_int[g, p] != 0]
    if prob.wd_int is not None:
        for g in leaders:
            members = by_g[g]
            for i, p in enumerate(members):
                for q in members[i + 1 :]:
                    w = int(prob.wd_int[p, q])
                    if w == 0:
                        continue
                    y = m.new_bool_var(f"y{p}_{q}_{g}")
                    # y may be 1 only when both are in g (w > 0), must be 1 then (w < 0)
                    if w > 0:
                        m.add_implication(y, x[p, g])
                        m.add_implication(y, x[q, g])
                    else:
                        m.add_bool_or([x[p, g].Not(), x[q, g].Not(), y])
                    terms.append(w * y)
    value = sum(terms) if terms else 0
    return placed, value


def _cp_labels(solver: Any, cpm: _CpModel, n: int, base: np.ndarray | None = None) -> np.ndarray:
    """Labels read from a solved model (``base`` kept for protégés outside it)."""
    labels = np.full(n, -1, dtype=np.int64) if base is None else base.copy()
    for (p, g), v in cpm.x.items():
        if solver.boolean_value(v):
            labels[p] = g
    return labels


def _hint(cpm: _CpModel, labels: np.ndarray) -> None:
    """Start CP-SAT from the grouping ``labels``."""
    for (p, g), v in cpm.x.items():
        cpm.model.add_hint(v, bool(labels[p] == g))
    for g, o in cpm.opens.items():
        cpm.model.add_hint(o, bool(np.any(labels == g)))


def _solve_exact(
    prob: _Problem,
    budget: _Budget,
    seed: int,
) -> tuple[np.ndarray, Status, float | None] | None:
    """Exact CP-SAT on the whole problem: most placed priority first, then best objective.

    One model with the lexicographic objective ``big · placed + value`` (one
    presolve, one search) when the integers stay well inside int64; otherwise
    two phases. Returns ``(labels, status, bound)`` or None when CP-SAT found
    no solution in time. ``bound`` holds for groupings placing as much
    priority as the answer.
    """
    cp = _ortools.cp_model()
    L, P = prob.fit.shape
    leaders = [g for g in range(L) if prob.cand[g].sum() >= prob.min_size[g]]
    proteges = [p for p in range(P) if prob.cand[leaders, p].any()] if leaders else []
    if not leaders or not proteges:
        return np.full(P, -1, dtype=np.int64), "optimal", 0.0
    cpm = _build_cp(prob, leaders, proteges)
    pset = np.array(proteges)
    value_range = 2 * int(
        np.abs(prob.fit_int[np.ix_(np.asarray(leaders), pset)]).max(axis=0).sum()
    )
    if prob.wd_int is not None:
        value_range += int(np.abs(np.triu(prob.wd_int[np.ix_(pset, pset)], 1)).sum())
    big = value_range + 1
    total_priority = int(prob.w_int[pset].sum())
    if big * (total_priority + 1) < 2**60:
        cpm.model.maximize(big * cpm.placed + cpm.value)
        solver, status = _solve_whole(cpm.model, budget, budget.limit, seed)
        if status not in (cp.OPTIMAL, cp.FEASIBLE):
            return None
        labels = _cp_labels(solver, cpm, P)
        placed = int(prob.w_int[labels >= 0].sum())
        bound = (float(solver.best_objective_bound) - big * placed) / prob.scale
        return labels, ("optimal" if status == cp.OPTIMAL else "feasible"), bound
    limit1 = None if budget.limit is None else max(0.05, 0.3 * budget.remaining)
    cpm.model.maximize(cpm.placed)
    solver, status = _solve_whole(cpm.model, budget, limit1, seed)
    if status not in (cp.OPTIMAL, cp.FEASIBLE):
        return None
    first_optimal = status == cp.OPTIMAL
    labels1 = _cp_labels(solver, cpm, P)
    best_placed = round(solver.objective_value)
    _hint(cpm, labels1)
    cpm.model.add(cpm.placed >= best_placed)
    cpm.model.maximize(cpm.value)
    limit2 = None if budget.limit is None else max(0.05, budget.remaining)
    solver, status = _solve_whole(cpm.model, budget, limit2, seed)
    if status not in (cp.OPTIMAL, cp.FEASIBLE):
        return labels1, "feasible", None
    labels = _cp_labels(solver, cpm, P)
    proven = first_optimal and status == cp.OPTIMAL
    bound = float(solver.best_objective_bound) / prob.scale
    return labels, ("optimal" if proven else "feasible"), (bound if first_optimal else None)


def _solve_whole(model: Any, budget: _Budget, work: float | None, seed: int) -> tuple[Any, int]:
    """CP-SAT on a whole-problem model with ``work`` calibrated seconds; charges the budget."""
    run = _ortools.solve_cp(
        model,
        max_det_time=None if work is None else _ortools.cp_work(work),
        seed=seed,
        deadline=budget.deadline,
    )
    budget.spend(_ortools.CP_WALL_PER_DET * float(run.solver.deterministic_time))
    budget.stopped_by_time_limit |= run.stopped_by_time_limit
    return run.solver, run.status


def _explain(prob: _Problem, seed: int, time_limit: float) -> list[str]:
    """Name the rule families that together rule out every group (CP-SAT core)."""
    cp = _ortools.cp_model()
    L, P = prob.fit.shape
    leaders = list(range(L))
    proteges = [p for p in range(P) if prob.allowed[:, p].any()]
    if not proteges or prob.allowed.sum() > 50_000:
        return []
    base = _Problem(**{**prob.__dict__, "cand": prob.allowed.copy(), "wd": None, "wd_int": None})
    cpm = _build_cp(base, leaders, proteges, explain=True, need_group=True)
    cpm.model.add_assumptions(list(cpm.assumptions.values()))
    run = _ortools.solve_cp(
        cpm.model, max_det_time=_ortools.cp_work(time_limit), seed=seed, workers=1
    )
    solver, status = run.solver, run.status
    if status != cp.INFEASIBLE:
        return []
    core = solver.sufficient_assumptions_for_infeasibility()
    names = [n for n, v in cpm.assumptions.items() if v.Index() in set(core)]
    if not names:
        return ["no group can be formed from the allowed pairs and group sizes alone"]
    sizes = sorted({int(s) for s in prob.min_size})
    nice = [
        (f"min_size {sizes[0]}" if len(sizes) == 1 else "min_size")
        if n == "min_size"
        else ("`together` (common meeting time)" if n == "together" else n)
        for n in names
    ]
    return [
        "no group can satisfy " + " together with ".join(nice) + "; relax one of them "
        "(lower min_size, lower min_distinct / raise max_count, drop a column from "
        "no_isolation, or widen the meeting-time rule)"
    ]


# --------------------------------------------------------------------------
# large-neighbourhood search
# --------------------------------------------------------------------------


def _lns(
    search: _Search,
    budget: _Budget,
    rng: np.random.Generator,
    seed: int,
    *,
    stall_limit: int,
    k: int | None = None,
    k_max: int | None = None,
    sub_limit: float = 0.3,
    ideal: np.ndarray | None = None,
) -> None:
    """Re-solve a few related groups (plus waiting protégés) exactly, keep improvements."""
    cp = _ortools.cp_model()
    prob = search.prob
    L, P = prob.fit.shape
    viable = prob.cand.sum(axis=1) >= prob.min_size
    if k is None:
        k = 8 if prob.wd is None else 4
    if k_max is None:
        k_max = 16 if prob.wd is None else 8
    stall = 0
    rounds = 0
    order: list[int] = []
    n_usable = int(viable.sum())
    n_free_all = int(prob.cand[viable].any(axis=0).sum())
    while not budget.exhausted() and stall < stall_limit:
        lab = search.lab
        open_groups = np.flatnonzero(search.size[:L] > 0)
        closed = np.flatnonzero(viable & (search.size[:L] == 0))
        if not order:
            order = list(rng.permutation(open_groups)) if len(open_groups) else []
            if not order and len(closed):
                order = list(rng.permutation(closed))
            if not order:
                return
        seed_g = int(order.pop())
        if ideal is not None and rng.random() < _GUIDED_SHARE:
            chosen = _guided(search, ideal, k, rng, closed)
        else:
            chosen = _related(search, seed_g, k, rng, closed)
        members = np.flatnonzero(np.isin(lab, chosen))
        waiting = np.flatnonzero((lab < 0) & prob.cand[chosen].any(axis=0))
        if len(waiting) > 3 * k:
            best_fit = prob.fit[chosen][:, waiting].max(axis=0)
            pick = np.lexsort((-best_fit, -prob.w_int[waiting]))[: 3 * k]
            waiting = waiting[np.sort(pick)]
        free = np.concatenate([members, waiting])
        cpm = _build_cp(prob, [int(g) for g in chosen], [int(p) for p in free])
        _hint(cpm, lab)
        cur_placed = int(prob.w_int[members].sum())
        cur_value = _sub_value(prob, lab, free)
        big = 2 * int(np.abs(prob.fit_int[np.ix_(chosen, free)]).sum()) + 1
        if prob.wd_int is not None:
            big += int(np.abs(prob.wd_int[np.ix_(free, free)]).sum())
        cpm.model.add(cpm.placed >= cur_placed)
        cpm.model.maximize(big * cpm.placed + cpm.value)
        limit = min(sub_limit, max(0.02, budget.remaining / _CP_WALL_PER_DET))
        run = _ortools.solve_cp_small(
            cpm.model, max_det_time=limit, seed=seed + rounds, deadline=budget.deadline
        )
        solver, status = run.solver, run.status
        budget.stopped_by_time_limit |= run.stopped_by_time_limit
        # CP-SAT's deterministic time runs slower than the wall clock on these small
        # models, and building one in Python costs time per variable (measured)
        budget.spend(
            _CP_WALL_PER_DET * float(solver.deterministic_time)
            + _CP_BUILD_PER_VAR * len(cpm.x)
            + _CP_STEP
        )
        budget.iterations += 1
        rounds += 1
        improved = False
        if status in (cp.OPTIMAL, cp.FEASIBLE):
            new_obj = round(solver.objective_value)
            if new_obj > big * cur_placed + cur_value:
                new_lab = lab.copy()
                new_lab[free] = -1
                new_lab = _cp_labels(solver, cpm, P, base=new_lab)
                for p in free:
                    search.relocate(int(p), -1)
                for p in free:
                    if new_lab[p] >= 0:
                        search.relocate(int(p), int(new_lab[p]))
                improved = True
                budget.report(search.objective)
        stall = 0 if improved else stall + 1
        if status == cp.OPTIMAL and len(chosen) == n_usable and len(free) == n_free_all:
            # the neighbourhood was the whole problem: the grouping is optimal
            search.proven = True
            return
        if status == cp.OPTIMAL and solver.deterministic_time < 0.3 * limit:
            k = min(k + 1, k_max, max(1, len(open_groups) + len(closed)))
        elif status != cp.OPTIMAL:
            k = max(2, k - 1)


def _sub_value(prob: _Problem, lab: np.ndarray, free: np.ndarray) -> int:
    """Integer objective (fit_int + wd_int) contributed by the elements in ``free``."""
    sub = lab[free]
    placed = sub >= 0
    total = int(prob.fit_int[sub[placed], free[placed]].sum())
    if prob.wd_int is not None:
        f = free[placed]
        s = sub[placed]
        same = np.triu(s[:, None] == s[None, :], 1)
        total += int((prob.wd_int[np.ix_(f, f)] * same).sum())
    return total


def _guided(
    search: _Search, ideal: np.ndarray, k: int, rng: np.random.Generator, closed: np.ndarray
) -> np.ndarray:
    """Groups along a chain of protégés displaced from their place in the rule-free optimum.

    ``ideal`` is the capacity-only flow optimum; a protégé away from its ideal
    leader loses ``fit[ideal] - fit[current]``. Starting from a protégé drawn
    with probability proportional to that loss, the neighbourhood takes its
    current and ideal groups, then the ideal groups of the most displaced
    members of the groups taken so far, so the exact re-solve can move whole
    chains of protégés towards the rule-free optimum.
    """
    prob = search.prob
    lab = search.lab
    L = search.L
    P = search.P
    usable = (search.size[:L] > 0) | np.isin(np.arange(L), closed)
    cur = search.fitp[lab, np.arange(P)]
    ok = ideal >= 0
    loss = np.zeros(P)
    loss[ok] = prob.fit[ideal[ok], np.flatnonzero(ok)] - cur[ok]
    loss[~ok | (ideal == lab)] = 0.0
    loss = np.maximum(loss, 0.0)
    if ok.any():
        loss[ok] *= usable[ideal[ok]]
    if loss.sum() <= 0:
        return _related(search, int(rng.integers(L)), k, rng, closed)
    start = int(rng.choice(P, p=loss / loss.sum()))
    chosen = [g for g in (int(ideal[start]), int(lab[start])) if g >= 0]
    while len(chosen) < k:
        inside = np.isin(lab, chosen)
        want = np.where(inside & (loss > 0), ideal, -1)
        pull = np.bincount(want[want >= 0], weights=loss[want >= 0], minlength=L)
        pull[chosen] = 0
        if pull.max() <= 0:
            break
        chosen.append(int(np.argmax(pull)))
    if len(chosen) < k:
        more = _related(search, chosen[0], k - len(chosen) + 1, rng, closed)
        chosen.extend(int(g) for g in more if g not in chosen)
    return np.sort(np.array(chosen[:k], dtype=np.int64))


def _related(
    search: _Search, seed_g: int, k: int, rng: np.random.Generator, closed: np.ndarray
) -> np.ndarray:
    """``seed_g`` and up to ``k - 1`` groups its members (or theirs) would rather join."""
    prob = search.prob
    L = search.L
    lab = search.lab
    fit = np.where(prob.cand, prob.fit, -np.inf)
    members = np.flatnonzero(lab == seed_g)
    score = np.zeros(L)
    if len(members):
        own = prob.fit[seed_g, members]
        score += np.maximum(fit[:, members] - own, 0).sum(axis=1) + prob.cand[:, members].sum(1)
    placed = np.flatnonzero(lab >= 0)
    if len(placed):
        their = np.maximum(fit[seed_g, placed] - prob.fit[lab[placed], placed], 0)
        their = np.where(np.isfinite(their), their, 0)
        score += np.bincount(lab[placed], weights=their, minlength=L)
    waiting = np.flatnonzero(lab < 0)
    if len(waiting):
        score += prob.cand[:, waiting].sum(axis=1) * 0.01
    score[seed_g] = -np.inf
    candidates = np.flatnonzero((search.size[:L] > 0) | np.isin(np.arange(L), closed))
    candidates = candidates[candidates != seed_g]
    if len(candidates) == 0 or k <= 1:
        return np.array([seed_g])
    top = candidates[np.argsort(-score[candidates], kind="stable")][: 2 * (k - 1)]
    pick = rng.choice(len(top), size=min(k - 1, len(top)), replace=False)
    return np.sort(np.append(top[pick], seed_g))
