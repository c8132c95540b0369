"""trackbench's harness: plans a run, runs its stages (each cell a fresh isolated process),
reads back what every tool stored, and renders the report from the results file alone.

The layers, from top to bottom, are in docs/ARCHITECTURE.md and in pyproject.toml's import
contracts.
"""
