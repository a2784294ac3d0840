"""The TOML programme file: parsed, checked key by key and built into a :class:`Program`.

A programme file says which criteria score a pair (with weights), which rules
forbid one, how many mentees a mentor takes, how learning groups are formed and
how long the solver may run. Every key is checked: an unknown key is an error
with a "did you mean" hint, a value of the wrong type names the key, the
expected type and the file. With no file, :func:`default_program` gives the
embedded default programme (``pairwise/data/default_program.toml``), the one
source of the defaults: :func:`default_model` and :func:`default_peer_model`
are built from it too.

One registry per concept: :data:`CRITERIA` (criterion kinds) and the key
tables of :data:`SCHEMA` (``[program]``, ``[rules]``, ``[pairs]``,
``[peers]``, ``[groups]``) each hold, per entry, the type and value checks
*and* what the entry builds (a criterion, rules, a field of :class:`Program`
or :class:`GroupOptions`), so checking and building read the same entry.
Valid choices come from the module that owns them (complement methods from
:mod:`pairwise.criteria`, objectives from :mod:`pairwise.solvers.assignment`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from . import criteria as C
from . import rules as R
from .compatibility import CompatibilityModel
from .criteria import _COMPLEMENT_METHODS
from .errors import InputError
from .program import GroupOptions, Program
from .roster import PROTECTED_COLUMNS
from .solvers.assignment import OBJECTIVES

__all__ = [
    "DEFAULT_PROGRAM_TOML",
    "build_program",
    "default_model",
    "default_peer_model",
    "default_program",
    "load_program",
    "merge_programs",
    "parse_program",
]

_NUMBER = (int, float)
_Expected = type | tuple[type, ...]
#: A value check yields (key suffix, what was expected, what was got) per problem.
_Check = Callable[[Any, Mapping[str, Any]], Iterator[tuple[str, str, Any]]]


@dataclass(frozen=True)
class _Build:
    """What building needs besides a table: date, strictness, folder, protection, user keys.

    ``user`` is what the user's programme file itself says (before it is laid
    over the embedded default): the criteria and rules it names are required
    (kept or refused, never skipped), the default's are skipped with a note
    when their columns are absent.
    """

    at: _dt.date | None
    allow_protected: bool
    lenient: bool
    base_dir: Path
    protected: tuple[str, ...] = PROTECTED_COLUMNS
    user: Mapping[str, Any] = field(default_factory=dict)

    def named(self, section: str, key: str) -> bool:
        """Whether the user's programme file names ``[section] key``."""
        table = self.user.get(section)
        return isinstance(table, Mapping) and key in table


#: Builds the rules of one key from its value and its whole table.
_RuleBuilder = Callable[[Any, Mapping[str, Any], _Build], list[R.Rule]]


@dataclass(frozen=True)
class _Key:
    """One key of a programme table: its type, checks and default, and what it builds.

    ``off`` names the value for keys that ``false`` turns off (``true`` is then
    refused as ambiguous); ``value`` (and ``target``) make the key a field of
    :class:`Program` or :class:`GroupOptions`; ``rules`` makes it rules.
    """

    expected: _Expected
    default: Any = None
    kind: str = "value"  # "value", "criteria" (array of tables) or "rename" (free mapping)
    off: str | None = None
    names: bool = False  # a list of column names
    table: Mapping[str, _Key] | None = None  # a sub-table whose keys are checked too
    check: _Check | None = None  # value checks, run once every type is right
    value: Callable[[Any], Any] | None = None
    target: str | None = None  # the field ``value`` fills, when not named as the key
    rules: _RuleBuilder | None = None


@dataclass(frozen=True)
class _Kind:
    """One criterion kind: the keys its table may hold (besides kind and weight), its builder."""

    keys: Mapping[str, _Expected]
    build: Callable[[Mapping[str, Any]], C.Criterion]
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)


def _weight(t: Mapping[str, Any]) -> Any:
    return t.get("weight", 1.0)


