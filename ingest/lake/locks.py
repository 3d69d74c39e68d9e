"""One load of a job at a time: a file lock locally, a blob lease on Azure (where several
workers share nothing but storage). A job whose lock is held fails fast with JobLockedError;
the next run loads it."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

from ingest.core.errors import JobLockedError

log = logging.getLogger("ingest.locks")


class JobLock(Protocol):
    def hold(self, job_name: str, holder: str = "") -> contextlib.AbstractContextManager[None]:
        """Hold the job's lock for the duration of the block, or raise JobLockedError saying
        who holds it. `holder`: who this is (`run <run id> since <time>`), for the next one."""


@dataclass
class FileJobLock:
    """flock on `<folder>/<job>.lock`: released by the OS if the process dies."""

    folder: Path

    @contextlib.contextmanager
    def hold(self, job_name: str, holder: str = "") -> Iterator[None]:
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
            yield
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
    def hold(self, job_name: str, holder: str = "") -> Iterator[None]:
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
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.renew_every_s):
                try:
                    lease.renew()
                except Exception as exc:  # losing the lease is logged; the load goes on
                    log.warning("job %s: lock lease renewal failed: %s", job_name, type(exc).__name__)

        renewer = threading.Thread(target=renew, name=f"lease-{job_name}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join(timeout=5)
            try:
                lease.release()
            except Exception:
                log.warning("job %s: lock lease could not be released; it lapses in %ss", job_name, self.duration_s)
