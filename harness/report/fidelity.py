"""The Fidelity section: what each tool kept of what was logged, read back from its storage,
for the worst repeat, with the first examples of what differed."""

from __future__ import annotations

from harness.report.figures import by_scenario, ok_cells
from harness.report.markdown import cell_label, md_table
from harness.report.page import Page
from harness.results.derived import kept_fraction


def render(page: Page) -> list[str]:
    rows, details = [], []
    for (tool, scenario), cells in by_scenario(page.results).items():
        measured = [c for c in ok_cells(cells) if c.get("fidelity")]
        if not measured:
            continue
        worst = min(measured, key=lambda c: kept_fraction(c["fidelity"]) or 0.0)
        fid = worst["fidelity"]
        cols = [f"{fid[k]['kept']}/{fid[k]['logged']}" for k in ("params", "points", "artifacts")]
        unsupported = fid["artifacts"].get("unsupported", 0)
        if unsupported and unsupported == fid["artifacts"]["logged"]:
            cols[2] = "unsupported"
        lost = sum(fid[k]["missing"] + fid[k]["altered"] for k in fid)
        referenced = sum(fid[k].get("referenced", 0) for k in fid)
        typed = fid["params"].get("type_changed", 0)
        said = [f"{lost} value{'s' if lost > 1 else ''}"] if lost else []
        said += [f"{referenced} referenced, not stored"] if referenced else []
        said += [f"{unsupported} artifact(s): the tool stores no files"] if unsupported else []
        rows.append([cell_label(tool, scenario), *cols, "; ".join(said) or "nothing",
                     f"{typed} params" if typed else "-"])
        examples = [f"{k}: {e}" for k in fid for e in fid[k]["examples"]]
        if examples:
            details.append(f"- **{cell_label(tool, scenario)}** (repeat {worst['repeat'] + 1}): "
                           + "; ".join(examples))
    lines = ["## Fidelity", "", "Worst repeat shown: logged → read back from the tool's storage.",
             "", *md_table(["tool:scenario", "params kept", "metric points kept",
                            "artifacts kept", "lost or altered", "type changed (kept as text)"],
                           rows)]
    if details:
        lines += ["What differed (first examples; `extra` = stored but never logged; the tools' "
                  "own explanations are under Notes):", "",
                  *details, ""]
    return lines
