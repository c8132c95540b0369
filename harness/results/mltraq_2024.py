"""MLtraq's published speed benchmark (2024) beside ours: pure functions over the suite's records.

The published figures are data (``data/mltraq_2024.json``, with their citation); this module
only turns our records and those figures into comparable rows. Because the hardware differs
(theirs an M2 laptop), tools are compared as ratios to one reference tool measured on the same
side; a disagreement is a ratio of ours that differs from theirs by more than ``TOLERANCE``
beyond our own interval (they published means only, no spread).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.results.stats import median_ci

DATA_PATH = Path(__file__).resolve().parent / "data" / "mltraq_2024.json"
SUITE = "mltraq-2024"
KIND = "mltraq-2024"
# A ratio of ours further than this factor beyond our interval from theirs is a disagreement:
# their means carry no published spread, and two machines never scale every tool alike.
TOLERANCE = 2.0
# The reference of the ratios: the first of these both sides measured in the experiment.
REFERENCES = ("mlflow", "neptune", "comet", "mltraq")


@dataclass(frozen=True)
class Experiment:
    """One timed unit of ours: ``runs`` runs of ``values`` values (or one array) each."""

    id: str
    title: str
    runs: int = 1
    values: int = 1
    array: int = 0  # elements of the one array logged (0: scalar values)


# In the order one worker process runs them. "first-value" is the same work as "values-1" but
# first in a fresh process (what a script pays); the rest follow in that process, as in
# MLtraq's kernel, each on fresh storage.
EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("first-value", "one run, 1 value, first in a fresh process"),
    Experiment("values-1", "one run, 1 value", values=1),
    Experiment("values-10", "one run, 10 values", values=10),
    Experiment("values-100", "one run, 100 values", values=100),
    Experiment("values-1000", "one run, 1,000 values", values=1000),
    Experiment("values-10000", "one run, 10,000 values", values=10000),
    Experiment("runs-10", "10 runs of 1 value", runs=10),
    Experiment("runs-100", "100 runs of 1 value", runs=100),
    Experiment("array-1m", "one run, one array of 1,000,000 float64", array=1_000_000),
)
BY_ID = {e.id: e for e in EXPERIMENTS}
IMPORT = "import"

# What our adapters do inside the timed block where it differs from MLtraq's procedures (read
# from adapters/<tool>.py): the other half of every explanation.
OUR_TIMING: dict[str, str] = {
    "mlflow": "each start_run looks the experiment up by name through MlflowClient (creating it, "
              "and so migrating the fresh SQLite file, on the first run), then the fluent "
              "start_run, one log_metrics call (one SQL write) per value, end_run",
    "wandb": "each finish calls run.finish() and then wandb.teardown(), which waits for "
             "wandb-core to write out and close the run log and exit: every run starts and stops "
             "its own wandb-core; the lean profile turns off the stats sampler, console capture, "
             "git, code and metadata records",
    "neptune": "a fresh data directory per run; stdout/stderr/traceback capture and hardware "
               "monitoring off; run.stop() at finish; the array goes through upload(path), "
               "which offline keeps only a reference to the file",
    "comet": "OfflineExperiment with every extra off (also stdout capture, argv parsing, "
             "environment details, framework auto-logging); end() writes the offline zip. In "
             "comet_ml 3.58, end() of an offline experiment waits for its file-upload manager "
             "by polling every wait_for_finish_sleep_interval, 1 s by default "
             "(comet_ml/offline.py close(); DEFAULT_WAIT_FOR_FINISH_SLEEP_INTERVAL in "
             "comet_ml/config/config_constants.py)",
    "aim": "Run(repo, experiment) with system tracking and terminal capture off, then "
           "set_artifacts_uri; finish is run.close() (theirs never closed the run)",
    "mltraq": "a new adapter object per run opens its own session; each run is its own "
              "experiment, persisted at finish (theirs: one session and one experiment holding "
              "every run, persisted once at the end); values go into an mltraq.Sequence (theirs: "
              "a plain Python list)",
    "fasttrackml": "the MLflow client's fluent API against FastTrackML: the experiment looked up "
                   "by name at each start_run, end_run after every run (theirs: "
                   "FasttrackmlClient, set_terminated once)",
}


def load_published(path: Path = DATA_PATH) -> dict[str, Any]:
    """The published figures and the facts about their timing, as shipped with trackbench."""
    return json.loads(path.read_text())


def their_tools(published: Mapping[str, Any]) -> dict[str, str]:
    """Our tool key -> their method name."""
    return {ours: theirs for theirs, ours in published["tools"].items()}


def published_for(published: Mapping[str, Any], tool: str) -> set[str]:
    """Ids of our experiments (and ``import``) that feed a published figure of ``tool``."""
    name = their_tools(published).get(tool)
    return {our for exp in published["experiments"] if name in exp["mean_s"]
            for our in exp["ours"]}


@dataclass(frozen=True)
class Figure:
    """Our median of one tool on one published experiment, with its interval."""

    median: float
    low: float
    high: float
    n: int  # repeats behind it (the fewest of its parts)
    capped: bool = False  # some repeat hit the time cap: the figure is a lower bound


def samples(records: Sequence[Mapping[str, Any]], tool: str, exp_id: str) -> list[float]:
    return [r["total_s"] for r in records if r["tool"] == tool and r["experiment"] == exp_id
            and r["status"] == "ok" and r.get("total_s") is not None]


def our_figure(records: Sequence[Mapping[str, Any]], tool: str,
               parts: Sequence[str]) -> Figure | None:
    """The figure comparable to a published mean over ``parts`` (equal weights, as theirs):
    the mean of the parts' medians, its interval the mean of theirs. None if a part is
    missing."""
    stats = []
    for part in parts:
        values = samples(records, tool, part)
        if not values:
            return None
        stats.append((*median_ci(values), len(values)))
    capped = any(r["tool"] == tool and r["experiment"] in parts and r["status"] == "capped"
                 for r in records)
    return Figure(statistics.fmean(s[0] for s in stats), statistics.fmean(s[1] for s in stats),
                  statistics.fmean(s[2] for s in stats), min(s[3] for s in stats), capped)


@dataclass(frozen=True)
class Row:
    """One tool in one published experiment: both figures and both ratios to the reference."""

    experiment: str
    tool: str
    theirs_s: float | None
    ours: Figure | None
    theirs_ratio: float | None = None
    ours_ratio: float | None = None
    ours_ratio_low: float | None = None
    ours_ratio_high: float | None = None

    @property
    def compared(self) -> bool:
        return self.theirs_ratio is not None and self.ours_ratio is not None

    @property
    def disagrees(self) -> bool:
        """Their ratio lies more than TOLERANCE beyond our ratio's interval."""
        if not self.compared or self.ours_ratio_low is None or self.ours_ratio_high is None:
            return False
        return not (self.ours_ratio_low / TOLERANCE <= self.theirs_ratio
                    <= self.ours_ratio_high * TOLERANCE)

    @property
    def factor(self) -> float | None:
        """How many times their figure ours is: the machine, the versions and the method."""
        if self.ours is None or not self.theirs_s:
            return None
        return self.ours.median / self.theirs_s


