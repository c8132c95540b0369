"""The floor: the backend's raw insert rate for the rows a log-batch writes, in the same run.

Rows shaped like MLflow's ``metrics`` table (key, value, timestamp, run_uuid, step, is_nan,
with its primary key), inserted ``batch`` rows per transaction (one transaction per log-batch
of M metrics), for ``seconds``: into a new SQLite file (Python's sqlite3, the module MLflow's
SQLAlchemy uses) and into a new database on the stage's PostgreSQL via psycopg. A server's
stored throughput divided by this rate is the share of its backend it turns into tracking.
"""

from __future__ import annotations

import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.services.postgres import PostgresService, connect

TABLE = ("create table metrics (key varchar(250) not null, value double precision not null, "
         "timestamp bigint not null, run_uuid varchar(32) not null, step bigint not null, "
         "is_nan boolean not null, primary key (key, timestamp, step, run_uuid, value, is_nan))")


def _batches(batch: int) -> Iterator[list[tuple[Any, ...]]]:
    run = uuid.uuid4().hex
    step = 0
    while True:
        now = int(time.time() * 1000)
        yield [(f"m{i}", random.random(), now, run, step, False) for i in range(batch)]
        step += 1


def _rate(insert: Callable[[list[tuple[Any, ...]]], None], batch: int,
          seconds: float) -> dict[str, Any]:
    rows = 0
    began = time.perf_counter()
    for rows_now in _batches(batch):
        insert(rows_now)
        rows += len(rows_now)
        if time.perf_counter() - began >= seconds:
            break
    took = time.perf_counter() - began
    return {"rows": rows, "seconds": took, "rows_per_s": rows / took, "batch": batch}


def sqlite_rate(path: Path, batch: int, seconds: float) -> dict[str, Any]:
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.execute(TABLE)
        conn.commit()

        def insert(rows: list[tuple[Any, ...]]) -> None:
            with conn:  # one transaction, committed (and synced) per batch
                conn.executemany("insert into metrics values (?, ?, ?, ?, ?, ?)", rows)

        return _rate(insert, batch, seconds)
    finally:
        conn.close()


def postgres_rate(pg: PostgresService, batch: int, seconds: float) -> dict[str, Any]:
    database = "load_floor"
    conninfo = pg.fresh_database(database)
    try:
        with connect(conninfo) as conn:
            conn.execute(TABLE)
            conn.commit()

            def insert(rows: list[tuple[Any, ...]]) -> None:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany("insert into metrics values (%s, %s, %s, %s, %s, %s)", rows)

            return _rate(insert, batch, seconds)
    finally:
        pg.drop_database(database)
