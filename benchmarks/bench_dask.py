"""Benchmark: candidate generation (scoring + top-k) on a Dask cluster, by sampled blocks.

1,000,000 mentees x 200,000 mentors (2 x 10^11 pairs) with the default
programme's model and ``top_k = 50``, on a ``LocalCluster`` of single-threaded
worker processes. The full run would take hours on two cores, so the script
times a random sample of mentee blocks against the *full* mentor roster and
projects:

* per-block cost: the local path first groups mentees by the hard rules
  (:func:`pairwise._topk.top_k_layout`: only the mentors a group's kinds may
  meet are scored) and scores each group in chunks; the sample is whole chunks
  of groups drawn in proportion to their work, timed inside the workers' tasks,
  and reported per chunk and per scored pair;
* projected cluster time: scored pairs x cost per pair / workers (also from the
  sample's wall time on the cluster, overheads included);
* memory per worker: the plan shipped to every worker (the encoded rosters)
  plus one block's buffers, measured as each worker's resident and peak memory;
* equality: the sampled blocks computed locally (the same
  :func:`pairwise._topk.top_k_range` the local path's chunks run) against the
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
from pairwise._topk import _Plan, top_k_layout, top_k_range
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


def _timed_range(
    tplan: _Plan, blocking: Any, group: int, a: int, b: int, chunk: int, k: int
) -> dict[str, Any]:
    """A worker's task: the top-k of chunks ``a:b`` of a group, its seconds and memory."""
    import resource as res
    import time as clock

    import psutil

    start, cpu = clock.perf_counter(), clock.thread_time()
    part = top_k_range(tplan, blocking, group, a, b, chunk, k)
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
    rng: np.random.Generator, layout: list[tuple[int, int, int, int]], tasks: int, blocks: int
) -> list[tuple[int, int, int, int]]:
    """``tasks`` random ranges of ``blocks`` whole chunks, groups drawn by their work.

    Each range is ``(group, first, stop, chunk)``; ``layout`` rows carry the
    group's mentor count in place of its first mentee (always 0).
    """
    work = np.array([(stop - first) * width for _, first, stop, _, width in layout], float)
    picks = rng.choice(len(layout), size=tasks, p=work / work.sum())
    out = []
    for i in picks:
        group, first, stop, chunk, _ = layout[int(i)]
        slots = max(1, math.ceil((stop - first) / (chunk * blocks)))
        s0 = first + int(rng.integers(slots)) * chunk * blocks
        out.append((group, s0, min(s0 + chunk * blocks, stop), chunk))
    return out


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
    args: argparse.Namespace, tplan: _Plan, blocking: Any, ranges: list[tuple[int, int, int, int]]
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
        groups = client.scatter(blocking, broadcast=True, hash=False) if blocking else None
        out["scatter_s"] = time.perf_counter() - t0
        out["held"] = client.run(_worker_memory)
        t0 = time.perf_counter()
        futures = [
            client.submit(_timed_range, shipped, groups, g, a, b, c, args.k, pure=False)
            for g, a, b, c in ranges
        ]
        out["done"] = client.gather(futures)
        out["sample_wall"] = time.perf_counter() - t0
        out["after"] = client.run(_worker_memory)
    return out


