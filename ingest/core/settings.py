"""Every setting the engine reads, from the environment, into one typed object.

Each name here is listed in README.md (settings table) and local.settings.json.example.
Command-line options override the environment for one run.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping, get_type_hints
from urllib.parse import urlsplit

from ingest.core.addresses import AddressError, parse_addresses
from ingest.core.errors import SettingError
from ingest.core.keyvault.names import PREFIX as KEY_VAULT_PREFIX

DEFAULT_LAYOUT = "{table_name}/{YYYY}/{MM}/{DD}/{load_id}.{file_id}.{ext}"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"setting {name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingError(f"setting {name}={value} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"setting {name}={raw!r} is not a number") from None
    if value < 0:
        raise SettingError(f"setting {name}={value} must not be negative")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return None
    if raw not in allowed:
        raise SettingError(f"setting {name}={raw!r} is not one of {', '.join(allowed)}")
    return raw


def _key_vault_url(env: Mapping[str, str]) -> str | None:
    raw = (env.get("INGEST_KEY_VAULT_URL") or "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
        raise SettingError(f"setting INGEST_KEY_VAULT_URL={raw!r} is not a vault URL"
                           " (expected https://<vault-name>.vault.azure.net)")
    return raw.rstrip("/")


def _key_vault_prefix(env: Mapping[str, str]) -> str:
    raw = (env.get("INGEST_KEY_VAULT_PREFIX") or "").strip().lower()
    if raw and not KEY_VAULT_PREFIX.match(raw):
        raise SettingError(f"setting INGEST_KEY_VAULT_PREFIX={raw!r} must be letters and digits with"
                           " single dashes inside (e.g. dev, staging, prod)")
    return raw
SMTP_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def _addresses(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    try:
        return parse_addresses(env.get(name) or "")
    except AddressError as exc:
        raise SettingError(f"setting {name}: {exc}") from None


def _alert_settings(env: Mapping[str, str]) -> dict[str, object]:
    """SMTP server, sender and recipients (not secret). The SMTP login comes from dlt's
    secrets, see ingest.alerts.smtp. With no INGEST_SMTP_HOST, no mail is sent."""
    host = (env.get("INGEST_SMTP_HOST") or "").strip() or None
    security = _choice(env, "INGEST_SMTP_SECURITY", tuple(SMTP_DEFAULT_PORTS)) or "starttls"
    hour = _int(env, "INGEST_ALERT_SUMMARY_HOUR", 0, minimum=0)
    if hour > 23:
        raise SettingError(f"setting INGEST_ALERT_SUMMARY_HOUR={hour} must be an hour of the day, 0 to 23 (UTC)")
    sender = _addresses(env, "INGEST_ALERT_FROM")
    if len(sender) > 1:
        raise SettingError("setting INGEST_ALERT_FROM must be one address")
    recipients = _addresses(env, "INGEST_ALERT_TO")
    if host and not (sender and recipients):
        raise SettingError("INGEST_SMTP_HOST is set: set INGEST_ALERT_FROM (sender) and INGEST_ALERT_TO"
                           " (recipients) too, or unset INGEST_SMTP_HOST to send no mail")
    ca_file = Path(env["INGEST_SMTP_CA_FILE"]) if env.get("INGEST_SMTP_CA_FILE") else None
    if ca_file is not None and not ca_file.is_file():
        raise SettingError(f"setting INGEST_SMTP_CA_FILE: no such file {str(ca_file)!r}")
    return {
        "smtp_host": host,
        "smtp_security": security,
        "smtp_port": _int(env, "INGEST_SMTP_PORT", SMTP_DEFAULT_PORTS[security]),
        "smtp_timeout_s": _int(env, "INGEST_SMTP_TIMEOUT_S", 30),
        "smtp_ca_file": ca_file,
        "alert_from": sender[0] if sender else None,
        "alert_to": recipients,
        "alert_summary_hour": hour,
        "environment": (env.get("INGEST_ENVIRONMENT") or "").strip(),
    }


HTTP_AUTH_MODES = ("functionkey", "entra")
OBJECT_ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _http_auth_settings(env: Mapping[str, str]) -> dict[str, object]:
    """Who may call the HTTP routes (ingest/drivers/azure/http_auth.py): the function key only,
    or Entra ID through App Service Authentication and the callers listed by object id."""
    mode = _choice(env, "INGEST_HTTP_AUTH", HTTP_AUTH_MODES) or "functionkey"
    names = [n.strip().lower() for n in (env.get("INGEST_HTTP_ALLOWED_PRINCIPALS") or "").split(",")]
    for name in names:
        if name and not OBJECT_ID_PATTERN.fullmatch(name):
            raise SettingError(f"setting INGEST_HTTP_ALLOWED_PRINCIPALS: {name[:40]!r} is not an object"
                               " id (a GUID such as 00000000-0000-0000-0000-000000000000)")
    # App Service sets WEBSITE_AUTH_ENABLED=True on the site when Easy Auth is on: only then are
    # the X-MS-CLIENT-PRINCIPAL* headers Easy Auth's and not the caller's
    easy_auth = (env.get("WEBSITE_AUTH_ENABLED") or "").strip().lower() == "true"
    return {"http_auth": mode, "http_allowed_principals": tuple(sorted({n for n in names if n})),
            "http_easy_auth": easy_auth}


def _observability_settings(env: Mapping[str, str]) -> dict[str, object]:
    """Dashboard and progress (ingest/dashboard/, ingest/core/progress.py)."""
    return {
        "dashboard_days": _int(env, "INGEST_DASHBOARD_DAYS", 30),
        "progress_interval_s": _float(env, "INGEST_PROGRESS_INTERVAL_S", 10.0),
        "appinsights_connection_string": (env.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or "").strip() or None,
    }


LINEAGE_TRANSPORTS = ("none", "console", "file", "http")
_LINEAGE_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}")
_LINEAGE_HEADER = re.compile(r"[A-Za-z0-9-]{1,64}")
_LOOPBACK_HOSTS = ("localhost", "::1")


def _is_loopback_address(host: str) -> bool:
    """An IP address of a loopback interface (a name such as 127.evil.example is not one)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _lineage_url(env: Mapping[str, str], transport: str) -> str | None:
    """The OpenLineage endpoint's base URL: https (http only to a loopback host), with no user,
    password, query or fragment: a key goes in a header (LINEAGE__API_KEY), never in the URL,
    where an error message could carry it."""
    raw = (env.get("INGEST_LINEAGE_URL") or "").strip()
    if not raw:
        if transport == "http":
            raise SettingError("INGEST_LINEAGE_TRANSPORT=http needs INGEST_LINEAGE_URL (e.g. https://marquez.example.com)")
        return None
    parts = urlsplit(raw)
    shown = f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else "the value"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingError(f"setting INGEST_LINEAGE_URL ({shown}) is not an http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise SettingError(f"setting INGEST_LINEAGE_URL ({shown}) must not hold a user, password, query or"
                           " fragment: put the API key in LINEAGE__API_KEY (or Key Vault)")
    host = parts.hostname.lower()
    if parts.scheme == "http" and not (host in _LOOPBACK_HOSTS or _is_loopback_address(host)):
        raise SettingError(f"setting INGEST_LINEAGE_URL ({shown}) must be https (http only to a loopback host)")
    return raw.rstrip("/")


