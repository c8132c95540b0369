"""The REPORT.md of ``trackbench run --suite mltraq-2024``: our figures beside MLtraq's published
ones, as seconds and as ratios to one reference tool, whether the rankings agree, and the
disagreements with the reasons read from their notebooks. It reads the results file only; the
published figures travel inside it (``published``), so it renders with no tracker installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.markdown import fmt_bytes, fmt_s, md_table
from harness.report.page import Page
from harness.results import mltraq_2024 as m24
from harness.results.stats import coverage_text, median_ci


def _fig(fig: m24.Figure | None) -> str:
    if fig is None:
        return "-"
    interval = "" if fig.n < 2 else f" [{fmt_s(fig.low)}, {fmt_s(fig.high)}]"
    return f"{fmt_s(fig.median)}{interval} (n={fig.n}){' capped' if fig.capped else ''}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}x"


def _ratio_interval(row: m24.Row) -> str:
    if row.ours_ratio is None:
        return "-"
    spread = "" if row.ours is None or row.ours.n < 2 else \
        f" [{_ratio(row.ours_ratio_low)}, {_ratio(row.ours_ratio_high)}]"
    return _ratio(row.ours_ratio) + spread


def _label(tool: str, published: Mapping[str, Any]) -> str:
    return m24.their_tools(published).get(tool, tool)


def _versions(results: Mapping[str, Any]) -> list[str]:
    theirs = results["published"]["source"]["versions"]
    rows = [[_label(t, results["published"]), theirs.get(t, "-"), results["tools"].get(t) or "-"]
            for t in dict.fromkeys([*theirs, *results["tools"]]) if t in m24.their_tools(
                results["published"])]
    return md_table(["tool", "MLtraq ran", "we ran"], rows)


def _header(results: Mapping[str, Any]) -> list[str]:
    src, machine = results["published"]["source"], results["machine"]
    nb = src["notebooks"]
    return [
        "# MLtraq's tracking-speed benchmark (2024), reproduced through our adapters", "",
        f"Published figures: [{src['title']}]({src['url']}) ({src['page_file']}), from the "
        f"notebooks `{nb['07']}`, `{nb['08']}` and `{nb['09']}` of {src['repository']} "
        f"(read at commit `{src['commit_read'][:12]}`). {src['figures_from']}", "",
        f"Theirs: {src['hardware']}; {src['method']}", "",
        f"Ours: {machine['cpu_model']}, {machine['cpu_logical']} logical cores, "
        f"{machine['platform']}, Python {machine['python']}; one fresh isolated process per "
        "tool and repeat (see Method). The hardware differs, so the comparison is made on "
        "ratios to one reference tool measured on the same side.", ""]


def _summary(results: Mapping[str, Any], table: Mapping[str, Any]) -> list[str]:
    """The answer first: per experiment, do the orders agree, how many ratios differ, and
    which side moved."""
    published = results["published"]
    lines = ["## In short", ""]
    for exp in published["experiments"]:
        ref, exp_rows = table[exp["id"]]
        rank = m24.ranking(exp_rows)
        compared = [r for r in exp_rows if r.compared and r.tool != ref]
        differing = [r for r in compared if r.disagrees]
        sides = list(dict.fromkeys(m24.moved(exp_rows, r.tool, ref) for r in differing))
        order = ("too few tools to rank" if len(rank.ours) < 2 else
                 "same order" if rank.same_order else
                 f"order differs in {len(rank.disagree)} pair(s)")
        lines.append(
            f"- **{exp['title']}**: {order}"
            + (f" (tau {rank.tau:+.2f})" if rank.tau is not None else "")
            + f"; {len(differing)} of {len(compared)} ratios to "
            f"{_label(ref, published) if ref else '-'} differ"
            + (f"; moved: {', '.join(_label(t, published) for t in sides)}" if sides else ""))
    return [*lines, ""]


def _side_by_side(results: Mapping[str, Any], table: Mapping[str, Any]) -> list[str]:
    published = results["published"]
    lines = ["## Side by side", "",
             "Our median with its interval (n repeats) beside MLtraq's published mean; both as "
             "ratios to the experiment's reference tool (its own figure on each side). "
             f"**differs**: their ratio lies more than {m24.TOLERANCE:g}x beyond our ratio's "
             "interval (they published no spread). A tool only one side measured shows `-`.", ""]
    for exp in published["experiments"]:
        ref, exp_rows = table[exp["id"]]
        lines += [f"### {exp['title']}", "",
                  f"Theirs: {exp['theirs']} ({exp['source']}). Ours: "
                  + (", ".join(f"`{p}`" for p in exp["ours"]))
                  + (" (their figure is the mean over these, so ours is the mean of their "
                     "medians)" if len(exp["ours"]) > 1 else "")
                  + f". Reference: **{_label(ref, published) if ref else 'none'}**.", ""]
        ranked_ours = sorted((r for r in exp_rows if r.ours), key=lambda r: r.ours.median)
        ranked_theirs = sorted((r for r in exp_rows if r.theirs_s is not None),
                               key=lambda r: r.theirs_s)
        pos_o = {r.tool: i + 1 for i, r in enumerate(ranked_ours)}
        pos_t = {r.tool: i + 1 for i, r in enumerate(ranked_theirs)}
        unstored = {rb["tool"] for rb in results["suite"]["read_backs"]
                    if rb["experiment"] in exp["ours"] and (
                        rb.get("status") != "ok" or rb.get("artifact", "stored") != "stored"
                        or rb.get("points_stored", 0) != rb.get("points_expected", 0))}
        rows = [[_label(r.tool, published) + (" ‡" if r.tool in unstored else ""), _fig(r.ours),
                 fmt_s(r.theirs_s) if r.theirs_s is not None else "-",
                 _ratio_interval(r), _ratio(r.theirs_ratio),
                 f"{pos_o.get(r.tool, '-')} / {pos_t.get(r.tool, '-')}",
                 "**differs**" if r.disagrees else ("agrees" if r.compared else "-")]
                for r in sorted(exp_rows, key=lambda r: (r.ours is None, r.ours.median
                                                        if r.ours else 0.0))]
        lines += md_table(["tool", "ours: median [interval]", "theirs: mean",
                           "ours / ref", "theirs / ref", "rank ours / theirs", "ratios"], rows)
        if unstored:
            lines += ["‡ read back, the data was not (all) in the tool's storage: see *Did the "
                      "data land?*", ""]
    return lines


def _rankings(results: Mapping[str, Any], table: Mapping[str, Any]) -> list[str]:
    published = results["published"]
    rows = []
    for exp in published["experiments"]:
        rank = m24.ranking(table[exp["id"]][1])
        if len(rank.ours) < 2:
            rows.append([exp["title"], str(len(rank.ours)), "-", "-", "-", "-", "too few tools"])
            continue
        verdict = "same order" if rank.same_order else "differs: " + "; ".join(
            f"{_label(a, published)} faster here, {_label(b, published)} there"
            for a, b in rank.disagree)
        rows.append([exp["title"], str(len(rank.ours)),
                     " < ".join(_label(t, published) for t in rank.ours),
                     " < ".join(_label(t, published) for t in rank.theirs),
                     f"{rank.agree} / {len(rank.disagree)} / {rank.tied}",
                     f"{rank.tau:+.2f}" if rank.tau is not None else "-", verdict])
    return ["## Do the rankings agree?", "",
            "Tools both sides measured, fastest first. Pairs: agree / disagree / tied, where a "
            "pair is tied when our two intervals overlap (no order to compare) and a "
            "disagreement needs our intervals apart; tau is Kendall's tau-a on the point "
            "figures (+1 the same order, -1 reversed).", "",
            *md_table(["experiment", "tools", "our order", "their order",
                       "pairs agree / disagree / tied", "tau", "verdict"], rows)]


def _measured_notes(results: Mapping[str, Any], tool: str, exp: Mapping[str, Any],
                    ref: str) -> list[str]:
    """What our own measurements say about a disagreement of ``tool``."""
    records = results["suite"]["records"]
    published = results["published"]
    notes = []
    if exp["id"] != m24.IMPORT and (split := m24.phases(records, tool, exp["ours"][0])):
        notes.append(f"per run in `{exp['ours'][0]}`: init {fmt_s(split['init'])}, log calls "
                     f"{fmt_s(split['log'])}, finish {fmt_s(split['finish'])} (medians)")
    if exp["id"] == "values-1-10" and (extra := m24.cold_extra(records, tool)) is not None:
        notes.append(f"its first run in a fresh process costs {fmt_s(extra)} more than the same "
                     "run next in that process (one-time costs; their kernel paid them once)")
    for part in exp["ours"]:
        if part.startswith("values-1000") and (cost := m24.per_value_s(records, tool, part)):
            notes.append(f"our {part}: {fmt_s(cost)} per logged value in the log calls")
    if tool == "mlflow" and exp["id"] != m24.IMPORT:
        variant = m24.phases(records, "mlflow-after-comet", "values-1")
        own = m24.phases(records, "mlflow", "values-1")
        if variant and own:
            with_comet, alone = sum(variant.values()), sum(own.values())
            notes.append(f"MLflow measured here with comet_ml imported first, as in their "
                         f"notebook (`values-1`): {fmt_s(with_comet)} per run against "
                         f"{fmt_s(alone)} without, end_run {fmt_s(variant['finish'])} against "
                         f"{fmt_s(own['finish'])}")
    theirs_v = published["source"]["versions"].get(tool)
    ours_v = results["tools"].get(tool)
    if theirs_v and ours_v and theirs_v != ours_v:
        notes.append(f"versions: {_label(tool, published)} {theirs_v} there, {ours_v} here")
    return notes


def _disagreements(results: Mapping[str, Any], table: Mapping[str, Any]) -> list[str]:
    published = results["published"]
    lines = ["## Disagreements, explained", "",
             "Per experiment, the ratios that differ. A ratio has two sides (the tool and the "
             "reference): the side that moved is the one whose figure, ours over theirs, departs "
             "more from the experiment's typical factor (the median over its tools). For each "
             "side that moved: what their timed block held, read from their notebooks' code "
             "(cell cited), what ours holds, and what our measurements show.", ""]
    found = False
    for exp in published["experiments"]:
        ref, exp_rows = table[exp["id"]]
        differing = [r for r in exp_rows if r.disagrees and ref is not None]
        if not differing:
            continue
        found = True
        by_tool = {r.tool: r for r in exp_rows}
        typical = m24.typical_factor(exp_rows)
        sides = list(dict.fromkeys(m24.moved(exp_rows, r.tool, ref) for r in differing))
        lines += [f"### {exp['title']} (reference {_label(ref, published)})", "",
                  "Differs: " + "; ".join(
                      f"{_label(r.tool, published)} ours {_ratio(r.ours_ratio)}, theirs "
                      f"{_ratio(r.theirs_ratio)}" for r in differing)
                  + f". Ours over theirs, typical {_ratio(typical)}: " + ", ".join(
                      f"{_label(t, published)} {_ratio(by_tool[t].factor)}"
                      for t in dict.fromkeys([ref, *(r.tool for r in differing)]))
                  + ". **Moved: " + ", ".join(_label(t, published) for t in sides) + "**.", ""]
        for tool in sides:
            for note in m24.reasons(published, tool, exp["id"]):
                lines.append(f"- {_label(tool, published)}, their timing: {note['text']} "
                             f"({note['source']})")
            if tool in m24.OUR_TIMING and exp["id"] != m24.IMPORT:
                lines.append(f"- {_label(tool, published)}, our timing: {m24.OUR_TIMING[tool]}")
            lines += [f"- {_label(tool, published)}, measured here: {note}"
                      for note in _measured_notes(results, tool, exp, ref)]
        lines.append("")
    if not found:
        lines += ["No ratio differs by more than the tolerance.", ""]
    common = published["timing_includes"]["common"]
    lines += ["What every one of their figures held (or left out):", "",
              *[f"- {n['text']} ({n['source']})" for n in common], ""]
    return lines


def _every_measurement(results: Mapping[str, Any]) -> list[str]:
    suite, published = results["suite"], results["published"]
    records = suite["records"]
    tools = list(dict.fromkeys(r["tool"] for r in records))
    header = ["tool", *[e.id for e in m24.EXPERIMENTS], m24.IMPORT]
    rows = []
    for tool in tools:
        row = [_label(tool, published)]
        for exp_id in [*(e.id for e in m24.EXPERIMENTS), m24.IMPORT]:
            values = m24.samples(records, tool, exp_id)
            bad = sorted({r["status"] for r in records if r["tool"] == tool
                          and r["experiment"] == exp_id and r["status"] != "ok"})
            cell = "-"
            if values:
                mid, low, high = median_ci(values)
                cell = fmt_s(mid) + (f" [{fmt_s(low)}, {fmt_s(high)}]" if len(values) > 1
                                     else "") + f" n={len(values)}"
            if bad:
                cell += f" ({', '.join(bad)})"
            row.append(cell)
        rows.append(row)
    return ["## Every measurement", "",
            "Seconds per experiment, median [interval] and repeats, one column per timed unit "
            "(`first-value` is `values-1` run first in a fresh process). capped: the loop hit "
            "the time cap, the figure covers only what was done.", "",
            *md_table(header, rows)]


def _read_backs(results: Mapping[str, Any]) -> list[str]:
    published = results["published"]
    rows = []
    for rb in results["suite"]["read_backs"]:
        if rb.get("status") != "ok":
            what = f"read-back {rb.get('status')}: {str(rb.get('error'))[:120]}"
        elif "artifact" in rb:
            what = f"array file {rb['artifact']}"
        else:
            what = f"{rb['points_stored']} of {rb['points_expected']} values stored"
        rows.append([_label(rb["tool"], published), rb["experiment"], what])
    return ["## Did the data land?", "",
            "MLtraq never read anything back. The first round's largest scalar run and its "
            "array were read here from the tool's own storage, in another fresh process.", "",
            *(md_table(["tool", "experiment", "read back"], rows) if rows else ["None.", ""])]


def _findings(results: Mapping[str, Any]) -> list[str]:
    suite, published = results["suite"], results["published"]
    lines = []
    for tool, why in suite["unavailable"].items():
        lines.append(f"- {_label(tool, published)}: unavailable: {why}")
    for rec in suite["records"]:
        if rec["status"] not in ("ok", "capped"):
            lines.append(f"- {_label(rec['tool'], published)} {rec['experiment']} repeat "
                         f"{rec['repeat'] + 1}: {rec['status']}: {str(rec.get('error'))[:200]}")
        elif rec["status"] == "capped":
            lines.append(f"- {_label(rec['tool'], published)} {rec['experiment']} repeat "
                         f"{rec['repeat'] + 1}: capped at the time cap after "
                         f"{rec.get('runs_done')} run(s), {rec.get('values_done')} value(s)")
    for proc in suite["processes"]:
        if proc.get("status") not in ("ok", "unavailable"):
            lines.append(f"- {_label(proc['tool'], published)} repeat {proc['repeat'] + 1}: "
                         f"worker {proc.get('status')}: {str(proc.get('error'))[:200]}")
        if proc.get("leftover_processes"):
            lines.append(f"- {_label(proc['tool'], published)} repeat {proc['repeat'] + 1}: "
                         f"left running: {', '.join(proc['leftover_processes'])}")
        net = proc.get("network") or {}
        if net.get("seen"):
            hosts = sorted({str(a.get("host")) for a in net.get("attempts", [])})
            lines.append(f"- {_label(proc['tool'], published)} repeat {proc['repeat'] + 1}: "
                         f"{net['seen']} network attempt(s) off the machine ({net['blocked']} "
                         f"blocked): {', '.join(hosts)}")
    cores = results["machine"].get("cpu_logical") or 1
    busy = [p["load_avg_1min"] for p in suite["processes"]
            if (p.get("load_avg_1min") or 0) > cores]
    if busy:
        lines.append(f"- the machine was busy: the 1-minute load average exceeded its {cores} "
                     f"cores at the start of {len(busy)} of {len(suite['processes'])} processes "
                     f"(up to {max(busy):.1f}); other work inflated those figures, and the "
                     "intervals show how much they moved")
    skipped = suite["skipped"]
    if skipped:
        lines.append(f"- the time budget skipped {len(skipped)} process(es): " + "; ".join(
            f"{_label(s['tool'], published)} repeat {s['repeat'] + 1}" for s in skipped))
    return ["## Findings", "", *(lines or ["- none: every process finished, nothing capped, "
                                           "nothing tried to reach the network"]), ""]


def _method(results: Mapping[str, Any]) -> list[str]:
    inv, suite, published = results["invocation"], results["suite"], results["published"]
    counts = [len(m24.samples(suite["records"], r["tool"], r["experiment"]))
              for r in suite["records"] if r["status"] == "ok"]
    wall = suite.get("wall_s")
    peak = max((p.get("peak_rss_bytes") or 0 for p in suite["processes"]), default=0)
    policy = suite["policy"]
    return [
        "## Method", "",
        "- **Processes**: one fresh process per tool and repeat, with a private HOME, caches "
        "and temp dir, tool settings stripped from the environment and the offline guard "
        "(every network attempt off the machine recorded and blocked), its process tree "
        "watched; an unrecorded import of each SDK first (disk cache, .pyc files).",
        "- **Timed**: as MLtraq's block: from before the first run's init to after the last "
        "run's finish (a new adapter object per run, all on the experiment's fresh storage), "
        "through the adapters' start_run / log_metrics / finish; never the import, which is "
        "timed on its own at the start of each process (fresh, nothing shared with another "
        "SDK). Storage is removed, untimed, after each experiment.",
        "- **In-process, like theirs**: within a process the experiments follow one another as "
        "in their kernel; `first-value` (the first, in a fresh process) and `values-1` (the "
        "same run next) show what one-time costs weigh.",
        "- **Scenarios**: MLflow on a fresh local SQLite file (as theirs), W&B, Neptune and "
        "Comet offline, Aim and MLtraq local, FastTrackML through the MLflow client against a "
        "FastTrackML server the harness starts beforehand (as theirs, not timed); every tool "
        "with its extras off (our lean profile; theirs turned most off, see the notes).",
        "- **Array**: our adapters have no array call. The 1M float64 array is saved with "
        "np.save (timed) and handed to log_artifact; each of theirs used its own encoding "
        "(text, image, table, bytes: see the notes), so this row compares the tools' file "
        "paths, not their array support.",
        f"- **Repeats**: up to {inv['repeats']}; an experiment whose first run took over "
        f"{fmt_s(policy['slow_s'])} gets as many as fit in {fmt_s(policy['slow_share_s'])}, "
        f"down to one; a process starts only if it fits the {inv['time_budget_s'] / 60:g}-minute "
        f"budget. An experiment's loop stops at {fmt_s(policy['cap_s'])} (recorded as capped). "
        "Intervals: distribution-free for the median, real "
        f"coverage {coverage_text(counts) or 'n/a'}.",
        "- **100 runs**: only for the tools MLtraq measured there ("
        + ", ".join(sorted(t for t in next(e for e in published["experiments"]
                                            if e["id"] == "runs-100")["mean_s"]))
        + ").",
        "- **Not reproduced**: " + "; ".join(
            [f"{n['what']} ({n['why']})" for n in published["not_reproduced"]]
            + [f"{_label(tool, published)} {' and '.join(exps)} ({next(iter(exps.values()))})"
               for tool, exps in policy.get("not_run", {}).items() if exps])
        + ".",
        "- **Explaining variant**: `mlflow-after-comet` is MLflow with comet_ml imported first "
        "in the process, as their notebook did (Comet's MLflow auto-logger active), measured "
        f"{policy.get('variant_repeats', 1)} time(s) on `values-1` and `values-10`.",
        f"- **This run**: {wall / 60 if wall else 0:.1f} minutes in all; largest process tree "
        f"{fmt_bytes(peak)}.", "",
        "Versions:", "", *_versions(results)]


def sections(results: Mapping[str, Any]) -> list[str]:
    tools = list(dict.fromkeys([*results["invocation"]["tools"]]))
    table = m24.rows(results["published"], results["suite"]["records"],
                     [t for t in tools if t in m24.their_tools(results["published"])])
    return [*_header(results), *_summary(results, table), *_side_by_side(results, table),
            *_rankings(results, table), *_disagreements(results, table),
            *_every_measurement(results),
            *_read_backs(results), *_findings(results), *_method(results)]


def render(page: Page) -> list[str]:
    if page.results.get("kind") != m24.KIND:
        return []
    return sections(page.results)
