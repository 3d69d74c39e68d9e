"""Every exception the engine raises, ordered by how a caller recovers.

1. ConfigError and subclasses: the workbook or a setting is wrong. Never retried; the
   message names the place (sheet!cell, setting name) so a person can fix it.
2. TransientSourceError: network, throttling, deadlock. Worth retrying with backoff.
3. PermanentSourceError: authentication, missing table or column. Retrying cannot help.
4. DestinationError: the lake could not be written.
5. JobLockedError: another run holds the job.
6. DataCheckError: the load finished but a post-load check with severity `fail` did not pass
   (data quality, schema drift), or dlt's schema contract refused the load.

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


class SettingError(ConfigError):
    """An environment setting has a value that cannot be used."""


class MissingCredentialsError(ConfigError):
    """No credentials were found for a connection named in the workbook."""


class KeyVaultAccessError(ConfigError):
    """Key Vault refused a secret (no get permission, secret disabled, no token for the
    identity): fix the identity or its access; the message names the vault and the secret."""


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


class SourceObjectNotFoundError(PermanentSourceError):
    """A schema, table or column named in the workbook does not exist in the source."""


# 4. Destination --------------------------------------------------------------------------
class DestinationError(IngestError):
    """The lake could not be written or read, and retrying will not help (permissions,
    missing account)."""


class TransientDestinationError(DestinationError):
    """The lake did not answer or was throttling; worth retrying with backoff."""

    retryable = True


# 5. Concurrency: the job is busy; the next run loads it ---------------------------------
class JobLockedError(IngestError):
    """Another run is loading this job right now; this run leaves it alone."""


# 6. Data checks: schema drift and data quality (ingest/checks/) ---------------------------
class DataCheckError(IngestError):
    """A check after the load marked the job failed. Never retried: loading again would land
    the same data. The files stay in the lake; the audit names them (load_id, partition)."""


class DataQualityError(DataCheckError):
    """A `quality_rules` rule with severity `fail` did not pass (or could not be evaluated)."""


class SchemaDriftError(DataCheckError):
    """The table's columns changed since the last run and the job's drift_severity is `fail`."""


class SchemaContractError(DataCheckError):
    """dlt's schema contract (schema_contract = freeze) refused the load because a column is
    new or changed its type: nothing was written for this job."""


class UnexpectedError(IngestError):
    """An error nothing above classifies; reported with its original type name."""
