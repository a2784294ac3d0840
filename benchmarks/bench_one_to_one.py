"""Benchmark ``one_to_one`` against the solvers a user would otherwise pick.

Dense: SciPy's ``linear_sum_assignment`` and OR-Tools' dense assignment
(``SimpleLinearSumAssignment`` given every cell as an arc, on the integer costs of
``integer_scale``), side by side on the same matrices, for eight structures: uniform
scores, integers 0-10, categorical and categorical-product scores, tie-heavy HR-like scores
(skill coverage + cross-function + time-zone closeness of a synthetic organisation,
rounded to quarter points), a rectangular and a masked matrix, and OR-Library's
``assign100 ... assign800`` when the reference data is present (skipped otherwise).
Sparse: OR-Tools' ``SimpleLinearSumAssignment`` and SciPy's
``min_weight_full_bipartite_matching`` on the same candidate arcs (k per mentee), plus
OR-Library's sparse ``assignp800``/``assignp1500`` when present; both baselines need a
perfect matching, which these instances have. Each solver runs in its own forked process
(the instance is built once, before the fork), so a baseline that stalls is stopped at
``--timeout`` and peak memory is per run; every timed call follows a warm-up call on a
300 x 300 corner of the same matrix, and each time is the best of up to 3 calls within
about a second (up to 20 for short calls). OR-Library files are looked up in ``$PAIRWISE_DATA_DIR`` or ``../shared/data``.

    python benchmarks/bench_one_to_one.py --quick        # n = 100..2000 dense, 20,000 sparse
    python benchmarks/bench_one_to_one.py                # n = 100..5000 dense, 100,000 sparse
    python benchmarks/bench_one_to_one.py --only sparse --sparse-n 100000

The dense part says whether numba's compiled lattice solver is used (the ``fast`` extra) and
measures what a new process pays on its first call: numba's import and its compiled code,
loaded from numba's on-disk cache, or compiled when that cache is empty.

The targets checked at the end: dense time <= 1.0x OR-Tools' dense assignment at n >= 1000
on every structure, <= 0.5x SciPy on the HR-like structure; sparse time <= 1.0x the faster
baseline on every structure.

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
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

import common

# ---------------------------------------------------------------- instances


#: Dense score structures measured at every size (OR-Library instances come on top).
DENSE_KINDS = (
    "uniform", "int0-10", "categorical", "cat-product", "hr-like", "rectangular", "masked",
)  # fmt: skip


def dense_instance(n: int, kind: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """``(scores, allowed)`` of one dense structure (``allowed`` None: every pair)."""
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.random((n, n)), None
    if kind == "int0-10":
        return rng.integers(0, 11, (n, n)).astype(float), None
    if kind == "hr-like":
        return hr_like(n, seed), None
    if kind == "rectangular":  # fewer mentors than mentees, scores on a 0.01 grid
        return np.round(rng.random((n, n + n // 2)), 2), None
    if kind == "masked":  # hard rules leave about a quarter of the pairs
        return rng.random((n, n)), rng.random((n, n)) < 0.25
    a, b = rng.integers(0, 4, (n, 3)), rng.integers(0, 4, (n, 3))
    if kind == "categorical":  # weighted matches on three 4-valued attributes
        return ((a[:, None, :] == b[None, :, :]) * np.array([0.5, 0.3, 0.2])).sum(axis=2), None
    if kind == "cat-product":  # product of levels plus a mismatch bonus
        prod = (a[:, None, 0] + 1.0) * (b[None, :, 0] + 1.0)
        return prod + (a[:, None, 1] != b[None, :, 1]), None
    if kind.startswith("assign"):  # OR-Library: minimise costs, so scores are -cost
        return -orlib_dense(kind).astype(float), None
    raise ValueError(kind)


def hr_like(n: int, seed: int = 0) -> np.ndarray:
    """Tie-heavy HR scores: n mentors x n mentees of a synthetic organisation.

    Skill coverage (weight 3), a different function (1) and time-zone
    closeness (1) from :mod:`pairwise.criteria`, on people drawn by
    :func:`pairwise.datasets.make_organisation`; the 0..5 points are rounded to
    quarters (21 levels), as a coordinator's rubric would.
    """
    import pairwise as pw
    from pairwise import criteria
    from pairwise.compatibility import CompatibilityModel

    org = pw.datasets.make_organisation(2 * n, seed=seed)
    model = CompatibilityModel(
        criteria=(
            criteria.Complement(offer="skills", want="wants", method="coverage", weight=3.0),
            criteria.Different(column="function", weight=1.0),
            criteria.Closeness(column="timezone", scale=6.0, weight=1.0),
        ),
        rules=(),
    )
    mentors = pw.load_roster(org.iloc[:n].reset_index(drop=True), role="mentor")
    mentees = pw.load_roster(org.iloc[n:].reset_index(drop=True), role="mentee")
    points = np.asarray(model.score(mentors, mentees).scores, dtype=float) * 5.0
    return np.round(points * 4.0) / 4.0


def orlib_path(name: str) -> Path | None:
    """Path of an OR-Library assignment file, or None when the reference data is absent."""
    base = common.data_dir("orlib-assign")
    path = None if base is None else base / "orlib-assign" / f"{name}.txt"
    return path if path is not None and path.exists() else None


def _orlib_tokens(name: str) -> np.ndarray:
    path = orlib_path(name)
    if path is None:
        raise FileNotFoundError(name)
    return np.array(path.read_text().split(), dtype=np.int64)


def orlib_dense(name: str) -> np.ndarray:
    """OR-Library ``assignN``: ``n`` then the n x n costs row by row."""
    tok = _orlib_tokens(name)
    n = int(tok[0])
    return tok[1 : 1 + n * n].reshape(n, n)


def orlib_sparse(name: str) -> sp.csr_matrix:
    """OR-Library ``assignpN`` (1-based ``i j cost`` triples) as scores ``-cost``."""
    tok = _orlib_tokens(name)
    n = int(tok[0])
    i, j, cost = tok[1:].reshape(-1, 3).T
    return sp.csr_matrix((-cost.astype(float), (i - 1, j - 1)), shape=(n, n))


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

Prepare = Callable[[Any], Any]

#: The clock of every timed call: wall time, or with ``--clock cpu`` the process's CPU time
#: (every solver here runs on one thread, so CPU time is the load-independent measure).
CLOCK: list[Callable[[], float]] = [time.perf_counter]


def _child(fn: Callable[..., Any], job: tuple[Any, Any, Prepare], queue: Any) -> None:
    common.limit_blas_threads()
    try:
        instance, warm, prepare = job
        # Warm up (imports, first-call set-up) on a small instance of the same kind.
        with contextlib.suppress(Exception):
            fn(prepare(warm))
        data = prepare(instance)  # input conversion a caller does anyway: not timed
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Best of several calls (up to 3 within ~1 s; up to 20 for calls under 0.05 s):
        # on a shared machine one call is mostly noise.
        elapsed, spent, calls = float("inf"), 0.0, 0
        while calls == 0 or (calls < 3 and spent < 1.0) or (calls < 20 and spent < 0.2):
            t = CLOCK[0]()
            out = fn(data)
            took = CLOCK[0]() - t
            elapsed, spent, calls = min(elapsed, took), spent + took, calls + 1
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        queue.put(("ok", elapsed, out, rss0 / 1024, peak / 1024))
    except Exception as exc:  # report, never hang the parent
        queue.put(("error", 0.0, repr(exc), 0.0, 0.0))


def run(
    fn: Callable[..., Any],
    instance: Any,
    warm: Any,
    timeout: float,
    prepare: Prepare = lambda x: x,
) -> dict:
    """``fn(prepare(instance))`` timed in a forked child (the instance is inherited)."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, (instance, warm, prepare), queue))
    proc.start()
    try:
        status, elapsed, out, rss0, peak = queue.get(timeout=timeout)
    except Exception:
        proc.kill()
        proc.join()
        return {"status": "timeout", "time": float("inf"), "value": None}
    proc.join()
    return {"status": status, "time": elapsed, "value": out, "rss0": rss0, "peak": peak}


