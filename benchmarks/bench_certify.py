"""Benchmark the optimality certificate of top-k pair solves on HR-like rosters.

Rosters come from ``pairwise.datasets.make_organisation`` (the demo's kind of
synthetic organisation): mentors are the people at level >= 4 with a capacity
(their own capacity 1-3, or 1 with ``capacity 1``), mentees everyone at level
<= 3; the default programme's model scores them and keeps the 50 best mentors
per mentee. Each row: the candidate build, the first solve on the kept
candidates, the certificate (LP duals + every dropped pair re-scored block by
block, excluding the re-solves: ``ratio`` to the first solve) and the
re-solves it caused (``cost``: check and re-solves over the first solve);
whether the top-k optimum was already the global optimum (certified with no
pair added), whether the final result is certified, and by how much the added
pairs raised the total. Where the dense matrix is affordable, the dense
optimum is solved too and compared (both plans valued on the dense scores).

    python benchmarks/bench_certify.py --quick    # organisations of 5,000 (3 seeds) and 20,000
    python benchmarks/bench_certify.py            # 5,000 (5 seeds), 20,000 (2 seeds), 50,000

BLAS is limited to one thread (threadpoolctl, when installed); ``--json PATH``
writes the table as JSON (default ``benchmarks/results/bench_certify.json``).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import common
import pairwise as pw
from pairwise._certify import certified_solve
from pairwise.solvers import one_to_many, one_to_one

TOP_K = 50
#: Dense optimum computed when mentors x mentees is at most this many pairs.
DENSE_PAIRS = 5_000_000


def rosters(n_people: int, seed: int, unit: bool) -> tuple[Any, Any, np.ndarray, Any]:
    """Mentors, mentees, capacities and priorities of one synthetic organisation."""
    org = pw.datasets.make_organisation(n_people, seed=seed)
    mentors = org[(org["level"] >= 4) & (org["capacity"] > 0)].reset_index(drop=True)
    mentees = org[org["level"] <= 3].reset_index(drop=True)
    m = pw.load_roster(mentors, role="mentor")
    e = pw.load_roster(mentees, role="mentee")
    cap = np.ones(len(m), np.int64) if unit else mentors["capacity"].to_numpy(np.int64)
    prio = mentees["priority"].to_numpy(float)
    return m, e, cap, (None if np.all(prio == prio[0]) else prio)


def solver(cap: np.ndarray, prio: np.ndarray | None, log: list[float]) -> Any:
    """The programme's choice: one_to_one for capacity 1, else one_to_many; times logged."""

    def solve(compat: Any) -> Any:
        start = time.perf_counter()
        if np.all(cap == 1):
            res = one_to_one(compat.scores, compat.allowed, priority=prio)
        else:
            res = one_to_many(compat.scores, cap, compat.allowed, priority=prio)
        log.append(time.perf_counter() - start)
        return res

    return solve


def run(n_people: int, seed: int, unit: bool, model: Any) -> dict[str, Any]:
    m, e, cap, prio = rosters(n_people, seed, unit)
    start = time.perf_counter()
    compat = model.score(m, e, top_k=TOP_K)
    t_build = time.perf_counter() - start
    times: list[float] = []
    objectives: list[float] = []
    solve = solver(cap, prio, times)

    def logged(c: Any) -> Any:
        res = solve(c)
        objectives.append(res.objective)
        return res

    start = time.perf_counter()
    res, _ = certified_solve(compat, logged, capacity=cap, priority=prio)
    total = time.perf_counter() - start
    info = res.options["certificate"]
    row: dict[str, Any] = {
        "people": n_people,
        "seed": seed,
        "capacity": "1" if unit else "1-3",
        "mentors": len(m),
        "mentees": len(e),
        "matched": res.n_matched,
        "build_s": t_build,
        "solve_s": times[0],
        "certificate_s": info["seconds"],
        "resolve_s": float(sum(times[1:])),
        "total_s": total,
        "rounds": info["rounds"],
        "added": info["added_pairs"],
        "top_k_was_global": bool(res.certified and info["rounds"] == 0),
        "certified": bool(res.certified),
        "gain_pct": 100.0 * (res.objective - objectives[0]) / max(abs(objectives[0]), 1e-12),
        "dense_equal": None,
    }
    row["ratio"] = row["certificate_s"] / max(row["solve_s"], 1e-9)
    row["cost_ratio"] = (row["certificate_s"] + row["resolve_s"]) / max(row["solve_s"], 1e-9)
    if len(m) * len(e) <= DENSE_PAIRS:
        dense = model.score(m, e)
        best = solve(dense)
        # both plans valued on the dense scores (the solvers' objectives may round differently)
        value = [float(dense.scores[r.rows, r.cols].sum()) for r in (best, res)]
        weight = [0.0 if prio is None else float(prio[r.cols].sum()) for r in (best, res)]
        row["dense_equal"] = bool(
            best.n_matched == res.n_matched
            and weight[0] == weight[1]
            and abs(value[0] - value[1]) <= 1e-9 * max(abs(value[0]), 1.0)
        )
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    common.add_json_option(p, __file__)
    args = p.parse_args(argv)
    print(common.limit_blas_threads())
    model = pw.load_program().model
    if args.quick:
        plan = [(5000, s, False) for s in range(3)] + [(5000, 0, True), (20000, 0, False)]
    else:
        plan = [(5000, s, False) for s in range(5)] + [(5000, s, True) for s in range(2)]
        plan += [(20000, s, False) for s in range(2)] + [(20000, 0, True), (50000, 0, False)]
    print(f"profile: {'quick' if args.quick else 'full'}; top_k = {TOP_K}")
    head = (
        f"{'people':>7} {'seed':>4} {'cap':>4} {'mentors':>7} {'mentees':>7} {'build s':>8} "
        f"{'solve s':>8} {'cert s':>7} {'ratio':>6} {'resolve s':>9} {'cost':>6} {'rounds':>6} "
        f"{'added':>6} {'top-k=opt':>9} {'certified':>9} {'gain %':>8} {'dense=':>6}"
    )
    print(head)
    rows = []
    for n_people, seed, unit in plan:
        r = run(n_people, seed, unit, model)
        rows.append(r)
        dense = "-" if r["dense_equal"] is None else ("yes" if r["dense_equal"] else "NO")
        print(
            f"{r['people']:>7} {r['seed']:>4} {r['capacity']:>4} {r['mentors']:>7} "
            f"{r['mentees']:>7} {r['build_s']:>8.2f} {r['solve_s']:>8.2f} "
            f"{r['certificate_s']:>7.2f} {r['ratio']:>6.2f} {r['resolve_s']:>9.2f} "
            f"{r['cost_ratio']:>6.2f} "
            f"{r['rounds']:>6} {r['added']:>6} {r['top_k_was_global']!s:>9} "
            f"{r['certified']!s:>9} {r['gain_pct']:>8.4f} {dense:>6}",
            flush=True,
        )
    n = len(rows)
    glob = sum(r["top_k_was_global"] for r in rows)
    cert = sum(r["certified"] for r in rows)
    print(
        f"top-{TOP_K} optimum was the global optimum in {glob} of {n} runs; certified in "
        f"{cert} of {n} after adding violating pairs; certificate / first solve: median "
        f"{np.median([r['ratio'] for r in rows]):.2f}x (check only), "
        f"{np.median([r['cost_ratio'] for r in rows]):.2f}x (check and re-solves)"
    )
    settings = {"profile": "quick" if args.quick else "full", "top_k": TOP_K}
    common.write_json(args.json, {"certify": rows}, settings=settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
