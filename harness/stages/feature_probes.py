"""The feature probes: one probe cell per tool and scenario, whose coverage verdicts (auth,
isolation, data versioning, monitoring, alerts, registry, offline sync, query API, REST API)
come from what it executed and read back (see :mod:`harness.probes.coverage`).

The probe run calls each optional feature for real; a fresh process reads the store back and
copies the tool's offline bundle; a third reads only that copy, originals moved away. Entries of
the server probes (REST, basic-auth) replace the local ones where the scenario runs a server.
Records go to ``data["probes"]``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.base import REFERENCE_TOOLS
from harness.measure.cell import CellRun, ServiceHandle
from harness.plan import Cell, Plan
from harness.probes import coverage, server_coverage
from harness.services.mlflow_server import TRACKING_SERVERS
from harness.stages.cell_batch import run_batch
from harness.stages.context import StageContext


def probe_cell(cell: Cell, plan: Plan, tmp_root: Path,
               services: Mapping[str, ServiceHandle] | None = None) -> dict[str, Any]:
    """Log the probe run, read it back with its bundle copied, read the bundle alone; verdicts
    (without the server probes' entries, which the stage merges in)."""
    run = CellRun(cell, plan, tmp_root, services)
    try:
        run.log()
        read = run.read(bundle_dir=run.dir / "bundle")
        record = run.record
        if read:
            started = time.perf_counter()
            bundle = run.read_bundle(read.get("bundle"), read.get("stored"))
            record["offline_bundle"] = bundle
            record["bundle_read_s"] = time.perf_counter() - started
            server = server_coverage.server_of(cell.tool, cell.scenario,
                                               TRACKING_SERVERS) is not None
            record["coverage"] = coverage.verdicts(
                run.logged, read, run.cls.hosted_auth_docs,
                hosted_api_docs=run.cls.hosted_api_docs, server=server,
                database=bool(services) and not server, bundle=bundle)
        record["network"] = run.network()
    finally:
        run.close()
    return record


def run(ctx: StageContext) -> None:
    if not ctx.plan.probes:
        return
    done = ctx.done()
    batch = [Cell(t, s, 0, "probe") for t, s in ctx.pairs
             if t not in REFERENCE_TOOLS and (t, s, 0, "probe") not in done]
    server_probes = ctx.data.get("server_probes", {})

    def complete(record: dict[str, Any]) -> None:
        label = f"{record['tool']}:{record['scenario']}"
        record["coverage"] = coverage.merge(record.get("coverage") or {},
                                            server_coverage.coverage_for(label, server_probes))

    run_batch(ctx, batch, lambda cell, services: probe_cell(cell, ctx.plan, ctx.tmp_root, services),
              into="probes", describe=lambda cell: "probe", complete=complete,
              workers=ctx.plan.check_workers)
