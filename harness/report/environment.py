"""The Environment section: the machine, the invocation and the tool versions, so a reader can
judge whether another report is comparable."""

from __future__ import annotations

from harness.report.figures import repeats_text
from harness.report.markdown import fmt_bytes, md_table
from harness.report.page import Page
from harness.results import REFERENCE_TOOLS


def render(page: Page) -> list[str]:
    results = page.results
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
        *([] if results.get("kind") == "load" else [
            ["workload", f"{inv['workload']} {inv.get('workload_config') or ''}".strip()],
            ["profile", inv["profile"]],
            ["repeats", repeats_text(results)]]),
        *[[f"{tool} version", version or "not installed"]
          for tool, version in results["tools"].items() if tool not in REFERENCE_TOOLS],
    ]
    return ["## Environment", "", *md_table(["", ""], rows)]
