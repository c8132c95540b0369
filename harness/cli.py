"""``trackbench run | report | list``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import adapters
from harness import options, report, results, runner, workloads
from harness.load.generator import worker_command
from harness.plan import Plan, matrix, plan_from_results, with_reference_tools
from harness.report import compare
from harness.report import sweeps as sweeps_page
from harness.results import IncomparableResults
from harness.results.scaling import SWEEPS

DEFAULT_OUT = Path("reports/latest")


def _cmd_suite(args: argparse.Namespace) -> int:
    """``run --suite NAME``: a published study through our adapters, its own results and
    REPORT.md (default out: reports/NAME); every option not listed in --suite's help is
    ignored."""
    name = args.suite
    if name not in runner.SUITES:
        print(f"trackbench: unknown suite {name!r}; known: {', '.join(runner.SUITES)}",
              file=sys.stderr)
        return 2
    if args.resume:
        print("trackbench: a suite is not resumable; run it again (the previous results are "
              "kept as results.previous.json)", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out != str(DEFAULT_OUT) else Path("reports") / name
    given = list(args.tools)
    known = runner.SUITE_TOOLS[name]
    tools = list(known) if given == list(adapters.DEFAULT_TOOLS) else given
    if unknown := [t for t in tools if t not in known]:
        print(f"trackbench: suite {name} has no tool {', '.join(unknown)}; its tools: "
              f"{', '.join(known)}", file=sys.stderr)
        return 2
    repeats = options.REPEATS if args.repeats is None else args.repeats
    budget_min = (options.SUITE_BUDGET_MIN if args.time_budget == options.TIME_BUDGET_MIN
                  else args.time_budget)
    if repeats < 1 or budget_min <= 0:
        print("trackbench: --repeats and --time-budget must be positive", file=sys.stderr)
        return 2
    results_path = out / "results.json"
    if results_path.exists():
        _set_aside(results_path)
    print(f"trackbench: suite {name}; tools {', '.join(tools)}; up to {repeats} repeat(s); "
          f"time budget {budget_min:g} min; results -> {results_path}", file=sys.stderr)
    return _measure_then_report(
        lambda: runner.suite(name, tools, repeats, 60.0 * budget_min, results_path,
                             progress=_progress),
        results_path, out, "what was measured")


def _cmd_run(args: argparse.Namespace) -> int:
    if args.suite:
        return _cmd_suite(args)
    out = Path(args.out)
    results_path = out / "results.json"
    resume = previous = None
    try:  # every option is checked before any file is touched: a typo loses nothing
        plan = options.plan_from(vars(args))
        if args.resume:
            if not results_path.exists():
                raise ValueError(f"nothing to resume: no {results_path} (use --out to point at "
                                 "the interrupted run's directory)")
            resume = results.load(results_path)
            given = plan
            plan = plan_from_results(resume, given.external)
            plan.load_target = given.load_target  # like the services: given again, not stored
        matrix(with_reference_tools(plan.tools), plan.scenarios)
        if ":" in plan.workload:
            workloads.resolve(plan.workload)  # fail now, not once per cell
    except (ValueError, ImportError) as exc:
        print(f"trackbench: {exc}", file=sys.stderr)
        return 2
    if not args.resume and results_path.exists():
        previous = _set_aside(results_path)
    print(f"trackbench: tools {', '.join(with_reference_tools(plan.tools))}; workload "
          f"{plan.workload}; profile {plan.profile}; {plan.repeats} repeat(s)"
          + (f" (up to {plan.max_repeats} where an interval stays wide)"
             if (plan.max_repeats or 0) > plan.repeats else "")
          + f"; results -> {results_path}", file=sys.stderr)
    # A CI job being cancelled (SIGTERM) cleans up like Ctrl-C: services and workers stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        data = runner.execute(plan, results_path,
                              progress=_progress,
                              resume=resume, previous=previous)
    except KeyboardInterrupt:
        print(f"trackbench: interrupted; cells finished so far are in {results_path}; "
              f"`trackbench run --resume --out {out}` runs the rest", file=sys.stderr)
        return 130
    except ValueError as exc:  # a resume refused (tool versions changed)
        print(f"trackbench: {exc}", file=sys.stderr)
        return 2
    path = report.write(data, out)
    print(f"trackbench: report written to {path}", file=sys.stderr)
    return 0


def _set_aside(results_path: Path) -> dict | None:
    """Keep the last run as results.previous.json (nothing lost); return it if readable, for
    the new report's run-to-run repeatability."""
    kept = results_path.with_name("results.previous.json")
    results_path.replace(kept)
    print(f"trackbench: the previous results were kept as {kept}", file=sys.stderr)
    try:
        return results.load(kept)
    except SystemExit:  # an unreadable old file is kept, not compared
        return None


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _measure_then_report(measure: Callable[[], dict[str, Any]], results_path: Path, out: Path,
                         kept: str) -> int:
    """Run ``measure`` (a SIGTERM cleans up like Ctrl-C), then write REPORT.md; after an
    interrupt, say where ``kept`` so far is."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        data = measure()
    except KeyboardInterrupt:
        print(f"trackbench: interrupted; {kept} so far: {results_path}", file=sys.stderr)
        return 130
    path = report.write(data, out)
    print(f"trackbench: report written to {path}", file=sys.stderr)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _cmd_sweep(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        data_path = out / "sweeps.json"
        runner.sweep(options.csv_list(args.tools), options.csv_list(args.sweeps) or None,
                     quick=args.quick, out_path=data_path, repeats=args.repeats,
                     progress=_progress)
    except ValueError as exc:
        print(f"trackbench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"trackbench: interrupted; points measured so far are in {data_path}",
              file=sys.stderr)
        return 130
    path = sweeps_page.write_page(results.load(data_path), out)
    print(f"trackbench: sweep report written to {path}", file=sys.stderr)
    return 0


def _cmd_load(args: argparse.Namespace) -> int:
    out = Path(args.out)
    results_path = out / "results.json"
    try:
        plan = Plan(tools=["mlflow"], load="quick" if args.quick else "full",
                    load_target=args.load_target, load_workers=options.load_workers(
                        args.load_workers), load_bind=args.load_bind)
    except ValueError as exc:
        print(f"trackbench: {exc}", file=sys.stderr)
        return 2
    if results_path.exists():
        _set_aside(results_path)
    if plan.load_workers:
        print(f"trackbench: the Locust master waits for {plan.load_workers} worker(s); on each "
              f"machine run: {' '.join(worker_command(plan.load_bind))}", file=sys.stderr)
    return _measure_then_report(lambda: runner.load(plan, results_path, progress=_progress),
                                results_path, out, "the levels measured")


def _cmd_report(args: argparse.Namespace) -> int:
    data = results.load(Path(args.results))
    out = Path(args.out) if args.out else Path(args.results).parent
    if data.get("kind") == "sweeps":
        print(f"trackbench: report written to {sweeps_page.write_page(data, out)}", file=sys.stderr)
        return 0
    path = report.write(data, out, results.load(Path(args.sweeps)) if args.sweeps else None)
    print(f"trackbench: report written to {path}", file=sys.stderr)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    old, new = results.load(Path(args.old)), results.load(Path(args.new))
    try:
        text = compare.render(old, new)
    except IncomparableResults as exc:
        print(f"trackbench: {exc}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(text)
        print(f"trackbench: comparison written to {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from harness.results.frame import cells_frame

    source = Path(args.results)
    frame = cells_frame(source)
    out = Path(args.out) if args.out else source.with_name(f"cells.{args.format}")
    try:
        if args.format == "csv":
            frame.to_csv(out, index=False)
        else:
            frame.to_parquet(out, index=False)
    except ImportError as exc:  # parquet needs pyarrow (or fastparquet)
        print(f"trackbench: {exc}", file=sys.stderr)
        return 2
    print(f"trackbench: {len(frame)} cells written to {out}", file=sys.stderr)
    return 0


def _cmd_list(_: argparse.Namespace) -> int:
    """Tools, their scenarios (``*``: in the default run), versions, and what cannot run here."""
    print(f"{'tool':<12} {'version':<14} status")
    for name in adapters.tool_names():
        cls = adapters.load(name)
        if cls is None:
            print(f"{name:<12} {'-':<14} built in (no tracker: the baseline)")
            continue
        version = cls.version() or "-"
        status = "built in" if cls.distribution is None else (
            f"installed {version}" if cls.version() else "NOT installed (reported as unavailable)")
        default = set(cls.default_scenarios or cls.scenarios)
        listed = [f"{s}*" if (name in adapters.DEFAULT_TOOLS or name in adapters.REFERENCE_TOOLS)
                  and s in default else s
                  for s in cls.scenarios]
        print(f"{name:<12} {version:<14} {status}")
        print(f"{'':<12} scenarios: {', '.join(listed)}")
        for scenario, why in cls.not_run.items():
            print(f"{'':<12} not run: {scenario}: {why}")
    print("\n*: in the default `trackbench run`; --scenarios all adds the rest")
    print(f"workloads: {', '.join(workloads.BUILTIN)}, or module:function")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trackbench",
        description="Measure ML experiment trackers on one real workload: overhead, fidelity, "
                    "feature coverage.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the comparison and write results.json + REPORT.md")
    options.add_to(run.add_argument)
    run.add_argument("--out", default=str(DEFAULT_OUT),
                     help=f"output directory (default: {DEFAULT_OUT})")
    run.add_argument("--resume", action="store_true",
                     help="complete the interrupted run in --out: its plan is read from its "
                          "results.json, finished cells are kept, the rest run (give "
                          "--postgres-uri/--s3-*/--tracking-uri again if it used them)")
    run.set_defaults(func=_cmd_run)
    rep = sub.add_parser("report", help="regenerate REPORT.md from a results.json")
    rep.add_argument("results", help="path to results.json")
    rep.add_argument("--out", help="output directory (default: beside results.json)")
    rep.add_argument("--sweeps", help="a sweeps.json (trackbench sweep) from the same machine: "
                                      "its scaling curves go into the report")
    rep.set_defaults(func=_cmd_report)
    swp = sub.add_parser("sweep", help="scaling sweeps: how cost grows with points, metrics per "
                                       "step, runs per process and artifact size")
    swp.add_argument("--tools", default=",".join(adapters.DEFAULT_TOOLS),
                     help="comma-separated trackers (none and null always run)")
    swp.add_argument("--sweeps", default="", help="comma-separated subset of: "
                     + ", ".join(SWEEPS) + " (default: all)")
    swp.add_argument("--quick", action="store_true",
                     help="3 points per sweep, 1 repeat (minutes, not most of an hour)")
    swp.add_argument("--repeats", type=int, default=None,
                     help="repeats per point (default 1 with --quick, else 3)")
    swp.add_argument("--out", default="reports/sweeps", help="output directory")
    swp.set_defaults(func=_cmd_sweep)
    ld = sub.add_parser("load", help="team scale: many training jobs on one shared tracking "
                                     "server, and queries as its store grows (Locust; about 20 "
                                     "minutes, --quick under 5)")
    ld.add_argument("--quick", action="store_true",
                    help="N = 1, 4, 16 writers on one server per scenario, stores of 100 "
                         "and 500 runs")
    ld.add_argument("--load-target", help="your own MLflow-API server instead of the four the "
                                          "harness starts on 127.0.0.1")
    ld.add_argument("--load-workers", type=int, default=0,
                    help="Locust workers on other machines to wait for (0: local processes)")
    ld.add_argument("--load-bind", default="127.0.0.1",
                    help="where the Locust master listens for --load-workers")
    ld.add_argument("--out", default="reports/load", help="output directory")
    ld.set_defaults(func=_cmd_load)
    cmp = sub.add_parser("compare", help="regression table between two results.json files "
                                         "from the same machine (e.g. before/after an upgrade)")
    cmp.add_argument("old", help="results.json before")
    cmp.add_argument("new", help="results.json after")
    cmp.add_argument("--out", help="write the markdown here instead of printing it")
    cmp.set_defaults(func=_cmd_compare)
    exp = sub.add_parser("export", help="results.json as a table, one row per cell (what "
                                        "harness.results.frame.cells_frame returns)")
    exp.add_argument("results", help="path to results.json")
    exp.add_argument("--format", choices=("csv", "parquet"), default="csv")
    exp.add_argument("--out", help="file to write (default: cells.FORMAT beside results.json)")
    exp.set_defaults(func=_cmd_export)
    lst = sub.add_parser("list", help="tools, scenarios, and whether each is installed")
    lst.set_defaults(func=_cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A user's `--workload mymod:train` / `--tools mymod:MyAdapter` lives in their cwd, which
    # a console script does not put on sys.path (the workers get it through PYTHONPATH).
    sys.path.insert(0, os.getcwd())
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
