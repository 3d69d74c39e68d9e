"""`python -m ingest check` (and POST /api/check): before a run, for each connection the chosen
jobs use, are its credentials there (and which provider served them: env, Key Vault,
secrets.toml; never the value), does it connect (with a short timeout), and can it see each
job's table and the columns the job names (watermark, key, filters, delete flag). One line per
connection and per job: OK, or what is wrong and how to fix it.

Reading the catalog and a `SELECT ... WHERE 1 = 0` is all it does on the source: no rows are
read. Other checks hook in with `register_job_check` (a CDC job's replication prerequisites:
another issue), each turning a job and an open engine into a line or None."""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ingest.config.model import JobConfig, SourceType, WorkbookConfig
from ingest.core.classify import classify
from ingest.core.errors import (ConfigError, DriverNotInstalledError, IngestError, KeyVaultAccessError,
                                MissingCredentialsError, ReservedColumnError, SourceAuthenticationError,
                                SourceFirewallError, SourceObjectNotFoundError, SourcePermissionError,
                                TransientSourceError)
from ingest.core.redact import redact
from ingest.sources.connections import SourceConnection, build_connection
from ingest.sources.credential_source import FoundCredentials, find_credentials, where_to_set

CONNECT_TIMEOUT_S = 5
OK, FAIL, SKIP = "OK", "FAIL", "SKIP"


@dataclass(frozen=True)
class CheckLine:
    subject: str
    """`connection <name>` or `job <name>`."""
    status: str
    detail: str
    fix: str = ""
    error_class: str = ""
    """A failure's class (an ingest error's name, or ColumnNotFound / NotChecked): what an HTTP
    caller is told instead of the detail (public_dict)."""

    def __str__(self) -> str:
        # the subject is a workbook name, redacted apart: `job no_secret: not ...` reads as a key: value pair
        return f"{self.status:<4} {self.subject}: {redact(self.detail)}" + (f" -> fix: {redact(self.fix)}"
                                                                              if self.fix else "")

    def to_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "status": self.status, "detail": redact(self.detail), "fix": redact(self.fix)}

    def public_dict(self) -> dict[str, str]:
        """What an HTTP caller learns (POST /api/check): the subject, the status, the error class
        and the fix in general terms. The detail names hosts, ports, databases, logins and column
        lists: it goes to the server's log, never to a function-key holder."""
        failed = self.status == FAIL
        return {"subject": self.subject, "status": self.status, "error_class": self.error_class if failed else "",
                "fix": GENERAL_FIXES.get(self.error_class, GENERAL_FIX) if failed else ""}


GENERAL_FIX = "see the app's log for this line's detail, or run `ingest check` where the credentials are kept"
GENERAL_FIXES = {
    "MissingCredentialsError": "set the connection's credentials (a Key Vault secret or its SOURCES__<NAME>__CREDENTIALS"
                               " setting)",
    "KeyVaultAccessError": "give this app's identity get permission on the vault's secrets (Key Vault Secrets User)",
    "KeyVaultUnavailableError": "check INGEST_KEY_VAULT_URL and the network to the vault",
    "ConnectionConfigError": "correct the connection's credentials where they are kept",
    "SourceAuthenticationError": "the login was refused: correct the connection's user or password where its"
                                 " credentials are kept",
    "SourceFirewallError": "add a firewall rule or private endpoint for this app's address",
    "TransientSourceError": "check the connection's host and port, that the server runs, and the network between",
    "DriverNotInstalledError": "install the driver the connection names",
    "SourceObjectNotFoundError": "check the job's schema and table (or the connection's database)",
    "SourcePermissionError": "grant the connection's login SELECT on the job's table",
    "ColumnNotFound": "correct the column the job names, or add it to the source",
    "ReservedColumnError": "rename or drop the source column named like the app's own columns, or read the table"
                           " through a view",
    "CdcPrerequisiteError": "grant the login what load_type CDC needs (the app's log has the statements)",
    "NotChecked": "fix the connection's line first",
}


@dataclass
class CheckReport:
    lines: list[CheckLine] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(line.status != FAIL for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "lines": [line.to_dict() for line in self.lines]}

    def public_dict(self) -> dict[str, Any]:
        """The report as an HTTP caller may see it (CheckLine.public_dict)."""
        return {"ok": self.ok, "lines": [line.public_dict() for line in self.lines]}


