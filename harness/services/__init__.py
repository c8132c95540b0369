"""Services a scenario needs (tracking server, PostgreSQL, S3), started and stopped by the harness.

Every service binds to 127.0.0.1 on a free port, is health-checked before use, keeps its log in
the run's output directory, and is stopped by its process id, also after a failure or Ctrl-C.
"""
