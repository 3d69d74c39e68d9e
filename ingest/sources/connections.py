"""Connection credentials, resolved by dlt's own config providers (env, Azure Key Vault when
registered, .dlt/secrets.toml), never from the workbook."""

from __future__ import annotations

import dlt
from dlt.common.configuration.specs import ConnectionStringCredentials
from sqlalchemy.engine import URL, make_url

from ingest.errors import IngestError, MissingCredentialsError
from ingest.keyvault.registration import expected_secret
from ingest.redact import register_secret

# SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the runtime ships psycopg2.
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg2", "postgres": "postgresql+psycopg2"}


def credentials_key(connection: str) -> str:
    return f"sources.{connection}.credentials"


def env_var_name(connection: str) -> str:
    return f"SOURCES__{connection.upper()}__CREDENTIALS"


def _missing_message(connection: str) -> str:
    places = [env_var_name(connection)]
    vault = expected_secret(credentials_key(connection))
    if vault:
        places.append(vault)
    places.append(f"[sources.{connection}] credentials in .dlt/secrets.toml")
    return f"connection '{connection}': no credentials found; set {', '.join(places[:-1])} or {places[-1]}"


def resolve_connection_url(connection: str) -> URL:
    """The SQLAlchemy URL of a named connection; its password is registered for redaction."""
    try:
        raw = dlt.secrets.get(credentials_key(connection))
        if raw is None:  # a credential-less URL (the SQLite demo) may sit in config.toml
            raw = dlt.config.get(credentials_key(connection))
    except IngestError as exc:  # Key Vault refused or unreachable: keep its class (retry or not)
        raise type(exc)(f"connection '{connection}': {exc}") from None
    except Exception as exc:  # a provider failing is the same, for the job, as no secret
        raise MissingCredentialsError(
            f"connection '{connection}': credentials could not be read ({type(exc).__name__})"
        ) from None
    if raw is None or raw == "":
        raise MissingCredentialsError(_missing_message(connection))
    if isinstance(raw, dict):
        creds = ConnectionStringCredentials(raw)
        text = creds.to_native_representation()
    else:
        text = str(raw)
    try:
        url = make_url(text)
    except Exception:
        raise MissingCredentialsError(
            f"connection '{connection}': credentials are not a database URL"
            " (expected e.g. postgresql://user:password@host:5432/database)"
        ) from None
    if url.password:
        register_secret(str(url.password))
    driver = _DEFAULT_DRIVERS.get(url.drivername)
    if driver:
        url = url.set(drivername=driver)
    return url
