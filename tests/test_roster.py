"""Tests for pairwise.roster: parsing, every error message, time zones and overlap."""

from __future__ import annotations

import datetime as dt
import doctest
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pairwise.roster as roster_module
from pairwise.errors import InputError
from pairwise.roster import (
    DEFAULT_COLUMNS,
    LIST_COLUMNS,
    PROTECTED_COLUMNS,
    Roster,
    load_roster,
)

HEADER = ",".join(DEFAULT_COLUMNS)
FULL_ROW = (
    "E1,Ann Lee,5,Engineering,Berlin,Europe/Berlin,09:00-17:00,English; German,"
    "Python;SQL,Coaching,Technical depth,E9,2,yes,2,M3;M1,Woman,White"
)


def write(tmp_path: Path, text: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(source: object, **options: object) -> InputError:
    with pytest.raises(InputError) as info:
        load_roster(source, **options)  # type: ignore[arg-type]
    return info.value


def assert_sentence(err: InputError, *parts: str) -> None:
    message = str(err)
    for part in parts:
        assert part in message, (part, message)
    assert "Fix:" in message
    assert "Traceback" not in message


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


_CELLS = {
    "level": ["3", "5", "", "x", "4.0", " 2 "],
    "timezone": ["Europe/Berlin", "", "Mars/Base", "UTC"],
    "work_hours": ["09:00-17:00", "", "9-5", "nine"],
    "capacity": ["2", "", "-1", "1"],
    "remote_ok": ["yes", "no", "", "perhaps"],
    "skills": ["Python;SQL", "", "SQL", " ; "],
    "site": ["Berlin", "", " London "],
}


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_each_distinct_value_is_parsed_once_with_the_same_result(data) -> None:
    # the by-value parse (one parse per distinct cell) against the cell-by-cell one:
    # the same table, or the same error naming the same lines
    n = data.draw(st.integers(1, 12))
    names = list(_CELLS)
    lines = [",".join(["id", *names])]
    for i in range(n):
        cells = [data.draw(st.sampled_from(_CELLS[c])) for c in names]
        lines.append(",".join([f"P{i}", *cells]))
    frame = pd.read_csv(io.StringIO("\n".join(lines)), dtype=str, keep_default_na=False)

    def outcome(source: object) -> object:
        try:
            return load_roster(source).frame  # type: ignore[arg-type]
        except InputError as err:
            return str(err)

    by_value = outcome(frame)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(roster_module, "_distinct", lambda column: None)
        by_cell = outcome(frame)
    if isinstance(by_cell, str):
        assert by_value == by_cell
    else:
        pd.testing.assert_frame_equal(by_value, by_cell)  # type: ignore[arg-type]


def test_missing_columns_parse_by_value_as_cell_by_cell() -> None:
    # columns with no value at all (None, NaN) and a numeric one, from a DataFrame
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "site": [None, None, None],
            "level": [np.nan, np.nan, np.nan],
            "capacity": [1.0, np.nan, 2.0],
            "remote_ok": [True, False, True],
        }
    )
    by_value = load_roster(frame).frame
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(roster_module, "_distinct", lambda column: None)
        by_cell = load_roster(frame).frame
    pd.testing.assert_frame_equal(by_value, by_cell)


@pytest.mark.parametrize(
    "column, cells",
    [
        ("site", ["ab", "ab\x00c", "ab"]),  # older pandas hashes text only up to a NUL
        ("priority", [0.0, -0.0, 1.0]),  # equal when grouped, quoted apart in errors
        ("level", [-0.0, 0.0, "x"]),
    ],
)
def test_values_the_grouping_could_merge_parse_as_cell_by_cell(column, cells) -> None:
    frame = pd.DataFrame({"id": ["a", "b", "c"], column: cells})

    def outcome() -> object:
        try:
            return load_roster(frame).frame
        except InputError as err:
            return str(err)

    by_value = outcome()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(roster_module, "_distinct", lambda column: None)
        by_cell = outcome()
    if isinstance(by_cell, str):
        assert by_value == by_cell
    else:
        pd.testing.assert_frame_equal(by_value, by_cell)  # type: ignore[arg-type]


def test_interface_constants() -> None:
    assert LIST_COLUMNS == ("languages", "skills", "wants", "goals", "preferences")
    assert PROTECTED_COLUMNS == ("gender", "ethnicity")
    assert DEFAULT_COLUMNS[0] == "id" and len(DEFAULT_COLUMNS) == 18
    assert set(LIST_COLUMNS) | set(PROTECTED_COLUMNS) <= set(DEFAULT_COLUMNS)


