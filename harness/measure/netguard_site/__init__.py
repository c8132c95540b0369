"""The offline guard's start-up directory: only cells get it on PYTHONPATH (see
harness.measure.netguard), so its ``sitecustomize`` runs in every Python process of a cell and
nowhere else."""
