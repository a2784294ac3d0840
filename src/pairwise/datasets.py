"""Synthetic organisations and the embedded demo rosters shipped in ``pairwise/data/``.

:func:`make_organisation` draws a realistic, seeded organisation with every
default roster column (a level pyramid, functions, sites in several time zones,
a reporting tree, skills and wants from one vocabulary, mentor capacity and the
protected attributes used by diversity rules). :func:`demo_rosters` returns the
five demo tables that ``pairwise demo`` runs on; they were drawn once with
``make_organisation(300, seed=2024)`` and are stored as CSV files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError
from .roster import DEFAULT_COLUMNS

__all__ = ["FUNCTIONS", "GOALS", "SITES", "SKILLS", "demo_rosters", "make_organisation"]

#: Functions and their share of the workforce.
FUNCTIONS: dict[str, float] = {
    "Engineering": 0.25,
    "Sales": 0.15,
    "Operations": 0.13,
    "Research": 0.09,
    "Product": 0.08,
    "Marketing": 0.09,
    "Finance": 0.09,
    "HR": 0.07,
    "Legal": 0.05,
}

#: The shared skills vocabulary: mentors' ``skills`` and everyone's ``wants``.
SKILLS: tuple[str, ...] = (
    "Python",
    "SQL",
    "Data analysis",
    "Machine learning",
    "Cloud architecture",
    "Software design",
    "Negotiation",
    "Public speaking",
    "Project management",
    "People management",
    "Financial modelling",
    "Budgeting",
    "Contract law",
    "Compliance",
    "Product strategy",
    "User research",
    "Marketing analytics",
    "Recruiting",
    "Coaching",
    "Stakeholder management",
)

#: Career goals (``goals`` column).
GOALS: tuple[str, ...] = (
    "Promotion readiness",
    "Leadership development",
    "Technical depth",
    "Cross-functional exposure",
    "International experience",
    "Building a network",
    "Work-life balance",
    "Career change",
)

_ETHNICITIES = (
    "White",
    "Asian",
    "Black",
    "Hispanic/Latino",
    "Middle Eastern/North African",
    "Mixed/Other",
)

#: Sites: time zone, share of the workforce, languages (with the share who speak
#: each), ethnicity mix (in the order of ``_ETHNICITIES``) and the name pool.
SITES: dict[str, dict[str, object]] = {
    "Berlin": {
        "timezone": "Europe/Berlin",
        "share": 0.17,
        "languages": {"English": 0.88, "German": 0.97},
        "ethnicity": (0.78, 0.06, 0.03, 0.02, 0.09, 0.02),
        "names": "german",
    },
    "London": {
        "timezone": "Europe/London",
        "share": 0.15,
        "languages": {"English": 1.0},
        "ethnicity": (0.62, 0.18, 0.10, 0.02, 0.02, 0.06),
        "names": "english",
    },
    "New York": {
        "timezone": "America/New_York",
        "share": 0.17,
        "languages": {"English": 1.0, "Spanish": 0.15},
        "ethnicity": (0.50, 0.13, 0.15, 0.17, 0.01, 0.04),
        "names": "english",
    },
    "Toronto": {
        "timezone": "America/Toronto",
        "share": 0.08,
        "languages": {"English": 1.0, "French": 0.35},
        "ethnicity": (0.52, 0.30, 0.08, 0.03, 0.03, 0.04),
        "names": "english",
    },
    "São Paulo": {
        "timezone": "America/Sao_Paulo",
        "share": 0.10,
        "languages": {"Portuguese": 1.0, "English": 0.7, "Spanish": 0.3},
        "ethnicity": (0.25, 0.03, 0.08, 0.62, 0.0, 0.02),
        "names": "portuguese",
    },
    "Bangalore": {
        "timezone": "Asia/Kolkata",
        "share": 0.15,
        "languages": {"English": 0.98, "Hindi": 0.7, "Kannada": 0.4},
        "ethnicity": (0.01, 0.97, 0.0, 0.0, 0.0, 0.02),
        "names": "indian",
    },
    "Singapore": {
        "timezone": "Asia/Singapore",
        "share": 0.10,
        "languages": {"English": 1.0, "Mandarin": 0.55, "Malay": 0.2, "Tamil": 0.08},
        "ethnicity": (0.04, 0.92, 0.0, 0.0, 0.0, 0.04),
        "names": "singapore",
    },
}

_EXTRA_LANGUAGES = ("Spanish", "French", "German", "Mandarin", "Hindi", "Arabic", "Japanese")

# Level pyramid for levels 1..6 (one level-7 head of the organisation on top).
_LEVEL_SHARES = np.array([0.30, 0.27, 0.21, 0.13, 0.06, 0.03])

_FUNCTION_SKILLS: dict[str, tuple[str, ...]] = {
    "Engineering": (
        "Python",
        "SQL",
        "Cloud architecture",
        "Software design",
        "Machine learning",
        "Data analysis",
    ),
    "Research": (
        "Machine learning",
        "Data analysis",
        "Python",
        "User research",
        "Public speaking",
    ),
    "Product": (
        "Product strategy",
        "User research",
        "Data analysis",
        "Stakeholder management",
        "Project management",
    ),
    "Sales": ("Negotiation", "Public speaking", "Stakeholder management", "Marketing analytics"),
    "Marketing": (
        "Marketing analytics",
        "Public speaking",
        "User research",
        "Data analysis",
        "Product strategy",
    ),
    "Finance": ("Financial modelling", "Budgeting", "SQL", "Data analysis", "Compliance"),
    "HR": ("Recruiting", "Coaching", "People management", "Compliance"),
    "Legal": ("Contract law", "Compliance", "Negotiation"),
    "Operations": (
        "Project management",
        "Budgeting",
        "Data analysis",
        "Stakeholder management",
        "SQL",
    ),
}
_GENERAL_SKILLS = (
    "People management",
    "Coaching",
    "Stakeholder management",
    "Project management",
    "Public speaking",
)

_WORK_HOURS = (
    ("09:00-17:00", 0.70),
    ("08:00-16:00", 0.10),
    ("10:00-18:00", 0.08),
    ("08:30-17:30", 0.05),
    ("07:00-15:00", 0.04),
    ("12:00-20:00", 0.03),
)
_SHIFTS = ("14:00-22:00", "22:00-06:00")

_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # region: (women's first names, men's first names, family names)
    "german": (
        ("Anna", "Lena", "Sophie", "Marie", "Katharina", "Julia", "Leonie", "Hannah", "Clara"),
        ("Lukas", "Jonas", "Felix", "Maximilian", "Paul", "Tobias", "Jan", "Florian", "Moritz"),
        (
            "Müller",
            "Schmidt",
            "Schneider",
            "Fischer",
            "Weber",
            "Wagner",
            "Becker",
            "Hoffmann",
            "Koch",
            "Richter",
            "Yilmaz",
            "Kaya",
        ),
    ),
    "english": (
        ("Emma", "Olivia", "Charlotte", "Amelia", "Grace", "Chloe", "Aisha", "Maria", "Sarah"),
        ("James", "Oliver", "Daniel", "Michael", "Thomas", "David", "Samuel", "Omar", "Kwame"),
        (
            "Smith",
            "Johnson",
            "Brown",
            "Williams",
            "Taylor",
            "Davies",
            "Wilson",
            "Clarke",
            "Patel",
            "Khan",
            "Garcia",
            "Nguyen",
            "Okafor",
            "Campbell",
            "Murphy",
            "Lee",
        ),
    ),
    "portuguese": (
        ("Ana", "Beatriz", "Camila", "Fernanda", "Juliana", "Larissa", "Mariana", "Gabriela"),
        ("João", "Pedro", "Lucas", "Rafael", "Gustavo", "Thiago", "Bruno", "Felipe"),
        (
            "Silva",
            "Santos",
            "Oliveira",
            "Souza",
            "Rodrigues",
            "Ferreira",
            "Alves",
            "Pereira",
            "Lima",
            "Gomes",
            "Costa",
            "Ribeiro",
        ),
    ),
    "indian": (
        ("Priya", "Ananya", "Divya", "Kavya", "Lakshmi", "Meera", "Neha", "Pooja", "Shreya"),
        ("Arjun", "Rahul", "Vikram", "Karthik", "Rohan", "Aditya", "Sanjay", "Nikhil", "Varun"),
        (
            "Sharma",
            "Iyer",
            "Reddy",
            "Rao",
            "Nair",
            "Gupta",
            "Kumar",
            "Menon",
            "Patel",
            "Krishnan",
            "Shetty",
            "Joshi",
        ),
    ),
    "singapore": (
        ("Mei Ling", "Hui Min", "Siti", "Nurul", "Wei Ting", "Jia Hui", "Xin Yi", "Divya"),
        ("Wei Jie", "Jun Hao", "Muhammad", "Hafiz", "Zhi Hao", "Ravi", "Kai Wen", "Ming"),
        (
            "Tan",
            "Lim",
            "Lee",
            "Ng",
            "Wong",
            "Goh",
            "Chua",
            "Chan",
            "Abdullah",
            "Rahman",
            "Koh",
            "Teo",
        ),
    ),
}

#: Demo files: name -> how many people (see :func:`_write_demo`).
_DEMO_SEED = 2024
_DEMO_PEOPLE = 300
_DEMO_LEADERS = 13
_DEMO_PROTEGES = 72
_DEMO_MENTEES = 110
_DEMO_NAMES = ("mentors", "mentees", "leaders", "proteges", "people")


def make_organisation(n_people: int = 500, *, seed: int = 0) -> pd.DataFrame:
    """Draw a synthetic organisation with every default roster column.

    Parameters
    ----------
    n_people : int
        Number of people (at least 1).
    seed : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives an
        identical frame.

    Returns
    -------
    pandas.DataFrame
        One row per person, columns in the order of
        :data:`pairwise.roster.DEFAULT_COLUMNS`. Levels form a pyramid from 1
        (many juniors) to 7 (one head of the organisation); ``manager_id``
        forms a tree (every manager is at least one level above, usually in the
        same function; the head's cell is empty); list cells are ``;``-joined
        text; ``capacity`` is 0 below level 4; ``priority`` is 2.0 for a share
        of junior people from groups that are often under-sponsored, else 1.0.

    Raises
    ------
    InputError
        When ``n_people`` is not a positive integer.

    Examples
    --------
    >>> org = make_organisation(50, seed=1)
    >>> len(org), int(org["level"].max()), int((org["manager_id"] == "").sum())
    (50, 7, 1)
    """
    if isinstance(n_people, bool) or not isinstance(n_people, int | np.integer) or n_people < 1:
        raise InputError(
            f"`n_people` must be a positive integer; got {n_people!r}. Fix: pass e.g. 500."
        )
    n = int(n_people)
    rng = np.random.default_rng(seed)
    width = max(4, len(str(n)))
    ids = np.array([f"P{k:0{width}d}" for k in range(1, n + 1)], dtype=object)

    level = _draw_levels(rng, n)
    function_names = list(FUNCTIONS)
    function = rng.choice(len(function_names), size=n, p=_normalised(FUNCTIONS.values()))
    site_names = list(SITES)
    site = rng.choice(len(site_names), size=n, p=_normalised(s["share"] for s in SITES.values()))

    gender = _draw_gender(rng, level)
    ethnicity = _draw_ethnicity(rng, level, site, site_names)
    names = _draw_names(rng, gender, site, site_names)
    work_hours = _draw_work_hours(rng, function, function_names)
    languages = _draw_languages(rng, site, site_names)
    skills = _draw_skills(rng, level, function, function_names)
    wants = _draw_wants(rng, level, function, function_names, skills)
    goals = _draw_goals(rng, level)
    manager = _draw_managers(rng, level, function)
    capacity = _draw_capacity(rng, level)
    remote_ok = rng.random(n) < 0.85
    under_sponsored = (gender != "Man") | np.isin(
        ethnicity, ["Black", "Hispanic/Latino", "Middle Eastern/North African"]
    )
    priority = np.where((level <= 3) & under_sponsored & (rng.random(n) < 0.4), 2.0, 1.0)
    preferences = _draw_preferences(rng, level, function, capacity, skills, wants, ids)

    frame = pd.DataFrame(
        {
            "id": ids,
            "name": names,
            "level": level.astype(np.int64),
            "function": np.array(function_names, dtype=object)[function],
            "site": np.array(site_names, dtype=object)[site],
            "timezone": np.array([SITES[s]["timezone"] for s in site_names], dtype=object)[site],
            "work_hours": work_hours,
            "languages": [";".join(v) for v in languages],
            "skills": [";".join(v) for v in skills],
            "wants": [";".join(v) for v in wants],
            "goals": [";".join(v) for v in goals],
            "manager_id": ["" if m < 0 else ids[m] for m in manager],
            "capacity": capacity.astype(np.int64),
            "remote_ok": remote_ok.astype(bool),
            "priority": priority.astype(np.float64),
            "preferences": [";".join(v) for v in preferences],
            "gender": gender,
            "ethnicity": ethnicity,
        }
    )
    return _typed(frame[list(DEFAULT_COLUMNS)])


def demo_rosters() -> dict[str, pd.DataFrame]:
    """The embedded demo tables (a fresh copy on every call).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"mentors"`` (level >= 4 with capacity > 0), ``"mentees"`` (a cohort
        of 110 people at levels 1-3), ``"leaders"`` (13 people at level >= 5),
        ``"proteges"`` (72 people at levels 1-3) and ``"people"`` (a peer
        pool: everyone at level 2 or 3),
        all from one organisation of 300 drawn with
        ``make_organisation(300, seed=2024)``.

    Examples
    --------
    >>> rosters = demo_rosters()
    >>> sorted(rosters)
    ['leaders', 'mentees', 'mentors', 'people', 'proteges']
    >>> len(rosters["leaders"]), len(rosters["proteges"])
    (13, 72)
    """
    data = resources.files("pairwise") / "data"
    out: dict[str, pd.DataFrame] = {}
    for name in _DEMO_NAMES:
        with (data / f"{name}.csv").open("rb") as handle:
            frame = pd.read_csv(handle, dtype=str, keep_default_na=False, encoding="utf-8")
        out[name] = _typed(frame)
    return out


def _write_demo(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """(Re)generate the demo CSV files in ``directory``; returns name -> path.

    The shipped files in ``pairwise/data/`` are exactly what this writes.
    """
    org = make_organisation(_DEMO_PEOPLE, seed=_DEMO_SEED)
    rng = np.random.default_rng(_DEMO_SEED + 1)
    level = org["level"].to_numpy()
    senior = np.flatnonzero(level >= 5)
    junior = np.flatnonzero(level <= 3)
    leaders = np.sort(rng.choice(senior, size=min(_DEMO_LEADERS, senior.size), replace=False))
    proteges = np.sort(rng.choice(junior, size=min(_DEMO_PROTEGES, junior.size), replace=False))
    # the mentoring cohort: the juniors who applied this round (fewer than the
    # mentors' total capacity, as in a programme that recruits mentors first)
    mentees = np.sort(rng.choice(junior, size=min(_DEMO_MENTEES, junior.size), replace=False))
    frames = {
        "mentors": org[(org["level"] >= 4) & (org["capacity"] > 0)],
        "mentees": org.iloc[mentees],
        "leaders": org.iloc[leaders],
        "proteges": org.iloc[proteges],
        "people": org[org["level"].isin([2, 3])],
    }
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name in _DEMO_NAMES:
        path = target / f"{name}.csv"
        frames[name].to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
        paths[name] = path
    return paths


# ---------------------------------------------------------------------------
# Drawing the columns
# ---------------------------------------------------------------------------


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """One set of dtypes for generated and re-read frames, so both compare equal."""
    out = frame.reset_index(drop=True).copy()
    for column in out.columns:
        if column in {"level", "capacity"}:
            out[column] = out[column].astype(np.int64)
        elif column == "priority":
            out[column] = out[column].astype(np.float64)
        elif column == "remote_ok":
            values = out[column].tolist()
            out[column] = np.array([v is True or str(v) == "True" for v in values], dtype=bool)
        else:
            out[column] = out[column].astype(object)
    return out


def _normalised(values: Iterable[Any]) -> np.ndarray:
    array = np.fromiter((float(v) for v in values), dtype=float)
    return array / array.sum()


def _draw_levels(rng: np.random.Generator, n: int) -> np.ndarray:
    # exact counts (largest remainder) keep the pyramid's shape even for small n
    rest = n - 1
    raw = _LEVEL_SHARES / _LEVEL_SHARES.sum() * rest
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: rest - counts.sum()]] += 1
    levels = np.concatenate([np.full(c, k + 1) for k, c in enumerate(counts)] + [np.array([7])])
    return rng.permutation(levels)


def _draw_gender(rng: np.random.Generator, level: np.ndarray) -> np.ndarray:
    # fewer women the higher the level, as most organisations still report
    woman = 0.50 - 0.03 * (level - 1)
    non_binary = np.where(level <= 3, 0.03, 0.01)
    u = rng.random(level.size)
    return np.where(
        u < woman, "Woman", np.where(u < woman + non_binary, "Non-binary", "Man")
    ).astype(object)


def _draw_ethnicity(
    rng: np.random.Generator, level: np.ndarray, site: np.ndarray, site_names: list[str]
) -> np.ndarray:
    mix = np.array([SITES[s]["ethnicity"] for s in site_names], dtype=float)
    weights = mix[site]
    # under-representation in senior ranks: Black, Hispanic/Latino and MENA staff thin out
    senior = level >= 5
    weights[senior, 2] *= 0.5
    weights[senior, 3] *= 0.5
    weights[senior, 4] *= 0.6
    weights /= weights.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(weights, axis=1)
    u = rng.random(level.size)[:, None]
    index = np.minimum((u >= cumulative).sum(axis=1), len(_ETHNICITIES) - 1)
    return np.array(_ETHNICITIES, dtype=object)[index]


def _draw_names(
    rng: np.random.Generator, gender: np.ndarray, site: np.ndarray, site_names: list[str]
) -> np.ndarray:
    u_first = rng.random(gender.size)
    u_last = rng.random(gender.size)
    out = np.empty(gender.size, dtype=object)
    for i in range(gender.size):
        women, men, family = _NAMES[str(SITES[site_names[site[i]]]["names"])]
        pool = women if gender[i] == "Woman" else men if gender[i] == "Man" else women + men
        first = pool[int(u_first[i] * len(pool))]
        out[i] = f"{first} {family[int(u_last[i] * len(family))]}"
    return out


def _draw_work_hours(
    rng: np.random.Generator, function: np.ndarray, function_names: list[str]
) -> np.ndarray:
    hours = np.array([h for h, _ in _WORK_HOURS], dtype=object)
    chosen = hours[
        rng.choice(len(hours), size=function.size, p=_normalised(p for _, p in _WORK_HOURS))
    ]
    # operations runs round the clock: some people work late or night shifts
    operations = function == function_names.index("Operations")
    shift = operations & (rng.random(function.size) < 0.15)
    chosen[shift] = np.array(_SHIFTS, dtype=object)[
        rng.integers(0, len(_SHIFTS), size=shift.sum())
    ]
    return chosen


def _draw_languages(
    rng: np.random.Generator, site: np.ndarray, site_names: list[str]
) -> list[tuple[str, ...]]:
    u = rng.random((site.size, 5))
    extra_u = rng.random(site.size)
    extra_pick = rng.integers(0, len(_EXTRA_LANGUAGES), size=site.size)
    out: list[tuple[str, ...]] = []
    for i in range(site.size):
        spoken = SITES[site_names[site[i]]]["languages"]
        assert isinstance(spoken, dict)
        chosen = [lang for k, (lang, p) in enumerate(spoken.items()) if u[i, k] < p]
        if not chosen:
            chosen = [next(iter(spoken))]
        extra = _EXTRA_LANGUAGES[extra_pick[i]]
        if extra_u[i] < 0.08 and extra not in chosen:
            chosen.append(extra)
        out.append(tuple(chosen))
    return out


def _weighted_order(
    rng: np.random.Generator, weights: np.ndarray, counts: np.ndarray
) -> list[list[int]]:
    """Per row, ``counts[i]`` column indices drawn without replacement by weight.

    Weighted random keys (Efraimidis and Spirakis): the largest ``u ** (1 / w)``
    win, i.e. the largest ``log(u) / w``; a zero weight is never drawn. The
    indices come in draw order, so the first is the strongest.
    """
    u = rng.random(weights.shape)
    with np.errstate(divide="ignore"):
        keys = np.where(weights > 0, np.log(u) / np.where(weights > 0, weights, 1.0), -np.inf)
    widest = int(counts.max(initial=0))
    if 0 < widest < weights.shape[1]:
        # only the best few keys matter: partition first, then sort just those
        top = np.argpartition(-keys, widest - 1, axis=1)[:, :widest]
        order = np.take_along_axis(
            top, np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable"), axis=1
        )
    else:
        order = np.argsort(-keys, axis=1, kind="stable")
    limit = np.minimum(counts, (weights > 0).sum(axis=1))
    return [order[i, : limit[i]].tolist() for i in range(weights.shape[0])]


def _skill_matrix(rows: list[tuple[str, ...]]) -> np.ndarray:
    column = {s: k for k, s in enumerate(SKILLS)}
    out = np.zeros((len(rows), len(SKILLS)), dtype=bool)
    for i, row in enumerate(rows):
        out[i, [column[s] for s in row]] = True
    return out


def _function_skills(function_names: list[str]) -> np.ndarray:
    return np.array(
        [[s in _FUNCTION_SKILLS[f] for s in SKILLS] for f in function_names], dtype=bool
    )


_KNOWN_SENIORS = 256
_GENERAL = np.array([s in _GENERAL_SKILLS for s in SKILLS])


def _draw_skills(
    rng: np.random.Generator, level: np.ndarray, function: np.ndarray, function_names: list[str]
) -> list[tuple[str, ...]]:
    own = _function_skills(function_names)[function]
    weights = np.where(own, 3.0, 0.4) + np.where((level >= 5)[:, None] & _GENERAL, 1.5, 0.0)
    counts = 2 + np.maximum(level - 3, 0) // 2 + rng.integers(0, 3, size=level.size)
    counts = np.where(level >= 3, counts, 0)  # only experienced people offer skills
    picked = _weighted_order(rng, weights, counts)
    return [tuple(SKILLS[j] for j in sorted(row)) for row in picked]


def _draw_wants(
    rng: np.random.Generator,
    level: np.ndarray,
    function: np.ndarray,
    function_names: list[str],
    skills: list[tuple[str, ...]],
) -> list[tuple[str, ...]]:
    own = _function_skills(function_names)[function]
    general = np.where(level >= 3, 2.5, 1.0)[:, None]  # leadership matters from mid-level up
    weights = np.where(own, 3.0, np.where(_GENERAL, general, 0.5))
    weights = np.where(_skill_matrix(skills), 0.0, weights)  # nobody wants what they have
    counts = rng.integers(1, 4, size=level.size)
    # in draw order: the first is the skill wanted most
    return [tuple(SKILLS[j] for j in row) for row in _weighted_order(rng, weights, counts)]


def _draw_goals(rng: np.random.Generator, level: np.ndarray) -> list[tuple[str, ...]]:
    junior = np.array([3.0, 1.0, 3.0, 1.5, 1.0, 3.0, 1.0, 0.5])
    senior = np.array([1.5, 3.0, 1.0, 2.0, 2.0, 1.5, 1.5, 0.5])
    weights = np.where((level <= 2)[:, None], junior, senior)
    counts = rng.integers(1, 3, size=level.size)
    return [tuple(GOALS[j] for j in row) for row in _weighted_order(rng, weights, counts)]


def _draw_managers(
    rng: np.random.Generator, level: np.ndarray, function: np.ndarray
) -> np.ndarray:
    """Manager position per person (-1 for the head).

    Always a higher level, usually the next one in the same function.
    """
    n = level.size
    manager = np.full(n, -1, dtype=np.int64)
    # each manager gets a share of the reports: spans of control vary
    span = rng.gamma(4.0, 1.0, size=n)
    skip = rng.random(n) < 0.12  # some report two levels up (flat teams)
    cross = rng.random(n) < 0.08  # and some to another function (matrix organisations)
    u = rng.random(n)
    pools: dict[tuple[str, int, int | None], tuple[np.ndarray, np.ndarray]] = {}

    def pool(kind: str, lv: int, fn: int | None) -> tuple[np.ndarray, np.ndarray]:
        key = (kind, lv, fn)
        if key not in pools:
            mask = level == lv if kind == "at" else level > lv
            if fn is not None:
                mask &= function == fn
            members = np.flatnonzero(mask)
            pools[key] = (members, np.cumsum(span[members]))
        return pools[key]

    for i in range(n):
        lv, fn = int(level[i]), int(function[i])
        if lv >= 7:
            continue
        wanted = lv + (2 if skip[i] else 1)
        tiers = (
            ("at", wanted, None if cross[i] else fn),
            ("above", lv, fn),
            ("at", lv + 1, None),
            ("above", lv, None),
        )
        for tier in tiers:
            members, weights = pool(*tier)
            if members.size:
                break
        manager[i] = members[np.searchsorted(weights, u[i] * weights[-1], side="right")]
    return manager


def _draw_capacity(rng: np.random.Generator, level: np.ndarray) -> np.ndarray:
    table = {
        4: [0.10, 0.30, 0.40, 0.20],
        5: [0.10, 0.20, 0.40, 0.30],
        6: [0.15, 0.25, 0.35, 0.25],
        7: [0.30, 0.30, 0.20, 0.20],
    }
    u = rng.random(level.size)
    out = np.zeros(level.size, dtype=np.int64)
    for lv, probs in table.items():
        rows = level == lv
        out[rows] = np.searchsorted(np.cumsum(probs), u[rows], side="right")
    return np.minimum(out, 3)


def _draw_preferences(
    rng: np.random.Generator,
    level: np.ndarray,
    function: np.ndarray,
    capacity: np.ndarray,
    skills: list[tuple[str, ...]],
    wants: list[tuple[str, ...]],
    ids: np.ndarray,
) -> list[tuple[str, ...]]:
    has = _skill_matrix(skills).astype(float)
    want = _skill_matrix(wants).astype(float)
    stating = np.flatnonzero((level <= 3) & (rng.random(level.size) < 0.3))
    counts = rng.integers(1, 4, size=level.size)
    mentors = np.flatnonzero(capacity > 0)
    out: list[tuple[str, ...]] = [() for _ in range(level.size)]
    for chunk in np.array_split(stating, max(1, stating.size // 512)):
        if chunk.size == 0:
            continue
        # in a large organisation a person knows only some of the seniors
        known = mentors
        if mentors.size > _KNOWN_SENIORS:
            known = np.sort(rng.choice(mentors, size=_KNOWN_SENIORS, replace=False))
        # people ask for seniors they know (same function) or who have what they want
        weights = (
            0.2
            + 2.0 * (function[chunk][:, None] == function[known][None, :])
            + want[chunk] @ has[known].T
        )
        weights[level[known][None, :] < level[chunk][:, None] + 2] = 0.0
        for i, row in zip(chunk, _weighted_order(rng, weights, counts[chunk]), strict=True):
            out[i] = tuple(str(ids[known[j]]) for j in row)
    return out
