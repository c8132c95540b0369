"""Markdown building blocks shared by every report section: number formats, tables, labels."""

from __future__ import annotations

NEPTUNE_NOTE = (
    "Neptune's hosted service was shut down on 2026-03-05 after its acquisition; its offline "
    "mode still works (neptune 1.x), but the offline data measured here has nowhere to sync to."
)
NO_SYNC_MARK = "†"


def fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if magnitude < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x).replace("|", "\\|") for x in row) + " |" for row in rows]
    if any(row and str(row[0]).endswith(NO_SYNC_MARK) for row in rows):
        lines += ["", f"{NO_SYNC_MARK} {NEPTUNE_NOTE}"]
    return lines + [""]


def cell_label(tool: str, scenario: str) -> str:
    """Neptune is marked wherever it appears: its offline data has nowhere to sync to."""
    return f"{tool}:{scenario}" + (f" {NO_SYNC_MARK}" if tool == "neptune" else "")
