"""The How it was measured section: the method, citing the settings the harness measured
with (``harness.results``), so the text cannot drift from the code."""

from __future__ import annotations

from harness.report.figures import coverage_of
from harness.report.page import Page
from harness.results.method import PROBE_SECONDS, SAMPLE_INTERVAL_S
from harness.results.precision import UNSTABLE_SPREAD
from harness.results.ranking import ALPHA
from harness.results.stats import CONFIDENCE

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
  workload + finish + interpreter exit: what the user waits for. Under `pytest --benchmark`,
  pytest-benchmark times that process alone; the harness's own work around it (flushing, the
  service samplers, sizing disk, database and bucket) runs outside the timed round.
- *Overhead vs none* is a cell's end-to-end time minus the `none` baseline's (the same workload
  with no tracker) in the same repeat of the same invocation. Every figure is the median over
  repeats with a distribution-free interval from order statistics: the narrowest
  [x(k), x(n+1-k)] that holds the true median with at least {100 * CONFIDENCE:.0f}% probability,
  or [min, max] where no interval reaches that; its real coverage, P(k <= B <= n-k) for
  B ~ Binomial(n, 1/2), is stated, not assumed (in this run: {{coverage}}). Two tool:scenarios
  are compared round by round, which cancels the machine's drift between rounds: a two-sided
  paired t-test on the log of their per-round ratio (on the differences where a figure is not
  positive), with Holm's correction over the pairs compared (family-wise {100 * ALPHA:.0f}%): all
  the pairs of a team shape on page one, neighbours in the Stability section. Where it does
  not reject, the two are *tied*; page one lists tool:scenarios by their median and gives each
  the ranks the tests allow: from one more than those shown cheaper to the count less those
  shown dearer. `null` is an adapter that does nothing: the harness's
  own floor. Cells are interleaved across tools, after an unrecorded warm-up ({{warmup}}).
  Before each measured process starts, pending disk writes are flushed (`sync`), so one cell's
  writeback does not land in the next one's figures.
- *Extra rounds*: right after the planned repeats, before the reliability checks kill servers
  and fill their stores (so every round measures services in the same state), more interleaved
  rounds of the baseline, the floor and each tool:scenario whose end-to-end or blocked-time
  interval still spans {100 * UNSTABLE_SPREAD:.0f}% or more of its median, until none does, the
  repeat cap is reached, or the next round, plus the time the reliability checks are expected
  to take (estimated from each scenario's measured cells), would overrun the time budget. A
  noisy figure thus gets more samples than a steady one; the stopping rule looks at the
  interval's width, never at where the median lies.
- *CPU (process tree)* is user+system time of the worker and every descendant it reaped
  (`wait4`; the worker is a child subreaper, so detached helpers such as `wandb-core` are
  reaped into it), plus processes still alive at exit at their last sample. *Peak RSS (tree)*
  is the largest sum of RSS over the tree, sampled every {SAMPLE_INTERVAL_S * 1000:.0f} ms.
  *Disk* is the bytes the tool wrote in its storage directory and the cell's HOME; a service's
  disk is how much its database or bucket grew during the cell.
- *Fidelity*: the harness records every value the workload hands over (the ledger); a second
  fresh process, holding no credentials, reads back what the tool stored, from the tool's own
  storage. Params match if equal (or equal as text: stored as a string); metric points match on
  (key, step) with the value bit for bit (-0.0 is not 0.0, a number that comes back as text is
  altered, NaN matches NaN: the same rule as the bad-input check); artifacts match on name and
  the SHA-256 of bytes held in the tool's own storage (its store, bucket, cache, or the bundle a
  sync would upload). An artifact the tool only points at (a path to the user's file) is
  *referenced, not stored*, whatever still lies at that path.
- *Crash safety*: per tool and scenario, one run per `--crash-at` fraction ({{crash_at}} here)
  kills itself with SIGKILL just before `log_metrics` call N+1 (N: that fraction of the
  workload's calls as counted on the `null` cells); a fresh process reads back what the tool
  would deliver of the points handed over before the kill (matched on key and step: a point
  stored with an altered value, e.g. as float32, survived, and Fidelity reports the change;
  data a tool's sync or upload would not take does not count; a read-back that fails counts 0).
  The report gives the minimum, median and maximum share over the kills, and the window at
  risk: from the call that handed over the first lost point to the kill, in seconds and steps,
  for the worst kill. *Server outage*: at the median kill point the tracking server's process
  tree is SIGKILLed and
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
  original store and HOME moved away) and compares with the ledger. Auth and isolation on a
  server scenario are *available* when verified on an MLflow server the harness starts with
  `--app-name basic-auth` (not the scenario's own server, which runs without it), and are
  probed on a team's own server (`--tracking-uri`) as it runs. *Seed claims* are checked
  against these verdicts, the REST probes and fidelity.
- *Offline honesty*: every Python process of every worker the harness starts (measured and
  probe cells, read-backs, crash, outage, bad-input and sweep runs) and the MLflow tracking
  server starts with an audit hook on socket events that records each attempt to reach a
  non-loopback address (connect, datagram, DNS lookup; the machine's own hostname counts as
  local) and blocks it with the error an offline machine gives; every guard log is read.
  Non-Python helpers (e.g. `wandb-core`, a Go binary) and C extensions with their own sockets
  escape the hook: their inet connections are sampled about once a second, which records a
  connection that lives across a sample but cannot block it; a short one can be missed.
  Python started with `-I`, `-S` or `-E` would escape the hook too.
- *Bad input*: per tool and base scenario, one fresh run is fed each odd value, name, step,
  param and artifact through the adapter (no conversion on the way), one call per case; a fresh
  process reads the run back and each case is classified by comparing what was handed over with
  what was stored (numbers by value and type, NaN equal to NaN; artifacts by SHA-256).
- *Concurrency*: the measured repeats, the projection check and the server outage run one cell
  at a time. The checks that measure what a tool kept, not how long it took (coverage probes,
  crash safety, bad input), ran {{check_workers}} cell(s) at a time (one per core, two at
  most), each in its own processes and directories; their durations are not compared.
"""


def render(page: Page) -> list[str]:
    """METHOD, with the warm-up this run recorded (older files: the one baseline cell) and the
    coverage of its intervals."""
    warmup = ", ".join(page.results["invocation"].get("warmup") or ["one baseline cell"])
    fractions = page.results["invocation"].get("crash_at") or []
    crash_at = ", ".join(f"{100 * f:.0f}%" for f in fractions) or "none"
    text = (METHOD.replace("{warmup}", warmup).replace("{coverage}", coverage_of(page.results))
            .replace("{crash_at}", crash_at)
            .replace("{check_workers}", str(page.results["invocation"].get("check_workers", 1))))
    return ["## How it was measured", "", text]