#: Criterion kinds of ``[[criteria]]`` / ``[[peers.criteria]]``: keys and constructor together.
CRITERIA: dict[str, _Kind] = {
    "same": _Kind({"column": str}, lambda t: C.Same(column=t["column"], weight=_weight(t))),
    "different": _Kind(
        {"column": str}, lambda t: C.Different(column=t["column"], weight=_weight(t))
    ),
    "complement": _Kind(
        {"offer": str, "want": str, "method": str, "mutual": bool},
        lambda t: C.Complement(
            offer=t.get("offer", "skills"),
            want=t.get("want", "wants"),
            method=t.get("method", "coverage"),
            weight=_weight(t),
            mutual=bool(t.get("mutual", False)),
        ),
        choices={"method": _COMPLEMENT_METHODS},
    ),
    "closeness": _Kind(
        {"column": str, "scale": _NUMBER},
        lambda t: C.Closeness(
            column=t["column"],
            scale=None if t.get("scale") is None else float(t["scale"]),
            weight=_weight(t),
        ),
    ),
    "level_gap": _Kind(
        {"ideal": _NUMBER, "tolerance": _NUMBER, "direction": str},
        lambda t: C.LevelGap(
            ideal=float(t.get("ideal", 2)),
            tolerance=float(t.get("tolerance", 2)),
            weight=_weight(t),
            direction=t.get("direction", "above"),
        ),
        choices={"direction": R.LEVEL_DIRECTIONS},
    ),
    "preferences": _Kind(
        {"column": str, "side": str},
        lambda t: C.Preferences(
            column=t.get("column", "preferences"), side=t.get("side", "mentee"), weight=_weight(t)
        ),
    ),
    "shared_goals": _Kind(
        {"column": str},
        lambda t: C.SharedGoals(column=t.get("column", "goals"), weight=_weight(t)),
    ),
}


# ---------------------------------------------------------------------------
# Value conversions, value checks and rule builders that the key tables use
# ---------------------------------------------------------------------------


def _is_off(value: Any) -> bool:
    # ``false`` turns a rule off; 0 is a value (e.g. a level gap of 0)
    return value is False or value is None


def _column_or_none(value: Any) -> str | None:
    return None if value is False or value is None or value == "" else str(value)


