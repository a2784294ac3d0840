"""Peer learning partners: a maximum matching in one pool of people (a general graph)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from pairwise.errors import InputError
from pairwise.solvers import _ortools
from pairwise.solvers._lsap import (
    Solved,
    check_objective,
    dense_full_within_deadline,
    finish,
    matching_threshold,
    ortools_full,
    solve_dense,
    solve_sparse,
)
from pairwise.solvers._ortools import WORK_SHARE, Scaling, exact_integers, integer_scale
from pairwise.solvers._peers_sparse import cover_mate, dual_bound, swap_improve
from pairwise.solvers._result import MatchingResult, Status
from pairwise.solvers._validation import ScoreProblem, check_scores, check_seed, check_time_limit

__all__ = ["EXACT_WORK", "peer_pairs"]

logger = logging.getLogger(__name__)

#: Exact blossom matching runs while ``people × candidate pairs`` stays below
#: this (networkx's pure-Python blossom: measured about 1 µs per unit here —
#: 100 people, all pairs: 0.8 s; 200: 5.6 s; 1,000 people with 10 candidates
#: each: 4.3 s). Beyond it, or beyond what ``time_limit`` allows, the fast
#: double-cover method runs.
EXACT_WORK = 4_000_000
_SECONDS_PER_WORK = 1.5e-6  # conservative estimate for the time_limit decision
_SYMMETRY_TOL = 1e-9
_SUM_RTOL = 2.0**-50  # rounding per term when a total is added up in float64

#: Pair-swap improvement of the fast method: at most this many rounds, and rounds
#: cost ``pairs**2`` cells each, counted against a budget of
#: ``WORK_SHARE * time_limit * _SWAP_CELLS_PER_SECOND`` cells (measured about 6e7
#: cells per second of one core for the vectorised gains; 3e7 keeps a margin).
_SWAP_ROUNDS = 100
_SWAP_CELLS_PER_SECOND = 3e7


#: Cells compared per block by the symmetry checks (about 8 MB per float64 temporary).
_BLOCK_CELLS = 1 << 20


def _upper_blocks(n: int) -> Iterator[tuple[int, int]]:
    """Row ranges ``[i0, i1)`` whose upper-triangle strips hold about :data:`_BLOCK_CELLS`."""
    step = max(1, _BLOCK_CELLS // max(n, 1))
    for i0 in range(0, n, step):
        yield i0, min(n, i0 + step)


def _first_upper(bad: np.ndarray, i0: int) -> tuple[int, int] | None:
    """First ``(i, j)``, ``i < j``, marked in the strip of rows ``i0..`` and columns ``i0..``."""
    bad = np.triu(bad, 1)  # strip-local diagonal = the matrix diagonal
    if not bad.any():
        return None
    r, c = np.argwhere(bad)[0]
    return i0 + int(r), i0 + int(c)


def _first_asymmetric_mask(mask: np.ndarray) -> tuple[int, int] | None:
    """First ``(i, j)``, ``i < j``, with ``mask[i, j] != mask[j, i]`` (row-major order)."""
    for i0, i1 in _upper_blocks(mask.shape[0]):
        hit = _first_upper(mask[i0:i1, i0:] != mask[i0:, i0:i1].T, i0)
        if hit is not None:
            return hit
    return None


def _first_asymmetric_score(S: np.ndarray, mask: np.ndarray | None) -> tuple[int, int] | None:
    """First allowed ``(i, j)``, ``i < j``, whose mirror differs by more than the tolerance.

    Relative to the smaller magnitude of the two (at least 1): the pair is
    refused when either cell would be. Compared strip by strip over the upper
    triangle, so no ``n x n`` temporary is made.
    """
    for i0, i1 in _upper_blocks(S.shape[0]):
        upper = S[i0:i1, i0:]
        lower = S[i0:, i0:i1].T
        with np.errstate(invalid="ignore"):
            size = np.minimum(np.abs(upper), np.abs(lower))
            bad = np.abs(upper - lower) > _SYMMETRY_TOL * np.maximum(1.0, size)
        if mask is not None:
            bad &= mask[i0:i1, i0:]
        hit = _first_upper(bad, i0)
        if hit is not None:
            return hit
    return None


def _check_symmetric(problem: ScoreProblem, where: str) -> None:
    n, m = problem.shape
    if n != m:
        raise InputError(
            f"`scores` must be square (one pool: people × people); got shape ({n}, {m}) "
            f"({where}). Fix: score every person against every person of the same pool."
        )
    if problem.dense is not None:
        S = problem.dense
        mask = problem.mask
        if mask is not None:
            hit = _first_asymmetric_mask(mask)
            if hit is not None:
                i, j = hit
                raise InputError(
                    f"`allowed` must be symmetric; got allowed[{i}, {j}] = {bool(mask[i, j])} "
                    f"but allowed[{j}, {i}] = {bool(mask[j, i])} ({where}). Fix: pass "
                    f"allowed & allowed.T (a pair is allowed only if allowed both ways)."
                )
        hit = _first_asymmetric_score(S, mask)
        if hit is not None:
            i, j = hit
            raise InputError(
                f"`scores` must be symmetric within {_SYMMETRY_TOL:g}; got scores[{i}, {j}] = "
                f"{float(S[i, j])!r} but scores[{j}, {i}] = {float(S[j, i])!r} ({where}). "
                f"Fix: pass (S + S.T) / 2."
            )
        return
    r, c, s = problem.arcs()
    off = r != c
    r, c, s = r[off], c[off], s[off]
    key = r * n + c
    tkey = c * n + r
    order = np.argsort(tkey, kind="stable")
    if not np.array_equal(np.sort(key), tkey[order]):
        missing = np.setdiff1d(key, tkey)
        i, j = divmod(int(missing[0]) if missing.size else 0, n)
        raise InputError(
            f"`scores` must be symmetric: every stored pair needs its mirror; got ({i}, {j}) "
            f"stored without ({j}, {i}) ({where}). Fix: pass (S + S.T) / 2 or "
            f"S.maximum(S.T)."
        )
    # key is sorted (arcs are row-major); compare with the mirrored values.
    mirrored = s[order]
    bad = np.abs(s - mirrored) > _SYMMETRY_TOL * np.maximum(1.0, np.abs(s))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"`scores` must be symmetric within {_SYMMETRY_TOL:g}; got scores[{r[k]}, {c[k]}] "
            f"= {float(s[k])!r} but scores[{c[k]}, {r[k]}] = {float(mirrored[k])!r} "
            f"({where}). Fix: pass (S + S.T) / 2."
        )


def _edges(problem: ScoreProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undirected candidate pairs ``u < v`` with their scores, in row-major order.

    A dense matrix is read strip by strip over its upper triangle (no list of
    all ``n x n`` arcs is made).
    """
    if problem.dense is None:
        r, c, s = problem.arcs()
        keep = r < c
        return r[keep], c[keep], s[keep]
    S, mask = problem.dense, problem.mask
    us, vs, ss = [], [], []
    for i0, i1 in _upper_blocks(S.shape[0]):
        strip = (
            np.ones((i1 - i0, S.shape[0] - i0), dtype=bool) if mask is None else mask[i0:i1, i0:]
        )
        strip = np.triu(strip, 1)
        r, c = np.nonzero(strip)
        us.append(r.astype(np.int64) + i0)
        vs.append(c.astype(np.int64) + i0)
        ss.append(S[i0:i1, i0:][strip])
    if not us:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0, np.float64)
    return (
        np.concatenate(us),
        np.concatenate(vs),
        np.concatenate(ss).astype(np.float64, copy=False),
    )


