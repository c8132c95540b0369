"""Machine speed, measured inside every measured cell: a fixed pure-Python loop, timed.

A shared VM's CPU throughput drifts by tens of percent over minutes (other tenants, frequency).
Interleaving spreads that drift over the tools within a run, but not between runs: the loop's
own time, taken before the SDK import and after finish, shows how fast the machine was during
the cell, so the report can separate the machine's drift from the tool's.
"""

from __future__ import annotations

import time

LOOP = 200_000  # about 10 ms of pure-Python work on a 2020s x86 core
TRIES = 3  # the fastest of a few, so a single preemption does not count as a slow machine


def _spin() -> float:
    start = time.perf_counter()
    total = 0
    for i in range(LOOP):
        total += i * i
    return time.perf_counter() - start


def machine_speed() -> tuple[float, float]:
    """(seconds the loop took, CPU seconds this measurement used)."""
    cpu = time.process_time()
    best = min(_spin() for _ in range(TRIES))
    return best, time.process_time() - cpu
