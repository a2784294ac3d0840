"""Independent reference solutions for tests: brute force on tiny cases and simple models."""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------------------
# learning groups: brute force over every labelling
# ---------------------------------------------------------------------------


def _group_codes(values) -> np.ndarray:
    """Integer code per protégé for one attribute column; -1 for missing (unknown)."""
    import math

    codes = []
    seen: dict = {}
    for v in list(values):
        missing = v is None or (isinstance(v, float) and math.isnan(v))
        missing = missing or (isinstance(v, str) and v.strip() == "")
        if missing:
            codes.append(-1)
            continue
        key = v.strip() if isinstance(v, str) else v
        codes.append(seen.setdefault(key, len(seen)))
    return np.array(codes, dtype=np.int64)


def _group_feasible(
    grids,
    n_leaders,
    *,
    min_size,
    max_size,
    allowed,
    attributes,
    min_distinct,
    max_count,
    no_isolation,
    together,
):
    """Which rows of ``grids`` (labellings; label ``n_leaders`` = unassigned) keep every rule."""
    n = grids.shape[1]
    lows = np.broadcast_to(np.asarray(min_size), (n_leaders,))
    highs = np.broadcast_to(np.asarray(max_size), (n_leaders,))
    allowed_ext = np.vstack([allowed, np.ones((1, n), dtype=bool)])
    ok = allowed_ext[grids, np.arange(n)].all(axis=1)
    for g in range(n_leaders):
        size = (grids == g).sum(axis=1)
        ok &= (size == 0) | ((size >= lows[g]) & (size <= highs[g]))
    if together is not None:
        tog = np.asarray(together, dtype=bool)
        for p in range(n):
            for q in range(p + 1, n):
                if not tog[p, q]:
                    ok &= ~((grids[:, p] == grids[:, q]) & (grids[:, p] < n_leaders))
    iso = [no_isolation] if isinstance(no_isolation, str) else list(no_isolation or [])
    rule_cols = set(min_distinct or {}) | set(max_count or {}) | set(iso)
    for col in sorted(rule_cols):
        codes = _group_codes(attributes[col].tolist())
        n_values = int(codes.max()) + 1 if len(codes) else 0
        for g in range(n_leaders):
            member = grids == g
            used = member.any(axis=1)
            if n_values:
                counts = np.stack(
                    [(member & (codes == v)).sum(axis=1) for v in range(n_values)], axis=1
                )
            else:
                counts = np.zeros((len(grids), 0), dtype=np.int64)
            if min_distinct and col in min_distinct:
                ok &= ~used | ((counts > 0).sum(axis=1) >= min_distinct[col])
            if max_count and col in max_count:
                ok &= (counts <= max_count[col]).all(axis=1)
            if col in iso:
                ok &= ~(counts == 1).any(axis=1)
    return ok


def group_rules_hold(
    labels,
    n_leaders,
    *,
    min_size=5,
    max_size=7,
    allowed=None,
    attributes=None,
    min_distinct=None,
    max_count=None,
    no_isolation=None,
    together=None,
):
    """True when one labelling (-1 = unassigned) keeps every learning-group rule."""
    labels = np.asarray(labels, dtype=np.int64)
    grid = np.where(labels < 0, n_leaders, labels)[None, :]
    n = len(labels)
    allowed = np.ones((n_leaders, n), dtype=bool) if allowed is None else np.asarray(allowed, bool)
    return bool(
        _group_feasible(
            grid,
            n_leaders,
            min_size=min_size,
            max_size=max_size,
            allowed=allowed,
            attributes=attributes,
            min_distinct=min_distinct,
            max_count=max_count,
            no_isolation=no_isolation,
            together=together,
        )[0]
    )


def brute_force_groups(
    fit,
    *,
    min_size=5,
    max_size=7,
    allowed=None,
    attributes=None,
    min_distinct=None,
    max_count=None,
    no_isolation=None,
    distance=None,
    diversity_weight=0.0,
    weights=None,
    together=None,
):
    """Best grouping by enumerating every labelling in {-1, 0..L-1}^P (tiny cases only).

    Same problem as ``learning_groups``: every used leader has min..max
    protégés, allowed pairs only, composition rules with missing values as
    "unknown" (not distinct, not capped, not isolated), ``together`` pairs.
    Maximises (Σ weights of placed protégés, objective) lexicographically.

    Returns ``(best_weight, best_objective, best_labels)``; when nobody can be
    placed that is ``(0.0, 0.0, all -1)`` (leaving everyone out is always
    feasible).
    """
    fit = np.asarray(fit, dtype=float)
    n_leaders, n = fit.shape
    allowed = np.ones_like(fit, dtype=bool) if allowed is None else np.asarray(allowed, bool)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    # every labelling, as int8 rows; label n_leaders stands for "unassigned"
    grids = np.indices((n_leaders + 1,) * n, dtype=np.int8).reshape(n, -1).T
    ok = _group_feasible(
        grids,
        n_leaders,
        min_size=min_size,
        max_size=max_size,
        allowed=allowed,
        attributes=attributes,
        min_distinct=min_distinct,
        max_count=max_count,
        no_isolation=no_isolation,
        together=together,
    )
    grids = grids[ok]
    cols = np.arange(n)
    fit_ext = np.vstack([np.where(allowed, fit, 0.0), np.zeros((1, n))])
    placed = grids < n_leaders
    weight = (placed * w).sum(axis=1)
    objective = fit_ext[grids, cols].sum(axis=1)
    if distance is not None and diversity_weight:
        d = np.asarray(distance, dtype=float)
        for p in range(n):
            for q in range(p + 1, n):
                same = (grids[:, p] == grids[:, q]) & placed[:, p]
                objective = objective + diversity_weight * d[p, q] * same
    top_w = weight.max()
    best_rows = np.flatnonzero(np.isclose(weight, top_w, rtol=0, atol=1e-9))
    i = best_rows[np.argmax(objective[best_rows])]
    labels = grids[i].astype(np.int64)
    labels[labels == n_leaders] = -1
    return float(top_w), float(objective[i]), labels


