"""What a PostgreSQL server must allow before a CDC job loads, checked before any load (and
callable by a `check` command):

    problems = check_prerequisites(cursor, jobs)      # -> list[CdcProblem], [] when all is set
    require_prerequisites(cursor, jobs)               # raises CdcPrerequisiteError naming them all
    check_connection(connection_name, jobs)           # opens the named connection itself

`cursor` is a psycopg2 cursor on the job's connection; `jobs` the CDC jobs of that connection.
Each problem names the job (or the connection) and the fix:
- wal_level must be `logical` (server setting; a restart);
- the login needs the REPLICATION attribute (or superuser) to create and read a slot;
- each table needs a primary key, a REPLICA IDENTITY USING INDEX, or REPLICA IDENTITY FULL, so
  that updates and deletes carry the row's key; the job's primary_key must be among those
  columns (with FULL any columns will do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ingest.config.model import JobConfig
from ingest.core.errors import CdcPrerequisiteError


@dataclass(frozen=True)
class CdcProblem:
    job_name: str | None
    """None: the connection's problem (every job of it)."""
    message: str
    """What is missing."""
    fix: str = ""
    """What to run or set."""

    def __str__(self) -> str:
        text = f"{self.message}; {self.fix}" if self.fix else self.message
        return f"job '{self.job_name}': {text}" if self.job_name else text


def qualified(job: JobConfig) -> str:
    return f"{job.source_schema or 'public'}.{job.source_table}"


def check_prerequisites(cursor: Any, jobs: Sequence[JobConfig]) -> list[CdcProblem]:
    """Every missing piece, in order: server, login, then each job's table."""
    problems = _server_problems(cursor, jobs)
    for job in jobs:
        problem = _table_problem(cursor, job)
        if problem:
            problems.append(CdcProblem(job.job_name, *problem))
    return problems


def require_prerequisites(cursor: Any, jobs: Sequence[JobConfig]) -> None:
    problems = check_prerequisites(cursor, jobs)
    if problems:
        raise CdcPrerequisiteError("; ".join(str(p) for p in problems))


def check_connection(connection: str, jobs: Sequence[JobConfig]) -> list[CdcProblem]:
    """Open the named connection (credentials as a load resolves them) and check it."""
    from ingest.sources.postgres_cdc.slot import connect

    with connect(connection) as conn:
        return check_prerequisites(conn.cursor(), jobs)


def _server_problems(cursor: Any, jobs: Sequence[JobConfig]) -> list[CdcProblem]:
    names = ", ".join(sorted(j.job_name for j in jobs))
    connection = jobs[0].connection if jobs else "?"
    problems = []
    cursor.execute("SHOW wal_level")
    (wal_level,) = cursor.fetchone()
    if wal_level != "logical":
        problems.append(CdcProblem(None, f"CDC jobs {names}: connection '{connection}' has wal_level {wal_level}",
                                   "set wal_level = logical on the server (ALTER SYSTEM SET wal_level = logical,"
                                   " or the server parameter on Azure) and restart it"))
    cursor.execute("SELECT current_user, rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user")
    user, may_replicate = cursor.fetchone()
    if not may_replicate:
        problems.append(CdcProblem(None, f"CDC jobs {names}: the login '{user}' of connection '{connection}'"
                                         " lacks the REPLICATION attribute",
                                   f"run ALTER ROLE \"{user}\" WITH REPLICATION (Azure: as the admin user)"))
    return problems


def _table_problem(cursor: Any, job: JobConfig) -> tuple[str, str] | None:
    """(what is missing, the fix), or None."""
    cursor.execute("""
        SELECT c.relreplident, c.relkind,
               (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_index i
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                 WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary)
                                               OR (c.relreplident = 'i' AND i.indisreplident)))
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %s AND c.relname = %s""", (job.source_schema or "public", job.source_table))
    row = cursor.fetchone()
    table = qualified(job)
    if row is None:
        return (f"table {table} does not exist (or this login cannot see it)",
                f"correct source_schema / source_table in jobs row {job.row}, or grant the login access")
    identity, kind, key = row
    if kind not in ("r", "p"):
        return f"{table} is not a table (a view cannot be replicated)", "use INCREMENTAL or FULL"
    if identity == "f":
        return None
    if not key:
        return (f"table {table} has no primary key and no REPLICA IDENTITY FULL, so its updates and deletes"
                " carry no key", f"add a primary key or run ALTER TABLE {table} REPLICA IDENTITY FULL")
    missing = [c for c in job.primary_key if c.lower() not in {k.lower() for k in key}]
    if missing:
        return (f"primary_key {', '.join(missing)} is not part of the key the log carries for {table}"
                f" ({', '.join(key)})", f"set primary_key to those columns or run ALTER TABLE {table}"
                " REPLICA IDENTITY FULL")
    return None
