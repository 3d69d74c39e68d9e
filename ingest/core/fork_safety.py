"""Whether this process may still fork job processes (ingest/drivers/local/job_processes.py).

A fork copies only the thread that calls it. Source drivers keep native thread pools and
global state that a child cannot use: connectorx's Rust runtime, an ODBC environment with a
live connection. Children forked from a process that has run a job itself hung or crashed
(seen: SIGSEGV in a child forked from the test process). The CLI's process never opens a
source (it reads the workbook, prepares the lake, warms dlt up and forks), so it forks
safely; a process that has run a job in-process (threads, a Functions worker, an embedding
program) keeps running jobs in threads from then on."""

from __future__ import annotations

import os
import sys

_job_ran_here = False
_pid = os.getpid()


def note_job_ran_here() -> None:
    global _job_ran_here, _pid
    _job_ran_here, _pid = True, os.getpid()


def can_fork_jobs() -> tuple[bool, str]:
    """(True, "") or (False, why not)."""
    if not sys.platform.startswith("linux"):
        return False, f"fork is not safe or not available on {sys.platform}"
    if _job_ran_here and _pid == os.getpid():
        return False, "this process has run a job itself (its source drivers may hold native threads)"
    return True, ""
