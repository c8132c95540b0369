"""REPORT.md from results.json, and nothing else: every figure here is regenerated from the file.

Medians are shown with their 95% bootstrap confidence interval over repeats; stability warnings
follow pyperf's ``format_checks`` (interval >= 10% of the median, fewer than 3 samples).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from adapters import BASELINE
from harness import (
    charts,
    repeatability,
    report_bad_input,
    report_coverage,
    report_crash,
    report_offline,
    seed_claims,
    sweep_report,
)
from harness.coverage import PROBE_SECONDS
from harness.fidelity import kept_fraction
from harness.markdown import cell_label, fmt_bytes, fmt_s, md_table
from harness.precision import MIN_SAMPLES, UNSTABLE_SPREAD
from harness.proctree import SAMPLE_INTERVAL_S
from harness.results import IncomparableResults, check_same_machine
from harness.stats import RESAMPLES, median_ci, relative_width


def _values(cells: Iterable[Mapping[str, Any]], get: Callable[[Mapping[str, Any]], Any]) -> list:
    out = []
    for cell in cells:
        try:
            value = get(cell)
        except (KeyError, TypeError):
            continue
        if value is not None:
            out.append(value)
    return out


def spread(values: list[float], fmt: Callable[[float | None], str]) -> str:
    """``median [95% CI]`` (seeded bootstrap of the median); a lone value is shown bare."""
    if not values:
        return "-"
    mid, low, high = median_ci(values)
    if len(values) == 1:
        return fmt(mid)
    return f"{fmt(mid)} [{fmt(low)}–{fmt(high)}]"


def _groups(results: Mapping[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for cell in results["cells"]:
        groups.setdefault((cell["tool"], cell["scenario"]), []).append(cell)
    return groups


def _ok(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in cells if c["status"] == "ok"]


def _status(cells: list[dict[str, Any]]) -> str:
    statuses = sorted({c["status"] for c in cells})
    if statuses == ["ok"]:
        return "ok"
    counts = ", ".join(f"{sum(c['status'] == s for c in cells)} {s}" for s in statuses)
    return counts


def _fidelity_summary(cells: list[dict[str, Any]]) -> str:
    fractions = _values(_ok(cells), lambda c: kept_fraction(c["fidelity"] or {}))
    if not fractions:
        return "n/a (stores nothing)" if _ok(cells) else "n/a"
    worst = min(fractions)
    return f"{100 * worst:.1f}%" if worst < 1 else "100%"


def _summary(results: Mapping[str, Any]) -> list[str]:
    rows = []
    for (tool, scenario), cells in _groups(results).items():
        ok = _ok(cells)
        cov = cells[0].get("coverage") or {}
        cov_text = report_coverage.status_summary(cov)
        if tool == BASELINE:
            overhead = [f"baseline: {spread(_values(ok, lambda c: c['e2e_s']), fmt_s)}", "-"]
        else:
            overhead = [spread(_values(ok, lambda c: c["overhead_s"]), fmt_s),
                        spread(_values(ok, lambda c: c["overhead_pct"]), lambda v: f"{v:+.0f}%")]
        rows.append([
            cell_label(tool, scenario), cells[0].get("tool_version") or "-", _status(cells),
            *overhead,
            spread(_values(ok, lambda c: c["blocked_s"]), fmt_s),
            _fidelity_summary(cells), cov_text,
        ])
    return md_table(["tool:scenario", "version", "status", "overhead vs none", "overhead %",
                   "blocked in log calls", "fidelity (worst repeat)", "coverage"], rows)


def _baseline_sentence(results: Mapping[str, Any]) -> list[str]:
    base = _values(_ok(_groups(results).get((BASELINE, "baseline"), [])), lambda c: c["e2e_s"])
    if not base:
        return ["No baseline cell succeeded, so no overhead can be computed.", ""]
    return [f"Without a tracker (`none`) the workload ran in {spread(base, fmt_s)} end to end. "
            "Percentages are relative to that; a longer training loop dilutes them, not the "
            "absolute costs (import, init, per-call time, finish), which the overhead table "
            "splits out.", ""]


def _overhead(results: Mapping[str, Any]) -> list[str]:
    rows = []
    for (tool, scenario), cells in _groups(results).items():
        ok = _ok(cells)
        if not ok:
            continue
        metric_calls = lambda key: (lambda c: c["calls"]["metrics"][key])  # noqa: E731
        rows.append([
            cell_label(tool, scenario), str(len(ok)),
            spread(_values(ok, lambda c: c["import_s"]), fmt_s),
            spread(_values(ok, lambda c: c["init_s"]), fmt_s),
            spread(_values(ok, lambda c: c["blocked_s"]), fmt_s),
            spread(_values(ok, metric_calls("p50_s")), fmt_s),
            spread(_values(ok, metric_calls("p99_s")), fmt_s),
            spread(_values(ok, lambda c: c["floor_multiple"]),
                   lambda v: f"{v:.1f}×" if v < 10 else f"{v:.0f}×"),
            spread(_values(ok, lambda c: c["loop_slowdown_s"]), fmt_s),
            spread(_values(ok, lambda c: c["finish_s"]), fmt_s),
            spread(_values(ok, lambda c: c["exit_s"]), fmt_s),
            spread(_values(ok, lambda c: c["e2e_s"]), fmt_s),
        ])
    return md_table(["tool:scenario", "n", "import", "init", "blocked in log calls",
                   "log_metrics p50", "log_metrics p99", "p50 × null", "loop slowdown",
                   "finish", "interpreter exit", "end to end"], rows)


def _latency_chart(results: Mapping[str, Any], chart_dir: Path | None) -> list[str]:
    if chart_dir is None or not (chart := charts.latency_chart(results, chart_dir)):
        return []
    return [f"![Per-call latency distribution]({chart.name})", ""]


def _resources(results: Mapping[str, Any]) -> list[str]:
    rows = []
    for (tool, scenario), cells in _groups(results).items():
        ok = _ok(cells)
        if not ok:
            continue
        per_point = [c["disk_bytes"] / c["logged"]["points"] for c in ok
                     if c.get("logged") and c["logged"]["points"]]
        rows.append([
            cell_label(tool, scenario),
            spread(_values(ok, lambda c: c["cpu_s"]), lambda v: f"{v:.2f} s"),
            spread(_values(ok, lambda c: c["extra_cpu_s"]), lambda v: f"{v:+.2f} s"),
            spread(_values(ok, lambda c: c["peak_rss_bytes"]), fmt_bytes),
            spread(_values(ok, lambda c: c["disk_bytes"]), fmt_bytes),
            spread(per_point, lambda v: f"{v:.0f} B"),
            str(max(_values(ok, lambda c: c["max_processes"]), default="-")),
        ])
    return md_table(["tool:scenario", "CPU (process tree)", "CPU beyond none", "peak RSS (tree)",
                   "disk", "disk per logged point", "max processes"], rows)


def _mitigations(results: Mapping[str, Any]) -> list[str]:
    """Each variant (``base+variant``) against its base scenario, from the same run."""
    groups = _groups(results)
    rows = []
    for (tool, scenario), cells in groups.items():
        base, sep, variant = scenario.partition("+")
        if not sep or (tool, base) not in groups:
            continue
        ok, ref = _ok(cells), _ok(groups[(tool, base)])

        def ratio(key: str, ok=ok, ref=ref) -> str:
            mine, theirs = _values(ok, lambda c: c[key]), _values(ref, lambda c: c[key])
            if not mine or not theirs or not median_ci(mine)[0]:
                return "-"
            return f"{median_ci(theirs)[0] / median_ci(mine)[0]:.1f}×"

        rows.append([f"{tool}:{base}", variant, ratio("blocked_s"), ratio("e2e_s"),
                     spread(_values(ok, lambda c: c["finish_s"]), fmt_s),
                     _fidelity_summary(cells)])
    bounds = _mitigation_bounds(results)
    if not rows and not bounds:
        return []
    lines = ["## Mitigations", ""]
    if rows:
        lines += ["Settings a user would try, each measured against its own base scenario in "
                  "the same run; speed-up = base median / variant median.", "",
                  *md_table(["base scenario", "variant", "speed-up of blocked time",
                             "speed-up end to end", "finish (variant)",
                             "fidelity (worst repeat)"], rows)]
    return lines + bounds


def _mitigation_bounds(results: Mapping[str, Any]) -> list[str]:
    """For scenarios without variants: the most that batching or async logging could save.

    Such settings only shorten the time spent in log calls and the loop slowdown; the rest of a
    tool's overhead (import, init, finish, exit) is paid once per run whatever the settings.
    """
    groups = _groups(results)
    with_variants = {(t, s.partition("+")[0]) for t, s in groups if "+" in s}
    rows = []
    for (tool, scenario), cells in groups.items():
        ok = _ok(cells)
        if tool in (BASELINE, "null") or "+" in scenario or (tool, scenario) in with_variants:
            continue
        overhead = _values(ok, lambda c: c["overhead_s"])
        per_call = _values(ok, lambda c: c["blocked_s"] + max(c["loop_slowdown_s"], 0.0))
        if not overhead or not per_call or median_ci(overhead)[0] <= 0:
            continue
        share = median_ci(per_call)[0] / median_ci(overhead)[0]
        rows.append([cell_label(tool, scenario), spread(overhead, fmt_s),
                     spread(per_call, fmt_s), f"{100 * min(share, 1.0):.0f}%"])
    if not rows:
        return []
    return ["Scenarios without a variant here: the most any batching or asynchronous setting "
            "could save is the time blocked in log calls plus the loop slowdown; the rest of "
            "the overhead (import, init, finish, exit) is paid once per run whatever the "
            "settings.", "",
            *md_table(["tool:scenario", "overhead vs none", "blocked + loop slowdown",
                       "share a logging setting could save at most"], rows)]


def _service_value(name: str, key: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda cell: cell["services"][name][key]


def _services(results: Mapping[str, Any]) -> list[str]:
    """Server-side cost per scenario and service, measured while the client logged."""
    rows = []
    for (tool, scenario), cells in _groups(results).items():
        ok = [c for c in _ok(cells) if c.get("services")]
        for name in (ok[0]["services"] if ok else {}):
            if ok[0]["services"][name].get("external"):
                rows.append([cell_label(tool, scenario), name, "external: not measured", "-", "-"])
                continue
            rows.append([
                cell_label(tool, scenario), name,
                spread(_values(ok, _service_value(name, "cpu_s")), lambda v: f"{v:.2f} s"),
                spread(_values(ok, _service_value(name, "peak_rss_bytes")), fmt_bytes),
                fmt_bytes(max(_values(ok, _service_value(name, "disk_bytes")), default=None)),
            ])
    if not rows:
        return []
    return ["## Server side", "",
            "Cost of the services a scenario runs (tracking server with its workers, "
            "PostgreSQL, S3), measured over each cell's logging process; disk is what the "
            "service held for all runs so far at the end of the run's last cell.", "",
            *md_table(["tool:scenario", "service", "CPU while logging", "peak RSS",
                     "disk (database / bucket)"], rows)]


def _fidelity(results: Mapping[str, Any]) -> list[str]:
    rows, details = [], []
    for (tool, scenario), cells in _groups(results).items():
        measured = [c for c in _ok(cells) if c.get("fidelity")]
        if not measured:
            continue
        worst = min(measured, key=lambda c: kept_fraction(c["fidelity"]) or 0.0)
        fid = worst["fidelity"]
        cols = [f"{fid[k]['kept']}/{fid[k]['logged']}" for k in ("params", "points", "artifacts")]
        lost = sum(fid[k]["missing"] + fid[k]["altered"] for k in fid)
        typed = fid["params"].get("type_changed", 0)
        rows.append([cell_label(tool, scenario), *cols,
                     "nothing" if not lost else f"{lost} value{'s' if lost > 1 else ''}",
                     f"{typed} params" if typed else "-"])
        examples = [f"{k}: {e}" for k in fid for e in fid[k]["examples"]]
        if examples:
            details.append(f"- **{cell_label(tool, scenario)}** (repeat {worst['repeat'] + 1}): "
                           + "; ".join(examples))
    out = md_table(["tool:scenario", "params kept", "metric points kept", "artifacts kept",
                  "lost or altered", "type changed (kept as text)"], rows)
    if details:
        out += ["What differed (first examples; `extra` = stored but never logged; the tools' "
                "own explanations are under Notes):", "",
                *details, ""]
    return out


def _server_probes(results: Mapping[str, Any]) -> list[str]:
    """The seed's REST endpoints and MLflow basic-auth, as probed on real servers."""
    probes = results.get("server_probes") or {}
    lines: list[str] = []
    rows = []
    for label, entries in (probes.get("rest_api") or {}).items():
        if isinstance(entries, dict):
            rows.append([label, "-", "-", "-", "error", entries["error"], "-"])
            continue
        rows += [[label, f"{e['method']} {e['endpoint']}", "yes" if e["named_in_seed"] else "",
                  str(e["status"]), e["outcome"], e["evidence"], e.get("replaced_by") or ""]
                 for e in entries]
    if rows:
        lines += ["## REST API", "",
                  "Each server scenario's own server, probed over plain HTTP (no SDK). "
                  "*in seed*: the seed document names this endpoint.", "",
                  *md_table(["tool:scenario", "endpoint", "in seed", "HTTP", "outcome",
                           "evidence", "replaced by"], rows)]
    auth = probes.get("auth")
    if isinstance(auth, dict):
        lines += ["## Authentication and isolation", "", f"Auth probe failed: {auth['error']}", ""]
    elif auth:
        lines += ["## Authentication and isolation", "",
                  "`mlflow server --app-name basic-auth` (sqlite, default permission "
                  "NO_PERMISSIONS), started by the harness; users alice and bob created "
                  "through the auth REST API.", "",
                  *md_table(["probe", "expected", "got", "outcome", "evidence"],
                          [[p["probe"], str(p["expected"]), str(p["status"]), p["outcome"],
                            p["evidence"]] for p in auth])]
    return lines


