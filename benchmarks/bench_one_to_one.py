"""Benchmark ``one_to_one`` against the solvers a user would otherwise pick.

Dense: SciPy's ``linear_sum_assignment`` on the same matrices (n × n), for
uniform scores and tie-heavy structured ones. Sparse: OR-Tools'
``SimpleLinearSumAssignment`` and SciPy's ``min_weight_full_bipartite_matching``
on the same candidate arcs (k per mentee); both baselines need a perfect
matching, which these instances have. Each solver runs in its own process, so
a baseline that stalls is stopped at ``--timeout`` and peak memory is per run.

    python benchmarks/bench_one_to_one.py --quick        # n = 500..2000 dense, 20,000 sparse
    python benchmarks/bench_one_to_one.py                # n = 500..5000 dense, 100,000 sparse
    python benchmarks/bench_one_to_one.py --only sparse --sparse-n 100000

BLAS is limited to one thread (threadpoolctl, when installed) in every process: on small
shared machines a second BLAS thread only adds noise. ``--json PATH`` writes the tables as
JSON (default ``benchmarks/results/bench_one_to_one.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

import common

# ---------------------------------------------------------------- instances


def dense_instance(n: int, kind: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.random((n, n))
    if kind == "int0-10":
        return rng.integers(0, 11, (n, n)).astype(float)
    a, b = rng.integers(0, 4, (n, 3)), rng.integers(0, 4, (n, 3))
    if kind == "categorical":  # weighted matches on three 4-valued attributes
        return ((a[:, None, :] == b[None, :, :]) * np.array([0.5, 0.3, 0.2])).sum(axis=2)
    if kind == "cat-product":  # product of levels plus a mismatch bonus
        return (a[:, None, 0] + 1.0) * (b[None, :, 0] + 1.0) + (a[:, None, 1] != b[None, :, 1])
    raise ValueError(kind)


def sparse_instance(n: int, k: int, kind: str, seed: int = 0) -> sp.csr_matrix:
    """n × n candidates, k per mentee, with a perfect matching (whp)."""
    rng = np.random.default_rng(seed)
    cols = np.repeat(np.arange(n), k)
    if kind == "grouped":
        # Candidates among mentors sharing a first attribute (6 balanced groups);
        # scores = share of 3 attributes in common: thirds, very tie-heavy.
        nv = 6
        a, b = rng.integers(0, nv, (n, 3)), rng.integers(0, nv, (n, 3))
        a[:, 0] = np.arange(n) % nv
        b[:, 0] = rng.permutation(n) % nv
        by_group = [np.flatnonzero(a[:, 0] == g) for g in range(nv)]
        rows = np.empty(n * k, dtype=np.int64)
        for g in range(nv):
            members = np.flatnonzero(b[:, 0] == g)
            pool = by_group[g]
            for lo in range(0, members.size, 1000):  # chunks keep generation memory small
                chunk = members[lo : lo + 1000]
                picks = np.argpartition(rng.random((chunk.size, pool.size)), k, axis=1)[:, :k]
                rows[(chunk[:, None] * k + np.arange(k)).ravel()] = pool[picks].ravel()
        vals = (a[rows] == b[cols]).sum(axis=1) / 3.0
    else:
        rows = np.concatenate([rng.choice(n, k, replace=False) for _ in range(n)])
        if kind == "uniform":
            vals = rng.random(n * k)
        elif kind == "quarter":
            vals = rng.integers(0, 5, n * k) / 4.0
        elif kind == "rank":  # each mentee ranks its k candidates k..1
            vals = np.tile(np.arange(k, 0, -1), n).astype(float)
        elif kind == "features":
            a, b = rng.integers(0, 4, (n, 3)), rng.integers(0, 4, (n, 3))
            vals = ((a[rows] == b[cols]) * np.array([0.5, 0.3, 0.2])).sum(axis=1)
        else:
            raise ValueError(kind)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


# ---------------------------------------------------------------- runners


def _child(fn: Callable[..., Any], args: tuple, queue: Any) -> None:
    common.limit_blas_threads()
    try:
        make, margs = args
        # Warm up (imports, first-call set-up) on a small instance of the same kind.
        small = (300, *margs[1:]) if make is dense_instance else (300, 5, *margs[2:])
        with contextlib.suppress(Exception):
            fn(make(*small))
        instance = make(*margs)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        out = fn(instance)
        elapsed = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        queue.put(("ok", elapsed, out, rss0 / 1024, peak / 1024))
    except Exception as exc:  # report, never hang the parent
        queue.put(("error", 0.0, repr(exc), 0.0, 0.0))


def run(fn: Callable[..., Any], make: Callable[..., Any], margs: tuple, timeout: float) -> dict:
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, (make, margs), queue))
    proc.start()
    try:
        status, elapsed, out, rss0, peak = queue.get(timeout=timeout)
    except Exception:
        proc.kill()
        proc.join()
        return {"status": "timeout", "time": float("inf"), "value": None}
    proc.join()
    return {"status": status, "time": elapsed, "value": out, "rss0": rss0, "peak": peak}


def ours(S: Any) -> tuple[float, int, str]:
    from pairwise.solvers.assignment import one_to_one

    res = one_to_one(S)
    return res.objective, res.n_matched, res.method


def scipy_dense(S: np.ndarray) -> tuple[float, int, str]:
    from scipy.optimize import linear_sum_assignment

    r, c = linear_sum_assignment(S, maximize=True)
    return float(S[r, c].sum()), len(r), "scipy"


def scipy_sparse(S: sp.csr_matrix) -> tuple[float, int, str]:
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    cost = S.copy()
    cost.data = (S.data.max() + 1.0) - S.data  # positive: SciPy drops explicit zeros
    r, c = min_weight_full_bipartite_matching(cost)
    return float(np.asarray(S[r, c]).sum()), len(r), "scipy"


def ortools_sparse(S: sp.csr_matrix) -> tuple[float, int, str]:
    from ortools.graph.python import linear_sum_assignment

    from pairwise.solvers._ortools import integer_scale

    coo = S.tocoo()
    n = S.shape[0]
    scale = integer_scale(coo.data, limit=2**60 // (n + 1) ** 2).scale
    a = linear_sum_assignment.SimpleLinearSumAssignment()
    a.add_arcs_with_cost(coo.row, coo.col, -np.rint(coo.data * scale).astype(np.int64))
    if a.solve() != a.OPTIMAL:
        raise RuntimeError("not optimal")
    cols = np.array([a.right_mate(i) for i in range(n)])
    return float(np.asarray(S[np.arange(n), cols]).sum()), n, f"ortools(scale {scale:g})"


# ---------------------------------------------------------------- main


def bench_dense(sizes: list[int], kinds: list[str], timeout: float) -> list[dict]:
    print("\nDense one_to_one vs scipy.optimize.linear_sum_assignment (n x n)")
    head = f"{'n':>6} {'scores':<12} {'ours s':>8} {'scipy s':>8} {'ratio':>6}  agree  method"
    print(head)
    print("-" * len(head))
    rows = []
    for n in sizes:
        for kind in kinds:
            a = run(ours, dense_instance, (n, kind), timeout)
            b = run(scipy_dense, dense_instance, (n, kind), timeout)
            agree = (
                a["value"] is not None
                and b["value"] is not None
                and a["status"] == b["status"] == "ok"
                and abs(a["value"][0] - b["value"][0]) <= 1e-7 * max(1.0, abs(b["value"][0]))
            )
            ratio = a["time"] / b["time"] if b["time"] > 0 else float("nan")
            method = a["value"][2] if a["status"] == "ok" else a["status"]
            print(
                f"{n:>6} {kind:<12} {a['time']:>8.3f} {b['time']:>8.3f} {ratio:>6.2f}  "
                f"{'yes' if agree else 'NO':<5}  {method}",
                flush=True,
            )
            rows.append(
                {
                    "n": n,
                    "scores": kind,
                    "ours_s": a["time"],
                    "scipy_s": b["time"],
                    "ratio": ratio,
                    "agree": agree,
                    "method": method,
                }
            )
    return rows


def bench_sparse(n: int, k: int, kinds: list[str], timeout: float) -> list[dict]:
    print(f"\nSparse one_to_one, {n:,} x {n:,}, {k} candidates per mentee")
    head = (
        f"{'scores':<10} {'ours s':>8} {'ortools s':>9} {'scipy s':>8} {'vs best':>7}  agree  "
        f"{'peak MB':>7}  method"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for kind in kinds:
        a = run(ours, sparse_instance, (n, k, kind), timeout)
        o = run(ortools_sparse, sparse_instance, (n, k, kind), timeout)
        s = run(scipy_sparse, sparse_instance, (n, k, kind), timeout)
        best = min(o["time"], s["time"])
        objs = [x["value"][0] for x in (a, o, s) if x["status"] == "ok"]
        agree = a["status"] == "ok" and all(
            abs(v - objs[0]) <= 1e-6 * max(1.0, abs(objs[0])) for v in objs
        )
        ratio = a["time"] / best if best > 0 else float("nan")

        def fmt(x: dict) -> str:
            return f"{x['time']:.2f}" if x["status"] == "ok" else x["status"]

        method = a["value"][2] if a["status"] == "ok" else a["status"]
        print(
            f"{kind:<10} {fmt(a):>8} {fmt(o):>9} {fmt(s):>8} {ratio:>7.2f}  "
            f"{'yes' if agree else 'NO':<5}  {a.get('peak', 0):>7.0f}  {method}",
            flush=True,
        )
        rows.append(
            {
                "n": n,
                "k": k,
                "scores": kind,
                "ours_s": a["time"],
                "ortools_s": o["time"],
                "scipy_s": s["time"],
                "vs_faster": ratio,
                "agree": agree,
                "peak_mb": a.get("peak"),
                "method": method,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    p.add_argument("--only", choices=["dense", "sparse"], default=None)
    p.add_argument("--sparse-n", type=int, default=None)
    p.add_argument("--k", type=int, default=50, help="candidates per mentee (sparse)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per solver run")
    common.add_json_option(p, __file__)
    args = p.parse_args(argv)
    sizes = [500, 1000, 2000] if args.quick else [500, 1000, 2000, 5000]
    sparse_n = args.sparse_n or (20_000 if args.quick else 100_000)
    timeout = args.timeout or (60.0 if args.quick else 300.0)
    print(f"{common.limit_blas_threads()}, in every run")
    print(f"profile: {'quick' if args.quick else 'full'}; timeout {timeout:.0f} s per run")
    tables: dict[str, list[dict]] = {}
    if args.only in (None, "dense"):
        rows = bench_dense(sizes, ["uniform", "int0-10", "categorical", "cat-product"], timeout)
        tables["dense"] = rows
        big = [r for r in rows if r["n"] >= 2000]
        if big:
            worst = max(r["ratio"] for r in big)
            print(f"worst ratio at n >= 2000: {worst:.2f} (target <= 1.00)")
    if args.only in (None, "sparse"):
        rows = bench_sparse(
            sparse_n, args.k, ["uniform", "quarter", "rank", "features", "grouped"], timeout
        )
        tables["sparse"] = rows
        worst = max(r["vs_faster"] for r in rows)
        print(f"worst time vs the faster baseline: {worst:.2f}x (target <= 2.00)")
    settings = {
        "profile": "quick" if args.quick else "full",
        "timeout_s": timeout,
        "dense_n": sizes,
        "sparse_n": sparse_n,
        "k": args.k,
    }
    common.write_json(args.json, tables, settings=settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