def select_jobs(config: WorkbookConfig, patterns: list[str] | None) -> list[JobConfig]:
    """Every enabled job, or the jobs (enabled or not) the patterns name; a pattern matching
    no job is an error."""
    if not patterns:
        return [job for job in config.jobs if job.enabled]
    names = [job.job_name for job in config.jobs]
    unmatched = [p for p in patterns if not fnmatch.filter(names, p)]
    if unmatched:
        raise ConfigError(f"no valid job in the workbook matches {', '.join(repr(p) for p in unmatched)}")
    return [job for job in config.jobs if any(fnmatch.fnmatchcase(job.job_name, p) for p in patterns)]


JobCheck = Callable[[JobConfig, Engine], "CheckLine | None"]
_JOB_CHECKS: list[JobCheck] = []


def register_job_check(check: JobCheck) -> None:
    """Add a check run for every job whose table was found (e.g. CDC prerequisites); a line it
    returns is printed under the job's own line."""
    if check not in _JOB_CHECKS:
        _JOB_CHECKS.append(check)


def unregister_job_check(check: JobCheck) -> None:
    if check in _JOB_CHECKS:
        _JOB_CHECKS.remove(check)


_TIMEOUT_ARGS: dict[str, Callable[[int], dict[str, Any]]] = {
    "postgresql": lambda s: {"connect_timeout": s},
    "mssql": lambda s: {"timeout": s},  # pyodbc's login timeout
    "oracle": lambda s: {"tcp_connect_timeout": float(s)},
}


def check_jobs(jobs: Iterable[JobConfig], timeout_s: int = CONNECT_TIMEOUT_S) -> CheckReport:
    """Lines for each (connection, source type) the jobs use, in name order, each followed by
    its jobs' lines; jobs of a connection that failed are not tried."""
    report = CheckReport()
    groups: dict[tuple[str, SourceType], list[JobConfig]] = {}
    for job in jobs:
        if not job.source_type.is_sql or not job.connection:
            report.lines.append(CheckLine(f"job {job.job_name}", SKIP, f"{job.source_type.value}: check covers SQL"
                                          " connections only"))
            continue
        groups.setdefault((job.connection, job.source_type), []).append(job)
    for (connection, source_type), members in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1].value)):
        engine, line = open_connection(connection, source_type, timeout_s)
        report.lines.append(line)
        if engine is None:
            report.lines += [CheckLine(f"job {j.job_name}", FAIL, f"not checked: connection '{connection}' failed",
                                       error_class="NotChecked") for j in members]
            continue
        try:
            for job in members:
                report.lines += check_job(job, engine)
        finally:
            engine.dispose()
    return report


def open_connection(connection: str, source_type: SourceType,
                    timeout_s: int) -> tuple[Engine | None, CheckLine]:
    """An engine that has connected once, and the connection's line; (None, the failure)."""
    from ingest.sources.sql import make_engine

    subject = f"connection {connection}"
    try:
        found = find_credentials(connection)
    except MissingCredentialsError as exc:
        return None, CheckLine(subject, FAIL, str(exc), f"{where_to_set(connection)} (README: Connection strings)",
                               type(exc).__name__)
    except KeyVaultAccessError as exc:
        return None, CheckLine(subject, FAIL, str(exc), "give this app's identity get permission on the vault's"
                                                        " secrets (role Key Vault Secrets User)", type(exc).__name__)
    except IngestError as exc:  # Key Vault unreachable or answering with errors
        return None, CheckLine(subject, FAIL, str(exc), "check INGEST_KEY_VAULT_URL and the network to the vault",
                               type(exc).__name__)
    try:
        source = build_connection(connection, source_type, found.value)
    except IngestError as exc:
        return None, CheckLine(subject, FAIL, f"{exc} (credentials from {found.served_by})",
                               f"correct the credentials in {found.served_by}", type(exc).__name__)
    missing_file = _missing_sqlite_file(source)
    if missing_file:
        return None, CheckLine(subject, FAIL, f"SQLite file {missing_file} does not exist",
                               f"correct the path in {found.served_by}", "SourceObjectNotFoundError")
    timeout = _TIMEOUT_ARGS.get(source.url.get_backend_name(), lambda s: {})(timeout_s)
    engine = make_engine(replace(source, connect_args={**source.connect_args, **timeout}))
    started = time.monotonic()
    try:
        with engine.connect():
            pass
    except Exception as exc:
        engine.dispose()
        error = classify(exc)
        return None, CheckLine(subject, FAIL, f"{type(error).__name__}: {error} (credentials from"
                               f" {found.served_by})", _connect_fix(error, source, found), type(error).__name__)
    elapsed = (time.monotonic() - started) * 1000
    return engine, CheckLine(subject, OK, f"{source_type.value} at {_where(source)}: credentials from"
                             f" {found.served_by}; connected in {elapsed:.0f} ms")


