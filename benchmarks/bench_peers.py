"""Benchmark ``peer_pairs``: exact blossom (networkx) against the fast double-cover method.

For each pool size and score structure: time of the exact method (where it is
affordable), time of the fast method, the fast method's gap to the exact
optimum and to its own upper bound. Beyond the exact sizes only the bound gap
is known.

    python benchmarks/bench_peers.py --quick      # exact up to 200 people, fast up to 2,000
    python benchmarks/bench_peers.py              # exact up to 300, fast up to 5,000
    python benchmarks/bench_peers.py --scale      # program.peers on 20,000 and 50,000 people
    python benchmarks/bench_peers.py --scale 20000 --levels 2-3
    python benchmarks/bench_peers.py --scale 50000 --phases  # and each step's wall / CPU

``--scale`` runs ``Program.peers`` (default programme, ``--time-limit``, default 30) on
people of :func:`pairwise.datasets.make_organisation`, each size in a child
process, and reports its wall time, CPU seconds (user + system), peak resident
memory (``resource.getrusage``), pairs formed, the gap to the bound (over the
candidates kept, above the dense budget) and the wall / CPU split by the
phases the run reports (scoring, solving, results).

BLAS is limited to one thread (threadpoolctl, when installed); ``--json PATH`` writes the
table as JSON (default ``benchmarks/results/bench_peers.json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
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


#: ``--phases``: the steps of a sparse run timed one by one (module, function).
_STEPS = [
    ("pairwise.compatibility", "CompatibilityModel.score"),
    ("pairwise._peer_candidates", "_symmetrise"),
    ("pairwise._peer_candidates", "cover_mate"),
    ("pairwise._peer_candidates", "_with_deficient"),
    ("pairwise._peer_candidates", "_symmetric_csr"),
    ("pairwise.solvers.peers", "_check_symmetric"),
    ("pairwise.solvers.peers", "solve_sparse"),
    ("pairwise.solvers.peers", "_round_cover"),
    ("pairwise.solvers.peers", "_complete"),
    ("pairwise.solvers.peers", "_augment_paths"),
    ("pairwise.solvers.peers", "swap_improve"),
    ("pairwise.solvers.peers", "dual_bound"),
    ("pairwise.solvers.peers", "_any_cardinality_bound"),
    ("pairwise.program", "peers_result"),
]


def _time_steps(steps: dict) -> None:
    """Wrap each of :data:`_STEPS` so that its wall and CPU seconds add up in ``steps``."""
    import importlib

    def cpu_now() -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    for module, name in _STEPS:
        owner = importlib.import_module(module)
        attr = name
        if "." in name:
            cls, attr = name.split(".")
            owner = getattr(owner, cls)
        if not hasattr(owner, attr):
            continue
        fn = getattr(owner, attr)

        def timed(*args, _fn=fn, _name=name, **kwargs):
            w0, c0 = time.perf_counter(), cpu_now()
            try:
                return _fn(*args, **kwargs)
            finally:
                w, c, k = steps.get(_name, (0.0, 0.0, 0))
                steps[_name] = (w + time.perf_counter() - w0, c + cpu_now() - c0, k + 1)

        setattr(owner, attr, timed)


def _scale_child(n: int, levels: str, time_limit: float | None, detail: bool = False) -> dict:
    """One ``Program.peers`` run on ``n`` people (this process), measured."""
    import pairwise as pw
    from pairwise._run import Progress
    from pairwise.datasets import make_organisation

    started = time.perf_counter()
    if levels == "all":
        people = make_organisation(n, seed=0)
    else:  # draw a larger organisation and keep the wanted levels, n people
        lo, hi = (int(x) for x in levels.split("-"))
        org = make_organisation(4 * n, seed=0)
        people = org[org["level"].between(lo, hi)].head(n).reset_index(drop=True)
    program = dataclasses.replace(pw.load_program(), time_limit=time_limit)
    steps: dict = {}
    if detail:
        _time_steps(steps)
    phases: list[list] = []  # [name, wall s, CPU s] per phase the run reports

    def cpu_now() -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def progress(event: Progress) -> None:
        if not phases or phases[-1][0] != event.phase:
            phases.append([event.phase, time.perf_counter(), cpu_now()])

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    res = program.peers(people, progress=progress)
    wall = time.perf_counter() - t0
    ends = [*(p[1:] for p in phases[1:]), [time.perf_counter(), cpu_now()]]
    split = {p[0]: (e[0] - p[1], e[1] - p[2]) for p, e in zip(phases, ends, strict=True)}
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "n": len(people),
        "levels": levels,
        "wall_s": wall,
        "cpu_s": cpu + kids.ru_utime + kids.ru_stime,
        "peak_rss_mb": max(cpu1.ru_maxrss, kids.ru_maxrss) / 1024.0,
        "pairs": len(res.pairs),
        "unmatched": len(res.unmatched),
        "objective": res.objective,
        "bound": res.bound,
        "gap_to_bound": res.gap,
        "status": res.status,
        "method": res.method,
        "stopped_by_time_limit": res.stopped_by_time_limit,
        "optimal_over": getattr(res, "optimal_over", "all pairs"),
        "bound_method": "none" if res.bound is None else res.options.get("bound_method", "cover"),
        "phases": {name: {"wall_s": w, "cpu_s": c} for name, (w, c) in split.items()},
        "steps": {
            name: {"wall_s": w, "cpu_s": c, "calls": k} for name, (w, c, k) in steps.items()
        },
        "setup_s": t0 - started,
    }


def scale(args: argparse.Namespace) -> int:
    """``--scale``: each size in a fresh child process (its own peak memory)."""
    head = (
        f"{'n':>7} {'levels':<6} {'wall s':>7} {'CPU s':>7} {'peak MB':>8} {'pairs':>7} "
        f"{'gap to bound':>12}  status"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for n in args.scale:
        cmd = [sys.executable, __file__, "--child", str(n), "--levels", args.levels]
        cmd += ["--time-limit", str(args.time_limit)] + (["--phases"] if args.phases else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        gap = "-" if row["gap_to_bound"] is None else f"{row['gap_to_bound']:.3%}"
        print(
            f"{row['n']:>7} {row['levels']:<6} {row['wall_s']:>7.1f} {row['cpu_s']:>7.1f} "
            f"{row['peak_rss_mb']:>8.0f} {row['pairs']:>7} {gap:>12}  {row['status']}"
            f"{' (stopped by time limit)' if row['stopped_by_time_limit'] else ''}",
            flush=True,
        )
        split = ", ".join(
            f"{name} {p['wall_s']:.1f} s wall / {p['cpu_s']:.1f} s CPU"
            for name, p in row["phases"].items()
        )
        print(f"{'':>7} phases: {split}; bound: {row['bound_method']}", flush=True)
        for name, p in row["steps"].items():
            print(f"{'':>9} {name:<28} {p['wall_s']:7.2f} s wall {p['cpu_s']:7.2f} s CPU")
    settings = {"profile": "scale", "levels": args.levels, "time_limit": args.time_limit}
    path = args.json
    if path.name == "bench_peers.json":  # the default: keep the solver table apart
        path = path.with_name("bench_peers_scale.json")
    common.write_json(path, {"peers_scale": rows}, settings=settings)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument(
        "--scale",
        type=int,
        nargs="*",
        default=None,
        help="Program.peers on these pool sizes (default 20000 50000)",
    )
    p.add_argument("--levels", default="all", help="'all' or a level range such as 2-3")
    p.add_argument("--time-limit", type=float, default=30.0, help="programme time_limit (0: none)")
    p.add_argument(
        "--phases", action="store_true", help="with --scale: time each step of the run too"
    )
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    common.add_json_option(p, __file__)
    args = p.parse_args(argv)
    if args.child is not None:
        common.limit_blas_threads()  # as in the parent: one BLAS thread (stdout is the JSON)
        limit = args.time_limit or None
        print(json.dumps(_scale_child(args.child, args.levels, limit, args.phases)))
        return 0
    print(common.limit_blas_threads())
    if args.scale is not None:
        args.scale = args.scale or [20_000, 50_000]
        return scale(args)
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
