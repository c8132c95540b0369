"""The Team scale section: how many training jobs each shared server absorbs, what it costs the
server, what was lost, and how its queries slow as the store grows (``load`` in results.json)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import harness.results.team_scale as figures
from harness.report.charts import pyplot, save
from harness.report.markdown import fmt_bytes, fmt_s, md_table
from harness.report.page import Page
from harness.results.stats import median_ci

ENDPOINTS = ("runs/create", "runs/log-batch params", "runs/update")


def render(page: Page) -> list[str]:
    load = page.results.get("load")
    if not load or not load.get("levels"):
        return [] if page.results.get("kind") != "load" else [
            "# trackbench team scale", "", "No level was measured.", ""]
    spec = load["spec"]
    title = (["# trackbench team scale", "", f"From `results.json` of "
              f"{page.results['created']} (`trackbench load"
              f"{' --quick' if spec['name'] == 'quick' else ''}`).", ""]
             if page.results.get("kind") == "load" else [])
    lines = [*title, "## Team scale", "", _method(load), ""]
    lines += _saturation(load)
    lines += _charts(load, page.chart_dir)
    lines += _levels(load)
    lines += _queries(load, page.chart_dir)
    lines += _crosscheck(load)
    lines += _floor(load)
    return lines


def _method(load: Mapping[str, Any]) -> str:
    spec = load["spec"]
    fresh = ("each level on a fresh server and store" if spec.get("fresh_per_level", True)
             else "one server and store per server scenario, its levels in ascending N, each "
                  "level's jobs in a new experiment (the full stage starts a fresh one per "
                  "level)")
    where = ("a team's own server (`--load-target`), loaded as it is" if load.get("target_uri")
             else f"servers the harness started on 127.0.0.1, {fresh} (PostgreSQL and S3 "
                  "shared by the servers, a new database and bucket prefix each)")
    return (f"N training jobs at once, as [Locust](https://locust.io) users on MLflow's REST API, "
            f"against {where}. A job creates a run, logs {10} params in one log-batch, then one "
            f"log-batch of {spec['metrics']} metrics per step for {spec['steps']} steps, and ends "
            f"the run; then the next job starts. At each N, first **open loop** "
            f"({spec['rate']:g} steps/s per job, as a training job logs; {spec['seconds']:g} s), "
            f"then **closed loop** (each job as fast as the server answers; {spec['seconds']:g} "
            "s). *Kept* is what every run's metric history returned afterwards over what the "
            "server acknowledged (HTTP 200); an acknowledged point missing is *lost*; requests "
            "still in flight when a level ends are sent, not acknowledged. A server *holds* N jobs "
            f"when, open loop, the p99 of a log-batch stays within {figures.P99_LIMIT_S:g} s, "
            f"at most {figures.LATE_LIMIT:.0%} of the jobs' steps start late, and there is no "
            "error and nothing lost; once it does not, higher N run closed loop only. "
            "Locust shares this machine's cores with the server: a level where the generator "
            "was the limit is marked *generator-bound*.")


def _saturation(load: Mapping[str, Any]) -> list[str]:
    rows = []
    for target in figures.targets(load):
        sat = figures.saturation(load, target)
        best = figures.best_throughput(load, target)
        share = figures.floor_share(load, target)
        first = sat["first_not_held"]
        if sat["max_tried"] is None:
            held = "no open-loop level ran"
        elif first is None:
            held = f"held at every level, up to {sat['max_tried']} jobs"
        else:
            held = (f"**{sat['held'] or 0}** (not {first['users']}: {first['why']})")
        bound = figures.generator_bound_levels(load, target)
        rows.append([
            target, held,
            f"{best['stored_points_per_s']:,.0f} points/s at N={best['users']}" if best else "-",
            f"{share:.0%}" if share is not None else "-",
            f"{best['server']['cores']:.2f} cores, {fmt_bytes(best['server']['peak_rss_bytes'])}"
            if best else "-",
            ", ".join(f"N={r['users']} {r['model']}" for r in bound) or "none"])
    return ["### Saturation", "",
            *md_table(["server", f"jobs held (open loop, {load['spec']['rate']:g} steps/s each)",
                       "best stored throughput (closed loop)",
                       "of the backend's raw insert rate", "server at that level (CPU, peak RSS)",
                       "generator-bound levels"], rows)]


def _charts(load: Mapping[str, Any], chart_dir: Path | None) -> list[str]:
    if chart_dir is None:
        return []
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.0))
    for target in figures.targets(load):
        closed = [r for r in figures.levels(load, target, "closed") if r["status"] == "ok"]
        opened = [r for r in figures.levels(load, target, "open")
                  if r["status"] == "ok" and figures.p99_ms(r) is not None]
        if closed:
            left.plot([r["users"] for r in closed], [r["stored_points_per_s"] for r in closed],
                      marker="o", label=target)
        if opened:
            right.plot([r["users"] for r in opened], [figures.p99_ms(r) / 1000 for r in opened],
                       marker="o", label=target)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent jobs (writers)")
    left.set_ylabel("points stored per second")
    left.set_title("Closed loop: throughput")
    right.set_ylabel("p99 of a log-batch (s)")
    right.set_yscale("log")
    right.axhline(figures.P99_LIMIT_S, color="grey", linestyle="--", linewidth=1)
    right.set_title(f"Open loop ({load['spec']['rate']:g} steps/s per job): p99")
    left.legend(fontsize="x-small")
    save(fig, chart_dir, "team-scale.png")
    return ["![throughput and p99 against concurrent jobs](team-scale.png)", ""]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _levels(load: Mapping[str, Any]) -> list[str]:
    rows = []
    for r in load["levels"]:
        head = [r["target"], r["model"], str(r["users"])]
        if r["status"] != "ok":
            rows.append([*head, f"{r['status']}: {r.get('error') or ''}"[:160],
                         *["-"] * 9])
            continue
        batch = r["endpoints"].get(figures.BATCH, {})
        other = max((r["endpoints"].get(e, {}).get("p99_ms") or 0 for e in ENDPOINTS),
                    default=0)
        points = r["points"]
        kept = f"{points['stored']:,}/{points['acked']:,}"
        if points["sent"] > points["acked"]:
            kept += f" ({points['sent'] - points['acked']:,} sent, not acknowledged)"
        if points["acked_lost"]:
            kept += f", **{points['acked_lost']:,} acknowledged lost**"
        if points["runs_unread"]:
            kept += f", {points['runs_unread']} run(s) unread"
        errors = ", ".join(f"{n} {k}" for k, n in sorted(r["errors"].items())) or "0"
        gen = r["generator"]
        late = figures.late_share(r)
        rows.append([
            *head, f"{r['stored_points_per_s']:,.0f}" + (f" ({late:.0%} of steps late)"
                                                         if late else ""),
            f"{_ms(batch.get('p50_ms'))} / {_ms(batch.get('p95_ms'))} / "
            f"{_ms(batch.get('p99_ms'))}", _ms(other), errors, kept,
            f"{r['server']['cores']:.2f} / {fmt_bytes(r['server']['peak_rss_bytes'])}",
            f"{r['backends']['cores']:.2f} / {fmt_bytes(r['backends']['peak_rss_bytes'])}"
            if r["backends"]["peak_rss_bytes"] else "-",
            fmt_bytes(r.get("db_growth_bytes")),
            f"{gen['cores']:.2f}" + (f", **generator-bound**: {gen['why']}" if gen["bound"]
                                     else "")])
    return ["### Per level", "",
            "Latency in ms from Locust's client side; CPU in cores used on average over the "
            "level; *PostgreSQL/S3* are the stage's shared backends.", "",
            *md_table(["server", "model", "N", "points/s stored",
                       "log-batch p50 / p95 / p99", "create/params/update p99", "errors",
                       "kept/acknowledged", "server CPU / peak RSS", "PostgreSQL+S3 CPU / peak RSS",
                       "store growth", "generator CPU"], rows)]


def _interval(seconds: list[float]) -> str:
    if not seconds:
        return "no answer"
    mid, low, high = median_ci(seconds)
    return f"{fmt_s(mid)} [{fmt_s(low)}–{fmt_s(high)}]"


def _queries(load: Mapping[str, Any], chart_dir: Path | None) -> list[str]:
    records = [q for q in load.get("queries", []) if q["status"] == "ok"]
    failed = [q for q in load.get("queries", []) if q["status"] != "ok"]
    if not records and not failed:
        return []
    rows = []
    for q in records:
        for name, idle in q["idle"].items():
            busy = q["under_writers"].get(name)
            rows.append([q["target"], f"{q['runs']:,}", name, _interval(idle["seconds"]),
                         _interval(busy["seconds"]) if busy else "-"])
    fills = [f"{q['target']} {q['fill']['runs_per_s'] or 0:,.0f} runs/s"
             for q in records if q["fill"]["added"]]
    lines = ["### Queries as the store grows", "",
             "On the server of the last level (its store also holds that level's runs), a new "
             "experiment is filled through the server's API by 6 parallel clients, each run one "
             "runs/create and one log-batch (10 params, one step of the jobs' metrics and "
             "`loss`) (" + "; ".join(fills) + "). Each query is then timed "
             f"{load['spec']['query_repeats']} times on the idle server and, at the largest "
             "store, again while 4 open-loop jobs log to it: median [interval].", "",
             *md_table(["server", "runs in the experiment", "query", "idle", "under writers"],
                       rows)]
    lines += [f"- {q['target']}: {q.get('error')}" for q in failed]
    if failed:
        lines.append("")
    if chart_dir is not None and records:
        lines += _query_chart(records, chart_dir)
    return lines


def _query_chart(records: list[Mapping[str, Any]], chart_dir: Path) -> list[str]:
    plt = pyplot()
    names = list(records[0]["idle"])
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), sharey=True,
                             squeeze=False)
    axes = list(axes[0])
    for ax, name in zip(axes, names, strict=True):
        for target in dict.fromkeys(q["target"] for q in records):
            points = [(q["runs"], statistics.median(q["idle"][name]["seconds"]))
                      for q in records if q["target"] == target and q["idle"][name]["seconds"]]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=target)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(name, fontsize="small")
        ax.set_xlabel("runs in the store")
    axes[0].set_ylabel("seconds (median, idle)")
    axes[0].legend(fontsize="xx-small")
    save(fig, chart_dir, "team-scale-queries.png")
    return ["![query latency against runs in the store](team-scale-queries.png)", ""]


def _crosscheck(load: Mapping[str, Any]) -> list[str]:
    records = load.get("crosscheck", [])
    if not records:
        return []
    rows = []
    for c in records:
        if c["status"] != "ok":
            rows.append([c["target"], str(c["users"]), f"failed: {c.get('error')}", "-", "-"])
            continue
        real, loc = c["real"], c["locust"]
        rows.append([c["target"], str(c["users"]),
                     f"{_ms1(real['p50_ms'])} / {_ms1(real['p95_ms'])} ms ({real['calls']} calls)",
                     f"{_ms1(loc['p50_ms'])} / {_ms1(loc['p95_ms'])} ms ({loc['calls']} calls)",
                     f"{c['p50_ratio']:.2f}" if c.get("p50_ratio") else "-"])
    return ["### Real clients beside the Locust users", "",
            "N real MLflow clients (the SDK through trackbench's adapter, one process each, one "
            "training job each, started together) log to the same server, then N Locust users "
            "run closed loop on it for as long: the latency of one log-batch of the same size "
            "(p50 / p95). A ratio near 1 means the Locust figures stand for what a team's jobs "
            "see; above 1, the SDK adds its own cost per call.", "",
            *md_table(["server", "N", "real clients: log_metrics", "Locust: log-batch",
                       "p50 real / Locust"], rows)]


def _ms1(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _floor(load: Mapping[str, Any]) -> list[str]:
    floor = load.get("floor") or {}
    if not floor:
        return []
    rows = [[backend, f"{f['rows_per_s']:,.0f} rows/s ({f['rows']:,} rows in "
                      f"{f['seconds']:.1f} s)" if f["status"] == "ok" else f"failed: {f['error']}"]
            for backend, f in sorted(floor.items())]
    return ["### The floor", "",
            f"The backend's raw insert rate, measured in the same run: rows shaped like MLflow's "
            f"`metrics` table, {load['spec']['metrics']} per transaction (one log-batch's worth), "
            "into a new SQLite file (Python's sqlite3) and a new PostgreSQL database (psycopg). "
            "*Of the backend's raw insert rate* above is a server's best stored throughput over "
            "this.", "", *md_table(["backend", "raw insert rate"], rows)]
