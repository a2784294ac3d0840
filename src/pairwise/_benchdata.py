"""Readers of the external MDGPLIB reference instances, shared by the tests and the benchmarks.

The instances are not shipped with pairwise: they are looked up in ``$PAIRWISE_DATA_DIR`` or
in ``shared/data`` beside the checkout, and callers skip cleanly when they are absent. This
module lives in the package (private) because it is the one place both the test suite (``src``
on its path) and the benchmark scripts (the installed package, no path insertion) can import.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

__all__ = [
    "MDGPLIB",
    "data_dir",
    "load_mdgplib",
    "mdgplib_exact_optima",
    "mdgplib_known_values",
    "mdgplib_path",
]

#: Subfolder of the data folder holding MDGPLIB.
MDGPLIB = "mdgplib"


def data_dir(checkout: Path, need: str = MDGPLIB) -> Path | None:
    """The reference-data folder holding ``need``, or None when it is absent.

    ``$PAIRWISE_DATA_DIR`` wins; otherwise ``shared/data`` beside ``checkout`` (the repository
    root, which the caller knows: an installed package does not).

    >>> data_dir(Path("/nonexistent"), need="no-such-folder") is None
    True
    """
    env = os.environ.get("PAIRWISE_DATA_DIR")
    base = Path(env) if env else checkout.parent / "shared" / "data"
    return base if (base / need).exists() else None


def mdgplib_path(base: Path, name: str) -> Path:
    """Path of the instance ``name`` (e.g. ``RanReal_n010_ss_01``) under the data folder."""
    return base / MDGPLIB / name.split("_")[0] / f"{name}.txt"


def load_mdgplib(path: Path) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Read an MDGPLIB instance file: ``(distance, groups, min_size, max_size)``.

    The header is ``n m ss|ds a_1 b_1 ... a_m b_m`` (group g holds between ``a_g`` and
    ``b_g`` elements); then one ``i j d_ij`` line per pair, 0-based. The distance matrix is
    symmetric with a zero diagonal.
    """
    with path.open() as fh:
        head = fh.readline().split()
        n, m = int(head[0]), int(head[1])
        bounds = np.array(head[3 : 3 + 2 * m], dtype=np.int64)
        body = np.loadtxt(fh, ndmin=2)
    d = np.zeros((n, n))
    i, j = body[:, 0].astype(int), body[:, 1].astype(int)
    d[i, j] = body[:, 2]
    d[j, i] = body[:, 2]
    return d, m, bounds[0::2], bounds[1::2]


def mdgplib_known_values(base: Path) -> dict[str, dict[str, str]]:
    """Rows of ``mdgplib/known_values.csv`` by instance name (published best values, files)."""
    with (base / MDGPLIB / "known_values.csv").open() as fh:
        return {row["instance"]: row for row in csv.DictReader(fh)}


def mdgplib_exact_optima(base: Path) -> dict[str, float]:
    """Exact optima of the n = 10 and n = 12 instances (rounded to the files' 3 decimals)."""
    known = json.loads((base / MDGPLIB / "exact_small_solutions.json").read_text())
    return {name: entry["value"] for name, entry in known.items()}