def _as_date(value: Any) -> _dt.date | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    return _dt.date.fromisoformat(str(value))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _one_of(choices: Sequence[str]) -> _Check:
    def check(v: Any, _: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
        if isinstance(v, str) and v not in choices:
            yield "", " or ".join(map(repr, choices)), v

    return check


def _positive_seconds(v: Any, _: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    if isinstance(v, _NUMBER) and not isinstance(v, bool) and v <= 0:
        yield "", "a positive number of seconds", v


def _iso_date(v: Any, _: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    if isinstance(v, str):
        try:
            _dt.date.fromisoformat(v)
        except ValueError:
            yield "", "a date such as 2027-03-01", v


def _chain_or_direct(v: Any, _: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    if isinstance(v, str) and v not in ("chain", "direct"):
        yield "", '"chain", "direct" or false', v


def _id_pairs(v: Any, _: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    if isinstance(v, list):
        for item in v:
            if not (
                isinstance(item, list)
                and len(item) == 2
                and all(isinstance(x, str | int) for x in item)
            ):
                yield "", 'a list of ["mentor id", "mentee id"] pairs', item
                return


def _at_least_zero(v: Any, _: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    if _is_int(v) and v < 0:
        yield "", "a whole number ≥ 0", v


def _group_sizes(v: Any, table: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    hi = table.get("max_size", 7)
    if isinstance(v, int) and isinstance(hi, int) and not 1 <= v <= hi:
        yield "", f"a whole number from 1 to max_size ({hi})", v


def _counts_per_column(v: Any, _: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    if isinstance(v, dict):
        for column, n in v.items():
            if not _is_int(n) or n < 1:
                yield f".{column}", "a whole number ≥ 1", n


def _min_level_gap(v: Any, t: Mapping[str, Any], b: _Build) -> list[R.Rule]:
    direction = str(t.get("level_direction", "above"))
    return [] if _is_off(v) else [R.MinLevelGap(int(v), direction=direction)]


def _max_level_gap(v: Any, t: Mapping[str, Any], b: _Build) -> list[R.Rule]:
    direction = str(t.get("level_direction", "above"))
    return [] if _is_off(v) else [R.MaxLevelGap(int(v), direction=direction)]


def _level_within(v: Any, t: Mapping[str, Any], b: _Build) -> list[R.Rule]:
    return [] if _is_off(v) else [R.LevelWithin(int(v))]


def _not_manager(v: Any, t: Mapping[str, Any], b: _Build) -> list[R.Rule]:
    return [] if _is_off(v) else [R.NotManager(chain=(v == "chain"))]


def _opt_in(v: Any, t: Mapping[str, Any], b: _Build) -> list[R.Rule]:
    return [] if _is_off(v) else [R.OptIn(column=str(v))]


def _shared_language(v: Any, t: Mapping[str, Any], b: _Build) -> list[R.Rule]:
    return [R.SharedLanguage()] if v else []


def _exclude(v: Any, t: Mapping[str, Any], b: _Build) -> list[R.Rule]:
    # a programme's exclusions must name people in the rosters (never ignored silently)
    return [R.Exclude(tuple((str(x), str(y)) for x, y in v), strict=True)] if v else []


def _require(v: Any, t: Mapping[str, Any], b: _Build) -> list[R.Rule]:
    return [R.Require(tuple((str(x), str(y)) for x, y in v))] if v else []


def _history(v: Any, t: Mapping[str, Any], b: _Build) -> list[R.Rule]:
    if _is_off(v):
        return []
    only_failed = bool(t.get("only_failed", False))
    return [R.NoRepeat(_read_history(b.base_dir / str(v)), only_failed=only_failed)]


#: ``accessibility = { ... }`` (in ``[rules]`` and ``[peers]``); ``true`` takes these defaults.
ACCESSIBILITY: dict[str, _Key] = {
    "min_overlap_hours": _Key(_NUMBER, default=2.0),
    "same_site": _Key(bool, default=True),
    "remote_column": _Key(str, default="remote_ok"),
}


def _accessible(v: Any, t: Mapping[str, Any], b: _Build) -> list[R.Rule]:
    if _is_off(v):
        return []
    spec = {} if v is True else dict(v)

    def get(key: str) -> Any:
        return spec.get(key, ACCESSIBILITY[key].default)

    return [
        R.Accessible(
            min_overlap_hours=float(get("min_overlap_hours")),
            same_site=bool(get("same_site")),
            remote_column=get("remote_column"),
            at=b.at,
        )
    ]


def _read_history(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(
            f"history file {path} does not exist. Fix: check `rules.history` in the programme."
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(
            f"history file {path} cannot be read as CSV ({type(exc).__name__}). "
            "Fix: save it as a UTF-8 CSV with columns mentor_id, mentee_id."
        ) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("mentor_id", "mentee_id") if c not in frame.columns]
    if missing:
        raise InputError(
            f"history file {path} must have columns mentor_id and mentee_id; "
            f"missing {', '.join(missing)} (found {', '.join(frame.columns)}). "
            "Fix: rename the columns."
        )
    return frame


# ---------------------------------------------------------------------------
# The key tables: one entry per key, checking and building together
# ---------------------------------------------------------------------------

#: ``[program] preset``: each names ``pairwise/data/preset_<name>.toml``, laid over the
#: embedded default programme before the user's file (see :func:`load_program`).
PRESETS: tuple[str, ...] = ("mentoring", "reverse", "buddy", "expert")

#: ``[program] objective``: the assignment objectives, and "stable" (pairs only).
PROGRAM_OBJECTIVES: tuple[str, ...] = (*OBJECTIVES, "stable")

_LEVELS = "a whole number of levels"
_COLUMN = "a column name"

# Value checks run table by table in :data:`SCHEMA` order and key by key in
# each table's order, so the entries below keep the order problems are listed in.
PROGRAM: dict[str, _Key] = {
    "name": _Key(str, default="Mentoring programme", value=str),
    "objective": _Key(str, default="total", check=_one_of(PROGRAM_OBJECTIVES), value=str),
    "time_limit": _Key(_NUMBER, default=30.0, check=_positive_seconds, value=float),
    "date": _Key((_dt.date, str), check=_iso_date, value=_as_date, target="at"),
    "seed": _Key(int, default=0, value=int),
    "preset": _Key(str, default="mentoring", check=_one_of(PRESETS), value=str),
    "allow_protected": _Key(bool, default=False),
    "protected": _Key(list, default=PROTECTED_COLUMNS, names=True),
    "strict": _Key(bool, default=False),
}

#: ``[rules]``: in the order the pair model applies them (the order of reasons).
RULES: dict[str, _Key] = {
    "min_level_gap": _Key((int, bool), default=2, off=_LEVELS, rules=_min_level_gap),
    "max_level_gap": _Key((int, bool), off=_LEVELS, rules=_max_level_gap),
    "level_within": _Key((int, bool), off=_LEVELS, rules=_level_within),
    "level_direction": _Key(str, default="above", check=_one_of(R.LEVEL_DIRECTIONS)),
    "not_manager": _Key((str, bool), default="chain", check=_chain_or_direct, rules=_not_manager),
    "opt_in": _Key((str, bool), off=_COLUMN, rules=_opt_in),
    "accessibility": _Key((dict, bool), default=True, table=ACCESSIBILITY, rules=_accessible),
    "shared_language": _Key(bool, default=True, rules=_shared_language),
    "exclude": _Key(list, check=_id_pairs, rules=_exclude),
    "require": _Key(list, check=_id_pairs, rules=_require),
    "history": _Key((str, bool), off="a file name", rules=_history),
    "only_failed": _Key(bool, default=False),  # read by ``history``
}

PAIRS: dict[str, _Key] = {
    "capacity": _Key(int, default=1, check=_at_least_zero, value=int),
    "capacity_column": _Key(str, default="capacity", value=_column_or_none),
    "min_load": _Key(int, default=0, check=_at_least_zero, value=int),
    "priority_column": _Key((str, bool), default="priority", off=_COLUMN, value=_column_or_none),
    "top_k": _Key(int, default=0, check=_at_least_zero, value=int),
}

PEERS: dict[str, _Key] = {
    "level_within": _Key((int, bool), default=1, off=_LEVELS, rules=_level_within),
    "criteria": _Key(list, kind="criteria"),
    "accessibility": _Key((dict, bool), default=True, table=ACCESSIBILITY, rules=_accessible),
    "shared_language": _Key(bool, default=True, rules=_shared_language),
}

#: ``[groups]``: every key is a field of :class:`GroupOptions`; two also make group rules.
GROUPS: dict[str, _Key] = {
    "min_size": _Key(int, default=5, check=_group_sizes, value=int),
    "max_size": _Key(int, default=7, value=int),
    "min_level_gap": _Key(
        (int, bool),
        default=2,
        off=_LEVELS,
        value=lambda v: None if _is_off(v) else int(v),
        rules=_min_level_gap,
    ),
    "min_distinct": _Key(dict, default={}, check=_counts_per_column, value=dict),
    "max_count": _Key(dict, default={}, check=_counts_per_column, value=dict),
    "no_isolation": _Key(list, default=(), names=True, value=tuple),
    "common_hours": _Key(
        (*_NUMBER, bool),
        default=1.0,
        off="a number of hours",
        value=lambda v: None if _is_off(v) else float(v),
    ),
    "shared_language": _Key(bool, default=True, value=bool, rules=_shared_language),
    "diversity_columns": _Key(list, default=(), names=True, value=tuple),
    "diversity_weight": _Key(_NUMBER, default=0.0, value=float),
    "priority_column": _Key((str, bool), default="priority", off=_COLUMN, value=_column_or_none),
}

#: The schema of a programme file: every top-level table or array, and its keys.
SCHEMA: dict[str, _Key] = {
    "program": _Key(dict, table=PROGRAM),
    "columns": _Key(dict, kind="rename"),  # free mapping: input column -> pairwise column
    "criteria": _Key(list, kind="criteria"),
    "rules": _Key(dict, table=RULES),
    "groups": _Key(dict, table=GROUPS),
    "pairs": _Key(dict, table=PAIRS),
    "peers": _Key(dict, table=PEERS),
}

#: Which keys make each model's rules, in order, after ``NotSelf`` (the order of reasons).
#: ``not_manager`` and ``opt_in`` (who may develop whom) apply to all three models.
_COMMON = ("not_manager", "opt_in")
_PAIR_RULES = (("rules", tuple(k for k, v in RULES.items() if v.rules)),)
_PEER_RULES = (
    ("peers", ("level_within",)),
    ("rules", _COMMON),
    ("peers", ("accessibility", "shared_language")),
)
# pair-specific rules (exclude, require, history) name mentor-mentee pairs: not for groups
_GROUP_RULES = (
    ("groups", ("min_level_gap",)),
    ("rules", _COMMON),
    ("rules", ("accessibility",)),
    ("groups", ("shared_language",)),
)

#: Tables that a programme file replaces whole rather than merging into the default.
REPLACED_WHOLE = frozenset({("groups", "min_distinct"), ("groups", "max_count")})


# ---------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------


def _type_name(expected: _Expected) -> str:
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

    def typed(self, key: str, value: Any, expected: _Expected) -> bool:
        kinds = expected if isinstance(expected, tuple) else (expected,)
        # TOML true/false are bools; a bool is not a number here
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            self.bad(key, _type_name(expected), value)
        return ok

    def table(self, data: Mapping[str, Any], schema: Mapping[str, _Key], where: str) -> None:
        """Keys known and of the right type, sub-tables and criteria arrays included."""
        for key, value in data.items():
            if key not in schema:
                self.unknown(key, where, list(schema))
                continue
            spec, here = schema[key], f"{where}{key}"
            if spec.kind == "criteria":
                self.criteria(value, here)
            elif spec.kind == "rename":
                if not isinstance(value, dict) or not all(
                    isinstance(v, str) for v in value.values()
                ):
                    self.bad(here, 'a table of "input column" = "pairwise column"', value)
            elif spec.table is not None:
                if self.typed(here, value, spec.expected) and isinstance(value, dict):
                    self.table(value, spec.table, f"{here}.")
            else:
                self.typed(here, value, spec.expected)
            if value is True and spec.off is not None:
                self.bad(here, spec.off + " (or false)", value)
            if (
                spec.names
                and isinstance(value, list)
                and not all(isinstance(v, str) for v in value)
            ):
                self.bad(here, "a list of column names", value)

    def criteria(self, value: Any, where: str) -> None:
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            self.bad(where, "an array of tables ([[criteria]])", value)
            return
        for i, table in enumerate(value, start=1):
            here = f"{where}[{i}]"
            kind = table.get("kind")
            if kind not in CRITERIA:
                hint = difflib.get_close_matches(str(kind), list(CRITERIA), n=1)
                fix = (
                    f"did you mean `{hint[0]}`?" if hint else "valid kinds: " + ", ".join(CRITERIA)
                )
                self.problems.append(
                    f"`{here}.kind` must be one of {', '.join(CRITERIA)}; got {kind!r} "
                    f"in {self.source}; {fix}"
                )
                continue
            spec = CRITERIA[kind]
            allowed = {"kind": str, "weight": _NUMBER, **spec.keys}
            for key, item in table.items():
                if key not in allowed:
                    self.unknown(key, f"{here}.", list(allowed))
                else:
                    self.typed(f"{here}.{key}", item, allowed[key])
            weight = table.get("weight", 1.0)
            if isinstance(weight, _NUMBER) and not isinstance(weight, bool) and weight < 0:
                self.bad(f"{here}.weight", "a number ≥ 0", weight)
            for key, choices in spec.choices.items():
                chosen = table.get(key)
                if chosen is not None and chosen not in choices:
                    self.bad(f"{here}.{key}", " or ".join(map(repr, choices)), chosen)

    def values(self, data: Mapping[str, Any]) -> None:
        """Checks on values (types already checked), table by table in :data:`SCHEMA` order."""
        for section, spec in SCHEMA.items():
            table = data.get(section, {})
            for name, key in (spec.table or {}).items():
                value = table.get(name, key.default)
                if key.check is None or value is None:
                    continue
                for suffix, expected, got in key.check(value, table):
                    self.bad(f"{section}.{name}{suffix}", expected, got)

    def raise_if_any(self) -> None:
        if self.problems:
            shown = self.problems[:5]
            more = len(self.problems) - len(shown)
            text = "; ".join(shown) + (f"; … and {more} more" if more > 0 else "")
            raise InputError(text, self.problems)


# ---------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------


def _criteria(tables: Sequence[Mapping[str, Any]]) -> tuple[C.Criterion, ...]:
    return tuple(CRITERIA[t["kind"]].build(t) for t in tables)


def _fields(table: Mapping[str, Any], keys: Mapping[str, _Key]) -> dict[str, Any]:
    """The dataclass fields a table's keys fill (absent keys take their defaults)."""
    return {
        key.target or name: key.value(table.get(name, key.default))
        for name, key in keys.items()
        if key.value is not None
    }


def _rules(
    data: Mapping[str, Any], recipe: Sequence[tuple[str, Sequence[str]]], build: _Build
) -> tuple[tuple[R.Rule, ...], dict[str, str]]:
    """``NotSelf`` and the rules the recipe's keys make, in the recipe's order.

    Also returns the rules the user's programme file names (rule name ->
    ``"section.key"``): those are required, never skipped.
    """
    out: list[R.Rule] = [R.NotSelf()]
    required: dict[str, str] = {}
    for section, names in recipe:
        table = dict(data.get(section, {}))
        keys = SCHEMA[section].table or {}
        for name in names:
            make = keys[name].rules
            if make is not None:
                made = make(table.get(name, keys[name].default), table, build)
                if build.named(section, name):
                    required.update((rule.name, f"{section}.{name}") for rule in made)
                out += made
    return tuple(out), required


def _named_criteria(criteria: Sequence[C.Criterion], build: _Build, *path: str) -> dict[str, str]:
    """Criterion name -> ``criteria[i]`` for the criteria the user's file lists (all or none)."""
    where: Any = build.user
    for part in path:
        where = where.get(part, {}) if isinstance(where, Mapping) else {}
    if not isinstance(where, list):
        return {}
    key = ".".join(path)
    return {c.name: f"{key}[{i}]" for i, c in enumerate(criteria, start=1)}


def _model(
    criteria: Sequence[C.Criterion],
    rules: tuple[Sequence[R.Rule], Mapping[str, str]],
    build: _Build,
    named_criteria: Mapping[str, str],
) -> CompatibilityModel:
    return CompatibilityModel(
        criteria=tuple(criteria),
        rules=tuple(rules[0]),
        allow_protected=build.allow_protected,
        at=build.at,
        skip_missing=build.lenient,
        protected=build.protected,
        required={**named_criteria, **rules[1]},
    )


def build_program(
    data: Mapping[str, Any],
    *,
    base_dir: str | os.PathLike[str] | None = None,
    user: Mapping[str, Any] | None = None,
) -> Program:
    """Build a programme from a checked programme mapping (see :func:`parse_program`).

    Keys the mapping leaves out take their registry defaults (the peer criteria
    those of the default programme). Relative paths (``rules.history``) are
    resolved against ``base_dir`` (default: the current folder).

    ``user`` is what the user's own programme file says, when ``data`` is that
    file laid over the embedded default (as :func:`load_program` does): the
    criteria and rules it names are required — a column the rosters lack is
    then an error naming the key — while the others are skipped with a note.
    Default: nothing is required (pass ``user=data`` to require every
    criterion and rule that ``data`` names; ``program.strict = true`` requires
    all of them).

    Examples
    --------
    >>> program = build_program({"program": {"seed": 3}, "pairs": {"capacity": 2}})
    >>> program.seed, program.capacity, program.objective
    (3, 2, 'total')
    """
    build = _settings(
        data,
        Path(base_dir) if base_dir is not None else Path.cwd(),
        None,
        {} if user is None else user,
    )
    return _build_program(data, build)


def _settings(
    data: Mapping[str, Any], base_dir: Path, at: _dt.date | None, user: Mapping[str, Any]
) -> _Build:
    """The programme-wide settings every model shares; ``at`` overrides ``program.date``."""
    prog = dict(data.get("program", {}))
    return _Build(
        at=at if at is not None else _as_date(prog.get("date")),
        allow_protected=bool(prog.get("allow_protected", False)),
        # the default programme's criteria and rules on a column the rosters lack
        # are skipped with a note in the result (strict = true makes it an error);
        # those the user's file names are always required
        lenient=not bool(prog.get("strict", False)),
        base_dir=base_dir,
        protected=tuple(str(c) for c in prog.get("protected", PROTECTED_COLUMNS)),
        user=user,
    )


def _build_program(data: Mapping[str, Any], build: _Build) -> Program:
    crit = _criteria(data.get("criteria", []))
    peers_cfg = dict(data.get("peers", {}))
    # without its own [[peers.criteria]], a pool uses the default programme's peer
    # criteria (mutual skills <-> wants, shared goals, mutual preferences, ...)
    peer_tables = peers_cfg.get("criteria", _default_data()["peers"]["criteria"])
    peer_crit = _criteria(peer_tables)
    named = _named_criteria(crit, build, "criteria")
    return Program(
        model=_model(crit, _rules(data, _PAIR_RULES, build), build, named),
        peer_model=_model(
            peer_crit,
            _rules(data, _PEER_RULES, build),
            build,
            _named_criteria(peer_crit, build, "peers", "criteria"),
        ),
        group_model=_model(crit, _rules(data, _GROUP_RULES, build), build, named),
        **_fields(data.get("program", {}), PROGRAM),
        **_fields(data.get("pairs", {}), PAIRS),
        groups_options=_group_options(data, build),
        rename=dict(data.get("columns", {})),
    )


#: ``[groups]`` keys that name protégé columns: those of the default may be skipped.
_GROUP_COLUMN_KEYS = ("min_distinct", "max_count", "no_isolation", "diversity_columns")


def _group_options(data: Mapping[str, Any], build: _Build) -> GroupOptions:
    """The ``[groups]`` options, knowing which column keys came from the embedded default."""
    skippable = (
        frozenset(k for k in _GROUP_COLUMN_KEYS if not build.named("groups", k))
        if build.lenient
        else frozenset()
    )
    return GroupOptions(
        **_fields(data.get("groups", {}), GROUPS),
        protected=build.protected,
        skippable=skippable,
    )


# ---------------------------------------------------------------------------
# Default models: the default programme's, for code that builds its own
# ---------------------------------------------------------------------------


def _default_data() -> dict[str, Any]:
    return parse_toml_text(DEFAULT_PROGRAM_TOML, "the default programme")


def _default_build(at: _dt.date | None) -> Program:
    data = _default_data()
    return _build_program(data, _settings(data, Path.cwd(), at, {}))


def _with_history(model: CompatibilityModel, history: pd.DataFrame | None) -> CompatibilityModel:
    if history is None:
        return model
    return dataclasses.replace(model, rules=(*model.rules, R.NoRepeat(history)))


def default_model(
    at: _dt.date | None = None, *, history: pd.DataFrame | None = None
) -> CompatibilityModel:
    """The default programme's mentoring model (``load_program().model``), built in code.

    Criteria (weight): mentor's skills covering the mentee's wants (3), shared
    goals (2), ranked preferences of the mentee (2), a different function —
    cross-function exposure (1), a level gap near 2 (1), nearby time zones
    (1). Rules: not oneself, mentor at least 2 levels above, not in the
    mentee's reporting line, same site or 2 h of common working hours, a
    shared language and — when ``history`` is given — no repeat of earlier
    pairs. Both lists come from ``pairwise/data/default_program.toml``, where
    the opt-in rule is off: add ``rules.opt_in`` to a programme (or
    :class:`pairwise.rules.OptIn` to a model) to use it.

    Like the default programme, this model is lenient about columns: a
    criterion or rule whose columns are absent (or entirely blank) in a
    roster is skipped with a logged note (listed in ``Compatibility.notes``)
    instead of raising.

    Parameters
    ----------
    at : datetime.date, optional
        Day for time-zone offsets; default today.
    history : pandas.DataFrame, optional
        Earlier pairs (``mentor_id``, ``mentee_id``); adds ``NoRepeat``.

    Returns
    -------
    CompatibilityModel

    Examples
    --------
    >>> [c.name for c in default_model().criteria]  # doctest: +NORMALIZE_WHITESPACE
    ['complement_skills_wants', 'shared_goals', 'preferences', 'different_function',
     'level_gap', 'close_timezone']
    """
    return _with_history(_default_build(at).model, history)


def default_peer_model(
    at: _dt.date | None = None, *, history: pd.DataFrame | None = None
) -> CompatibilityModel:
    """The default programme's peer-learning model (``load_program().peer_model``).

    Criteria (weight), all symmetric: shared goals (2), skills meeting wants
    in both directions (2), a different function (1), nearby time zones (1),
    ranked preferences of either partner (1). Rules: not oneself, levels
    within 1, not in each other's reporting line, same site or 2 h of common
    working hours, a shared language, and no repeat when ``history`` is
    given. From ``[peers]`` of the default programme file; lenient about
    absent columns like :func:`default_model`.

    Parameters
    ----------
    at : datetime.date, optional
    history : pandas.DataFrame, optional

    Returns
    -------
    CompatibilityModel
        Score it with the same roster twice: ``model.score(people, people)``.

    Examples
    --------
    >>> [c.name for c in default_peer_model().criteria]  # doctest: +NORMALIZE_WHITESPACE
    ['shared_goals', 'complement_skills_wants', 'different_function', 'close_timezone',
     'preferences']
    """
    return _with_history(_default_build(at).peer_model, history)


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


def _preset_data(name: str) -> dict[str, Any]:
    """The overlay of preset ``name`` (``pairwise/data/preset_<name>.toml``), parsed."""
    text = resources.files("pairwise").joinpath("data", f"preset_{name}.toml").read_text("utf-8")
    return parse_toml_text(text, f"the {name} preset")


def _preset_name(preset: Any, user: Mapping[str, Any]) -> str:
    """The preset to use: the ``preset`` argument, else the file's, else ``"mentoring"``."""
    if preset is None:
        return str(dict(user.get("program", {})).get("preset", "mentoring"))
    if preset not in PRESETS:
        raise InputError(
            f"`preset` must be one of {', '.join(map(repr, PRESETS))}; got {preset!r} "
            '(load_program). Fix: pass e.g. preset="reverse", or None for the file\'s own.'
        )
    return str(preset)


def load_program(
    path: str | os.PathLike[str] | None = None, *, preset: str | None = None
) -> Program:
    """Load a programme from a TOML file (or the embedded default when ``path`` is None).

    The programme is built in three layers, each overriding the one before:
    the embedded default programme, the preset's defaults (``[program] preset``,
    or the ``preset`` argument), and the file's own keys.

    Parameters
    ----------
    path : path-like or None
        The programme file. Keys it leaves out keep the preset's, else the
        default programme's values (see :func:`merge_programs`). Relative
        paths inside it (``rules.history``) are resolved against the file's
        folder.
    preset : {"mentoring", "reverse", "buddy", "expert"}, optional
        Overrides the file's ``[program] preset`` (default: the file's, else
        ``"mentoring"``, the default programme as it is). See
        ``docs/configuration.md`` for what each preset sets.

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
    >>> pw.load_program(preset="reverse").model.rules[1].label()
    'mentor ≥ 2 levels below'
    """
    p = None if path is None else Path(path)
    user = {} if p is None else parse_program(_read_toml(p), source=str(p))
    name = _preset_name(preset, user)
    base = merge_programs(_default_data(), _preset_data(name))
    data = merge_programs(
        parse_program(base, source=f"the {name} preset"),
        merge_programs(user, {"program": {"preset": name}}),
    )
    if p is None:
        return build_program(data, user={})
    return build_program(data, base_dir=p.parent, user=user)


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


def default_program() -> Program:
    """The embedded default programme (same as ``load_program()``)."""
    return load_program(None)
