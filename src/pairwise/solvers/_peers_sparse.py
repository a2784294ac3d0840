"""Peer matching on sparse candidate pairs when the double-cover solve does not fit the clock.

Three pieces used by :mod:`pairwise.solvers.peers` and :mod:`pairwise._peer_candidates`:

- :func:`cover_mate`: a maximum matching of the bipartite double cover (every
  person on both sides, a candidate pair ``{i, j}`` as the arcs ``i -> j`` and
  ``j -> i``) by OR-Tools' push-relabel maximum flow, stoppable at a deadline
  (SciPy's Hopcroft–Karp took 29 s on 4 million arcs at 50,000 people, where
  the flow takes 2.5 s).
- :func:`swap_improve`: pair swaps on the candidate pairs only, vectorised,
  best gains first, until no swap gains or the deadline.
- :func:`dual_bound`: an upper bound on the total of every matching of the
  candidate pairs from feasible LP duals (``y_i + y_j >= max(w_ij, 0)``,
  ``y >= 0``; any matching's total is at most ``sum(y)``), tightened by
  averaging steps that keep them feasible.
"""

from __future__ import annotations

import numpy as np

from pairwise.solvers import _ortools

__all__ = ["cover_mate", "dual_bound", "dual_bound_csr", "pair_weights", "swap_improve"]

#: Rounds of :func:`dual_bound` at most (each is two passes over the arcs; the sum
#: settles within about 20 rounds on candidate graphs of 50,000 people).
_DUAL_ROUNDS = 30

#: Rounds of :func:`swap_improve` at most.
_SWAP_ROUNDS = 30


def _max_flow_mate(n: int, tails: np.ndarray, heads: np.ndarray) -> np.ndarray:
    """Column matched to each row of the bipartite arcs ``tails -> heads`` (-1: none)."""
    flow = _ortools.max_flow().SimpleMaxFlow()
    source, sink = 2 * n, 2 * n + 1
    rows = np.arange(n, dtype=np.int64)
    t = np.concatenate([np.full(n, source), tails, n + rows])
    h = np.concatenate([rows, n + heads, np.full(n, sink)])
    arcs = flow.add_arcs_with_capacity(t, h, np.ones(t.size, dtype=np.int64))
    status = flow.solve(source, sink)
    if status != flow.OPTIMAL:  # pragma: no cover - unit capacities cannot overflow
        raise RuntimeError(f"maximum flow stopped with status {status}")
    used = np.asarray(flow.flows(arcs[n : n + tails.size])) > 0
    mate = np.full(n, -1, dtype=np.int64)
    mate[tails[used]] = heads[used]
    return mate


def cover_mate(n: int, u: np.ndarray, v: np.ndarray, deadline: float | None) -> np.ndarray:
    """A maximum matching of the double cover of the pairs ``{u[k], v[k]}`` (``u != v``).

    Returns the column (person) matched to each row (person), -1 when
    unmatched. Large graphs run in a child process the deadline can stop
    (OR-Tools holds the GIL while it solves).

    Raises
    ------
    pairwise.solvers._ortools.DeadlineExceeded
        ``deadline`` (or the enclosing wall deadline) passed first.

    Examples
    --------
    >>> import numpy as np
    >>> mate = cover_mate(3, np.array([0, 0, 1]), np.array([1, 2, 2]), None)  # a triangle
    >>> int((mate >= 0).sum())  # a cycle of the cover: everyone on both sides
    3
    """
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    if u.size == 0:
        return np.full(n, -1, dtype=np.int64)
    tails = np.concatenate([u, v])
    heads = np.concatenate([v, u])
    size = int(tails.size + 2 * n)
    return _ortools.run_cancellable(_max_flow_mate, n, tails, heads, deadline=deadline, arcs=size)


