"""The stages of a run, one module each with ``run(ctx)`` (the contract is in
:mod:`harness.stages.context`); their order is the runner's stage list. ``context``,
``cell_batch`` and ``pair_loop`` are not stages: they are the machinery the stages share."""