def test_every_default_column_is_parsed(tmp_path: Path) -> None:
    blank_row = "E2,,,,,,,,,,,,,,,,,"
    path = write(tmp_path, f"{HEADER}\n{FULL_ROW}\n{blank_row}\n")
    roster = load_roster(path, role="mentor")
    frame = roster.frame
    assert list(frame.columns) == list(DEFAULT_COLUMNS)
    assert isinstance(frame.index, pd.RangeIndex) and len(roster) == 2
    first = frame.iloc[0]
    assert first["id"] == "E1" and first["name"] == "Ann Lee"
    assert first["level"] == 5.0 and frame["level"].dtype == np.float64
    assert first["function"] == "Engineering" and first["site"] == "Berlin"
    assert first["timezone"] == "Europe/Berlin"
    assert first["work_hours"] == (540, 1020)
    assert first["languages"] == ("English", "German")
    assert first["skills"] == ("Python", "SQL")
    assert first["wants"] == ("Coaching",)
    assert first["goals"] == ("Technical depth",)
    assert first["manager_id"] == "E9"
    assert frame["capacity"].dtype == "Int64" and first["capacity"] == 2
    assert frame["remote_ok"].dtype == bool and bool(first["remote_ok"]) is True
    assert frame["priority"].dtype == np.float64 and first["priority"] == 2.0
    assert first["preferences"] == ("M3", "M1")  # ranked order kept
    assert first["gender"] == "Woman" and first["ethnicity"] == "White"
    # blanks: defaults and None, never NaN in text columns
    second = frame.iloc[1]
    assert np.isnan(second["level"])
    assert second["timezone"] is None and second["work_hours"] is None
    assert second["languages"] == () and second["preferences"] == ()
    assert second["manager_id"] is None and second["name"] is None
    assert pd.isna(second["capacity"])
    assert bool(second["remote_ok"]) is True and second["priority"] == 1.0
    assert roster.source == str(path) and roster.role == "mentor"
    assert roster.locations == ("line 2", "line 3")


def test_boolean_words_and_numbers(tmp_path: Path) -> None:
    words = ["true", "False", "YES", "no", "1", "0", "y", "N", ""]
    rows = "".join(f"E{k},{w},{k}\n" for k, w in enumerate(words))
    roster = load_roster(write(tmp_path, "id,remote_ok,capacity\n" + rows))
    expected = [True, False, True, False, True, False, True, False, True]
    assert roster.frame["remote_ok"].tolist() == expected
    assert roster.frame["capacity"].tolist() == list(range(len(words)))


def test_bom_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffid,name\nE1,Zoë\n".encode())
    roster = load_roster(path)
    assert list(roster.frame.columns) == ["id", "name"]
    assert roster.frame.loc[0, "name"] == "Zoë"


def test_tsv_file_is_tab_separated(tmp_path: Path) -> None:
    path = write(tmp_path, "id\tskills\tname\nE1\tPython; SQL\tLee, Ann\n", "people.tsv")
    roster = load_roster(path)
    assert roster.frame.loc[0, "skills"] == ("Python", "SQL")
    assert roster.frame.loc[0, "name"] == "Lee, Ann"


def test_tab_separated_csv_is_recognised(tmp_path: Path) -> None:
    roster = load_roster(write(tmp_path, "id\tlevel\nE1\t3\n"))
    assert roster.frame.loc[0, "level"] == 3.0


def test_column_names_are_normalised(tmp_path: Path) -> None:
    text = " ID ,Level,Work Hours,Time-Zone,Remote OK,Tenure Years \nE1,4,9-17,UTC,no, 7 \n"
    roster = load_roster(write(tmp_path, text))
    assert list(roster.frame.columns) == [
        "id",
        "level",
        "work_hours",
        "timezone",
        "remote_ok",
        "Tenure Years",
    ]
    # unknown extra columns keep their name and their text as read
    assert roster.frame.loc[0, "Tenure Years"] == " 7 "


def test_rename_maps_columns_and_ignores_absent_names(tmp_path: Path) -> None:
    text = "EmployeeNumber,Grade\n1001,3\n"
    roster = load_roster(
        write(tmp_path, text), rename={"EmployeeNumber": "id", "grade": "Level", "Absent": "x"}
    )
    assert list(roster.frame.columns) == ["id", "level"]
    assert roster.ids.tolist() == ["1001"]


