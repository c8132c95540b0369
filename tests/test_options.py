"""Options shared by the CLI and pytest turn into the same Plan."""

from __future__ import annotations

import argparse

import pytest

from harness import options


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    options.add_to(parser.add_argument)
    return parser.parse_args(list(argv))


def test_defaults_run_the_default_scenarios_of_the_ten_tools_with_probes() -> None:
    plan = options.plan_from(vars(parse()))
    assert plan.tools == ["mlflow", "wandb", "neptune", "comet", "aim", "clearml", "trackio",
                          "tensorboard", "dvclive", "mltraq"]
    assert plan.scenarios == ["default"] and plan.probes and plan.repeats == options.REPEATS == 4
    assert plan.projection_check and plan.training_run == {}
    assert plan.max_repeats == options.MAX_REPEATS
    assert plan.time_budget_s == 60 * options.TIME_BUDGET_MIN


def test_quick_is_first_scenarios_short_workload_no_probes() -> None:
    plan = options.plan_from(vars(parse("--quick")))
    assert plan.scenarios == ["first"] and not plan.probes
    assert plan.workload_config == {"epochs": options.QUICK_EPOCHS} and plan.repeats == 3
    assert plan.max_repeats == 3  # a fast look: no extra rounds
    assert not plan.projection_check
    plan = options.plan_from(vars(parse("--quick", "--workload-config", "epochs=7",
                                        "--scenarios", "mlflow:file")))
    assert plan.workload_config == {"epochs": 7} and plan.scenarios == ["mlflow:file"]


def test_external_services_and_typed_workload_config() -> None:
    plan = options.plan_from(vars(parse("--postgres-uri", "postgresql://u@db:5432/m",
                                        "--workload-config", "steps=300",
                                        "--workload-config", "name=ü")))
    assert plan.external == {"postgres_uri": "postgresql://u@db:5432/m"}
    assert plan.workload_config == {"steps": 300, "name": "ü"}


def test_pytest_spelling_maps_to_the_same_plan() -> None:
    parser = argparse.ArgumentParser()
    options.add_to(parser.add_argument, prefix="trackbench_")
    ns = parser.parse_args(["--trackbench-tools", "mlflow", "--trackbench-repeats", "5"])
    plan = options.plan_from(vars(ns), prefix="trackbench_")
    assert plan.tools == ["mlflow"] and plan.repeats == 5
    # pytest-benchmark runs its own rounds: the CLI's extra-round options are not offered.
    with pytest.raises(SystemExit):
        parser.parse_args(["--trackbench-max-repeats", "7"])


def test_max_repeats_and_time_budget() -> None:
    plan = options.plan_from(vars(parse("--repeats", "12")))
    assert plan.max_repeats == 12  # never below --repeats
    plan = options.plan_from(vars(parse("--max-repeats", "5", "--time-budget", "30")))
    assert (plan.max_repeats, plan.time_budget_s) == (5, 1800.0)
    with pytest.raises(ValueError, match="at least --repeats"):
        options.plan_from(vars(parse("--repeats", "4", "--max-repeats", "3")))
    with pytest.raises(ValueError, match="time-budget"):
        options.plan_from(vars(parse("--time-budget", "0")))


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        options.plan_from(vars(parse("--repeats", "0")))
    with pytest.raises(ValueError, match="key=value"):
        options.plan_from(vars(parse("--workload-config", "oops")))
    with pytest.raises(ValueError, match="crash-at"):
        options.plan_from(vars(parse("--crash-at", "1")))


def test_crash_at_sets_the_kill_fraction() -> None:
    assert options.plan_from(vars(parse())).crash_at == (0.2, 0.5, 0.8)
    assert options.plan_from(vars(parse("--crash-at", "0.25"))).crash_at == (0.25,)
    assert options.plan_from(vars(parse("--crash-at", "0.1,0.9"))).crash_at == (0.1, 0.9)


def test_training_run_is_checked_when_parsed() -> None:
    plan = options.plan_from(vars(parse("--training-run", "steps=2000,metrics=5,step_ms=20")))
    assert plan.training_run == {"steps": 2000, "metrics": 5, "step_ms": 20.0}
    for bad in ("steps=x", "epochs=3", "steps=-1"):
        with pytest.raises(SystemExit):
            parse("--training-run", bad)