def _lineage_settings(env: Mapping[str, str]) -> dict[str, object]:
    """OpenLineage events (ingest/records/lineage/): where they go and under which namespace."""
    transport = _choice(env, "INGEST_LINEAGE_TRANSPORT", LINEAGE_TRANSPORTS) or "none"
    environment = (env.get("INGEST_ENVIRONMENT") or "").strip()
    namespace = (env.get("INGEST_LINEAGE_NAMESPACE") or "").strip() or (
        f"ingest-{environment}" if environment else "ingest")
    if not _LINEAGE_NAMESPACE.fullmatch(namespace):
        raise SettingError(f"setting INGEST_LINEAGE_NAMESPACE={namespace[:40]!r} must be letters, digits and"
                           " _ . : / - (e.g. ingest-prod)")
    header = (env.get("INGEST_LINEAGE_API_KEY_HEADER") or "").strip() or "Authorization"
    if not _LINEAGE_HEADER.fullmatch(header):
        raise SettingError(f"setting INGEST_LINEAGE_API_KEY_HEADER={header[:40]!r} is not a header name")
    endpoint = (env.get("INGEST_LINEAGE_ENDPOINT") or "").strip().lstrip("/") or "api/v1/lineage"
    if "://" in endpoint or "?" in endpoint or "#" in endpoint:
        raise SettingError(f"setting INGEST_LINEAGE_ENDPOINT={endpoint[:60]!r} must be a path (api/v1/lineage)")
    return {
        "lineage_transport": transport,
        "lineage_namespace": namespace,
        "lineage_url": _lineage_url(env, transport),
        "lineage_endpoint": endpoint,
        "lineage_api_key_header": header,
        "lineage_timeout_s": _float(env, "INGEST_LINEAGE_TIMEOUT_S", 5.0),
        "lineage_file": Path(env["INGEST_LINEAGE_FILE"]) if env.get("INGEST_LINEAGE_FILE") else None,
    }


