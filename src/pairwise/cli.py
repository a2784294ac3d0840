"""The ``pairwise`` command: a thin shell over the public API (CSV in, CSV out, one TOML file).

A run a coordinator can trust:

- **Files all or nothing.** Every output file of a command is checked before
  anything is loaded or solved (an output may not name an input or another
  output, a folder, or a place that cannot be written; ``.xlsx`` needs
  openpyxl) and written only at the end, through temporary names renamed
  when all were written (:class:`pairwise._outputs.OutputPlan`).
- **Interrupts.** Ctrl-C (SIGINT) and SIGTERM stop the run, print one line
  and write nothing; exit 130 and 143.
- **Progress** goes to stderr: on a terminal, a status line (tqdm, from the
  ``progress`` extra) appears once a run has taken 2 s, with the phase, the
  time used of the limit and, for searches, the best objective and bound so
  far; without tqdm the same phases as plain lines. When stderr is not a
  terminal nothing is shown unless ``--verbose`` asks for plain lines.
  ``--quiet`` turns progress off.

Exit codes: 0 success; 1 no feasible solution (the diagnosis goes to stderr,
the files are written so that everyone is accounted for); 2 bad input or
usage; 130 interrupted; 143 terminated. Errors are one plain sentence each on
stderr, never a traceback (``--debug`` shows one).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from ._outputs import OutputPlan
from ._run import Progress, Run, Terminated, interrupts_raise
from .errors import InfeasibleError, InputError, PairwiseError

__all__ = ["main"]

EXIT_OK, EXIT_INFEASIBLE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143
#: The reader of standard output went away (``pairwise ... | head``): 128 + SIGPIPE, as a
#: shell reports a command stopped by a closed pipe.
EXIT_BROKEN_PIPE = 141
#: Seconds a run works before progress is shown on a terminal.
PROGRESS_DELAY = 2.0
#: Items of a list shown in one message before "... and N more".
SHOWN = 5

_EXIT_CODES = """\
exit codes:
  0    done
  1    no feasible solution (e.g. min_load or --max-changes cannot be met):
       nothing was written; the reasons go to stderr
  2    bad input or usage: nothing was written
  130  interrupted (Ctrl-C): nothing was written
  143  terminated (SIGTERM): nothing was written"""

_FILES_NOTE = """\
Output files are checked before any work (an output may not name an input, another
output or a folder) and written all or none, at the end. A name ending in .xlsx is
written as an Excel workbook (needs: pip install "pairwise[excel]"); floats are
rounded to 4 decimals, --json keeps full precision."""

_PROGRESS_NOTE = """\
progress: on a terminal, runs over 2 s show the phase, the time used and, for searches,
the best objective and bound on stderr (a live line with pip install "pairwise[progress]",
else plain lines); --verbose prints plain lines anywhere; --quiet shows nothing."""

_EPILOGS = {
    "pairs": f"""\
example:
  pairwise pairs --mentors mentors.csv --mentees mentees.csv --out pairs.csv

