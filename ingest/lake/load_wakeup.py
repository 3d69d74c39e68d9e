"""dlt's load step waits a whole second for a job that was finished before it started.

dlt's loader (dlt/load/load.py, `Load.load_single_package`) starts a package's jobs and then
sleeps on a semaphore that each job running in its pool releases when it ends, waking at the
latest after one second to look again. A job the destination finishes on creation (a
`FinalizedLoadJob`: the filesystem destination's `_dlt_pipeline_state` file, and other
"nothing to do" jobs) never runs in the pool, so nothing releases the semaphore: when such a
job is all that is left, the loader sleeps the full second. Every INCREMENTAL load that finds
no new row but moves its state paid it (the demo's `demo_orders` on a fresh lake: its load step
took 1.00 s, 0.004 s with this).

`install()` wraps `Load.start_new_jobs`: when a job it started is already in a final state, it
releases the semaphore once (as a pool job does when it ends), so the loader's next wait
returns at once and it collects the job. Nothing else changes: the loader still completes,
retries and fails jobs itself. If dlt no longer has the semaphore, nothing is done (the wait
is then dlt's own again). dlt is pinned (requirements.txt); tests/unit/test_load_wakeup.py
checks both the speed and that the loaded package is the one dlt loads without this."""

from __future__ import annotations

from typing import Any, Sequence

from dlt.load.load import Load

_FINAL_STATES = ("completed", "failed")
"""As a pool job releases it: not on "retry", which dlt polls again after its wait (a back-off)."""
_DLT_START_NEW_JOBS = Load.start_new_jobs


def _start_new_jobs(self: Load, load_id: str, schema: Any, running_jobs: Sequence[Any]) -> Sequence[Any]:
    started = _DLT_START_NEW_JOBS(self, load_id, schema, running_jobs)
    done_event = getattr(self, "_done_event", None)
    if done_event is not None and any(job.state() in _FINAL_STATES for job in started):
        try:
            done_event.release()  # as a pool job does when it ends
        except ValueError:  # a BoundedSemaphore already released: the wait returns anyway
            pass
    return started


def install() -> None:
    """Wake dlt's loader for jobs finished on creation (idempotent)."""
    Load.start_new_jobs = _start_new_jobs


def uninstall() -> None:
    """dlt's loader as it ships (tests compare the two)."""
    Load.start_new_jobs = _DLT_START_NEW_JOBS
