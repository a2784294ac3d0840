"""The exception tree: every error pairwise raises on purpose is a :class:`PairwiseError`."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["InfeasibleError", "InputError", "PairwiseError", "SolverError"]


class PairwiseError(Exception):
    """Base class of every error raised deliberately by pairwise.

    ``reasons`` holds the findings behind the error, one sentence each (at
    least the message itself), under the same name for every subclass.
    """

    def __init__(self, message: str, reasons: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.reasons: tuple[str, ...] = tuple(reasons) if reasons else (message,)


class InputError(PairwiseError, ValueError):
    """Bad input: a file, a table, a matrix or an option that cannot be used.

    The message says what was expected, what was found, where (file, row,
    column) and how to fix it. ``reasons`` holds one sentence per problem when
    several were collected before raising (``problems`` is the same tuple,
    kept as an alias; it is empty when only the message was given).
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message, problems)
        self._collected = bool(problems)

    @property
    def problems(self) -> tuple[str, ...]:
        """The collected problems (alias of ``reasons``; empty when there was only one)."""
        return self.reasons if self._collected else ()


class InfeasibleError(PairwiseError):
    """No assignment satisfies the rules; ``reasons`` says which rule and what to relax."""


class SolverError(PairwiseError, RuntimeError):
    """The solver failed for a reason other than infeasibility (e.g. no solution in time)."""
