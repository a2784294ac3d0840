"""Benchmark: stable matching (deferred acceptance) against the optimum, on sparse candidates.

Per size: ``stable_matching`` (seconds, proposals), ``one_to_many`` on the same
candidates (the optimum), ``blocking_pairs`` of the optimal plan (seconds, count)
and what stability costs: the score given up and the mentees left out. Scores
are uniform random or correlated (a shared "popularity" per mentor plus noise,
where many mentees want the same mentors and deferred acceptance proposes most).
The baseline is the exact optimum on the same candidates, timed in the same run.

    python benchmarks/bench_stable.py --quick   # 2,000 mentors x 10,000 mentees, k = 20
    python benchmarks/bench_stable.py           # up to 20,000 x 100,000, k = 50

Run with the package installed (or ``PYTHONPATH=src``); ``--json PATH`` writes the
table (default ``benchmarks/results/bench_stable.json``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

import common
from pairwise.solvers import blocking_pairs, one_to_many, stable_matching


def instance(n: int, m: int, k: int, kind: str, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """``k`` candidate mentors per mentee (top-k form) and capacities 1-3."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n, size=m * k)
    cols = np.repeat(np.arange(m), k)
    if kind == "correlated":
        popularity = rng.random(n)
        data = 0.7 * popularity[rows] + 0.3 * rng.random(m * k)
    else:
        data = rng.random(m * k)
    scores = sp.csr_matrix((np.round(data, 4), (rows, cols)), shape=(n, m))
    scores.sum_duplicates()
    return scores, rng.integers(1, 4, size=n)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    common.add_json_option(p, __file__)
    args = p.parse_args(argv)
    print(common.limit_blas_threads())
    sizes = [(2_000, 10_000, 20)] if args.quick else [(2_000, 10_000, 20), (20_000, 100_000, 50)]
    print(f"profile: {'quick' if args.quick else 'full'}")
    head = (
        f"{'mentors':>8} {'mentees':>8} {'k':>3} {'scores':<11} {'stable s':>8} "
        f"{'proposals':>10} {'optimum s':>9} {'blocking s':>10} {'blocking':>9} "
        f"{'cost':>7} {'fewer':>6}"
    )
    print(head)
    print("-" * len(head))
    table: list[dict] = []
    for n, m, k in sizes:
        for kind in ("uniform", "correlated"):
            scores, cap = instance(n, m, k, kind)
            t = time.perf_counter()
            stable = stable_matching(scores, capacity=cap)
            t_stable = time.perf_counter() - t
            t = time.perf_counter()
            optimum = one_to_many(scores, cap)
            t_opt = time.perf_counter() - t
            t = time.perf_counter()
            b_rows, _ = blocking_pairs(optimum.rows, optimum.cols, scores, None, cap)
            t_block = time.perf_counter() - t
            cost = (optimum.objective - stable.objective) / optimum.objective
            fewer = optimum.n_matched - stable.n_matched
            print(
                f"{n:>8} {m:>8} {k:>3} {kind:<11} {t_stable:>8.2f} "
                f"{stable.options['proposals']:>10} {t_opt:>9.2f} {t_block:>10.2f} "
                f"{b_rows.size:>9} {cost:>7.2%} {fewer:>6}",
                flush=True,
            )
            table.append(
                {
                    "mentors": n,
                    "mentees": m,
                    "k": k,
                    "scores": kind,
                    "stable_seconds": t_stable,
                    "proposals": stable.options["proposals"],
                    "optimum_seconds": t_opt,
                    "blocking_seconds": t_block,
                    "blocking_pairs_of_optimum": int(b_rows.size),
                    "stability_cost_share": cost,
                    "fewer_matched": fewer,
                }
            )
    common.write_json(args.json, {"stable": table}, settings={"quick": args.quick})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