def _problems(results: Mapping[str, Any]) -> list[str]:
    lines = []
    seen: set[tuple[str, str, str]] = set()
    for cell in [*results.get("probes", []), *results["cells"]]:
        if cell["status"] == "ok":
            continue
        key = (cell["tool"], cell["status"], str(cell.get("error")))
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"- **{cell_label(cell['tool'], cell['scenario'])}** {cell['status']}: "
                     f"{cell.get('error')}")
    for cell in results["cells"]:
        if cell.get("leftover_processes"):
            lines.append(f"- {cell_label(cell['tool'], cell['scenario'])} left processes running "
                         f"after exit (stopped by the harness): "
                         f"{', '.join(cell['leftover_processes'])}")
        if cell.get("hung_at_exit_s"):
            lines.append(f"- {cell_label(cell['tool'], cell['scenario'])} (repeat "
                         f"{cell['repeat'] + 1}) hung at interpreter exit: still alive "
                         f"{cell['hung_at_exit_s']:.0f} s after writing its results, killed by "
                         f"the harness (its measurements up to finish are kept)")
        if cell.get("call_error_count"):
            lines.append(f"- {cell_label(cell['tool'], cell['scenario'])} raised on "
                         f"{cell['call_error_count']} log calls: "
                         f"{'; '.join(cell['call_errors'][:3])}")
    return (lines + [""]) if lines else ["None.", ""]


