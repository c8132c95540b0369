"""The How it was measured section: the method, citing the settings the harness measured
with (``harness.results``), so the text cannot drift from the code."""

from __future__ import annotations

from harness.report.page import Page
from harness.results.method import PROBE_SECONDS, SAMPLE_INTERVAL_S
from harness.results.precision import UNSTABLE_SPREAD
from harness.results.stats import RESAMPLES

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


def render(page: Page) -> list[str]:
    """METHOD, with the warm-up this run recorded (older files: the one baseline cell)."""
    warmup = ", ".join(page.results["invocation"].get("warmup") or ["one baseline cell"])
    return ["## How it was measured", "", METHOD.replace("{warmup}", warmup)]
