"""Command line: ``analysis synth | validate | render | index | watchlist``.

Exit codes: 0 success; 1 a report failed or the data is invalid; 2 a usage or schedule error
(also an ``--out`` that is a file or cannot be written); 3 another render is writing to the same
``--out`` (after ``--wait`` seconds). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["build_parser", "main"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text}")
    return value


def _iso_date(text: str) -> str:
    from analysis.report.runner import resolve_as_of

    try:
        return resolve_as_of(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    from analysis import __version__
    from analysis.config import DEFAULT_SCHEDULE, ENGINES, REPORTS_DIR
    from analysis.report.runner import DEFAULT_WAIT

    parser = argparse.ArgumentParser(
        prog="analysis",
        description="Customer-retention survival analysis: synthetic data, validation, offline reports.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("synth", help="generate a synthetic portfolio and write it to a folder")
    p.add_argument("--customers", type=_positive_int, help="number of customers (default: generator's)")
    p.add_argument("--months", type=_positive_int, help="months in the observation window (default: generator's)")
    p.add_argument("--seed", type=int, help="random seed (default: generator's)")
    p.add_argument("--scenario", choices=("default", "feedback"), default="default",
                   help="generator scenario: default, or feedback (products raise AUM and tier, tier raises adoption, frailty)")
    p.add_argument("--out", type=Path, required=True, help="output folder")

    p = sub.add_parser("validate", help="check a data source and print the validation report")
    p.add_argument("data", help='data source: "synthetic", a folder, or a mapping YAML')

    p = sub.add_parser("render", help="render the scheduled reports to offline HTML")
    p.add_argument("--schedule", type=Path, default=DEFAULT_SCHEDULE, help=f"schedule YAML (default: {DEFAULT_SCHEDULE})")
    p.add_argument("--as-of", type=_iso_date, default=None, help="as-of date YYYY-MM-DD (default: end of the data window)")
    p.add_argument("--data", default="synthetic", help='data source (default: "synthetic")')
    p.add_argument(
        "--notebook", dest="notebooks", action="append", nargs="+", metavar="NAME",
        help="render only these scheduled notebooks (or report names); repeatable",
    )
    p.add_argument("--out", type=Path, default=REPORTS_DIR, help=f"reports folder (default: {REPORTS_DIR})")
    p.add_argument("--jobs", type=_positive_int, default=1, help="reports rendered at the same time (default: 1)")
    p.add_argument("--lang", dest="languages", nargs="+", choices=("en", "zh"), metavar="LANG",
                   help="report languages, en and/or zh (default: the schedule's 'languages')")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--engine", choices=ENGINES, default=None,
                   help="where the data layer's SQL runs: duckdb (default) or spark "
                   "(needs the spark extra and Java 17; see the README's 'Large books')")
    p.add_argument(
        "--wait", type=_seconds, default=DEFAULT_WAIT, metavar="SECONDS",
        help=f"wait this long for another render of the same --out to finish (default: {DEFAULT_WAIT:g}); "
        "then stop with exit code 3",
    )

    p = sub.add_parser("index", help="rebuild reports/index.html from the run manifests")
    p.add_argument("--out", type=Path, default=REPORTS_DIR, help=f"reports folder (default: {REPORTS_DIR})")

    p = sub.add_parser("watchlist", help="write this month's early-warning list (CSV + Parquet)")
    p.add_argument("--as-of", type=_iso_date, default=None, help="as-of date YYYY-MM-DD (default: end of the data)")
    p.add_argument("--branch", default=None, help="one branch (default: every branch)")
    p.add_argument("--data", default="synthetic", help='data source (default: "synthetic")')
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--with-ids", action="store_true",
                   help="also write real customer ids to OUT/restricted-ids/ (mode 0600; needs the secret)")
    return parser


def _err(message: str) -> None:
    print(f"analysis: error: {message}", file=sys.stderr)


LARGE_BOOK = 200_000  # customers above which `synth` writes Parquet parts


def _cmd_synth(args: argparse.Namespace) -> int:
    from analysis.report.lock import OutputError, check_out_dir

    try:
        check_out_dir(args.out)
    except OutputError as exc:
        _err(str(exc))
        return 2
    from analysis.data import generate_portfolio, write_portfolio

    kwargs = {
        key: value
        for key, value in (("n_customers", args.customers), ("months", args.months), ("seed", args.seed))
        if value is not None
    }
    if args.scenario != "default":
        kwargs["feedback"] = True  # SyntheticConfig.scenario("feedback")
    try:
        if kwargs.get("n_customers", 0) > LARGE_BOOK:
            # Large books go straight to Parquet parts, one chunk at a time (bounded memory).
            from analysis.data.synthetic import write_portfolio_parts

            out = write_portfolio_parts(args.out, **kwargs)
            paths = [out / "customers", out / "panel", out / "truth.json"]
        else:
            portfolio = generate_portfolio(**kwargs)
            paths = write_portfolio(portfolio, args.out)
    except ValueError as exc:
        _err(str(exc))
        return 1
    except OSError as exc:
        _err(_os_error(exc))
        return 2
    for path in paths:
        print(path)
    return 0


def _os_error(exc: OSError) -> str:
    """One line for an OSError: the file it concerns and why (no errno prefix)."""
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def _cmd_validate(args: argparse.Namespace) -> int:
    from analysis.data import validate_source

    try:
        report = validate_source(args.data)
    except (ValueError, FileNotFoundError) as exc:
        _err(str(exc))
        return 1
    except OSError as exc:  # a folder where a file was expected, no permission...
        _err(_os_error(exc))
        return 1
    print(report.to_text())
    return 0 if getattr(report, "ok", True) is not False else 1


def _cmd_render(args: argparse.Namespace) -> int:
    from analysis.report.lock import BusyError, OutputError
    from analysis.report.runner import render
    from analysis.report.schedule import ScheduleError

    notebooks = [name for group in args.notebooks for name in group] if args.notebooks else None
    try:
        result = render(
            args.schedule,
            as_of=args.as_of,
            data=args.data,
            out_dir=args.out,
            notebooks=notebooks,
            jobs=args.jobs,
            progress=args.progress,
            wait=args.wait,
            languages=args.languages,
            engine=args.engine,
        )
    except BusyError as exc:
        _err(str(exc))
        return 3
    except (ScheduleError, OutputError) as exc:
        _err(str(exc))
        return 2
    except (ValueError, FileNotFoundError) as exc:  # bad data source or as-of
        _err(str(exc))
        return 1
    except OSError as exc:  # the data source: a folder where a file was expected, no permission...
        _err(_os_error(exc))
        return 1
    print(result.summary())
    return 0 if result.ok else 1


def _cmd_index(args: argparse.Namespace) -> int:
    from analysis.report.index import build_index
    from analysis.report.lock import BusyError, OutputError, RenderLock, check_out_dir, describe
    from analysis.report.publish import recover

    try:
        check_out_dir(args.out)
        if not args.out.is_dir():
            raise OutputError(f"--out {args.out}: no such folder")
        lock = RenderLock(args.out, info={"command": "index"})
        try:
            lock.acquire(wait=0)
        except BusyError as exc:
            # The running render rebuilds the index after every report; a page written from here
            # could still list files that it has replaced in between.
            print(f"a render is writing to {args.out} ({describe(exc.holder)}); it rebuilds "
                  f"{args.out / 'index.html'} itself after every report")
            return 0
        try:
            recover(args.out)  # no render runs: a run left "running" was interrupted
            print(build_index(args.out))
        finally:
            lock.release()
    except OutputError as exc:
        _err(str(exc))
        return 2
    except OSError as exc:
        _err(_os_error(exc))
        return 2
    return 0


def _cmd_watchlist(args: argparse.Namespace) -> int:
    from analysis.studies.early_warning.watchlist import watchlist_command

    try:
        paths = watchlist_command(args.data, as_of=args.as_of, branch=args.branch,
                                  out_dir=args.out, with_ids=args.with_ids)
    except PermissionError as exc:
        _err(str(exc))
        return 2
    except (ValueError, FileNotFoundError) as exc:
        _err(str(exc))
        return 1
    for path in paths:
        print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    handler = {"synth": _cmd_synth, "validate": _cmd_validate, "render": _cmd_render, "index": _cmd_index,
               "watchlist": _cmd_watchlist}
    try:
        return handler[args.command](args)
    except KeyboardInterrupt:  # Ctrl-C: a render has recorded its run as interrupted by now
        _err("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
