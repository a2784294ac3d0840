"""Benchmark: candidate generation (scoring + top-k) on a Dask cluster, by sampled blocks.

1,000,000 mentees x 200,000 mentors (2 x 10^11 pairs) with the default
programme's model and ``top_k = 50``, on a ``LocalCluster`` of single-threaded
worker processes. The full run would take hours on two cores, so the script
times a random sample of mentee blocks against the *full* mentor roster and
projects:

* per-block cost: seconds per block (``_auto_block(200,000) = 8`` mentees x
  200,000 mentors), measured inside the workers' tasks;
* projected cluster time: blocks x per-block cost / workers (also from the
  sample's wall time on the cluster, overheads included);
* memory per worker: the plan shipped to every worker (the encoded rosters)
  plus one block's buffers, measured as each worker's resident and peak memory;
* equality: the sampled blocks computed locally (the same
  :func:`pairwise._topk.top_k_columns` the local path runs) against the
  cluster's results, bit for bit.

The rosters: a synthetic organisation (:func:`pairwise.datasets.make_organisation`,
``--source`` people, ``manager_id`` blanked) is encoded once; the 1,000,000
mentees and 200,000 mentors are drawn from its people with replacement, and
their encoded attributes are the source rows' (loading 1.2 million CSV rows
costs minutes here and is not what this measures).

    python benchmarks/bench_dask.py            # 1,000,000 x 200,000, 2 workers, ~1-2 min
    python benchmarks/bench_dask.py --quick    # 100,000 x 20,000

Run with ``PYTHONPATH=src`` or the package installed with the ``dask`` and
``bench`` extras. ``--json PATH`` writes the figures (default
``benchmarks/results/bench_dask.json``).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import math
import resource
import statistics
import sys
import time
from typing import Any

import numpy as np

import common
from pairwise import datasets
from pairwise._terms import EncodingCache, SparseTerm, Table, TableMask
from pairwise._topk import _auto_block, _Plan, top_k_columns
from pairwise.compatibility import _criterion_terms, _rule_terms
from pairwise.config import load_program
from pairwise.roster import load_roster

MB = 1024.0**2


def _source_plan(n_people: int, seed: int) -> tuple[_Plan, int, int]:
    """The default model's plan on a synthetic organisation: (plan, n mentors, n mentees)."""
    org = datasets.make_organisation(n_people, seed=seed)
    org["manager_id"] = ""  # copies of one person would break the manager tree
    mentors = load_roster(org[org["level"] >= 4].reset_index(drop=True), role="mentor")
    mentees = load_roster(org[org["level"] <= 3].reset_index(drop=True), role="mentee")
    model = load_program().model
    cache = EncodingCache(at=model.at)
    criteria, rules, _ = model._active(mentors, mentees)
    _, score_terms, _ = _criterion_terms(criteria, mentors, mentees, cache)
    _, mask_terms = _rule_terms(rules, mentors, mentees, cache)
    plan = _Plan((len(mentors), len(mentees)), score_terms, mask_terms)
    return plan, len(mentors), len(mentees)


def _take(plan: _Plan, rows: np.ndarray, cols: np.ndarray) -> _Plan:
    """The plan of rosters whose people are copies of the source rows ``rows`` / ``cols``."""
    if plan.others or any(not isinstance(m, TableMask) for m in plan.masks):
        raise SystemExit(
            "the default model's plan holds terms this benchmark cannot copy row-wise "
            f"(others={len(plan.others)}, masks={[type(m).__name__ for m in plan.masks]})"
        )
    big = copy.copy(plan)
    big.shape = (len(rows), len(cols))
    for side, index in (("a", rows), ("b", cols), ("va", rows), ("vb", cols)):
        value = getattr(plan, side)
        setattr(big, side, None if value is None else np.ascontiguousarray(value[index]))
    if plan.sparse is not None:  # rare categories: the pairs of copies that share one
        big.sparse = SparseTerm(plan.sparse.matrix[rows][:, cols])
    big.masks = [
        TableMask(Table(m.table.left[rows], m.table.right[cols], m.table.table))
        for m in plan.masks
    ]
    return big


def _plan_bytes(plan: _Plan) -> int:
    arrays = [plan.a, plan.b, plan.va, plan.vb]
    if plan.sparse is not None:
        m = plan.sparse.matrix
        arrays += [m.data, m.indices, m.indptr]
    for m in plan.masks:
        arrays += [m.table.left, m.table.right, m.table.table]
    return sum(x.nbytes for x in arrays if x is not None)