def _per_block(
    done: list[dict[str, Any]], ranges: list[tuple[int, int, int, int]], key: str
) -> list[float]:
    return [d[key] / math.ceil((b - a) / c) for d, (_, a, b, c) in zip(done, ranges, strict=True)]


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
    t0 = time.perf_counter()
    blocking, layout = top_k_layout(tplan, None)
    layout_s = time.perf_counter() - t0
    mentors_of = {p: w for p, _, w in blocking.sizes()} if blocking is not None else {-1: n_m}
    rows5 = [(g, a, b, c, mentors_of[g]) for g, a, b, c in layout]
    total_blocks = sum(math.ceil((b - a) / c) for _, a, b, c in layout)
    total_pairs = sum((b - a) * w for _, a, b, _, w in rows5)
    print(
        f"rosters: {n_e:,} mentees x {n_m:,} mentors ({n_e * n_m:.2e} pairs), top_k = {args.k}; "
        f"drawn from an organisation of {args.source:,} ({n_m0:,} mentors, {n_e0:,} mentees) "
        f"encoded in {encode_s:.1f} s"
    )
    print(
        f"plan shipped to each worker: {_plan_bytes(plan) / MB:.0f} MB; blocking on the rules "
        f"({layout_s:.1f} s): {len(layout):,} groups, {total_pairs:.2e} pairs scored "
        f"({100 * total_pairs / (n_e * n_m):.0f}%), {total_blocks:,} chunks"
    )
    ranges = _sample_ranges(rng, rows5, args.workers * args.tasks_per_worker, args.blocks_per_task)
    sampled_blocks = sum(math.ceil((b - a) / c) for _, a, b, c in ranges)
    sampled_pairs = sum((b - a) * mentors_of[g] for g, a, b, _ in ranges)
    run = _on_cluster(args, tplan, blocking, ranges)
    done = run["done"]
    per_block = _per_block(done, ranges, "seconds")
    cost = statistics.median(per_block)
    cpu_cost = statistics.median(_per_block(done, ranges, "cpu"))
    pair_cost = sum(d["seconds"] for d in done) / sampled_pairs
    pair_cpu = sum(d["cpu"] for d in done) / sampled_pairs

    # the same chunks in this process, with the local path's function (one BLAS thread)
    t0, cpu0 = time.perf_counter(), time.thread_time()
    equal = sum(
        _same(top_k_range(tplan, blocking, g, a, b, c, args.k), d["part"])
        for d, (g, a, b, c) in zip(done, ranges, strict=True)
    )
    local_cost = (time.perf_counter() - t0) / sampled_blocks
    local_cpu_cost = (time.thread_time() - cpu0) / sampled_blocks

    projected = total_pairs * pair_cost / args.workers
    projected_cpu = total_pairs * pair_cpu / args.workers
    projected_wall = run["sample_wall"] * total_pairs / sampled_pairs
    result_mb = n_e * min(args.k, n_m) * 12 / MB  # at most k per mentee: score f8 + index i4
    print(f"LocalCluster: {args.workers} workers x 1 thread, started in {run['start_s']:.1f} s")
    print(f"plan broadcast to every worker: {run['scatter_s']:.1f} s")
    print(
        f"sample: {len(ranges)} tasks, {sampled_blocks:,} chunks ({sampled_pairs:.2e} scored "
        f"pairs), wall {run['sample_wall']:.1f} s"
    )
    print(
        f"per-chunk cost (in-task median): {cost * 1e3:.1f} ms, min {min(per_block) * 1e3:.1f}, "
        f"max {max(per_block) * 1e3:.1f}; CPU {cpu_cost * 1e3:.1f} ms; per scored pair "
        f"{pair_cost * 1e9:.2f} ns (CPU {pair_cpu * 1e9:.2f} ns); the same chunks in this "
        f"process: {local_cost * 1e3:.1f} ms (CPU {local_cpu_cost * 1e3:.1f} ms)"
    )
    print(
        f"projected cluster time, {args.workers} workers: on dedicated cores (in-task CPU) "
        f"{total_pairs:.2e} pairs x {pair_cpu * 1e9:.2f} ns / {args.workers} = "
        f"{projected_cpu:,.0f} s ({projected_cpu / 60:.1f} min); on this machine as loaded "
        f"(in-task wall) {projected:,.0f} s, from the sample's wall time {projected_wall:,.0f} s"
    )
    print(
        "projected on dedicated cores: "
        + ", ".join(
            f"{w} workers {total_pairs * pair_cpu / w / 60:.1f} min" for w in (16, 64, 256)
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
        "groups": len(layout),
        "scored_pairs": total_pairs,
        "total_chunks": total_blocks,
        "sampled_chunks": sampled_blocks,
        "per_pair_cpu_ns": pair_cpu * 1e9,
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
