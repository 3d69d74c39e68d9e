"""The local runner's jobs in forked worker processes, one process per job.

Why: a job is mostly Python (dlt's extract / normalize / load bookkeeping costs ~0.15-0.25 s of
CPU per job even when few rows move) and holds the GIL, so jobs in threads barely overlapped:
20 tables x 100k rows took 0.95x the time with 5 threads as with 1 (bench/run.py). A child
forked from the runner starts with every module already imported (a few ms), runs one job
and exits, so jobs run on every core. It also isolates them: a job that takes its process
down (the OOM killer, a crash in a native driver) fails alone with WorkerProcessError while
the others run on, and the memory a job used goes back to the OS when it ends.

The parent forks from its main thread and runs no threads of its own while jobs run. A child
sends its log records (masked) and then its result down a pipe; the parent logs the records
through its own handlers as they come, so the run log, the console and App Insights see one
stream. Secrets the child resolved (Key Vault, connection URLs) come back with its result, so
the parent masks them too. HTTP sessions with pooled TLS connections must not be shared
across a fork: ingest/core/keyvault/registration.py drops the vault client's before each one.

Threads instead: INGEST_WORKER_MODE=thread, a platform other than Linux, or a process that has
run a job itself (its source drivers' native threads would be missing in a child: see
ingest/core/fork_safety.py).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, BinaryIO, Callable, Iterator

from ingest import load
from ingest.core import interrupts, progress
from ingest.core.child_process import die_with_parent
from ingest.config.model import JobConfig
from ingest.core.fork_safety import can_fork_jobs
from ingest.core.redact import SecretMaskingFilter, known_secrets, register_secret
from ingest.core.result import JobResult, RunContext
from ingest.core.settings import Settings
from ingest.records.lineage.jobs import preload as preload_lineage
from ingest.drivers.local.warm_up import preload, warm_up
from ingest.drivers.local.worker_exit import dead_job_result, echo_masked, memory_cgroup_oom_kills

log = logging.getLogger("ingest.runner")


@dataclass
class Task:
    """One unit of work for a job process: `call()` runs in the child and returns a small
    JSON-able dict (a JobResult's, or a chunk's outcome: ingest/drivers/chunks/)."""

    key: str
    job: JobConfig
    call: Callable[[], dict]
    unit: Any = None
    group: list[JobConfig] | None = None
    """A CDC connection's jobs, run together (their outcome: {"results": [JobResult dicts]})."""


def job_task(job: JobConfig, run: RunContext, settings: Settings) -> Task:
    return Task(job.job_name, job, lambda: load.run_job(job, run, settings).to_dict())


def cdc_task(jobs: list[JobConfig], run: RunContext, settings: Settings) -> Task:
    """One connection's CDC jobs in one process: its slot has one reader, and one read feeds
    all its tables (load.run_cdc_connection)."""
    return Task(f"cdc:{jobs[0].connection}", jobs[0],
                lambda: {"results": [r.to_dict() for r in load.run_cdc_connection(jobs, run, settings)]},
                group=jobs)


def run_in_processes(jobs: list[JobConfig], run: RunContext, settings: Settings,
                     workers: int) -> Iterator[JobResult]:
    """Run `jobs`, at most `workers` at a time, each in its own forked process; yield each
    result as its job ends (a dead process yields a failed result for its job only)."""
    tasks = [job_task(job, run, settings) for job in jobs]
    for _task, outcome in run_tasks(tasks, run, settings, workers, warm=len(jobs) > 1):
        yield JobResult.from_dict(outcome)


def run_tasks(waiting: list[Task], run: RunContext, settings: Settings, workers: int,
              warm: bool = True) -> Iterator[tuple[Task, dict]]:
    """Run the tasks of `waiting`, at most `workers` at a time, each in its own forked process,
    starting the next as soon as one ends; yield (task, outcome) as each ends. The caller may
    append tasks to `waiting` between yields (a chunked job's next steps). A dead process
    yields a failed JobResult (as a dict) for its task only."""
    context = multiprocessing.get_context("fork")
    preload({task.job.source_type.value for task in waiting})  # imported once here, not in every child
    if warm:  # each child would pay the first-load costs again: ingest/drivers/local/warm_up.py
        warm_up()
        preload_lineage(settings)  # the OpenLineage client, when lineage is on (ingest/records/lineage/)
    frozen_before = gc.get_freeze_count() > 0  # the CLI froze its imports (ingest/cli.py): leave them so
    gc.freeze()  # a child's collections then skip the parent's objects instead of copying their pages
    running: dict[multiprocessing.connection.Connection, _Running] = {}
    exiting: list[_Running] = []
    """Processes that sent their result and are ending: reaped after their result is handed on
    (the kernel freeing a job process's memory took 10-60 ms, on the run's critical path)."""
    try:
        while running or (waiting and not interrupts.requested()):  # a stop: no new unit starts
            while waiting and len(running) < max(1, workers) and not interrupts.requested():
                receive, started = _start(context, waiting.pop(0))
                running[receive] = started
            for receive in multiprocessing.connection.wait(list(running)):
                try:
                    message = receive.recv()
                except (EOFError, OSError):  # the child ended without a result
                    message = None
                if message is not None and message[0] == "log":
                    record = message[1]
                    logging.getLogger(record.name).handle(record)  # through the parent's handlers
                    continue
                if message is not None and message[0] == "rows":
                    progress.rows_extracted(message[1], message[2])  # the parent draws the console
                    continue
                started = running.pop(receive)
                interrupts.unwatch(started.process.pid)
                if message is None:  # its exit code and last words make the error: wait for them
                    yield started.task, _collect_dead(receive, started, run)
                    continue
                exiting.append(started)
                yield started.task, _take_result(message, receive)
                _reap(exiting, timeout=0)
        _reap(exiting, timeout=None)
    finally:
        for receive, started in running.items():  # interrupted: stop what still runs
            started.process.terminate()
            started.process.join(5)
            receive.close()
            started.stderr.close()
        _reap(exiting, timeout=5, stop=True)
        if not frozen_before:
            gc.unfreeze()


