"""Measurement settings that the report states in its method.

Defined once, here, so the code that measures and the text that explains the measurement cite
the same number.
"""

from __future__ import annotations

SAMPLE_INTERVAL_S = 0.1  # how often a process tree's CPU and RSS are sampled
PROBE_SECONDS = 6.0  # how long a coverage probe run logs, system metrics on
# What runs, unrecorded, before the measured cells.
WARMUP = ("one baseline cell", "one import of each tool's SDK")