def _missing_sqlite_file(source: SourceConnection) -> str | None:
    """A SQLite URL naming a file that is not there (connecting would create an empty one)."""
    database = source.url.database
    if source.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if Path(database).exists() else database


def _where(source: SourceConnection) -> str:
    url = source.url
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return f"{url.host}{f':{url.port}' if url.port else ''}/{url.database or ''}"


def _connect_fix(error: IngestError, source: SourceConnection, found: FoundCredentials) -> str:
    if isinstance(error, SourceAuthenticationError):
        return f"the login was refused: correct the user or password in {found.served_by}"
    if isinstance(error, SourceFirewallError):
        return "add a firewall rule or private endpoint for this client's address"
    if isinstance(error, DriverNotInstalledError):
        return "install the driver the connection names (README: Connection strings)"
    if isinstance(error, SourceObjectNotFoundError):
        return f"the database does not exist: correct its name in {found.served_by}"
    if isinstance(error, TransientSourceError):
        return (f"nothing answered at {_where(source)} within the timeout: check the host and port in"
                f" {found.served_by}, that the server runs, and the firewall between")
    return f"check the credentials in {found.served_by} and the server"


def _named_columns(job: JobConfig) -> list[tuple[str, str]]:
    """(workbook column, source column) of every column the job names."""
    named = [("watermark_column", c) for c in ((job.watermark_column,) if job.watermark_column else ())]
    named += [("watermark_column", c) for c in job.watermark_tiebreak]
    named += [("primary_key", c) for c in job.primary_key]
    named += [("filters", f.column) for f in job.filters]
    named += [("delete_flag_column", job.delete_flag_column)] if job.delete_flag_column else []
    return named


def check_job(job: JobConfig, engine: Engine) -> list[CheckLine]:
    """The job's line (table, columns, SELECT permission), then the registered checks' lines."""
    from ingest.sources.sql import prepare_again, reflect_table

    subject = f"job {job.job_name}"
    where = f"{job.source_schema}.{job.source_table}" if job.source_schema else str(job.source_table)
    try:
        bare = reflect_table(engine, replace(job, watermark_column=None, watermark_tiebreak=(), primary_key=()))
    except Exception as exc:
        error = classify(exc)
        return [CheckLine(subject, FAIL, str(error), _reflect_fix(job, error), type(error).__name__)]
    available = {name.lower() for name in bare.columns}
    missing = [(label, name) for label, name in _named_columns(job) if name.lower() not in available]
    if missing:
        label, name = missing[0]
        place = f"the filters sheet's rows for {job.job_name}" if label == "filters" else f"{label} in jobs row {job.row}"
        return [CheckLine(subject, FAIL, f"{where} has no column {name} ({label}); its columns:"
                          f" {', '.join(bare.columns)}", f"correct {place}, or add the column to the source",
                          error_class="ColumnNotFound")]
    try:
        # the loader's own checks on the table reflected above (a watermark that lands as text)
        reflected = prepare_again(bare, job, engine.dialect.name)
        with engine.connect() as connection:
            connection.execute(sa.select(*reflected.table.c).where(sa.false())).close()
    except Exception as exc:
        error = classify(exc)
        fix = (f"grant SELECT on {where} to the connection's login" if isinstance(error, SourcePermissionError)
               else "see the error")
        return [CheckLine(subject, FAIL, str(error), fix, type(error).__name__)]
    lines = [CheckLine(subject, OK, _job_detail(job, where, bare.table.name))]
    for extra in _JOB_CHECKS:
        line = extra(job, engine)
        if line is not None:
            lines.append(line)
    return lines


def _reflect_fix(job: JobConfig, error: IngestError) -> str:
    if isinstance(error, SourceObjectNotFoundError):
        return f"correct source_schema / source_table in jobs row {job.row}, or create the table"
    if isinstance(error, ReservedColumnError):
        return ("rename or drop the column at the source, or read the table through a view that renames it"
                + (" (a CDC job: its tables are reloaded from a new snapshot after)" if job.is_cdc else ""))
    return "see the error"


def _job_detail(job: JobConfig, where: str, found_as: str) -> str:
    parts = [f"{where} readable{' (found as ' + found_as + ')' if found_as != job.source_table else ''}"]
    if job.watermark_column:
        parts.append(f"watermark {', '.join((job.watermark_column, *job.watermark_tiebreak))}")
    if job.primary_key:
        parts.append(f"key {', '.join(job.primary_key)}")
    if job.filters:
        parts.append(f"{len(job.filters)} filter(s)")
    return "; ".join(parts) + ("" if job.enabled else " (job disabled)")