# ---------------------------------------------------------------------------
# matchings (one-to-one, one-to-many, peers): brute force, scipy, networkx
# ---------------------------------------------------------------------------


def matching_key(scores, rows, cols, *, weights=None, fair=False, ndigits=9, priority=None):
    """Lexicographic key ``(count, [priority], [min score], total)`` of a set of pairs.

    ``priority`` adds the total priority of the matched mentees right after the
    count (the solvers' documented order).
    """
    scores = np.asarray(scores, dtype=float)
    rows, cols = np.asarray(rows, dtype=int), np.asarray(cols, dtype=int)
    raw = scores[rows, cols] if rows.size else np.empty(0)
    w = np.ones(scores.shape[1]) if weights is None else np.asarray(weights, dtype=float)
    total = float(np.sum(raw * w[cols])) if rows.size else 0.0
    low = float(raw.min()) if raw.size else float("inf")
    key: tuple = (int(rows.size),)
    if priority is not None:
        key = (*key, float(np.sum(np.asarray(priority, dtype=float)[cols])))
    if fair:
        key = (*key, round(low, ndigits))
    return (*key, total)


def brute_force_assignment(
    scores, allowed=None, *, capacity=1, min_load=0, weights=None, fair=False, priority=None
):
    """Best key ``(count, [priority], [min], total)`` over every assignment (tiny cases).

    Each mentee takes one allowed mentor or none; mentors keep
    ``min_load <= load <= capacity``. Returns None when ``min_load`` cannot be
    met.
    """
    import itertools

    scores = np.asarray(scores, dtype=float)
    n, m = scores.shape
    allowed = np.ones((n, m), bool) if allowed is None else np.asarray(allowed, bool)
    cap = np.broadcast_to(np.asarray(capacity), (n,))
    low = np.broadcast_to(np.asarray(min_load), (n,))
    options = [[-1, *np.flatnonzero(allowed[:, j]).tolist()] for j in range(m)]
    best = None
    for choice in itertools.product(*options):
        load = np.bincount([i for i in choice if i >= 0], minlength=n)
        if np.any(load > cap) or np.any(load < low):
            continue
        cols = [j for j, i in enumerate(choice) if i >= 0]
        rows = [choice[j] for j in cols]
        key = matching_key(scores, rows, cols, weights=weights, fair=fair, priority=priority)
        if best is None or _key_better(key, best):
            best = key
    return best


def _key_better(a, b, tol=1e-9):
    """Lexicographic a > b with a tolerance on the float parts."""
    for x, y in zip(a, b, strict=True):
        if abs(x - y) > tol:
            return x > y
    return False


def keys_equal(a, b, tol=1e-6):
    """Keys equal: exact counts, floats within ``tol`` (relative to magnitude)."""
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(
        x == y or abs(x - y) <= tol * max(1.0, abs(y)) for x, y in zip(a, b, strict=True)
    )


def scipy_assignment(scores, allowed=None, *, weights=None):
    """``(count, total)`` of the cardinality-first optimum via SciPy's LSA.

    A bonus ``B > k * range`` on every allowed pair makes one more pair worth
    more than any change of total; forbidden cells score 0 and are dropped.
    """
    from scipy.optimize import linear_sum_assignment

    scores = np.asarray(scores, dtype=float)
    n, m = scores.shape
    allowed = np.ones((n, m), bool) if allowed is None else np.asarray(allowed, bool)
    w = np.ones(m) if weights is None else np.asarray(weights, dtype=float)
    values = np.where(allowed, scores, 0.0) * w[None, :]
    if not allowed.any():
        return (0, 0.0)
    lo, hi = values[allowed].min(), values[allowed].max()
    bonus = min(n, m) * (hi - lo) + 1.0
    T = np.where(allowed, values - lo + bonus, 0.0)
    r, c = linear_sum_assignment(T, maximize=True)
    ok = allowed[r, c]
    return (int(ok.sum()), float(values[r[ok], c[ok]].sum()))


