"""Maximally diverse grouping on MDGPLIB: gap of ``diverse_grouping`` to the published TPSDP best.

Usage::

    python benchmarks/bench_mdgp.py --quick   # 2 instances per (set, n) for n = 120, 240
                                              # plus one n = 480 instance: about 5 minutes
    python benchmarks/bench_mdgp.py --full    # every kept n = 120, 240, 480 instance:
                                              # 60 x 3 s + 60 x 20 s + 40 x 120 s, about 105 minutes
    python benchmarks/bench_mdgp.py --instances RanReal_n120_ds_01 Geo_n240_ss_03

Time limits are the literature's (Yang et al. 2022): n = 120: 3 s, n = 240: 20 s,
n = 480: 120 s (``--time-scale`` multiplies them, for smoke runs). The gap is
``(TPSDP best - ours) / TPSDP best`` in percent; TPSDP best is the best of the
authors' runs on their machine, so a mean gap near 0 is the ceiling.

Baselines measured in the same run: ``descent`` = random grouping with the
right sizes improved by best-improvement swaps until none helps (what a user
would write by hand), and, for n = 120 with ``--cpsat`` (on in ``--quick``), a
direct CP-SAT model (x[i, g] and pair-in-group variables) with the same time limit.

Data: ``$PAIRWISE_DATA_DIR`` or ``<repo>/../shared/data``; the script exits with a
message when MDGPLIB is absent. With a wall-clock limit the results depend on
machine speed and load; numba, when installed, compiles the search kernel (the
script warms it up before timing). ``--no-numba`` measures the numpy kernel.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import common
from pairwise._benchdata import load_mdgplib, mdgplib_known_values
from pairwise.solvers import _mdgp_memetic, _mdgp_tabu, mdgp
from pairwise.solvers.mdgp import diverse_grouping

TIME_LIMITS = {120: 3.0, 240: 20.0, 480: 120.0}
SETS = ("RanReal", "RanInt", "Geo")


def descent_baseline(
    d: np.ndarray, lower: np.ndarray, upper: np.ndarray, seed: int
) -> tuple[float, float]:
    """Random grouping (random feasible sizes) + best-improvement swaps; (objective, seconds)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    n = d.shape[0]
    labels = _mdgp_memetic._random_labels(n, lower, np.minimum(upper, n), rng)
    k = len(lower)
    sums = _mdgp_tabu._group_sums(d, labels, k)
    ar = np.arange(n)
    while True:
        own = sums[ar, labels]
        move = sums - own[:, None]
        gathered = move[:, labels]  # gain of i entering j's group
        gain = gathered + gathered.T - 2.0 * d
        gain[labels[:, None] == labels[None, :]] = -np.inf
        flat = int(np.argmax(gain))
        if gain.flat[flat] <= 1e-9:
            break
        i, j = divmod(flat, n)
        g, h = labels[i], labels[j]
        delta = d[:, j] - d[:, i]
        sums[:, g] += delta
        sums[:, h] -= delta
        labels[i], labels[j] = h, g
    return mdgp._grouping_objective(d, labels), time.perf_counter() - t0


def cpsat_baseline(
    d: np.ndarray, lower: np.ndarray, upper: np.ndarray, time_limit: float
) -> tuple[float, float]:
    """A direct CP-SAT model with the same time limit; (objective or nan, seconds)."""
    from pairwise.solvers._ortools import cp_model, integer_scale, solve_cp

    t0 = time.perf_counter()
    cp = cp_model()
    model = cp.CpModel()
    n, k = d.shape[0], len(lower)
    x = [[model.new_bool_var(f"x{i}_{g}") for g in range(k)] for i in range(n)]
    for i in range(n):
        model.add_exactly_one(x[i])
    for g in range(k):
        size = sum(x[i][g] for i in range(n))
        model.add(size >= int(lower[g]))
        model.add(size <= int(upper[g]))
    scale = integer_scale(d, limit=2.0**52, terms=n * n, max_peak=2.0**21).scale
    terms = []
    for i in range(n):
        for j in range(i + 1, n):
            weight = round(d[i, j] * scale)
            if weight <= 0:
                continue
            for g in range(k):
                y = model.new_bool_var("")
                model.add_implication(y, x[i][g])
                model.add_implication(y, x[j][g])
                terms.append(weight * y)
    model.maximize(sum(terms))
    solver, status = solve_cp(model, time_limit=time_limit, seed=0)
    if status not in (cp.OPTIMAL, cp.FEASIBLE):
        return float("nan"), time.perf_counter() - t0
    labels = np.array([int(np.argmax([solver.value(v) for v in x[i]])) for i in range(n)])
    return mdgp._grouping_objective(d, labels), time.perf_counter() - t0


def choose(args: argparse.Namespace, base: Path) -> list[str]:
    known = mdgplib_known_values(base)
    available = [
        name
        for name, row in known.items()
        if row["value"]
        and (base / row["instance_file"]).is_file()
        and int(row["n"]) in TIME_LIMITS
    ]
    if args.instances:
        missing = [name for name in args.instances if name not in available]
        if missing:
            raise SystemExit(f"unknown or unavailable instances: {missing}")
        return list(args.instances)
    if args.full:
        return sorted(available, key=lambda s: (int(known[s]["n"]), s))
    picks = []
    for n in (120, 240):
        for s in SETS:
            for kind in ("ss", "ds"):
                picks.append(f"{s}_n{n:03d}_{kind}_01")
    picks.append("RanReal_n480_ss_01")
    return [p for p in picks if p in available]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    profile = parser.add_mutually_exclusive_group()
    profile.add_argument("--quick", action="store_true", help="small profile (default)")
    profile.add_argument("--full", action="store_true", help="every n = 120/240/480 instance")
    profile.add_argument("--instances", nargs="+", help="explicit instance names")
    parser.add_argument("--time-scale", type=float, default=1.0, help="multiply time limits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-numba", action="store_true", help="force the numpy kernel")
    parser.add_argument("--cpsat", action="store_true", help="CP-SAT baseline on n = 120")
    common.add_json_option(parser, __file__)
    return parser.parse_args()


