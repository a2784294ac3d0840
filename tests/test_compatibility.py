"""CompatibilityModel and Compatibility: weighted means, masks, sparse top-k, explanations."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from pairwise import _terms, _topk
from pairwise.compatibility import Compatibility, CompatibilityModel, Explanation
from pairwise.config import default_model, default_peer_model
from pairwise.criteria import (
    Closeness,
    Complement,
    Different,
    EncodingCache,
    LevelGap,
    Preferences,
    Same,
    SharedGoals,
)
from pairwise.errors import InputError
from pairwise.roster import load_roster
from pairwise.rules import (
    Accessible,
    Exclude,
    LevelWithin,
    MinLevelGap,
    NotManager,
    NotSelf,
    Require,
    SharedLanguage,
)

AT = dt.date(2025, 3, 1)
FUNCTIONS = ["IT", "HR", "Sales", "Ops"]
SKILLS = ["sql", "python", "sales", "people", "finance", "design"]
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"]
HOURS = ["09:00-17:00", "12:00-20:00", "22:00-06:00"]
ATOL = 2e-6  # scores are accumulated in single precision


# ---------------------------------------------------------------------------
# Random organisations
# ---------------------------------------------------------------------------


@st.composite
def frame(draw: st.DrawFn, prefix: str, n_min: int = 1, n_max: int = 9) -> pd.DataFrame:
    n = draw(st.integers(n_min, n_max))

    def column(values):
        return draw(st.lists(values, min_size=n, max_size=n))

    def listed(pool, size=3):
        return column(st.lists(st.sampled_from(pool), max_size=size).map(";".join))

    ids = [f"{prefix}{i}" for i in range(n)]
    return pd.DataFrame(
        {
            "id": ids,
            "level": column(st.sampled_from(["1", "2", "3", "4", "5", "6", ""])),
            "function": column(st.one_of(st.none(), st.sampled_from(FUNCTIONS))),
            "site": column(st.one_of(st.none(), st.sampled_from(["Oslo", "Lima", "Pune"]))),
            "timezone": column(st.one_of(st.none(), st.sampled_from(ZONES))),
            "work_hours": column(st.one_of(st.none(), st.sampled_from(HOURS))),
            "languages": column(st.sampled_from(["en", "en;de", "es", ""])),
            "skills": listed(SKILLS),
            "wants": listed(SKILLS, 2),
            "goals": listed(["lead", "grow", "switch"], 2),
            "manager_id": column(st.one_of(st.none(), st.sampled_from([*ids, "boss"]))),
            "preferences": listed([f"m{i}" for i in range(4)] + [f"e{i}" for i in range(4)], 3),
        }
    )


@st.composite
def organisation(draw: st.DrawFn):
    m = load_roster(draw(frame("m")), role="mentor")
    e = load_roster(draw(frame("e")), role="mentee")
    return m, e


MODEL = CompatibilityModel(
    criteria=(
        Complement(weight=3.0),
        SharedGoals(weight=2.0),
        Preferences(weight=2.0),
        Different("function"),
        LevelGap(),
        Closeness("timezone", scale=6),
        Complement(method="jaccard", name="jaccard_skills", weight=0.5),
        Same("languages", weight=0.5),
    ),
    rules=(
        MinLevelGap(1),
        NotManager(),
        Accessible(2.0),
        SharedLanguage(),
        Exclude([("m0", "e1")]),
    ),
    at=AT,
)


@contextmanager
def unfused() -> Iterator[None]:
    """Evaluate tables per pair and rule tables one by one (the rarely used branches)."""
    with (
        patch.object(_topk, "_LOWRANK_SCORE", 0),
        patch.object(_topk, "_LOWRANK_MASK", 0),
        patch.object(_topk, "_MAX_MERGED_CELLS", 1),
        patch.object(_terms, "_DENSE_VOCAB", 2),
    ):
        yield


# ---------------------------------------------------------------------------
# Dense: weighted mean of criteria, AND of rules
# ---------------------------------------------------------------------------


def reference(model: CompatibilityModel, m, e) -> tuple[np.ndarray, np.ndarray]:
    cache = EncodingCache(at=model.at)
    total = sum(c.weight for c in model.criteria)
    scores = sum(c.weight * c.score(m, e, cache=cache) for c in model.criteria) / total
    allowed = np.ones((len(m), len(e)), dtype=bool)
    for r in model.rules:
        allowed &= r.mask(m, e, cache=cache, at=model.at)
    return scores, allowed


@settings(max_examples=30, deadline=None)
@given(organisation(), st.sampled_from([None, 1, 2, 5]))
def test_dense_is_the_weighted_mean_and_the_and_of_rules(org, block_size) -> None:
    m, e = org
    want_s, want_a = reference(MODEL, m, e)
    for context in (nullcontext, unfused):
        with context():
            got = MODEL.score(m, e, block_size=block_size)
        assert got.scores.dtype == np.float64 and got.allowed.dtype == bool
        assert not got.is_sparse and got.shape == (len(m), len(e))
        np.testing.assert_allclose(got.scores, want_s, atol=ATOL)
        np.testing.assert_array_equal(got.allowed, want_a)
        assert got.scores.min() >= 0 and got.scores.max() <= 1


# ---------------------------------------------------------------------------
# Sparse top-k equals the dense top-k
# ---------------------------------------------------------------------------


def dense_top_k(scores: np.ndarray, allowed: np.ndarray, k: int) -> list[np.ndarray]:
    out = []
    for j in range(scores.shape[1]):
        rows = np.flatnonzero(allowed[:, j])
        order = np.lexsort((rows, -scores[rows, j]))
        out.append(rows[order][:k])
    return out


@settings(max_examples=40, deadline=None)
@given(organisation(), st.integers(1, 6), st.sampled_from([None, 1, 3]))
def test_sparse_top_k_equals_dense_top_k(org, k: int, block_size) -> None:
    m, e = org
    dense = MODEL.score(m, e)
    sparse = MODEL.score(m, e, top_k=k, block_size=block_size)
    assert sparse.is_sparse and sparse.allowed is None and sp.isspmatrix_csr(sparse.scores)
    assert sparse.scores.shape == dense.scores.shape
    csc = sparse.scores.tocsc()
    for j, want in enumerate(dense_top_k(dense.scores, dense.allowed, k)):
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        values = csc.data[csc.indptr[j] : csc.indptr[j + 1]]
        assert len(rows) == len(want)
        assert dense.allowed[rows, j].all()
        np.testing.assert_allclose(values, dense.scores[rows, j], atol=ATOL)
        # same candidates, except that ties at the cut may be broken differently
        np.testing.assert_allclose(np.sort(values), np.sort(dense.scores[want, j]), atol=ATOL)
        if len(want):
            cut = dense.scores[want, j].min()
            sure = want[dense.scores[want, j] > cut + 1e-5]
            assert set(sure) <= set(rows)


@settings(max_examples=30, deadline=None)
@given(organisation(), st.sampled_from([None, 2]), st.integers(0, 2**32 - 1))
def test_candidate_counts_equal_the_per_column_counts(org, k, seed) -> None:
    # every column at once, as the results table reads them: the same as one at a time
    m, e = org
    compat = MODEL.score(m, e, top_k=k)
    capacity = np.random.default_rng(seed).integers(0, 3, compat.shape[0])
    n_cand, n_open = compat.candidate_counts(capacity)
    for j in range(compat.shape[1]):
        rows = compat.candidate_rows(j)
        assert n_cand[j] == len(rows) == compat.n_candidates(col=j)
        assert n_open[j] == int(np.count_nonzero(capacity[rows] > 0))


def test_top_k_block_handles_ties_and_short_rows() -> None:
    rng = np.random.default_rng(0)
    for n_rows, n, k in [(7, 1000, 5), (3, 40, 39), (4, 30, 50), (5, 200, 1)]:
        scores = np.round(rng.random((n_rows, n)), 1)  # many ties
        allowed = rng.random((n_rows, n)) < 0.5
        rows, cols, values = _topk._top_k_block(scores.copy(), allowed, k)
        for i in range(n_rows):
            mine = np.flatnonzero(allowed[i])
            order = mine[np.lexsort((mine, -scores[i, mine]))][:k]
            assert cols[rows == i].tolist() == sorted(order.tolist())
            np.testing.assert_array_equal(values[rows == i], scores[i, sorted(order.tolist())])


def test_sparse_keeps_candidates_that_score_zero() -> None:
    m = load_roster(pd.DataFrame({"id": ["a", "b"], "function": ["IT", "IT"]}), role="mentor")
    e = load_roster(pd.DataFrame({"id": ["x"], "function": ["IT"]}), role="mentee")
    compat = CompatibilityModel([Different("function")]).score(m, e, top_k=1)
    assert compat.scores.nnz == 1 and compat.scores.tocoo().row.tolist() == [0]
    assert compat.scores.data.tolist() == [0.0]


def test_sparse_never_materialises_the_dense_matrix() -> None:
    rng = np.random.default_rng(1)
    n = 400
    frame = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "skills": [";".join(rng.choice(SKILLS, 2)) for _ in range(n)],
            "wants": [";".join(rng.choice(SKILLS, 1)) for _ in range(n)],
        }
    )
    people = load_roster(frame, role="person")
    model = CompatibilityModel([Complement(mutual=True)], [NotSelf()])
    with patch.object(_topk._Plan, "masked_block", wraps=None) as block:
        block.side_effect = lambda rows, s, cols=None: s.fill(0.5)
        model.score(people, people, top_k=3, block_size=16)
    shapes = {call.args[1].shape for call in block.call_args_list}
    assert max(r for r, _ in shapes) <= 16  # blocks of 16 mentees x all mentors


# ---------------------------------------------------------------------------
# Explanations
# ---------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(organisation(), st.data())
def test_explain_and_breakdown_add_up(org, draw: st.DataObject) -> None:
    m, e = org
    compat = MODEL.score(m, e)
    i = draw.draw(st.integers(0, len(m) - 1))
    j = draw.draw(st.integers(0, len(e) - 1))
    ex = compat.explain(str(m.ids[i]), str(e.ids[j]))
    assert isinstance(ex, Explanation)
    assert ex.total == pytest.approx(ex.criteria["contribution"].sum(), abs=1e-12)
    assert ex.total == pytest.approx(compat.scores[i, j], abs=ATOL)
    assert ex.allowed == bool(compat.allowed[i, j])
    assert list(ex.criteria["criterion"]) == list(compat.criteria)
    assert list(ex.rules["rule"]) == list(compat.rules)
    assert all(isinstance(r, str) and r for r in ex.rules["reason"])
    np.testing.assert_allclose(
        ex.criteria["contribution"],
        ex.criteria["score"] * ex.criteria["weight"] / sum(compat.weights),
        atol=1e-12,
    )
    rows = np.array([i, 0, len(m) - 1])
    cols = np.array([j, len(e) - 1, 0])
    table = compat.breakdown(rows, cols)
    assert list(table.columns) == list(compat.criteria) and len(table) == 3
    np.testing.assert_allclose(table.sum(axis=1), compat.scores[rows, cols], atol=ATOL)
    frame_ = ex.to_frame()
    assert set(frame_["kind"]) <= {"criterion", "rule", "total"}
    assert str(ex).startswith(f"{m.ids[i]} -> {e.ids[j]}: score")


def test_explain_in_sparse_form_says_whether_kept() -> None:
    m = load_roster(pd.DataFrame({"id": ["a", "b"], "level": [5, 6]}), role="mentor")
    e = load_roster(pd.DataFrame({"id": ["x"], "level": [3]}), role="mentee")
    compat = CompatibilityModel([LevelGap()], [MinLevelGap(2)]).score(m, e, top_k=1)
    assert compat.explain("a", "x").candidate is True
    assert compat.explain("b", "x").candidate is False
    assert "not among the kept top-k" in str(compat.explain("b", "x"))
    assert compat.explain(0, 0).row_id == "a"
    with pytest.raises(InputError, match="'zz'"):
        compat.explain("zz", "x")


def _fleet():
    """40 mentors: 38 are not senior enough, 2 are senior but work at night elsewhere."""
    levels = [3] * 38 + [6, 6]
    m = load_roster(
        pd.DataFrame(
            {
                "id": [f"m{i}" for i in range(40)],
                "level": levels,
                "site": ["Oslo"] * 38 + ["Lima"] * 2,
                "timezone": ["Europe/Oslo"] * 38 + ["America/Lima"] * 2,
                "work_hours": ["09:00-17:00"] * 38 + ["22:00-03:00"] * 2,
            }
        ),
        role="mentor",
    )
    e = load_roster(
        pd.DataFrame(
            {
                "id": ["e0", "e1"],
                "level": [2, 1],
                "site": ["Oslo", "Oslo"],
                "timezone": ["Europe/Oslo"] * 2,
                "work_hours": ["09:00-17:00"] * 2,
            }
        ),
        role="mentee",
    )
    return m, e


def test_why_no_partner_counts_each_rule() -> None:
    m, e = _fleet()
    model = CompatibilityModel([LevelGap()], [MinLevelGap(2), Accessible(2.0)], at=AT)
    compat = model.score(m, e)
    assert compat.why_no_partner(0) == (
        "no allowed mentor: 38 of 40 fail level gap ≥ 2, "
        "2 fail same site or ≥ 2 h working-hours overlap"
    )
    assert compat.why_no_partner("e1") == (
        "38 of 40 mentors allowed; excluded: 2 fail same site or ≥ 2 h working-hours overlap"
    )
    assert compat.why_no_partner_row("m39") == (
        "no allowed mentee: 2 of 2 fail same site or ≥ 2 h working-hours overlap"
    )
    assert (
        compat.why_no_partner_row("m0") == "1 of 2 mentees allowed; excluded: 1 fail level gap ≥ 2"
    )
    sparse = model.score(m, e, top_k=5)
    assert sparse.why_no_partner(0) == compat.why_no_partner(0)
    e2 = load_roster(
        pd.DataFrame(
            {
                "id": ["e2"],
                "level": [1],
                "site": ["Oslo"],
                "timezone": ["Europe/Oslo"],
                "work_hours": ["09:00-17:00"],
            }
        ),
        role="mentee",
    )
    text = model.score(m, e2, top_k=1).why_no_partner(0)
    assert text == (
        "38 of 40 mentors allowed (1 kept as candidates); "
        "excluded: 2 fail same site or ≥ 2 h working-hours overlap"
    )


def test_why_no_partner_in_a_peer_pool_ignores_oneself() -> None:
    people = load_roster(pd.DataFrame({"id": ["a", "b", "c"], "level": [1, 3, 5]}), role="person")
    compat = CompatibilityModel([], [NotSelf(), LevelWithin(1)]).score(people, people)
    assert compat.why_no_partner_row("a") == "no allowed person: 2 of 2 fail level difference ≤ 1"
    assert compat.scores.tolist() == [[0.0] * 3] * 3


# ---------------------------------------------------------------------------
# Default models
# ---------------------------------------------------------------------------


def _demo(n: int = 80):
    rng = np.random.default_rng(5)
    ids = [f"p{i}" for i in range(n)]
    frame_ = pd.DataFrame(
        {
            "id": ids,
            "level": rng.integers(1, 7, n),
            "function": rng.choice(FUNCTIONS, n),
            "site": rng.choice(["Oslo", "Lima"], n),
            "timezone": rng.choice(ZONES, n),
            "work_hours": rng.choice(HOURS, n),
            "languages": rng.choice(["en", "en;es"], n),
            "skills": [";".join(rng.choice(SKILLS, 3)) for _ in range(n)],
            "wants": [";".join(rng.choice(SKILLS, 2)) for _ in range(n)],
            "goals": rng.choice(["lead", "grow;lead", "switch"], n),
            "manager_id": [""] + [ids[int(rng.integers(0, max(1, i)))] for i in range(1, n)],
            "preferences": [";".join(rng.choice(ids, 2)) for _ in range(n)],
        }
    )
    return frame_


def test_default_model_runs_and_skips_absent_columns(caplog) -> None:
    frame_ = _demo()
    m = load_roster(frame_.iloc[:40].reset_index(drop=True), role="mentor")
    e = load_roster(
        frame_.iloc[40:].drop(columns=["goals", "timezone"]).reset_index(drop=True), role="mentee"
    )
    with caplog.at_level(logging.INFO, logger="pairwise.compatibility"):
        compat = default_model(at=AT).score(m, e)
    assert "shared_goals" not in compat.criteria and "close_timezone" not in compat.criteria
    assert "accessible" not in compat.rules and "opt_in" not in compat.rules
    assert any("shared_goals" in n for n in compat.notes)
    assert any("skipped" in r.message for r in caplog.records)
    assert compat.criteria == (
        "complement_skills_wants",
        "preferences",
        "different_function",
        "level_gap",
    )
    assert not np.isnan(compat.scores).any()
    history = pd.DataFrame({"mentor_id": ["p0"], "mentee_id": ["p40"]})
    compat = default_model(at=AT, history=history).score(m, e)
    assert "no_repeat" in compat.rules and not compat.allowed[0, 0]


def test_default_peer_model_is_symmetric() -> None:
    people = load_roster(_demo(), role="person")
    compat = default_peer_model(at=AT).score(people, people)
    np.testing.assert_allclose(compat.scores, compat.scores.T, atol=ATOL)
    np.testing.assert_array_equal(compat.allowed, compat.allowed.T)
    assert not compat.allowed.diagonal().any()


# ---------------------------------------------------------------------------
# Validation and messages
# ---------------------------------------------------------------------------


def test_strict_model_names_the_missing_column_and_roster(tmp_path) -> None:
    path = tmp_path / "mentees.csv"
    path.write_text("id,level\ne1,2\n", encoding="utf-8")
    e = load_roster(path, role="mentee")
    m = load_roster(pd.DataFrame({"id": ["m1"], "level": [4], "skills": ["sql"]}), role="mentor")
    with pytest.raises(InputError) as err:
        CompatibilityModel([Complement()]).score(m, e)
    assert "`wants` column must be present in the mentees roster for criterion" in str(err.value)
    assert str(path) in str(err.value)
    with pytest.raises(InputError, match="`languages` column must be present"):
        CompatibilityModel([], [SharedLanguage()]).score(m, e)


def test_protected_columns_refused_at_construction() -> None:
    with pytest.raises(InputError, match="`gender` must not enter compatibility scores"):
        CompatibilityModel([Same("gender")])
    model = CompatibilityModel([Same("gender")], allow_protected=True)
    m = load_roster(pd.DataFrame({"id": ["a"], "gender": ["w"]}))
    assert model.score(m, m).scores.tolist() == [[1.0]]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: CompatibilityModel(["function"]), "`criteria` must hold criteria"),
        (lambda m: CompatibilityModel([], [Same("function")]), "`rules` must hold rules"),
        (
            lambda m: CompatibilityModel([Same("function"), Same("function")]),
            "criterion names must be unique",
        ),
        (lambda m: CompatibilityModel(at="2025-01-01"), "`at` must be a datetime.date"),
        (
            lambda m: CompatibilityModel().score(m, m, top_k=0),
            "`top_k` must be a whole number >= 1",
        ),
        (lambda m: CompatibilityModel().score(m, m, block_size=-3), "`block_size` must be"),
        (lambda m: CompatibilityModel().score(m.frame, m), "`mentors` must be a Roster"),
        (lambda m: CompatibilityModel().score(m, m).breakdown([0], [0, 0]), "same length"),
        (lambda m: CompatibilityModel().score(m, m).breakdown([5], [0]), "positions below"),
        (lambda m: CompatibilityModel().score(m, m).why_no_partner(9), "between 0 and 1"),
    ],
)
def test_bad_input_messages(call, match: str) -> None:
    m = load_roster(pd.DataFrame({"id": ["a", "b"], "function": ["IT", "HR"]}))
    with pytest.raises(InputError, match=match) as err:
        call(m)
    assert "Fix:" in str(err.value)


def test_required_pair_and_repr() -> None:
    m = load_roster(pd.DataFrame({"id": ["a", "b"]}), role="mentor")
    e = load_roster(pd.DataFrame({"id": ["x", "y"]}), role="mentee")
    compat = CompatibilityModel([], [Require([("b", "x")])]).score(m, e, top_k=2)
    csc = compat.scores.tocsc()
    assert csc.indices[csc.indptr[0] : csc.indptr[1]].tolist() == [1]  # only b for x
    assert csc.indices[csc.indptr[1] : csc.indptr[2]].tolist() == [0, 1]
    assert "sparse top-2" in repr(compat)
    assert isinstance(compat, Compatibility)
