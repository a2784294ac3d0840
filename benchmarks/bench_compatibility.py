"""Benchmark: building compatibility matrices with the default model.

Dense: ``default_model().score(mentors, mentees)`` on a synthetic organisation,
in nanoseconds per pair and as a ratio to the cheapest thing numpy can do with
an n x n float64 matrix: reading it once (``a.sum()`` on a preallocated array,
best of several), measured in the same run. Target: at most 40 x.

Sparse: the top-k form (k best allowed mentors per mentee) at a larger size,
with its peak memory (tracemalloc, in a second run) against what the dense
matrices would need.

    python benchmarks/bench_compatibility.py            # full: 5000 x 5000, sparse 20000 x 20000
    python benchmarks/bench_compatibility.py --quick    # 2000 x 2000, sparse 5000 x 5000

Run with the package installed (or ``PYTHONPATH=src``). BLAS is limited to one
thread when threadpoolctl is installed (small products are faster and less
noisy single-threaded on small machines); the output says which. ``--json PATH``
writes both tables as JSON (default ``benchmarks/results/bench_compatibility.json``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pandas as pd

import common
from pairwise.config import default_model
from pairwise.roster import load_roster

TARGET_RATIO = 40.0
AT = dt.date(2025, 3, 1)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def _fallback_organisation(n: int, seed: int) -> pd.DataFrame:
    """A plain synthetic organisation, used when pairwise.datasets is unavailable."""
    rng = np.random.default_rng(seed)
    sites = {
        "London": "Europe/London",
        "Berlin": "Europe/Berlin",
        "New York": "America/New_York",
        "Austin": "America/Chicago",
        "Bangalore": "Asia/Kolkata",
        "Singapore": "Asia/Singapore",
        "Sydney": "Australia/Sydney",
        "Sao Paulo": "America/Sao_Paulo",
    }
    languages = {
        "London": "English",
        "Berlin": "German;English",
        "New York": "English;Spanish",
        "Austin": "English",
        "Bangalore": "English;Hindi",
        "Singapore": "English;Mandarin",
        "Sydney": "English",
        "Sao Paulo": "Portuguese;English",
    }
    functions = ["Engineering", "Sales", "Operations", "Research", "Product", "Finance", "HR"]
    skills = [f"skill_{k}" for k in range(40)]
    goals = [f"goal_{k}" for k in range(12)]
    hours = ["09:00-17:00", "08:00-16:00", "10:00-18:00", "07:00-15:00", "12:00-20:00"]
    level = np.minimum(7, 1 + rng.geometric(0.45, size=n))
    order = np.argsort(-level, kind="stable")
    level = level[order]
    ids = np.array([f"P{k:06d}" for k in range(n)], dtype=object)
    site = rng.choice(list(sites), size=n)
    manager = [""] * n
    for i in range(1, n):
        above = max(0, int(np.searchsorted(-level, -level[i] - 1, side="right")) - 1)
        manager[i] = ids[rng.integers(0, above + 1)] if level[i] < level[0] else ids[0]

    def pick(pool: list[str], low: int, high: int) -> str:
        size = int(rng.integers(low, high + 1))
        return ";".join(rng.choice(pool, size=size, replace=False))

    return pd.DataFrame(
        {
            "id": ids,
            "level": level,
            "function": rng.choice(functions, size=n),
            "site": site,
            "timezone": [sites[s] for s in site],
            "work_hours": rng.choice(hours, size=n),
            "languages": [languages[s] for s in site],
            "skills": [pick(skills, 2, 6) for _ in range(n)],
            "wants": [pick(skills, 1, 4) for _ in range(n)],
            "goals": [pick(goals, 1, 3) for _ in range(n)],
            "manager_id": manager,
            "remote_ok": rng.random(n) < 0.85,
            "preferences": [
                ";".join(ids[rng.integers(0, n, size=3)]) if rng.random() < 0.3 else ""
                for _ in range(n)
            ],
        }
    )


def organisation(n_people: int, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """The synthetic organisation of pairwise.datasets, or a plain one if it is unavailable."""
    try:
        from pairwise.datasets import make_organisation
    except Exception as exc:  # the package may be incomplete while it is being built
        return _fallback_organisation(n_people, seed), f"script generator ({type(exc).__name__})"
    return make_organisation(n_people, seed=seed), "pairwise.datasets.make_organisation"


def rosters(n: int, seed: int = 0) -> tuple[object, object, str]:
    """n mentors (the most senior) and n mentees (the rest) of one 2n-person organisation."""
    org, origin = organisation(2 * n, seed)
    org = org.sort_values("level", ascending=False, kind="stable").reset_index(drop=True)
    mentors = load_roster(org.iloc[:n].reset_index(drop=True), role="mentor")
    mentees = load_roster(org.iloc[n:].reset_index(drop=True), role="mentee")
    return mentors, mentees, origin


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, median) wall time in seconds over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def baseline_read(n_rows: int, n_cols: int, repeat: int = 9) -> float:
    """Best time of numpy reading a preallocated n_rows x n_cols float64 matrix once."""
    a = np.ones((n_rows, n_cols))
    a.sum()  # touch every page first
    best, _ = best_of(a.sum, repeat)
    return best


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


def dense(n: int, repeat: int) -> dict[str, float | str]:
    mentors, mentees, origin = rosters(n)
    model = default_model(at=AT)
    compat = model.score(mentors, mentees)  # warm-up: first touch of fresh memory is slow in VMs
    notes = "; ".join(compat.notes) or "-"
    del compat
    best, median = best_of(lambda: model.score(mentors, mentees), repeat)
    base = baseline_read(n, n)
    pairs = n * n
    return {
        "origin": origin,
        "notes": notes,
        "n": n,
        "best_s": best,
        "median_s": median,
        "ns_pair": best / pairs * 1e9,
        "median_ns_pair": median / pairs * 1e9,
        "base_ns_pair": base / pairs * 1e9,
        "ratio": best / base,
        "median_ratio": median / base,
    }


def sparse(n: int, k: int) -> dict[str, float | str]:
    mentors, mentees, origin = rosters(n, seed=1)
    model = default_model(at=AT)
    start = time.perf_counter()
    compat = model.score(mentors, mentees, top_k=k)
    seconds = time.perf_counter() - start
    nnz = compat.scores.nnz
    del compat
    gc.collect()
    tracemalloc.start()
    model.score(mentors, mentees, top_k=k)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "origin": origin,
        "n": n,
        "k": k,
        "seconds": seconds,
        "ns_pair": seconds / (n * n) * 1e9,
        "nnz": nnz,
        "peak_mb": peak / 2**20,
        "dense_mb": n * n * 9 / 2**20,  # float64 scores + bool mask
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI profile)")
    parser.add_argument(
        "--n", type=int, default=None, help="dense size (default 5000, quick 2000)"
    )
    parser.add_argument("--sparse-n", type=int, default=None, help="sparse size (20000 / 5000)")
    parser.add_argument("--k", type=int, default=50, help="candidates kept per mentee")
    parser.add_argument("--repeat", type=int, default=None, help="timed dense runs (5 / 3)")
    common.add_json_option(parser, __file__)
    args = parser.parse_args(argv)

    n = args.n or (2000 if args.quick else 5000)
    n_sparse = args.sparse_n or (5000 if args.quick else 20000)
    repeat = args.repeat or (3 if args.quick else 5)
    threads = common.limit_blas_threads()

    print("pairwise compatibility benchmark")
    print(
        f"  profile: {'quick' if args.quick else 'full'}; python {platform.python_version()}, "
        f"numpy {np.__version__}; {threads}"
    )
    d = dense(n, repeat)
    print(f"  organisation: {d['origin']}; default_model(at={AT}); skipped: {d['notes']}")
    print()
    print("dense: default_model().score(mentors, mentees)")
    print(
        f"{'n x n':>13} {'best s':>8} {'ns/pair':>8} {'median':>8} {'read n² ns/pair':>16} "
        f"{'ratio':>7} {'target':>7}"
    )
    verdict = "met" if d["ratio"] <= TARGET_RATIO else "MISSED"
    print(
        f"{n:>6} x {n:<6}{d['best_s']:>8.3f} {d['ns_pair']:>8.2f} {d['median_ns_pair']:>8.2f} "
        f"{d['base_ns_pair']:>16.3f} {d['ratio']:>6.1f}x {TARGET_RATIO:>5.0f}x  ({verdict}; "
        f"median ratio {d['median_ratio']:.1f}x)"
    )
    print()
    s = sparse(n_sparse, args.k)
    print(f"sparse: default_model().score(mentors, mentees, top_k={args.k})")
    print(
        f"{'n x n':>13} {'seconds':>8} {'ns/pair':>8} {'stored':>9} {'peak MB':>8} "
        f"{'dense would need MB':>20}"
    )
    print(
        f"{n_sparse:>6} x {n_sparse:<6}{s['seconds']:>8.2f} {s['ns_pair']:>8.2f} {s['nnz']:>9} "
        f"{s['peak_mb']:>8.1f} {s['dense_mb']:>20.0f}"
    )
    print()
    print("ratio = best build time / best time of a.sum() on a preallocated n x n float64 array;")
    print("peak MB = tracemalloc peak of a second sparse build (rosters excluded).")
    settings = {"profile": "quick" if args.quick else "full", "repeat": repeat, "at": str(AT)}
    settings["target_ratio"] = TARGET_RATIO
    common.write_json(args.json, {"dense": [d], "sparse": [s]}, settings=settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
