"""One load of a job at a time: a file lock locally, a blob lease on Azure (where several
workers share nothing but storage). A job whose lock is held is skipped with JobLockedError;
the next run loads it.

Fencing: a lease can lapse while its holder still works (a renewal that failed, a worker
paused longer than the lease). `hold` yields a LockHandle whose `check()` is called right
before dlt's load step commits data and state (ingest/load.py): it renews the lease once more
and raises LockLostError if it is no longer this holder's, so a holder that lost its lock
never commits over the one that took it over. (A lease lost during dlt's load step itself is
not caught: that step is the commit.)"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

from ingest.core.errors import JobLockedError, LockLostError

log = logging.getLogger("ingest.locks")


@dataclass
class LockHandle:
    """The held lock, for the fencing check before the load commits."""

    job_name: str
    verify: Callable[[], None] = lambda: None

    def check(self) -> None:
        """Raise LockLostError unless this holder still holds the lock."""
        self.verify()


class JobLock(Protocol):
    def hold(self, job_name: str, holder: str = "") -> contextlib.AbstractContextManager[LockHandle]:
        """Hold the job's lock for the duration of the block, or raise JobLockedError saying
        who holds it. `holder`: who this is (`run <run id> since <time>`), for the next one."""


@dataclass
class FileJobLock:
    """flock on `<folder>/<job>.lock`: released by the OS if the process dies."""

    folder: Path

    @contextlib.contextmanager
    def hold(self, job_name: str, holder: str = "") -> Iterator[LockHandle]:
        """flock cannot lapse while this process lives: its check never fails."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{job_name}.lock"
        handle = open(path, "a+")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = path.read_text().strip() or "another process"
                raise JobLockedError(f"job '{job_name}' is already loading ({other}); not started again") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{holder}, pid {os.getpid()}" if holder else f"pid {os.getpid()}")
            handle.flush()
            yield LockHandle(job_name)
        finally:
            handle.close()  # closing releases the flock


@dataclass
class BlobLeaseJobLock:
    """A 60 s blob lease on `locks/<job>` in a container, renewed every 20 s while the job
    runs; if the worker dies, the lease lapses within a minute."""

    container: object  # azure.storage.blob.ContainerClient
    duration_s: int = 60
    renew_every_s: float = 20.0

    @contextlib.contextmanager
    def hold(self, job_name: str, holder: str = "") -> Iterator[LockHandle]:
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        blob = self.container.get_blob_client(f"locks/{job_name}")
        try:
            blob.upload_blob(b"", overwrite=False)
        except ResourceExistsError:
            pass
        try:
            lease = blob.acquire_lease(lease_duration=self.duration_s)
        except HttpResponseError as exc:
            if getattr(exc, "status_code", None) == 409:
                other = (blob.get_blob_properties().metadata or {}).get("holder") or "its lease is held"
                raise JobLockedError(f"job '{job_name}' is already loading ({other}); not started again") from None
            raise
        if holder:
            blob.set_blob_metadata({"holder": holder}, lease=lease)
        stop, lost = threading.Event(), threading.Event()

        def renew() -> None:
            while not stop.wait(self.renew_every_s):
                try:
                    lease.renew()
                except Exception as exc:  # the load goes on; its commit is fenced (LockHandle.check)
                    lost.set()
                    log.warning("job %s: lock lease renewal failed: %s", job_name, type(exc).__name__)

        def verify() -> None:
            try:
                lease.renew()  # still ours, right now, for another lease period
            except Exception as exc:
                lost.set()
                reason = f"its renewal failed now ({type(exc).__name__})"
            else:
                if not lost.is_set():
                    return
                reason = "a renewal failed during the load, so another run may have taken it"
            raise LockLostError(f"job '{job_name}': its lock lease lapsed before the load committed ({reason});"
                                " nothing was committed, the next run loads it")

        renewer = threading.Thread(target=renew, name=f"lease-{job_name}", daemon=True)
        renewer.start()
        try:
            yield LockHandle(job_name, verify)
        finally:
            stop.set()
            renewer.join(timeout=5)
            try:
                lease.release()
            except Exception:
                log.warning("job %s: lock lease could not be released; it lapses in %ss", job_name, self.duration_s)
