"""Every exception the engine raises, ordered by how a caller recovers.

1. ConfigError and subclasses: the workbook or a setting is wrong. Never retried; the
   message names the place (sheet!cell, setting name) so a person can fix it.
2. TransientSourceError: network, throttling, deadlock. Worth retrying with backoff.
3. PermanentSourceError: authentication, missing table or column. Retrying cannot help.
4. DestinationError: the lake could not be written.
5. AlertDeliveryError: a mail could not be sent. Never fails the run: it is logged and
   recorded in the run summary (the audit).
6. DataCheckError: the load finished but a post-load check with severity `fail` did not pass
   (data quality, schema drift), or dlt's schema contract refused the load.
7. JobLockedError: another run holds the job; the next run loads it. LockLostError: the
   job's lease lapsed before its load committed; nothing was committed.
8. WorkerProcessError: the process that ran the job died (the OOM killer, a crashing driver);
   the other jobs run on. Not retried in the run: find why it died first.

A job's failure never escapes as an exception: `ingest.load.run_job` turns it into a failed
JobResult carrying `error_class` (the class name below) and a redacted message.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error the engine raises on purpose."""

    retryable: bool = False


# 1. Configuration: fix the workbook or the settings ----------------------------------------
class ConfigError(IngestError):
    """The configuration is wrong; the message says where."""


class WorkbookError(ConfigError):
    """The workbook as a whole cannot be used (not a workbook, no `jobs` sheet, too large)."""


class WorkbookChangedError(WorkbookError):
    """`workbook push` refused: the workbook blob changed since the local copy was pulled (the
    app's watermark write-back or another person), or exists when no copy was pulled. The
    message says when and by whom, and how to recover (pull again and re-apply, or --force)."""


class SettingError(ConfigError):
    """An environment setting has a value that cannot be used."""


class MissingCredentialsError(ConfigError):
    """No credentials were found for a connection named in the workbook."""


class KeyVaultAccessError(ConfigError):
    """Key Vault refused a secret (no get permission, secret disabled, no token for the
    identity): fix the identity or its access; the message names the vault and the secret."""


class ConnectionConfigError(ConfigError):
    """A connection's credentials were found but a field cannot be used (wrong dialect, bad
    port, unknown option); the message names the connection and the field."""


class HostNotAllowedError(ConfigError):
    """A REST request would have gone to a host its connection does not allow (the base_url, a
    next-page link or a redirect), over plain http without `allow_http`, or to a private or
    link-local address nobody listed: the page was refused before anything was sent."""


class DriverNotInstalledError(ConfigError):
    """The database driver a connection names is not installed on this machine (an ODBC
    driver missing from odbcinst.ini)."""


class TableOwnedError(ConfigError):
    """A job would write a lake table another job owns (README "What the app will not do
    without asking"): refused before it loads; the message names both owners and the run
    option that hands the table over on purpose (`--take-over`)."""


class UserFileExistsError(ConfigError):
    """A command would replace a file a person named (`template --out`, `dashboard --out`,
    `workbook pull --to`) that already exists; nothing was written (ingest/core/user_files.py)."""


class ShrinkRefusedError(ConfigError):
    """A FULL load would have replaced a non-empty lake table with no rows, or with fewer than
    its `max_shrink_pct` allows; nothing was published (ingest/checks/shrink.py). Not retried:
    the source holds what it holds until someone looks."""


# 2. Transient: retry with backoff ------------------------------------------------------------
class TransientSourceError(IngestError):
    """The source could not be reached or refused for now (network, throttling, deadlock)."""

    retryable = True


class KeyVaultUnavailableError(TransientSourceError):
    """Key Vault could not be reached, or answered with a server error or throttling."""


# 3. Permanent source errors: do not retry ---------------------------------------------------
class PermanentSourceError(IngestError):
    """The source answered and said no: retrying cannot help."""


class SourceAuthenticationError(PermanentSourceError):
    """The source rejected the credentials."""


class MalformedResponseError(PermanentSourceError):
    """An API answered with a page that is not valid JSON."""


class SourceObjectNotFoundError(PermanentSourceError):
    """A schema, table or column named in the workbook does not exist in the source."""


class SourcePermissionError(PermanentSourceError):
    """The login may connect but not read an object (PostgreSQL 42501 "permission denied for
    table/schema"): a grant is missing."""


VALUE_ERROR_MARKER = "ingest: cannot land exactly:"
"""Begins the message a source query raises on purpose for a value that has no exact form in
the lake (ingest/sources/postgres_types.py); classify turns it into SourceValueError."""
VALUE_ERROR_END = " [ingest]"
"""Ends that message: the driver wraps it in quotes of its own, and a column name may hold
quotes too, so the message is cut here, not at the next quote."""


