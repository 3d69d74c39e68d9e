"""dlt settings this app runs with, set as environment defaults before dlt reads them (an
explicit environment variable still wins). One place for the CLI, the Functions app and tests.

- RUNTIME__DLTHUB_TELEMETRY=false: no anonymous telemetry calls out of the lake's network.
- EXTRACT__FUTURES_POLL_INTERVAL=0.002: dlt's extract loop sleeps this long whenever its
  sources have no item ready, two or three times per load even for a plain generator; at
  dlt's default 0.01 s that was ~20 ms of every job doing nothing (measured, bench/README).
  It only polls that often while async items are pending, which our resources never yield.
- RUNTIME__INTERCEPT_SIGNALS=false: dlt's own SIGINT/SIGTERM handlers in normalize and load
  would stop a commit half way; ours stop a job before its commit only (ingest/core/interrupts.py).

Nothing here imports dlt: `validate`, `plan` and `template` never load it. What changes dlt's
own code (ingest/lake/parquet_encoding.py) is installed by ingest/load.py, which every load goes
through.
"""

from __future__ import annotations

import os

DLT_DEFAULTS = {
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "EXTRACT__FUTURES_POLL_INTERVAL": "0.002",
    "RUNTIME__INTERCEPT_SIGNALS": "false",
}


def apply_dlt_defaults() -> None:
    for name, value in DLT_DEFAULTS.items():
        os.environ.setdefault(name, value)
