"""Benchmark ``pair_regret``: exact regrets from residual shortest paths against re-solving.

For each size: the time of the optimal plan (``one_to_many``), of every
candidate pair's regret (one Dijkstra per mentor or mentee in the residual
graph), the share of pairs whose regret is exact within the default work
budget, and the baseline a user would otherwise write: one ``one_to_many``
re-solve per pair with the pair forced, timed on a sample and extrapolated to
every pair (its regrets are checked against ours on the sample).

    python benchmarks/bench_regret.py --quick     # up to 1,000 mentors x 3,000 mentees
    python benchmarks/bench_regret.py             # up to 2,000 x 10,000

BLAS is limited to one thread (threadpoolctl, when installed); ``--json PATH`` writes the
table as JSON (default ``benchmarks/results/bench_regret.json``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

import common

SAMPLE = 20


def instance(n: int, m: int, density: float, seed: int = 0) -> tuple[object, np.ndarray]:
    rng = np.random.default_rng(seed)
    cap = rng.integers(1, 4, n)
    if density >= 1.0:
        return np.round(rng.random((n, m)), 3), cap
    nnz = int(n * m * density)
    rows, cols = rng.integers(0, n, nnz), rng.integers(0, m, nnz)
    scores = sp.csr_matrix((np.round(rng.random(nnz), 3), (rows, cols)), shape=(n, m))
    scores.sum_duplicates()
    return scores, cap


def _forced(scores, cap, i: int, j: int):  # type: ignore[no-untyped-def]
    from pairwise.solvers import one_to_many

    keep = np.arange(scores.shape[1]) != j
    rest_cap = cap.copy()
    rest_cap[i] -= 1
    reduced = scores[:, keep] if not sp.issparse(scores) else scores.tocsc()[:, keep].tocsr()
    return one_to_many(reduced, rest_cap)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    common.add_json_option(p, __file__)
    args = p.parse_args(argv)
    print(common.limit_blas_threads())
    from pairwise.solvers import one_to_many
    from pairwise.solvers._regret import DEFAULT_BUDGET, pair_regret

    sizes = [(200, 500, 1.0), (1000, 3000, 0.02)]
    if not args.quick:
        sizes.append((2000, 10000, 0.005))
    print(f"profile: {'quick' if args.quick else 'full'}; budget {DEFAULT_BUDGET:,} arcs")
    head = (
        f"{'mentors x mentees':>18} {'pairs':>7} {'plan s':>7} {'regret s':>8} {'exact':>6} "
        f"{'re-solve s (est.)':>17} {'sample ok':>9}"
    )
    print(head)
    print("-" * len(head))
    out = []
    rng = np.random.default_rng(1)
    for n, m, density in sizes:
        scores, cap = instance(n, m, density)
        t = time.perf_counter()
        plan = one_to_many(scores, cap)
        plan_s = time.perf_counter() - t
        t = time.perf_counter()
        res = pair_regret(scores, None, cap, plan_rows=plan.rows, plan_cols=plan.cols)
        regret_s = time.perf_counter() - t
        picks = rng.choice(len(res), min(SAMPLE, len(res)), replace=False)
        t = time.perf_counter()
        ok = True
        for k in picks:
            i, j = int(res.rows[k]), int(res.cols[k])
            rest = _forced(scores, cap, i, j)
            forced_total = float(scores[i, j]) + rest.objective
            if res.exact[k] and rest.n_matched + 1 == plan.n_matched:
                ok &= abs(plan.objective - forced_total - res.regret[k]) < 1e-6
        resolve_s = (time.perf_counter() - t) / len(picks) * len(res)
        print(
            f"{f'{n} x {m}':>18} {len(res):>7} {plan_s:>7.2f} {regret_s:>8.2f} "
            f"{res.exact.mean():>6.1%} {resolve_s:>17.0f} {ok!s:>9}",
            flush=True,
        )
        out.append(
            {
                "mentors": n,
                "mentees": m,
                "pairs": len(res),
                "plan_s": plan_s,
                "regret_s": regret_s,
                "exact_share": float(res.exact.mean()),
                "resolve_s_estimate": resolve_s,
                "sample_agrees": bool(ok),
            }
        )
    common.write_json(args.json, {"regret": out}, settings={"budget": DEFAULT_BUDGET})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