# --------------------------------------------------------------------------
# Exact: Edmonds' blossom algorithm (networkx) on integer weights
# --------------------------------------------------------------------------


def _blossom(
    n: int, u: np.ndarray, v: np.ndarray, weight: np.ndarray | list[int] | None
) -> list[tuple]:
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    if weight is None:
        graph.add_edges_from(zip(u.tolist(), v.tolist(), strict=True), weight=1)
    else:
        w = weight.tolist() if isinstance(weight, np.ndarray) else weight
        graph.add_weighted_edges_from(zip(u.tolist(), v.tolist(), w, strict=True))
    pairs = nx.max_weight_matching(graph, maxcardinality=True)
    return [(min(a, b), max(a, b)) for a, b in pairs]


def _blossom_threshold(n: int, u: np.ndarray, v: np.ndarray, s: np.ndarray) -> float:
    """Largest threshold keeping the maximum number of pairs (one blossom per step)."""
    target = len(_blossom(n, u, v, None))
    distinct = np.unique(s)[::-1]
    lo, hi = 0, distinct.size - 1
    while lo < hi:
        mid = (lo + hi) // 2
        keep = s >= distinct[mid]
        if len(_blossom(n, u[keep], v[keep], None)) >= target:
            hi = mid
        else:
            lo = mid + 1
    return float(distinct[lo])


def _exact(
    n: int, u: np.ndarray, v: np.ndarray, s: np.ndarray, fair: bool
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], Scaling]:
    """Most pairs, then (after the fair threshold) the best total: Edmonds' blossom."""
    info: dict[str, Any] = {}
    if fair and u.size:
        info["threshold"] = threshold = _blossom_threshold(n, u, v, s)
        keep = s >= threshold
        u, v, s = u[keep], v[keep], s[keep]
    # Python integers keep the blossom algorithm's dual arithmetic exact, at any
    # size: every float score is a whole multiple of a power of two, so the
    # weights below are the scores exactly (minus the smallest, which shifts
    # every maximum-cardinality matching's total alike).
    scaling = integer_scale(s, limit=2.0**52, shift=True)
    weights: np.ndarray | list[int] = scaling.integers(s)
    if not scaling.exact:
        exact = exact_integers(s)
        if exact is not None:
            weights, scale = exact
            scaling = Scaling(scale, True)
    pairs = _blossom(n, u, v, weights)
    rows = np.array([p[0] for p in pairs], dtype=np.int64)
    cols = np.array([p[1] for p in pairs], dtype=np.int64)
    return rows, cols, info, scaling


# --------------------------------------------------------------------------
# Fast: bipartite double cover, rounded, then repaired and improved
# --------------------------------------------------------------------------


