"""Suite-wide test set-up: the ``seed`` fixture, hypothesis profiles, optional-dependency doctests.

Seeds: a test that takes a ``seed`` argument (and does not parametrise it itself) runs once
per seed of ``--seeds`` (or ``$PAIRWISE_SEEDS``): a comma-separated list of integers and
inclusive ranges, e.g. ``--seeds 0-99``; the default is ``0,1,2``.

Hypothesis profiles: ``ci`` (the default) keeps each test's own ``max_examples`` and makes runs
reproducible (derandomised, no example database, no deadline on these shared 2-core machines);
``thorough`` multiplies every test's ``max_examples`` by 10 and draws fresh examples each run.
Select it with ``HYPOTHESIS_PROFILE=thorough`` or ``--hypothesis-profile thorough``.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from hypothesis import is_hypothesis_test, settings

# --------------------------------------------------------------------------------------
# Hypothesis profiles
# --------------------------------------------------------------------------------------

# Every property test pins its own ``max_examples`` (its CI budget); a profile's value applies
# only to a test that pins none. ``thorough`` scales the pinned budgets (see below).
settings.register_profile(
    "ci", max_examples=50, deadline=None, derandomize=True, database=None, print_blob=True
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
# Loaded here, before any test module builds its ``settings(...)`` objects from the default;
# the hypothesis plugin's ``--hypothesis-profile`` option, read later, still wins.
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: How much each profile multiplies a test's own ``max_examples``.
EXAMPLES_FACTOR = {"ci": 1, "thorough": 10}


def _scale_examples(items: Iterable[pytest.Item], factor: int) -> None:
    """Multiply the pinned ``max_examples`` of every hypothesis test among ``items``."""
    done: set[int] = set()
    for item in items:
        test = getattr(item, "obj", None)
        if test is None or id(test) in done or not is_hypothesis_test(test):
            continue
        done.add(id(test))
        # Hypothesis reads a test's settings from this attribute at call time; there is no
        # public way to override an explicit ``@settings(max_examples=...)`` from outside.
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is None:
            warnings.warn("hypothesis internals changed: examples not scaled", stacklevel=1)
            return
        test._hypothesis_internal_use_settings = settings(
            own, max_examples=own.max_examples * factor
        )


# --------------------------------------------------------------------------------------
# The seed fixture
# --------------------------------------------------------------------------------------

DEFAULT_SEEDS = "0,1,2"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--seeds",
        default=None,
        help="seeds for tests taking the `seed` fixture: e.g. '0,1,2' or '0-99' "
        f"(default $PAIRWISE_SEEDS or {DEFAULT_SEEDS})",
    )


def parse_seeds(spec: str) -> list[int]:
    """Seeds from ``"0,1,2"``, ``"0-99"`` or a mix such as ``"0-4,17"``.

    >>> parse_seeds("0-3,17")
    [0, 1, 2, 3, 17]
    """
    seeds: list[int] = []
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    if not seeds:
        raise pytest.UsageError(f"--seeds {spec!r} names no seed")
    return seeds


def _parametrised_by_hand(metafunc: pytest.Metafunc, name: str) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if name in names:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seed" in metafunc.fixturenames and not _parametrised_by_hand(metafunc, "seed"):
        spec = metafunc.config.getoption("--seeds") or os.environ.get("PAIRWISE_SEEDS")
        # Plain ids (``test_x[0]``) as when a test parametrised its seeds itself.
        metafunc.parametrize("seed", parse_seeds(spec or DEFAULT_SEEDS), indirect=True, ids=str)


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A seed for a randomised test; the test runs once per seed (``--seeds`` chooses them)."""
    return int(request.param)


# --------------------------------------------------------------------------------------
# Collection: thorough examples, doctests needing an optional dependency
# --------------------------------------------------------------------------------------

#: Optional dependencies a doctest may import; it is skipped when one it names is absent.
OPTIONAL = ("matplotlib", "numba")


def _missing_optional(source: str, found: Callable[[str], Any]) -> list[str]:
    return [name for name in OPTIONAL if name in source and found(name) is None]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    factor = EXAMPLES_FACTOR.get(settings.get_current_profile_name() or "", 1)
    if factor != 1:
        _scale_examples(items, factor)
    for item in items:
        dtest = getattr(item, "dtest", None)  # a doctest item (``--doctest-modules``)
        if dtest is None:
            continue
        source = "".join(example.source for example in dtest.examples)
        missing = _missing_optional(source, importlib.util.find_spec)
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"doctest needs {', '.join(missing)}"))


HAS_DASK = importlib.util.find_spec("distributed") is not None


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A 2-process Dask LocalCluster client for the module (skips without distributed)."""
    if not HAS_DASK:
        pytest.skip("needs pairwise[dask] (distributed)")
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=40,
        ) as cluster,
        Client(cluster, set_as_default=False) as connected,
    ):
        yield connected