def _timed_range(tplan: _Plan, c0: int, c1: int, k: int, step: int) -> dict[str, Any]:
    """A worker's task: the top-k of mentees ``c0:c1``, its seconds and the worker's memory."""
    import resource as res
    import time as clock

    import psutil

    start, cpu = clock.perf_counter(), clock.thread_time()
    part = top_k_columns(tplan, c0, c1, k, step)
    seconds, cpu = clock.perf_counter() - start, clock.thread_time() - cpu
    return {
        "part": part,
        "seconds": seconds,
        "cpu": cpu,
        "rss": psutil.Process().memory_info().rss,
        "peak": res.getrusage(res.RUSAGE_SELF).ru_maxrss * 1024,
    }


def _worker_memory() -> dict[str, int]:
    import resource as res

    import psutil

    return {
        "rss": psutil.Process().memory_info().rss,
        "peak": res.getrusage(res.RUSAGE_SELF).ru_maxrss * 1024,
    }


def _sample_ranges(
    rng: np.random.Generator, n: int, step: int, tasks: int, blocks: int
) -> list[tuple[int, int]]:
    """``tasks`` disjoint random ranges of ``blocks`` whole blocks each, ascending."""
    width = step * blocks
    slots = n // width
    chosen = np.sort(rng.choice(slots, size=min(tasks, slots), replace=False))
    return [(int(s) * width, min(int(s) * width + width, n)) for s in chosen]


def _same(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="100,000 mentees x 20,000 mentors")
    p.add_argument("--mentees", type=int, default=1_000_000)
    p.add_argument("--mentors", type=int, default=200_000)
    p.add_argument("--k", type=int, default=50, help="candidates kept per mentee")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    p.add_argument("--tasks-per-worker", type=int, default=4)
    p.add_argument("--blocks-per-task", type=int, default=8)
    p.add_argument("--source", type=int, default=20_000, help="people in the source org")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--no-malloc-trim",
        action="store_true",
        help="start workers without the nanny's MALLOC_TRIM_THRESHOLD_ (glibc's adaptive "
        "default: fewer page faults on large temporaries)",
    )
    common.add_json_option(p, __file__)
    args = p.parse_args(argv)
    if args.quick:
        args.mentees, args.mentors = 100_000, 20_000
    return args


def _on_cluster(
    args: argparse.Namespace, tplan: _Plan, ranges: list[tuple[int, int]], step: int
) -> dict[str, Any]:
    """Start the LocalCluster, ship the plan, run the sampled ranges; timings and memory."""
    import dask
    from distributed import Client, LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    if args.no_malloc_trim:
        environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    print(f"worker environment set by the nanny: {environ}")
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        out["start_s"] = time.perf_counter() - t0
        out["idle"] = client.run(_worker_memory)
        t0 = time.perf_counter()
        shipped = client.scatter(tplan, broadcast=True, hash=False)  # on every worker on return
        out["scatter_s"] = time.perf_counter() - t0
        out["held"] = client.run(_worker_memory)
        t0 = time.perf_counter()
        futures = [
            client.submit(_timed_range, shipped, a, b, args.k, step, pure=False) for a, b in ranges
        ]
        out["done"] = client.gather(futures)
        out["sample_wall"] = time.perf_counter() - t0
        out["after"] = client.run(_worker_memory)
    return out


def _per_block(
    done: list[dict[str, Any]], ranges: list[tuple[int, int]], step: int, key: str
) -> list[float]:
    return [d[key] / math.ceil((b - a) / step) for d, (a, b) in zip(done, ranges, strict=True)]