def prepare_kernel(no_numba: bool) -> str:
    """Choose the search kernel and pay its one-off loading cost; its name."""
    if no_numba:
        _mdgp_tabu._COMPILED["kernel"] = None
    kernel = _mdgp_tabu._compiled_kernel()
    # Loading numba and its cached kernel takes 1-2 s once per process; pay it before timing.
    warm = np.random.default_rng(0).random((30, 30))
    diverse_grouping(warm + warm.T, 3, min_size=10, max_size=10, max_iterations=50)
    return "numba" if kernel is not None else "numpy"


HEADER = (
    f"{'instance':<22}{'T(s)':>6}{'objective':>14}{'TPSDP best':>14}{'gap %':>8}"
    f"{'descent':>14}{'ours/desc':>10}{'ours/cpsat':>11}{'steps':>10}"
)


def run_instance(name: str, row: dict[str, str], base: Path, args, cpsat: bool) -> dict:
    """Solve one instance with its time limit, run the baselines, print and return the row."""
    n = int(row["n"])
    d, m, lower, upper = load_mdgplib(base / row["instance_file"])
    limit = TIME_LIMITS[n] * args.time_scale
    res = diverse_grouping(d, m, min_size=lower, max_size=upper, time_limit=limit, seed=args.seed)
    sizes = np.bincount(res.labels, minlength=m)
    assert np.all(sizes >= lower) and np.all(sizes <= upper), name
    best = float(row["value"])
    gap = 100.0 * (best - res.objective) / best
    base_obj, _ = descent_baseline(d, lower, upper, args.seed)
    cp_obj, cp_text = None, ""
    if cpsat and n == 120:
        cp_obj, _ = cpsat_baseline(d, lower, upper, limit)
        cp_text = f"{res.objective / cp_obj:.3f}" if np.isfinite(cp_obj) else "no sol"
    steps = res.options.get("iterations", 0)
    print(
        f"{name:<22}{limit:>6.0f}{res.objective:>14.2f}{best:>14.2f}{gap:>8.3f}"
        f"{base_obj:>14.2f}{res.objective / base_obj:>10.3f}{cp_text:>11}"
        f"{steps:>10}",
        flush=True,
    )
    return {
        "instance": name,
        "set": row["set"],
        "n": n,
        "time_limit_s": limit,
        "objective": res.objective,
        "tpsdp_best": best,
        "gap_percent": gap,
        "descent": base_obj,
        "ours_over_descent": res.objective / base_obj,
        "cpsat": cp_obj,
        "steps": steps,
    }


def summarise(rows: list[dict]) -> list[dict]:
    """Print and return the mean and max gap per (set, n) and per n."""
    print()
    print(f"{'set':<10}{'n':>6}{'instances':>11}{'mean gap %':>12}{'max gap %':>11}")
    gaps: dict[tuple[str, int], list[float]] = defaultdict(list)
    for r in rows:
        gaps[(r["set"], r["n"])].append(r["gap_percent"])
    per_n: dict[int, list[float]] = defaultdict(list)
    groups: list[tuple[str, int, list[float]]] = []
    for (s, n), values in sorted(gaps.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        per_n[n].extend(values)
        groups.append((s, n, values))
    groups += [("all", n, values) for n, values in sorted(per_n.items())]
    summary = []
    for s, n, values in groups:
        print(f"{s:<10}{n:>6}{len(values):>11}{np.mean(values):>12.3f}{np.max(values):>11.3f}")
        summary.append(
            {
                "set": s,
                "n": n,
                "instances": len(values),
                "mean_gap_percent": float(np.mean(values)),
                "max_gap_percent": float(np.max(values)),
            }
        )
    return summary


def main() -> None:
    args = parse_args()
    base = common.data_dir("mdgplib/known_values.csv")
    if base is None:
        print(
            "MDGPLIB not found (set PAIRWISE_DATA_DIR or place shared/data beside the repo); skipping."
        )
        return
    print(common.limit_blas_threads())
    backend = prepare_kernel(args.no_numba)
    print(f"kernel: {backend}; time limits: {TIME_LIMITS} x {args.time_scale}")
    known = mdgplib_known_values(base)
    names = choose(args, base)
    cpsat = args.cpsat or not (args.full or args.instances)
    print(HEADER)
    print("-" * len(HEADER))
    rows = [run_instance(name, known[name], base, args, cpsat) for name in names]
    summary = summarise(rows)
    ratios = [r["ours_over_descent"] for r in rows]
    if ratios:
        print(f"\nmean objective ratio ours / descent baseline: {np.mean(ratios):.4f}")
    settings = {
        "kernel": backend,
        "time_limits_s": TIME_LIMITS,
        "time_scale": args.time_scale,
        "seed": args.seed,
        "cpsat": cpsat,
    }
    common.write_json(args.json, {"instances": rows, "summary": summary}, settings=settings)


if __name__ == "__main__":
    main()
