"""The lattice assignment solver (``solvers/_lapjv.py``): exact, with and without numba.

Oracles: SciPy's dense ``linear_sum_assignment`` (directly, and with a
cardinality bonus through ``reference.scipy_assignment``), and OR-Library's
published optima when the reference data is present. The kernels run as plain
Python (:data:`_lapjv.PLAIN`, the code numba compiles) on small instances and
compiled on larger ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from pairwise._benchdata import data_dir
from pairwise.solvers import _lapjv, _lsap
from pairwise.solvers.assignment import one_to_one
from reference import check_one_to_one_against_scipy, hr_like_scores

SOME = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _numba() -> _lapjv.Kernels:
    kernels = _lapjv.compiled_kernels()
    if kernels is None:
        pytest.skip("numba not installed")
    return kernels


@st.composite
def lattice_matrices(draw, max_n: int = 7, max_extra: int = 4, forbid: bool = True):
    """Tie-heavy scores on a quarter grid, rows <= columns, some cells maybe forbidden.

    The forbidden cells spare a random full matching of the rows, so one exists.
    """
    n = draw(st.integers(0, max_n))
    m = n + draw(st.integers(0, max_extra))
    seed = draw(st.integers(0, 2**32 - 1))
    levels = draw(st.sampled_from([2, 3, 5, 21]))
    low = draw(st.sampled_from([-5.0, -0.75, 0.0, 2.5]))
    rng = np.random.default_rng(seed)
    T = low + rng.integers(0, levels, (n, m)) / 4.0
    if forbid and n and draw(st.booleans()):
        keep = rng.permutation(m)[:n]
        banned = rng.random((n, m)) < draw(st.sampled_from([0.2, 0.6]))
        banned[np.arange(n), keep] = False
        T[banned] = -np.inf
    return T


def _best(T: np.ndarray) -> float:
    """SciPy's optimum of a full matching of the rows (-inf = forbidden)."""
    r, c = linear_sum_assignment(np.where(np.isfinite(T), T, -1e9), maximize=True)
    return float(T[r, c].sum())


def _check_mate(T: np.ndarray, mate: np.ndarray | None) -> None:
    assert mate is not None
    n = T.shape[0]
    assert mate.shape == (n,)
    assert np.unique(mate).size == n  # one column per row
    got = T[np.arange(n), mate]
    assert np.isfinite(got).all()  # never a forbidden cell
    assert float(got.sum()) == pytest.approx(_best(T), abs=1e-9)


# --------------------------------------------------------------------------- plain kernels


@SOME
@given(T=lattice_matrices())
def test_plain_kernels_match_scipy(T):
    mate = _lapjv.lattice_assignment(T, _lapjv.PLAIN)
    if mate is None and np.unique(T[np.isfinite(T)]).size < 2:
        return  # one repeated value, e.g. 0.75: on a grid only once shifted, declined
    _check_mate(T, mate)


def _reference_costs(T: np.ndarray, scale: float, shift: float):
    """The cost pass written plainly, cell by cell: (top, forbidden, C, row_low) or a refusal."""
    n, m = T.shape
    C = np.zeros((n, m), np.int64)
    row_low = np.full(n, -1, np.int64)
    top, forbidden = 0, 0
    for i in range(n):
        costs = []
        for j in range(m):
            t = float(T[i, j])
            if t == -np.inf:
                C[i, j] = -1
                forbidden += 1
                continue
            y = t * scale
            r = float(np.rint(y))
            c = shift - r
            if not (abs(y - r) <= _lapjv._ULPS * 2.220446049250313e-16 * abs(y)):
                return -1, forbidden  # off the grid (NaN and +inf too)
            if not (0 <= c < _lapjv._INT32_MAX):
                return -1, forbidden
            C[i, j] = int(c)
            costs.append(int(c))
        row_low[i] = min(costs) if costs else -1
        top = max([top, *costs])
    return top, forbidden, C, row_low


@SOME
@given(
    T=lattice_matrices(max_n=5),
    odd=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from([np.nan, np.inf, 0.3, -1e12, 1e12])),
        max_size=2,
    ),
    shift=st.sampled_from([0.0, 3.0, 40.0, 2.0**31]),
)
def test_cost_pass_equals_a_plain_reference(T, odd, shift) -> None:
    # the branch-free pass: same refusals, costs, forbidden count and row minima
    T = T.copy()
    for at, value in odd:
        if T.size:
            T.flat[at % T.size] = value
    C = np.zeros(T.shape, np.int32)
    row_low = np.zeros(T.shape[0], np.int32)
    with np.errstate(invalid="ignore"):  # NaN and inf cells, in plain Python
        got = _lapjv.PLAIN.lattice_costs(T, 4.0, shift, C, row_low)
    want = _reference_costs(T, 4.0, shift)
    if want[0] == -1:
        assert got[0] == -1
        return
    assert got == want[:2]
    np.testing.assert_array_equal(C, want[2])
    np.testing.assert_array_equal(row_low, want[3])
    kernels = _lapjv.compiled_kernels()
    if kernels is not None:  # the compiled pass too
        C2 = np.zeros(T.shape, np.int32)
        low2 = np.zeros(T.shape[0], np.int32)
        assert kernels.lattice_costs(T, 4.0, shift, C2, low2) == got
        np.testing.assert_array_equal(C2, C)
        np.testing.assert_array_equal(low2, row_low)


