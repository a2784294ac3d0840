"""Protected attributes stay aggregate: the programme's list drives refusal and redaction."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pairwise as pw
from pairwise.checks import violations
from pairwise.compatibility import CompatibilityModel
from pairwise.criteria import Same
from pairwise.diversity import diagnose, make_rules
from pairwise.errors import InputError
from pairwise.roster import load_roster
from pairwise.rules import OptIn
from pairwise.solvers import learning_groups


def _roster(column: str, values: list[str], prefix: str):
    ids = [f"{prefix}{i}" for i in range(len(values))]
    return load_roster(pd.DataFrame({"id": ids, column: values}))


# ---------------------------------------------------------------------------
# Refusal follows the list, not the column names
# ---------------------------------------------------------------------------


def test_a_renamed_protected_column_is_refused_when_listed() -> None:
    with pytest.raises(InputError, match="`race` must not enter compatibility scores") as err:
        CompatibilityModel([Same("race")], protected=("race",))
    assert "allow_protected = true" in str(err.value)
    # allowed explicitly
    model = CompatibilityModel([Same("race")], protected=("race",), allow_protected=True)
    m, e = _roster("race", ["a"], "m"), _roster("race", ["a"], "e")
    assert model.score(m, e).scores.tolist() == [[1.0]]


def test_the_list_replaces_the_default() -> None:
    # gender is protected by default ...
    with pytest.raises(InputError, match="`gender` must not enter"):
        CompatibilityModel([Same("gender")])
    # ... and not when the programme protects other columns only
    model = CompatibilityModel([Same("gender")], protected=("race",))
    m, e = _roster("gender", ["F"], "m"), _roster("gender", ["F"], "e")
    assert model.score(m, e).scores.tolist() == [[1.0]]


def test_a_rule_reading_a_protected_column_is_refused() -> None:
    with pytest.raises(InputError, match="`race` must not enter"):
        CompatibilityModel(rules=[OptIn("race")], protected=("race",))


def test_programme_protected_list_reaches_every_model(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text(
        '[program]\nprotected = ["race", "gender"]\n[[criteria]]\nkind = "same"\n'
        'column = "race"\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="`race` must not enter"):
        pw.load_program(cfg)
    cfg.write_text('[program]\nprotected = ["race"]\n', encoding="utf-8")
    program = pw.load_program(cfg)
    assert program.model.protected == ("race",)
    assert program.peer_model.protected == ("race",)
    assert program.group_model.protected == ("race",)
    assert program.groups_options.protected == ("race",)
    assert pw.load_program().model.protected == ("gender", "ethnicity")


def test_protected_must_be_a_list_of_names(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('[program]\nprotected = "race"\n', encoding="utf-8")
    with pytest.raises(InputError, match=re.escape("program.protected")):
        pw.load_program(cfg)


# ---------------------------------------------------------------------------
# Redaction: per-person sentences never state a protected value
# ---------------------------------------------------------------------------


def _pool(values: list[str], column: str = "ethnicity") -> pd.DataFrame:
    return pd.DataFrame({column: values})


def test_isolated_reason_does_not_state_the_value() -> None:
    frame = _pool(["A"] * 6 + ["Black"])
    rules = make_rules(frame, 7, no_isolation=["ethnicity"])
    diag = diagnose(
        rules, eligible=np.ones(7, bool), min_size=np.array([3]), max_size=np.array([7])
    )
    reason = diag.excluded[6]
    assert "Black" not in reason
    assert "only member of their ethnicity in a group (`no_isolation` on ethnicity)" in reason


def test_a_column_outside_the_list_keeps_its_value() -> None:
    frame = _pool(["A"] * 6 + ["Ops"], column="function")
    rules = make_rules(frame, 7, no_isolation=["function"])
    diag = diagnose(
        rules, eligible=np.ones(7, bool), min_size=np.array([3]), max_size=np.array([7])
    )
    assert "function='Ops'" in diag.excluded[6]
    # and a custom list protects it
    rules = make_rules(frame, 7, no_isolation=["function"], protected=["function"])
    diag = diagnose(
        rules, eligible=np.ones(7, bool), min_size=np.array([3]), max_size=np.array([7])
    )
    assert "Ops" not in diag.excluded[6]


def test_pool_notes_suppress_protected_cells_under_five() -> None:
    frame = _pool(["A"] * 10 + ["B"] * 3)
    rules = make_rules(frame, 13, no_isolation=["ethnicity"])
    diag = diagnose(
        rules, eligible=np.ones(13, bool), min_size=np.array([5] * 3), max_size=np.array([7] * 3)
    )
    text = " ".join(diag.notes)
    assert "only 3 protégés have one ethnicity value" in text
    assert "'B'" not in text


def test_violations_hide_protected_values_when_told() -> None:
    frame = pd.DataFrame({"race": ["x", "y", "y"]})
    found = violations(
        [0, 0, 0],
        min_size=1,
        max_size=3,
        attributes=frame,
        no_isolation=["race"],
        protected=["race"],
    )
    assert found == [
        "leader 0's group has exactly one member with one race value; no_isolation race"
    ]


def test_learning_groups_reasons_never_state_a_protected_value() -> None:
    rng = np.random.default_rng(3)
    fit = rng.random((2, 12))
    attrs = pd.DataFrame({"ethnicity": ["A", "B"] * 5 + ["Rare", "A"]})
    res = learning_groups(fit, attributes=attrs, no_isolation=["ethnicity"], time_limit=2)
    assert res.labels[10] == -1
    text = " ".join(res.reasons.values()) + " ".join(res.diagnosis)
    assert "Rare" not in text


def test_programme_groups_outputs_carry_no_protected_value() -> None:
    frames = pw.datasets.demo_rosters()
    proteges = frames["proteges"].copy()
    proteges.loc[0, "ethnicity"] = "Unique-Group"
    program = pw.load_program().replace(time_limit=3.0)
    result = program.groups(frames["leaders"], proteges)
    texts = [*result.unmatched["reason"].astype(str), *result.violations]
    values = set(proteges["ethnicity"].dropna()) | set(proteges["gender"].dropna())
    for text in texts:
        for value in values:
            assert f"={value!r}" not in text and f"'{value}'" not in text, text
    # per-person parts of the JSON (the audit is aggregate: reports.composition_audit)
    per_person = {k: v for k, v in result.to_dict().items() if k != "composition"}
    assert "Unique-Group" not in json.dumps(per_person, default=str)


def test_learning_groups_takes_the_protected_list() -> None:
    rng = np.random.default_rng(3)
    fit = rng.random((2, 12))
    attrs = pd.DataFrame({"race": ["A", "B"] * 5 + ["Rare", "A"]})
    res = learning_groups(fit, attributes=attrs, no_isolation=["race"], time_limit=2)
    assert res.labels[10] == -1
    # outside the default list the value is named ...
    assert "race='Rare'" in res.reasons["10"]
    # ... and a custom list hides it from the reasons and the diagnosis
    res = learning_groups(
        fit, attributes=attrs, no_isolation=["race"], time_limit=2, protected=["race"]
    )
    assert res.labels[10] == -1
    text = " ".join(res.reasons.values()) + " ".join(res.diagnosis)
    assert "Rare" not in text
    assert "only member of their race in a group" in res.reasons["10"]


def test_programme_protected_list_redacts_the_group_solver_reasons(tmp_path: Path) -> None:
    frames = pw.datasets.demo_rosters()
    proteges = frames["proteges"].copy()
    # a custom protected column: two common values, and one held by a single person
    proteges["race"] = np.where(np.arange(len(proteges)) % 2 == 0, "Alpha", "Beta")
    proteges.loc[3, "race"] = "Unique-Race"
    cfg = tmp_path / "p.toml"
    cfg.write_text(
        '[program]\nprotected = ["race"]\ntime_limit = 3.0\n'
        '[groups]\nno_isolation = ["race"]\nmin_distinct = {}\nmax_count = {}\n',
        encoding="utf-8",
    )
    program = pw.load_program(cfg)
    assert program.groups_options.protected == ("race",)
    result = program.groups(frames["leaders"], proteges)
    unique_id = str(proteges.loc[3, "id"])
    rows = result.unmatched.set_index("id")
    assert unique_id in rows.index  # the only one of their value cannot be placed
    reason = str(rows.loc[unique_id, "reason"])
    assert "only member of their race in a group" in reason, reason
    texts = [*result.unmatched["reason"].astype(str), *result.violations]
    for text in texts:
        for value in ("Alpha", "Beta", "Unique-Race"):
            assert value not in text, text
    # the audit too: the single person's value is pooled with the cells under five
    race = result.composition[result.composition["column"] == "race"]
    assert race["value"].tolist() == ["Alpha", "Beta", "(fewer than 5 people)"]
    assert race["population"].tolist()[-1] == 1
    assert "Unique-Race" not in json.dumps(result.to_dict(), default=str)
