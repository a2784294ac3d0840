"""The programme file: defaults, every key checked, "did you mean", values used."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import pairwise as pw
import pairwise.config
from pairwise.config import DEFAULT_PROGRAM_TOML, SCHEMA, parse_program, parse_toml_text
from pairwise.errors import InputError


def test_default_program_loads_and_matches_documented_defaults() -> None:
    program = pw.load_program()
    assert program.objective == "total"
    assert program.groups_options.min_size == 5 and program.groups_options.max_size == 7
    assert program.groups_options.no_isolation == ("gender", "ethnicity")
    names = [type(r).__name__ for r in program.model.rules]
    assert names[:3] == ["NotSelf", "MinLevelGap", "NotManager"]
    assert program.model.rules[1].gap == 2
    peer_rules = {type(r).__name__ for r in program.peer_model.rules}
    assert {"NotSelf", "LevelWithin", "NotManager"} <= peer_rules


def test_default_toml_uses_only_schema_keys() -> None:
    data = parse_toml_text(DEFAULT_PROGRAM_TOML, "default")
    for section in data:
        assert section in SCHEMA


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[rules]\nmin_level_gpa = 2\n", "did you mean `min_level_gap`"),
        ("[progam]\nname = 'x'\n", "did you mean `program`"),
        ("[groups]\nno_isolaton = ['gender']\n", "did you mean `no_isolation`"),
        ("[[criteria]]\nkind = 'complment'\n", "did you mean `complement`"),
        ("[[criteria]]\nkind = 'same'\ncolumn = 'site'\nwieght = 2\n", "did you mean `weight`"),
        (
            "[rules]\naccessibility = { min_overlap_hour = 3.0 }\n",
            "did you mean `min_overlap_hours`",
        ),
    ],
)
def test_unknown_keys_get_a_hint(tmp_path: Path, text: str, fragment: str) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"p\.toml") as info:
        pw.load_program(cfg)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[program]\ntime_limit = 'soon'\n", "program.time_limit"),
        ("[program]\ntime_limit = -1\n", "program.time_limit"),
        ("[program]\nobjective = 'best'\n", "program.objective"),
        ("[program]\ndate = 'next week'\n", "program.date"),
        ("[rules]\nnot_manager = 'boss'\n", "rules.not_manager"),
        ("[rules]\nexclude = [['a']]\n", "rules.exclude"),
        ("[groups]\nmin_size = 8\nmax_size = 7\n", "groups.min_size"),
        ("[groups]\nmin_distinct = { function = 0 }\n", "groups.min_distinct.function"),
        ("[pairs]\ncapacity = -2\n", "pairs.capacity"),
        ("[pairs]\ncapacity = true\n", "pairs.capacity"),
        ("[[criteria]]\nkind = 'complement'\nmethod = 'dice'\n", "method"),
        ("[rules]\nmin_level_gap = true\n", "rules.min_level_gap"),
        ("[rules]\nopt_in = true\n", "rules.opt_in"),
        ("[groups]\nno_isolation = ['gender', 3]\n", "groups.no_isolation"),
        ("[[criteria]]\nkind = 'same'\ncolumn = 'site'\nweight = -1\n", "weight"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        pw.load_program(cfg)
    assert key in str(info.value) and "Fix" in str(info.value)


def test_all_problems_collected_once() -> None:
    data = {"rules": {"min_level_gpa": 2, "shared_languag": True}, "pairs": {"capasity": 1}}
    with pytest.raises(InputError) as info:
        parse_program(data, source="x.toml")
    assert len(info.value.problems) == 3


def test_broken_toml_names_file(tmp_path: Path) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_text("[program\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.toml is not valid TOML"):
        pw.load_program(cfg)


@pytest.mark.parametrize("content", [None, b"\x00\x01binary", b"\xff\xfe\xfa"])
def test_missing_or_unreadable_programme(tmp_path: Path, content: bytes | None) -> None:
    cfg = tmp_path / "p.toml"
    if content is not None:
        cfg.write_bytes(content)
    with pytest.raises(InputError, match=r"p\.toml"):
        pw.load_program(cfg)


def test_values_reach_the_program(tmp_path: Path) -> None:
    (tmp_path / "history.csv").write_text("mentor_id,mentee_id\nM1,E1\n", encoding="utf-8")
    cfg = tmp_path / "p.toml"
    cfg.write_text(
        """