def _stability(results: Mapping[str, Any]) -> list[str]:
    """Repeatability of this run, and pyperf-style warnings for the figures not to lean on."""
    warnings = []
    widths: list[tuple[float, str]] = []
    for (tool, scenario), cells in _groups(results).items():
        values = _values(_ok(cells), lambda c: c["e2e_s"])
        if not values:
            continue
        if len(values) < MIN_SAMPLES:
            warnings.append(f"- {cell_label(tool, scenario)}: only {len(values)} sample(s); "
                            f"use --repeats {MIN_SAMPLES} or more for a usable median.")
            continue
        width = relative_width(values)
        widths.append((width, cell_label(tool, scenario)))
        if width >= UNSTABLE_SPREAD:
            warnings.append(f"- {cell_label(tool, scenario)}: the 95% interval of the end-to-end "
                            f"median spans {100 * width:.0f}% of it (>= "
                            f"{100 * UNSTABLE_SPREAD:.0f}%): unstable; compare with care.")
    summary = []
    if widths:
        stable = sorted(w for w, _ in widths)
        widest = max(widths)
        summary = [f"Repeatability of this run: the 95% intervals of the end-to-end medians span "
                   f"a median of {100 * stable[len(stable) // 2]:.0f}% of the median "
                   f"(widest: {100 * widest[0]:.0f}%, {widest[1]}).", ""]
    summary += _run_to_run(results)
    for resumed in results.get("resumed") or []:
        summary += [f"This run was interrupted and resumed at {resumed['at']}: "
                    f"{resumed['cells_kept']} cell(s) were measured before the break, the rest "
                    "after it, so machine drift across the break is not spread evenly over the "
                    "tools.", ""]
    return summary + ((warnings + [""]) if warnings else [
        f"Every end-to-end median's 95% interval spans under {100 * UNSTABLE_SPREAD:.0f}% of it.",
        ""])


