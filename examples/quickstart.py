"""Quick start: the three modes on the built-in demo organisation, from Python.

Run: python examples/quickstart.py
"""

from __future__ import annotations

import pairwise as pw


def main() -> None:
    frames = pw.datasets.demo_rosters()
    program = pw.load_program()  # the embedded default programme

    mentors = pw.load_roster(frames["mentors"], role="mentor")
    mentees = pw.load_roster(frames["mentees"], role="mentee")
    pairs = program.pairs(mentors, mentees)
    print(pairs.summary())
    print(pairs.pairs.head())

    # Why this pair? Each criterion's contribution and each rule's verdict.
    first = pairs.pairs.iloc[0]
    compat = program.model.score(mentors, mentees)
    print(compat.explain(first["mentor_id"], first["mentee_id"]))

    groups = program.groups(frames["leaders"], frames["proteges"])
    print(groups.summary())
    print(groups.group_summary)
    print(groups.composition)
    print(groups.audit())  # placed share and fit by segment, small cells blank

    peers = program.peers(frames["people"])
    print(peers.summary())


if __name__ == "__main__":
    main()
