"""One contract battery run against every solver (the STYLE's "contract suite").

Each solver, on seeded random instances: never modifies its inputs, returns
the documented fields, reports an objective equal to the one recomputed from
its answer, keeps every structural rule (checked by :mod:`pairwise.checks`),
and gives the same answer for the same seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from pairwise import checks
from pairwise.solvers import (
    diverse_grouping,
    learning_groups,
    one_to_many,
    one_to_one,
    peer_pairs,
)


def _instance(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n_rows, n_cols = int(rng.integers(2, 7)), int(rng.integers(2, 9))
    scores = np.round(rng.random((n_rows, n_cols)), 2)
    allowed = rng.random((n_rows, n_cols)) < 0.7
    sym = np.round(rng.random((n_cols, n_cols)), 2)
    sym = (sym + sym.T) / 2
    np.fill_diagonal(sym, 0.0)
    return {
        "scores": scores,
        "allowed": allowed,
        "capacity": rng.integers(1, 3, size=n_rows),
        "sym": sym,
        "peer_allowed": (rng.random((n_cols, n_cols)) < 0.7) & ~np.eye(n_cols, dtype=bool),
    }


def _sym_allowed(inst: dict[str, Any]) -> np.ndarray:
    a = inst["peer_allowed"]
    return a & a.T


# name -> (call, kind)
SOLVERS: dict[str, tuple[Callable[[dict[str, Any], int], Any], str]] = {
    "one_to_one": (
        lambda d, s: one_to_one(d["scores"], d["allowed"], seed=s, time_limit=10),
        "matching",
    ),
    "one_to_many": (
        lambda d, s: one_to_many(d["scores"], d["capacity"], d["allowed"], seed=s, time_limit=10),
        "matching",
    ),
    "one_to_one_fair": (
        lambda d, s: one_to_one(d["scores"], d["allowed"], objective="fair", seed=s),
        "matching",
    ),
    "peer_pairs": (
        lambda d, s: peer_pairs(d["sym"], _sym_allowed(d), seed=s, time_limit=10),
        "peers",
    ),
    "learning_groups": (
        lambda d, s: learning_groups(
            d["scores"], min_size=1, max_size=3, allowed=d["allowed"], seed=s, time_limit=10
        ),
        "groups",
    ),
    "diverse_grouping": (
        lambda d, s: diverse_grouping(
            d["sym"], 2, min_size=1, max_size=len(d["sym"]), seed=s, time_limit=5
        ),
        "mdgp",
    ),
}


def _copy(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v.copy() for k, v in d.items()}


def _recomputed(kind: str, result: Any, d: dict[str, Any]) -> float:
    if kind == "matching":
        return float(d["scores"][result.rows, result.cols].sum())
    if kind == "peers":
        return float(d["sym"][result.rows, result.cols].sum())
    labels = np.asarray(result.labels)
    if kind == "groups":
        placed = labels >= 0
        return float(d["scores"][labels[placed], np.flatnonzero(placed)].sum())
    same = labels[:, None] == labels[None, :]
    return float(np.triu(d["sym"] * same, 1).sum())


@pytest.mark.parametrize("name", sorted(SOLVERS))
@pytest.mark.parametrize("seed", range(6))
def test_contract(name: str, seed: int) -> None:
    call, kind = SOLVERS[name]
    inst = _instance(seed)
    before = _copy(inst)
    result = call(inst, seed)
    for key, value in before.items():
        np.testing.assert_array_equal(inst[key], value, err_msg=f"{name} modified {key}")
    assert result.status in ("optimal", "feasible")
    assert result.wall_time >= 0
    assert isinstance(result.method, str) and result.method
    assert result.objective == pytest.approx(_recomputed(kind, result, inst), abs=1e-9)
    if result.bound is not None:
        assert result.bound >= result.objective - 1e-6
    if kind == "matching":
        cap = inst["capacity"] if name == "one_to_many" else 1
        assert not checks.matching_violations(
            result.rows,
            result.cols,
            shape=inst["scores"].shape,
            allowed=inst["allowed"],
            capacity=cap,
        )
    elif kind == "peers":
        assert np.all(result.rows < result.cols)
        assert not checks.matching_violations(
            result.rows,
            result.cols,
            shape=inst["sym"].shape,
            allowed=_sym_allowed(inst),
            peers=True,
        )
    elif kind == "groups":
        assert not checks.violations(
            result.labels, fit=inst["scores"], allowed=inst["allowed"], min_size=1, max_size=3
        )
    again = call(_copy(inst), seed)
    assert again.objective == pytest.approx(result.objective)
    if kind in ("matching", "peers"):
        np.testing.assert_array_equal(again.rows, result.rows)
        np.testing.assert_array_equal(again.cols, result.cols)
    else:
        np.testing.assert_array_equal(again.labels, result.labels)


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_unknown_option_values_raise(name: str) -> None:
    from pairwise.errors import InputError

    inst = _instance(0)
    _call, kind = SOLVERS[name]
    with pytest.raises(InputError):
        if kind == "matching" and name != "one_to_many":
            one_to_one(inst["scores"], inst["allowed"], objective="best")
        elif name == "one_to_many":
            one_to_many(inst["scores"], inst["capacity"], inst["allowed"], objective="best")
        elif kind == "peers":
            peer_pairs(inst["sym"], objective="best")
        elif kind == "groups":
            learning_groups(inst["scores"], min_size=4, max_size=3)
        else:
            diverse_grouping(inst["sym"], 0, min_size=1, max_size=3)