@dataclass(frozen=True)
class Settings:
    destination: str = "lake"
    """Local folder, file:// URL, or az:// / abfss:// URL of the lake."""
    dataset: str = "raw"
    """Top folder inside the destination; dlt's dataset name."""
    layout: str = DEFAULT_LAYOUT
    max_workers: int = 5
    worker_mode: str = "process"
    """Local runner: each job in a forked process (parallel on every core; a crash fails only
    its job) or in a thread (`thread`: one process, e.g. for a debugger). ingest/drivers/local/job_processes.py;
    threads anyway where forking is not safe (ingest/core/fork_safety.py)."""
    activity_isolation: str = "warm"
    """Azure app: each load activity (a job, a chunk, a commit, a CDC unit) runs in a child
    process of the Functions worker, so a native crash, an abort or the OOM killer ends only
    that child and its jobs fail with the cause (ingest/drivers/azure/isolation.py). `warm`:
    children forked by a server process that imported the load modules once (~0.07 s per child;
    ingest/drivers/azure/warm_child.py); `process`: a fresh interpreter per activity (~1.7 s of
    CPU each); `inline`: in the worker itself (a crash then takes the worker and every activity
    on it down)."""
    chunk_size: int = 100_000
    """Rows per arrow batch read from a SQL source."""
    sql_backend: str | None = None
    """Override the per-dialect dlt sql_table backend (pyarrow, connectorx, sqlalchemy)."""
    value_check: str = "fail"
    """After a load, each column's non-null count and range against the source's
    (ingest/checks/values.py): a mismatch fails the job (`fail`), is only reported (`warn`),
    or the check is not run (`off`)."""
    retry_attempts: int = 3
    """Retries of a job after a transient failure (network, throttling, deadlock)."""
    retry_initial_s: float = 2.0
    retry_max_s: float = 60.0
    retry_jitter_s: float = 1.0
    http_max_attempts: int = 5
    """REST sources: attempts per request on 429 / 5xx / connection errors."""
    http_backoff_s: float = 1.0
    http_max_delay_s: float = 60.0
    """Longest wait between two attempts, a server's Retry-After included."""
    http_timeout_s: float = 60.0
    audit_dir: Path = Path("audit")
    log_dir: Path = Path("logs")
    pipelines_dir: Path = Path(".ingest/pipelines")
    """dlt working folders; disposable: state is restored from the destination."""
    config_url: str | None = None
    """Azure app: blob URL of the workbook."""
    audit_url: str | None = None
    """Azure app: container URL for the audit trail and run summaries."""
    max_parallel_jobs: int = 10
    """Azure app: job activities in flight at once (the orchestrator fans out in batches)."""
    job_retry_attempts: int = 3
    """Azure app: attempts of a job activity that crashed (Durable retry)."""
    job_retry_first_interval_s: int = 30
    azure_storage_connection_string: str | None = field(default=None, repr=False)
    """For az:// destinations on Azurite or with an account key; unset on Azure (identity)."""
    key_vault_url: str | None = None
    """Key Vault serving credentials as a dlt config provider (ingest.core.keyvault); unset: none."""
    key_vault_prefix: str = ""
    """Environment prefix of secret names (dev, staging, prod): one vault, several environments."""
    key_vault_cache_ttl_s: int = 300
    """Seconds a secret (or its absence) is cached before the vault is asked again."""
    smtp_host: str | None = None
    """Mail server for alerts; None sends no mail."""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    """starttls (port 587), ssl (implicit TLS, port 465) or none (a relay on port 25)."""
    smtp_timeout_s: int = 30
    smtp_ca_file: Path | None = None
    """A CA bundle to trust for the mail server's certificate (a private CA); default: the system's."""
    alert_from: str | None = None
    alert_to: tuple[str, ...] = ()
    """Recipients of the failure mail and the daily summary (this environment's team)."""
    alert_summary_hour: int = 0
    """UTC hour from which the first scheduled run of the day sends the daily summary."""
    environment: str = ""
    """A label for mail subjects: dev, test, prod."""
    # --- Delta maintenance (ingest/lake/maintenance.py) ---
    delta_maintenance_every: int = 10
    """Compact / Z-order / vacuum a Delta table after every N loads; 0: never."""
    delta_vacuum_retention_hours: int = 168
    """Vacuum keeps files that versions of the last N hours still read (time travel window)."""
    watermark_safety_s: float = 0.0
    """Timestamp watermarks never pass the run's start minus this many seconds: rows of
    transactions still open at the start are read by the next run (README: Watermark strategies)."""
    dashboard_days: int = 30
    """Days of history the dashboard shows (python -m ingest dashboard, GET /api/dashboard)."""
    progress_interval_s: float = 10.0
    """Seconds between two progress lines of a job when the output is not a terminal."""
    http_auth: str = "functionkey"
    """Azure app: `functionkey` (every route needs the function key) or `entra` (also an Entra ID
    login through App Service Authentication, by a caller in http_allowed_principals)."""
    http_allowed_principals: tuple[str, ...] = ()
    """Azure app with http_auth=entra: object ids of the callers allowed (as Easy Auth's
    allowedPrincipals.identities, which infra/modules/function-app.bicep fills from the same list)."""
    http_easy_auth: bool = False
    """App Service Authentication is on in front of the app (the platform's WEBSITE_AUTH_ENABLED):
    with http_auth=entra and this off, every call is refused (the principal headers could be the caller's own)."""
    cdc_lag_alert_bytes: int = 1 << 30
    """load_type CDC: a replication slot holding more WAL than this (bytes) gets an alert mail
    and a warning in the run summary (ingest/records/cdc_slots.py)."""
    cdc_batch_changes: int = 200_000
    """load_type CDC: changes read from a slot per batch (one lake load each; whole transactions)."""
    cdc_spill_block_changes: int = 20_000
    """load_type CDC: decoded changes held in memory per table before they are written to the
    batch's scratch files (ingest/sources/postgres_cdc/spill.py): what bounds a large
    transaction's memory."""
    appinsights_connection_string: str | None = field(default=None, repr=False)
    """Application Insights (the platform's APPLICATIONINSIGHTS_CONNECTION_STRING): with the optional
    azure-monitor-opentelemetry package, logs are exported with their custom dimensions (ingest.alerts.telemetry)."""
    # --- OpenLineage (ingest/records/lineage/) ---
    lineage_transport: str = "none"
    """Where OpenLineage events go: none, console (the log), file (JSON lines) or http."""
    lineage_namespace: str = "ingest"
    """The jobs' OpenLineage namespace, one per environment (default ingest-<INGEST_ENVIRONMENT>)."""
    lineage_url: str | None = None
    """http: the endpoint's base URL (https; http only to a loopback host, e.g. a local Marquez)."""
    lineage_endpoint: str = "api/v1/lineage"
    """http: the path events are POSTed to, relative to lineage_url."""
    lineage_api_key_header: str = "Authorization"
    """http: the header carrying the API key (LINEAGE__API_KEY): `Authorization` sends `Bearer <key>`,
    any other header (x-functions-key) the key alone."""
    lineage_timeout_s: float = 5.0
    """http: seconds per request."""
    lineage_file: Path | None = None
    """file: the JSON-lines file; None: lineage.jsonl in audit_dir."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        default = cls()
        return cls(
            destination=env.get("INGEST_DESTINATION") or default.destination,
            dataset=env.get("INGEST_DATASET") or default.dataset,
            layout=env.get("INGEST_LAYOUT") or default.layout,
            max_workers=_int(env, "INGEST_MAX_WORKERS", default.max_workers),
            worker_mode=_choice(env, "INGEST_WORKER_MODE", ("process", "thread")) or default.worker_mode,
            activity_isolation=_choice(env, "INGEST_ACTIVITY_ISOLATION", ("process", "warm", "inline"))
            or default.activity_isolation,
            chunk_size=_int(env, "INGEST_CHUNK_SIZE", default.chunk_size, minimum=1000),
            sql_backend=_choice(env, "INGEST_SQL_BACKEND", ("pyarrow", "connectorx", "sqlalchemy")),
            value_check=_choice(env, "INGEST_VALUE_CHECK", ("fail", "warn", "off")) or default.value_check,
            retry_attempts=_int(env, "INGEST_RETRY_ATTEMPTS", default.retry_attempts, minimum=0),
            retry_initial_s=_float(env, "INGEST_RETRY_INITIAL_S", default.retry_initial_s),
            retry_max_s=_float(env, "INGEST_RETRY_MAX_S", default.retry_max_s),
            retry_jitter_s=_float(env, "INGEST_RETRY_JITTER_S", default.retry_jitter_s),
            http_max_attempts=_int(env, "INGEST_HTTP_MAX_ATTEMPTS", default.http_max_attempts),
            http_backoff_s=_float(env, "INGEST_HTTP_BACKOFF_S", default.http_backoff_s),
            http_max_delay_s=_float(env, "INGEST_HTTP_MAX_DELAY_S", default.http_max_delay_s),
            http_timeout_s=_float(env, "INGEST_HTTP_TIMEOUT_S", default.http_timeout_s),
            audit_dir=Path(env.get("INGEST_AUDIT_DIR") or default.audit_dir),
            log_dir=Path(env.get("INGEST_LOG_DIR") or default.log_dir),
            pipelines_dir=Path(env.get("INGEST_PIPELINES_DIR") or default.pipelines_dir),
            config_url=env.get("INGEST_CONFIG_URL") or None,
            audit_url=env.get("INGEST_AUDIT_URL") or None,
            max_parallel_jobs=_int(env, "INGEST_MAX_PARALLEL_JOBS", default.max_parallel_jobs),
            job_retry_attempts=_int(env, "INGEST_JOB_RETRY_ATTEMPTS", default.job_retry_attempts),
            job_retry_first_interval_s=_int(env, "INGEST_JOB_RETRY_FIRST_INTERVAL_S",
                                            default.job_retry_first_interval_s),
            azure_storage_connection_string=env.get("INGEST_AZURE_STORAGE_CONNECTION_STRING") or None,
            key_vault_url=_key_vault_url(env),
            key_vault_prefix=_key_vault_prefix(env),
            key_vault_cache_ttl_s=_int(env, "INGEST_KEY_VAULT_CACHE_TTL_S", default.key_vault_cache_ttl_s,
                                       minimum=0),
            watermark_safety_s=_float(env, "INGEST_WATERMARK_SAFETY_S", default.watermark_safety_s),
            **_alert_settings(env),  # type: ignore[arg-type]
            delta_maintenance_every=_int(env, "INGEST_DELTA_MAINTENANCE_EVERY", default.delta_maintenance_every,
                                         minimum=0),
            delta_vacuum_retention_hours=_int(env, "INGEST_DELTA_VACUUM_RETENTION_HOURS",
                                              default.delta_vacuum_retention_hours, minimum=0),
            cdc_lag_alert_bytes=_int(env, "INGEST_CDC_LAG_ALERT_BYTES", default.cdc_lag_alert_bytes),
            cdc_batch_changes=_int(env, "INGEST_CDC_BATCH_CHANGES", default.cdc_batch_changes, minimum=100),
            cdc_spill_block_changes=_int(env, "INGEST_CDC_SPILL_BLOCK_CHANGES", default.cdc_spill_block_changes),
            **_observability_settings(env),  # type: ignore[arg-type]
            **_http_auth_settings(env),  # type: ignore[arg-type]
            **_lineage_settings(env),  # type: ignore[arg-type]
        )

    @property
    def retry_policy(self):  # -> ingest.core.retry.RetryPolicy
        from ingest.core.retry import RetryPolicy

        return RetryPolicy(retries=self.retry_attempts, initial_s=self.retry_initial_s,
                           max_s=self.retry_max_s, jitter_s=self.retry_jitter_s)

    @property
    def http_policy(self):  # -> ingest.core.retry.HttpPolicy
        from ingest.core.retry import HttpPolicy

        return HttpPolicy(max_attempts=self.http_max_attempts, backoff_s=self.http_backoff_s,
                          max_delay_s=self.http_max_delay_s, timeout_s=self.http_timeout_s)

    def to_json(self) -> dict[str, object]:
        """Every field as JSON (paths as text, tuples as lists): how an activity hands its
        settings to its child process, over a pipe (never the command line or environment)."""
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> "Settings":
        """The inverse of to_json; a name that is not a field is a SettingError."""
        hints = get_type_hints(cls)
        unknown = sorted(set(data) - set(hints))
        if unknown:
            raise SettingError(f"settings from JSON: unknown field(s) {', '.join(unknown)}")
        return cls(**{name: _from_json_value(hints[name], value) for name, value in data.items()})

    def with_overrides(self, **changes: object) -> "Settings":
        """A copy with the given fields replaced; None values are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _json_value(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _from_json_value(hint: object, value: object) -> object:
    if value is None:
        return None
    if hint in (Path, Path | None):
        return Path(str(value))
    if isinstance(value, list):
        return tuple(value)
    return value
