"""The CDC prerequisites in `python -m ingest check` (and POST /api/check): a job check
registered with ingest/sources/connection_check.py (`register`), run on the engine `check`
already opened, one line per CDC job: OK, or every missing piece (wal_level, the login's
REPLICATION, a free slot and WAL sender, CREATE on the database or a publication covering the
table, owning the table, the table's key or replica identity) with its fix. Other jobs get no line."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from ingest.config.model import JobConfig
from ingest.core.classify import classify
from ingest.sources.connection_check import FAIL, OK, CheckLine, register_job_check
from ingest.sources.postgres_cdc.names import publication_name, slot_name
from ingest.sources.postgres_cdc.prerequisites import check_prerequisites, publication_covers, qualified


def cdc_prerequisites(job: JobConfig, engine: Engine) -> CheckLine | None:
    if not job.is_cdc:
        return None
    subject = f"job {job.job_name}"
    if engine.dialect.name != "postgresql":
        return CheckLine(subject, FAIL, f"load_type CDC needs PostgreSQL, not {engine.dialect.name}",
                         "use INCREMENTAL or FULL", "CdcPrerequisiteError")
    raw = engine.raw_connection()
    try:
        problems = check_prerequisites(raw.cursor(), [job])
        covered = publication_covers(raw.cursor(), publication_name(job.connection or ""), job)
    except Exception as exc:  # the catalog could not be read: say so on the job's line
        error = classify(exc)
        return CheckLine(subject, FAIL, f"CDC prerequisites not checked: {type(error).__name__}: {error}",
                         "see the error", type(error).__name__)
    finally:
        raw.close()
    if problems:
        return CheckLine(subject, FAIL, "CDC: " + "; ".join(p.message for p in problems),
                         "; ".join(p.fix for p in problems if p.fix), "CdcPrerequisiteError")
    publication = publication_name(job.connection or "")
    how = (f"publication {publication} covers {qualified(job)}" if covered
           else f"the login may create publication {publication} for {qualified(job)}")
    return CheckLine(subject, OK, f"CDC: wal_level logical, the login may replicate, {qualified(job)}'s updates"
                                  f" and deletes carry its key; {how}; slot {slot_name(job.connection or '')}")


def register() -> None:
    """Make `check` run the CDC prerequisites (idempotent)."""
    register_job_check(cdc_prerequisites)
