"""Soft criteria against slow reference implementations written with explicit loops."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairwise import _terms as criteria  # the engine: tests patch its size limits
from pairwise.criteria import (
    Closeness,
    Complement,
    Different,
    EncodingCache,
    LevelGap,
    Preferences,
    Same,
    SharedGoals,
    diversity_distance,
    multi_hot,
)
from pairwise.errors import InputError
from pairwise.roster import load_roster

AT = dt.date(2025, 7, 1)
FUNCTIONS = ["IT", "HR", "Sales"]
VOCAB = ["a", "b", "c", "d", "e", "f"]
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Pacific/Auckland",
    "Pacific/Pago_Pago",
    "UTC",
    "UTC+05:45",
    "-3",
]
FIXED = {"UTC": 0.0, "UTC+05:45": 5.75, "-3": -3.0}
SETTINGS = settings(max_examples=40, deadline=None)


# ---------------------------------------------------------------------------
# Random rosters: Python values for the references, DataFrames for the library
# ---------------------------------------------------------------------------


def _lists(draw: st.DrawFn, n: int, pool: list[str], max_size: int = 4) -> list[list[str]]:
    return draw(
        st.lists(st.lists(st.sampled_from(pool), max_size=max_size), min_size=n, max_size=n)
    )


@st.composite
def side(draw: st.DrawFn, prefix: str, n_max: int = 7) -> dict[str, list]:
    n = draw(st.integers(1, n_max))
    maybe = st.one_of(st.none(), st.integers(1, 7))
    return {
        "id": [f"{prefix}{i}" for i in range(n)],
        "level": draw(st.lists(maybe, min_size=n, max_size=n)),
        "function": draw(
            st.lists(st.one_of(st.none(), st.sampled_from(FUNCTIONS)), min_size=n, max_size=n)
        ),
        "skills": _lists(draw, n, VOCAB),
        "wants": _lists(draw, n, VOCAB),
        "goals": _lists(draw, n, VOCAB[:4], 3),
        "timezone": draw(
            st.lists(st.one_of(st.none(), st.sampled_from(ZONES)), min_size=n, max_size=n)
        ),
        "tenure": draw(
            st.lists(
                st.one_of(st.none(), st.floats(0, 30, allow_nan=False).map(lambda x: round(x, 2))),
                min_size=n,
                max_size=n,
            )
        ),
    }


@st.composite
def pair(draw: st.DrawFn) -> tuple[dict[str, list], dict[str, list]]:
    m = draw(side("m"))
    e = draw(side("e"))
    # ranked choices of the other side, with unknown ids and repeats mixed in
    m["preferences"] = _lists(draw, len(m["id"]), [*e["id"], "zz"], 5)
    e["preferences"] = _lists(draw, len(e["id"]), [*m["id"], "zz"], 5)
    return m, e


def roster(data: dict[str, list], role: str):
    frame = pd.DataFrame(
        {
            key: [";".join(v) for v in values]
            if values and isinstance(values[0], list)
            else values
            for key, values in data.items()
        }
    )
    frame["level"] = ["" if v is None else str(v) for v in data["level"]]
    frame["tenure"] = [("" if v is None else str(v)) for v in data["tenure"]]
    return load_roster(frame, role=role)


@contextmanager
def forced_paths() -> Iterator[None]:
    """Send every criterion down its rarely taken path (sparse products, element-wise)."""
    with patch.object(criteria, "_DENSE_VOCAB", 1), patch.object(criteria, "_MAX_TABLE_CELLS", 1):
        yield


def both_paths(check) -> None:
    check()
    with forced_paths():
        check()


# ---------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------


def ref_matrix(m: dict, e: dict, fn) -> np.ndarray:
    out = np.zeros((len(m["id"]), len(e["id"])))
    for i in range(len(m["id"])):
        for j in range(len(e["id"])):
            out[i, j] = fn(i, j)
    return out


def ref_offset(zone: str | None) -> float | None:
    if zone is None:
        return None
    if zone in FIXED:
        return FIXED[zone]
    instant = dt.datetime(AT.year, AT.month, AT.day, 12, tzinfo=dt.UTC)
    return instant.astimezone(ZoneInfo(zone)).utcoffset().total_seconds() / 3600


def assert_scores(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == np.float64
    assert not np.isnan(got).any()
    assert got.min(initial=0) >= 0 and got.max(initial=0) <= 1
    np.testing.assert_allclose(got, want, atol=1e-12)


# ---------------------------------------------------------------------------
# Each criterion against its reference
# ---------------------------------------------------------------------------


@SETTINGS
@given(pair())
def test_same_and_different_scalar(data: tuple[dict, dict]) -> None:
    m, e = data
    rm, re_ = roster(m, "mentor"), roster(e, "mentee")
    f_m, f_e = m["function"], e["function"]
    same = ref_matrix(m, e, lambda i, j: float(f_m[i] is not None and f_m[i] == f_e[j]))
    diff = ref_matrix(
        m, e, lambda i, j: float(f_m[i] is not None and f_e[j] is not None and f_m[i] != f_e[j])
    )

    def check() -> None:
        assert_scores(Same("function").score(rm, re_), same)
        assert_scores(Different("function").score(rm, re_), diff)

    both_paths(check)


@SETTINGS
@given(pair())
def test_same_and_different_lists(data: tuple[dict, dict]) -> None:
    m, e = data
    rm, re_ = roster(m, "mentor"), roster(e, "mentee")
    a, b = m["skills"], e["skills"]
    same = ref_matrix(m, e, lambda i, j: float(bool(set(a[i]) & set(b[j]))))
    diff = ref_matrix(
        m, e, lambda i, j: float(bool(a[i]) and bool(b[j]) and not set(a[i]) & set(b[j]))
    )

    def check() -> None:
        assert_scores(Same("skills").score(rm, re_), same)
        assert_scores(Different("skills").score(rm, re_), diff)

    both_paths(check)


def _coverage(offer: list[str], want: list[str]) -> float:
    return len(set(offer) & set(want)) / len(set(want)) if want else 0.0


def _jaccard(a: list[str], b: list[str]) -> float:
    union = set(a) | set(b)
    return len(set(a) & set(b)) / len(union) if union else 0.0


@SETTINGS
@given(pair(), st.sampled_from(["coverage", "jaccard"]), st.booleans())
def test_complement(data: tuple[dict, dict], method: str, mutual: bool) -> None:
    m, e = data
    rm, re_ = roster(m, "mentor"), roster(e, "mentee")
    fn = _coverage if method == "coverage" else _jaccard

    def ref(i: int, j: int) -> float:
        forward = fn(m["skills"][i], e["wants"][j])
        if not mutual:
            return forward
        return 0.5 * (forward + fn(e["skills"][j], m["wants"][i]))

    want = ref_matrix(m, e, ref)
    both_paths(
        lambda: assert_scores(Complement(method=method, mutual=mutual).score(rm, re_), want)
    )


@SETTINGS
@given(pair(), st.sampled_from(["cosine", "jaccard", "coverage"]))
def test_shared_goals(data: tuple[dict, dict], method: str) -> None:
    m, e = data
    rm, re_ = roster(m, "mentor"), roster(e, "mentee")

    def ref(i: int, j: int) -> float:
        a, b = set(m["goals"][i]), set(e["goals"][j])
        if method == "jaccard":
            return _jaccard(list(a), list(b))
        if method == "coverage":
            return _coverage(list(a), list(b))
        return len(a & b) / math.sqrt(len(a) * len(b)) if a and b else 0.0

    want = ref_matrix(m, e, ref)
    both_paths(lambda: assert_scores(SharedGoals(method=method).score(rm, re_), want))


@SETTINGS
@given(pair(), st.sampled_from([None, 1.0, 4.5, 12.0]))
def test_closeness_timezone_is_circular_and_dst_aware(data: tuple[dict, dict], scale) -> None:
    m, e = data
    rm, re_ = roster(m, "mentor"), roster(e, "mentee")
    width = 12.0 if scale is None else scale

    def ref(i: int, j: int) -> float:
        a, b = ref_offset(m["timezone"][i]), ref_offset(e["timezone"][j])
        if a is None or b is None:
            return 0.0
        d = abs(a - b) % 24
        d = min(d, 24 - d)
        return max(0.0, 1.0 - d / width)

    want = ref_matrix(m, e, ref)
    crit = Closeness("timezone", scale=scale)
    both_paths(lambda: assert_scores(crit.score(rm, re_, cache=EncodingCache(at=AT)), want))


@SETTINGS
@given(pair(), st.sampled_from([None, 2.0, 10.0]))
def test_closeness_numeric(data: tuple[dict, dict], scale) -> None:
    m, e = data
    rm, re_ = roster(m, "mentor"), roster(e, "mentee")
    values = [v for v in m["tenure"] + e["tenure"] if v is not None]
    spread = (max(values) - min(values)) if values else 0.0
    width = scale if scale is not None else (spread if spread > 0 else 1.0)

    def ref(i: int, j: int) -> float:
        a, b = m["tenure"][i], e["tenure"][j]
        if a is None or b is None:
            return 0.0
        return max(0.0, 1.0 - abs(a - b) / width)

    want = ref_matrix(m, e, ref)
    both_paths(lambda: assert_scores(Closeness("tenure", scale=scale).score(rm, re_), want))


@SETTINGS
@given(pair(), st.integers(-1, 4), st.sampled_from([0.0, 1.0, 2.0, 3.5]))
def test_level_gap(data: tuple[dict, dict], ideal: int, tolerance: float) -> None:
    m, e = data
    rm, re_ = roster(m, "mentor"), roster(e, "mentee")

    def ref(i: int, j: int) -> float:
        a, b = m["level"][i], e["level"][j]
        if a is None or b is None:
            return 0.0
        return max(0.0, 1.0 - abs(a - b - ideal) / (tolerance + 1.0))

    want = ref_matrix(m, e, ref)
    crit = LevelGap(ideal=ideal, tolerance=tolerance)
    both_paths(lambda: assert_scores(crit.score(rm, re_), want))


def _ranked(lists: list[list[str]], chooser: int, chosen: str, depth: int) -> float:
    ranked = lists[chooser]
    if chosen not in ranked:
        return 0.0
    return max(0.0, 1.0 - ranked.index(chosen) / depth)  # first mention counts


@SETTINGS
@given(pair(), st.sampled_from(["mentee", "mentor", "both"]), st.integers(1, 6))
def test_preferences(data: tuple[dict, dict], side_: str, depth: int) -> None:
    m, e = data
    rm, re_ = roster(m, "mentor"), roster(e, "mentee")

    def ref(i: int, j: int) -> float:
        by_mentee = _ranked(e["preferences"], j, m["id"][i], depth)
        by_mentor = _ranked(m["preferences"], i, e["id"][j], depth)
        return {"mentee": by_mentee, "mentor": by_mentor, "both": 0.5 * (by_mentee + by_mentor)}[
            side_
        ]

    want = ref_matrix(m, e, ref)
    assert_scores(Preferences(side=side_, depth=depth).score(rm, re_), want)


# ---------------------------------------------------------------------------
# Blocks, pairs, peers, caching
# ---------------------------------------------------------------------------

ALL = [
    Same("function"),
    Same("skills"),
    Different("function"),
    Complement(),
    Complement(method="jaccard", mutual=True),
    SharedGoals(),
    Closeness("timezone"),
    Closeness("tenure", scale=5),
    LevelGap(),
    Preferences(side="both"),
]


@settings(max_examples=25, deadline=None)
@given(pair(), st.data())
def test_blocks_and_pairs_match_the_full_matrix(
    data: tuple[dict, dict], draw: st.DataObject
) -> None:
    m, e = data
    rm, re_ = roster(m, "mentor"), roster(e, "mentee")
    rows = draw.draw(st.lists(st.integers(0, len(rm) - 1), max_size=6))
    cols = draw.draw(st.lists(st.integers(0, len(re_) - 1), max_size=6))
    k = min(len(rows), len(cols))
    for crit in ALL:
        cache = EncodingCache(at=AT)
        full = crit.score(rm, re_, cache=cache)
        np.testing.assert_allclose(
            crit.score(rm, re_, rows=rows, cols=cols, cache=cache), full[np.ix_(rows, cols)]
        )
        np.testing.assert_allclose(crit.score(rm, re_, rows=slice(1, None), cache=cache), full[1:])
        got = crit.score_pairs(rm, re_, rows[:k], cols[:k], cache=cache)
        np.testing.assert_allclose(got, full[rows[:k], cols[:k]])


@settings(max_examples=20, deadline=None)
@given(side("p"))
def test_symmetric_criteria_are_symmetric_on_one_pool(data: dict) -> None:
    data["preferences"] = [[f"p{k}" for k in range(len(data["id"]))][::-1]] * len(data["id"])
    people = roster(data, "person")
    for crit in (
        Same("skills"),
        SharedGoals(),
        Complement(mutual=True),
        Closeness("timezone"),
        Preferences(side="both"),
    ):
        s = crit.score(people, people)
        np.testing.assert_allclose(s, s.T, atol=1e-12)


def test_encodings_are_built_once_per_roster_pair_and_column() -> None:
    m = load_roster(pd.DataFrame({"id": ["a", "b"], "function": ["IT", "HR"]}))
    e = load_roster(pd.DataFrame({"id": ["x"], "function": ["HR"]}))
    cache = EncodingCache()
    Same("function").score(m, e, cache=cache)
    first = multi_hot(cache, m, e, "function", "function")
    Different("function").score(m, e, cache=cache)
    assert multi_hot(cache, m, e, "function", "function") is first
    assert first.vocab == ("HR", "IT")


def test_many_categories_use_a_sparse_product_and_agree() -> None:
    rng = np.random.default_rng(3)
    vocab = [f"s{k}" for k in range(300)]
    m = load_roster(
        pd.DataFrame(
            {
                "id": [f"m{i}" for i in range(60)],
                "skills": [";".join(rng.choice(vocab, 5)) for _ in range(60)],
            }
        )
    )
    e = load_roster(
        pd.DataFrame(
            {
                "id": [f"e{i}" for i in range(50)],
                "wants": [";".join(rng.choice(vocab, 3)) for _ in range(50)],
            }
        )
    )
    got = Complement().score(m, e)
    sm = [set(v) for v in m.frame["skills"]]
    we = [set(v) for v in e.frame["wants"]]
    want = np.array([[len(a & b) / len(b) for b in we] for a in sm])
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert got.max() > 0


# ---------------------------------------------------------------------------
# Names, validation, protected columns and missing columns
# ---------------------------------------------------------------------------


def test_default_names() -> None:
    assert [c.name for c in ALL[:4]] == [
        "same_function",
        "same_skills",
        "different_function",
        "complement_skills_wants",
    ]
    assert SharedGoals().name == "shared_goals"
    assert Closeness("timezone").name == "close_timezone"
    assert LevelGap().name == "level_gap"
    assert Preferences().name == "preferences"
    assert Same("site", name="colocated").name == "colocated"


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Same("function", weight=-1), "`weight` of criterion 'same_function' must be"),
        (lambda: Same("function", weight=float("nan")), "finite number >= 0"),
        (lambda: Same("function", weight="2"), "must be a number"),
        (lambda: Same(""), "`column` of Same must be a column name"),
        (
            lambda: Complement(method="cosine"),
            "`method` of Complement must be one of 'coverage', 'jaccard'",
        ),
        (lambda: SharedGoals(method="dice"), "`method` of SharedGoals must be one of"),
        (
            lambda: Closeness("tenure", scale=0),
            "`scale` of criterion 'close_tenure' must be a positive",
        ),
        (lambda: LevelGap(tolerance=-1), "`tolerance` of criterion 'level_gap' must be >= 0"),
        (
            lambda: LevelGap(ideal=float("inf")),
            "`ideal` of criterion 'level_gap' must be a finite",
        ),
        (
            lambda: Preferences(side="leader"),
            "`side` of Preferences must be one of 'mentee', 'mentor', 'both'",
        ),
        (
            lambda: Preferences(depth=0),
            "`depth` of criterion 'preferences' must be a whole number",
        ),
    ],
)
def test_invalid_options_raise(build, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        build()
    assert "Fix:" in str(err.value)


@pytest.mark.parametrize("column", ["gender", "ethnicity"])
def test_protected_columns_are_refused_unless_allowed(column: str) -> None:
    m = load_roster(pd.DataFrame({"id": ["a"], column: ["x"]}))
    e = load_roster(pd.DataFrame({"id": ["b"], column: ["x"]}))
    with pytest.raises(InputError, match=f"`{column}` must not enter compatibility scores") as err:
        Same(column).score(m, e)
    assert "allow_protected=True" in str(err.value)
    assert Same(column).score(m, e, allow_protected=True).tolist() == [[1.0]]


def test_missing_column_names_the_column_and_the_file(tmp_path) -> None:
    path = tmp_path / "mentors.csv"
    path.write_text("id,level\nm1,5\n", encoding="utf-8")
    m = load_roster(path, role="mentor")
    e = load_roster(pd.DataFrame({"id": ["e1"], "wants": ["SQL"]}), role="mentee")
    with pytest.raises(InputError) as err:
        Complement().score(m, e)
    text = str(err.value)
    assert "`skills` column must be present in the mentors roster" in text
    assert str(path) in text and "Fix:" in text and "rename=" in text


def test_non_numeric_column_for_closeness_names_the_cell() -> None:
    m = load_roster(pd.DataFrame({"id": ["a"], "tenure": ["ten"]}))
    e = load_roster(pd.DataFrame({"id": ["b"], "tenure": ["3"]}))
    with pytest.raises(InputError, match="tenure"):
        Closeness("tenure").score(m, e)


def test_blank_cells_score_zero_never_nan() -> None:
    m = load_roster(
        pd.DataFrame(
            {
                "id": ["a", "b"],
                "level": [None, 5],
                "timezone": [None, "UTC"],
                "goals": ["", "x"],
                "function": [None, "IT"],
            }
        )
    )
    e = load_roster(
        pd.DataFrame(
            {"id": ["c"], "level": [3], "timezone": ["UTC"], "goals": ["x"], "function": ["IT"]}
        )
    )
    for crit in (
        LevelGap(),
        Closeness("timezone"),
        SharedGoals(),
        Same("function"),
        Different("function"),
    ):
        s = crit.score(m, e)
        assert not np.isnan(s).any()
        assert s[0, 0] == 0.0


# ---------------------------------------------------------------------------
# Diversity distance of learning groups
# ---------------------------------------------------------------------------


def ref_distance(data: dict[str, list], columns: list[str]) -> np.ndarray:
    """Pair by pair and column by column, as the docstring says."""
    n = len(data["id"])
    parts = []
    for column in columns:
        values = data[column]
        if column in ("goals", "skills"):  # list columns
            sets = [set(v) for v in values]
            if not any(sets):
                continue
            d = [[1 - len(a & b) / len(a | b) if a | b else 0.0 for b in sets] for a in sets]
        elif column == "level":  # numbers
            known = [float(v) for v in values if v is not None]
            if not known:
                continue
            span = max(known) - min(known) or 1.0
            d = [
                [
                    0.5 if a is None or b is None else abs(float(a) - float(b)) / span
                    for b in values
                ]
                for a in values
            ]
        else:  # categories (function, timezone)
            if all(v is None for v in values):
                continue
            d = [
                [0.5 if a is None or b is None else float(a != b) for b in values] for a in values
            ]
        parts.append(np.array(d, dtype=float))
    out = sum(parts) / len(parts) if parts else np.zeros((n, n))
    out = np.asarray(out, dtype=float).reshape(n, n)
    np.fill_diagonal(out, 0.0)
    return out


@SETTINGS
@given(side("p"), st.lists(st.sampled_from(["function", "level", "goals", "skills", "timezone"])))
def test_diversity_distance_matches_a_pair_by_pair_computation(
    data: dict[str, list], columns: list[str]
) -> None:
    people = roster(data, "protege")
    want = ref_distance(data, columns)

    def check() -> None:
        got = diversity_distance(people, columns)
        assert got.dtype == np.float64 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(got, got.T)

    both_paths(check)


def test_diversity_distance_skips_absent_and_blank_columns() -> None:
    people = load_roster(pd.DataFrame({"id": ["a", "b"], "function": [None, None]}))
    assert diversity_distance(people, ["function", "site", "goals"]).tolist() == [[0, 0], [0, 0]]
