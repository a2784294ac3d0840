"""Shared benchmark plumbing: BLAS threads, JSON results beside each table, reference data.

The scripts import the *installed* package (``pip install -e ".[bench]"``, or run with
``PYTHONPATH=src``); nothing here edits ``sys.path``. Each script:

* calls :func:`limit_blas_threads` once and prints what it returns (one BLAS thread via
  threadpoolctl when installed: on small shared machines a second thread only adds noise);
* adds ``--json PATH`` with :func:`add_json_option` and ends with :func:`write_json`, which
  writes the printed tables' rows with the machine facts and the command (default
  ``benchmarks/results/<script>.json``);
* finds the MDGPLIB / OR-Library files with :func:`data_dir` (``$PAIRWISE_DATA_DIR`` or
  ``../shared/data``) and loads them with ``pairwise._benchdata``, the one loader the tests
  use too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:
    import pairwise
    from pairwise import _benchdata
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    raise SystemExit(
        f"benchmarks need the pairwise package ({exc}). Fix: pip install -e '.[bench]' "
        "from the repository root, or run with PYTHONPATH=src."
    ) from None

#: The repository root (the checkout this script lives in).
ROOT = Path(__file__).resolve().parents[1]
#: Where ``--json`` writes by default.
RESULTS = ROOT / "benchmarks" / "results"

_BLAS: dict[str, str] = {}


def limit_blas_threads(threads: int = 1) -> str:
    """Limit BLAS / OpenMP pools to ``threads`` for this process; say what was done.

    Uses threadpoolctl when installed (the ``bench`` extra). The sentence returned is meant
    to be printed and is also recorded in the JSON output.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        text = "BLAS threads: not limited (threadpoolctl not installed)"
    else:
        threadpool_limits(threads)
        text = f"BLAS threads: limited to {threads} (threadpoolctl)"
    _BLAS["blas"] = text
    return text


def data_dir(need: str = _benchdata.MDGPLIB) -> Path | None:
    """The reference-data folder holding ``need`` (e.g. ``"mdgplib/known_values.csv"``), or None."""
    return _benchdata.data_dir(ROOT, need)


# ---------------------------------------------------------------------------
# Machine-readable output
# ---------------------------------------------------------------------------


def add_json_option(parser: argparse.ArgumentParser, script: str) -> None:
    """Add ``--json PATH`` (default ``benchmarks/results/<script>.json``) to ``parser``."""
    parser.add_argument(
        "--json",
        type=Path,
        default=RESULTS / f"{Path(script).stem}.json",
        metavar="PATH",
        help="write the tables as JSON here (default: benchmarks/results/<script>.json)",
    )


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine() -> dict[str, Any]:
    """Facts that make a figure comparable: interpreter, CPU, load, library versions."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "load_average": list(load) if load else None,
        "versions": {
            name: _version(name)
            for name in ("numpy", "scipy", "pandas", "ortools", "networkx", "numba")
        }
        | {"pairwise": pairwise.__version__},
        "pairwise_from": str(Path(pairwise.__file__).parent),
        "git_commit": _git_commit(),
        "blas": _BLAS.get("blas", "BLAS threads: not set by the script"),
    }


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars and arrays to Python, NaN and infinities to None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_json(
    path: Path,
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    settings: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``tables`` (table name -> rows as dicts) with the machine facts and the command.

    ``settings`` records the run's parameters (profile, sizes, time limits). The file is
    written whole or not at all (a temporary file is renamed over it). Returns the path.
    """
    record = {
        "script": Path(sys.argv[0]).name,
        "command": shlex.join(["python", *sys.argv]),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": dict(settings or {}),
        "tables": {name: list(rows) for name, rows in tables.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_plain(record), indent=2) + "\n")
    os.replace(tmp, path)
    print(f"results written to {path}")
    return path
