"""Registers trackbench's pytest options (``--benchmark`` and ``--trackbench-*``)."""

pytest_plugins = ("harness.pytest_plugin",)
