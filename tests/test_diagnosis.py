"""Measured diagnosis: every figure equals an independent re-count with the fix applied.

Oracles: the programme re-run with the rule dropped or relaxed (a new
CompatibilityModel, ``program.pairs``), with the stated capacity, and a
maximum matching computed independently (networkx max flow, brute force on
tiny cases).
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pairwise as pw
from pairwise import _diagnosis as D
from pairwise.compatibility import CompatibilityModel
from pairwise.criteria import LevelGap, Same
from pairwise.roster import load_roster
from pairwise.rules import (
    Accessible,
    LevelWithin,
    MaxLevelGap,
    MinLevelGap,
    NoRepeat,
    NotManager,
    OptIn,
    SharedLanguage,
)

SOME = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------
# Independent oracles
# ---------------------------------------------------------------------------


def nx_matching(allowed: np.ndarray, capacity: np.ndarray) -> int:
    """Maximum b-matching by networkx's max flow (another algorithm, another library)."""
    g = nx.DiGraph()
    m, n = allowed.shape
    for i in range(m):
        g.add_edge("s", ("m", i), capacity=int(capacity[i]))
    for j in range(n):
        g.add_edge(("e", j), "t", capacity=1)
    for i, j in zip(*np.nonzero(allowed), strict=True):
        g.add_edge(("m", int(i)), ("e", int(j)), capacity=1)
    if "s" not in g or "t" not in g:
        return 0
    return int(nx.maximum_flow_value(g, "s", "t"))


def brute_matching(allowed: np.ndarray, capacity: np.ndarray) -> int:
    """Most mentees matched, by trying every assignment (tiny cases)."""
    m, n = allowed.shape
    best = 0
    for choice in itertools.product(range(-1, m), repeat=n):
        load = np.zeros(m, dtype=int)
        ok = True
        for j, i in enumerate(choice):
            if i >= 0:
                if not allowed[i, j]:
                    ok = False
                    break
                load[i] += 1
        if ok and np.all(load <= capacity):
            best = max(best, sum(i >= 0 for i in choice))
    return best


@st.composite
def masks(draw, max_rows: int = 4, max_cols: int = 5):
    m = draw(st.integers(1, max_rows))
    n = draw(st.integers(1, max_cols))
    bits = draw(st.lists(st.booleans(), min_size=m * n, max_size=m * n))
    cap = draw(st.lists(st.integers(0, 3), min_size=m, max_size=m))
    return np.array(bits, dtype=bool).reshape(m, n), np.array(cap)


@SOME
@given(masks())
def test_max_matching_equals_brute_force_and_networkx(case) -> None:
    allowed, cap = case
    value = D.max_matching(allowed, cap)
    assert value == nx_matching(allowed, cap)
    if allowed.shape[1] <= 4:
        assert value == brute_matching(allowed, cap)
    assert D.max_matching(sp.csr_matrix(allowed), cap) == value
    network = D._Network(allowed)
    flow = network._flow(np.clip(cap, 0, allowed.shape[1]))  # the other engine
    assert flow == value or not allowed.any()
    # the flow network is built once and re-weighted: a second count with other capacities
    more = np.clip(cap + 1, 0, allowed.shape[1])
    assert network._flow(more) == nx_matching(allowed, more) or not allowed.any()
    assert network._flow(np.clip(cap, 0, allowed.shape[1])) == flow


# ---------------------------------------------------------------------------
# Rosters and programmes
# ---------------------------------------------------------------------------

SITES = ["Berlin", "London", "Tokyo"]
ZONES = {"Berlin": "Europe/Berlin", "London": "Europe/London", "Tokyo": "Asia/Tokyo"}
LANGS = ["en", "de", "fr", "en;de"]


@st.composite
def rosters(draw, max_mentors: int = 6, max_mentees: int = 9):
    def people(prefix: str, n: int, low: int, high: int) -> pd.DataFrame:
        levels = draw(st.lists(st.integers(low, high), min_size=n, max_size=n))
        sites = draw(st.lists(st.sampled_from(SITES), min_size=n, max_size=n))
        langs = draw(st.lists(st.sampled_from(LANGS), min_size=n, max_size=n))
        return pd.DataFrame(
            {
                "id": [f"{prefix}{i}" for i in range(n)],
                "level": levels,
                "site": sites,
                "timezone": [ZONES[s] for s in sites],
                "work_hours": ["09:00-17:00"] * n,
                "languages": langs,
                "function": draw(st.lists(st.sampled_from("ab"), min_size=n, max_size=n)),
            }
        )

    m = draw(st.integers(1, max_mentors))
    n = draw(st.integers(1, max_mentees))
    mentors = people("M", m, 2, 6)
    mentees = people("E", n, 1, 4)
    mentors["capacity"] = draw(st.lists(st.integers(0, 3), min_size=m, max_size=m))
    return load_roster(mentors, role="mentor"), load_roster(mentees, role="mentee")