def _best_on_path(nodes: list[int], w: list[float]) -> list[int]:
    """Indices t of path edges (nodes[t], nodes[t+1]) in a best (count, weight) matching."""
    k = len(w)
    best: list[tuple[int, float]] = [(0, 0.0)] * (k + 2)
    take = [False] * (k + 2)
    # best[t] = best over edges t..k-1
    for t in range(k - 1, -1, -1):
        skip = best[t + 1]
        nxt = best[t + 2]
        with_t = (nxt[0] + 1, nxt[1] + w[t])
        if with_t > skip:
            best[t], take[t] = with_t, True
        else:
            best[t] = skip
    chosen, t = [], 0
    while t < k:
        if take[t]:
            chosen.append(t)
            t += 2
        else:
            t += 1
    return chosen


def _round_cover(n: int, succ: np.ndarray, weight_of: Any) -> list[tuple[int, int]]:
    """Turn a double-cover matching (i -> succ[i]) into a matching of the pool.

    The arcs form vertex-disjoint paths and cycles; each gets its best
    (count, weight) matching: alternate edges on paths and even cycles, one
    vertex dropped on odd cycles.
    """
    pred = np.full(n, -1, dtype=np.int64)
    has = succ >= 0
    pred[succ[has]] = np.flatnonzero(has)
    seen = np.zeros(n, dtype=bool)
    pairs: list[tuple[int, int]] = []
    succ_l = succ.tolist()

    def take(nodes: list[int], closed: bool) -> None:
        if len(nodes) < 2:
            return
        if closed and len(nodes) == 2:
            pairs.append((nodes[0], nodes[1]))
            return
        w = [weight_of(nodes[t], nodes[t + 1]) for t in range(len(nodes) - 1)]
        if not closed:
            for t in _best_on_path(nodes, w):
                pairs.append((nodes[t], nodes[t + 1]))
            return
        w_close = weight_of(nodes[-1], nodes[0])
        a = _best_on_path(nodes, w)  # without the closing edge
        rot = nodes[1:] + nodes[:1]
        b = _best_on_path(rot, [*w[1:], w_close])  # without edge (nodes[0], nodes[1])
        score_a = (len(a), sum(w[t] for t in a))
        wb = [*w[1:], w_close]
        score_b = (len(b), sum(wb[t] for t in b))
        if score_a >= score_b:
            pairs.extend((nodes[t], nodes[t + 1]) for t in a)
        else:
            pairs.extend((rot[t], rot[t + 1]) for t in b)

    for start in np.flatnonzero((pred < 0) & has).tolist():
        nodes = [start]
        seen[start] = True
        x = succ_l[start]
        while x >= 0 and not seen[x]:
            nodes.append(x)
            seen[x] = True
            x = succ_l[x]
        take(nodes, closed=False)
    for start in np.flatnonzero(~seen & has).tolist():
        if seen[start]:
            continue
        nodes = [start]
        seen[start] = True
        x = succ_l[start]
        while x >= 0 and not seen[x]:
            nodes.append(x)
            seen[x] = True
            x = succ_l[x]
        take(nodes, closed=True)
    return [(min(a, b), max(a, b)) for a, b in pairs]


