"""Tests for pairwise.checks: each rule's sentence, agreement with an independent oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairwise.checks import (
    check_grouping,
    check_matching,
    matching_violations,
    objective_of_grouping,
    violations,
)
from pairwise.errors import InputError
from pairwise.solvers._result import GroupingResult
from reference import group_rules_hold

ATTRS = pd.DataFrame(
    {
        "function": ["Eng", "Eng", "Sales", "Ops", "Eng", "Eng", "Eng", None],
        "gender": ["F", "M", "M", "F", "F", "M", None, "M"],
    }
)


def test_valid_grouping_has_no_violations():
    labels = [0, 0, 0, 0, 1, 1, 1, 1]
    assert violations(labels, min_size=3, max_size=4) == []
    check_grouping(labels, min_size=3, max_size=4)


def test_sizes():
    found = violations([0, 0, 1, 1, 1, 1, 1, -1], min_size=3, max_size=4)
    assert found == [
        "leader 0's group has 2 protégés; min_size is 3",
        "leader 1's group has 5 protégés; max_size is 4",
    ]


def test_per_leader_sizes_and_unused_leaders():
    # leader 2 has no group: sizes apply only to used groups
    assert violations([0, 0, 1, 1, 1], min_size=[2, 3, 4], max_size=[2, 3, 4]) == []


def test_allowed_pairs_and_bad_labels():
    allowed = np.ones((2, 3), dtype=bool)
    allowed[1, 2] = False
    found = violations([0, 1, 1], allowed=allowed, min_size=1, max_size=3)
    assert found == ["protégé 2 is in leader 1's group, a pair that is not allowed"]
    found = violations([0, 5, -3], min_size=1, max_size=3, n_leaders=2)
    assert "protégé 1 has label 5, which is not a leader index (0..1)" in found
    assert "protégé 2 has label -3, which is not a leader index (0..1)" in found


def test_together():
    together = np.ones((3, 3), dtype=bool)
    together[0, 2] = together[2, 0] = False
    found = violations([0, 0, 0], min_size=1, max_size=3, together=together)
    assert found == ["protégés 0 and 2 share leader 0's group but may not meet (together)"]


def test_composition_rules_and_unknown_values():
    labels = [0, 0, 0, 1, 1, 1, 1, 1]
    found = violations(
        labels,
        min_size=1,
        max_size=8,
        attributes=ATTRS,
        min_distinct={"function": 2},
        max_count={"function": 2},
        no_isolation=["gender"],
    )
    # group 1 = Ops, Eng, Eng, Eng, unknown: 2 distinct (unknown does not count), 3 Eng
    # gender in group 1: F, F, M, unknown, M -> fine; group 0: F, M, M -> one F
    assert found == [
        "leader 0's group has exactly one member with gender='F'; no_isolation gender",
        "leader 1's group has 3 members with function='Eng'; max_count function=2",
    ]


def test_missing_values_are_exempt_from_isolation():
    attrs = pd.DataFrame({"gender": ["F", "F", None, np.nan, ""]})
    assert (
        violations([0] * 5, min_size=1, max_size=5, attributes=attrs, no_isolation="gender") == []
    )


def test_min_distinct_counts_only_known_values():
    attrs = pd.DataFrame({"function": ["a", None, None]})
    found = violations(
        [0, 0, 0], min_size=1, max_size=3, attributes=attrs, min_distinct={"function": 2}
    )
    assert found == ["leader 0's group has 1 distinct function value(s); min_distinct function=2"]


def test_unknown_rule_column():
    with pytest.raises(InputError, match=r"'site' is not in `attributes`; available columns"):
        violations(
            [0, 0], min_size=1, max_size=2, attributes=ATTRS.iloc[:2], no_isolation=["site"]
        )
    with pytest.raises(InputError, match="`attributes` must be given"):
        violations([0, 0], min_size=1, max_size=2, no_isolation=["gender"])


def test_result_reasons_objective_and_bound():
    fit = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]])
    good = GroupingResult(
        labels=np.array([0, 0, -1]),
        objective=3.0,
        status="feasible",
        bound=3.5,
        wall_time=0.0,
        method="test",
        reasons={"2": "all groups full", "leader:1": "not enough protégés"},
    )
    assert violations(good, fit=fit, min_size=1, max_size=2) == []
    bad = GroupingResult(
        labels=np.array([0, 0, -1]),
        objective=4.0,
        status="feasible",
        bound=2.0,
        wall_time=0.0,
        method="test",
    )
    found = violations(bad, fit=fit, min_size=1, max_size=2)
    assert found == [
        "protégé 2 is unassigned but has no reason",
        "leader 1 has no group but no reason",
        "reported objective 4 differs from the recomputed 3",
        "bound 2 is below the objective 4",
    ]


def test_check_grouping_raises_with_every_problem():
    with pytest.raises(InputError) as info:
        check_grouping([0, 1], min_size=2, max_size=2)
    assert len(info.value.problems) == 2
    assert "`grouping` must satisfy every rule; got 2 violation(s)" in str(info.value)


def test_objective_of_grouping():
    fit = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    distance = np.array([[0, 1, 2], [9, 0, 4], [9, 9, 0]], dtype=float)
    # groups {0, 1} with leader 0 and {2} with leader 1; only distance[0, 1] counts
    assert objective_of_grouping([0, 0, 1], fit, distance, 0.5) == pytest.approx(1 + 2 + 6 + 0.5)
    assert objective_of_grouping([-1, -1, -1], fit) == 0.0


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 3),
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", None]), st.sampled_from(["F", "M", None])),
        min_size=1,
        max_size=9,
    ),
    st.integers(0, 2**31 - 1),
    st.integers(1, 3),
    st.integers(0, 2),
)
def test_violations_agree_with_reference(n_leaders, people, seed, lo, width):
    rng = np.random.default_rng(seed)
    n = len(people)
    attrs = pd.DataFrame(people, columns=["function", "gender"])
    labels = rng.integers(-1, n_leaders, n)
    allowed = rng.random((n_leaders, n)) < 0.85
    together = rng.random((n, n)) < 0.85
    together = together & together.T
    rules = {
        "min_size": lo,
        "max_size": lo + width,
        "allowed": allowed,
        "attributes": attrs,
        "min_distinct": {"function": int(rng.integers(1, 3))},
        "max_count": {"function": int(rng.integers(1, 3))},
        "no_isolation": ["gender"],
        "together": together,
    }
    found = violations(labels, n_leaders=n_leaders, **rules)
    assert (found == []) == group_rules_hold(labels, n_leaders, **rules)


# ---------------------------------------------------------------------------
# matchings
# ---------------------------------------------------------------------------


def test_one_to_one_matching():
    assert matching_violations([0, 1], [1, 0], shape=(2, 2)) == []
    found = matching_violations([0, 0, 1], [0, 1, 1], shape=(2, 2))
    assert found == ["column 1 is matched 2 times", "row 0 has 2 partners; capacity is 1"]


def test_capacity_min_load_and_allowed():
    allowed = np.array([[True, True, False], [True, True, True]])
    found = matching_violations(
        [0, 0, 0], [0, 1, 2], shape=(2, 3), allowed=allowed, capacity=[2, 2], min_load=1
    )
    assert found == [
        "pair (0, 2) is not allowed",
        "row 0 has 3 partners; capacity is 2",
        "row 1 has 0 partners; min_load is 1",
    ]


def test_out_of_range_and_duplicates():
    found = matching_violations([0, 0, 3], [1, 1, 0], shape=(2, 2), capacity=3)
    assert "pair (0, 1) appears more than once" in found
    assert "pair (3, 0) is outside the matrix 2 × 2" in found
    assert matching_violations([0], [1, 2], shape=(2, 3)) == [
        "rows and cols differ in length (1 vs 2)"
    ]


def test_peer_pairs():
    assert matching_violations([0, 2], [1, 3], shape=(4, 4), peers=True) == []
    found = matching_violations([1, 0], [0, 1], shape=(4, 4), peers=True)
    assert "peer pair (1, 0) must have row < col" in found
    assert "person 0 appears in 2 pairs" in found


def test_check_matching_raises():
    check_matching([0], [0], shape=(1, 1))
    with pytest.raises(InputError) as info:
        check_matching([0, 0], [0, 1], shape=(1, 2))
    assert info.value.problems == ("row 0 has 2 partners; capacity is 1",)