RULES = (MinLevelGap(2), SharedLanguage(), Accessible(3.0, same_site=True), MaxLevelGap(3))
CRITERIA = (Same("function"), LevelGap(ideal=2))


def programme(rules, **changes) -> pw.Program:
    model = CompatibilityModel(CRITERIA, rules, at=pd.Timestamp("2025-01-15").date())
    base = pw.load_program().replace(model=model, time_limit=None, at=model.at)
    return base.replace(**changes)


def matched(program: pw.Program, mentors, mentees) -> int:
    return len(program.pairs(mentors, mentees).pairs)


def check_findings(program: pw.Program, mentors, mentees) -> None:
    """Every figure re-counted by re-running the programme with the fix applied."""
    result = program.pairs(mentors, mentees)
    rules = list(program.model.rules)
    names = [r.name for r in rules]
    base = len(result.pairs)
    gains = [f.gain for f in result.diagnosis]
    assert gains == sorted(gains, reverse=True)
    for f in result.diagnosis:
        assert str(f) == f.message
        assert f.gain and f.gain > 0 and f.exact
        if f.kind == "capacity":
            cap = program._capacity(mentors)
            c = int(f.fix.rsplit(" ", 1)[1])
            raised = np.where(cap > 0, np.maximum(cap, c), 0)
            frame = mentors.frame.assign(capacity=raised)
            by_column = program.replace(capacity_column="capacity")
            again = matched(by_column, load_roster(frame, role="mentor"), mentees)
            assert again == f.matched == base + f.gain
            if c > 1:  # the smallest such capacity
                lower = np.where(cap > 0, np.maximum(cap, c - 1), 0)
                frame = mentors.frame.assign(capacity=lower)
                fewer = matched(by_column, load_roster(frame, role="mentor"), mentees)
                assert fewer < f.matched
            continue
        k = names.index(f.rule)
        if f.kind == "rule":
            changed = rules[:k] + rules[k + 1 :]
        else:
            assert f.kind == "rule_step"
            changed = [*rules[:k], rules[k].relaxed(), *rules[k + 1 :]]
        model = dataclasses.replace(program.model, rules=tuple(changed))
        assert matched(program.replace(model=model), mentors, mentees) == f.matched
        assert f.matched == base + f.gain
    # nothing that would help is left unsaid
    said = {(f.kind, f.rule) for f in result.diagnosis}
    for k, rule in enumerate(rules):
        model = dataclasses.replace(program.model, rules=tuple(rules[:k] + rules[k + 1 :]))
        if matched(program.replace(model=model), mentors, mentees) > base:
            assert ("rule", rule.name) in said


@SOME
@given(rosters())
def test_pairs_diagnosis_equals_a_recount(case) -> None:
    mentors, mentees = case
    check_findings(programme(RULES), mentors, mentees)


def test_demo_diagnosis_equals_a_recount() -> None:
    frames = pw.datasets.demo_rosters()
    mentors = load_roster(frames["mentors"].head(25), role="mentor")
    mentees = load_roster(frames["mentees"], role="mentee")
    program = pw.load_program().replace(time_limit=None)
    result = program.pairs(mentors, mentees)
    assert [f.kind for f in result.diagnosis] == ["capacity"]
    check_findings(program, mentors, mentees)
    # more places: the rules are what is left
    roomy = program.replace(capacity=4, capacity_column=None)
    result = roomy.pairs(mentors, mentees)
    kinds = {(f.kind, f.rule) for f in result.diagnosis}
    assert ("rule", "min_level_gap") in kinds and ("rule_step", "min_level_gap") in kinds
    check_findings(roomy, mentors, mentees)


def test_full_demo_says_nothing() -> None:
    frames = pw.datasets.demo_rosters()
    result = pw.load_program().pairs(frames["mentors"], frames["mentees"])
    assert result.unmatched.query("role == 'mentee'").empty
    assert result.diagnosis == ()
    assert "diagnosis:" not in result.summary()