def _run_to_run(results: Mapping[str, Any]) -> list[str]:
    """How far this run's headline medians moved from the previous run's (same machine, plan)."""
    changes = [c for c in repeatability.changes(results) if c[0].partition(":")[0] not in
               (BASELINE, "null")]
    if not changes:
        return ["Run-to-run: no previous comparable run in this output directory; run the same "
                "command again to measure how far the medians move between runs.", ""]
    tolerance = 100 * repeatability.TOLERANCE
    lines = [f"Run-to-run, against the previous run of the same plan on this machine "
             f"({results['previous_run']['created']}):"]
    overlaps = repeatability.overlaps(results)

    def noise(label: str, key: str) -> str:
        overlap = overlaps.get((label, key))
        return "-" if overlap is None else ("overlap" if overlap else "apart")

    for name, key in repeatability.HEADLINE:
        moved = [c for c in changes if c[1] == key]
        off = [c for c in moved if c[4] is None or abs(c[4]) > repeatability.TOLERANCE]
        worst = max(moved, key=lambda c: abs(c[4] or 0.0))
        lines.append(f"- *{name}*: {len(moved) - len(off)} of {len(moved)} tool medians within "
                     f"±{tolerance:.0f}% (largest change {100 * (worst[4] or 0):+.1f}%, "
                     f"{worst[0]})" + (": " + ", ".join(
                         f"{c[0]} {100 * (c[4] or 0):+.1f}% (95% intervals {noise(c[0], key)})"
                         for c in off) if off else "."))
    rows = [[label, fmt_s(before), fmt_s(now), f"{100 * change:+.1f}%" if change is not None
             else "-", noise(label, key)]
            for label, key, before, now, change in changes if key == "e2e_s"]
    return [*lines, "", "*95% intervals*: whether the two runs' intervals of the median overlap. "
            "Overlapping intervals mean the change is within what the runs' own repeat-to-repeat "
            "spread explains; intervals apart mean a shift larger than that spread (the machine's "
            "speed, or the tool, changed between the runs).", "",
            *md_table(["tool:scenario", "end to end, previous run", "this run", "change",
                       "95% intervals"], rows)]


