"""One run of a programme: its wall-clock budget, its progress reports and interrupts.

A :class:`Run` starts its clock when it is made (the CLI makes it before
loading any file, so the budget covers load to files). Phases report through
:meth:`Run.phase` and searches through :meth:`Run.report`, which go to the
``progress=`` callback (when given) and to ``logging`` at INFO level.

SIGTERM is turned into :class:`Terminated`, a :class:`KeyboardInterrupt`, so
that one ``except KeyboardInterrupt`` path handles Ctrl-C and SIGTERM alike
(exit codes 130 and 143 in the CLI).

>>> run = Run(time_limit=10.0)
>>> run.remaining() <= 10.0 and not run.expired()
True
>>> events = []
>>> run = Run(time_limit=None, progress=events.append)
>>> run.phase("scoring")
>>> events[0].phase, run.remaining()
('scoring', None)
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["Progress", "Run", "Terminated", "interrupts_raise"]

logger = logging.getLogger("pairwise")


class Terminated(KeyboardInterrupt):
    """SIGTERM received: stop like Ctrl-C (the CLI exits with 143 instead of 130)."""


@dataclass(frozen=True)
class Progress:
    """One progress report.

    Attributes
    ----------
    phase : str
        What the run is doing: ``"loading"``, ``"scoring"``, ``"solving"``,
        ``"writing"``, ...
    elapsed : float
        Seconds since the run started.
    limit : float or None
        The run's wall-clock budget in seconds.
    objective, bound : float or None
        Best objective found so far and the best known bound, for searches.
    done, total : int or None
        Work done and total work, when the phase can count it.
    """

    phase: str
    elapsed: float
    limit: float | None = None
    objective: float | None = None
    bound: float | None = None
    done: int | None = None
    total: int | None = None


ProgressCallback = Callable[[Progress], None]


class Run:
    """The wall-clock budget and progress channel of one run.

    Parameters
    ----------
    time_limit : float or None
        Seconds for the whole run; None for no limit.
    progress : callable, optional
        Called with a :class:`Progress` at each phase and search report.
    """

    def __init__(
        self, time_limit: float | None = None, progress: ProgressCallback | None = None
    ) -> None:
        self.time_limit = time_limit
        self.progress = progress
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.start

    def remaining(self) -> float | None:
        """Seconds left of the budget (never negative), or None without a limit."""
        if self.time_limit is None:
            return None
        return max(0.0, self.time_limit - self.elapsed())

    def expired(self) -> bool:
        """Whether the budget is spent."""
        left = self.remaining()
        return left is not None and left <= 0.0

    def _emit(self, event: Progress) -> None:
        logger.info(
            "%s (%.1f s)%s",
            event.phase,
            event.elapsed,
            "" if event.objective is None else f": objective {event.objective:.6g}",
        )
        if self.progress is not None:
            self.progress(event)

    def phase(self, name: str, *, done: int | None = None, total: int | None = None) -> None:
        """Report that the run entered phase ``name``."""
        self._emit(Progress(name, self.elapsed(), self.time_limit, done=done, total=total))

    def report(
        self,
        name: str,
        *,
        objective: float | None = None,
        bound: float | None = None,
        done: int | None = None,
        total: int | None = None,
    ) -> None:
        """Report a search's best objective and bound so far."""
        self._emit(Progress(name, self.elapsed(), self.time_limit, objective, bound, done, total))


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within the block, SIGINT raises :class:`KeyboardInterrupt` and SIGTERM :class:`Terminated`.

    Python already raises ``KeyboardInterrupt`` on SIGINT; this also makes sure
    that a handler someone replaced (or ignored) is put back to that, and
    restores the previous handlers on exit. Only the main thread can install
    handlers; elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: object) -> None:
        raise Terminated

    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    old_term = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