def scipy_one_to_many(scores, capacity, allowed=None, *, weights=None):
    """``(count, total)`` of one-to-many by slot expansion (mentor i copied capacity[i] times)."""
    scores = np.asarray(scores, dtype=float)
    n, m = scores.shape
    allowed = np.ones((n, m), bool) if allowed is None else np.asarray(allowed, bool)
    cap = np.broadcast_to(np.asarray(capacity), (n,))
    slots = np.repeat(np.arange(n), cap)
    if slots.size == 0:
        return (0, 0.0)
    return scipy_assignment(scores[slots], allowed[slots], weights=weights)


def bottleneck_reference(scores, allowed=None, *, capacity=1, weights=None):
    """``(count, min, total)`` for objective="fair" by scanning every threshold.

    Independent of the solver's binary search: tries each distinct allowed
    score from the top and keeps the first whose restricted problem reaches
    the unrestricted maximum count (slot expansion + SciPy).
    """
    scores = np.asarray(scores, dtype=float)
    n, m = scores.shape
    allowed = np.ones((n, m), bool) if allowed is None else np.asarray(allowed, bool)
    count, _ = scipy_one_to_many(scores, capacity, allowed, weights=weights)
    if count == 0:
        return (0, float("inf"), 0.0)
    for t in np.unique(scores[allowed])[::-1]:
        sub = allowed & (scores >= t)
        got, total = scipy_one_to_many(scores, capacity, sub, weights=weights)
        if got == count:
            return (count, round(float(t), 9), total)
    raise AssertionError("unreachable: the lowest threshold keeps every pair")


def brute_force_peers(scores, allowed=None, *, fair=False):
    """Best ``(count, [min], total)`` over every matching of a tiny pool."""
    scores = np.asarray(scores, dtype=float)
    n = scores.shape[0]
    allowed = np.ones((n, n), bool) if allowed is None else np.asarray(allowed, bool)
    best = None

    def walk(i, used, pairs):
        nonlocal best
        while i < n and used[i]:
            i += 1
        if i >= n:
            rows = [a for a, _ in pairs]
            cols = [b for _, b in pairs]
            key = matching_key(scores, rows, cols, fair=fair)
            if best is None or _key_better(key, best):
                best = key
            return
        used[i] = True
        walk(i + 1, used, pairs)  # i stays single
        for j in range(i + 1, n):
            if not used[j] and allowed[i, j]:
                used[j] = True
                walk(i + 1, used, [*pairs, (i, j)])
                used[j] = False
        used[i] = False

    walk(0, [False] * n, [])
    return best


def networkx_peers(scores, allowed=None, *, scale=10**6):
    """``(count, total)`` by networkx's blossom algorithm on integer weights."""
    import networkx as nx

    scores = np.asarray(scores, dtype=float)
    n = scores.shape[0]
    allowed = np.ones((n, n), bool) if allowed is None else np.asarray(allowed, bool)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    for i in range(n):
        for j in range(i + 1, n):
            if allowed[i, j]:
                graph.add_edge(i, j, weight=round(scores[i, j] * scale))
    pairs = nx.max_weight_matching(graph, maxcardinality=True)
    return (len(pairs), float(sum(scores[a, b] for a, b in pairs)))


def hr_like_scores(
    n: int, m: int, seed: int, *, skills: int = 6, functions: int = 4, zones: int = 3
) -> np.ndarray:
    """Weighted criteria rounded to quarter points (skill coverage, cross-function, time zone).

    Many ties; with few ``skills``, ``functions`` and ``zones`` also repeated rows.
    """
    rng = np.random.default_rng(seed)
    wants = rng.random((m, skills)) < (0.3 if skills <= 6 else 0.25)
    offers = rng.random((n, skills)) < 0.4
    coverage = (offers.astype(float) @ wants.T) / np.maximum(wants.sum(axis=1), 1)
    cross = rng.integers(0, functions, (n, 1)) != rng.integers(0, functions, (1, m))
    zone_a = rng.integers(-zones, zones + 1, (n, 1))
    tz_gap = np.abs(zone_a - rng.integers(-zones, zones + 1, (1, m)))
    points = 3.0 * coverage + cross + np.clip(1.0 - tz_gap / 6.0, 0.0, 1.0)
    return np.round(points * 4.0) / 4.0


def check_one_to_one_against_scipy(S, allowed=None):
    """``one_to_one(S, allowed)`` with SciPy's count and total, exact status and bound."""
    import pytest

    from pairwise.solvers.assignment import one_to_one

    res = one_to_one(S, allowed)
    count, total = scipy_assignment(S, allowed)
    assert res.n_matched == count
    assert res.objective == pytest.approx(total, rel=1e-10, abs=1e-9)
    assert res.status == "optimal" and res.bound == res.objective
    return res