def test_forbidden_cells_never_raise_the_largest_cost() -> None:
    # a forbidden cell reads as a score of 0 inside the branch-free pass: it must not count
    T = np.array([[1.0, -np.inf], [0.5, 1.0]])
    for kernels in filter(None, [_lapjv.PLAIN, _lapjv.compiled_kernels()]):
        C = np.zeros(T.shape, np.int32)
        low = np.zeros(2, np.int32)
        assert kernels.lattice_costs(T, 2.0, 6.0, C, low) == _reference_costs(T, 2.0, 6.0)[:2]
        assert kernels.lattice_costs(T, 2.0, 6.0, C, low) == (5, 1)


def test_empty_and_single_row():
    empty = _lapjv.lattice_assignment(np.zeros((0, 3)), _lapjv.PLAIN)
    assert empty is not None and empty.shape == (0,)
    mate = _lapjv.lattice_assignment(np.array([[0.25, 1.5, -0.5]]), _lapjv.PLAIN)
    assert mate is not None and mate.tolist() == [1]


def test_more_rows_than_columns_is_refused():
    with pytest.raises(ValueError, match="no more rows than columns"):
        _lapjv.lattice(np.zeros((3, 2)), _lapjv.PLAIN)


def test_off_grid_cell_declines():
    """A cell off the lattice guessed from the sample: every cell is checked, None."""
    T = np.random.default_rng(0).integers(0, 8, (100, 100)) / 4.0
    assert _lapjv.lattice(T, _lapjv.PLAIN) is not None
    T[0, 1] = 0.3  # the sample takes every other cell: it misses this one
    assert _lapjv._lattice_scale(T) == (4.0, 7.0)
    assert _lapjv.lattice(T, _lapjv.PLAIN) is None
    assert _lapjv.lattice(np.random.default_rng(1).random((5, 5)), _lapjv.PLAIN) is None


def test_row_without_allowed_cell_declines():
    T = np.full((3, 4), 0.5)
    T[0, 0] = 1.0
    T[1] = -np.inf
    assert _lapjv.lattice(T, _lapjv.PLAIN) is None


def test_false_row_types_are_split():
    """Hashes only propose types: rows that differ never share one after the check."""
    C = np.array([[1, 2], [1, 2], [2, 1], [0, 0]], dtype=np.int32)
    row_type = np.array([0, 0, 0, 1], dtype=np.int64)  # row 2 wrongly with rows 0, 1
    _lapjv._split_false_types(C, row_type, np.array([0, 3], dtype=np.int64))
    assert row_type[0] == row_type[1] != row_type[2]
    assert len(set(row_type.tolist())) == 3


@SOME
@given(T=lattice_matrices(forbid=False), seed=st.integers(0, 2**16))
def test_row_types_never_change_the_optimum(T, seed):
    """Skipping rows of a scanned type is exact: same total as with every row its own type."""
    n = T.shape[0]
    if n == 0:
        return
    rng = np.random.default_rng(seed)
    T = T[rng.integers(0, n, n)]  # repeated rows
    C = (4 * (T.max() - T)).astype(np.int32)
    hashes = np.unique(C, axis=0, return_inverse=True)[1].ravel()  # exact "hashes"
    typed = _lapjv._row_types(C, hashes, _lapjv.PLAIN)
    a = _lapjv.solve_costs(C, typed)
    b = _lapjv.solve_costs(C, np.arange(n))
    rows = np.arange(n)
    assert C[rows, a].sum() == C[rows, b].sum()
    _check_mate(T, a)


def test_at_row_maxima():
    T = np.array([[1.0, 0.5, 0.25], [0.75, 1.0, 0.0]])
    grid = _lapjv.lattice(T, _lapjv.PLAIN)
    assert grid is not None
    assert grid.at_row_maxima(np.array([0, 1]))
    assert not grid.at_row_maxima(np.array([1, 0]))


# --------------------------------------------------------------------------- compiled kernels