def reference(published_exp: Mapping[str, Any], figures: Mapping[str, Figure | None],
              names: Mapping[str, str]) -> str | None:
    """The first of REFERENCES with a figure on both sides of this experiment."""
    for tool in REFERENCES:
        if figures.get(tool) is not None and names.get(tool) in published_exp["mean_s"]:
            return tool
    return None


def rows(published: Mapping[str, Any], records: Sequence[Mapping[str, Any]],
         tools: Sequence[str]) -> dict[str, tuple[str | None, list[Row]]]:
    """Per published experiment: (reference tool, one Row per tool either side measured)."""
    names = their_tools(published)
    out: dict[str, tuple[str | None, list[Row]]] = {}
    for exp in published["experiments"]:
        means = exp["mean_s"]
        present = [t for t in tools if names.get(t) in means or samples(records, t, exp["ours"][0])]
        figures = {t: our_figure(records, t, exp["ours"]) for t in present}
        ref = reference(exp, figures, names)
        ref_fig = figures.get(ref) if ref else None
        ref_theirs = means.get(names.get(ref, "")) if ref else None
        exp_rows = []
        for tool in present:
            fig, theirs = figures[tool], means.get(names.get(tool, ""))
            ratios: dict[str, float | None] = {}
            if ref_fig is not None and ref_theirs:
                ratios = {
                    "theirs_ratio": theirs / ref_theirs if theirs is not None else None,
                    "ours_ratio": fig.median / ref_fig.median if fig else None,
                    "ours_ratio_low": fig.low / ref_fig.high if fig and ref_fig.high else None,
                    "ours_ratio_high": fig.high / ref_fig.low if fig and ref_fig.low else None}
            exp_rows.append(Row(exp["id"], tool, theirs, fig, **ratios))
        out[exp["id"]] = (ref, exp_rows)
    return out