def repeats_text(results: Mapping[str, Any]) -> str:
    """How many repeats each tool:scenario got: the planned ones, plus extra rounds where a
    headline interval stayed wide (see harness.precision)."""
    inv = results["invocation"]
    planned, most = inv["repeats"], inv.get("max_repeats") or inv["repeats"]
    text = f"{planned} repeat(s)"
    if most <= planned:
        return text
    counts = [len(cells) for (tool, _), cells in _groups(results).items()
              if tool not in (BASELINE, "null")]
    got = f"{min(counts)}–{max(counts)}" if counts and min(counts) != max(counts) else (
        str(counts[0]) if counts else "none")
    budget = inv.get("time_budget_s")
    return (text + f", more (up to {most}) where a headline interval still spanned >= "
            f"{100 * UNSTABLE_SPREAD:.0f}% of its median"
            + (f" and the {budget / 60:.0f}-minute budget allowed" if budget else "")
            + f"; here {got} per tool:scenario")


def _notes(results: Mapping[str, Any]) -> list[str]:
    lines = []
    seen: set[str] = set()
    for cell in results["cells"]:
        for note in cell.get("notes") or []:
            text = f"- {cell['tool']}: {note}"
            if text not in seen:
                seen.add(text)
                lines.append(text)
    return (lines + [""]) if lines else []


def _environment(results: Mapping[str, Any]) -> list[str]:
    machine = results["machine"]
    inv = results["invocation"]
    rows = [
        ["trackbench", results.get("trackbench_version", "-")],
        ["created", results.get("created", "-")],
        ["platform", machine["platform"]],
        ["python", f"{machine['python']} ({machine['python_implementation']})"],
        ["cpu", f"{machine['cpu_model']}, {machine['cpu_logical']} logical cores"],
        ["memory", fmt_bytes(machine["memory_bytes"])],
        ["load average at start", ", ".join(f"{x:.2f}" for x in machine["load_avg_at_start"])],
        ["workload", f"{inv['workload']} {inv.get('workload_config') or ''}".strip()],
        ["profile", inv["profile"]],
        ["repeats", repeats_text(results)],
        *[[f"{tool} version", version or "not installed"]
          for tool, version in results["tools"].items() if tool not in ("none", "null")],
    ]
    return md_table(["", ""], rows)


