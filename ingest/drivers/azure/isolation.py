"""Each load activity in a child process of the Functions worker (INGEST_ACTIVITY_ISOLATION=process).

Why: a load runs native code (connectorx's Rust, pyarrow, ODBC and Oracle clients). Run inside
the Functions worker, a panic that aborts, a segfault or the OOM killer ends the worker itself,
with every other activity running on it; the Durable retries die the same way, and the record
says only "activity failed" while the cause sits in Application Insights. In a child only the
child dies, and its jobs fail with the cause, as a dead job process does in the local runner.

How: the child is forked by the warm server, or (`process`) `subprocess` starts
`python -m ingest.drivers.azure.activity_child`, a fresh interpreter; either way fork + exec
from the worker, never a bare fork of it (it holds the host's gRPC threads). The request
(the activity's name and payload, the worker's settings and log levels) goes in as one JSON
document on the child's stdin; nothing goes on its command line or into its environment beyond
what the worker has. The child answers in JSON lines on its stdout: each log record (masked
there), each secret as it learns it (so the worker masks it too), then its result or its
Python error. Its stderr goes to a file of its own, echoed (masked) to the worker's stderr when
it ends. A child that ends with neither result nor error died: the activity returns failed
records whose message gives the cause from that file's tail, the exit signal and the memory
cgroup's OOM counter, and what the next run does for the load type
(ingest/drivers/local/worker_exit.py). A Python error is raised again in the worker
(ActivityChildError), so Durable retries it as it would the same error raised inline.

Cost: a fresh child imports ingest's load modules itself, ~1.7 s of CPU per activity here; so
by default (INGEST_ACTIVITY_ISOLATION=warm) the children are forked by a server that imported
them once (ingest/drivers/azure/warm_child.py: ~0.07 s per child); `process` starts a fresh one
each time, `inline` runs the load in the worker (README, "Activities in child processes").
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any, BinaryIO, Callable, TypeVar

from ingest.config.model import JobConfig
from ingest.core.child_process import python_environment
from ingest.core.errors import ActivityChildError
from ingest.core.redact import redact, register_secret
from ingest.core.result import RunContext
from ingest.core.settings import Settings
from ingest.drivers.azure.warm_child import WarmChild, WarmServer
from ingest.drivers.local.worker_exit import dead_job_result, echo_masked, memory_cgroup_oom_kills

log = logging.getLogger("ingest.activity")

CHILD_MODULE = "ingest.drivers.azure.activity_child"
T = TypeVar("T")


def child_command() -> list[str]:
    """The child's command line: this interpreter running the child module (a test puts a
    fault-injecting script in its place)."""
    return [sys.executable, "-m", CHILD_MODULE]


@dataclass
class DeadChild:
    """A child that ended without a result: how it ended and what it said last."""

    exit_code: int | None
    stderr_tail: str
    oom_kills_before: int | None
    oom_kills_after: int | None
    started_at: str
    finished_at: str
    duration_s: float

    def job_result(self, job: JobConfig, run: RunContext) -> dict[str, Any]:
        """The job's failed result, as the local runner records a dead job process."""
        return dead_job_result(job, run, self.started_at, self.finished_at, self.duration_s, self.exit_code,
                               self.stderr_tail, self.oom_kills_before, self.oom_kills_after)


@dataclass
class _Answer:
    result: Any = None
    finished: bool = False
    error: dict[str, Any] | None = None


def run_isolated(activity: str, payload: dict[str, Any], settings: Settings,
                 when_dead: Callable[[DeadChild], T]) -> Any | T:
    """Run the activity `activity` on `payload` in a child process: its result; `when_dead(...)`
    when the child died without one; ActivityChildError when it raised."""
    with tempfile.TemporaryFile(prefix=f"ingest-activity-{activity}-stderr-") as stderr:
        oom_before, started_at, clock = memory_cgroup_oom_kills(), _utc_now(), time.perf_counter()
        child, parent_pid = _start_child(settings, stderr)
        request = {"activity": activity, "payload": payload, "settings": settings.to_json(),
                   "parent_pid": parent_pid, "log_levels": _log_levels()}
        try:
            _send_request(child, request)
            answer = _read_answers(child.stdout)  # type: ignore[arg-type]
            exit_code = child.wait()
        finally:
            if child.poll() is None:  # the worker's thread was interrupted: the child goes too
                child.kill()
                child.wait()
        tail = echo_masked(stderr)
    log.debug("activity %s: child %d ended with exit code %s after %.2f s", activity, child.pid, exit_code,
              time.perf_counter() - clock)
    if answer.finished:
        return answer.result
    if answer.error is not None:
        raise ActivityChildError(f"activity {activity}: {answer.error.get('class')}: {answer.error.get('message')}")
    return when_dead(DeadChild(exit_code, tail, oom_before, memory_cgroup_oom_kills(), started_at, _utc_now(),
                               round(time.perf_counter() - clock, 3)))


def _start_child(settings: Settings, stderr: BinaryIO) -> tuple[subprocess.Popen | WarmChild, int]:
    """A fresh child, or one forked by the worker's warm server (INGEST_ACTIVITY_ISOLATION=warm);
    and the pid of its parent, which it checks to die with."""
    if settings.activity_isolation == "warm":
        try:
            server = WarmServer.for_environment(python_environment())
            return server.fork(stderr.fileno()), server.process.pid
        except OSError:  # the server died between two activities: a new one, once
            server = WarmServer.for_environment(python_environment(), fresh=True)
            return server.fork(stderr.fileno()), server.process.pid
    child = subprocess.Popen(child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                             env=python_environment(), close_fds=True)
    return child, os.getpid()


def _send_request(child: subprocess.Popen | WarmChild, request: dict[str, Any]) -> None:
    try:
        child.stdin.write(json.dumps(request).encode())  # type: ignore[union-attr]
        child.stdin.close()  # type: ignore[union-attr]
    except BrokenPipeError:  # the child died before it read its request: its stderr says why
        pass


def _read_answers(stream: IO[bytes]) -> _Answer:
    """Handle the child's lines as they come (log records, secrets) until it closes its
    stdout; its result or its error."""
    answer = _Answer()
    for line in stream:
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("an activity's child wrote a line that is not its protocol; ignored")
            continue
        if "secret" in message:
            register_secret(str(message["secret"]))
        elif "log" in message:
            _log(message["log"])
        elif "result" in message:
            answer.result, answer.finished = message["result"], True
        elif "error" in message:
            answer.error = message["error"]
    return answer


def _log(fields: dict[str, Any]) -> None:
    """A child's log record through the worker's own handlers (App Insights, the host's log),
    masked again with the secrets the worker knows."""
    fields = {**fields, "msg": redact(fields.get("msg", "")), "args": None}
    if fields.get("exc_text"):
        fields["exc_text"] = redact(fields["exc_text"])
    record = logging.makeLogRecord(fields)
    logging.getLogger(str(fields.get("name") or "ingest")).handle(record)


def _log_levels() -> dict[str, int]:
    """The worker's logger levels, for the child to log at the same ones."""
    levels = {"": logging.getLogger().level}
    for name, logger in list(logging.Logger.manager.loggerDict.items()):  # other threads add loggers
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            levels[name] = logger.level
    return levels


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat()
