"""A run asked to stop: SIGINT (Ctrl-C) or SIGTERM (a container stop, `func` shutdown).

README "Interrupting a run". No new job or unit starts; a job that has not begun its commit
(dlt's load step) stops before it; a job whose commit began finishes it; every job gets its
audit row and the summary prints; exit 128 + the signal (130, 143). Nothing here raises from
a signal handler at an arbitrary point:

- The runner (`install_runner`) only notes the signal and passes it on to its job processes
  (`watch` / `unwatch`: a container stop signals the runner alone; a terminal's Ctrl-C signals
  the whole process group, so a job process may get it twice: the same answer).
- A job process (`install_job`; an Azure activity's child too) notes it and, while its commit
  has not begun, sets dlt's own stop flag, which dlt's extract loop and normalize step check between batches: the job ends
  with a failure that its process reports as `interrupted`. Once `before_commit` (called
  right before dlt's load step, ingest/lake/pipeline_hooks.py) has let the commit start, the
  signal is only noted and the commit finishes.
- Jobs in threads (INGEST_WORKER_MODE=thread): the runner's note is seen at `before_commit`,
  so a job still reading rows stops before its commit (after its extract and normalize).

dlt's own signal handlers stay off (RUNTIME__INTERCEPT_SIGNALS=false, ingest/lake/dlt_defaults.py):
they would stop a commit half way.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from ingest.core.errors import JobInterruptedError
from ingest.core.result import JobStatus

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received = 0
"""The first stop signal this process got (0: none)."""
_committing = False
"""This job process's commit began: a signal now only notes."""
_watched: set[int] = set()
"""The runner's job processes, to pass a signal on to."""


def requested() -> int:
    """The stop signal received (0: none)."""
    return _received


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def exit_code(signum: int) -> int:
    """The shell's convention: 128 + the signal (SIGINT 130, SIGTERM 143)."""
    return 128 + signum


def stop_message(signum: int) -> str:
    return (f"interrupted by {signal_name(signum)} before its commit began: nothing of it was committed;"
            " the next run (or --rerun-failed) loads it")


def install_runner() -> None:
    """The runner's handlers (main thread only; elsewhere nothing is installed)."""
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, _runner_received)


@contextmanager
def handling() -> Iterator[None]:
    """The runner's handlers for the span of one run (main thread only); after it the handlers
    from before come back and the note is cleared, so a process that runs again (a test, a
    notebook) starts its next run afresh."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    install_runner()
    try:
        yield
    finally:
        global _received
        for signum, handler in before.items():
            signal.signal(signum, handler)
        _received = 0
        _watched.clear()


def _runner_received(signum: int, _frame: Any) -> None:
    _note(signum)
    for pid in list(_watched):
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def watch(pid: int) -> None:
    """A job process started: a stop signal is passed on to it (and now, if one came already)."""
    _watched.add(pid)
    if _received:
        _runner_received(_received, None)


def unwatch(pid: int) -> None:
    _watched.discard(pid)


def install_job() -> None:
    """In a job process (forked from the runner): its own handlers; a signal the runner got
    before the fork counts too."""
    global _committing
    _committing = False
    _watched.clear()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _job_received)
    if _received:
        _job_received(_received, None)


def _job_received(signum: int, _frame: Any) -> None:
    _note(signum)
    if not _committing:
        from dlt.common.runtime import signals as dlt_signals  # loaded: the job process runs dlt

        dlt_signals.set_received_signal(_received)
        dlt_signals.wake_all()


def _note(signum: int) -> None:
    global _received
    if not _received:
        _received = signum


def stopped_before_commit() -> int:
    """In a job process: the stop signal, if one came before the job's commit began (0 else)."""
    return 0 if _committing else _received


def before_commit() -> None:
    """Right before dlt's load step of a job: raise JobInterruptedError if the run was asked to
    stop, else let the commit begin (a stop signal from now on waits for it)."""
    global _committing
    if _received:
        raise JobInterruptedError(stop_message(_received))
    if threading.current_thread() is threading.main_thread():
        _committing = True


def interrupted_outcome(outcome: Any, stopped_before_commit: bool = False) -> Any:
    """A unit's outcome after a stop signal: a job that failed because it was stopped before its
    commit (JobInterruptedError; or, `stopped_before_commit` in a job process, dlt stopping its
    extract or normalize on our flag) is `interrupted`, with nothing committed. A job that ended otherwise (its
    commit began and it finished, or it failed for its own reason) stays as it ended. A chunk's
    outcome stays as it is (its job fails with ChunkedLoadError, or never ends: interrupted)."""
    if isinstance(outcome, list):  # an Azure activity's CDC connection: one result per job
        return [interrupted_outcome(r, stopped_before_commit) for r in outcome]
    if not isinstance(outcome, dict):
        return outcome
    if "results" in outcome:
        return {**outcome, "results": [interrupted_outcome(r, stopped_before_commit) for r in outcome["results"]]}
    if "job_name" not in outcome or outcome.get("status") != JobStatus.FAILED.value:
        return outcome
    if outcome.get("error_class") == JobInterruptedError.__name__ or stopped_before_commit:
        signum = requested() or 0
        return {**outcome, "status": JobStatus.INTERRUPTED.value, "error_class": JobInterruptedError.__name__,
                "error_message": stop_message(signum) if signum else outcome.get("error_message")}
    return outcome