class SourceValueError(PermanentSourceError):
    """A value the source holds has no exact form in the job's lake column (a timestamp beyond
    year 9999, NaN in a numeric(p,s), a multi-dimensional array): the job fails naming the
    column instead of landing something else."""


class CdcPrerequisiteError(PermanentSourceError):
    """A CDC job's source is not set up for logical replication (wal_level, the REPLICATION
    attribute, a key or REPLICA IDENTITY FULL, a publication table): the message names the job
    and the fix (ingest/sources/postgres_cdc/prerequisites.py)."""


class ReservedColumnError(PermanentSourceError):
    """A source table has a column named like the app's own (`_cdc_*`, `_ingest_*`, `_dlt_*`,
    in any case, as dlt normalises names): that table's job fails naming the column and the
    table, before anything of it lands; the other jobs (a CDC connection's other tables) go on
    (ingest/sources/reserved_names.py)."""


class CdcSlotError(PermanentSourceError):
    """A CDC slot cannot go on from where the lake is: the table was truncated and cannot be
    reloaded, the slot was lost while the lake holds data from it, or the slot is read by
    another process. The message says what to do (`python -m ingest cdc drop`, a re-run)."""


class SourceFirewallError(PermanentSourceError):
    """The source's firewall rejected this client's address (Azure SQL error 40615): a
    firewall rule or private endpoint must be added before any retry can succeed."""


# 4. Destination --------------------------------------------------------------------------
class DestinationError(IngestError):
    """The lake could not be written or read, and retrying will not help (permissions,
    missing account)."""


class TransientDestinationError(DestinationError):
    """The lake did not answer or was throttling; worth retrying with backoff."""

    retryable = True


# 5. Alerts: the mail server refused or could not be reached --------------------------------
class ChunkedLoadError(DestinationError):
    """A chunked load could not publish its table: a chunk failed (its own error is in the
    message), or the staged chunks are missing or belong to another load. Nothing was
    published; the next run loads only the chunks that did not land (ingest/drivers/chunks/)."""


class AlertDeliveryError(IngestError):
    """The mail server refused the message, its recipients or the login: retrying cannot help."""


class AlertServerUnavailableError(AlertDeliveryError):
    """The mail server could not be reached, dropped the connection or answered 4xx (try later)."""

    retryable = True


# 6. Data checks: schema drift and data quality (ingest/checks/) ---------------------------
class DataCheckError(IngestError):
    """A check after the load marked the job failed. Never retried: loading again would land
    the same data. The files stay in the lake; the audit names them (load_id, partition)."""


class DataQualityError(DataCheckError):
    """A `quality_rules` rule with severity `fail` did not pass (or could not be evaluated)."""


class SchemaDriftError(DataCheckError):
    """The table's columns changed since the last run and the job's drift_severity is `fail`."""


class ValueCheckError(DataCheckError):
    """After the load, a column's non-null count, min or max in the lake differs from the
    source's for the same rows (ingest/checks/values.py): a value changed on the way."""


class SchemaContractError(DataCheckError):
    """dlt's schema contract (schema_contract = freeze) refused the load because a column is
    new or changed its type: nothing was written for this job."""


# 7. Concurrency: the job is busy; the next run loads it ---------------------------------
class JobLockedError(IngestError):
    """Another run is loading this job right now; this run leaves it alone."""


class LockLostError(IngestError):
    """The job's lock (a blob lease) lapsed before its load committed: another run may have
    taken the job over, so this one committed nothing (fencing, ingest/lake/locks.py)."""


# 8. The job's worker process died -------------------------------------------------------
class WorkerProcessError(IngestError):
    """The worker process running the job (ingest/drivers/local/job_processes.py, or an Azure
    activity's child process: ingest/drivers/azure/isolation.py) ended without a result: killed
    by a signal (SIGKILL: most often the OOM killer) or crashed in native code."""


class JobInterruptedError(IngestError):
    """The run was asked to stop (SIGINT: Ctrl-C; SIGTERM: a container stop) before this job's
    commit began (dlt's load step): nothing of it was committed; the next run, or
    `--rerun-failed`, loads it (ingest/core/interrupts.py)."""


class ActivityChildError(IngestError):
    """An Azure activity's child process raised instead of returning its result (a blob read
    that failed, a bug): the activity raises this in the worker, so Durable retries it as it
    would the same exception raised inline (ingest/drivers/azure/isolation.py)."""


class UnexpectedError(IngestError):
    """An error nothing above classifies; reported with its original type name."""
