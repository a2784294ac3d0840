"""Sparse full matchings on OR-Tools' cost-scaling assignment, with the arcs in its fast order.

OR-Tools' ``SimpleLinearSumAssignment`` keeps the arcs in the order they are
added and scans each left node's arcs in that order. Measured on 20,000 x
20,000 candidate sets (50 per mentee, 1M arcs; CPU seconds of ``solve``):
arcs grouped by left node run 10-30x faster than the same arcs in random or
right-node order, and within each left node the cheapest arcs *last* a
further 20-25% faster than cheapest first (the solver's arc lists run from
the last arc added). :func:`order_arcs` puts arcs in that order with one
integer sort, and :func:`lsa_mates` solves.
"""

from __future__ import annotations

import numpy as np

from pairwise.errors import SolverError
from pairwise.solvers import _ortools

__all__ = ["lsa_mates", "order_arcs"]

# Keys ``tail * span + rank`` stay below this (int64 with a margin).
_KEY_LIMIT = 2**62


def order_arcs(
    tails: np.ndarray, heads: np.ndarray, costs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arcs grouped by tail (ascending), each tail's arcs from the dearest to the cheapest.

    Parameters
    ----------
    tails, heads : ndarray of int
        Left and right node of each arc.
    costs : ndarray of int64
        Cost of each arc (the solver minimises).

    Returns
    -------
    (tails, heads, costs)
        The same arcs, reordered; int64 arrays.

    Examples
    --------
    >>> t, h, c = order_arcs(np.array([1, 0, 0]), np.array([0, 0, 1]), np.array([5, -2, 3]))
    >>> t.tolist(), h.tolist(), c.tolist()
    ([0, 0, 1], [1, 0, 0], [3, -2, 5])
    """
    tails = np.asarray(tails, dtype=np.int64)
    heads = np.asarray(heads, dtype=np.int64)
    costs = np.asarray(costs, dtype=np.int64)
    if tails.size < 2:
        return tails, heads, costs
    top = int(costs.max())
    span = top - int(costs.min()) + 1
    if span * (int(tails.max()) + 1) < _KEY_LIMIT:
        # one buffer for the key (tail, then dearest first), built in place
        key = np.multiply(tails, span)
        key += top
        key -= costs
        order = np.argsort(key, kind="stable")
        del key
    else:
        order = np.lexsort((-costs, tails))
    if not np.any(tails[1:] < tails[:-1]):
        # already grouped by tail (a CSR matrix's rows): the order moves arcs within a tail only
        return tails, heads[order], costs[order]
    return tails[order], heads[order], costs[order]


def lsa_mates(n: int, tails: np.ndarray, heads: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """OR-Tools' ``SimpleLinearSumAssignment`` on the arcs: the right node of each of the n left.

    The problem must be square with a perfect matching (see
    :func:`pairwise.solvers._lsap.ortools_full`); the arcs are put in the
    solver's fast order first (:func:`order_arcs`).

    Examples
    --------
    >>> lsa_mates(2, np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([-3, -1, -2])).tolist()
    [1, 0]
    """
    tails, heads, costs = order_arcs(tails, heads, costs)
    solver = _ortools.linear_sum_assignment().SimpleLinearSumAssignment()
    solver.add_arcs_with_cost(tails, heads, costs)
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise SolverError(
            f"the assignment solver stopped with status {status.name} on a problem that has "
            f"a full matching; this should not happen. Fix: report it with the input, or pass "
            f"a dense matrix."
        )
    return np.fromiter((solver.right_mate(i) for i in range(n)), dtype=np.int64, count=n)
