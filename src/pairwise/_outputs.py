"""Output files of a run: checked before any work, written all-or-nothing.

A run writes several files (the pairs, the unmatched list, JSON, a summary).
:class:`OutputPlan` refuses, before anything is solved, a target that names an
input file or another target, that is a directory, or that cannot be written;
:meth:`OutputPlan.write` writes every file to a temporary name beside its
target and renames them only when all were written, so an interrupted or
failed run leaves the previous files (and the inputs) untouched.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> plan = OutputPlan({"--out": folder / "pairs.csv"}, inputs={"--mentors": folder / "m.csv"})
>>> plan.check()
>>> written = plan.write({"--out": lambda path: path.write_text("a,b\\n")})
>>> [p.name for p in written]
['pairs.csv']
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from .errors import InputError

__all__ = ["EXCEL_SUFFIXES", "OutputPlan", "check_format", "is_excel"]

#: Suffixes written as a real workbook (needs openpyxl: ``pip install "pairwise[excel]"``).
EXCEL_SUFFIXES = (".xlsx",)
#: Spreadsheet formats pairwise cannot write; refused with a fix.
_REFUSED_SUFFIXES = (".xls", ".ods", ".numbers")

Writer = Callable[[Path], object]


def is_excel(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` asks for an Excel workbook (by its suffix)."""
    return Path(path).suffix.lower() in EXCEL_SUFFIXES


def check_format(option: str, path: str | os.PathLike[str]) -> None:
    """Refuse a spreadsheet format that cannot be written (or whose engine is missing)."""
    suffix = Path(path).suffix.lower()
    if suffix in _REFUSED_SUFFIXES:
        raise InputError(
            f"{option} must be a .csv or .xlsx file; got {str(path)!r} ({suffix} files cannot "
            f"be written). Fix: use {Path(path).with_suffix('.xlsx').name} or "
            f"{Path(path).with_suffix('.csv').name}."
        )
    if suffix in EXCEL_SUFFIXES:
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            raise InputError(
                f"{option} {str(path)!r} asks for an Excel workbook, which needs the optional "
                f'package openpyxl. Fix: pip install "pairwise[excel]", or write '
                f"{Path(path).with_suffix('.csv').name} instead."
            ) from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


class OutputPlan:
    """The output files of one run, keyed by the option that names each (``--out`` ...).

    Parameters
    ----------
    outputs : mapping of str to path
        Option name -> target file.
    inputs : mapping of str to path, optional
        Option name -> input file the run reads (never to be overwritten).
    """

    def __init__(
        self,
        outputs: Mapping[str, str | os.PathLike[str]],
        *,
        inputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
    ) -> None:
        self.outputs = {k: Path(v) for k, v in outputs.items()}
        self.inputs = {k: Path(v) for k, v in (inputs or {}).items() if v is not None}

    def check(self) -> None:
        """Refuse targets that name an input, each other, a directory or an unwritable place.

        Raises
        ------
        InputError
            Naming the option and the fix; nothing has been written.
        """
        seen: dict[Path, str] = {}
        for option, path in self.outputs.items():
            check_format(option, path)
            for in_option, in_path in self.inputs.items():
                if _same_file(path, in_path):
                    raise InputError(
                        f"{option} must not name an input file; got {str(path)!r}, which is "
                        f"the {in_option} file. Fix: write the output to another file name."
                    )
            key = path.resolve()
            if key in seen:
                raise InputError(
                    f"{option} and {seen[key]} must name different files; both are "
                    f"{str(path)!r}. Fix: give {option} another file name."
                )
            seen[key] = option
            self._check_writable(option, path)

    @staticmethod
    def _check_writable(option: str, path: Path) -> None:
        if path.is_dir():
            raise InputError(
                f"{option} must name a file; got {str(path)!r}, which is a folder. "
                f"Fix: name a file inside it, e.g. {str(path / 'results.csv')!r}."
            )
        folder = path.parent
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise InputError(
                f"{option} cannot be written: {str(existing)!r} is not a folder. "
                f"Fix: choose a path whose folders exist or can be created."
            )
        writable = os.access(existing, os.W_OK | os.X_OK)
        if path.exists() and not os.access(path, os.W_OK):
            writable = False
        if not writable:
            raise InputError(
                f"{option} cannot be written: no permission to write {str(path)!r}. "
                f"Fix: choose a folder you can write to."
            )

    def write(self, writers: Mapping[str, Writer]) -> list[Path]:
        """Write every file through ``writers[option](temporary_path)``; all or nothing.

        Each writer writes its whole file to the temporary path it is given.
        Only when every writer succeeded are the files renamed onto their
        targets (``os.replace``: atomic on one file system). On any failure,
        and on an interrupt, the temporary files are removed and no target
        is touched.

        Raises
        ------
        InputError
            A file could not be written; names its option.
        """
        temps: dict[str, Path] = {}
        created: list[Path] = []  # folders this call made, removed again on failure
        try:
            for option, write in writers.items():
                target = self.outputs[option]
                try:
                    created += _make_folders(target.parent)
                    fd, name = tempfile.mkstemp(
                        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
                    )
                    os.close(fd)
                    temps[option] = Path(name)
                    write(temps[option])
                except OSError as exc:
                    raise InputError(
                        f"{option} could not be written ({exc.strerror or exc}): "
                        f"{str(target)!r}. Fix: check the path, the free space and the "
                        f"permissions; no output file was changed."
                    ) from exc
            for option, temp in temps.items():
                os.replace(temp, self.outputs[option])
            temps.clear()
            created.clear()
        finally:
            for temp in temps.values():
                temp.unlink(missing_ok=True)
            for folder in reversed(created):
                with contextlib.suppress(OSError):
                    folder.rmdir()
        return [self.outputs[o] for o in writers]


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, outermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
    return list(reversed(missing))