def ours(instance: Any) -> tuple[float, int, str]:
    from pairwise.solvers.assignment import one_to_one

    res = one_to_one(*instance) if isinstance(instance, tuple) else one_to_one(instance)
    return res.objective, res.n_matched, res.method


def scipy_input(instance: tuple[np.ndarray, np.ndarray | None]) -> np.ndarray:
    """SciPy's dense input: forbidden pairs as -inf (it maximises with ``maximize=True``)."""
    S, allowed = instance
    return S if allowed is None else np.where(allowed, S, -np.inf)


def scipy_dense(S: np.ndarray) -> tuple[float, int, str]:
    from scipy.optimize import linear_sum_assignment

    r, c = linear_sum_assignment(S, maximize=True)
    return float(S[r, c].sum()), len(r), "scipy"


def ortools_input(instance: tuple[np.ndarray, np.ndarray | None]) -> tuple[Any, ...]:
    """OR-Tools' input: minimising integer costs on the grid of ``integer_scale``, as a user would.

    A rectangular matrix gets zero-cost dummy rows (OR-Tools needs a square problem).
    """
    from pairwise.solvers._ortools import integer_scale, lsa_cost_limit

    S, allowed = instance
    n, m = S.shape
    finite = S if allowed is None else S[allowed]
    scaling = integer_scale(finite, limit=lsa_cost_limit(m), shift=True)
    costs = -scaling.integers(np.where(allowed, S, 0.0) if allowed is not None else S)
    if m > n:
        costs = np.vstack([costs, np.zeros((m - n, m), np.int64)])
    return S, costs, allowed, scaling


