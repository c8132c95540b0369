"""Markdown (and log-log PNGs) for scaling sweeps, from the sweep records alone: SWEEPS.md and
the report's Scaling section.

Per sweep: a table of the median end-to-end overhead over ``none`` and the time of the call that
scales, at every x; then one growth line per tool from
:func:`harness.results.scaling.fit_growth`. The growth is fitted on the cost that scales (time in
the log calls, or start_run to finish per run), which leaves out import and process start so they
cannot pass for sublinear growth; what fixed part remains (a first call that sets things up) is
the linear fit's intercept, shown beside the slope. A second straight line on the end-to-end
overhead adds the work a tool defers to finish or to a helper process."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.report.charts import pyplot, save
from harness.report.markdown import cell_label, fmt_s, md_table
from harness.results import BASELINE
from harness.results.scaling import FLAT_RATIO, SWEEPS, Sweep, fit_growth

Record = Mapping[str, Any]
FLAT_RULE = (f"flat per call: the cost per unit stays within a factor {FLAT_RATIO:g} over the "
             "range; exponent: slope on log-log axes, 1 = linear")


def _fmt_t(value: float | None) -> str:
    """``fmt_s`` down to nanoseconds: per-point costs are often below a microsecond."""
    if value is not None and 0 < abs(value) < 1e-6:
        return f"{value * 1e9:.0f} ns"
    return fmt_s(value)


def _fmt_x(sweep: Sweep, x: float) -> str:
    if sweep.unit_size == 1:
        return f"{x:,.0f}"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if x >= size:
            return f"{x / size:g} {unit}"
    return f"{x:g} B"


def _by_tool(records: list[Record]) -> dict[str, list[Record]]:
    tools: dict[str, list[Record]] = {}
    for rec in records:
        tools.setdefault(cell_label(rec["tool"], rec["scenario"]), []).append(rec)
    return tools


def _median(records: list[Record], x: float, key: str) -> float | None:
    values = [r[key] for r in records
              if r["x"] == x and r["status"] == "ok" and r.get(key) is not None]
    return statistics.median(values) if values else None


def _cell(records: list[Record], x: float, sweep: Sweep) -> str:
    at_x = [r for r in records if r["x"] == x]
    if not at_x:
        return "-"
    if not any(r["status"] == "ok" for r in at_x):
        return "/".join(sorted({r["status"] for r in at_x}))
    if at_x[0]["tool"] == BASELINE:
        return f"{_fmt_t(_median(records, x, 'e2e_s'))} e2e"
    overhead = _median(records, x, "overhead_s")
    sign = "+" if overhead is not None and overhead >= 0 else ""
    return f"{sign}{_fmt_t(overhead)} · {_fmt_t(_median(records, x, sweep.call_key))}"


def _per_unit(sweep: Sweep, value: float | None) -> str:
    return "-" if value is None else f"{_fmt_t(value * sweep.unit_size)} per {sweep.unit}"


def _growth_line(label: str, records: list[Record], xs: list[float], sweep: Sweep) -> str:
    cost = fit_growth(xs, [_median(records, x, "cost_s") for x in xs])
    e2e = fit_growth(xs, [_median(records, x, "overhead_s") for x in xs])
    if cost["exponent"] is None:
        shape = f"{cost['growth']} (under two points above the noise floor)"
    else:
        shape = (f"{cost['growth']} (exponent {cost['exponent']:.2f}, "
                 f"R² {cost['loglog_r2']:.2f})")
    line = f"- **{label}**: {sweep.cost_label} {_per_unit(sweep, cost['slope'])}"
    if cost["intercept"] is not None:
        line += f", fixed part {_fmt_t(cost['intercept'])}"
    line += f", {shape}"
    if e2e["slope"] is not None:
        line += (f"; end to end {_per_unit(sweep, e2e['slope'])} over none "
                 f"(linear fit, R² {e2e['linear_r2']:.2f}; fixed part {_fmt_t(e2e['intercept'])})")
    return line


def _chart(sweep: Sweep, tools: dict[str, list[Record]], xs: list[float],
           chart_dir: Path) -> Path | None:
    """Log-log: the fitted cost per tool, with a dashed ``∝ x`` guide (parallel = flat)."""
    series = {}
    for label, records in tools.items():
        points = [(x, y) for x in xs if (y := _median(records, x, "cost_s")) and y > 0]
        if len(points) >= 2:
            series[label] = points
    if not series:
        return None
    fig, ax = pyplot().subplots(figsize=(6.5, 4.2))
    for label, points in series.items():
        ax.plot(*zip(*points, strict=True), marker="o", label=label)
    anchor = statistics.median(points[0][1] / points[0][0] for points in series.values())
    ax.plot(xs, [anchor * x for x in xs], linestyle="--", color="grey", label="∝ x (flat)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(sweep.title)
    ax.set_ylabel(f"{sweep.cost_label}, s (median)")
    ax.set_title(f"Scaling with {sweep.title}")
    ax.legend(fontsize="small")
    return save(fig, chart_dir, f"sweep-{sweep.name}.png")


def _section(sweep: Sweep, records: list[Record], chart_dir: Path | None) -> list[str]:
    xs = sorted({r["x"] for r in records})
    tools = _by_tool(records)
    repeats = max(r["repeat"] for r in records) + 1
    lines = [f"### {sweep.title.capitalize()}", "",
             f"x = {sweep.title}; {sweep.description}. Each cell: median over {repeats} "
             f"repeat(s) of the end-to-end overhead vs `none` at the same x · "
             f"{sweep.call_label}.", "",
             *md_table(["tool:scenario", *[_fmt_x(sweep, x) for x in xs]],
                     [[label, *[_cell(recs, x, sweep) for x in xs]]
                      for label, recs in tools.items()]),
             f"Growth of {sweep.cost_label} over `none` ({FLAT_RULE}):", ""]
    lines += [_growth_line(label, recs, xs, sweep) for label, recs in tools.items()
              if recs[0]["tool"] != BASELINE]
    lines.append("")
    if chart_dir is not None and (chart := _chart(sweep, tools, xs, chart_dir)):
        lines += [f"![Scaling with {sweep.title}]({chart.name})", ""]
    return lines


def render_sweeps(sweeps: list[dict[str, Any]], chart_dir: Path | None = None) -> list[str]:
    """Markdown lines for every sweep present in ``sweeps`` (a sweeps.json's records)."""
    lines = ["## Scaling", ""]
    for name, sweep in SWEEPS.items():
        if records := [r for r in sweeps if r["sweep"] == name]:
            lines += _section(sweep, records, chart_dir)
    return lines


def write_page(data: Mapping[str, Any], out: Path) -> Path:
    """SWEEPS.md and its charts in ``out``, from a sweeps.json alone (``trackbench sweep``)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "SWEEPS.md"
    lines = ["# trackbench scaling sweeps", "",
             f"Generated from `sweeps.json` of {data['created']} "
             f"({data['machine']['cpu_model']}, {data['machine']['cpu_logical']} cores).", "",
             *render_sweeps(data["records"], out)]
    path.write_text("\n".join(lines) + "\n")
    return path