def test_blank_lines_and_multiline_cells_keep_line_numbers(tmp_path: Path) -> None:
    text = 'id,name,level\nE1,"two\nlines",1\n\nE2,Bo,2\n,,,\nE3,Cy,x\n'
    err = error_of(write(tmp_path, text))
    assert "line 7" in str(err)
    roster = load_roster(write(tmp_path, text.replace(",x", ",3")))
    assert roster.locations == ("line 2", "line 5", "line 7")
    assert roster.frame.loc[0, "name"] == "two\nlines"


def test_short_rows_are_padded_and_blank_trailing_cells_ignored(tmp_path: Path) -> None:
    roster = load_roster(write(tmp_path, "id,name,level\nE1,Ann\nE2,Bo,2,,\n"))
    assert roster.frame["name"].tolist() == ["Ann", "Bo"]
    assert np.isnan(roster.frame.loc[0, "level"]) and roster.frame.loc[1, "level"] == 2.0


def test_unnamed_blank_column_is_dropped(tmp_path: Path) -> None:
    roster = load_roster(write(tmp_path, "id,level,\nE1,1,\nE2,2,\n"))
    assert list(roster.frame.columns) == ["id", "level"]


def test_dataframe_is_copied_not_mutated() -> None:
    frame = pd.DataFrame(
        {
            "Id": [101, 102, 103],
            "Level": [1.0, np.nan, 3.0],
            "skills": [["Python", " SQL "], None, "Coaching;Budgeting"],
            "remote_ok": [True, False, np.nan],
            "work_hours": ["9-17", (1320, 360), ""],
            "tenure": [1.5, 2.0, 3.0],
        },
        index=[10, 11, 12],
    )
    before = frame.copy(deep=True)
    roster = load_roster(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert frame["skills"][10] == ["Python", " SQL "]
    parsed = roster.frame
    assert parsed["id"].tolist() == ["101", "102", "103"]
    assert parsed["skills"].tolist() == [("Python", "SQL"), (), ("Coaching", "Budgeting")]
    assert parsed["remote_ok"].tolist() == [True, False, True]
    assert parsed["work_hours"].tolist() == [(540, 1020), (1320, 360), None]
    assert parsed["tenure"].dtype == np.float64  # extra DataFrame columns keep their dtype
    assert roster.locations == ("row 10", "row 11", "row 12")
    parsed.loc[0, "id"] = "changed"
    assert frame.loc[10, "Id"] == 101


def test_list_columns_option() -> None:
    frame = pd.DataFrame({"id": ["a"], "languages": ["English;German"], "hobbies": ["x; y"]})
    roster = load_roster(frame, list_columns=("hobbies",))
    assert roster.frame.loc[0, "hobbies"] == ("x", "y")
    assert roster.frame.loc[0, "languages"] == "English;German"  # then plain text


def test_roster_accessors() -> None:
    frame = pd.DataFrame(
        {
            "id": ["m1", "m2", "m3"],
            "skills": ["", "", ""],
            "level": [1, 2, 3],
            "tenure": ["1", "", "2.5"],
        }
    )
    roster = load_roster(frame, role="mentor")
    assert isinstance(roster, Roster)
    ids = roster.ids
    assert ids.dtype == object and ids.tolist() == ["m1", "m2", "m3"]
    ids[0] = "mutated"
    assert roster.ids[0] == "m1"
    assert roster.index_of(["m3", "m1"]).tolist() == [2, 0]
    assert roster.index_of("m2").tolist() == [1]
    assert roster.position("m2") == 1
    assert roster.has("level") and not roster.has("skills") and not roster.has("absent")
    assert roster.column("level").tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(roster.numeric("tenure"), [1.0, np.nan, 2.5])
    assert roster.where(1) == "the mentor DataFrame, row 1"
    assert "mentor" in repr(roster) and "3 rows" in repr(roster)


def test_to_frame_round_trip(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n{FULL_ROW}\nE2,,,,,,22:00-06:00,,,,,,,,,,,\n")
    roster = load_roster(path)
    out = roster.to_frame()
    assert out.loc[0, "skills"] == "Python;SQL"
    assert out.loc[0, "work_hours"] == "09:00-17:00"
    assert out.loc[1, "work_hours"] == "22:00-06:00"
    assert out["level"].dtype == "Int64"
    again = load_roster(out)
    pd.testing.assert_frame_equal(again.frame, roster.frame)
    out.to_csv(tmp_path / "again.csv", index=False)
    pd.testing.assert_frame_equal(load_roster(tmp_path / "again.csv").frame, roster.frame)


# ---------------------------------------------------------------------------
# One test per error message
# ---------------------------------------------------------------------------


def test_missing_file_message(tmp_path: Path) -> None:
    path = tmp_path / "absent.csv"
    assert_sentence(error_of(path), str(path), "does not exist")


def test_directory_message(tmp_path: Path) -> None:
    write(tmp_path, "id\nE1\n", "mentors.csv")
    assert_sentence(error_of(tmp_path), str(tmp_path), "directory", "mentors.csv")


def test_empty_file_message(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert_sentence(error_of(path), str(path), "empty file", "0 bytes")


def test_header_only_message(tmp_path: Path) -> None:
    path = write(tmp_path, "id,name,level\n")
    assert_sentence(error_of(path), str(path), "only the header", "no rows")


def test_binary_file_message(tmp_path: Path) -> None:
    path = tmp_path / "people.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00binary")
    assert_sentence(error_of(path), str(path), "is not a UTF-8 text CSV", "read_excel")


def test_not_utf8_message(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id,name\nE1,José\n".encode("latin-1"))
    assert_sentence(error_of(path), str(path), "is not a UTF-8 text CSV", "line 2")


def test_ragged_row_message(tmp_path: Path) -> None:
    path = write(tmp_path, "id,skills\nE1,Python\nE2,Python, SQL\nE3,a,b,c\n")
    err = error_of(path)
    assert_sentence(err, str(path), "line 3", "line 4", "at most 2 cells", "double quotes")
    assert len(err.problems) == 2


def test_bad_quotes_message(tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name\nE1,"Ann"x\n')
    assert_sentence(error_of(path), str(path), "line 2", "valid CSV")


def test_missing_id_column_message(tmp_path: Path) -> None:
    path = write(tmp_path, "EmployeeNumber,Name,Level\n1,Ann,2\n")
    assert_sentence(
        error_of(path),
        "`id`",
        str(path),
        "'EmployeeNumber', 'name', 'level'",
        "rename={'EmployeeNumber': 'id'}",
    )


def test_missing_id_column_suggests_close_name() -> None:
    err = error_of(pd.DataFrame({"ids": ["a"], "level": [1]}))
    assert_sentence(err, "`id`", "rename={'ids': 'id'}")


def test_semicolon_separated_file_is_read(tmp_path: Path) -> None:
    # was refused as "not comma-separated"; a file European Excel saves is now read
    path = write(tmp_path, "id;name;level\nE1;Ann;2\n")
    roster = load_roster(path)
    assert list(roster.frame.columns) == ["id", "name", "level"]
    assert roster.frame["level"].tolist() == [2.0]


def test_required_column_message() -> None:
    err = error_of(pd.DataFrame({"id": ["a"], "capacty": [1]}), required=("id", "capacity"))
    assert_sentence(err, "`capacity`", "rename={'capacty': 'capacity'}")


def test_duplicate_column_message(tmp_path: Path) -> None:
    path = write(tmp_path, "id,Level,level\nE1,1,2\n")
    assert_sentence(error_of(path), "`level`", str(path), "'Level'", "'level'")


def test_unnamed_column_message(tmp_path: Path) -> None:
    path = write(tmp_path, "id,,level\nE1,oops,2\n")
    assert_sentence(error_of(path), str(path), "column 2", "line 2", "'oops'")


def test_empty_id_message(tmp_path: Path) -> None:
    path = write(tmp_path, "id,level\nE1,1\n  ,2\n")
    assert_sentence(error_of(path), "`id`", "must not be empty", f"{path}, line 3")


def test_duplicate_ids_message(tmp_path: Path) -> None:
    path = write(tmp_path, "id,level\nE1,1\nE2,2\nE1,3\nE2,4\n")
    err = error_of(path)
    assert_sentence(err, "`id` must be unique", "'E1' on lines 2 and 4", "'E2' on lines 3 and 5")
    assert str(path) in str(err) and len(err.problems) == 2


def test_level_message(tmp_path: Path) -> None:
    path = write(tmp_path, "id,level\nE1,1\nE2,senior\n")
    assert_sentence(error_of(path), "`level`", "'senior'", f"{path}, line 3", "a number")


def test_timezone_message(tmp_path: Path) -> None:
    path = write(tmp_path, "id,timezone\nE1,Berlin\nE2,New York\nE3,Mars/Olympus\n")
    err = error_of(path)
    assert_sentence(err, "`timezone`", "'Berlin'", f"{path}, line 2", "'Europe/Berlin'")
    assert "'America/New_York'" in err.problems[1] and "line 3" in err.problems[1]
    assert "line 4" in err.problems[2]


def test_work_hours_message(tmp_path: Path) -> None:
    path = write(tmp_path, "id,work_hours\nE1,9-17\nE2,nine to five\n")
    assert_sentence(
        error_of(path), "`work_hours`", "'nine to five'", f"{path}, line 3", "09:00-17:00"
    )


def test_capacity_message(tmp_path: Path) -> None:
    path = write(tmp_path, "id,capacity\nE1,2\nE2,-1\nE3,1.5\n")
    err = error_of(path)
    assert_sentence(err, "`capacity`", "whole number from 0 to 1000000", "'-1'", f"{path}, line 3")
    assert "'1.5'" in err.problems[1]


def test_priority_message(tmp_path: Path) -> None:
    path = write(tmp_path, "id,priority\nE1,2\nE2,0\n")
    assert_sentence(error_of(path), "`priority`", "positive number", "'0'", f"{path}, line 3")


def test_remote_ok_message(tmp_path: Path) -> None:
    path = write(tmp_path, "id,remote_ok\nE1,yes\nE2,maybe\n")
    assert_sentence(error_of(path), "`remote_ok`", "'maybe'", f"{path}, line 3")


def test_many_problems_are_collected_and_counted(tmp_path: Path) -> None:
    rows = "".join(f"E{k},bad{k},Nowhere\n" for k in range(6))
    path = write(tmp_path, "id,level,timezone\n" + rows)
    err = error_of(path)
    message = str(err)
    assert message.startswith(f"{path} has 12 problems:")
    assert message.count("  - ") == 5 and "... and 7 more" in message
    assert len(err.problems) == 12
    # sorted by line, then by column
    assert "line 2" in err.problems[0] and "`level`" in err.problems[0]
    assert "line 2" in err.problems[1] and "`timezone`" in err.problems[1]
    assert "line 7" in err.problems[-1]
    assert all("Fix:" in p for p in err.problems)


def test_dataframe_messages_name_the_row_label() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "level": [1, "x"]}, index=[11, 12])
    err = error_of(frame, role="mentee")
    assert_sentence(err, "`level`", "the mentee DataFrame, row 12")


def test_source_type_message() -> None:
    assert_sentence(error_of(42), "`source`", "int")


def test_index_of_unknown_ids_message() -> None:
    roster = load_roster(pd.DataFrame({"id": ["a", "b"]}), role="mentor")
    with pytest.raises(InputError) as info:
        roster.index_of(["a", "zz", "yy"])
    assert_sentence(info.value, "'zz'", "'yy'", "mentor DataFrame")
    assert len(info.value.problems) == 2
    with pytest.raises(InputError, match="'q'"):
        roster.position("q")


def test_column_missing_message() -> None:
    roster = load_roster(pd.DataFrame({"id": ["a"], "skils": ["x"]}))
    with pytest.raises(InputError) as info:
        roster.column("skills")
    assert_sentence(info.value, "`skills`", "'skils'")


def test_numeric_message() -> None:
    roster = load_roster(pd.DataFrame({"id": ["a", "b"], "tenure": ["1", "long"]}))
    with pytest.raises(InputError) as info:
        roster.numeric("tenure")
    assert_sentence(info.value, "`tenure`", "'long'", "row 1")


# ---------------------------------------------------------------------------
# Time zones and working hours of a roster (parsing itself: test_time.py)
# ---------------------------------------------------------------------------


def test_utc_offset_minutes_follows_summer_time() -> None:
    frame = pd.DataFrame(
        {
            "id": list("abcde"),
            "timezone": ["Europe/Berlin", "America/New_York", "UTC+05:30", "", "Australia/Sydney"],
        }
    )
    roster = load_roster(frame)
    winter = roster.utc_offset_minutes(dt.date(2024, 1, 15))
    summer = roster.utc_offset_minutes(dt.date(2024, 7, 15))
    np.testing.assert_array_equal(winter, [60, -300, 330, np.nan, 660])
    np.testing.assert_array_equal(summer, [120, -240, 330, np.nan, 600])
    assert roster.utc_offset_minutes().shape == (5,)
    no_zone = load_roster(pd.DataFrame({"id": ["a"]}))
    assert np.isnan(no_zone.utc_offset_minutes(dt.date(2024, 1, 1))).all()


def test_work_hours_minutes() -> None:
    roster = load_roster(pd.DataFrame({"id": ["a", "b"], "work_hours": ["22:00-06:00", ""]}))
    start, end = roster.work_hours_minutes()
    np.testing.assert_array_equal(start, [1320, np.nan])
    np.testing.assert_array_equal(end, [360, np.nan])


def test_doctests() -> None:
    result = doctest.testmod(roster_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_a_roster_passes_through() -> None:
    roster = load_roster(pd.DataFrame({"id": ["a"], "level": [2]}))
    assert load_roster(roster) is roster
    again = load_roster(roster, role="mentee")
    assert again.role == "mentee" and again.frame is roster.frame
    with pytest.raises(InputError, match="`capacity`"):
        load_roster(roster, required=("id", "capacity"))


def test_option_names_are_matched_like_columns() -> None:
    frame = pd.DataFrame({"ID": ["a"], "Skills": ["x;y"], "Capacity": ["1"]})
    roster = load_roster(frame, list_columns=("SKILLS",), required=("Id", "capacity"))
    assert roster.frame.loc[0, "skills"] == ("x", "y")


# ---------------------------------------------------------------------------
# Decimal commas, ;-separated files, id suggestions, long lists
# ---------------------------------------------------------------------------


def test_decimal_commas_are_read() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "level": ["2,5", "3"], "priority": ["1,5", "2"]})
    roster = load_roster(frame)
    assert roster.frame["level"].tolist() == [2.5, 3.0]
    assert roster.frame["priority"].tolist() == [1.5, 2.0]


def test_decimal_comma_capacity_is_refused_as_not_whole() -> None:
    err = error_of(pd.DataFrame({"id": ["a"], "capacity": ["2,5"]}))
    assert_sentence(err, "`capacity` must be a whole number", "'2,5'")


@pytest.mark.parametrize("column", ["level", "priority", "capacity"])
def test_thousands_or_decimal_comma_is_refused_with_the_fix(column: str) -> None:
    err = error_of(pd.DataFrame({"id": ["a"], column: ["1,000"]}))
    assert_sentence(err, f"`{column}` must be a number with a decimal point", "'1,000'")
    assert "write 1000 for thousands or 1.000 for a decimal" in str(err)


def test_semicolon_file_lists_use_quotes_bars_or_commas(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'id;level;skills;capacity\nm1;5;"Python;SQL";2\nm2;4,5;Excel|Word;1\nm3;3;Go, Rust;\n',
    )
    roster = load_roster(path)
    skills = roster.frame["skills"].tolist()
    assert skills == [("Python", "SQL"), ("Excel", "Word"), ("Go", "Rust")]
    assert roster.frame["level"].tolist() == [5.0, 4.5, 3.0]
    assert roster.frame["capacity"].tolist() == [2, 1, pd.NA]


def test_comma_file_lists_keep_commas_inside_items(tmp_path: Path) -> None:
    path = write(tmp_path, 'id,skills\nm1,"Python, advanced;SQL"\n')
    assert load_roster(path).frame["skills"].tolist() == [("Python, advanced", "SQL")]


def test_unreadable_semicolon_file_is_named_as_such(tmp_path: Path) -> None:
    path = write(tmp_path, "id;name;level\nm1;Ann;5;x;y\nm2;Bob;4\n")
    err = error_of(path)
    assert_sentence(err, "(read as semicolon-separated)", "line 2", "semicolon")


def test_missing_id_prefers_columns_whose_values_look_like_ids() -> None:
    frame = pd.DataFrame(
        {"Age": [30, 40, 50], "EmployeeCount": [1, 1, 1], "EmployeeNumber": [7, 2, 9]}
    )
    err = error_of(frame)
    assert_sentence(err, "rename={'EmployeeNumber': 'id'}")
    assert "EmployeeCount" not in str(err).split("Fix:", 1)[1]


def test_duplicate_id_lines_are_cut_to_five_and_a_count(tmp_path: Path) -> None:
    path = write(tmp_path, "id\n" + "a\n" * 400)
    err = error_of(path)
    assert "lines 2, 3, 4, 5, 6 and 395 more" in str(err)
