"""An Azure activity's child process (ingest/drivers/azure/activity_child.py) with a fault put
into one job first: tests/integration/test_activity_isolation.py puts this script in place of
the child's command (ingest.drivers.azure.isolation.child_command), then calls the real
activities. The child is a fresh interpreter, so the fault is put in here, in the child itself,
as tests/job_process_driver.py does for the local runner's job processes.

    python tests/activity_fault_child.py kill|abort|canary|raise|hang|term|none <job name> [<control fd>]

With a control socket's fd it is the warm server instead (ingest/drivers/azure/warm_server.py),
whose forked children carry the fault.

`abort` stands in for a native driver that panics and aborts (no real driver here can be made
to): it writes a Rust panic's lines to the child's stderr and calls abort(); the capture of the
cause (a real stderr, a real SIGABRT) is what is tested. `canary` first registers a secret as
Key Vault would, then panics naming it and a connection URL with its password. `raise` registers
the same secret, then raises a Python error naming it (Durable retries the activity). `hang` replaces every activity's body with a
wait of two minutes, its pid written to $HANG_PID_FILE (the test then kills the worker). `kill`
is a SIGKILL from outside (an operator, or the OOM killer); a real OOM kill needs no fault: the
test's table is too big for the cgroup. `term` is a SIGTERM to the child as its job starts (a
host shutting down), after which the job runs on.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ingest.load  # noqa: E402
from ingest.core.redact import register_secret  # noqa: E402

CANARY = "Kv-Canary-Isolate-7741"
URL_PASSWORD = "Url-Canary-Isolate-5532"


def _panic(extra: bytes = b"") -> None:
    os.write(2, b"thread '<unnamed>' (4242) panicked at /src/connectorx/src/sources/postgres/"
                b"typesystem.rs:134:22:\nnot implemented: _uuid" + extra + b"\nstack backtrace:\n"
                b"   0: rust_begin_unwind\n")
    os.abort()


def _fault(fault: str) -> None:
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "abort":
        _panic()
    if fault == "canary":
        register_secret(CANARY)  # learned in the child, as a Key Vault secret is
        _panic(f" {CANARY} postgresql://reader:{URL_PASSWORD}@db.example.com/sales".encode())
    if fault == "raise":
        register_secret(CANARY)  # learned in the child, as a Key Vault secret is (the worker never saw it)
        raise ConnectionResetError(f"blob read reset; secret {CANARY}")
    if fault == "term":
        os.kill(os.getpid(), signal.SIGTERM)


def _hang(payload, settings):
    Path(os.environ["HANG_PID_FILE"]).write_text(str(os.getpid()))
    time.sleep(120)


def main() -> int:
    fault, doomed = sys.argv[1], sys.argv[2]
    real_run_job, real_cdc = ingest.load.run_job, ingest.load.run_cdc_connection

    def run_job(job, run, settings, **kwargs):
        logging.getLogger("ingest.tests.child").info("child %d loads job %s", os.getpid(), job.job_name)
        if job.job_name == doomed:
            _fault(fault)
        return real_run_job(job, run, settings, **kwargs)

    def run_cdc_connection(jobs, run, settings, **kwargs):
        if any(job.job_name == doomed for job in jobs):
            _fault(fault)
        return real_cdc(jobs, run, settings, **kwargs)

    ingest.load.run_job, ingest.load.run_cdc_connection = run_job, run_cdc_connection
    if fault == "hang":
        from ingest.drivers.azure import activities

        for name in activities.INLINE:
            activities.INLINE[name] = _hang
    if len(sys.argv) > 3:  # the warm server (INGEST_ACTIVITY_ISOLATION=warm): its children inherit the fault
        import socket

        from ingest.drivers.azure.warm_server import serve

        serve(socket.socket(fileno=int(sys.argv[3])))
        return 0
    from ingest.drivers.azure.activity_child import main as child_main

    return child_main()


if __name__ == "__main__":
    sys.exit(main())
