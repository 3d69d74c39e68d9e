"""What a PostgreSQL server must allow before a CDC job loads, checked before any load (and
callable by a `check` command):

    problems = check_prerequisites(cursor, jobs)      # -> list[CdcProblem], [] when all is set
    require_prerequisites(cursor, jobs)               # raises CdcPrerequisiteError naming them all
    check_connection(connection_name, jobs)           # opens the named connection itself

`cursor` is a psycopg2 cursor on the job's connection; `jobs` the CDC jobs of that connection.
Each problem names the job (or the connection) and the fix:
- wal_level must be `logical` (server setting; a restart);
- the login needs the REPLICATION attribute (or superuser, or RDS's rds_replication) to create
  and read a slot; creating it needs a free slot (max_replication_slots) and a free WAL sender
  (max_wal_senders) unless the connection's slot exists;
- the run creates the connection's publication (CREATE on the database, and owning each table)
  or adds tables to it (owning it and each added table); a publication that already covers a
  table needs neither (its owner may create it: the fix says how);
- each table needs a primary key, a REPLICA IDENTITY USING INDEX, or REPLICA IDENTITY FULL, so
  that updates and deletes carry the row's key; the job's primary_key must be among those
  columns (with FULL any columns will do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ingest.config.model import JobConfig
from ingest.core.errors import CdcPrerequisiteError
from ingest.sources.postgres_cdc.names import publication_name, slot_name


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
    problems = _server_problems(cursor, jobs) + publication_problems(cursor, jobs)
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
    cursor.execute("""SELECT current_user, rolreplication OR rolsuper OR EXISTS (
                          SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_replication'
                             AND pg_has_role(current_user, g.oid, 'MEMBER'))
                        FROM pg_roles WHERE rolname = current_user""")
    user, may_replicate = cursor.fetchone()
    if not may_replicate:
        problems.append(CdcProblem(None, f"CDC jobs {names}: the login '{user}' of connection '{connection}'"
                                         " lacks the REPLICATION attribute",
                                   f"run ALTER ROLE \"{user}\" WITH REPLICATION (Azure: as the admin user)"))
    return problems + _headroom_problems(cursor, jobs, names, connection)


def _headroom_problems(cursor: Any, jobs: Sequence[JobConfig], names: str, connection: str) -> list[CdcProblem]:
    """Creating the slot takes a slot and (for a moment) a WAL sender; an existing slot takes neither."""
    cursor.execute("""SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = %s),
                             (SELECT count(*) FROM pg_replication_slots), current_setting('max_replication_slots')::int,
                             (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'),
                             current_setting('max_wal_senders')::int""", (slot_name(connection),))
    exists, slots, max_slots, senders, max_senders = cursor.fetchone()
    if exists:
        return []
    problems = []
    if slots >= max_slots:
        problems.append(CdcProblem(None, f"CDC jobs {names}: no free replication slot on connection '{connection}'"
                                         f" ({slots} of max_replication_slots {max_slots} in use)",
                                   "drop a slot no one reads (SELECT pg_drop_replication_slot('<name>');) or run ALTER"
                                   f" SYSTEM SET max_replication_slots = {max_slots + 1}; and restart the server"))
    if senders >= max_senders:
        problems.append(CdcProblem(None, f"CDC jobs {names}: no free WAL sender on connection '{connection}' to"
                                         f" create the slot ({senders} of max_wal_senders {max_senders} in use)",
                                   f"run ALTER SYSTEM SET max_wal_senders = {max_senders + 1}; and restart the"
                                   " server, or stop a replication connection"))
    return problems


def _ident(*parts: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def publication_problems(cursor: Any, jobs: Sequence[JobConfig]) -> list[CdcProblem]:
    """What the run's CREATE PUBLICATION / ALTER PUBLICATION ... SET TABLE (slot.set_publication)
    would be refused, by the catalog: nothing is created here. A table the publication already
    covers needs nothing (the run leaves such a publication as it is)."""
    if not jobs:
        return []
    publication = publication_name(jobs[0].connection or "")
    cursor.execute("""SELECT current_user, current_database(), has_database_privilege(current_database(), 'CREATE'),
                             p.pubname IS NOT NULL, coalesce(p.puballtables, false),
                             coalesce(pg_has_role(p.pubowner, 'USAGE'), false), pg_get_userbyid(p.pubowner)
                        FROM (SELECT 1) one LEFT JOIN pg_publication p ON p.pubname = %s""", (publication,))
    user, database, may_create, exists, all_tables, owns_publication, publication_owner = cursor.fetchone()
    uncovered = [job for job in jobs if not (all_tables or publication_covers(cursor, publication, job))]
    problems = []
    if uncovered and not exists and not may_create:
        problems.append(CdcProblem(None, f"the login '{user}' has no CREATE on database {database}, which creating"
                                         f" publication {publication} needs",
                                   f"run GRANT CREATE ON DATABASE {_ident(database)} TO {_ident(user)};"))
    if uncovered and exists and not owns_publication:
        problems.append(CdcProblem(None, f"publication {publication} (owner {publication_owner}) does not cover"
                                         f" {', '.join(qualified(j) for j in uncovered)} and only its owner may add"
                                         " tables to it", f"as {publication_owner}, run ALTER PUBLICATION"
                                         f" {_ident(publication)} ADD TABLE"
                                         f" {', '.join(_ident(*table_key(j)) for j in uncovered)};"))
    for job in uncovered if owns_publication or not exists else ():  # else: only its owner can add them
        problem = _ownership_problem(cursor, job, user, publication, exists)
        if problem:
            problems.append(problem)
    return problems


def table_key(job: JobConfig) -> tuple[str, str]:
    return (job.source_schema or "public", job.source_table or "")


def publication_covers(cursor: Any, publication: str, job: JobConfig) -> bool:
    cursor.execute("SELECT 1 FROM pg_publication_tables WHERE pubname = %s AND schemaname = %s AND tablename = %s",
                   (publication, *table_key(job)))
    return cursor.fetchone() is not None


def _ownership_problem(cursor: Any, job: JobConfig, user: str, publication: str, exists: bool) -> CdcProblem | None:
    """Adding a table to a publication takes owning it (being, or inheriting, its owner role)."""
    cursor.execute("""SELECT tableowner, pg_has_role(tableowner, 'USAGE') FROM pg_tables
                       WHERE schemaname = %s AND tablename = %s""", table_key(job))
    row = cursor.fetchone()
    if row is None or row[1]:  # not a table this login sees: the table's own check says so
        return None
    owner, table = row[0], _ident(*table_key(job))
    by_owner = (f"ALTER PUBLICATION {_ident(publication)} ADD TABLE {table};" if exists
                else f"CREATE PUBLICATION {_ident(publication)} FOR TABLE {table};")
    return CdcProblem(job.job_name, f"the login '{user}' is not the owner of {qualified(job)} (owner {owner}), which"
                                    f" adding it to publication {publication} needs",
                      f"run ALTER TABLE {table} OWNER TO {_ident(user)}; or, as {owner}: {by_owner}")


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
