"""A programme cycle on the built-in demo organisation, from Python.

Pilot, compare two programmes, review the suggestions and pin one pair, publish, then
handle a dropout and a late joiner by re-matching against the published pairs, so that
as few pairs as possible change.
Every step writes its review report (one self-contained HTML file) into the output
folder; the docs page "Running a programme cycle" tells the same story with the CLI.

Run: python examples/programme_cycle.py [OUT_DIR]   (default: a new temporary folder)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd

import pairwise as pw

#: The pair pinned before publishing: a mentee's second suggestion, at its request.
PINNED = ("P0069", "P0002")
#: The mentor who drops out after the pairs were published (three mentees).
LEAVING = "P0264"
#: The late joiner: a new hire who asks for a mentor after the pairs were published.
LATE_JOINER = {
    "id": "P0301",
    "name": "Amira Haddad",
    "level": "2",
    "function": "Engineering",
    "site": "London",
    "timezone": "Europe/London",
    "work_hours": "09:00-17:00",
    "languages": "English;Arabic",
    "skills": "Python",
    "wants": "Data analysis;Public speaking",
    "goals": "Promotion readiness",
    "manager_id": "P0040",
    "capacity": "0",
    "remote_ok": "True",
    "priority": "1.0",
    "preferences": "",
    "gender": "Woman",
    "ethnicity": "Middle Eastern",
}


def step(title: str) -> None:
    print(f"\n== {title} ==")


def show(suggestions: pd.DataFrame) -> None:
    """Print suggestions compactly: rank, mentor, score, regret and the start of the why."""
    columns = ["rank", "mentor_id", "score", "regret", "explanation"]
    print(suggestions[columns].round(4).to_string(index=False, max_colwidth=60))


def pair_set(pairs: pd.DataFrame) -> set[tuple[str, str]]:
    """The (mentor_id, mentee_id) pairs of a pairs table."""
    return set(zip(pairs["mentor_id"], pairs["mentee_id"], strict=True))


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    frames = pw.datasets.demo_rosters()
    mentors, mentees = frames["mentors"], frames["mentees"]
    # Pairs take well under a second on the demo; the limit only bounds a slow machine.
    program = pw.load_program().replace(time_limit=10)

    step("1. pilot: the default programme on the demo organisation")
    pilot = program.pairs(mentors, mentees)
    print(pilot.summary())
    pilot.to_html(out / "1-pilot.html")

    step("2. compare: optimal pairs against a stable matching")
    stable = program.replace(objective="stable").pairs(mentors, mentees)
    comparison = pw.compare({"optimal": pilot, "stable": stable})
    print(comparison.summary())
    comparison.to_csv(out / "compare.csv")  # also compare.audit.csv, compare.common.csv
    stable.to_html(out / "2-stable.html")
    print(f"the stable plan has {len(stable.blocking_pairs())} blocking pair(s)")

    step("3. review, pin one pair, publish")
    # The alternatives for one mentee: its partner in the optimal plan first, then the
    # others by regret (the plan's score lost if that pair is chosen).
    suggestions = program.suggest(mentors, mentees, k=3).suggestions
    show(suggestions[suggestions["mentee_id"] == PINNED[1]])
    # The mentee asked for its second suggestion: pin it, and the plan loses its regret.
    pins = pd.DataFrame([PINNED], columns=["mentor_id", "mentee_id"])
    published = program.pairs(mentors, mentees, pinned=pins)
    print(f"objective {pilot.objective:.4f} -> {published.objective:.4f} with the pin")
    cohort1 = out / "cohort1"
    published.to_csv(cohort1 / "pairs.csv")  # and pairs.unmatched.csv, all or nothing
    published.to_html(cohort1 / "report.html")
    print(f"wrote {cohort1 / 'pairs.csv'} ({len(published.pairs)} pairs)")
    audit = published.audit(by=["level", "site"])
    print(audit[["column", "value", "n", "matched_share", "mean_score"]].to_string(index=False))

    step("4. a dropout and a late joiner")
    had = int((published.pairs["mentor_id"] == LEAVING).sum())
    print(f"mentor {LEAVING} leaves (had {had} mentees); mentee {LATE_JOINER['id']} joins")
    mentors2 = mentors[mentors["id"] != LEAVING]
    mentees2 = pd.concat([mentees, pd.DataFrame([LATE_JOINER])], ignore_index=True)

    step("5. re-match against the published pairs")
    rematch = program.pairs(mentors2, mentees2, previous=cohort1 / "pairs.csv", max_changes=2)
    print(rematch.summary())
    counts = rematch.changes["change"].value_counts()
    print("changes:", {kind: int(counts.get(kind, 0)) for kind in ("kept", "broken", "new")})
    print(rematch.changes[rematch.changes["change"] != "kept"].to_string(index=False))
    cohort2 = out / "cohort2"
    rematch.to_csv(cohort2 / "pairs.csv")  # and pairs.unmatched.csv, pairs.changes.csv
    rematch.to_html(cohort2 / "report.html")

    # What `previous` saves: a free re-solve of the same rosters keeps fewer pairs.
    free = program.pairs(mentors2, mentees2)
    before = pair_set(published.pairs)
    kept_free = len(before & pair_set(free.pairs))
    print(
        f"a free re-solve would keep {kept_free} of the {len(before)} published pairs; "
        f"with previous= {int(counts.get('kept', 0))}"
    )

    step("6. suggestions for the late joiner")
    suggestions = program.suggest(mentors2, mentees2, k=3).suggestions
    mine = suggestions[suggestions["mentee_id"] == LATE_JOINER["id"]]
    show(mine)

    print(f"\nreports: {', '.join(sorted(str(p.relative_to(out)) for p in out.rglob('*.html')))}")
    print(f"all files in {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(Path(sys.argv[1])))
    sys.exit(main(Path(tempfile.mkdtemp(prefix="pairwise-cycle-"))))