@dataclasses.dataclass
class _Candidates:
    """Candidate pairs ``u < v`` of a pool of ``n`` (row-major order) with their scores."""

    n: int
    u: np.ndarray
    v: np.ndarray
    s: np.ndarray

    @functools.cached_property
    def neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR neighbour lists ``(indptr, indices)``, each list ascending (computed once).

        The pairs are row-major, so listing ``(v, u)`` before ``(u, v)`` and
        sorting stably by the first person (a radix sort on 16-bit keys up to
        65,536 people) leaves every list ascending: the order in which a
        plain loop over the pairs would have appended them.
        """
        heads = np.concatenate([self.v, self.u])
        tails = np.concatenate([self.u, self.v])
        key = heads.astype(np.uint16) if self.n <= 1 << 16 else heads
        order = np.argsort(key, kind="stable")
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(heads, minlength=self.n), out=indptr[1:])
        return indptr, tails[order].astype(np.int64, copy=False)


#: First band of the greedy pass, in candidate pairs per person; later bands double.
_GREEDY_BAND = 4


def _greedy(mate: np.ndarray, cand: _Candidates) -> int:
    """Pair free people along the candidate pairs, best score first; how many stay free.

    The same pairs as one loop over every pair in stable descending score
    order, without sorting them all: the pairs scoring at least the band's
    cut-off are sorted and walked, then the pairs below it whose two people
    are both still free form the next, twice larger, band.
    """
    u, v, s = cand.u, cand.v, cand.s
    free = mate < 0
    n_free = int(np.count_nonzero(free))
    idx = np.flatnonzero(free[u] & free[v])  # ascending: ties keep the pairs' order
    band = _GREEDY_BAND * cand.n
    while idx.size and n_free >= 2:
        vals = s[idx]
        if idx.size > band:
            cut = np.partition(vals, idx.size - band)[idx.size - band]
            top = vals >= cut  # a split by value: the bands keep the global order
        else:
            top = np.ones(idx.size, dtype=bool)
        chosen = idx[top]
        chosen = chosen[np.argsort(-vals[top], kind="stable")]
        for a, b in zip(u[chosen].tolist(), v[chosen].tolist(), strict=True):
            if mate[a] < 0 and mate[b] < 0:
                mate[a], mate[b] = b, a
                n_free -= 2
                if n_free < 2:
                    break
        idx = idx[~top]
        idx = idx[(mate[u[idx]] < 0) & (mate[v[idx]] < 0)]
        band *= 2
    return n_free


def _augment3(mate: np.ndarray, cand: _Candidates) -> None:
    """Augmenting paths of length three, free x – a = b – free y becoming x – a, b – y.

    Free people in ascending order, repeated until no path is found; for each,
    its neighbours ``a`` in ascending order and ``b``'s first free neighbour
    ``y``. ``free_nbrs`` (free neighbours per person) finds a usable ``b``
    without scanning every neighbour list.
    """
    indptr, indices = cand.neighbours
    u, v = cand.u, cand.v
    free = mate < 0
    free_nbrs = np.bincount(np.concatenate([u[free[v]], v[free[u]]]), minlength=cand.n)
    near_x = np.zeros(cand.n, dtype=bool)

    def matched(p: int) -> None:
        free[p] = False
        free_nbrs[indices[indptr[p] : indptr[p + 1]]] -= 1

    changed = True
    while changed:
        changed = False
        for x in np.flatnonzero(free).tolist():
            if not free[x]:
                continue
            around = indices[indptr[x] : indptr[x + 1]]
            partner = mate[around]
            near_x[around] = True
            # b = a's partner has a free neighbour other than x (x counts if adjacent to b)
            b_ = np.maximum(partner, 0)
            ok = (partner >= 0) & (free_nbrs[b_] - near_x[b_] > 0)
            near_x[around] = False
            hits = np.flatnonzero(ok)
            if hits.size == 0:
                continue
            a, b = int(around[hits[0]]), int(partner[hits[0]])
            nb = indices[indptr[b] : indptr[b + 1]]
            y = int(nb[free[nb] & (nb != x)][0])
            mate[x], mate[a] = a, x
            mate[b], mate[y] = y, b
            matched(x)
            matched(y)
            changed = True


def _complete(mate: np.ndarray, cand: _Candidates) -> None:
    """Grow the matching in place: pair free people greedily, then augment.

    First, allowed pairs of two free people, best score first (so nobody is
    left out while an allowed partner is free). Then augmenting paths of
    length three: free x – a = b – free y becomes x – a, b – y. Vectorised
    (score bands, a CSR neighbour list), with the same answer as plain loops.
    """
    if _greedy(mate, cand) >= 2:
        _augment3(mate, cand)


#: Vertices the alternating-path searches of :func:`_augment_paths` may label in all.
_AUGMENT_VISITS = 4_000_000


def _flip(mate: np.ndarray, parent: np.ndarray, x: int, a: int, b: int) -> None:
    """Augment along the tree path ``x .. a`` plus the edge ``a - b`` (``x``, ``b`` free)."""
    outer, partner = a, b
    while True:
        inner = int(mate[outer])
        mate[outer], mate[partner] = partner, outer
        if outer == x:
            return
        outer, partner = int(parent[inner]), inner


def _augment_paths(mate: np.ndarray, cand: _Candidates, deadline: float | None) -> None:
    """Augmenting paths of any length, by an alternating search from each free person.

    A breadth-first alternating tree (outer: reached by a matched edge, or
    the root; inner: reached from an outer person) without blossom
    shrinking: every path it finds is simple and augments the matching, but
    a path that needs an odd cycle traversed the other way is missed, so the
    count is not always maximum. The searches label at most
    :data:`_AUGMENT_VISITS` people in all and stop at ``deadline``.
    """
    indptr, indices = cand.neighbours
    n = cand.n
    stamp = np.full(n, -1, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    visits = 0
    for x in np.flatnonzero(mate < 0).tolist():
        if mate[x] >= 0 or visits > _AUGMENT_VISITS or not _fits(deadline, 0.0):
            continue
        stamp[x] = x
        queue = [x]
        head = 0
        while head < len(queue):
            a = queue[head]
            head += 1
            nb = indices[indptr[a] : indptr[a + 1]]
            partner = mate[nb]
            free = np.flatnonzero((partner < 0) & (nb != x))
            if free.size:
                _flip(mate, parent, x, a, int(nb[free[0]]))
                break
            fresh = (stamp[nb] != x) & (partner >= 0)
            fresh &= stamp[np.maximum(partner, 0)] != x
            inner, outer = nb[fresh], partner[fresh]
            # an outer person reached twice in this step keeps its first inner one
            outer, first = np.unique(outer, return_index=True)
            inner = inner[first]
            stamp[inner] = x
            stamp[outer] = x
            parent[inner] = a
            visits += 2 * inner.size
            queue.extend(outer.tolist())


def _two_opt(
    D: np.ndarray, mate: np.ndarray, work: float | None, deadline: float | None
) -> tuple[int, bool]:
    """Improve a matching on a dense score matrix (-inf = forbidden) in place.

    Moves, applied best first while they gain: re-pair two pairs (a, b),
    (c, d) as (a, c), (b, d) or (a, d), (b, c); or let a free person x take
    a's place beside b. Runs at most :data:`_SWAP_ROUNDS` rounds and ``work``
    cells of gain evaluation (deterministic), and stops at ``deadline`` (the
    wall-clock cap). Returns ``(rounds run, stopped by the deadline)``.
    """
    rounds = 0
    spent = 0.0
    n = D.shape[0]
    while rounds < _SWAP_ROUNDS:
        a = np.flatnonzero((mate >= 0) & (np.arange(n) < np.maximum(mate, 0)))
        b = mate[a]
        w = D[a, b]
        k = a.size
        if k == 0:
            break
        cost = float(k) * float(k + np.count_nonzero(mate < 0))
        if work is not None and spent + cost > work:
            break
        if _ortools.past(deadline):
            return rounds, True
        spent += cost
        rounds += 1
        g1 = D[np.ix_(a, a)] + D[np.ix_(b, b)]
        g2 = D[np.ix_(a, b)] + D[np.ix_(b, a)]
        with np.errstate(invalid="ignore"):
            gain = np.maximum(g1, g2) - w[:, None] - w[None, :]
        gain[np.tril_indices(k)] = -np.inf
        free = np.flatnonzero(mate < 0)
        moves: list[tuple[float, int, int, int]] = []
        p, q = np.nonzero(gain > 1e-12 * max(1.0, float(np.max(np.abs(w)))))
        for i, j in zip(p.tolist(), q.tolist(), strict=True):
            kind = 1 if g1[i, j] >= g2[i, j] else 2
            moves.append((float(gain[i, j]), kind, i, j))
        if free.size:
            # Free x replaces a (partner of b) or b (partner of a).
            ga = D[np.ix_(free, b)] - w[None, :]
            gb = D[np.ix_(free, a)] - w[None, :]
            for g, kind in ((ga, 3), (gb, 4)):
                fx, pj = np.nonzero(g > 1e-12 * max(1.0, float(np.max(np.abs(w)))))
                for x, j in zip(fx.tolist(), pj.tolist(), strict=True):
                    moves.append((float(g[x, j]), kind, int(free[x]), j))
        if not moves:
            break
        moves.sort(key=lambda t: -t[0])
        touched = np.zeros(n, dtype=bool)
        applied = 0
        for _, kind, i, j in moves:
            nodes = (a[i], b[i], a[j], b[j]) if kind in (1, 2) else (i, a[j], b[j])
            if touched[list(nodes)].any():
                continue
            touched[list(nodes)] = True
            applied += 1
            if kind == 1:
                x1, y1, x2, y2 = a[i], a[j], b[i], b[j]
            elif kind == 2:
                x1, y1, x2, y2 = a[i], b[j], b[i], a[j]
            elif kind == 3:  # x joins b; a leaves
                mate[a[j]] = -1
                mate[i], mate[b[j]] = b[j], i
                continue
            else:  # x joins a; b leaves
                mate[b[j]] = -1
                mate[i], mate[a[j]] = a[j], i
                continue
            mate[x1], mate[y1] = y1, x1
            mate[x2], mate[y2] = y2, x2
        if not applied:
            break
    return rounds, False


#: Wall-clock seconds per arc of the sparse cover's set-up that no deadline can stop
#: (maximum matching, Dulmage–Mendelsohn blocks, integer scale: measured about 0.6 µs
#: per arc on an idle machine at 10 million arcs), with a margin for a loaded one.
_PREP_SECONDS_PER_ARC = 1e-6

#: Wall-clock seconds per arc of the sparse cover's whole solve (set-up and assignment:
#: measured 3-4 µs per arc at 20,000-50,000 people with 50 candidates each): a solve
#: estimated to overrun the deadline is not started, and the heuristic gets the time.
_COVER_SECONDS_PER_ARC = 3e-6

#: The heuristic fallback (the dual bound and greedy pairs) costs about this share of
#: the set-up's time per arc (measured 0.2-0.3 µs per arc on an idle machine, three
#: times that on a loaded one): kept back from the cover solve.
_FALLBACK_PER_PREP = 1.0

#: The start of :func:`~pairwise.solvers._peers_sparse.dual_bound` (one sort and one
#: pass over the arcs) costs about this share of the set-up's time per arc (measured
#: about 40 ns per arc); its tightening rounds stop at the deadline.
_DUAL_START_PER_PREP = 0.05


def _fits(deadline: float | None, seconds: float) -> bool:
    """Whether ``seconds`` of work that cannot be stopped still fit before ``deadline``."""
    return deadline is None or time.perf_counter() + seconds < deadline


@dataclasses.dataclass(frozen=True)
class _Clock:
    """The fast method's deterministic swap budget (cells) and wall-clock cap."""

    work: float | None
    deadline: float | None


