"""Why a job's worker process ended without a result, said in its error message.

A forked job process that dies (a native driver's panic or abort, a segfault, the OOM killer,
a kill by hand) leaves no Python exception behind: its last words are on its stderr and in
how it ended. So each job process writes its stderr into a file of its own (echoed to the
runner's stderr once it ends, so a console still shows it), and the runner reads the cause
out of its tail: a Rust panic's message, a fatal Python error, the last exception line. A
SIGKILL is told apart from an OOM kill by the memory cgroup's `oom_kill` counter (cgroup v2
`memory.events`, v1 `memory.oom_control`) before and after the job. The message also says
what the next run does for this job's load type.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO

from ingest.config.model import JobConfig
from ingest.core.errors import WorkerProcessError
from ingest.core.redact import redact
from ingest.core.result import RunContext

log = logging.getLogger("ingest.runner")

TAIL_BYTES = 64 * 1024
MAX_CAUSE = 400
_PANIC = re.compile(r"panicked at (?P<where>[^\n]*?):?\n(?P<message>[^\n]+)")
_FATAL = re.compile(r"^(Fatal Python error: [^\n]+)", re.M)
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt)\b[^\n]*)$", re.M)


def read_tail(stderr: BinaryIO) -> str:
    """The last TAIL_BYTES of a job process's stderr file."""
    stderr.seek(0, os.SEEK_END)
    size = stderr.tell()
    stderr.seek(max(0, size - TAIL_BYTES))
    return stderr.read().decode("utf-8", "replace")


def echo_masked(stderr: BinaryIO) -> str:
    """A child's stderr on to this process's own (a console, the Functions host's log keeps it),
    masked and line by line (a chatty child's stderr need not fit in memory); its tail returned."""
    tail = read_tail(stderr)
    stderr.seek(0)
    for line in stderr:
        sys.stderr.write(redact(line.decode("utf-8", "replace")))
    sys.stderr.flush()
    return tail


def cause_from_stderr(text: str) -> str | None:
    """The last words worth quoting: a Rust panic, a fatal Python error, or the last exception."""
    panics = list(_PANIC.finditer(text))
    if panics:
        where = panics[-1].group("where").rsplit("/", 1)[-1]
        return f"Rust panic: {panics[-1].group('message').strip()} (at {where})"
    fatal = _FATAL.findall(text)
    if fatal:
        return fatal[-1].strip()
    exceptions = _EXCEPTION.findall(text)
    return exceptions[-1].strip() if exceptions else None


def memory_cgroup_oom_kills(pid: int | str = "self") -> int | None:
    """The `oom_kill` count of the process's memory cgroup; None where it cannot be read."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2
            candidate = Path("/sys/fs/cgroup") / path.lstrip("/") / "memory.events"
        elif "memory" in controllers.split(","):
            candidate = Path("/sys/fs/cgroup/memory") / path.lstrip("/") / "memory.oom_control"
        else:
            continue
        count = _oom_kill_count(candidate)
        if count is not None:
            return count
    return None


def _oom_kill_count(path: Path) -> int | None:
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    except (OSError, ValueError):
        return None
    return None


def describe_exit(code: int | None, oom_kills_before: int | None, oom_kills_after: int | None) -> str:
    """How the process ended: its exit code, or the signal, with the OOM killer named when the
    memory cgroup counted a kill while the job ran."""
    if code is None or code >= 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    if -code != signal.SIGKILL:
        return f"killed by {name}"
    if oom_kills_before is None or oom_kills_after is None:
        return f"killed by {name}: most often the OOM killer (memory)"
    if oom_kills_after > oom_kills_before:
        return f"killed by {name}: the OOM killer (its memory cgroup counted an OOM kill while the job ran)"
    return f"killed by {name}, not by the OOM killer (its memory cgroup counted none): an operator or another process"


def next_run(job: JobConfig) -> str:
    if job.is_cdc:
        return ("the slot never moves past what the lake committed; the next run of the connection's CDC jobs"
                " lands the remaining changes, each once")
    if job.chunk_size is not None:
        return ("nothing of this load was published; the next run reuses the chunks staged in the last 24 hours"
                " and loads only the others")
    if job.is_incremental:
        return ("nothing of this load was committed; the next run continues from the watermark committed with"
                " the last finished load")
    return "nothing of this load was committed; the next run loads the whole table again"


def worker_died_message(job: JobConfig, exit_code: int | None, stderr_tail: str,
                        oom_kills_before: int | None, oom_kills_after: int | None) -> str:
    """The WorkerProcessError message: how it ended, its last words, what happens next."""
    ended = describe_exit(exit_code, oom_kills_before, oom_kills_after)
    cause = cause_from_stderr(stderr_tail)
    said = f"; it said: {redact(cause)[:MAX_CAUSE]}" if cause else ""
    return f"job '{job.job_name}': its worker process ended without a result ({ended}){said}; {next_run(job)}"


def dead_job_result(job: JobConfig, run: RunContext, started_at: str, finished_at: str, duration_s: float,
                    exit_code: int | None, stderr_tail: str, oom_kills_before: int | None,
                    oom_kills_after: int | None, label: str | None = None) -> dict[str, Any]:
    """The failed result (as a dict) of a job whose process ended without one: a local job
    process or an Azure activity's child. `label`: what the log line names (a chunk's task)."""
    from ingest import load

    error = WorkerProcessError(worker_died_message(job, exit_code, stderr_tail, oom_kills_before, oom_kills_after))
    log.error("job %s failed: WorkerProcessError: %s", label or job.job_name, error)
    result = load.unfinished_result(job, run, started_at)
    result.finished_at, result.duration_s = finished_at, duration_s
    result.error_class, result.error_message = type(error).__name__, str(error)
    return result.to_dict()
