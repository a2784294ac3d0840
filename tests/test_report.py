"""The HTML review report: sections and rows, escaping, no network, protected attributes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairwise._report import capacity_use, check_report_path, explain_fits, render_report
from pairwise.cli import main
from pairwise.errors import InputError
from pairwise.results import PairsResult, PeersResult
from report_fixtures import Finding, Reviewed, demo_results, with_audit
from report_html import parse_report

PROTECTED_VALUES = ("Man", "Woman", "Non-binary", "Asian", "White", "Black", "Hispanic/Latino")


@pytest.fixture(scope="module")
def demo() -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    return demo_results()


def _pairs(n: int = 3, **extra: Any) -> PairsResult:
    pairs = pd.DataFrame(
        {
            "mentor_id": [f"M{k}" for k in range(n)],
            "mentor_name": [f"Mentor {k}" for k in range(n)],
            "mentee_id": [f"E{k}" for k in range(n)],
            "mentee_name": [f"Mentee {k}" for k in range(n)],
            "score": np.linspace(0.2, 0.8, n),
            "fit_skills": np.linspace(0.1, 0.4, n),
            "fit_goals": np.zeros(n),
        }
    )
    options = {"programme": "Pilot", "weights": {"skills": 2.0, "goals": 2.0}}
    options.update(extra.pop("options", {}))
    return PairsResult(
        pairs=extra.pop("pairs", pairs),
        unmatched=extra.pop(
            "unmatched",
            pd.DataFrame({"id": ["E9"], "role": ["mentee"], "reason": ["no allowed mentor"]}),
        ),
        status="optimal",
        objective=1.0,
        bound=1.0,
        wall_time=0.01,
        method="test",
        seed=0,
        options=options,
        n_mentors=n,
        n_mentees=n + 1,
        **extra,
    )


# --------------------------------------------------------------------------- structure


def test_demo_report_sections_hold_every_row(demo) -> None:
    results, frames = demo
    pairs, audit = with_audit(results["pairs"], frames["mentees"])
    html = render_report({"pairs": pairs, "groups": results["groups"], "peers": results["peers"]})
    report = parse_report(html)
    assert len(report.section("pairs", "pairs").rows) == len(results["pairs"].pairs)
    assert len(report.section("pairs", "unmatched").rows) == len(results["pairs"].unmatched)
    assert len(report.section("pairs", "audit").rows) == len(audit)
    n_groups = results["groups"].groups["group"].nunique()
    assert len(report.section("groups", "groups").rows) == n_groups
    assert len(report.section("groups", "unmatched").rows) == len(results["groups"].unmatched)
    assert len(report.section("peers", "pairs").rows) == len(results["peers"].pairs)
    # each pair row: the two people (name and id), the score and a why
    first = results["pairs"].pairs.iloc[0]
    row = report.section("pairs", "pairs").rows[0]
    assert row[0] == f"{first['mentor_name']} {first['mentor_id']}"
    assert row[2] == f"{first['score']:.3f}" and row[3]
    # every unmatched person with the reason
    for got, (_, want) in zip(
        report.section("pairs", "unmatched").rows,
        results["pairs"].unmatched.iterrows(),
        strict=True,
    ):
        assert want["id"] in got[0] and got[2] == want["reason"]
    for kind in ("pairs", "groups", "peers"):
        assert "Summary" in report.section(kind, "summary").all_text
        assert report.section(kind, "plots").all_text


def test_group_rows_name_every_member_and_a_why(demo) -> None:
    groups = demo[0]["groups"]
    report = parse_report(groups.to_html())
    rows = report.section("groups", "groups").rows
    for row, (number, part) in zip(rows, groups.groups.groupby("group"), strict=True):
        assert int(row[0]) == number
        assert all(member in row[2] for member in part["member_id"])
        assert int(row[3]) == len(part)
        assert "rules met" in row[6] or "BROKEN" in row[6]


def test_summary_block_is_the_notebook_view() -> None:
    result = _pairs()
    notebook = parse_report(result._repr_html_())
    figures = [r for r in notebook.tags if r[0] == "table"]
    assert figures and "<table" in result._repr_html_()
    text = " ".join(notebook.text.split())
    assert "3 of 4 (75.0%)" in text and "1 × no allowed mentor" in text
    page = " ".join(parse_report(result.to_html()).section("pairs", "summary").all_text.split())
    assert "3 of 4 (75.0%)" in page


def test_summary_block_says_stability_and_over_which_pairs_optimality_holds() -> None:
    line = "stability: the optimal plan has 2 blocking pair(s); a stable plan would score 0.9"
    result = _pairs(
        options={"stability": line, "certificate": {"top_k": 50, "reason": "time limit"}},
        certified=False,
        optimal_over="k best candidates per mentee",
    )
    for html in (result._repr_html_(), result.to_html()):
        text = " ".join(parse_report(html).text.split())
        assert line in text
        assert "optimal over the 50 best candidates per mentee only" in text
    plain = " ".join(parse_report(_pairs()._repr_html_()).text.split())
    assert "stability" not in plain and "optimality" not in plain


def test_diagnosis_and_changes_are_shown_when_present() -> None:
    changes = pd.DataFrame(
        {
            "mentor_id": ["M0", "M1", "M2"],
            "mentee_id": ["E0", "E5", "E6"],
            "change": ["kept", "broken", "new"],
            "why": ["still allowed", "mentor left", "late joiner"],
        }
    )
    findings = (Finding("capacity 3 for 4 mentees: 1 cannot be matched", affected=1, gain=1),)
    reviewed = Reviewed(_pairs(), diagnosis=findings, changes=changes)
    report = parse_report(render_report(reviewed))
    diagnosis = report.section("pairs", "diagnosis").all_text
    assert "capacity 3 for 4 mentees" in diagnosis and "1 more" in diagnosis
    assert len(report.section("pairs", "changes").rows) == 3
    assert "1 kept" in " ".join(report.section("pairs", "changes").all_text.split())
    # absent or empty: no section
    empty = Reviewed(_pairs(), diagnosis=(), changes=changes.iloc[:0])
    sections = parse_report(render_report(empty)).sections
    assert ("pairs", "diagnosis") not in sections and ("pairs", "changes") not in sections


# --------------------------------------------------------------------------- safety


def test_text_is_escaped() -> None:
    evil = "<script>alert(1)</script>"
    pairs = _pairs(1).pairs.assign(mentor_name=[evil])
    unmatched = pd.DataFrame({"id": ["<b>E9</b>"], "role": ["mentee"], "reason": [evil]})
    html = _pairs(1, pairs=pairs, unmatched=unmatched, options={"programme": evil}).to_html()
    assert "<script" not in html and "<b>E9" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    report = parse_report(html)
    assert not [t for t, _ in report.tags if t == "script"]
    assert evil in report.section("pairs", "pairs").rows[0][0]


def test_no_network_reference(demo) -> None:
    results, _ = demo
    html = render_report(results)
    assert not re.search(r"https?:|//[a-z0-9]", html, flags=re.IGNORECASE)
    report = parse_report(html)
    for tag, attrs in report.tags:
        assert tag not in ("script", "img", "iframe", "object", "embed"), tag
        for name in ("src", "href", "action", "srcset"):
            value = attrs.get(name)
            assert value is None or value.startswith(("#", "data:")), (tag, name, value)
    policy = [
        a["content"] for t, a in report.tags if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert policy and policy[0].startswith("default-src 'none'")


def test_protected_attributes_only_in_the_audit(demo) -> None:
    results, frames = demo
    pairs, _ = with_audit(results["pairs"], frames["mentees"])
    html = render_report({"pairs": pairs, "groups": results["groups"], "peers": results["peers"]})
    report = parse_report(html)
    assert "gender" in report.section("pairs", "audit").all_text
    for (kind, name), section in report.sections.items():
        if name in ("pairs", "groups", "unmatched"):
            text = " ".join([*section.headers, section.all_text])
            assert "gender" not in text and "ethnicity" not in text, (kind, name)
            for value in PROTECTED_VALUES:
                assert not re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text), (kind, value)
    outside = report.outside("audit")
    for value in PROTECTED_VALUES:
        assert not re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", outside), value


def test_protected_columns_and_reasons_are_left_out() -> None:
    pairs = _pairs(2).pairs.assign(
        mentee_gender=["Xeno-1", "Xeno-2"], fit_same_gender=[0.1, 0.0], kept=[True, False]
    )
    unmatched = pd.DataFrame(
        {"id": ["E9"], "role": ["mentee"], "reason": ["would break no_isolation gender"]}
    )
    result = _pairs(2, pairs=pairs, unmatched=unmatched, options={"protected": ["gender"]})
    report = parse_report(result.to_html())
    table = report.section("pairs", "pairs")
    assert table.headers == ["mentor", "mentee", "score", "why", "kept"]
    assert "Xeno" not in report.text and "gender" not in table.all_text
    reason = report.section("pairs", "unmatched").rows[0][2]
    assert reason == "would break no_isolation a protected attribute"
    # protection follows the programme's list, not only gender and ethnicity
    other = _pairs(
        2,
        pairs=pairs.rename(columns={"mentee_gender": "mentee_religion"}),
        options={"protected": ["religion"]},
    )
    assert "Xeno" not in other.to_html()


# --------------------------------------------------------------------------- large results


def test_large_results_fold_into_pages_and_cap_rows() -> None:
    result = _pairs(10_000)
    report = parse_report(result.to_html())
    assert len(report.section("pairs", "pairs").rows) == 10_000
    assert sum(1 for t, _ in report.tags if t == "details") == 10  # 200 open, then 1,000 a page
    capped = parse_report(result.to_html(max_rows=500))
    assert len(capped.section("pairs", "pairs").rows) == 500
    assert "showing the first 500 of 10,000 pairs" in capped.section("pairs", "pairs").all_text


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"`path` must name an \.html file.*Fix"):
        _pairs().to_html(tmp_path / "report.csv")
    with pytest.raises(InputError, match="`max_rows` must be a whole number"):
        _pairs().to_html(max_rows=0)
    with pytest.raises(InputError, match="at least one result"):
        render_report({})
    assert check_report_path("--report", "a/b.HTM").name == "b.HTM"


def test_to_html_writes_the_file(tmp_path: Path) -> None:
    result = PeersResult(
        pairs=pd.DataFrame({"person_a": ["A"], "person_b": ["B"], "score": [0.5]}),
        unmatched=pd.DataFrame(columns=["id", "role", "reason"]),
        status="optimal",
        objective=0.5,
        bound=None,
        wall_time=0.0,
        method="t",
        seed=0,
        n_people=2,
    )
    text = result.to_html(tmp_path / "peers.html")
    assert (tmp_path / "peers.html").read_text(encoding="utf-8") == text
    assert "Nobody was left out" in text


# --------------------------------------------------------------------------- explanations


@settings(max_examples=60)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3),
    st.lists(st.floats(0.5, 5.0), min_size=3, max_size=3),
)
def test_explanations_give_each_criterion_score_and_weight(raw, weights) -> None:
    names = ["skills", "shared_goals", "site"]
    total = sum(weights)
    fits = pd.DataFrame(
        {f"fit_{n}": [w * r / total] for n, w, r in zip(names, weights, raw, strict=True)}
    )
    line = explain_fits(fits, dict(zip(names, weights, strict=True)))[0]
    head, _, zeros = line.partition("; 0 on ")
    named = set()
    for part in filter(None, head.split(", ")):
        if part == "no criterion scores above 0":
            continue
        label, score, _, weight = part.rsplit(" ", 3)
        k = names.index(label.replace(" ", "_"))
        named.add(k)
        assert float(score) == pytest.approx(raw[k], abs=0.006)
        assert float(weight) == pytest.approx(weights[k], abs=0.006)
    for label in filter(None, zeros.split(", ")):
        k = names.index(label.replace(" ", "_"))
        assert weights[k] * raw[k] / total <= 1e-12
        named.add(k)
    assert named == set(range(3))
    # largest contribution first
    shown = [
        names.index(p.rsplit(" ", 3)[0].replace(" ", "_"))
        for p in head.split(", ")
        if p and p != "no criterion scores above 0"
    ]
    contributions = [weights[k] * raw[k] for k in shown]
    assert contributions == sorted(contributions, reverse=True)


@settings(max_examples=60)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=12), st.data())
def test_capacity_use_counts_every_mentor(capacity, data) -> None:
    capacity = np.array(capacity)
    rows = [i for i, c in enumerate(capacity) for _ in range(data.draw(st.integers(0, int(c))))]
    use = capacity_use(np.array(rows, dtype=int), capacity)
    expected: dict[tuple[int, int], int] = {}
    for i, c in enumerate(capacity):
        key = (int(c), rows.count(i))
        expected[key] = expected.get(key, 0) + 1
    assert {(c, n): k for c, n, k in use} == expected
    assert use == sorted(use)


def test_demo_capacity_plot_matches_the_pairs(demo) -> None:
    result = demo[0]["pairs"]
    use = result.options["capacity_use"]
    assert sum(n * k for _, n, k in use) == len(result.pairs)
    assert sum(k for _, _, k in use) == result.n_mentors


# --------------------------------------------------------------------------- command line


def test_cli_writes_the_report_with_the_other_files(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    from pairwise.datasets import demo_rosters

    demo_rosters()["people"].to_csv(folder / "people.csv", index=False)
    out = tmp_path / "out"
    code = main(
        [
            "peers",
            "--people",
            str(folder / "people.csv"),
            "--out",
            str(out / "peers.csv"),
            "--report",
            str(out / "peers.html"),
            "--quiet",
            "--time-limit",
            "5",
        ]
    )
    assert code == 0
    report = parse_report((out / "peers.html").read_text(encoding="utf-8"))
    assert len(report.section("peers", "pairs").rows) == len(pd.read_csv(out / "peers.csv"))
    assert "peers.html" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("report", "message"),
    [("r.csv", "--report must name an .html file"), ("{out}", "must name different files")],
)
def test_cli_refuses_a_bad_report_before_any_work(tmp_path: Path, capsys, report, message) -> None:
    out = tmp_path / "peers.csv"
    code = main(
        [
            "peers",
            "--people",
            str(tmp_path / "missing.csv"),
            "--out",
            str(out),
            "--report",
            report.format(out=str(out).replace(".csv", ".html")),
            "--unmatched",
            str(out).replace(".csv", ".html") if report == "{out}" else str(tmp_path / "u.csv"),
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_demo_writes_one_report_of_the_three_modes(tmp_path: Path, capsys) -> None:
    code = main(["demo", "--out", str(tmp_path), "--time-limit", "6", "--quiet"])
    assert code == 0
    report = parse_report((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert {kind for kind, _ in report.sections} == {"pairs", "groups", "peers"}
    assert len(report.section("pairs", "pairs").rows) == len(pd.read_csv(tmp_path / "pairs.csv"))
    assert "review report:" in capsys.readouterr().out
