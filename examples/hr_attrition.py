"""Mentoring pairs and learning groups on the IBM HR attrition table (1470 employees).

The table is not shipped with pairwise; point PAIRWISE_DATA_DIR at a folder holding
``hr/WA_Fn-UseC_-HR-Employee-Attrition.csv`` (or keep ``../shared/data`` beside the
project). It has no time zones, skills or managers, so this programme uses what
it has: job level, department, education field, job role and tenure.

Run: python examples/hr_attrition.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pairwise as pw
from pairwise import criteria as C
from pairwise import rules as R


def _data_dir() -> Path:
    env = os.environ.get("PAIRWISE_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> int:
    path = _data_dir() / "hr" / "WA_Fn-UseC_-HR-Employee-Attrition.csv"
    if not path.exists():
        print(f"HR table not found at {path}; set PAIRWISE_DATA_DIR.")
        return 0
    rename = {
        "EmployeeNumber": "id",
        "JobLevel": "level",
        "Department": "function",
        "Gender": "gender",
    }
    people = pw.load_roster(path, rename=rename)
    frame = people.to_frame()
    level = people.frame["level"]
    mentors = pw.load_roster(frame[(level >= 3).to_numpy()], role="mentor")
    mentees = pw.load_roster(frame[(level <= 2).to_numpy()], role="mentee")

    model = pw.CompatibilityModel(
        criteria=(
            C.Different(column="function", weight=1.0),
            C.Same(column="EducationField", weight=1.0),
            C.LevelGap(ideal=2, tolerance=2, weight=1.0),
        ),
        rules=(R.MinLevelGap(2),),
    )
    compat = model.score(mentors, mentees)
    capacity = [3] * len(mentors)
    result = pw.solvers.one_to_many(compat.scores, capacity, compat.allowed, time_limit=30)
    print(
        f"{result.n_matched} of {len(mentees)} mentees matched; status {result.status}; "
        f"objective {result.objective:.2f} in {result.wall_time:.2f} s ({result.method})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
