"""Which job is running (a contextvar set by `ingest.load.run_job`), what each job was served,
and one audit log line per secret access: name, version, time, job, outcome. Never the value.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Iterator

AUDIT_LOGGER = "ingest.core.keyvault.audit"
log = logging.getLogger(AUDIT_LOGGER)

# outcomes of one access
FROM_VAULT = "vault"
FROM_CACHE = "cache"
NOT_FOUND = "not-found"
DENIED = "denied"
UNREACHABLE = "unreachable"


@dataclass
class JobScope:
    job_name: str
    served: dict[str, str | None] = field(default_factory=dict)
    """secret name -> version this job was given (to tell a rotation from a stale cache)"""


_scope: ContextVar[JobScope | None] = ContextVar("ingest_keyvault_job", default=None)


@contextmanager
def job_scope(job_name: str) -> Iterator[JobScope]:
    """Secret accesses inside this block are audited under `job_name`."""
    scope = JobScope(job_name)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def current_job() -> str | None:
    scope = _scope.get()
    return scope.job_name if scope else None


def version_served(name: str) -> str | None:
    """The version of secret `name` the current job was given, if it was given one."""
    scope = _scope.get()
    return scope.served.get(name) if scope else None


@dataclass(frozen=True)
class SecretAccess:
    name: str
    version: str | None
    outcome: str
    job: str | None
    at: str

    def line(self) -> str:
        return (f"secret access name={self.name} version={self.version or '-'} outcome={self.outcome}"
                f" job={self.job or '-'} at={self.at}")


def record(name: str, version: str | None, outcome: str) -> SecretAccess:
    """Log one access (INFO; WARNING when refused or unreachable) and note what the job got."""
    scope = _scope.get()
    if scope is not None and outcome in (FROM_VAULT, FROM_CACHE):
        scope.served[name] = version
    access = SecretAccess(name=name, version=version, outcome=outcome, job=scope.job_name if scope else None,
                          at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"))
    level = logging.WARNING if outcome in (DENIED, UNREACHABLE) else logging.INFO
    log.log(level, access.line(), extra={"secret_access": asdict(access)})
    return access