def test_message_summary_and_json() -> None:
    mentors = load_roster(pd.DataFrame({"id": ["a", "b"], "level": [5, 2]}), role="mentor")
    mentees = load_roster(pd.DataFrame({"id": ["x", "y", "z"], "level": [3, 2, 1]}), role="mentee")
    model = CompatibilityModel([LevelGap(ideal=2)], [MinLevelGap(2)])
    program = pw.load_program().replace(model=model, time_limit=None, capacity_column=None)
    result = program.pairs(mentors, mentees)
    assert len(result.pairs) == 1  # only a may mentor; capacity 1
    texts = [f.message for f in result.diagnosis]
    assert texts[0] == (
        "capacity 2 for 3 mentees: 2 cannot be matched; raising every capacity to 3 matches 3; "
        "one more place per mentor matches 2"
    )
    assert any(
        t.startswith("2 mentees cannot be matched; dropping `min_level_gap`") for t in texts
    )
    step = next(f for f in result.diagnosis if f.kind == "rule_step")
    assert "level gap ≥ 1" in step.message and step.fix == "set `min_level_gap = 1` under [rules]"
    summary = result.summary()
    assert "diagnosis:" in summary and texts[0] in summary
    data = json.loads(result.to_json())
    assert data["diagnosis"][0]["kind"] == "capacity" and data["diagnosis"][0]["gain"] == 2


# ---------------------------------------------------------------------------
# The budgeted form (sparse top-k): gains are measured lower bounds
# ---------------------------------------------------------------------------


@SOME
@given(rosters(max_mentors=6, max_mentees=9), st.integers(1, 3))
def test_sparse_gains_are_true_lower_bounds(case, k) -> None:
    mentors, mentees = case
    program = programme(RULES, top_k=k)
    result = program.pairs(mentors, mentees)
    base = len(result.pairs)
    rules = list(program.model.rules)
    names = [r.name for r in rules]
    for f in result.diagnosis:
        assert f.gain > 0
        if f.kind == "capacity":
            continue
        assert not f.exact and "unmatched mentees only" in f.message
        idx = names.index(f.rule)
        new = rules[idx].relaxed() if f.kind == "rule_step" else None
        changed = rules[:idx] + ([new] if new is not None else []) + rules[idx + 1 :]
        model = dataclasses.replace(program.model, rules=tuple(changed))
        # the whole relaxed programme, dense: it matches at least what the finding counts
        dense = program.replace(model=model, top_k=0)
        assert matched(dense, mentors, mentees) >= f.matched
        assert f.matched >= base


def test_budget_samples_the_unmatched(monkeypatch) -> None:
    mentors = load_roster(pd.DataFrame({"id": ["a", "b"], "level": [5, 3]}), role="mentor")
    mentees = load_roster(
        pd.DataFrame({"id": [f"e{i}" for i in range(6)], "level": [3, 2, 1, 1, 1, 1]}),
        role="mentee",
    )
    model = CompatibilityModel([LevelGap(ideal=2)], [MinLevelGap(3)])
    compat = model.score(mentors, mentees)
    monkeypatch.setattr(D, "DENSE_PAIRS", 0)
    monkeypatch.setattr(D, "PAIR_BUDGET", 4)  # two mentors: two columns of the five unmatched
    found = D.diagnose_pairs(model, compat, mentors, mentees, [3, 3], [2])
    rule = [f for f in found if f.kind == "rule"]
    assert rule and "a sample of 2 of the 5 unmatched mentees" in rule[0].message
    assert not rule[0].exact


def test_a_spent_deadline_cuts_the_diagnosis_and_says_so() -> None:
    mentors = load_roster(pd.DataFrame({"id": ["a", "b"], "level": [5, 2]}), role="mentor")
    mentees = load_roster(pd.DataFrame({"id": ["x", "y", "z"], "level": [3, 2, 1]}), role="mentee")
    model = CompatibilityModel([LevelGap(ideal=2)], [MinLevelGap(2)])
    compat = model.score(mentors, mentees)
    full = D.diagnose_pairs(model, compat, mentors, mentees, [1, 1], [0])
    assert {f.kind for f in full} == {"capacity", "rule", "rule_step"}
    cut = D.diagnose_pairs(model, compat, mentors, mentees, [1, 1], [0], deadline=0.0)
    assert [f.kind for f in cut] == ["cut"] and "time limit" in cut[0].message
    assert cut[0].gain is None


