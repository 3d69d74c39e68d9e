"""`python -m ingest run` in a fresh process, as a user starts it, with a fault put into one
job first: the local runner forks its job processes from a clean parent, which is what it is
built for (a pytest process has already run native drivers in-process, and a fork of such a
process is not what users run). Used by tests/integration/test_job_processes.py.

    python tests/job_process_driver.py <workbook> kill|secret|hang|abort|none

`abort` stands in for a native driver that panics and aborts the process (no real driver here
can be made to): it writes a Rust panic's lines to the process's stderr and calls abort(); the
capture of the cause (a real stderr, a real SIGABRT) is what is tested.
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

SECRET = "child-only-s3cret"


def main() -> int:
    book, fault = sys.argv[1], sys.argv[2]
    real_run_job = ingest.load.run_job

    def run_job(job, run, settings):  # forked children call this (ingest/drivers/local/job_processes.py)
        if fault == "kill" and job.job_name == "doomed":
            os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer does to a job mid-load
        if fault == "abort" and job.job_name == "doomed":
            os.write(2, b"thread '<unnamed>' (4242) panicked at /src/connectorx/src/sources/postgres/"
                        b"typesystem.rs:134:22:\nnot implemented: _uuid\nstack backtrace:\n   0: rust_begin_unwind\n")
            os.abort()
        if fault == "hang":  # a long load: the test kills the runner meanwhile
            Path(os.environ["HANG_PID_FILE"]).write_text(str(os.getpid()))
            time.sleep(120)
        if fault == "secret":
            register_secret(SECRET)  # learned in the child, as a Key Vault secret is
            logging.getLogger("ingest.load").warning("job %s pid %d sees %s", job.job_name, os.getpid(), SECRET)
            sys.stderr.write(f"a library prints {SECRET} to stderr\n")  # echoed by the runner: masked
            sys.stderr.flush()
        return real_run_job(job, run, settings)

    ingest.load.run_job = run_job
    from ingest.cli import main as cli_main

    code = cli_main(["run", "--config", book, "--json", "--no-progress"])
    logging.getLogger("ingest").warning("parent pid %d after the run: %s", os.getpid(), SECRET)
    return code


if __name__ == "__main__":
    sys.exit(main())