@dataclass(frozen=True)
class Ranking:
    """Pairwise agreement of the two orders in one experiment (tools both sides measured)."""

    ours: list[str]  # fastest first, by our median
    theirs: list[str]  # fastest first, by their mean
    agree: int  # pairs in the same order, our intervals apart
    disagree: list[tuple[str, str]]  # (faster in ours, faster in theirs), our intervals apart
    tied: int  # pairs whose intervals overlap in ours: no order to compare

    @property
    def same_order(self) -> bool:
        return not self.disagree

    @property
    def tau(self) -> float | None:
        """Kendall's tau-a on the point figures (1: same order, -1: reversed)."""
        pos = {t: i for i, t in enumerate(self.theirs)}
        n = len(self.ours)
        if n < 2:
            return None
        score = sum(1 if pos[a] < pos[b] else -1
                    for i, a in enumerate(self.ours) for b in self.ours[i + 1:])
        return score / (n * (n - 1) / 2)


def ranking(exp_rows: Sequence[Row]) -> Ranking:
    both = [r for r in exp_rows if r.ours is not None and r.theirs_s is not None]
    ours = [r.tool for r in sorted(both, key=lambda r: r.ours.median)]
    theirs = [r.tool for r in sorted(both, key=lambda r: r.theirs_s)]
    by_tool = {r.tool: r for r in both}
    agree, tied, disagree = 0, 0, []
    for i, a in enumerate(ours):
        for b in ours[i + 1:]:
            fa, fb = by_tool[a].ours, by_tool[b].ours
            if fa.high >= fb.low:  # a is faster by median; intervals overlap: a tie
                tied += 1
            elif by_tool[a].theirs_s <= by_tool[b].theirs_s:
                agree += 1
            else:
                disagree.append((a, b))
    return Ranking(ours, theirs, agree, disagree, tied)


def typical_factor(exp_rows: Sequence[Row]) -> float | None:
    """The experiment's typical ours-over-theirs factor: the geometric median of its tools'."""
    logs = [math.log(r.factor) for r in exp_rows if r.factor]
    return math.exp(statistics.median(logs)) if logs else None


def moved(exp_rows: Sequence[Row], tool: str, ref: str) -> str:
    """Which side of a disagreeing ratio moved: the tool, or the reference, whose factor (ours
    over theirs) departs more from the experiment's typical factor."""
    factors = {r.tool: r.factor for r in exp_rows if r.factor}
    typical = typical_factor(exp_rows)
    if tool not in factors or ref not in factors or typical is None:
        return tool

    def departure(t: str) -> float:
        return abs(math.log(factors[t] / typical))

    return tool if departure(tool) >= departure(ref) else ref


def reasons(published: Mapping[str, Any], tool: str, exp_id: str) -> list[dict[str, str]]:
    """The facts of the data file about ``tool``'s timed block that bear on ``exp_id``."""
    notes = published["timing_includes"].get(IMPORT if exp_id == IMPORT else tool, [])
    return [n for n in notes if exp_id in n.get("experiments", [exp_id])]


def cold_extra(records: Sequence[Mapping[str, Any]], tool: str) -> float | None:
    """Median seconds a tool's first run in a fresh process costs beyond the same run later in
    that process: one-time costs MLtraq's kernel paid once, not per measurement."""
    first, later = samples(records, tool, "first-value"), samples(records, tool, "values-1")
    if not first or not later:
        return None
    return statistics.median(first) - statistics.median(later)


def phases(records: Sequence[Mapping[str, Any]], tool: str,
           exp_id: str) -> dict[str, float] | None:
    """Median seconds per run in init (start_run), log calls and finish, for ``exp_id``."""
    exp = BY_ID.get(exp_id)
    ok = [r for r in records if exp and r["tool"] == tool and r["experiment"] == exp_id
          and r["status"] == "ok" and r.get("init_s") is not None]
    if not ok:
        return None
    return {k: statistics.median(r[f"{k}_s"] / max(1, r.get("runs_done") or exp.runs)
                                 for r in ok) for k in ("init", "log", "finish")}


def per_value_s(records: Sequence[Mapping[str, Any]], tool: str, exp_id: str) -> float | None:
    """Median seconds per logged value spent in the log calls of ``exp_id``."""
    exp = BY_ID.get(exp_id)
    costs = [r["log_s"] / (exp.values * exp.runs) for r in records
             if exp and r["tool"] == tool and r["experiment"] == exp_id and r["status"] == "ok"
             and r.get("log_s") is not None]
    return statistics.median(costs) if costs else None
