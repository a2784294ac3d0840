"""Exact MDGP on small inputs: dynamic programming over subsets of the elements."""

from __future__ import annotations

import numpy as np

#: Largest ``n`` solved exactly (dynamic programming over subsets: about
#: ``n_groups * 3**n`` steps, kept under ``EXACT_MAX_WORK``: about a second).
EXACT_MAX_N = 14
EXACT_MAX_WORK = 35_000_000

_NEG = -np.inf


def _exact_fits(n: int, n_groups: int) -> bool:
    """Whether :func:`_exact_dp` solves ``n`` elements in ``n_groups`` groups in about a second."""
    return n <= EXACT_MAX_N and n_groups * 3**n <= EXACT_MAX_WORK


def _exact_dp(d: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, float]:
    """Optimal labels by dynamic programming over subsets (groups taken in order).

    ``best_g[mask]`` is the best value of filling groups ``0..g`` with exactly
    the elements of ``mask``. Pairs (mask, submask) are enumerated once as the
    ``3**n`` ternary vectors, so each group costs a few vectorised passes.
    Returns ``(labels, value)``.
    """
    n = d.shape[0]
    weight, popcount = _subset_tables(d)
    layers, value = _fill_layers(n, weight, popcount, lower, upper)
    labels = _trace_back(n, weight, popcount, layers, lower, upper)
    return labels, value


def _subset_tables(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per subset mask: the sum of ``d`` over its pairs and its number of elements."""
    n = d.shape[0]
    size = 1 << n
    weight = np.zeros(size)
    popcount = np.zeros(size, dtype=np.int16)
    for b in range(n):
        row = np.zeros(1)
        for j in range(b):
            row = np.concatenate([row, row + d[b, j]])
        weight[1 << b : 1 << (b + 1)] = weight[: 1 << b] + row
        popcount[1 << b : 1 << (b + 1)] = popcount[: 1 << b] + 1
    return weight, popcount


def _fill_layers(
    n: int,
    weight: np.ndarray,
    popcount: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> tuple[list[np.ndarray], float]:
    """The DP layers ``best_{g-1}`` for every group ``g``, and the optimal value."""
    k = lower.shape[0]
    size = 1 << n
    masks = np.zeros(1, dtype=np.int32)
    subs = np.zeros(1, dtype=np.int32)
    for b in range(n):
        bit = np.int32(1 << b)
        masks = np.concatenate([masks, masks | bit, masks | bit])
        subs = np.concatenate([subs, subs, subs | bit])
    pc_mask = popcount[masks]
    pc_sub = popcount[subs]
    rest = masks ^ subs
    lo_cum = np.cumsum(lower)
    up_cum = np.cumsum(np.minimum(upper, n))
    lo_after = int(lower.sum()) - lo_cum
    up_after = int(np.minimum(upper, n).sum()) - up_cum
    layers = []
    prev = np.full(size, _NEG)
    prev[0] = 0.0
    for g in range(k):
        # Group g takes `subs` out of `masks`; both counts must leave room for the
        # groups before and after it.
        ok = (pc_sub >= lower[g]) & (pc_sub <= upper[g])
        ok &= (pc_mask >= lo_cum[g]) & (pc_mask <= up_cum[g])
        ok &= (n - pc_mask >= lo_after[g]) & (n - pc_mask <= up_after[g])
        sel_mask = masks[ok]
        cand = prev[rest[ok]] + weight[subs[ok]]
        cur = np.full(size, _NEG)
        np.maximum.at(cur, sel_mask, cand)
        layers.append(prev)
        prev = cur
    return layers, float(prev[size - 1])


def _trace_back(
    n: int,
    weight: np.ndarray,
    popcount: np.ndarray,
    layers: list[np.ndarray],
    lower: np.ndarray,
    upper: np.ndarray,
) -> np.ndarray:
    """Labels of an optimal grouping, recovered from the layers last group first."""
    k = lower.shape[0]
    labels = np.empty(n, dtype=np.int64)
    mask = (1 << n) - 1
    for g in range(k - 1, -1, -1):
        members = [b for b in range(n) if mask >> b & 1]
        sub_list = np.zeros(1, dtype=np.int64)
        for b in members:
            sub_list = np.concatenate([sub_list, sub_list | (1 << b)])
        ok = (popcount[sub_list] >= lower[g]) & (popcount[sub_list] <= upper[g])
        sub_list = sub_list[ok]
        cand = layers[g][mask ^ sub_list] + weight[sub_list]
        sub = int(sub_list[int(np.argmax(cand))])
        for b in range(n):
            if sub >> b & 1:
                labels[b] = g
        mask ^= sub
    return labels
