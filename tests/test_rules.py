"""Hard rules against independent references (loops, networkx, minute-by-minute clocks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch
from zoneinfo import ZoneInfo

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairwise import _terms as criteria  # the engine: tests patch its size limits
from pairwise.errors import InputError
from pairwise.roster import load_roster
from pairwise.rules import (
    Accessible,
    Exclude,
    LevelWithin,
    MaxLevelGap,
    MinLevelGap,
    NoRepeat,
    NotManager,
    NotSelf,
    OptIn,
    Require,
    SharedLanguage,
    together,
)

WINTER, SUMMER = dt.date(2025, 1, 15), dt.date(2025, 7, 15)
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Sydney",
    "UTC",
    "UTC+05:45",
    "-3",
]
FIXED = {"UTC": 0, "UTC+05:45": 345, "-3": -180}
HOURS = ["09:00-17:00", "08:00-16:00", "12:00-20:00", "22:00-06:00", "00:00-24:00", "07:30-11:00"]
SETTINGS = settings(max_examples=40, deadline=None)


def frame_roster(data: dict[str, list], role: str):
    return load_roster(pd.DataFrame(data), role=role)


@contextmanager
def element_wise() -> Iterator[None]:
    """Force rules to evaluate per pair instead of through tables."""
    with patch.object(criteria, "_MAX_TABLE_CELLS", 1):
        yield


def both_paths(check) -> None:
    check()
    with element_wise():
        check()


# ---------------------------------------------------------------------------
# Level rules
# ---------------------------------------------------------------------------

levels = st.lists(st.one_of(st.none(), st.integers(1, 8)), min_size=1, max_size=8)


@SETTINGS
@given(levels, levels, st.integers(0, 4))
def test_level_rules(lm: list, le: list, gap: int) -> None:
    def make(values: list, prefix: str):
        return frame_roster(
            {
                "id": [f"{prefix}{i}" for i in range(len(values))],
                "level": ["" if v is None else str(v) for v in values],
            },
            prefix,
        )

    m, e = make(lm, "m"), make(le, "e")

    def ref(ok) -> np.ndarray:
        return np.array(
            [[a is not None and b is not None and ok(a - b) for b in le] for a in lm], dtype=bool
        )

    def check() -> None:
        assert np.array_equal(MinLevelGap(gap).mask(m, e), ref(lambda d: d >= gap))
        assert np.array_equal(MaxLevelGap(gap).mask(m, e), ref(lambda d: d <= gap))
        assert np.array_equal(LevelWithin(gap).mask(m, e), ref(lambda d: abs(d) <= gap))

    both_paths(check)


# ---------------------------------------------------------------------------
# Reporting lines against networkx
# ---------------------------------------------------------------------------

POOL = [f"p{k}" for k in range(10)]


@st.composite
def reporting(draw: st.DrawFn) -> tuple[dict, dict]:
    managers = st.one_of(st.none(), st.sampled_from([*POOL, "x0", "x1"]))
    m_ids = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=6, unique=True))
    e_ids = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=6, unique=True))
    m = {
        "id": m_ids,
        "manager_id": draw(st.lists(managers, min_size=len(m_ids), max_size=len(m_ids))),
    }
    e = {
        "id": e_ids,
        "manager_id": draw(st.lists(managers, min_size=len(e_ids), max_size=len(e_ids))),
    }
    return m, e


@SETTINGS
@given(reporting())
def test_not_manager_matches_networkx_ancestors(data: tuple[dict, dict]) -> None:
    m, e = data
    graph = nx.DiGraph()
    for d in (m, e):
        for person, boss in zip(d["id"], d["manager_id"], strict=True):
            if boss is not None and boss != person:
                graph.add_edge(boss, person)

    def above(person: str) -> set[str]:
        return nx.ancestors(graph, person) if person in graph else set()

    def direct(boss: str, person: str) -> bool:
        return graph.has_edge(boss, person)

    chain = np.array(
        [[a != b and (a in above(b) or b in above(a)) for b in e["id"]] for a in m["id"]]
    )
    line = np.array(
        [[a != b and (direct(a, b) or direct(b, a)) for b in e["id"]] for a in m["id"]]
    )
    rm, re_ = frame_roster(m, "mentor"), frame_roster(e, "mentee")
    assert np.array_equal(NotManager().mask(rm, re_), ~chain)
    assert np.array_equal(NotManager(chain=False).mask(rm, re_), ~line)


def test_not_manager_reasons_and_reverse_direction() -> None:
    m = frame_roster({"id": ["ceo", "vp", "peer"], "manager_id": [None, "ceo", "vp"]}, "mentor")
    e = frame_roster({"id": ["dev", "vp2"], "manager_id": ["lead", "ceo"]}, "mentee")
    org = frame_roster({"id": ["lead"], "manager_id": ["vp"]}, "person")
    del org  # people outside both rosters are unknown: the chain dev -> lead stops there
    mask = NotManager().mask(m, e)
    assert mask.tolist() == [[True, False], [True, True], [True, True]]
    text = NotManager().explain(m, e, 0, 1)
    assert text == "not allowed: mentor ceo is the line manager of mentee vp2"
    m2 = frame_roster({"id": ["dev"], "manager_id": ["lead"]}, "mentor")
    e2 = frame_roster({"id": ["lead", "boss"], "manager_id": ["boss", None]}, "mentee")
    assert NotManager().mask(m2, e2).tolist() == [[False, False]]
    assert "mentee boss is 2 levels up the reporting chain of mentor dev" in NotManager().explain(
        m2, e2, 0, 1
    )


def test_not_manager_survives_cycles_and_people_in_both_rosters() -> None:
    m = frame_roster({"id": ["a", "b"], "manager_id": ["b", "c"]}, "mentor")
    e = frame_roster({"id": ["c", "b"], "manager_id": ["a", "a"]}, "mentee")  # b has two managers
    # a -> c -> b -> a is a loop: everyone is above everyone else; b and b are one person
    assert NotManager().mask(m, e).tolist() == [[False, False], [False, True]]


# ---------------------------------------------------------------------------
# Accessibility against a minute-by-minute clock
# ---------------------------------------------------------------------------


def ref_offset(zone: str | None, at: dt.date) -> int | None:
    if zone is None:
        return None
    if zone in FIXED:
        return FIXED[zone]
    instant = dt.datetime(at.year, at.month, at.day, 12, tzinfo=dt.UTC)
    return int(instant.astimezone(ZoneInfo(zone)).utcoffset().total_seconds() // 60)


def ref_window(text: str | None) -> tuple[int, int]:
    text = text or "09:00-17:00"
    a, b = text.split("-")
    return tuple(int(x[:2]) * 60 + int(x[3:]) for x in (a, b))  # type: ignore[return-value]


def works(minute_utc: int, window: tuple[int, int], offset: int) -> bool:
    start, end = window
    local = (minute_utc + offset) % 1440
    if end == 1440 and start == 0:
        return True
    if start < end:
        return start <= local < end
    return local >= start or local < end


def ref_overlap(wa, oa, wb, ob) -> int:
    return sum(works(u, wa, oa) and works(u, wb, ob) for u in range(1440))


@st.composite
def people(draw: st.DrawFn, prefix: str) -> dict[str, list]:
    n = draw(st.integers(1, 6))

    def column(values):
        return draw(st.lists(values, min_size=n, max_size=n))

    return {
        "id": [f"{prefix}{i}" for i in range(n)],
        "site": column(st.one_of(st.none(), st.sampled_from(["Oslo", "Lima"]))),
        "timezone": column(st.one_of(st.none(), st.sampled_from(ZONES))),
        "work_hours": column(st.one_of(st.none(), st.sampled_from(HOURS))),
        "remote_ok": column(st.sampled_from(["yes", "no", ""])),
        "languages": column(
            st.lists(st.sampled_from(["en", "de", "es"]), max_size=2).map(";".join)
        ),
    }


@settings(max_examples=30, deadline=None)
@given(
    people("m"),
    people("e"),
    st.sampled_from([0.0, 1.0, 2.0, 3.5]),
    st.booleans(),
    st.sampled_from([WINTER, SUMMER]),
)
def test_accessible_matches_minute_clock(
    m: dict, e: dict, hours: float, same_site: bool, at
) -> None:
    rm, re_ = frame_roster(m, "mentor"), frame_roster(e, "mentee")

    def ok(i: int, j: int) -> bool:
        if same_site and m["site"][i] is not None and m["site"][i] == e["site"][j]:
            return True
        if m["remote_ok"][i] == "no" or e["remote_ok"][j] == "no":
            return False
        if hours == 0:
            return True
        oa, ob = ref_offset(m["timezone"][i], at), ref_offset(e["timezone"][j], at)
        if oa is None or ob is None:
            return False
        overlap = ref_overlap(
            ref_window(m["work_hours"][i]), oa, ref_window(e["work_hours"][j]), ob
        )
        return overlap >= hours * 60

    want = np.array([[ok(i, j) for j in range(len(e["id"]))] for i in range(len(m["id"]))])
    rule = Accessible(hours, same_site=same_site, at=at)
    both_paths(lambda: np.testing.assert_array_equal(rule.mask(rm, re_), want))


def test_accessible_follows_summer_time() -> None:
    # Berlin 09-17 and New York 09-17 share 2 h in January but 3 h in mid-March,
    # when the US has moved its clocks and Europe has not yet.
    m = frame_roster(
        {
            "id": ["b"],
            "site": ["Berlin"],
            "timezone": ["Europe/Berlin"],
            "work_hours": ["09:00-17:00"],
        },
        "mentor",
    )
    e = frame_roster(
        {
            "id": ["n"],
            "site": ["NYC"],
            "timezone": ["America/New_York"],
            "work_hours": ["09:00-17:00"],
        },
        "mentee",
    )
    rule = Accessible(2.5)
    assert not rule.mask(m, e, at=dt.date(2025, 1, 15))[0, 0]
    assert rule.mask(m, e, at=dt.date(2025, 3, 15))[0, 0]
    text = rule.explain(m, e, 0, 0, at=dt.date(2025, 1, 15))
    assert text == (
        "not allowed: different sites (Berlin vs NYC); working hours overlap 2.0 h (2.5 h needed)"
    )
    assert Accessible(2.5, at=dt.date(2025, 3, 15)).mask(m, e, at=dt.date(2025, 1, 15))[0, 0]


def test_accessible_reasons() -> None:
    m = frame_roster(
        {"id": ["a"], "site": ["Oslo"], "timezone": [None], "remote_ok": ["no"]}, "mentor"
    )
    e = frame_roster(
        {"id": ["x", "y"], "site": ["Oslo", "Lima"], "timezone": ["UTC", "UTC"]}, "mentee"
    )
    assert Accessible().explain(m, e, 0, 0) == "allowed: same site (Oslo)"
    text = Accessible().explain(m, e, 0, 1)
    assert text.startswith("not allowed: different sites (Oslo vs Lima)")
    assert "remote mentoring not accepted by the mentor" in text
    assert "the mentor's time zone is unknown" in text


def test_accessible_needs_timezone_and_site_columns() -> None:
    m = frame_roster({"id": ["a"], "site": ["Oslo"]}, "mentor")
    e = frame_roster({"id": ["x"], "site": ["Oslo"]}, "mentee")
    with pytest.raises(
        InputError, match="`timezone` column must be present in the mentors roster"
    ):
        Accessible().mask(m, e)
    assert Accessible(min_overlap_hours=0).mask(m, e).tolist() == [[True]]
    with pytest.raises(
        InputError, match="`min_overlap_hours` of Accessible must be a number >= 0"
    ):
        Accessible(-1)


# ---------------------------------------------------------------------------
# Languages, lists of pairs, flags
# ---------------------------------------------------------------------------


@SETTINGS
@given(people("m"), people("e"))
def test_shared_language(m: dict, e: dict) -> None:
    rm, re_ = frame_roster(m, "mentor"), frame_roster(e, "mentee")
    sets_m = [set(filter(None, v.split(";"))) for v in m["languages"]]
    sets_e = [set(filter(None, v.split(";"))) for v in e["languages"]]
    want = np.array([[bool(a & b) for b in sets_e] for a in sets_m])
    both_paths(lambda: np.testing.assert_array_equal(SharedLanguage().mask(rm, re_), want))


def test_shared_language_reason() -> None:
    m = frame_roster({"id": ["a"], "languages": ["en;de"]}, "mentor")
    e = frame_roster({"id": ["x", "y"], "languages": ["de", ""]}, "mentee")
    assert SharedLanguage().explain(m, e, 0, 0) == "allowed: both speak de"
    assert SharedLanguage().explain(m, e, 0, 1) == (
        "not allowed: no shared language (mentor: en, de; mentee: none given)"
    )


def _pool(n: int = 4):
    return frame_roster({"id": [f"p{i}" for i in range(n)]}, "person")


def test_exclude_one_way_and_both_ways_for_peers() -> None:
    m = frame_roster({"id": ["a", "b"]}, "mentor")
    e = frame_roster({"id": ["a", "x"]}, "mentee")
    rule = Exclude([("a", "x"), ("nobody", "x")])
    assert rule.mask(m, e).tolist() == [[True, False], [True, True]]
    p = _pool()
    mask = Exclude([("p0", "p2")]).mask(p, p)
    assert not mask[0, 2] and not mask[2, 0] and mask.sum() == 14
    assert (
        Exclude([("a", "x")]).explain(m, e, 0, 1)
        == "not allowed: the pair is on the exclusion list"
    )


def test_exclude_rejects_malformed_pairs() -> None:
    with pytest.raises(InputError, match="must be \\(mentor id, mentee id\\) pairs"):
        Exclude(["ax"])


def test_require_restricts_the_mentee_column() -> None:
    m = frame_roster({"id": ["a", "b", "c"]}, "mentor")
    e = frame_roster({"id": ["x", "y"]}, "mentee")
    mask = Require([("b", "x")]).mask(m, e)
    assert mask.tolist() == [[False, True], [True, True], [False, True]]
    assert Require([("b", "x")]).explain(m, e, 0, 0) == (
        "not allowed: x is required to be paired with b, not a"
    )
    p = _pool()
    mask = Require([("p0", "p1")]).mask(p, p)
    assert mask[0].tolist() == [False, True, False, False]
    assert mask[:, 0].tolist() == [False, True, False, False]
    assert mask[2:, 2:].all()


def test_require_errors() -> None:
    m = frame_roster({"id": ["a", "b"]}, "mentor")
    e = frame_roster({"id": ["x"]}, "mentee")
    with pytest.raises(
        InputError, match="`require` pairs must name people in the rosters; got unknown ids 'zz'"
    ):
        Require([("zz", "x")]).mask(m, e)
    with pytest.raises(InputError, match="one required partner; got 'x'"):
        Require([("a", "x"), ("b", "x")]).mask(m, e)


def test_no_repeat_and_only_failed() -> None:
    m = frame_roster({"id": ["a", "b"]}, "mentor")
    e = frame_roster({"id": ["x", "y"]}, "mentee")
    history = pd.DataFrame(
        {
            "mentor_id": ["a", "b", "a", "q"],
            "mentee_id": ["x", "x", "y", "x"],
            "outcome": ["completed", "Ended early", "FAILED", "failed"],
        }
    )
    assert NoRepeat(history).mask(m, e).tolist() == [[False, False], [False, True]]
    assert NoRepeat(history, only_failed=True).mask(m, e).tolist() == [
        [True, False],
        [False, True],
    ]
    assert (
        NoRepeat(history).explain(m, e, 1, 0)
        == "not allowed: paired before (outcome: Ended early)"
    )
    assert NoRepeat([("a", "y")]).mask(m, e).tolist() == [[True, False], [True, True]]
    p = _pool()
    mask = NoRepeat(pd.DataFrame({"mentor_id": ["p1"], "mentee_id": ["p3"]})).mask(p, p)
    assert not mask[1, 3] and not mask[3, 1]


def test_no_repeat_errors() -> None:
    with pytest.raises(InputError, match="`history` must have columns mentor_id and mentee_id"):
        NoRepeat(pd.DataFrame({"mentor": ["a"], "mentee_id": ["x"]}))
    with pytest.raises(InputError, match="must have an outcome column when only_failed=True"):
        NoRepeat(pd.DataFrame({"mentor_id": ["a"], "mentee_id": ["x"]}), only_failed=True)


def test_opt_in_either_side() -> None:
    m = frame_roster({"id": ["a", "b"], "opt_in": ["yes", "no"]}, "mentor")
    e = frame_roster({"id": ["x", "y"], "opt_in": ["1", ""]}, "mentee")
    assert OptIn().mask(m, e).tolist() == [[True, False], [False, False]]
    assert OptIn(default=True).mask(m, e).tolist() == [[True, True], [False, False]]
    bare = frame_roster({"id": ["x", "y"]}, "mentee")
    assert OptIn().mask(m, bare).tolist() == [[True, True], [False, False]]
    assert OptIn(side="mentee").mask(m, e).tolist() == [[True, False], [True, False]]
    assert (
        OptIn().explain(m, e, 1, 1)
        == "not allowed: the mentor and the mentee did not opt in (opt_in)"
    )
    with pytest.raises(InputError, match="`opt_in` must be yes or no"):
        OptIn().mask(frame_roster({"id": ["a"], "opt_in": ["maybe"]}, "mentor"), e)
    with pytest.raises(InputError, match="`side` of OptIn must be one of"):
        OptIn(side="all")
    with pytest.raises(InputError, match="`opt_in` column must be present in the mentees roster"):
        OptIn().mask(frame_roster({"id": ["a"]}, "mentor"), bare)


def test_not_self() -> None:
    p = _pool(3)
    assert np.array_equal(NotSelf().mask(p, p), ~np.eye(3, dtype=bool))
    m = frame_roster({"id": ["a", "p1"]}, "mentor")
    assert NotSelf().mask(m, p).tolist() == [[True, True, True], [True, False, True]]


# ---------------------------------------------------------------------------
# Blocks, protected columns
# ---------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(people("m"), people("e"), st.data())
def test_rule_blocks_match_the_full_mask(m: dict, e: dict, draw: st.DataObject) -> None:
    rm, re_ = frame_roster(m, "mentor"), frame_roster(e, "mentee")
    rows = draw.draw(st.lists(st.integers(0, len(rm) - 1), max_size=5))
    cols = draw.draw(st.lists(st.integers(0, len(re_) - 1), max_size=5))
    for rule in (
        Accessible(1.0, at=WINTER),
        SharedLanguage(),
        Exclude([("m0", "e0")]),
        Require([("m0", "e0")]),
        OptIn(column="remote_ok", default=True),
        NotSelf(),
    ):
        full = rule.mask(rm, re_)
        np.testing.assert_array_equal(
            rule.mask(rm, re_, rows=rows, cols=cols), full[np.ix_(rows, cols)]
        )


def test_rules_on_protected_columns_are_refused() -> None:
    m = frame_roster({"id": ["a"], "gender": ["yes"]}, "mentor")
    with pytest.raises(
        InputError, match="`gender` must not enter compatibility scores or pairing rules"
    ):
        OptIn(column="gender").mask(m, m)
    assert OptIn(column="gender").mask(m, m, allow_protected=True).tolist() == [[True]]


# ---------------------------------------------------------------------------
# Who may share a learning group
# ---------------------------------------------------------------------------


def ref_together(p: dict, hours: float | None, shared_language: bool, at) -> np.ndarray | None:
    """Pair by pair: the hours (or the same site) and a shared language; None when no check."""
    n = len(p["id"])
    has_hours = any(p["work_hours"]) and any(p["timezone"])
    langs = [set(filter(None, v.split(";"))) for v in p["languages"]]
    hours_apply = bool(hours) and has_hours
    language_applies = shared_language and any(langs)
    if not hours_apply and not language_applies:
        return None

    def meet(i: int, j: int) -> bool:
        if p["site"][i] is not None and p["site"][i] == p["site"][j]:
            return True
        oi, oj = ref_offset(p["timezone"][i], at), ref_offset(p["timezone"][j], at)
        if None in (oi, oj, p["work_hours"][i], p["work_hours"][j]):
            return True  # unknown hours or zone keep nobody apart
        wi, wj = ref_window(p["work_hours"][i]), ref_window(p["work_hours"][j])
        return ref_overlap(wi, oi, wj, oj) >= hours * 60  # type: ignore[operator]

    def ok(i: int, j: int) -> bool:
        if i == j:
            return True
        if hours_apply and not meet(i, j):
            return False
        return not language_applies or bool(langs[i] & langs[j])

    return np.array([[ok(i, j) for j in range(n)] for i in range(n)])


@settings(max_examples=40, deadline=None)
@given(
    people("p"),
    st.sampled_from([None, 0.0, 1.0, 2.0, 3.5]),
    st.booleans(),
    st.sampled_from([WINTER, SUMMER]),
)
def test_together_matches_a_pair_by_pair_computation(
    p: dict, hours: float | None, shared_language: bool, at
) -> None:
    roster = frame_roster(p, "protege")
    want = ref_together(p, hours, shared_language, at)

    def check() -> None:
        got = together(roster, common_hours=hours, shared_language=shared_language, at=at)
        if want is None:
            assert got is None
        else:
            assert got is not None and got.dtype == bool
            np.testing.assert_array_equal(got, want)

    both_paths(check)


def test_together_ignores_remote_acceptance_and_unknown_hours() -> None:
    roster = frame_roster(
        {
            "id": ["a", "b", "c", "d"],
            "site": [None, None, None, "Oslo"],
            "timezone": ["Asia/Tokyo", "America/New_York", None, "America/New_York"],
            "work_hours": ["09:00-17:00", "09:00-17:00", "09:00-17:00", None],
            "remote_ok": ["no", "no", "yes", "yes"],
        },
        "protege",
    )
    got = together(roster, common_hours=1.0, shared_language=True, at=WINTER)
    # Tokyo and New York office hours never meet; c has no zone and d no hours
    assert got is not None
    assert got.tolist() == [
        [True, False, True, True],
        [False, True, True, True],
        [True, True, True, True],
        [True, True, True, True],
    ]
    # a negative requirement is met by every pair, as before
    assert together(roster, common_hours=-1.0, shared_language=False).all()  # type: ignore[union-attr]
    assert together(roster, common_hours=None, shared_language=True) is None
    assert together(roster, common_hours=0, shared_language=False) is None


def test_together_blank_language_list_shares_no_language() -> None:
    roster = frame_roster({"id": ["a", "b", "c"], "languages": ["en", "", "en;de"]}, "protege")
    got = together(roster, common_hours=1.0, shared_language=True)
    # like SharedLanguage: b, with no language given, shares a group with nobody
    assert got is not None
    assert got.tolist() == [[True, False, True], [False, True, False], [True, False, True]]
    np.testing.assert_array_equal(
        got | np.eye(3, dtype=bool), SharedLanguage().mask(roster, roster) | np.eye(3, dtype=bool)
    )