[program]
date = 2027-07-01
objective = "fair"
time_limit = 3
seed = 7
[columns]
EmployeeNumber = "id"
[[criteria]]
kind = "same"
column = "site"
weight = 2
[rules]
min_level_gap = 1
not_manager = "direct"
history = "history.csv"
exclude = [["M1", "E2"]]
[pairs]
capacity = 3
[groups]
min_size = 4
max_size = 6
max_count = { function = 2 }
""",
        encoding="utf-8",
    )
    program = pw.load_program(cfg)
    assert program.at == dt.date(2027, 7, 1)
    assert program.objective == "fair" and program.time_limit == 3 and program.seed == 7
    assert program.rename == {"EmployeeNumber": "id"}
    assert program.capacity == 3
    assert program.groups_options.max_count == {"function": 2}
    assert (program.groups_options.min_size, program.groups_options.max_size) == (4, 6)
    kinds = {type(r).__name__ for r in program.model.rules}
    assert {"MinLevelGap", "NotManager", "NoRepeat", "Exclude"} <= kinds
    assert [type(c).__name__ for c in program.model.criteria] == ["Same"]  # list replaced
    assert program.groups_options.no_isolation == ("gender", "ethnicity")  # default kept


def test_missing_history_file(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('[rules]\nhistory = "gone.csv"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"gone\.csv"):
        pw.load_program(cfg)


def test_rule_tables_can_be_cleared(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text("[groups]\nmin_distinct = {}\n", encoding="utf-8")
    assert pw.load_program(cfg).groups_options.min_distinct == {}
    assert pw.load_program().groups_options.min_distinct == {"function": 2}


def test_pair_specific_rules_stay_out_of_groups(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('[rules]\nrequire = [["A", "B"]]\nexclude = [["C", "D"]]\n', encoding="utf-8")
    program = pw.load_program(cfg)
    kinds = {type(r).__name__ for r in program.group_model.rules}
    assert not kinds & {"Require", "Exclude", "NoRepeat"}
    assert {"Require", "Exclude"} <= {type(r).__name__ for r in program.model.rules}


def test_default_programme_and_default_models_agree() -> None:
    from pairwise.config import default_model, default_peer_model

    program = pw.load_program()
    assert program.model.criteria == default_model().criteria
    assert program.peer_model.criteria == default_peer_model().criteria
    assert type(program.model.rules[0]).__name__ == type(default_model().rules[0]).__name__
    # the whole lists, types and parameters: one default programme (the TOML)
    assert program.model.rules == default_model().rules
    assert program.peer_model.rules == default_peer_model().rules
    assert repr(program.model) == repr(default_model())
    assert repr(program.peer_model) == repr(default_peer_model())
    # the opt-in rule is off in the default programme, so in the default models too
    assert "OptIn" not in {type(r).__name__ for r in default_model().rules}


def test_default_models_follow_the_date_and_add_history() -> None:
    from pairwise.config import default_model, default_peer_model

    day = dt.date(2027, 7, 1)
    cfg = pw.config.merge_programs(
        parse_toml_text(DEFAULT_PROGRAM_TOML, "default"), {"program": {"date": day}}
    )
    program = pw.config.build_program(cfg)
    assert program.model == default_model(at=day)
    assert program.peer_model == default_peer_model(at=day)
    history = pd.DataFrame({"mentor_id": ["M1"], "mentee_id": ["E1"]})
    model = default_model(history=history)
    assert [type(r).__name__ for r in model.rules[:-1]] == [
        type(r).__name__ for r in default_model().rules
    ]
    assert type(model.rules[-1]).__name__ == "NoRepeat"


def test_common_hours_of_the_wrong_type_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('[groups]\ncommon_hours = "x"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"groups\.common_hours"):
        pw.load_program(cfg)
