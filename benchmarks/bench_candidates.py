"""Candidate generation at scale: the sparse top-k build of the default programme, alone.

Draws the rosters of ``bench_programme.py`` (100,000 mentees x 100,000 mentors with
capacity 1 — 10¹⁰ pairs — or 100,000 x 20,000 with capacities 1-3), then times
``program.model.score(mentors, mentees, top_k=50)`` in this process: wall time, CPU
time (both scoring threads), their ratio (how well the threads overlap), and peak
resident memory. ``--row-top-k`` adds the two-sided candidates the programme uses
when places are short (each mentor's ``ceil(2 x capacity)`` best mentees).

The target of the scale contract: <= 40 s for 10¹⁰ pairs on 2 cores. Wall time on a
shared machine is noisy: the load average is printed before and after, and the CPU
seconds beside the wall.

    python benchmarks/bench_candidates.py                  # 100k x 100k, capacity 1
    python benchmarks/bench_candidates.py --mentors 20000 --row-top-k

``--json PATH`` writes the row as JSON (default ``benchmarks/results/bench_candidates.json``).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np

import common
from bench_programme import rosters
from pairwise.config import default_program
from pairwise.program import MENTOR_TOP_FACTOR, _as_roster

TARGET_SECONDS = 40.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentees", type=int, default=100_000)
    parser.add_argument("--mentors", type=int, default=100_000)
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--row-top-k", action="store_true", help="two-sided candidates")
    parser.add_argument("--seed", type=int, default=0)
    common.add_json_option(parser, "bench_candidates")
    args = parser.parse_args(argv)
    one = args.mentors >= args.mentees  # the 100k x 100k scenario: capacity 1
    m, e = rosters(args.mentees, args.mentors, capacity_one=one, seed=args.seed)
    program = default_program()
    mentors = _as_roster(m, "mentor", program.rename)
    mentees = _as_roster(e, "mentee", program.rename)
    row_top_k = None
    if args.row_top_k:
        row_top_k = np.ceil(MENTOR_TOP_FACTOR * program._capacity(mentors)).astype(np.int64)
    load_before = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    compat = program.model.score(mentors, mentees, top_k=args.top_k, row_top_k=row_top_k)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    pairs = len(mentors) * len(mentees)
    row = {
        "mentors": len(mentors),
        "mentees": len(mentees),
        "pairs": pairs,
        "candidates": int(compat.scores.nnz),
        "row_top_k": bool(args.row_top_k),
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_per_wall": cpu / wall,
        "peak_gb": peak,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "target_met": wall <= TARGET_SECONDS or pairs < 10**10,
    }
    print(
        f"{len(mentees)} mentees x {len(mentors)} mentors ({pairs:.2e} pairs), top_k "
        f"{args.top_k}{' + mentors own best' if args.row_top_k else ''}: {row['candidates']} "
        f"candidates\n  wall {wall:.1f} s, CPU {cpu:.1f} s (x{cpu / wall:.2f}), peak "
        f"{peak:.2f} GB; load {load_before:.1f} -> {row['load_after']:.1f}"
    )
    if args.json:
        common.write_json(Path(args.json), {"candidates": [row]}, settings=vars(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