files written:
  --out FILE        one row per pair: mentor_id, mentor_name, mentee_id, mentee_name,
                    score, then fit_<criterion> (each criterion's share of the score)
  --unmatched FILE  everyone in no pair: id, name, role, reason
                    (default: beside --out, e.g. pairs.unmatched.csv)
  --json FILE       the whole result, full precision (only when given)
  --report FILE     the review report, one self-contained HTML file (only when given)
  (changes)         with --previous, beside --out, e.g. pairs.changes.csv: mentor_id,
                    mentee_id, change (kept / broken / new), why
{_FILES_NOTE}

re-matching a new cohort:
  pairwise pairs --mentors M.csv --mentees E.csv --out pairs.csv \\
      --previous last_pairs.csv --pin pins.csv --max-changes 5

{_PROGRESS_NOTE}

{_EXIT_CODES}""",
    "groups": f"""\
example:
  pairwise groups --leaders leaders.csv --members proteges.csv --out groups.csv

files written:
  --out FILE        one row per placed protégé: group, leader_id, leader_name,
                    member_id, member_name, fit
  (summary)         one row per group beside --out, e.g. groups.summary.csv: size,
                    mean and lowest fit, distinct values and each rule met (True/False)
  --unmatched FILE  every protégé and leader in no group: id, name, role, reason
                    (default: beside --out, e.g. groups.unmatched.csv)
  --json FILE       the whole result, full precision (only when given)
  --report FILE     the review report, one self-contained HTML file (only when given)
{_FILES_NOTE}

{_PROGRESS_NOTE}

{_EXIT_CODES}""",
    "suggest": f"""\
examples:
  pairwise suggest --mentors mentors.csv --mentees mentees.csv --out suggestions.csv -k 5
  pairwise suggest --mentors mentors.csv --skill python --skill sql --out experts.csv

files written:
  --out FILE        one row per suggestion: mentee_id, mentee_name, rank, featured,
                    mentor_id, mentor_name, score, regret, regret_exact, fewer_matched,
                    explanation (featured: the mentee's partner in the optimal plan)
  --unmatched FILE  mentees the optimal plan leaves without a mentor, and mentees with
                    no allowed mentor: id, name, role, reason (default: beside --out)
  --json FILE       the whole result, full precision (only when given)
{_FILES_NOTE}

{_PROGRESS_NOTE}

{_EXIT_CODES}""",
    "peers": f"""\
example:
  pairwise peers --people people.csv --out peers.csv

files written:
  --out FILE        one row per pair: person_a, person_a_name, person_b,
                    person_b_name, score
  --unmatched FILE  everyone without a partner: id, name, role, reason
                    (default: beside --out, e.g. peers.unmatched.csv)
  --json FILE       the whole result, full precision (only when given)
  --report FILE     the review report, one self-contained HTML file (only when given)
{_FILES_NOTE}

{_PROGRESS_NOTE}

{_EXIT_CODES}""",
    "demo": f"""\
example:
  pairwise demo --out pairwise-demo

files written in --out DIR (all or none, at the end):
  mentors.csv mentees.csv leaders.csv proteges.csv people.csv   the demo rosters
  pairs.csv pairs.unmatched.csv                                 as `pairwise pairs`
  groups.csv groups.summary.csv groups.unmatched.csv            as `pairwise groups`
  peers.csv peers.unmatched.csv                                 as `pairwise peers`
  report.html       the review report of all three (one self-contained HTML file;
                    --report FILE writes it elsewhere)

{_PROGRESS_NOTE}

{_EXIT_CODES}""",
    "compare": f"""\
examples:
  pairwise compare --config pilot.toml --config strict.toml \\
      --mentors mentors.csv --mentees mentees.csv --out compare.csv
  pairwise compare --config a.toml --config b.toml --people people.csv --out compare.csv

Runs each programme on the same rosters and puts the results side by side. The rosters
given choose the kind: --mentors and --mentees (pairs), --leaders and --members (groups)
or --people (peers). Each programme is named by its file name; each run has the time
limit (--time-limit, else the programme's own).

files written:
  --out FILE        one row per programme: programme, status, n, matched, matched_share,
                    pairs (groups), mean_score, lowest_score, objective, wall_time
  (audit)           beside --out, e.g. compare.audit.csv: per segment (column, value, n)
                    each programme's matched share and mean score; cells under 5 people
                    are blank
  (common)          beside --out, e.g. compare.common.csv: pairs (memberships) in common
                    between each two programmes
  --json FILE       the whole comparison (only when given)
{_FILES_NOTE}

{_PROGRESS_NOTE}

{_EXIT_CODES}""",
    "validate": """\
example:
  pairwise validate --config program.toml --mentors mentors.csv --mentees mentees.csv

Checks the programme file and the rosters given, and predicts who cannot be matched
(capacity shortfall, people with no allowed partner). Writes no file.

exit codes:
  0    no errors (warnings, printed as "warning: ...", do not stop a run)
  2    errors: a file or the programme cannot be used (one "pairwise: ..." line each)
  130  interrupted (Ctrl-C)
  143  terminated (SIGTERM)""",
}


class _Parser(argparse.ArgumentParser):
    """argparse that exits with code 2 and one plain sentence on usage errors."""

    def error(self, message: str) -> Any:  # pragma: no cover - argparse path
        self.print_usage(sys.stderr)
        sys.stderr.write(f"pairwise: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _run_options(p: argparse.ArgumentParser, *, time_limit: float | None = None) -> None:
    default = "the programme's time_limit, 30 s by default" if time_limit is None else time_limit
    p.add_argument(
        "--time-limit",
        type=float,
        default=time_limit,
        metavar="S",
        help=f"seconds for the whole run, load to files (default: {default})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None if time_limit is None else 0,
        metavar="N",
        help="random seed; the same inputs and seed give the same files "
        "(default: the programme's seed, 0)",
    )
    p.add_argument("--quiet", action="store_true", help="show no progress on stderr")
    p.add_argument("--verbose", action="store_true", help="print each phase of the run on stderr")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="P.toml",
        help="programme file: criteria, rules, time_limit, seed ... "
        "(default: the built-in programme)",
    )
    p.add_argument(
        "--unmatched",
        metavar="FILE",
        help="where to write everyone left out, with the reason (default: beside --out)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the whole result as JSON")
    p.add_argument(
        "--report",
        metavar="FILE.html",
        help="also write the review report: one self-contained HTML file (no network requests)",
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="score the candidates on a Dask cluster, e.g. tcp://10.0.0.5:8786 (needs "
        "pairwise[dask]; same result as locally, the solve stays here)",
    )
    _run_options(p)


def _sub(sub: Any, name: str, help: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=textwrap.fill(description, 88),
        epilog=_EPILOGS[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="pairwise",
        description="Form mentor pairs, peer partners and learning groups from CSV rosters.",
        epilog="example:\n  pairwise demo --out pairwise-demo\n  pairwise pairs --help\n\n"
        + _EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pairwise {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = _sub(
        sub,
        "demo",
        "run all three modes on the built-in organisation",
        "Run pairs, groups and peers on a built-in organisation of 300 people.",
    )
    demo.add_argument(
        "--out",
        default="pairwise-demo",
        metavar="DIR",
        help="output folder (default: %(default)s)",
    )
    demo.add_argument(
        "--report",
        metavar="FILE.html",
        help="where to write the review report of all three modes (default: report.html in --out)",
    )
    demo.add_argument(
        "--preset",
        default="mentoring",
        choices=("mentoring", "reverse", "buddy", "expert"),
        help="kind of programme (default: %(default)s; reverse: the demo's mentees mentor "
        "its mentors)",
    )
    _run_options(demo, time_limit=30.0)

    pairs = _sub(
        sub,
        "pairs",
        "mentor–mentee pairs (one-to-one or by capacity)",
        "Pair mentees with mentors: every mentee is matched when an allowed mentor has room "
        "(priority mentees first), then the total score is maximised.",
    )
    pairs.add_argument("--mentors", required=True, metavar="M.csv", help="mentor roster")
    pairs.add_argument("--mentees", required=True, metavar="E.csv", help="mentee roster")
    pairs.add_argument("--out", required=True, metavar="pairs.csv", help="pairs file to write")
    pairs.add_argument(
        "--previous",
        metavar="P.csv",
        help="last cohort's pairs (mentor_id, mentee_id): kept where still allowed, after the "
        "number matched and before the score; writes <out>.changes.csv",
    )
    pairs.add_argument(
        "--pin", metavar="PINS.csv", help="pairs that must be formed (mentor_id, mentee_id)"
    )
    pairs.add_argument(
        "--max-changes",
        type=int,
        metavar="K",
        help="break at most K of the previous pairs that could be kept (needs --previous)",
    )
    _common(pairs)

    groups = _sub(
        sub,
        "groups",
        "learning groups of five to seven protégés",
        "Form learning groups: each leader takes 5-7 protégés (the programme's [groups] "
        "table) and every composition rule holds in every group.",
    )
    groups.add_argument("--leaders", required=True, metavar="L.csv", help="leader roster")
    groups.add_argument("--members", required=True, metavar="P.csv", help="protégé roster")
    groups.add_argument("--out", required=True, metavar="groups.csv", help="groups file to write")
    groups.add_argument(
        "--previous",
        metavar="G.csv",
        help="last cohort's groups file (leader_id, member_id): memberships kept where still "
        "valid; writes <out>.changes.csv",
    )
    _common(groups)

    peers = _sub(
        sub,
        "peers",
        "peer learning partners from one pool",
        "Pair people of one pool as peer learning partners (about the same level).",
    )
    peers.add_argument("--people", required=True, metavar="P.csv", help="the pool's roster")
    peers.add_argument("--out", required=True, metavar="peers.csv", help="pairs file to write")
    peers.add_argument(
        "--previous",
        metavar="P.csv",
        help="last cohort's pairs (person_a, person_b): kept where still allowed; writes "
        "<out>.changes.csv",
    )
    _common(peers)

    compare = _sub(
        sub,
        "compare",
        "run two or more programmes on the same rosters, side by side",
        "Run each programme file on the same rosters and compare: matched, mean and lowest "
        "score, status, matched share by segment and pairs in common.",
    )
    compare.add_argument(
        "--config",
        action="append",
        required=True,
        metavar="P.toml",
        help="a programme file; give two or more (repeat the option)",
    )
    for name, role in (("mentors", "mentor"), ("mentees", "mentee"), ("leaders", "leader")):
        compare.add_argument(f"--{name}", metavar="F.csv", help=f"{role} roster")
    compare.add_argument("--members", metavar="P.csv", help="protégé roster (with --leaders)")
    compare.add_argument("--people", metavar="P.csv", help="the pool's roster (peers)")
    compare.add_argument(
        "--out", required=True, metavar="compare.csv", help="comparison file to write"
    )
    compare.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    compare.add_argument(
        "--report",
        metavar="FILE.html",
        help="also write one review report with a part per programme (self-contained HTML)",
    )
    _run_options(compare)

    suggest = _sub(
        sub,
        "suggest",
        "ranked mentor suggestions per mentee, or experts for skills",
        "Suggest up to k mentors per mentee, each with its score, regret (the optimal "
        "plan's score lost when that pair is chosen) and a one-line explanation; the first "
        "suggestion is the mentee's partner in the optimal plan. With --skill instead of "
        "--mentees: the mentors who can teach those skills.",
    )
    suggest.add_argument("--mentors", required=True, metavar="M.csv", help="mentor roster")
    suggest.add_argument("--mentees", metavar="E.csv", help="mentee roster (or --skill)")
    suggest.add_argument(
        "--skill",
        action="append",
        metavar="SKILL",
        help="a skill to find experts for (repeatable; instead of --mentees)",
    )
    suggest.add_argument(
        "-k", type=int, default=5, metavar="K", help="suggestions per mentee (default: 5)"
    )
    suggest.add_argument("--out", required=True, metavar="suggestions.csv", help="file to write")
    _common(suggest)

    validate = _sub(
        sub,
        "validate",
        "check a programme and rosters; print errors and warnings",
        "Check a programme file and rosters without solving.",
    )
    validate.add_argument(
        "--config", metavar="P.toml", help="programme file (default: the built-in programme)"
    )
    for name in ("mentors", "mentees", "leaders", "members", "people"):
        validate.add_argument(f"--{name}", metavar="F.csv", help=f"the {name} roster")
    validate.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


# --------------------------------------------------------------------------- progress


class _LiveProgress:
    """A tqdm status line on a terminal, shown once the run has worked ``delay`` seconds.

    A ticker thread redraws it twice a second (so the clock moves while a
    solver reports nothing); the run's reports only update what it shows.
    """

    def __init__(self, stream: TextIO, tqdm: Any, *, delay: float = PROGRESS_DELAY) -> None:
        self._stream, self._tqdm, self._delay = stream, tqdm, delay
        self._lock = threading.Lock()
        self._event: Progress | None = None
        self._seen_at = 0.0
        self._bar: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="pairwise-progress", daemon=True)
        self._thread.start()

    def __call__(self, event: Progress) -> None:
        with self._lock:
            self._event, self._seen_at = event, time.perf_counter()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self.draw()

    def draw(self) -> None:
        """Show (or refresh) the line when the run has worked long enough."""
        with self._lock:
            event = self._event
            if event is None:
                return
            elapsed = event.elapsed + time.perf_counter() - self._seen_at
            if elapsed < self._delay:
                return
            if self._bar is None:
                self._bar = self._tqdm(
                    total=event.limit,
                    file=self._stream,
                    leave=False,
                    dynamic_ncols=True,
                    bar_format=(
                        "pairwise: {desc} |{bar:20}| {n:.0f}/{total:.0f} s{postfix}"
                        if event.limit
                        else "pairwise: {desc} {n:.0f} s{postfix}"
                    ),
                )
            self._bar.set_description_str(event.phase, refresh=False)
            self._bar.set_postfix_str(_search_state(event), refresh=False)
            self._bar.n = min(elapsed, event.limit) if event.limit else elapsed
            self._bar.refresh()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        with self._lock:
            if self._bar is not None:
                self._bar.close()


class _PlainProgress:
    """One stderr line per phase (search reports at most every 5 s), after ``delay`` seconds."""

    def __init__(self, stream: TextIO, *, delay: float = 0.0, every: float = 5.0) -> None:
        self._stream, self._delay, self._every = stream, delay, every
        self._phase: str | None = None
        self._last = -float("inf")

    def __call__(self, event: Progress) -> None:
        if event.elapsed < self._delay:
            return
        new_phase = event.phase != self._phase
        if not new_phase and event.elapsed - self._last < self._every:
            return
        self._phase, self._last = event.phase, event.elapsed
        limit = f" of {event.limit:g} s" if event.limit else ""
        state = _search_state(event)
        state = f", {state}" if state else ""
        self._stream.write(f"pairwise: {event.phase} ({event.elapsed:.1f} s{limit}){state}\n")
        self._stream.flush()

    def close(self) -> None:
        pass


def _search_state(event: Progress) -> str:
    parts = []
    if event.done is not None and event.total:
        parts.append(f"{event.done}/{event.total}")
    if event.objective is not None:
        parts.append(f"best {event.objective:.6g}")
    if event.bound is not None:
        parts.append(f"bound {event.bound:.6g}")
    return ", ".join(parts)


def _progress_view(args: argparse.Namespace, stream: TextIO) -> Any:
    """The progress display this command asked for, or None (see the module docstring)."""
    if getattr(args, "quiet", False):
        return None
    if getattr(args, "verbose", False):
        return _PlainProgress(stream)
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return _PlainProgress(stream, delay=PROGRESS_DELAY)
    return _LiveProgress(stream, tqdm)


@contextmanager
def _started_run(args: argparse.Namespace) -> Iterator[Run]:
    """A :class:`Run` whose clock starts now, with the progress display; closed on exit."""
    view = _progress_view(args, sys.stderr)
    run = Run(time_limit=getattr(args, "time_limit", None), progress=view)
    try:
        yield run
    finally:
        if view is not None:
            view.close()
        run.progress = None


def _call(method: Callable[..., Any], *rosters: Any, run: Run, **options: Any) -> Any:
    """``method(*rosters, run=run, **options)``; without ``run`` when the method takes none."""
    if "run" in inspect.signature(method).parameters:
        return method(*rosters, run=run, **options)
    return method(*rosters, **options)


def _cluster(args: argparse.Namespace) -> dict[str, Any]:
    """``{"client": ADDRESS}`` when ``--dask ADDRESS`` is given, else nothing."""
    address = getattr(args, "dask", None)
    return {} if address is None else {"client": address}


# --------------------------------------------------------------------------- commands


def _program(args: argparse.Namespace, run: Run | None = None) -> Any:
    from .config import load_program

    program = load_program(getattr(args, "config", None))
    changes: dict[str, Any] = {}
    if getattr(args, "time_limit", None) is not None:
        if not args.time_limit > 0:
            raise InputError(
                f"--time-limit must be a positive number of seconds; got {args.time_limit}. "
                "Fix: pass e.g. --time-limit 30."
            )
        changes["time_limit"] = args.time_limit
    if getattr(args, "seed", None) is not None:
        changes["seed"] = args.seed
    program = program.replace(**changes) if changes else program
    if run is not None:
        run.time_limit = program.time_limit
    return program


def _plan(
    args: argparse.Namespace,
    inputs: dict[str, Any],
    *,
    summary: bool = False,
    changes: bool = False,
) -> tuple[OutputPlan, dict[str, str]]:
    """The outputs of a pairs / groups / peers command, checked before any work.

    Returns the plan and, for each table of the result (``main``,
    ``unmatched``, ``summary``), the plan's key (the option that names it).
    """
    from ._report import check_report_path
    from .results import changes_path_for, summary_path_for, unmatched_path_for

    keys = {"main": "--out", "unmatched": "--unmatched"}
    outputs: dict[str, Any] = {"--out": args.out}
    if args.unmatched is not None:
        outputs["--unmatched"] = args.unmatched
    else:
        keys["unmatched"] = "--unmatched (default, beside --out)"
        outputs[keys["unmatched"]] = unmatched_path_for(args.out)
    if summary:
        keys["summary"] = "the group summary (beside --out)"
        outputs[keys["summary"]] = summary_path_for(args.out)
    if changes:
        keys["changes"] = "the changes table (beside --out)"
        outputs[keys["changes"]] = changes_path_for(args.out)
    if args.json is not None:
        outputs["--json"] = args.json
    if args.report is not None:
        outputs["--report"] = check_report_path("--report", args.report)
    plan = OutputPlan(outputs, inputs={**inputs, "--config": getattr(args, "config", None)})
    plan.check()
    return plan, keys


def _finish(
    result: Any, args: argparse.Namespace, planned: tuple[OutputPlan, dict[str, str]], run: Run
) -> int:
    """Write every file (even when nothing was formed, so everyone is accounted for), report."""
    from .results import table_writer

    plan, key = planned
    files = result.files(args.out, unmatched=plan.outputs[key["unmatched"]])
    writers: dict[str, Callable[[Path], object]] = {
        key[name]: table_writer(table, target) for name, (target, table) in files.items()
    }
    if args.json is not None:
        text = result.to_json()
        writers["--json"] = lambda path: path.write_text(text + "\n", encoding="utf-8")
    if args.report is not None:
        writers["--report"] = _report_writer(result)
    run.phase("writing")
    written = plan.write(writers)
    _close_progress(run)
    print(result.summary(unmatched_file=files["unmatched"][0]))
    print("wrote " + ", ".join(str(p) for p in written))
    if result.status == "infeasible" or (result.main.empty and len(result.unmatched)):
        print("pairwise: no feasible solution: nothing could be formed.", file=sys.stderr)
        diagnosis = list(result.options.get("diagnosis") or ()) or list(
            result.unmatched["reason"].value_counts().index
        )
        for reason in diagnosis[:SHOWN]:
            print(f"  - {reason}", file=sys.stderr)
        if len(diagnosis) > SHOWN:
            print(
                f"  ... and {len(diagnosis) - SHOWN} more (see {files['unmatched'][0]})",
                file=sys.stderr,
            )
        return EXIT_INFEASIBLE
    return EXIT_OK


def _report_writer(results: Any) -> Callable[[Path], object]:
    """A writer of the review report of ``results`` (one result or a mapping label -> result).

    Without the wall time or the clock time: the same inputs and seed give the same file.
    """
    from ._report import render_report
    from ._suggest import SuggestionsResult

    if isinstance(results, SuggestionsResult):  # its own page: a table per mentee's list
        text = results.to_html()
    else:
        text = render_report(results, timings=False)
    return lambda path: path.write_text(text, encoding="utf-8")


def _close_progress(run: Run) -> None:
    """Clear the progress line before the summary is printed."""
    view = run.progress
    if view is not None and hasattr(view, "close"):
        view.close()
    run.progress = None


def _cmd_pairs(args: argparse.Namespace, run: Run) -> int:
    from .roster import load_roster

    if args.max_changes is not None and args.previous is None:
        raise InputError(
            f"--max-changes needs --previous (the pairs it counts changes against); got "
            f"--max-changes {args.max_changes} alone. Fix: add --previous last_pairs.csv."
        )
    inputs = {"--mentors": args.mentors, "--mentees": args.mentees}
    inputs.update({"--previous": args.previous, "--pin": args.pin})
    planned = _plan(args, inputs, changes=args.previous is not None)
    program = _program(args, run)
    run.phase("loading")
    mentors = load_roster(args.mentors, role="mentor", rename=program.rename)
    mentees = load_roster(args.mentees, role="mentee", rename=program.rename)
    lifecycle = {"pinned": args.pin, "previous": args.previous, "max_changes": args.max_changes}
    result = _call(program.pairs, mentors, mentees, run=run, **lifecycle, **_cluster(args))
    return _finish(result, args, planned, run)


def _cmd_groups(args: argparse.Namespace, run: Run) -> int:
    from .roster import load_roster

    inputs = {"--leaders": args.leaders, "--members": args.members, "--previous": args.previous}
    planned = _plan(args, inputs, summary=True, changes=args.previous is not None)
    program = _program(args, run)
    run.phase("loading")
    leaders = load_roster(args.leaders, role="leader", rename=program.rename)
    members = load_roster(args.members, role="protege", rename=program.rename)
    result = _call(
        program.groups, leaders, members, run=run, previous=args.previous, **_cluster(args)
    )
    return _finish(result, args, planned, run)


def _cmd_peers(args: argparse.Namespace, run: Run) -> int:
    from .roster import load_roster

    inputs = {"--people": args.people, "--previous": args.previous}
    planned = _plan(args, inputs, changes=args.previous is not None)
    program = _program(args, run)
    run.phase("loading")
    people = load_roster(args.people, role="person", rename=program.rename)
    result = _call(program.peers, people, run=run, previous=args.previous, **_cluster(args))
    return _finish(result, args, planned, run)


def _cmd_suggest(args: argparse.Namespace, run: Run) -> int:
    from .roster import load_roster

    planned = _plan(args, {"--mentors": args.mentors, "--mentees": args.mentees})
    program = _program(args, run)
    run.phase("loading")
    mentors = load_roster(args.mentors, role="mentor", rename=program.rename)
    mentees = None
    if args.mentees is not None:
        mentees = load_roster(args.mentees, role="mentee", rename=program.rename)
    result = program.suggest(mentors, mentees, skills=args.skill, k=args.k, run=run)
    return _finish(result, args, planned, run)


_ROLES = {
    "mentors": "mentor",
    "mentees": "mentee",
    "leaders": "leader",
    "members": "protege",
    "people": "person",
}


def _cmd_validate(args: argparse.Namespace, run: Run) -> int:
    from .roster import load_roster

    errors: list[str] = []
    program = None
    try:
        program = _program(args)
        print(f"programme: {args.config or 'built-in default'}: ok")
    except InputError as exc:
        errors.extend(exc.reasons)
    rename = program.rename if program is not None else None
    loaded: dict[str, Any] = {}
    for name, role in _ROLES.items():
        path = getattr(args, name)
        if path is None:
            continue
        try:
            loaded[name] = load_roster(path, role=role, rename=rename)
            print(f"{name}: {path}: {len(loaded[name])} rows ok")
        except InputError as exc:
            errors.extend(exc.reasons)
    warnings: tuple[str, ...] = ()
    if program is not None and not errors:
        report = program.validate(**loaded)
        errors.extend(report.errors)
        warnings = report.warnings
    for warning in warnings:
        print(f"warning: {warning}")
    for error in errors:
        print(f"pairwise: {error}", file=sys.stderr)
    if errors:
        return EXIT_USAGE
    print("no errors" + (f"; {len(warnings)} warning(s)" if warnings else "; no warnings"))
    return EXIT_OK


#: The kinds ``pairwise compare`` runs: the roster options each needs, and their roles.
_COMPARE_KINDS = {
    "pairs": (("mentors", "mentor"), ("mentees", "mentee")),
    "groups": (("leaders", "leader"), ("members", "protege")),
    "peers": (("people", "person"),),
}


def _compare_kind(args: argparse.Namespace) -> str:
    """The kind the roster options given ask for (exactly one complete set)."""
    given = {name for name, _ in _ROLES.items() if getattr(args, name) is not None}
    for kind, rosters in _COMPARE_KINDS.items():
        if given == {name for name, _ in rosters}:
            return kind
    got = ", ".join(f"--{n}" for n in _ROLES if n in given) or "none"
    raise InputError(
        "pairwise compare needs one set of rosters: --mentors and --mentees (pairs), "
        f"--leaders and --members (groups) or --people (peers); got {got}. Fix: give "
        "the rosters of one kind."
    )


def _cmd_compare(args: argparse.Namespace, run: Run) -> int:
    from ._compare import compare, comparison_paths
    from .results import table_writer
    from .roster import load_roster

    if len(args.config) < 2:
        raise InputError(
            f"pairwise compare needs two or more --config files; got {len(args.config)}. "
            "Fix: repeat the option, e.g. --config a.toml --config b.toml."
        )
    kind = _compare_kind(args)
    stems = [Path(c).stem for c in args.config]
    names = stems if len(set(stems)) == len(stems) else [str(c) for c in args.config]
    if len(set(names)) < len(names):
        raise InputError(
            f"--config must name different files; got {args.config}. "
            "Fix: give each programme once."
        )
    labels = {
        "main": "--out",
        "audit": "the audit (beside --out)",
        "common": "the overlaps (beside --out)",
    }
    outputs: dict[str, Any] = {labels[k]: p for k, p in comparison_paths(args.out).items()}
    if args.json is not None:
        outputs["--json"] = args.json
    if args.report is not None:
        from ._report import check_report_path

        outputs["--report"] = check_report_path("--report", args.report)
    inputs: dict[str, Any] = {f"--config {c}": c for c in args.config}
    inputs.update({f"--{n}": getattr(args, n) for n, _ in _COMPARE_KINDS[kind]})
    plan = OutputPlan(outputs, inputs=inputs)
    plan.check()
    programs = [_program(argparse.Namespace(**{**vars(args), "config": c})) for c in args.config]
    results = {}
    for name, program in zip(names, programs, strict=True):
        run.phase(f"{name}: loading")
        rosters = [
            load_roster(getattr(args, option), role=role, rename=program.rename)
            for option, role in _COMPARE_KINDS[kind]
        ]
        each = Run(time_limit=program.time_limit, progress=run.progress)
        results[name] = _call(getattr(program, kind), *rosters, run=each)
    comparison = compare(results)
    writers: dict[str, Callable[[Path], object]] = {
        labels[name]: table_writer(table, target)
        for name, (target, table) in comparison.files(args.out).items()
    }
    if args.json is not None:
        text = json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False)
        writers["--json"] = lambda path: path.write_text(text + "\n", encoding="utf-8")
    if args.report is not None:
        writers["--report"] = _report_writer(results)
    run.phase("writing")
    written = plan.write(writers)
    _close_progress(run)
    print(comparison.summary())
    print("wrote " + ", ".join(str(p) for p in written))
    return EXIT_OK


_DEMO_ROSTERS = ("mentors", "mentees", "leaders", "proteges", "people")


def _cmd_demo(args: argparse.Namespace, run: Run) -> int:
    from ._report import check_report_path
    from .config import load_program
    from .datasets import demo_rosters
    from .results import table_writer
    from .roster import load_roster

    out = Path(args.out)
    modes = ("pairs", "groups", "peers")
    targets: dict[str, Path] = {f"{n}.csv in --out": out / f"{n}.csv" for n in _DEMO_ROSTERS}
    for mode in modes:
        for part in ("", ".unmatched") + ((".summary",) if mode == "groups" else ()):
            targets[f"{mode}{part}.csv in --out"] = out / f"{mode}{part}.csv"
    report = "--report" if args.report is not None else "report.html in --out"
    targets[report] = check_report_path(
        "--report", args.report if args.report is not None else out / "report.html"
    )
    plan = OutputPlan(targets)
    plan.check()
    if not args.time_limit > 0:
        raise InputError(
            f"--time-limit must be a positive number of seconds; got {args.time_limit}. "
            "Fix: pass e.g. --time-limit 30."
        )
    # the whole demo has the time limit; each of the two searches (groups, peers) gets half
    # of it as its budget (pairs is exact and quick), the run's clock caps them all
    program = load_program(None, preset=args.preset).replace(
        time_limit=args.time_limit / 2, seed=args.seed
    )
    run.phase("loading")
    frames = demo_rosters()

    def roster(name: str, role: str) -> Any:
        return load_roster(frames[name], role=role)

    mentors, mentees = roster("mentors", "mentor"), roster("mentees", "mentee")
    if args.preset == "reverse":  # the juniors mentor, one senior each
        mentors = load_roster(frames["mentees"].assign(capacity=1), role="mentor")
        mentees = roster("mentors", "mentee")
    results = {
        "pairs": _call(program.pairs, mentors, mentees, run=run),
        "groups": _call(
            program.groups, roster("leaders", "leader"), roster("proteges", "protege"), run=run
        ),
        "peers": _call(program.peers, roster("people", "person"), run=run),
    }
    writers: dict[str, Callable[[Path], object]] = {
        f"{n}.csv in --out": table_writer(frames[n], out / f"{n}.csv") for n in frames
    }
    for mode, result in results.items():
        for part, (target, table) in result.files(out / f"{mode}.csv").items():
            label = f"{mode}.csv" if part == "main" else f"{mode}.{part}.csv"
            writers[f"{label} in --out"] = table_writer(table, target)
    writers[report] = _report_writer(results)
    run.phase("writing")
    plan.write(writers)
    _close_progress(run)
    print(f"demo organisation: inputs and results written to {out}/")
    print(f"review report: {plan.outputs[report]}")
    for mode, result in results.items():
        print(f"\n== {mode} ==")
        print(result.summary(unmatched_file=out / f"{mode}.unmatched.csv"))
    return EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace, Run], int]] = {
    "demo": _cmd_demo,
    "pairs": _cmd_pairs,
    "groups": _cmd_groups,
    "peers": _cmd_peers,
    "suggest": _cmd_suggest,
    "validate": _cmd_validate,
    "compare": _cmd_compare,
}


def _discard_stdout() -> None:
    """Point standard output at the null device so the exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (an embedding host)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 1, 2, 130, 141 or 143)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    debug = getattr(args, "debug", False)
    try:
        with interrupts_raise(), _started_run(args) as run:
            code = _COMMANDS[args.command](args, run)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
            return code
    except BrokenPipeError:
        # The reader stopped reading (``| head``): the files were already written, and the
        # rest of the summary has nowhere to go. Say nothing, like any other Unix filter.
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except Terminated:
        print("pairwise: terminated; no files were written", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("pairwise: interrupted; no files were written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except InfeasibleError as exc:
        if debug:
            raise
        print(f"pairwise: no feasible solution: {exc}", file=sys.stderr)
        reasons = [r for r in exc.reasons if r != str(exc)]
        for reason in reasons[:SHOWN]:
            print(f"  - {reason}", file=sys.stderr)
        if len(reasons) > SHOWN:
            print(f"  ... and {len(reasons) - SHOWN} more", file=sys.stderr)
        return EXIT_INFEASIBLE
    except PairwiseError as exc:
        if debug:
            raise
        print(f"pairwise: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        if debug:
            raise
        print(
            f"pairwise: cannot read or write {exc.filename or 'a file'}: "
            f"{exc.strerror or exc}. Fix: check the path and its permissions.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except Exception as exc:  # the CLI promises no tracebacks
        if debug:
            raise
        print(
            f"pairwise: unexpected error ({type(exc).__name__}: {exc}). "
            "Fix: check the inputs; rerun with --debug for the details.",
            file=sys.stderr,
        )
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