def _worker_rows(run: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    idle, held, after = run["idle"], run["held"], run["after"]
    for name in sorted(after):
        print(
            f"memory {name}: idle {idle[name]['rss'] / MB:.0f} MB, holding the plan "
            f"{held[name]['rss'] / MB:.0f} MB, after its blocks {after[name]['rss'] / MB:.0f} MB, "
            f"peak {after[name]['peak'] / MB:.0f} MB"
        )
        rows.append(
            {
                "worker": name,
                "idle_rss_mb": idle[name]["rss"] / MB,
                "holding_rss_mb": held[name]["rss"] / MB,
                "after_rss_mb": after[name]["rss"] / MB,
                "peak_mb": after[name]["peak"] / MB,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if importlib.util.find_spec("distributed") is None:
        print("needs dask[distributed]: pip install -e '.[dask,bench]'", file=sys.stderr)
        return 2
    print(common.limit_blas_threads())
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    source, n_m0, n_e0 = _source_plan(args.source, args.seed)
    encode_s = time.perf_counter() - t0
    plan = _take(source, rng.integers(0, n_m0, args.mentors), rng.integers(0, n_e0, args.mentees))
    tplan = plan.transpose()  # what the cluster path ships: rows = mentees
    n_m, n_e = plan.shape
    step = _auto_block(n_m)
    total_blocks = math.ceil(n_e / step)
    print(
        f"rosters: {n_e:,} mentees x {n_m:,} mentors ({n_e * n_m:.2e} pairs), top_k = {args.k}; "
        f"drawn from an organisation of {args.source:,} ({n_m0:,} mentors, {n_e0:,} mentees) "
        f"encoded in {encode_s:.1f} s"
    )
    print(
        f"plan shipped to each worker: {_plan_bytes(plan) / MB:.0f} MB; block = {step} mentees "
        f"x {n_m:,} mentors; {total_blocks:,} blocks in all"
    )
    ranges = _sample_ranges(
        rng, n_e, step, args.workers * args.tasks_per_worker, args.blocks_per_task
    )
    sampled_blocks = sum(math.ceil((b - a) / step) for a, b in ranges)
    run = _on_cluster(args, tplan, ranges, step)
    done = run["done"]
    per_block = _per_block(done, ranges, step, "seconds")
    cost = statistics.median(per_block)
    cpu_cost = statistics.median(_per_block(done, ranges, step, "cpu"))

    # the same blocks in this process, with the local path's function (one BLAS thread)
    t0, cpu0 = time.perf_counter(), time.thread_time()
    equal = sum(
        _same(top_k_columns(tplan, a, b, args.k, step), d["part"])
        for d, (a, b) in zip(done, ranges, strict=True)
    )
    local_cost = (time.perf_counter() - t0) / sampled_blocks
    local_cpu_cost = (time.thread_time() - cpu0) / sampled_blocks

    projected = total_blocks * cost / args.workers
    projected_cpu = total_blocks * cpu_cost / args.workers
    projected_wall = run["sample_wall"] * total_blocks / sampled_blocks
    kept = sum(len(d["part"][1]) for d in done)
    result_mb = kept / max(sampled_blocks * step, 1) * n_e * 12 / MB  # score f8 + index i4
    print(f"LocalCluster: {args.workers} workers x 1 thread, started in {run['start_s']:.1f} s")
    print(f"plan broadcast to every worker: {run['scatter_s']:.1f} s")
    print(
        f"sample: {len(ranges)} tasks, {sampled_blocks:,} blocks "
        f"({sampled_blocks * step:,} mentees x {n_m:,} mentors), wall {run['sample_wall']:.1f} s"
    )
    print(
        f"per-block cost (in-task median): {cost * 1e3:.1f} ms "
        f"({cost / (step * n_m) * 1e9:.2f} ns per pair); min {min(per_block) * 1e3:.1f}, "
        f"max {max(per_block) * 1e3:.1f}; CPU {cpu_cost * 1e3:.1f} ms; the same blocks in "
        f"this process: {local_cost * 1e3:.1f} ms (CPU {local_cpu_cost * 1e3:.1f} ms)"
    )
    print(
        f"projected cluster time, {args.workers} workers: on dedicated cores (in-task CPU) "
        f"{total_blocks:,} blocks x {cpu_cost * 1e3:.1f} ms / {args.workers} = "
        f"{projected_cpu:,.0f} s ({projected_cpu / 60:.1f} min); on this machine as loaded "
        f"(in-task wall) {projected:,.0f} s, from the sample's wall time {projected_wall:,.0f} s"
    )
    print(
        "projected on dedicated cores: "
        + ", ".join(
            f"{w} workers {total_blocks * cpu_cost / w / 60:.1f} min" for w in (16, 64, 256)
        )
    )
    workers = _worker_rows(run)
    print(f"gathered candidates for the whole roster: about {result_mb:,.0f} MB on the client")
    print(f"local == cluster on the sampled blocks: {equal}/{len(ranges)} tasks bit for bit")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"this script's own peak memory: {peak:.0f} MB")
    summary = {
        "mentees": n_e,
        "mentors": n_m,
        "k": args.k,
        "workers": args.workers,
        "block_mentees": step,
        "total_blocks": total_blocks,
        "sampled_blocks": sampled_blocks,
        "per_block_ms": cost * 1e3,
        "per_block_cpu_ms": cpu_cost * 1e3,
        "local_per_block_ms": local_cost * 1e3,
        "local_per_block_cpu_ms": local_cpu_cost * 1e3,
        "sample_wall_s": run["sample_wall"],
        "projected_cluster_cpu_s": projected_cpu,
        "projected_cluster_s": projected,
        "projected_from_wall_s": projected_wall,
        "plan_mb": _plan_bytes(plan) / MB,
        "scatter_s": run["scatter_s"],
        "gathered_mb": result_mb,
        "equal_tasks": equal,
        "tasks": len(ranges),
    }
    common.write_json(
        args.json,
        {"summary": [summary], "workers": workers},
        settings=vars(args) | {"json": str(args.json)},
    )
    return 0 if equal == len(ranges) else 1


if __name__ == "__main__":
    raise SystemExit(main())
