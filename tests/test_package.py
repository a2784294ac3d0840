"""The public surface: __all__ is sorted and true, import has no side effects."""

from __future__ import annotations

import subprocess
import sys

import pairwise


def test_all_is_sorted_and_exists() -> None:
    assert list(pairwise.__all__) == sorted(pairwise.__all__)
    for name in pairwise.__all__:
        assert hasattr(pairwise, name), name


def test_solvers_all_is_sorted_and_exists() -> None:
    from pairwise import solvers

    assert list(solvers.__all__) == sorted(solvers.__all__)
    for name in solvers.__all__:
        assert hasattr(solvers, name), name


def test_import_does_not_load_ortools_or_touch_logging() -> None:
    code = (
        "import logging, sys, warnings; import numpy, pandas, scipy.sparse, networkx;"
        "before = list(logging.getLogger().handlers);"
        "filters = list(warnings.filters); import pairwise;"
        "assert not any(m.startswith('ortools') for m in sys.modules), 'ortools imported';"
        "assert logging.getLogger().handlers == before; assert warnings.filters == filters"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_py_typed_is_shipped() -> None:
    from importlib import resources

    assert resources.files("pairwise").joinpath("py.typed").is_file()