def pair_weights(
    n: int, key: np.ndarray, s: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the pairs ``{a[k], b[k]}`` among candidates with sorted keys ``u * n + v``.

    Returns ``(scores, found)``; a pair that is not a candidate scores -inf.

    >>> import numpy as np
    >>> key, s = np.array([0 * 3 + 1, 1 * 3 + 2]), np.array([0.5, 0.25])
    >>> w, ok = pair_weights(3, key, s, np.array([1, 2]), np.array([0, 0]))
    >>> w.tolist(), ok.tolist()
    ([0.5, -inf], [True, False])
    """
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    want = lo.astype(np.int64) * n + hi
    at = np.searchsorted(key, want)
    found = at < key.size
    found[found] = key[at[found]] == want[found]
    w = np.full(want.size, -np.inf)
    w[found] = s[at[found]]
    return w, found


def _moves(
    mate: np.ndarray, n: int, u: np.ndarray, v: np.ndarray, s: np.ndarray, key: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gaining moves along candidate pairs ``{a, c}``: ``(gain, a, c, kind)``.

    kind 0: ``a`` and ``c`` are matched elsewhere (to ``b`` and ``d``):
    ``(a, b), (c, d)`` become ``(a, c), (b, d)``. kind 1: ``c`` is free and
    ``a`` matched to ``b``: ``c`` takes ``b``'s place (``b`` is freed).
    """
    gains, aa, cc, kinds = [], [], [], []
    matched = np.flatnonzero(mate >= 0)
    own = np.zeros(n)  # each matched person's pair score
    own[matched], _ = pair_weights(n, key, s, matched, mate[matched])
    both = (mate[u] >= 0) & (mate[v] >= 0) & (mate[u] != v)
    a, c = u[both], v[both]
    b, d = mate[a], mate[c]
    w_bd, ok = pair_weights(n, key, s, b, d)
    ok &= b != d
    g = s[both] + w_bd - own[a] - own[c]
    pick = ok & (g > 0)
    gains.append(g[pick])
    aa.append(a[pick])
    cc.append(c[pick])
    kinds.append(np.zeros(int(pick.sum()), dtype=np.int8))
    for x, y in ((u, v), (v, u)):  # x matched, y free
        one = (mate[x] >= 0) & (mate[y] < 0)
        a, c, w = x[one], y[one], s[one]
        g = w - own[a]
        pick = g > 0
        gains.append(g[pick])
        aa.append(a[pick])
        cc.append(c[pick])
        kinds.append(np.ones(int(pick.sum()), dtype=np.int8))
    return np.concatenate(gains), np.concatenate(aa), np.concatenate(cc), np.concatenate(kinds)


def _apply(
    mate: np.ndarray, gain: np.ndarray, a: np.ndarray, c: np.ndarray, kind: np.ndarray
) -> None:
    """Apply the moves that rank first (best gain, then listed order) at every person they touch.

    Two applied moves never share a person, so they commute; a move that
    loses to a better one at some person waits for the next round.
    """
    order = np.argsort(-gain, kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    b, d = mate[a], mate[c]
    swap = kind == 0
    people = [a, c, b, np.where(swap, d, b)]  # a free c has no d: b stands in
    best = np.full(mate.size, order.size, dtype=np.int64)
    for p in people:
        np.minimum.at(best, p, rank)
    win = np.ones(order.size, dtype=bool)
    for p in people:
        win &= best[p] == rank
    x, y = a[win & swap], c[win & swap]
    bx, dy = b[win & swap], d[win & swap]
    mate[x], mate[y], mate[bx], mate[dy] = y, x, dy, bx
    x, y, bx = a[win & ~swap], c[win & ~swap], b[win & ~swap]
    mate[bx] = -1
    mate[x], mate[y] = y, x


def swap_improve(
    mate: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    s: np.ndarray,
    deadline: float | None,
) -> int:
    """Improve a matching of the candidate pairs ``u < v`` (row-major) in place; rounds run.

    Each round finds every gaining move along a candidate pair (re-pair two
    pairs, or let a free person take a matched person's place) and applies
    those that rank first (best gain) at every person they touch.
    The number of pairs never drops. Stops when nothing gains, after
    :data:`_SWAP_ROUNDS` rounds, or at ``deadline``.

    >>> import numpy as np
    >>> u, v = np.array([0, 0, 1, 2]), np.array([1, 2, 3, 3])
    >>> s = np.array([1.0, 3.0, 3.0, 1.0])
    >>> mate = np.array([1, 0, 3, 2])
    >>> swap_improve(mate, u, v, s, None), mate.tolist()
    (1, [2, 3, 0, 1])
    """
    n = mate.size
    key = u.astype(np.int64) * n + v
    scale = max(1.0, float(np.max(np.abs(s)))) if s.size else 1.0
    rounds = 0
    while rounds < _SWAP_ROUNDS and not _ortools.past(deadline):
        gain, a, c, kind = _moves(mate, n, u, v, s, key)
        keep = gain > 1e-12 * scale
        if not keep.any():
            break
        rounds += 1
        _apply(mate, gain[keep], a[keep], c[keep], kind[keep])
    return rounds


def dual_bound(
    n: int, u: np.ndarray, v: np.ndarray, s: np.ndarray, deadline: float | None
) -> float:
    """An upper bound on the total score of any matching of the candidate pairs.

    Feasible duals ``y >= 0`` with ``y_i + y_j >= max(s_ij, 0)`` on every
    candidate pair bound every matching's total by ``sum(y)``. Start:
    ``y_i`` = half of ``i``'s best score (feasible). Step: ``y <- (y + T(y)) / 2``
    with ``T(y)_i = max(0, max_j s_ij - y_j)``, which keeps them feasible
    (``T(y)_i + y_j >= s_ij``) and never raises the sum. At most
    :data:`_DUAL_ROUNDS` steps, fewer when the sum settles or at ``deadline``.

    >>> import numpy as np
    >>> dual_bound(4, np.array([0, 2]), np.array([1, 3]), np.array([5.0, 4.0]), None)
    9.0
    """
    if u.size == 0:
        return 0.0
    heads = np.concatenate([u, v])
    order = np.argsort(heads, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(heads, minlength=n), out=indptr[1:])
    tails = np.concatenate([v, u])[order]
    return dual_bound_csr(indptr, tails, np.concatenate([s, s])[order], deadline)


def dual_bound_csr(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    deadline: float | None,
    rounds: int = _DUAL_ROUNDS,
) -> float:
    """:func:`dual_bound` on a symmetric CSR structure (each pair stored both ways).

    >>> import numpy as np, scipy.sparse as sp
    >>> S = sp.csr_array(np.array([[0, 5.0, 0, 0], [5.0, 0, 0, 0], [0, 0, 0, 4], [0, 0, 4, 0]]))
    >>> dual_bound_csr(S.indptr, S.indices, S.data, None)
    9.0
    """
    n = indptr.size - 1
    counts = np.diff(indptr)
    has = counts > 0
    if not has.any():
        return 0.0
    starts = indptr[:-1][has]
    tails = np.asarray(indices, dtype=np.int64)
    w = np.maximum(np.asarray(data, dtype=np.float64), 0.0)
    y = np.zeros(n)
    y[has] = np.maximum.reduceat(w, starts) / 2.0
    total = float(y.sum())
    for _ in range(rounds):
        if _ortools.past(deadline):
            break
        step = np.zeros(n)
        step[has] = np.maximum(np.maximum.reduceat(w - y[tails], starts), 0.0)
        y = (y + step) / 2.0
        new = float(y.sum())
        if total - new <= 1e-12 * max(1.0, total):
            total = new
            break
        total = new
    # the last float bits: every constraint re-checked, slack added where rounding bit
    short = w - y[tails] - y[np.repeat(np.flatnonzero(has), counts[has])]
    return total + (float(short.max()) if short.size and short.max() > 0 else 0.0) * n
