"""The TOML programme file: parsed, checked key by key, and turned into a :class:`Program`.

A programme file says which criteria score a pair (with weights), which rules
forbid one, how many mentees a mentor takes, how learning groups are formed and
how long the solver may run. Every key is checked: an unknown key is an error
with a "did you mean" hint, a value of the wrong type names the key, the
expected type and the file. With no file, :func:`default_program` gives the
embedded default programme (``pairwise/data/default_program.toml``).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import os
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = [
    "DEFAULT_PROGRAM_TOML",
    "default_program",
    "load_program",
    "merge_programs",
    "parse_program",
]

_NUMBER = (int, float)

#: Keys allowed in each criterion table, besides ``kind`` and ``weight``.
CRITERIA_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "same": {"column": str},
    "different": {"column": str},
    "complement": {"offer": str, "want": str, "method": str},
    "closeness": {"column": str, "scale": _NUMBER},
    "level_gap": {"ideal": _NUMBER, "tolerance": _NUMBER},
    "preferences": {"column": str, "side": str},
    "shared_goals": {"column": str},
}

#: The schema of every table: key -> expected type (a dict is a sub-table).
SCHEMA: dict[str, Any] = {
    "program": {
        "name": str,
        "date": (_dt.date, str),
        "seed": int,
        "time_limit": _NUMBER,
        "objective": str,
        "allow_protected": bool,
        "strict": bool,
    },
    "columns": "rename",  # free mapping: input column -> pairwise column
    "criteria": "criteria",  # array of tables
    "rules": {
        "min_level_gap": (int, bool),
        "max_level_gap": (int, bool),
        "not_manager": (str, bool),
        "accessibility": (dict, bool),
        "shared_language": bool,
        "exclude": list,
        "require": list,
        "history": (str, bool),
        "only_failed": bool,
        "opt_in": (str, bool),
    },
    "pairs": {
        "capacity": int,
        "capacity_column": str,
        "min_load": int,
        "priority_column": (str, bool),
        "top_k": int,
    },
    "peers": {
        "level_within": (int, bool),
        "criteria": "criteria",
        "accessibility": (dict, bool),
        "shared_language": bool,
    },
    "groups": {
        "min_size": int,
        "max_size": int,
        "min_distinct": dict,
        "max_count": dict,
        "no_isolation": list,
        "common_hours": (_NUMBER, bool),
        "shared_language": bool,
        "diversity_columns": list,
        "diversity_weight": _NUMBER,
        "min_level_gap": (int, bool),
        "priority_column": (str, bool),
    },
}

_ACCESSIBILITY = {"min_overlap_hours": _NUMBER, "same_site": bool, "remote_column": str}

#: Keys whose value is a number or a column name, or ``false`` to turn the rule off
#: (``true`` would be ambiguous, so it is refused).
_FALSE_OR_VALUE = {
    "rules.min_level_gap": "a whole number of levels",
    "rules.max_level_gap": "a whole number of levels",
    "rules.history": "a file name",
    "rules.opt_in": "a column name",
    "pairs.priority_column": "a column name",
    "peers.level_within": "a whole number of levels",
    "groups.min_level_gap": "a whole number of levels",
    "groups.common_hours": "a number of hours",
    "groups.priority_column": "a column name",
}

#: Tables that a programme file replaces whole rather than merging into the default.
REPLACED_WHOLE = frozenset({("groups", "min_distinct"), ("groups", "max_count")})

_OBJECTIVES = ("total", "fair")
_NOT_MANAGER = ("chain", "direct")
_COMPLEMENT_METHODS = ("coverage", "jaccard")


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {
        str: "text",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
        _dt.date: "a date",
    }
    if isinstance(expected, tuple):
        return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in expected))
    return names.get(expected, expected.__name__)


class _Checker:
    """Collects every problem of a programme file, then raises once."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def unknown(self, key: str, where: str, valid: list[str]) -> None:
        hint = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        fix = f"did you mean `{hint[0]}`?" if hint else f"valid keys: {', '.join(sorted(valid))}."
        self.problems.append(f"unknown key `{where}{key}` in {self.source}; {fix}")

    def bad(self, key: str, expected: str, got: Any) -> None:
        self.problems.append(
            f"`{key}` must be {expected}; got {got!r} in {self.source}. "
            f"Fix: set `{key}` to {expected}."
        )

    def typed(self, key: str, value: Any, expected: type | tuple[type, ...]) -> bool:
        kinds = expected if isinstance(expected, tuple) else (expected,)
        # TOML true/false are bools; a bool is not a number here
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            self.bad(key, _type_name(expected), value)
        return ok

    def table(self, data: Mapping[str, Any], schema: Mapping[str, Any], where: str) -> None:
        for key, value in data.items():
            if key not in schema:
                self.unknown(key, where, list(schema))
                continue
            expected = schema[key]
            if expected == "criteria":
                self.criteria(value, f"{where}{key}")
            elif expected == "rename":
                if not isinstance(value, dict) or not all(
                    isinstance(v, str) for v in value.values()
                ):
                    self.bad(
                        f"{where}{key}", 'a table of "input column" = "pairwise column"', value
                    )
            elif isinstance(expected, dict):
                if self.typed(f"{where}{key}", value, dict):
                    self.table(value, expected, f"{where}{key}.")
            elif key == "accessibility":
                if self.typed(f"{where}{key}", value, expected) and isinstance(value, dict):
                    self.table(value, _ACCESSIBILITY, f"{where}{key}.")
            else:
                self.typed(f"{where}{key}", value, expected)
            if value is True and f"{where}{key}" in _FALSE_OR_VALUE:
                self.bad(f"{where}{key}", _FALSE_OR_VALUE[f"{where}{key}"] + " (or false)", value)
            if (
                key in ("no_isolation", "diversity_columns")
                and isinstance(value, list)
                and not all(isinstance(v, str) for v in value)
            ):
                self.bad(f"{where}{key}", "a list of column names", value)

    def criteria(self, value: Any, where: str) -> None:
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            self.bad(where, "an array of tables ([[criteria]])", value)
            return
        for i, table in enumerate(value, start=1):
            here = f"{where}[{i}]"
            kind = table.get("kind")
            if kind not in CRITERIA_KEYS:
                hint = difflib.get_close_matches(str(kind), list(CRITERIA_KEYS), n=1)
                fix = (
                    f"did you mean `{hint[0]}`?"
                    if hint
                    else "valid kinds: " + ", ".join(CRITERIA_KEYS)
                )
                self.problems.append(
                    f"`{here}.kind` must be one of {', '.join(CRITERIA_KEYS)}; got {kind!r} "
                    f"in {self.source}; {fix}"
                )
                continue
            allowed = {"kind": str, "weight": _NUMBER, **CRITERIA_KEYS[kind]}
            for key, item in table.items():
                if key not in allowed:
                    self.unknown(key, f"{here}.", list(allowed))
                else:
                    self.typed(f"{here}.{key}", item, allowed[key])
            weight = table.get("weight", 1.0)
            if isinstance(weight, _NUMBER) and not isinstance(weight, bool) and weight < 0:
                self.bad(f"{here}.weight", "a number ≥ 0", weight)
            method = table.get("method")
            if kind == "complement" and method is not None and method not in _COMPLEMENT_METHODS:
                self.bad(f"{here}.method", " or ".join(map(repr, _COMPLEMENT_METHODS)), method)

    def values(self, data: Mapping[str, Any]) -> None:
        """Checks on values (types already checked)."""
        program = data.get("program", {})
        objective = program.get("objective", "total")
        if isinstance(objective, str) and objective not in _OBJECTIVES:
            self.bad("program.objective", " or ".join(map(repr, _OBJECTIVES)), objective)
        limit = program.get("time_limit")
        if isinstance(limit, _NUMBER) and not isinstance(limit, bool) and limit <= 0:
            self.bad("program.time_limit", "a positive number of seconds", limit)
        date = program.get("date")
        if isinstance(date, str):
            try:
                _dt.date.fromisoformat(date)
            except ValueError:
                self.bad("program.date", "a date such as 2027-03-01", date)
        rules = data.get("rules", {})
        nm = rules.get("not_manager")
        if isinstance(nm, str) and nm not in _NOT_MANAGER:
            self.bad("rules.not_manager", '"chain", "direct" or false', nm)
        for key in ("exclude", "require"):
            pairs = rules.get(key)
            if isinstance(pairs, list):
                for item in pairs:
                    if not (
                        isinstance(item, list)
                        and len(item) == 2
                        and all(isinstance(x, str | int) for x in item)
                    ):
                        self.bad(
                            f"rules.{key}", 'a list of ["mentor id", "mentee id"] pairs', item
                        )
                        break
        groups = data.get("groups", {})
        lo, hi = groups.get("min_size", 5), groups.get("max_size", 7)
        if isinstance(lo, int) and isinstance(hi, int) and not 1 <= lo <= hi:
            self.bad("groups.min_size", f"a whole number from 1 to max_size ({hi})", lo)
        for key in ("min_distinct", "max_count"):
            spec = groups.get(key)
            if isinstance(spec, dict):
                for column, n in spec.items():
                    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                        self.bad(f"groups.{key}.{column}", "a whole number ≥ 1", n)
        pairs = data.get("pairs", {})
        for key in ("capacity", "min_load", "top_k"):
            v = pairs.get(key)
            if isinstance(v, int) and not isinstance(v, bool) and v < 0:
                self.bad(f"pairs.{key}", "a whole number ≥ 0", v)

    def raise_if_any(self) -> None:
        if self.problems:
            shown = self.problems[:5]
            more = len(self.problems) - len(shown)
            text = "; ".join(shown) + (f"; … and {more} more" if more > 0 else "")
            raise InputError(text, self.problems)


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise InputError(
            f"programme file {path} does not exist. Fix: check the path, or omit --config "
            "to use the default programme."
        )
    if path.is_dir():
        raise InputError(f"programme file {path} is a directory. Fix: name a .toml file.")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise InputError(f"programme file {path} is not a text TOML file. Fix: name a .toml file.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"programme file {path} is not UTF-8 text (byte {exc.start}). Fix: save it as UTF-8."
        ) from None
    return parse_toml_text(text, str(path))


