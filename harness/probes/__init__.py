"""Feature probes: the coverage verdicts drawn from a probe run's records and read-back, and the
probes of real servers over plain HTTP (the REST endpoints the seed names, MLflow's basic-auth)."""
