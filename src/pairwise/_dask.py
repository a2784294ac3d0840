"""Candidate generation on a Dask cluster: the local blocks, evaluated by the cluster's workers.

The compatibility of a large organisation is built from a fused evaluation
plan (:class:`pairwise._topk._Plan`: the model's criteria and rules folded
into a few encoded attribute arrays of both rosters). Locally, that plan is
evaluated block by block; here, it is shipped once to every worker
(``client.scatter(..., broadcast=True)``) and the workers evaluate ranges of
the very same blocks (:func:`pairwise._topk.top_k_columns` over mentee
ranges, :func:`pairwise._topk.fill_rows` over mentor ranges), so the result is
exactly what the local path returns: the same scores, the same candidates, the
same ties. Solving stays on the calling machine.

``distributed`` is imported only when a cluster is used: it is the optional
extra ``pairwise[dask]``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ._topk import (
    _auto_block,
    _Plan,
    _RowBest,
    candidates_csr,
    fill_rows,
    top_k_layout,
    top_k_range,
    top_k_range_both,
)
from .errors import InputError

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "CONNECT_TIMEOUT",
    "connect",
    "dense_matrices_on",
    "task_ranges",
    "top_k_matrix_on",
]

logger = logging.getLogger(__name__)

#: Seconds to reach a scheduler given by its address, and to wait for its first worker.
CONNECT_TIMEOUT = 10.0
#: Tasks per worker thread: enough for a slow worker not to hold the others up.
_TASKS_PER_THREAD = 4

_INSTALL = "Fix: pip install 'pairwise[dask]' (or leave client=None / drop --dask to run locally)."


def _distributed() -> Any:
    """The ``distributed`` package, or a clear error naming the extra that installs it."""
    try:
        import distributed
    except ImportError as exc:
        raise InputError(
            "`client` (--dask) needs Dask's distributed scheduler, which is not installed. "
            + _INSTALL
        ) from exc
    return distributed


@contextmanager
def connect(client: Any) -> Iterator[Client]:
    """The :class:`distributed.Client` for ``client``; one opened here is closed on exit.

    Parameters
    ----------
    client : distributed.Client or str
        A connected client (used as is), or a scheduler address such as
        ``"tcp://10.0.0.5:8786"`` (connected for the duration of the block,
        within :data:`CONNECT_TIMEOUT` seconds).

    Yields
    ------
    distributed.Client
        A client whose cluster has at least one worker.

    Raises
    ------
    InputError
        When ``distributed`` is not installed, ``client`` is neither a client
        nor an address, the scheduler cannot be reached, or it has no worker.
    """
    distributed = _distributed()
    if isinstance(client, distributed.Client):
        _check_workers(client, repr(client.scheduler.address))
        yield client
        return
    if not isinstance(client, str) or not client.strip():
        raise InputError(
            "`client` must be a distributed.Client or a scheduler address such as "
            f"'tcp://10.0.0.5:8786'; got {client!r}. Fix: pass the address the scheduler "
            "prints (`dask scheduler`), or client=None to run locally."
        )
    address = client.strip()
    try:
        own = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise InputError(
            f"`client` (--dask) must be the address of a running Dask scheduler; nothing "
            f"answered at {address!r} within {CONNECT_TIMEOUT:g} s ({type(exc).__name__}: "
            f"{exc}). Fix: start one (`dask scheduler`, then `dask worker {address}` on each "
            "machine) and pass the address it prints, e.g. --dask tcp://10.0.0.5:8786."
        ) from exc
    try:
        _check_workers(own, repr(address))
        yield own
    finally:
        own.close()


def _check_workers(client: Client, where: str) -> None:
    """Tasks on a cluster without workers would wait for ever: refuse them."""
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except TimeoutError as exc:
        raise InputError(
            f"the Dask scheduler at {where} has no worker (none joined within "
            f"{CONNECT_TIMEOUT:g} s). Fix: start workers with `dask worker ADDRESS`."
        ) from exc


def task_ranges(n: int, step: int, n_threads: int) -> list[tuple[int, int]]:
    """Ranges ``[start, stop)`` covering ``range(n)``, each starting at a multiple of ``step``.

    About :data:`_TASKS_PER_THREAD` ranges per worker thread, each a whole
    number of blocks (so the workers evaluate the very blocks the local loop
    evaluates).

    >>> task_ranges(10, 3, 1)
    [(0, 3), (3, 6), (6, 9), (9, 10)]
    >>> task_ranges(10, 3, 0)
    [(0, 10)]
    """
    if n <= 0:
        return [(0, 0)]
    tasks = max(1, n_threads * _TASKS_PER_THREAD)
    blocks = math.ceil(n / step)
    width = step * max(1, math.ceil(blocks / tasks))
    return [(start, min(start + width, n)) for start in range(0, n, width)]


def _n_threads(client: Client) -> int:
    return max(1, sum(client.nthreads().values()))


def _run_ranges(
    client: Client,
    func: Callable[..., Any],
    shared: tuple[Any, ...],
    ranges: Sequence[tuple[int, ...]],
    *args: Any,
) -> list[Any]:
    """``func(*shared, *range, *args)`` for every range on the cluster, results in order.

    ``shared`` (the plan first) goes to every worker once; the futures are
    released on exit.
    """
    logger.info(
        "scoring %d x %d on a Dask cluster: %d tasks over %d worker threads",
        *shared[0].shape,
        len(ranges),
        _n_threads(client),
    )
    shipped = [
        obj if obj is None else client.scatter(obj, broadcast=True, hash=False) for obj in shared
    ]
    futures = [client.submit(func, *shipped, *r, *args, pure=False) for r in ranges]
    try:
        return list(client.gather(futures))
    except ImportError as exc:
        raise InputError(
            f"the Dask workers cannot run pairwise's blocks ({type(exc).__name__}: {exc}). "
            "Fix: install pairwise (the same version as here) on every worker machine."
        ) from exc
    finally:
        client.cancel([*futures, *(f for f in shipped if f is not None)])


def top_k_matrix_on(
    client: Client,
    plan: _Plan,
    k: int,
    block_size: int | None,
    row_k: np.ndarray | None = None,
) -> sp.csr_matrix:
    """:func:`pairwise._topk.top_k_matrix` with the mentee blocks evaluated on a cluster.

    Parameters
    ----------
    client : distributed.Client
    plan : _Plan
        The fused plan (rows = mentors); its transpose is shipped to every worker.
    k, block_size : int
        As in :func:`pairwise._topk.top_k_matrix`.
    row_k : numpy.ndarray, optional
        Each mentor's number of own best mentees to keep too: every range
        returns its best, merged here by the same total order as locally.

    Returns
    -------
    scipy.sparse.csr_matrix
        The same matrix as the local path (same entries, same stored zeros).
    """
    tplan = plan.transpose()
    blocking, layout = top_k_layout(tplan, block_size)
    threads = _n_threads(client)
    ranges = [
        (group, a, b, chunk, k)
        for group, first, stop, chunk in layout
        for a, b in task_ranges(stop - first, chunk, threads)
        if b > a
    ]
    if row_k is None or not np.any(row_k):
        parts = _run_ranges(client, top_k_range, (tplan, blocking), ranges)
        return candidates_csr(plan.shape, parts)
    both = _run_ranges(client, top_k_range_both, (tplan, blocking), ranges, row_k)
    best = _RowBest(row_k)
    for _, own in both:
        best.merge(own)
    return candidates_csr(plan.shape, [part for part, _ in both], best.entries())


def _rows_block(plan: _Plan, r0: int, r1: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``r0:r1`` of the dense ``scores`` and ``allowed`` (a worker's task)."""
    scores = np.empty((r1 - r0, plan.shape[1]), dtype=np.float64)
    allowed = np.empty((r1 - r0, plan.shape[1]), dtype=bool)
    fill_rows(plan, r0, r1, step, scores, allowed)
    return scores, allowed


def dense_matrices_on(
    client: Client, plan: _Plan, block_size: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pairwise._topk.dense_matrices` with the mentor blocks evaluated on a cluster."""
    n_m, n_e = plan.shape
    step = block_size or _auto_block(n_e)
    ranges = task_ranges(n_m, step, _n_threads(client))
    scores = np.empty((n_m, n_e), dtype=np.float64)
    allowed = np.empty((n_m, n_e), dtype=bool)
    for (r0, r1), (s, a) in zip(
        ranges, _run_ranges(client, _rows_block, (plan,), ranges, step), strict=True
    ):
        scores[r0:r1] = s
        allowed[r0:r1] = a
    return scores, allowed