def ortools_dense(data: tuple[Any, ...]) -> tuple[float, int, str]:
    """OR-Tools' ``SimpleLinearSumAssignment`` with every (allowed) cell as an arc."""
    from ortools.graph.python import linear_sum_assignment

    S, costs, allowed, scaling = data
    n, m = S.shape
    size = costs.shape[0]
    a = linear_sum_assignment.SimpleLinearSumAssignment()
    if allowed is None:
        tails = np.repeat(np.arange(size), m)
        heads = np.tile(np.arange(m), size)
        a.add_arcs_with_cost(tails, heads, costs.ravel())
    else:
        r, c = np.nonzero(allowed)
        a.add_arcs_with_cost(r, c, costs[r, c])
    if a.solve() != a.OPTIMAL:
        raise RuntimeError("not optimal")
    cols = np.array([a.right_mate(i) for i in range(n)])
    return float(S[np.arange(n), cols].sum()), n, f"ortools(scale {scaling.scale:g})"


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
    scaling = integer_scale(coo.data, limit=2**60 // (n + 1) ** 2)
    scale = scaling.scale
    a = linear_sum_assignment.SimpleLinearSumAssignment()
    a.add_arcs_with_cost(coo.row, coo.col, -np.rint(coo.data * scale).astype(np.int64))
    if a.solve() != a.OPTIMAL:
        raise RuntimeError("not optimal")
    cols = np.array([a.right_mate(i) for i in range(n)])
    rounded = "" if scaling.exact else ", rounded"  # scores off every grid that fits
    return float(np.asarray(S[np.arange(n), cols]).sum()), n, f"ortools(scale {scale:g}{rounded})"


# ---------------------------------------------------------------- main


def _same(a: dict, b: dict) -> bool:
    """Both runs finished with the same count and total (to 1e-7 relative)."""
    if a["status"] != "ok" or b["status"] != "ok":
        return False
    (va, na, _), (vb, nb, _) = a["value"], b["value"]
    return bool(na == nb and abs(va - vb) <= 1e-7 * max(1.0, abs(vb)))


def _ratio(a: dict, b: dict) -> float:
    if a["status"] != "ok" or b["status"] != "ok" or b["time"] <= 0:
        return float("nan")
    return float(a["time"] / b["time"])


def _dense_cases(sizes: list[int], kinds: list[str]) -> list[tuple[int, str]]:
    """Every (n, structure), then the OR-Library instances that are present."""
    cases = [(n, kind) for n in sizes for kind in kinds]
    orlib = [f"assign{k}" for k in range(100, 900, 100)]
    present = [name for name in orlib if orlib_path(name) is not None]
    if not present:
        print("(OR-Library assign*: reference data not found, skipped)")
    return cases + [(int(name[6:]), name) for name in present]


def bench_dense(sizes: list[int], kinds: list[str], timeout: float) -> list[dict]:
    print("\nDense one_to_one vs SciPy's linear_sum_assignment and OR-Tools' dense assignment")
    head = (
        f"{'n':>6} {'scores':<12} {'ours s':>8} {'scipy s':>8} {'ortools s':>9} "
        f"{'/scipy':>7} {'/ortools':>8}  agree  method"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for n, kind in _dense_cases(sizes, kinds):
        instance = dense_instance(n, kind)
        S, allowed = instance
        warm = (S[:300, :300].copy(), None if allowed is None else allowed[:300, :300].copy())
        a = run(ours, instance, warm, timeout)
        b = run(scipy_dense, instance, warm, timeout, scipy_input)
        o = run(ortools_dense, instance, warm, timeout, ortools_input)
        agree = _same(a, b) and (o["status"] != "ok" or _same(a, o))
        r_scipy, r_ortools = _ratio(a, b), _ratio(a, o)
        method = a["value"][2] if a["status"] == "ok" else a["status"]

        def fmt(x: dict) -> str:
            return f"{x['time']:.3f}" if x["status"] == "ok" else x["status"]

        print(
            f"{n:>6} {kind:<12} {fmt(a):>8} {fmt(b):>8} {fmt(o):>9} {r_scipy:>7.2f} "
            f"{r_ortools:>8.2f}  {'yes' if agree else 'NO':<5}  {method}",
            flush=True,
        )
        rows.append(
            {
                "n": n,
                "scores": kind,
                "ours_s": a["time"],
                "scipy_s": b["time"],
                "ortools_s": o["time"],
                "vs_scipy": r_scipy,
                "vs_ortools": r_ortools,
                "agree": agree,
                "method": method,
            }
        )
    return rows


_FIRST_CALL = """
import sys, time
import numpy as np
sys.path.insert(0, {bench!r})
from bench_one_to_one import hr_like
from pairwise.solvers import _lapjv
from pairwise.solvers.assignment import one_to_one
S = hr_like(1000)
t0 = time.perf_counter()
first = one_to_one(S)
t1 = time.perf_counter()
one_to_one(S)
t2 = time.perf_counter()
print(_lapjv.compiled_kernels() is not None, first.method, t1 - t0, t2 - t1)
"""


def numba_first_call() -> dict:
    """What a new process pays on its first lattice solve: numba's import and compiled code.

    Runs ``one_to_one`` twice on HR-like scores (n = 1000) in a fresh interpreter,
    once with numba's on-disk cache as it is (normally warm: a later process only
    loads the compiled code) and once with an empty cache directory (the compilation
    every first install pays once).
    """
    import os
    import subprocess
    import sys
    import tempfile

    code = _FIRST_CALL.format(bench=str(Path(__file__).resolve().parent))
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as empty:
        for label, extra in (("cached", {}), ("cold", {"NUMBA_CACHE_DIR": empty})):
            env = {**os.environ, **extra}
            done = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                out[label] = {"error": done.stderr.strip().splitlines()[-1:]}
                continue
            used, method, first, second = done.stdout.split()
            out[label] = {
                "numba": used == "True",
                "method": method,
                "first_s": float(first),
                "second_s": float(second),
            }
    for label, row in out.items():
        if "error" in row:
            print(f"first call ({label}): failed {row['error']}")
        else:
            print(
                f"first call in a new process, numba cache {label}: {row['first_s']:.2f} s, "
                f"then {row['second_s']:.3f} s (HR-like n=1000, {row['method']}, "
                f"numba {'used' if row['numba'] else 'absent'})"
            )
    return out


def dense_targets(rows: list[dict]) -> bool:
    """Print and check the dense targets; True when every one is met."""
    big = [r for r in rows if r["n"] >= 1000]
    hr = [r for r in rows if r["scores"] == "hr-like"]
    ok = True
    if big:
        worst = max(big, key=lambda r: r["vs_ortools"])
        met = all(r["vs_ortools"] <= 1.0 and r["agree"] for r in big)
        ok &= met
        print(
            f"target met: {'yes' if met else 'NO'} -- <= 1.00x OR-Tools' dense assignment at "
            f"n >= 1000 on every structure (worst {worst['vs_ortools']:.2f}x, "
            f"{worst['scores']} n={worst['n']}; all agree: {all(r['agree'] for r in big)})"
        )
    if hr:
        worst = max(hr, key=lambda r: r["vs_scipy"])
        met = all(r["vs_scipy"] <= 0.5 for r in hr)
        ok &= met
        print(
            f"target met: {'yes' if met else 'NO'} -- <= 0.50x SciPy on the HR-like structure "
            f"(worst {worst['vs_scipy']:.2f}x at n={worst['n']})"
        )
    big_hr = [r for r in hr if r["n"] >= 1000]
    if big_hr and len(big_hr) < len(hr):
        # Below n = 1000 SciPy needs under 0.05 s, and the per-call work around it
        # (validation, the result) weighs as much as the solve.
        worst = max(big_hr, key=lambda r: r["vs_scipy"])
        print(
            f"  at n >= 1000 only: {'yes' if worst['vs_scipy'] <= 0.5 else 'NO'} "
            f"(worst {worst['vs_scipy']:.2f}x at n={worst['n']})"
        )
    return ok


def bench_sparse(n: int, k: int, kinds: list[str], timeout: float) -> list[dict]:
    print(f"\nSparse one_to_one, {n:,} x {n:,}, {k} candidates per mentee (+ OR-Library)")
    head = (
        f"{'scores':<12} {'ours s':>8} {'ortools s':>9} {'scipy s':>8} {'vs best':>7}  agree  "
        f"{'peak MB':>7}  method"
    )
    print(head)
    print("-" * len(head))
    cases: list[tuple[str, Callable[[], sp.csr_matrix]]] = [
        (kind, lambda kind=kind: sparse_instance(n, k, kind)) for kind in kinds
    ]
    for name in ("assignp800", "assignp1500"):
        if orlib_path(name) is not None:
            cases.append((name, lambda name=name: orlib_sparse(name)))
    warm = sparse_instance(300, 5, "uniform")
    rows = []
    for kind, make in cases:
        instance = make()
        a = run(ours, instance, warm, timeout)
        o = run(ortools_sparse, instance, warm, timeout)
        s = run(scipy_sparse, instance, warm, timeout)
        best = min(o["time"], s["time"])
        done = [x for x in (o, s) if x["status"] == "ok"]
        agree = a["status"] == "ok" and all(_same(a, x) for x in done)
        ratio = a["time"] / best if best > 0 else float("nan")

        def fmt(x: dict) -> str:
            return f"{x['time']:.2f}" if x["status"] == "ok" else x["status"]

        method = a["value"][2] if a["status"] == "ok" else a["status"]
        baseline = o["value"][2] if o["status"] == "ok" else o["status"]
        print(
            f"{kind:<12} {fmt(a):>8} {fmt(o):>9} {fmt(s):>8} {ratio:>7.2f}  "
            f"{'yes' if agree else 'NO':<5}  {a.get('peak', 0):>7.0f}  {method}  [{baseline}]",
            flush=True,
        )
        rows.append(
            {
                "n": instance.shape[0],
                "k": k,
                "scores": kind,
                "ours_s": a["time"],
                "ortools_s": o["time"],
                "scipy_s": s["time"],
                "vs_faster": ratio,
                "agree": agree,
                "peak_mb": a.get("peak"),
                "method": method,
                "ortools_method": baseline,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    p.add_argument("--only", choices=["dense", "sparse"], default=None)
    p.add_argument("--sizes", type=str, default=None, help="dense sizes, e.g. 100,1000")
    p.add_argument("--kinds", type=str, default=None, help="dense structures, e.g. hr-like,masked")
    p.add_argument("--sparse-n", type=int, default=None)
    p.add_argument("--k", type=int, default=50, help="candidates per mentee (sparse)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per solver run")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="time measured")
    common.add_json_option(p, __file__)
    args = p.parse_args(argv)
    sizes = [100, 500, 1000, 2000] if args.quick else [100, 500, 1000, 2000, 5000]
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",")]
    sparse_n = args.sparse_n or (20_000 if args.quick else 100_000)
    timeout = args.timeout or (60.0 if args.quick else 300.0)
    print(f"{common.limit_blas_threads()}, in every run")
    if args.clock == "cpu":
        CLOCK[0] = time.process_time
    print(f"clock: {args.clock} time of each call")
    print(f"profile: {'quick' if args.quick else 'full'}; timeout {timeout:.0f} s per run")
    tables: dict[str, list[dict]] = {}
    if args.only in (None, "dense"):
        from pairwise.solvers import _lapjv

        used = _lapjv.compiled_kernels() is not None
        print(f"numba: {'installed, compiled lattice solver used' if used else 'absent'}")
        kinds = args.kinds.split(",") if args.kinds else list(DENSE_KINDS)
        tables["dense"] = bench_dense(sizes, kinds, timeout)
        dense_targets(tables["dense"])
        tables["first_call"] = [numba_first_call()]
    if args.only in (None, "sparse"):
        rows = bench_sparse(
            sparse_n, args.k, ["uniform", "quarter", "rank", "features", "grouped"], timeout
        )
        tables["sparse"] = rows
        worst = max(rows, key=lambda r: r["vs_faster"])
        met = all(r["vs_faster"] <= 1.0 and r["agree"] for r in rows)
        print(
            f"target met: {'yes' if met else 'NO'} -- sparse <= 1.00x the faster baseline on "
            f"every structure (worst {worst['vs_faster']:.2f}x, {worst['scores']})"
        )
    settings = {
        "profile": "quick" if args.quick else "full",
        "timeout_s": timeout,
        "dense_n": sizes,
        "sparse_n": sparse_n,
        "k": args.k,
        "clock": args.clock,
    }
    common.write_json(args.json, tables, settings=settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