@dataclass
class _Running:
    task: Task
    process: multiprocessing.Process
    started_at: str
    clock: float
    stderr: BinaryIO
    """The job process's stderr (ingest/drivers/local/worker_exit.py reads its last words)."""
    oom_kills: int | None


def _start(context: multiprocessing.context.BaseContext,
           task: Task) -> tuple[multiprocessing.connection.Connection, _Running]:
    receive, send = context.Pipe(duplex=False)
    stderr = tempfile.TemporaryFile(prefix=f"ingest-job-{task.job.job_name}-stderr-")
    process = context.Process(target=_child, args=(task, send, os.getpid(), stderr.fileno()),
                              name=f"ingest-job-{task.key.replace(':', '-')}", daemon=True)
    oom_kills, started_at, clock = memory_cgroup_oom_kills(), _utc_now(), time.perf_counter()
    process.start()
    interrupts.watch(process.pid)  # a stop signal the runner gets is passed on to it
    send.close()  # the child holds the only write end: EOF when it ends
    return receive, _Running(task, process, started_at, clock, stderr, oom_kills)


def _take_result(message: tuple, receive: multiprocessing.connection.Connection) -> dict:
    """A job process's result; the secrets it resolved are masked here from now on."""
    receive.close()
    _, result_dict, secrets = message
    for secret in secrets:
        register_secret(secret)
    return result_dict


def _reap(exiting: list[_Running], timeout: float | None, stop: bool = False) -> None:
    """Join the processes of `exiting` that have ended within `timeout` (None: wait for each;
    `stop`: terminate one still there after it) and echo their stderr; the others stay."""
    for started in list(exiting):
        started.process.join(timeout)
        if started.process.exitcode is None and stop:
            started.process.terminate()
            started.process.join(5)
        if started.process.exitcode is not None or stop:
            exiting.remove(started)
            _echo_and_close(started.stderr)


def _collect_dead(receive: multiprocessing.connection.Connection, started: _Running, run: RunContext) -> dict:
    """The outcome of a job process that ended without a result: a failed result for each of its
    jobs built from how it ended and its last words."""
    receive.close()
    started.process.join()
    tail = _echo_and_close(started.stderr)
    oom_kills_after = memory_cgroup_oom_kills()
    results = [dead_job_result(job, run, started.started_at, _utc_now(), round(time.perf_counter() - started.clock, 3),
                               started.process.exitcode, tail, started.oom_kills, oom_kills_after,
                               label=started.task.key)
               for job in started.task.group or [started.task.job]]
    return {"results": results} if started.task.group else results[0]


def _echo_and_close(stderr: BinaryIO) -> str:
    """What the job process wrote to stderr goes on, masked, to the runner's own stderr (a
    console still sees it); its tail is returned for the error message."""
    try:
        return echo_masked(stderr)
    finally:
        stderr.close()


def _child(task: Task, send: multiprocessing.connection.Connection, runner_pid: int, stderr_fd: int) -> None:
    die_with_parent(runner_pid)
    os.dup2(stderr_fd, 2)  # its last words, should it die: ingest/drivers/local/worker_exit.py

    lock = threading.Lock()  # dlt logs and reports rows from its own threads too

    def post(message: tuple) -> None:
        with lock:
            send.send(message)

    _log_to_parent(post)
    progress.forward_from_child(lambda job_name, rows: post(("rows", job_name, rows)))
    interrupts.install_job()  # a stop before the job's commit ends it (ingest/core/interrupts.py)
    before = known_secrets()
    outcome = interrupts.interrupted_outcome(task.call(), interrupts.stopped_before_commit() != 0)  # never raises
    post(("result", outcome, sorted(known_secrets() - before)))
    send.close()


class _ToParent(logging.Handler):
    """In a job's process: each record, masked here (the child knows the secrets it resolved),
    goes down the pipe; the parent logs it through its own handlers, live."""

    def __init__(self, post: Callable[[tuple], None]) -> None:
        super().__init__()
        self.post = post
        self.addFilter(SecretMaskingFilter())  # also flattens args and tracebacks into text

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.post(("log", record))
        except (pickle.PicklingError, TypeError, AttributeError):  # an `extra=` value that cannot travel
            self.post(("log", logging.makeLogRecord({
                key: getattr(record, key) for key in ("name", "levelno", "levelname", "msg", "exc_text",
                                                      "created", "msecs", "pathname", "lineno", "funcName",
                                                      "threadName", "processName", "process")})))
        except OSError:
            self.handleError(record)


def _log_to_parent(post: Callable[[tuple], None]) -> None:
    """Every logger that would write somewhere (the root, and any that keeps its own handlers
    without propagating) sends to the parent instead; dlt's own stderr logger is left as is."""
    handler = _ToParent(post)
    root = logging.getLogger()
    root.handlers = [handler]
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.handlers and logger.name != "dlt":
            logger.handlers = [] if logger.propagate else [handler]


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat()


def worker_mode(settings: Settings) -> str:
    """'process' or 'thread': the setting, unless forking is not safe here (ingest/core/fork_safety.py)."""
    if settings.worker_mode != "process":
        return "thread"
    safe, why = can_fork_jobs()
    if not safe:
        log.info("jobs run in threads: %s", why)
        return "thread"
    return "process"