# ---------------------------------------------------------------------------
# relaxed(): one natural step
# ---------------------------------------------------------------------------


def test_relaxed_steps() -> None:
    assert MinLevelGap(2).relaxed() == MinLevelGap(1)
    assert MinLevelGap(0).relaxed() is None
    assert MaxLevelGap(3).relaxed() == MaxLevelGap(4)
    assert LevelWithin(1).relaxed() == LevelWithin(2)
    assert NotManager().relaxed() == NotManager(chain=False)
    assert NotManager(chain=False).relaxed() is None
    assert Accessible(2.0).relaxed() == Accessible(1.0)
    assert Accessible(0.5).relaxed() == Accessible(0.0)
    assert Accessible(0.0, same_site=False).relaxed() == Accessible(0.0, same_site=True)
    assert Accessible(0.0).relaxed() is None
    assert SharedLanguage().relaxed() is None and OptIn().relaxed() is None
    history = pd.DataFrame(
        {"mentor_id": ["a", "b"], "mentee_id": ["x", "y"], "outcome": ["failed", "completed"]}
    )
    step = NoRepeat(history).relaxed()
    assert step is not None and step.only_failed
    assert step._excluded() == [("a", "x")]
    assert NoRepeat([("a", "x")]).relaxed() is None


def test_relaxed_allows_a_superset() -> None:
    m = load_roster(pd.DataFrame({"id": list("abcd"), "level": [1, 2, 3, 4]}))
    e = load_roster(pd.DataFrame({"id": list("wxyz"), "level": [1, 2, 3, 4]}))
    for rule in (MinLevelGap(2), MaxLevelGap(0), LevelWithin(0)):
        wide = rule.relaxed().mask(m, e)
        assert np.all(wide >= rule.mask(m, e)) and wide.sum() > rule.mask(m, e).sum()


# ---------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def group_run():
    frames = pw.datasets.demo_rosters()
    leaders = load_roster(frames["leaders"].head(8), role="leader")
    proteges = load_roster(frames["proteges"], role="protege")
    program = pw.load_program().replace(time_limit=4.0)
    return program, leaders, proteges, program.groups(leaders, proteges)


def test_groups_keep_their_notes_and_gain_measured_seats(group_run) -> None:
    program, leaders, proteges, result = group_run
    notes = [f.message for f in result.diagnosis if f.kind == "note"]
    assert notes == list(result.options["diagnosis"])
    measured = [f for f in result.diagnosis if f.kind != "note"]
    if measured and measured[-1].kind == "cut":  # a loaded machine spent the run's time
        assert measured[-1].message in result.summary()
    inputs = program.group_inputs(leaders, proteges)
    placed = [proteges.position(p) for p in result.groups["member_id"]]
    found = D.diagnose_groups(
        inputs["compat"],
        leaders,
        proteges,
        options=inputs["options"],
        placed=placed,
        together_mask=inputs["together"],
        at=program.at,
    )
    # what the programme measured within its time is what an unhurried diagnosis finds
    assert all(f in found for f in measured if f.kind != "cut")
    seats = [f for f in found if f.kind == "seats"]
    assert len(seats) == 1
    inputs = program.group_inputs(leaders, proteges)
    g = inputs["options"]
    allowed = np.asarray(inputs["allowed"])
    meet = D._placeable(inputs["together"], g.min_size, len(proteges))
    size = int(seats[0].fix.split("= ")[1].split("`")[0])
    cap = np.full(len(leaders), size)
    # the stated seats equal an independent max flow with that max_size ...
    assert nx_matching(allowed[:, meet], cap) == seats[0].matched
    # ... which is the most any max_size seats, and one less seats fewer
    assert nx_matching(allowed[:, meet], np.full(len(leaders), len(proteges))) == seats[0].matched
    assert nx_matching(allowed[:, meet], cap - 1) < seats[0].matched
    base = nx_matching(allowed[:, meet], np.full(len(leaders), g.max_size))
    assert seats[0].gain == seats[0].matched - base
    assert "diagnosis:" in result.summary()
    assert json.loads(json.dumps(result.to_dict()))["diagnosis"][-1]["kind"] == "note"