METHOD = f"""\
- Each cell (tool x scenario x repeat) runs in a fresh Python process with its own temporary
  directory, HOME, XDG config/cache/data dirs and TMPDIR; tool variables (`WANDB_*`,
  `MLFLOW_*`, `NEPTUNE_*`, `COMET_*`, ...) are removed from its environment. Cells are
  interleaved across tools (A B C A B C ...). All tools run offline or on local storage.
- The workload module (and its imports, e.g. numpy and scikit-learn) is imported before the
  tracker's SDK, so *import* is the SDK's own marginal cost. *init* is starting a run; *blocked
  in log calls* is the time the workload spent inside the tracker's `log_*` calls (timed with
  `perf_counter_ns` around each call; ledger and checksum work are outside the timed region);
  *finish* is closing the run (flushing); *interpreter exit* is from the worker's last line
  to the process being reaped (atexit hooks of the tool run here); *end to end* = import + init +
  workload + finish.
- *Overhead vs none* is a cell's end-to-end time minus the `none` baseline's (the same workload
  with no tracker) in the same repeat of the same invocation. Every figure is the median over
  repeats with its 95% percentile-bootstrap interval ({RESAMPLES} resamples, seeded, so the
  report regenerates identically). `null` is an adapter that does nothing: the harness's own
  floor. Cells are interleaved across tools, after an unrecorded warm-up ({{warmup}}). Before
  each measured process starts, pending disk writes are flushed (`sync`), so one cell's
  writeback does not land in the next one's figures.
- *Extra rounds*: after the planned repeats (and the reliability checks), more interleaved
  rounds of the baseline, the floor and each tool:scenario whose end-to-end or blocked-time
  interval still spans {100 * UNSTABLE_SPREAD:.0f}% or more of its median, until none does, the
  repeat cap is reached, or the next round is projected to overrun the time budget. A noisy
  figure thus gets more samples than a steady one; the stopping rule looks at the interval's
  width, never at where the median lies.
- *CPU (process tree)* is user+system time of the worker and every descendant it reaped
  (`wait4`; the worker is a child subreaper, so detached helpers such as `wandb-core` are
  reaped into it), plus processes still alive at exit at their last sample. *Peak RSS (tree)*
  is the largest sum of RSS over the tree, sampled every {SAMPLE_INTERVAL_S * 1000:.0f} ms.
  *Disk* is the bytes the tool wrote in its storage directory and the cell's HOME.
- *Fidelity*: the harness records every value the workload hands over (the ledger); a second
  fresh process, holding no credentials, reads back what the tool stored, from the tool's own
  storage. Params match if equal (or equal as text: stored as a string); metric points match on
  (key, step) with the value bit for bit; artifacts match on name and SHA-256.
- *Crash safety*: one more run per tool and scenario kills itself with SIGKILL just before
  `log_metrics` call N+1 (N: the chosen fraction, `--crash-at`, of the workload's calls as
  counted on the `null` cells); a fresh process reads back what the tool kept of the points
  handed over before the kill (matched on key, step and value; a read-back that fails counts
  0). *Server outage*: at call N+1 the tracking server's process tree is SIGKILLed and
  restarted on the same port and store while the client keeps logging; the client *raises* if
  any call or `finish` raised, *drops silently* if points are missing without an error,
  *retries* if every point was stored.
- *Coverage*: one probe run per tool and scenario logs for {PROBE_SECONDS:.0f} s with the
  tool's system metrics switched on, then calls each optional feature for real (two versions of
  a dataset, a model-registry version, an alert) and, after the run, logs three short runs and
  asks the tool's query API for the one with the lowest metric. The credential-less read-back
  decides what was kept (data versioning is verified only if the two versions get distinct ids
  *and* the first version's bytes, overwritten in place by the second and then deleted with the
  probe's scratch dir, are still reachable through the tool's stored reference); it also copies
  the tool's offline bundle, which a third process reads alone (fresh directory and HOME, the
  original store and HOME moved away) and compares with the ledger. *Seed claims* are checked
  against these verdicts, the REST probes and fidelity.
- *Offline honesty*: every Python process of a cell (and the MLflow tracking server) starts with
  an audit hook on socket events that records each attempt to reach a non-loopback address
  (connect, datagram, DNS lookup; the machine's own hostname counts as local) and blocks it with
  the error an offline machine gives. Non-Python helpers (e.g. `wandb-core`, a Go binary) and C
  extensions with their own sockets escape the hook: their inet connections are sampled about once
  a second, which records a connection that lives across a sample but cannot block it; a short
  one can be missed. Python started with `-I`, `-S` or `-E` would escape the hook too.
- *Bad input*: per tool and base scenario, one fresh run is fed each odd value, name, step,
  param and artifact through the adapter (no conversion on the way), one call per case; a fresh
  process reads the run back and each case is classified by comparing what was handed over with
  what was stored (numbers by value and type, NaN equal to NaN; artifacts by SHA-256).
"""


