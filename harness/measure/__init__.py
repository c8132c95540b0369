"""Measuring one cell: the worker process, the Tracker facade and its ledger, process-tree
sampling, the offline guard, the read-back and its fidelity check, and the worker-side parts of
the probes and reliability checks (feature calls, kill points, bad input)."""
