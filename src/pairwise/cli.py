"""The ``pairwise`` command: a thin shell over the public API (CSV in, CSV out, one TOML file).

Exit codes: 0 success; 1 no feasible solution (the diagnosis goes to stderr);
2 bad input or usage. Errors are one plain sentence each on stderr, never a
traceback (``--debug`` shows one).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InfeasibleError, InputError, PairwiseError

__all__ = ["main"]

EXIT_OK, EXIT_INFEASIBLE, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that exits with code 2 and one plain sentence on usage errors."""

    def error(self, message: str) -> Any:  # pragma: no cover - argparse path
        self.print_usage(sys.stderr)
        sys.stderr.write(f"pairwise: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="P.toml", help="programme file (default: built-in)")
    p.add_argument("--time-limit", type=float, metavar="S", help="override the solver time limit")
    p.add_argument("--seed", type=int, metavar="N", help="override the random seed")
    p.add_argument("--json", metavar="FILE", help="also write the full result as JSON")
    p.add_argument("--unmatched", metavar="FILE", help="where to write the unmatched list")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pairwise",
        description="Form mentor pairs, peer partners and learning groups from CSV rosters.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"pairwise {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = sub.add_parser("demo", help="run all three modes on the built-in organisation")
    demo.add_argument("--out", default="pairwise-demo", metavar="DIR", help="output folder")
    demo.add_argument("--time-limit", type=float, default=10.0, metavar="S")
    demo.add_argument("--seed", type=int, default=0, metavar="N")
    demo.add_argument("--debug", action="store_true", help="show tracebacks")

    pairs = sub.add_parser("pairs", help="mentor–mentee pairs (one-to-one or by capacity)")
    pairs.add_argument("--mentors", required=True, metavar="M.csv")
    pairs.add_argument("--mentees", required=True, metavar="E.csv")
    pairs.add_argument("--out", required=True, metavar="pairs.csv")
    _common(pairs)

    groups = sub.add_parser("groups", help="learning groups of five to seven protégés")
    groups.add_argument("--leaders", required=True, metavar="L.csv")
    groups.add_argument("--members", required=True, metavar="P.csv")
    groups.add_argument("--out", required=True, metavar="groups.csv")
    _common(groups)

    peers = sub.add_parser("peers", help="peer learning partners from one pool")
    peers.add_argument("--people", required=True, metavar="P.csv")
    peers.add_argument("--out", required=True, metavar="peers.csv")
    _common(peers)

    validate = sub.add_parser("validate", help="check a programme and rosters; print problems")
    validate.add_argument("--config", metavar="P.toml")
    for name in ("mentors", "mentees", "leaders", "members", "people"):
        validate.add_argument(f"--{name}", metavar="F.csv")
    validate.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _program(args: argparse.Namespace) -> Any:
    from .config import load_program

    program = load_program(getattr(args, "config", None))
    changes: dict[str, Any] = {}
    if getattr(args, "time_limit", None) is not None:
        if args.time_limit <= 0:
            raise InputError(
                f"--time-limit must be a positive number of seconds; got {args.time_limit}. "
                "Fix: pass e.g. --time-limit 30."
            )
        changes["time_limit"] = args.time_limit
    if getattr(args, "seed", None) is not None:
        changes["seed"] = args.seed
    return program.replace(**changes) if changes else program


def _write(result: Any, args: argparse.Namespace, out: str | Path) -> int:
    """Write the files (always, so every input id is accounted for) and pick the exit code."""
    main_path, other = result.to_csv(out, unmatched=getattr(args, "unmatched", None))
    print(result.summary())
    print(f"wrote {main_path} and {other}")
    if getattr(args, "json", None):
        result.to_json(args.json)
        print(f"wrote {args.json}")
    if result.status == "infeasible" or (result.main.empty and len(result.unmatched)):
        print("pairwise: no feasible solution: nothing could be formed.", file=sys.stderr)
        diagnosis = result.options.get("diagnosis") or list(
            result.unmatched["reason"].value_counts().head(5).index
        )
        for reason in diagnosis:
            print(f"  - {reason}", file=sys.stderr)
        return EXIT_INFEASIBLE
    return EXIT_OK


def _cmd_pairs(args: argparse.Namespace) -> int:
    from .roster import load_roster

    program = _program(args)
    mentors = load_roster(args.mentors, role="mentor", rename=program.rename)
    mentees = load_roster(args.mentees, role="mentee", rename=program.rename)
    return _write(program.pairs(mentors, mentees), args, args.out)


def _cmd_groups(args: argparse.Namespace) -> int:
    from .roster import load_roster

    program = _program(args)
    leaders = load_roster(args.leaders, role="leader", rename=program.rename)
    members = load_roster(args.members, role="protege", rename=program.rename)
    return _write(program.groups(leaders, members), args, args.out)


def _cmd_peers(args: argparse.Namespace) -> int:
    from .roster import load_roster

    program = _program(args)
    people = load_roster(args.people, role="person", rename=program.rename)
    return _write(program.peers(people), args, args.out)


def _cmd_validate(args: argparse.Namespace) -> int:
    from .roster import load_roster

    problems: list[str] = []
    program = None
    try:
        program = _program(args)
        print(f"programme: {args.config or 'built-in default'}: ok")
    except InputError as exc:
        problems.extend(exc.reasons)
    roles = {
        "mentors": "mentor",
        "mentees": "mentee",
        "leaders": "leader",
        "members": "protege",
        "people": "person",
    }
    rename = program.rename if program is not None else None
    loaded: dict[str, Any] = {}
    for name, role in roles.items():
        path = getattr(args, name)
        if path is None:
            continue
        try:
            loaded[name] = load_roster(path, role=role, rename=rename)
            print(f"{name}: {path}: {len(loaded[name])} rows ok")
        except InputError as exc:
            problems.extend(exc.reasons)
    if program is not None and not problems:
        problems.extend(program.validate(**loaded))
    for problem in problems:
        print(f"pairwise: {problem}", file=sys.stderr)
    if problems:
        return EXIT_USAGE
    print("no problems found")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from .config import load_program
    from .datasets import demo_rosters
    from .roster import load_roster

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames = demo_rosters()
    for name, frame in frames.items():
        frame.to_csv(out / f"{name}.csv", index=False)
    program = load_program(None).replace(time_limit=args.time_limit, seed=args.seed)

    def roster(name: str, role: str) -> Any:
        return load_roster(frames[name], role=role)

    runs = [
        ("pairs", lambda: program.pairs(roster("mentors", "mentor"), roster("mentees", "mentee"))),
        (
            "groups",
            lambda: program.groups(roster("leaders", "leader"), roster("proteges", "protege")),
        ),
        ("peers", lambda: program.peers(roster("people", "person"))),
    ]
    print(f"demo organisation: inputs written to {out}/")
    for name, run in runs:
        result = run()
        main_path, other = result.to_csv(out / f"{name}.csv")
        print(f"\n== {name} ==")
        print(result.summary())
        print(f"wrote {main_path} and {other}")
    return EXIT_OK


_COMMANDS = {
    "demo": _cmd_demo,
    "pairs": _cmd_pairs,
    "groups": _cmd_groups,
    "peers": _cmd_peers,
    "validate": _cmd_validate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 1 or 2)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    debug = getattr(args, "debug", False)
    try:
        return _COMMANDS[args.command](args)
    except InfeasibleError as exc:
        if debug:
            raise
        print(f"pairwise: no feasible solution: {exc}", file=sys.stderr)
        for reason in exc.reasons:
            if reason != str(exc):
                print(f"  - {reason}", file=sys.stderr)
        return EXIT_INFEASIBLE
    except PairwiseError as exc:
        if debug:
            raise
        print(f"pairwise: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        if debug:
            raise
        print(f"pairwise: cannot write output: {exc}. Fix: check the --out path.", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # pragma: no cover
        return 130
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