def render(results: Mapping[str, Any], chart_dir: Path | None = None,
           sweeps: Mapping[str, Any] | None = None) -> str:
    """The whole report as markdown; charts (PNG) are written to ``chart_dir`` when given;
    ``sweeps`` (a sweeps.json of the same machine) adds the scaling curves."""
    inv = results["invocation"]
    lines = [
        "# trackbench report",
        "",
        f"Workload `{inv['workload']}`, profile **{inv['profile']}** "
        + ("(each tool's extras such as git/code/console capture and system metrics off, so core "
           "logging is compared like for like)" if inv["profile"] == "lean"
           else "(each tool as it comes out of the box, offline)")
        + f", {repeats_text(results)}, generated from `results.json` of {results['created']}.",
        "",
        "## Summary",
        "",
        *_baseline_sentence(results),
        *report_coverage.requirements_summary(results),
        *_summary(results),
    ]
    if chart_dir is not None and (chart := charts.overhead_chart(results, chart_dir)):
        lines += [f"![End-to-end time per tool]({chart.name})", "",
                  "Stacked medians of each part of end-to-end time; whiskers: end-to-end "
                  "min–max over repeats.", ""]
    lines += [
        "## Overhead", "",
        "Median [95% bootstrap confidence interval] over repeats. *p50 × null*: the per-call "
        "median as a multiple of the `null` adapter's (the harness's floor) in the same run. "
        "*loop slowdown*: the workload's own work, outside log calls, beyond the baseline's.",
        "", *_overhead(results),
        *_latency_chart(results, chart_dir),
        "## Resources", "", *_resources(results),
        *_mitigations(results),
        *_scaling(results, sweeps, chart_dir),
        *_services(results),
        "## Fidelity", "", "Worst repeat shown: logged → read back from the tool's storage.", "",
        *_fidelity(results),
        "## Coverage", "", *report_coverage.render(results),
        *_server_probes(results),
        *report_crash.render(results),
        *report_offline.render(results),
        *report_bad_input.render(results),
        *seed_claims.render(results),
        "## Failures and findings", "", *_problems(results),
        "## Stability", "", *_stability(results),
    ]
    notes = _notes(results)
    if notes:
        lines += ["## Notes", "", *notes]
    warmup = ", ".join(results["invocation"].get("warmup") or ["one baseline cell"])
    lines += ["## Environment", "", *_environment(results), "## How it was measured", "",
              METHOD.replace("{warmup}", warmup)]
    return "\n".join(lines)


def _scaling(results: Mapping[str, Any], sweeps: Mapping[str, Any] | None,
             chart_dir: Path | None) -> list[str]:
    """The scaling curves of a ``trackbench sweep`` from the same machine, when given."""
    if sweeps is None:
        return ["## Scaling", "",
                "Not in this report: `trackbench sweep` measures how each tool's cost grows with "
                "points per run, metrics per step, runs per process and artifact size (about 40 "
                "minutes); `trackbench report results.json --sweeps sweeps.json` adds its curves "
                "here.", ""]
    try:
        check_same_machine(sweeps, results)
    except IncomparableResults as exc:
        return ["## Scaling", "", f"The sweeps given were not shown: {exc}.", ""]
    lines = sweep_report.render_sweeps(sweeps["records"], chart_dir)
    return [*lines[:2], f"From `sweeps.json` of {sweeps['created']} (`trackbench sweep`, same "
            "machine, measured apart from this run's cells).", "", *lines[2:]]


def write(results: Mapping[str, Any], out_dir: Path,
          sweeps: Mapping[str, Any] | None = None) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "REPORT.md"
    path.write_text(render(results, out_dir, sweeps))
    return path