def test_group_seats_fix_is_true_without_composition_rules() -> None:
    frames = pw.datasets.demo_rosters()
    leaders = load_roster(frames["leaders"].head(6), role="leader")
    proteges = load_roster(frames["proteges"].head(50), role="protege")
    plain = dataclasses.replace(
        pw.load_program().groups_options,
        min_distinct={},
        max_count={},
        no_isolation=(),
        common_hours=None,
        shared_language=False,
        min_size=2,
    )
    program = pw.load_program().replace(time_limit=4.0, groups_options=plain)
    result = program.groups(leaders, proteges)
    seats = next(f for f in result.diagnosis if f.kind == "seats")
    size = int(seats.fix.split("= ")[1].split("`")[0])
    bigger = program.replace(groups_options=dataclasses.replace(plain, max_size=size))
    again = bigger.groups(leaders, proteges)
    assert len(again.groups) == seats.matched


def test_group_together_relaxation_is_recounted() -> None:
    frames = pw.datasets.demo_rosters()
    leaders = load_roster(frames["leaders"], role="leader")
    proteges = load_roster(frames["proteges"], role="protege")
    program = pw.load_program()
    opts = dataclasses.replace(program.groups_options, common_hours=6.0)
    inputs = program.replace(groups_options=opts).group_inputs(leaders, proteges)
    compat = inputs["compat"]
    found = D.diagnose_groups(
        compat,
        leaders,
        proteges,
        options=opts,
        placed=[],
        together_mask=inputs["together"],
        at=program.at,
    )
    allowed = np.asarray(compat.allowed)
    cap = np.full(len(leaders), opts.max_size)
    base = nx_matching(allowed[:, D._placeable(inputs["together"], opts.min_size, 72)], cap)
    for f in found:
        assert f.gain > 0
        if f.kind != "together":
            continue
        hours = None if "false" in f.fix else float(f.fix.split("= ")[1].split("`")[0])
        relaxed = pw.rules.together(
            proteges,
            common_hours=hours if f.rule == "common_hours" else opts.common_hours,
            shared_language=f.rule != "shared_language" and opts.shared_language,
            at=program.at,
        )
        meet = D._placeable(relaxed, opts.min_size, 72)
        assert nx_matching(allowed[:, meet], cap) == f.matched == base + f.gain


@SOME
@given(masks(max_rows=5, max_cols=6))
def test_smallest_uniform_with_the_base_count_equals_a_fresh_search(case) -> None:
    # the search answers from the caller's count and its own memo: same answer as counting all
    allowed, cap = case
    most = int(np.count_nonzero(allowed[cap > 0].any(axis=0))) if (cap > 0).any() else 0
    base = D.max_matching(allowed, cap)
    if most <= base:
        return
    fresh = D._smallest_uniform(allowed, cap, most)
    assert D._smallest_uniform(allowed, cap, most, base) == fresh
    c, plus_one = fresh
    open_ = cap > 0
    assert D.max_matching(allowed, np.where(open_, np.maximum(cap, c), 0)) == most
    assert c == 1 or D.max_matching(allowed, np.where(open_, np.maximum(cap, c - 1), 0)) < most
    assert plus_one == D.max_matching(allowed, np.where(open_, cap + 1, 0))


def test_budget_skips_a_measurement_that_would_end_past_the_deadline():
    import time

    budget = D._Budget(time.perf_counter() + 0.5)
    assert not budget.spent()  # nothing measured yet: go
    time.sleep(0.3)  # one measurement took 0.3 s: another would end after the deadline
    assert budget.spent() and budget.skipped == 1
    assert D._Budget(None).spent() is False
    assert [f.kind for f in budget.findings()] == ["cut"]


def test_budget_once_short_stays_short():
    # after a skip the estimate is kept: a later check right after it does not start work
    import time

    budget = D._Budget(time.perf_counter() + 0.5)
    assert not budget.spent()
    time.sleep(0.3)
    assert budget.spent()
    assert budget.spent() and budget.skipped == 2


def test_budget_estimate_survives_back_to_back_checks(monkeypatch):
    # checks with nothing measured between them must not shrink the estimate of a re-count
    times = [0.0, 3.0, 3.0, 4.0]
    monkeypatch.setattr(D.time, "perf_counter", lambda: times.pop(0))
    budget = D._Budget(6.5)
    assert not budget.spent()  # t = 0: go
    assert not budget.spent()  # t = 3: that re-count took 3 s, and 3 + 3 < 6.5
    assert not budget.spent()  # t = 3 again, back to back: still 3 + 3 < 6.5
    assert budget.spent()  # t = 4: a re-count like the first would end at 7, past 6.5
