"""Benchmark ``peer_pairs``: exact blossom (networkx) against the fast double-cover method.

For each pool size and score structure: time of the exact method (where it is
affordable), time of the fast method, the fast method's gap to the exact
optimum and to its own upper bound. Beyond the exact sizes only the bound gap
is known.

    python benchmarks/bench_peers.py --quick      # exact up to 200 people, fast up to 2,000
    python benchmarks/bench_peers.py              # exact up to 300, fast up to 5,000

BLAS is limited to one thread (threadpoolctl, when installed); ``--json PATH`` writes the
table as JSON (default ``benchmarks/results/bench_peers.json``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import common


def pool(n: int, kind: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        S = rng.random((n, n))
    elif kind == "int0-10":
        S = rng.integers(0, 11, (n, n)).astype(float)
    elif kind == "categorical":
        a = rng.integers(0, 4, (n, 3))
        S = ((a[:, None, :] != a[None, :, :]) * np.array([0.5, 0.3, 0.2])).sum(axis=2)
    else:
        raise ValueError(kind)
    S = np.triu(S, 1)
    return S + S.T


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    common.add_json_option(p, __file__)
    args = p.parse_args(argv)
    print(common.limit_blas_threads())
    from pairwise.solvers import peers

    # Warm up both methods (imports, first calls) before timing anything.
    warm = pool(30, "uniform")
    peers.peer_pairs(warm)
    old = peers.EXACT_WORK
    peers.EXACT_WORK = 0
    peers.peer_pairs(warm)
    peers.EXACT_WORK = old
    exact_sizes = [100, 200] if args.quick else [100, 200, 300]
    fast_sizes = [1000, 2000] if args.quick else [1000, 2000, 5000]
    kinds = ["uniform", "int0-10", "categorical"]
    print(f"profile: {'quick' if args.quick else 'full'}")
    head = (
        f"{'n':>6} {'scores':<12} {'exact s':>8} {'fast s':>7} {'gap to exact':>12} "
        f"{'gap to bound':>12}  status"
    )
    print(head)
    print("-" * len(head))
    gaps = []
    rows: list[dict] = []
    for n in exact_sizes + fast_sizes:
        for kind in kinds:
            S = pool(n, kind)
            exact_obj, exact_t = None, float("nan")
            if n in exact_sizes:
                old = peers.EXACT_WORK
                peers.EXACT_WORK = 10**12
                t = time.perf_counter()
                ex = peers.peer_pairs(S)
                exact_t = time.perf_counter() - t
                peers.EXACT_WORK = old
                exact_obj = ex.objective
            old = peers.EXACT_WORK
            peers.EXACT_WORK = 0
            t = time.perf_counter()
            fast = peers.peer_pairs(S)
            fast_t = time.perf_counter() - t
            peers.EXACT_WORK = old
            gap_exact = (
                "-" if exact_obj is None else f"{(exact_obj - fast.objective) / exact_obj:.3%}"
            )
            if exact_obj is not None:
                gaps.append((exact_obj - fast.objective) / exact_obj)
            gap_bound = f"{fast.gap:.3%}" if fast.gap is not None else "-"
            print(
                f"{n:>6} {kind:<12} {exact_t:>8.2f} {fast_t:>7.2f} {gap_exact:>12} "
                f"{gap_bound:>12}  {fast.status}",
                flush=True,
            )
            rows.append(
                {
                    "n": n,
                    "scores": kind,
                    "exact_s": exact_t,
                    "fast_s": fast_t,
                    "exact_objective": exact_obj,
                    "fast_objective": fast.objective,
                    "gap_to_exact": None if exact_obj is None else gaps[-1],
                    "gap_to_bound": fast.gap,
                    "status": fast.status,
                }
            )
    if gaps:
        print(f"largest fast-method gap to the exact optimum: {max(gaps):.3%}")
    print(f"exact method is used automatically while n x pairs <= {peers.EXACT_WORK:,}")
    settings = {"profile": "quick" if args.quick else "full", "exact_work": peers.EXACT_WORK}
    common.write_json(args.json, {"peers": rows}, settings=settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