def parse_toml_text(text: str, source: str) -> dict[str, Any]:
    """Parse TOML text, turning a syntax error into one plain sentence with the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"programme file {source} is not valid TOML: {exc}. "
            "Fix: correct the syntax at that line (strings need quotes, tables [name])."
        ) from None


def parse_program(data: Mapping[str, Any], *, source: str = "<programme>") -> dict[str, Any]:
    """Check a parsed programme mapping; return it unchanged when every key is valid.

    Raises
    ------
    InputError
        Listing every unknown key (with a "did you mean" hint) and every value
        of the wrong type or out of range, each naming the key and ``source``.
    """
    checker = _Checker(source)
    checker.table(data, SCHEMA, "")
    if not checker.problems:
        checker.values(data)
    checker.raise_if_any()
    return {k: data[k] for k in data}


#: The embedded default programme, as TOML text.
DEFAULT_PROGRAM_TOML: str = (
    resources.files("pairwise").joinpath("data", "default_program.toml").read_text("utf-8")
)


def load_program(path: str | os.PathLike[str] | None = None) -> Any:
    """Load a programme from a TOML file (or the embedded default when ``path`` is None).

    Parameters
    ----------
    path : path-like or None
        The programme file. Keys it leaves out keep the default programme's
        values (see :func:`merge_programs`). Relative paths inside it
        (``rules.history``) are resolved against the file's folder.

    Returns
    -------
    Program
        Ready to run: ``program.pairs(mentors, mentees)``,
        ``program.groups(leaders, proteges)``, ``program.peers(people)``.

    Raises
    ------
    InputError
        Missing, unreadable or invalid file; unknown keys ("did you mean");
        values of the wrong type.

    Examples
    --------
    >>> import pairwise as pw
    >>> program = pw.load_program()          # the embedded default programme
    >>> program.groups_options.min_size, program.groups_options.max_size
    (5, 7)
    """
    from .program import Program

    if path is None:
        data = parse_toml_text(DEFAULT_PROGRAM_TOML, "the default programme")
        return Program.from_config(parse_program(data, source="the default programme"))
    p = Path(path)
    data = parse_program(_read_toml(p), source=str(p))
    default = parse_toml_text(DEFAULT_PROGRAM_TOML, "the default programme")
    return Program.from_config(merge_programs(default, data), base_dir=p.parent)


def merge_programs(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``: tables merge key by key, other values replace.

    A programme file therefore only needs the keys it changes; a
    ``[[criteria]]`` list, when given, replaces the default criteria whole, and
    so do ``groups.min_distinct`` and ``groups.max_count`` (so ``{}`` clears them).

    Examples
    --------
    >>> merge_programs({"rules": {"a": 1, "b": 2}}, {"rules": {"b": 3}})
    {'rules': {'a': 1, 'b': 3}}
    """
    return _merge(base, override, ())


def _merge(
    base: Mapping[str, Any], override: Mapping[str, Any], path: tuple[str, ...]
) -> dict[str, Any]:
    out: dict[str, Any] = dict(base)
    for key, value in override.items():
        here = (*path, key)
        if (
            isinstance(value, Mapping)
            and isinstance(out.get(key), Mapping)
            and here not in REPLACED_WHOLE
        ):
            out[key] = _merge(out[key], value, here)
        else:
            out[key] = value
    return out


def default_program() -> Any:
    """The embedded default programme (same as ``load_program()``)."""
    return load_program(None)