def _fast(
    problem: ScoreProblem,
    u: np.ndarray,
    v: np.ndarray,
    s: np.ndarray,
    clock: _Clock,
    seed: int,
    everyone: _Candidates | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Double cover, rounding, completion and pair swaps (see :func:`peer_pairs`, Notes).

    ``everyone``: every candidate pair, when ``u, v, s`` keep only those at
    or above a threshold (they still complete the matching, count first).
    """
    n = problem.shape[0]
    info: dict[str, Any] = {}
    cand = _Candidates(n, u, v, s)
    dense = problem.dense is not None and n * n <= 25_000_000
    D = None
    try:
        if dense:
            D = np.full((n, n), -np.inf)
            D[u, v] = s
            D[v, u] = s
            # SciPy's dense solve holds the GIL: large ones run where the cap can stop them.
            solved = _ortools.run_cancellable(
                solve_dense, D, seed, deadline=clock.deadline, arcs=n * n
            )
        else:
            # A cover solve that cannot end in time is not started, and one that runs
            # stops early enough for the heuristic and its bound: they get the time.
            per_arc = max(_PREP_SECONDS_PER_ARC, _COVER_SECONDS_PER_ARC)
            fallback = 2 * u.size * _FALLBACK_PER_PREP * _PREP_SECONDS_PER_ARC
            cover_deadline = None if clock.deadline is None else clock.deadline - fallback
            if not _fits(cover_deadline, 2 * u.size * per_arc):
                raise _ortools.DeadlineExceeded
            with _ortools.wall_deadline(cover_deadline):
                solved = solve_sparse(
                    n,
                    n,
                    np.concatenate([u, v]),
                    np.concatenate([v, u]),
                    np.concatenate([s, s]),
                    mate=cover_mate(n, u, v, None),
                )
    except _ortools.DeadlineExceeded:
        return _heuristic(cand, everyone, info, clock.deadline)
    if solved.stopped_by_time_limit:
        return _heuristic(cand, everyone, info, clock.deadline)
    succ = np.full(n, -1, dtype=np.int64)
    succ[solved.rows] = solved.cols
    cover_card = int(solved.rows.size)
    key = u * n + v  # ascending: the pairs are row-major

    def weight_of(a: int, b: int) -> float:
        if D is not None:
            return float(D[a, b])
        lo, hi = (a, b) if a < b else (b, a)
        return float(s[np.searchsorted(key, lo * n + hi)])

    pairs = _round_cover(n, succ, weight_of)
    mate = np.full(n, -1, dtype=np.int64)
    for a, b in pairs:
        mate[a], mate[b] = b, a
    _complete(mate, cand)
    if D is not None:
        info["improve_rounds"], stopped = _two_opt(D, mate, clock.work, clock.deadline)
        if stopped:
            info["stopped_by_time_limit"] = True
        _complete(mate, cand)
    elif int(np.count_nonzero(mate >= 0)) < cover_card:
        # sparse candidates: few alternatives per person, so longer paths count
        _augment_paths(mate, cand, clock.deadline)
    if everyone is not None:
        # Below-threshold pairs still beat leaving two people out (count first).
        _complete(mate, everyone)
        if D is None and int(np.count_nonzero(mate >= 0)) < cover_card:
            _augment_paths(mate, everyone, clock.deadline)
    rows = np.flatnonzero((mate >= 0) & (np.arange(n) < mate))
    cols = mate[rows]
    # Upper bound: every matching doubles into a double-cover matching.
    cover_value = (
        float(D[solved.rows, solved.cols].sum())
        if D is not None
        else float(
            np.sum(
                [weight_of(int(a), int(b)) for a, b in zip(solved.rows, solved.cols, strict=True)]
            )
        )
    )
    if 2 * rows.size == cover_card:
        # Same count as the cover's maximum / 2: our count is maximum, and the
        # doubled optimum is a maximum-cardinality cover matching.
        info["bound"] = cover_value / 2.0
        info["max_cardinality"] = True
    else:
        try:
            with _ortools.wall_deadline(clock.deadline):
                info["bound"] = _any_cardinality_bound(n, u, v, s, D, seed) / 2.0
        except _ortools.DeadlineExceeded:
            # keep the matching; the bound comes from feasible duals instead (looser)
            info.update(_dual(cand if everyone is None else everyone, clock.deadline))
            info["stopped_by_time_limit"] = True
        info["max_cardinality"] = False
    info["cover_pairs"] = cover_card
    return rows, cols, info


def _heuristic(
    cand: _Candidates, everyone: _Candidates | None, info: dict[str, Any], deadline: float | None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """When the cover solve does not fit the clock: greedy, augmenting paths, pair swaps.

    The bound comes from feasible LP duals (:func:`~pairwise.solvers._peers_sparse.dual_bound`,
    looser than the cover's optimum), computed before the improving steps use the time left.
    """
    n = cand.n
    every = cand if everyone is None else everyone
    # the bound first (it does not depend on the pairs), then pair and improve
    info.update(_dual(every, deadline), max_cardinality=False)
    mate = np.full(n, -1, dtype=np.int64)
    _complete(mate, cand)
    if everyone is not None:
        _complete(mate, everyone)
    _augment_paths(mate, every, deadline)
    info["improve_rounds"] = swap_improve(mate, every.u, every.v, every.s, deadline)
    info["stopped_by_time_limit"] = True  # the clock chose this fallback over the cover solve
    rows = np.flatnonzero((mate >= 0) & (np.arange(n) < mate))
    return rows, mate[rows], info


def _dual(cand: _Candidates, deadline: float | None) -> dict[str, Any]:
    """The dual bound when its start fits before ``deadline`` (else none, flagged).

    Its start (half of everyone's best score) is already a bound; the
    tightening rounds stop at ``deadline``.
    """
    if not _fits(deadline, 2 * cand.u.size * _DUAL_START_PER_PREP * _PREP_SECONDS_PER_ARC):
        return {"bound": None, "stopped_by_time_limit": True}
    bound = dual_bound(cand.n, cand.u, cand.v, cand.s, deadline)
    return {"bound": bound, "bound_method": "dual"}


def _any_cardinality_bound(
    n: int, u: np.ndarray, v: np.ndarray, s: np.ndarray, D: np.ndarray | None, seed: int
) -> float:
    """Maximum weight of a double-cover matching of any size (non-negative arcs).

    Raises :class:`~pairwise.solvers._ortools.DeadlineExceeded` when the
    enclosing :func:`~pairwise.solvers._ortools.wall_deadline` passes first.
    """
    pos = s > 0
    if not pos.any():
        return 0.0
    if D is not None:
        C = np.where(np.isfinite(D), np.maximum(D, 0.0), 0.0)
        # a dense solve holds the GIL: under a deadline it runs where the deadline can stop it
        mate, _ = dense_full_within_deadline(C, None, seed)
        return float(C[np.arange(n), mate].sum())
    uu, vv, ss = u[pos], v[pos], s[pos]
    r = np.concatenate([uu, vv, np.arange(n)])
    c = np.concatenate([vv, uu, n + np.arange(n)])
    w = np.concatenate([ss, ss, np.zeros(n)])
    rows, cols, _ = ortools_full(n, 2 * n, r, c, w)
    real = cols < n
    key = np.minimum(rows[real], cols[real]) * n + np.maximum(rows[real], cols[real])
    ekey = uu * n + vv
    order = np.argsort(ekey)
    return float(ss[order][np.searchsorted(ekey[order], key)].sum())


def _exact_affordable(n: int, s: np.ndarray, objective: str, time_limit: float | None) -> bool:
    """Whether the exact method's estimated work fits :data:`EXACT_WORK` or ``time_limit``."""
    work = float(n) * float(max(s.size, 1))
    if objective == "fair":
        work *= math.log2(max(2, np.unique(s).size)) + 2
    budget = EXACT_WORK if time_limit is None else WORK_SHARE * time_limit / _SECONDS_PER_WORK
    return work <= budget


def _fast_pairs(
    problem: ScoreProblem,
    u: np.ndarray,
    v: np.ndarray,
    s: np.ndarray,
    fair: bool,
    clock: _Clock,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The fast method; with ``fair``, on the pairs at or above the cover's threshold."""
    n = problem.shape[0]
    if not fair:
        return _fast(problem, u, v, s, clock, seed)
    # Cover threshold: the largest one keeping the cover's cardinality.
    threshold = matching_threshold(
        n, n, np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([s, s])
    )
    assert threshold is not None  # there is a candidate pair, so the cover matches someone
    keep = s >= threshold
    everyone = _Candidates(n, u, v, s)
    rows, cols, info = _fast(problem, u[keep], v[keep], s[keep], clock, seed, everyone)
    return rows, cols, {"threshold": threshold, **info}


def _settle(result: MatchingResult, objective: str) -> MatchingResult:
    """A fast result with its bound; optimal when it meets a maximum-cardinality bound."""
    status: Status = "feasible"
    stopped = bool(result.options.pop("stopped_by_time_limit", False))
    if result.options["bound"] is None:
        return dataclasses.replace(result, status=status, bound=None, stopped_by_time_limit=True)
    bound = float(result.options["bound"])
    # Float rounding of the two sums only (never a relative 1e-9, which would call
    # a matching optimal while it loses real score differences on large scores).
    tol = _SUM_RTOL * (result.n_matched + 2) * (abs(bound) + abs(result.objective))
    if (
        objective == "total"
        and result.options.get("max_cardinality")
        and result.objective >= bound - tol
    ):
        status, bound = "optimal", result.objective
    return dataclasses.replace(result, status=status, bound=bound, stopped_by_time_limit=stopped)


def peer_pairs(
    scores: npt.ArrayLike | sp.sparray | sp.spmatrix,
    allowed: npt.ArrayLike | None = None,
    *,
    objective: str = "total",
    time_limit: float | None = None,
    seed: int = 0,
) -> MatchingResult:
    """Pair people of one pool as learning partners (each in at most one pair).

    Maximises, in this order: the number of pairs; with ``objective="fair"``
    the lowest pair score; the total score.

    Parameters
    ----------
    scores : array_like (n, n) or scipy.sparse matrix
        Symmetric compatibility (within 1e-9), larger is better; the diagonal
        is never used. A sparse matrix lists the candidate pairs (both
        ``(i, j)`` and ``(j, i)`` must be stored).
    allowed : array_like of bool (n, n), optional
        Symmetric hard mask (dense ``scores`` only).
    objective : {"total", "fair"}
    time_limit : float, optional
        Wall-clock seconds for the call. It decides, from the instance size
        alone, whether the exact method fits 0.4 × ``time_limit`` (None: up to
        :data:`EXACT_WORK`), and sizes the fast method's pair-swap budget
        (a deterministic number of rounds, so the same seed gives the same
        pairs on an idle or a loaded machine). The wall clock only caps: if
        the machine is so slow that the fast method would overrun
        ``time_limit``, the pairs so far are kept with
        ``stopped_by_time_limit=True`` (and ``bound=None`` if the bound was
        not reached). Every step is quick or stoppable (large cover and bound
        solves run in a child process the cap and Ctrl-C can stop; a cut
        cover leaves the greedy completion), so pools of 3,000-6,000 people
        return within about ``1.1 * time_limit + 1`` s, idle or loaded.
    seed : int
        Seeds the fast method's sampling; results are deterministic per seed.

    Returns
    -------
    MatchingResult
        ``rows < cols``, sorted by ``rows``. ``status="optimal"`` from the
        exact method (or when the fast method meets its own bound);
        ``"feasible"`` otherwise, with ``bound`` an upper bound on the total
        of any matching.

    Raises
    ------
    InputError
        Not square, not symmetric (``Fix: pass (S + S.T) / 2``), asymmetric
        ``allowed``, NaN/inf on allowed pairs, unknown ``objective``, bad
        ``time_limit`` or ``seed``.

    Notes
    -----
    *Exact* (small pools): Edmonds' blossom algorithm
    (``networkx.max_weight_matching(maxcardinality=True)``) on integer weights
    that are the scores exactly (every float is a whole multiple of a power of
    two; Python integers do not overflow), which is precisely "most pairs,
    then best total". The fast method says ``"optimal"`` only when its total
    meets its bound up to float64 rounding. ``objective="fair"`` first finds
    the largest threshold keeping the maximum number of pairs (binary search,
    one cardinality matching per step).

    *Fast* (large pools): the bipartite double cover (every person on both
    sides, diagonal forbidden) is solved exactly as an assignment problem
    (:func:`one_to_one`'s machinery). Any matching doubles into a cover
    matching, so half its value bounds the best total. Its arcs form paths and
    cycles; each is rounded to its best matching (odd cycles drop one
    person), free people are paired greedily and by short augmenting paths,
    then pair swaps improve the total until no swap gains or ``time_limit``
    runs out. Measured gap to the exact optimum: see
    ``benchmarks/bench_peers.py``. With ``objective="fair"`` the fast method
    uses the cover's threshold (largest threshold keeping the cover's maximum
    cardinality) and reports ``status="feasible"``.

    *Sparse candidates against the clock*: a sparse cover solve estimated not
    to end before the deadline (about 3 µs per arc) is not started, and one
    that runs stops early enough for the fallback. The fallback pairs people
    greedily, then by augmenting paths and pair swaps along the candidate
    pairs until the deadline, with ``stopped_by_time_limit=True`` and
    ``options["bound_method"] = "dual"``: the bound is ``sum(y)`` for
    feasible LP duals (``y_i + y_j >= max(s_ij, 0)`` on every candidate pair,
    ``y >= 0``), valid for every matching of the candidates but looser than
    the cover's optimum (about 12% above it at 50,000 people with 50
    candidates each). It is None only when not even the bound fits.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.array([[0, 5, 1, 1], [5, 0, 1, 1], [1, 1, 0, 4], [1, 1, 4, 0]], dtype=float)
    >>> res = peer_pairs(S)
    >>> res.rows.tolist(), res.cols.tolist(), res.objective
    ([0, 2], [1, 3], 9.0)
    """
    started = time.perf_counter()
    where = "peer_pairs"
    problem = check_scores(scores, allowed, where)
    _check_symmetric(problem, where)
    objective = check_objective(objective, where)
    time_limit = check_time_limit(time_limit, where)
    seed = check_seed(seed, where)
    n = problem.shape[0]
    u, v, s = _edges(problem)
    options: dict[str, Any] = {"objective": objective, "time_limit": time_limit}
    scaling: Scaling | None = None
    status: Status = "optimal"
    if u.size == 0:
        rows, cols, method = np.empty(0), np.empty(0), "empty"
    elif _exact_affordable(n, s, objective, time_limit):
        rows, cols, info, scaling = _exact(n, u, v, s, objective == "fair")
        options.update(info)
        method = "blossom"
    else:
        clock = _Clock(
            None if time_limit is None else WORK_SHARE * time_limit * _SWAP_CELLS_PER_SECOND,
            _ortools.deadline_after(started, time_limit),
        )
        rows, cols, info = _fast_pairs(problem, u, v, s, objective == "fair", clock, seed)
        options.update(info)
        method, status = "double-cover", "feasible"
    solved = Solved(rows, cols, method, scaling)
    result = finish(
        problem,
        solved,
        weights=None,
        started=started,
        seed=seed,
        options=options,
        status=status,
        sort_by="row",
    )
    return _settle(result, objective) if status == "feasible" else result