@FEW
@given(T=lattice_matrices(max_n=60, max_extra=30))
def test_compiled_kernels_match_scipy(T):
    mate = _lapjv.lattice_assignment(T, _numba())
    if mate is None and np.unique(T[np.isfinite(T)]).size < 2:
        return
    _check_mate(T, mate)


@FEW
@given(
    seed=st.integers(0, 2**16),
    shape=st.sampled_from([(240, 240), (210, 300), (300, 220)]),
    shift=st.sampled_from([0.0, -7.5]),
)
def test_one_to_one_lattice_path_with_numba(seed, shape, shift):
    _numba()
    res = check_one_to_one_against_scipy(hr_like_scores(*shape, seed) + shift)
    assert res.method in {"lsa-lattice", "row-max", "transport"}


@FEW
@given(seed=st.integers(0, 2**16), share=st.sampled_from([0.4, 0.9]))
def test_one_to_one_lattice_path_with_forbidden_pairs(seed, share):
    _numba()
    S = hr_like_scores(250, 260, seed)
    allowed = np.random.default_rng(seed).random(S.shape) < share
    check_one_to_one_against_scipy(S, allowed)


@pytest.mark.parametrize("shape", [(230, 230), (220, 280), (280, 220)])
def test_without_numba_the_scipy_path_gives_the_same_total(monkeypatch, shape):
    S = hr_like_scores(*shape, 5)
    with_numba = one_to_one(S)
    monkeypatch.setitem(_lapjv._COMPILED, "kernels", None)
    assert _lapjv.lattice(S) is None
    without = check_one_to_one_against_scipy(S)
    assert without.method in {"lsa-lattice", "row-max"}
    assert without.objective == pytest.approx(with_numba.objective, abs=1e-9)


def test_dense_full_uses_the_compiled_solver():
    _numba()
    S = hr_like_scores(300, 320, 7)
    mate, method = _lsap.dense_full(S, None, 0)
    assert method == "lsa-lattice"
    _check_mate(S, mate)


# --------------------------------------------------------------------------- OR-Library


def _orlib_dir() -> Path | None:
    return data_dir(Path(__file__).resolve().parents[1], need="orlib-assign")


def _orlib_cases() -> list:
    base = _orlib_dir()
    if base is None:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason="shared data absent"))]
    known = {}
    for line in (base / "orlib-assign" / "assignopt.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("assign") and parts[0][6:7] != "p":
            known[parts[0]] = int(parts[1])
    return [pytest.param(name, value, id=name) for name, value in sorted(known.items())]


@pytest.mark.parametrize(("name", "optimum"), _orlib_cases())
def test_orlib_known_optima(name, optimum):
    base = _orlib_dir()
    assert base is not None
    tok = np.array((base / "orlib-assign" / f"{name}.txt").read_text().split(), dtype=np.int64)
    n = int(tok[0])
    cost = tok[1 : 1 + n * n].reshape(n, n).astype(float)
    res = one_to_one(-cost)
    assert res.n_matched == n
    assert -res.objective == optimum
    if _lapjv.compiled_kernels() is not None:
        mate = _lapjv.lattice_assignment(-cost)
        assert mate is not None and cost[np.arange(n), mate].sum() == optimum


# --------------------------------------------------------------------------- forked solves


def test_forked_child_without_loaded_code_declines(monkeypatch):
    """In a child of run_cancellable, kernels the parent never loaded are not loaded there."""
    from pairwise.solvers import _ortools

    class Unloaded:
        signatures = ()  # a numba dispatcher before its first call

    unloaded = _lapjv.Kernels(*(Unloaded() for _ in _lapjv.PLAIN))
    T = np.array([[1.0, 0.5], [0.25, 0.75]])
    assert _lapjv._loaded(unloaded)  # in the parent: loading is fine
    monkeypatch.setattr(_ortools, "_IN_CHILD", True)
    assert not _lapjv._loaded(unloaded)
    assert _lapjv.lattice(T, unloaded) is None
    assert _lapjv.lattice(T, _lapjv.PLAIN) is not None  # plain Python always runs


def test_warm_loads_every_kernel():
    kernels = _numba()
    assert _lapjv.warm()
    assert all(kernel.signatures for kernel in kernels)


def test_deadline_solve_in_a_child_matches_scipy():
    """With a time limit the dense solve runs in a forked child, which inherits the kernels."""
    _numba()
    S = hr_like_scores(700, 700, 3)  # above run_cancellable's fork threshold
    res = one_to_one(S, time_limit=600)
    assert res.method in {"lsa-lattice", "row-max"}
    assert res.objective == pytest.approx(_best(S), abs=1e-9)
