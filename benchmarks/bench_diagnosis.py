"""Benchmark: the measured diagnosis of a pairs run, dense and sparse (top-k).

A synthetic organisation is split by level into mentors (the upper 40 %) and
mentees, every mentor taking one mentee, so that capacity and the rules both
leave people out. The table gives the seconds of ``model.score`` (for scale),
of the diagnosis (:func:`pairwise._diagnosis.diagnose_pairs`) and its findings.

    python benchmarks/bench_diagnosis.py            # 3000 people
    python benchmarks/bench_diagnosis.py --quick    # 1000 people

Run with the package installed (or ``PYTHONPATH=src``); ``--json PATH`` writes
the table (default ``benchmarks/results/bench_diagnosis.json``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import common
from pairwise import datasets, load_program
from pairwise._diagnosis import diagnose_pairs
from pairwise.roster import load_roster


def run(n_people: int, top_k: int | None) -> dict[str, object]:
    org = datasets.make_organisation(n_people, seed=1)
    level = org["level"].to_numpy()
    cut = np.quantile(level, 0.6)
    mentors = load_roster(org[level >= cut].reset_index(drop=True), role="mentor")
    mentees = load_roster(org[level < cut].reset_index(drop=True), role="mentee")
    program = load_program().replace(capacity_column=None, capacity=1, time_limit=None)
    start = time.perf_counter()
    compat = program.model.score(mentors, mentees, top_k=top_k)
    scored = time.perf_counter() - start
    result = program.replace(top_k=top_k or 0).pairs(mentors, mentees)
    matched = mentees.index_of(result.pairs["mentee_id"].astype(str))
    cap = np.ones(len(mentors), dtype=np.int64)
    start = time.perf_counter()
    found = diagnose_pairs(program.model, compat, mentors, mentees, cap, matched)
    seconds = time.perf_counter() - start
    return {
        "mentors": len(mentors),
        "mentees": len(mentees),
        "form": "dense" if top_k is None else f"top-{top_k}",
        "matched": len(result.pairs),
        "score_s": round(scored, 3),
        "diagnosis_s": round(seconds, 3),
        "findings": len(found),
        "first": found[0].message if found else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1000 people instead of 3000")
    common.add_json_option(parser, __file__)
    args = parser.parse_args(argv)
    print(common.limit_blas_threads())
    n = 1000 if args.quick else 3000
    rows = [run(n, None), run(n, 50)]
    for row in rows:
        print(
            f"{row['mentors']:>5} x {row['mentees']:<5} {row['form']:<7} matched "
            f"{row['matched']:>5}  score {row['score_s']:>6.2f} s  diagnosis "
            f"{row['diagnosis_s']:>6.2f} s  {row['findings']} finding(s)"
        )
        if row["first"]:
            print(f"    {row['first']}")
    common.write_json(args.json, {"diagnosis": rows}, settings={"people": n})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
