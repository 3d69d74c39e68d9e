"""Connection credentials, resolved by dlt's own config providers (env, Azure Key Vault when
registered, .dlt/secrets.toml), never from the workbook.

`sources.<connection>.credentials` is either a database URL or a table of fields (TOML, or a
JSON object in an environment variable / Key Vault secret); for Oracle, SQL Server and Azure
SQL the fields are turned into a URL by the dialect modules (see ingest/config/credential_fields.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from dlt.common.configuration.specs import ConnectionStringCredentials
from sqlalchemy.engine import URL, make_url

from ingest.config.model import JobConfig, SourceType
from ingest.core.errors import ConnectionConfigError, MissingCredentialsError
from ingest.core.redact import register_secret
from ingest.sources.credential_source import read_credentials
from ingest.sources.entra import AccessTokenAuth
from ingest.config.credential_fields import Fields
from ingest.sources.mssql import sqlserver_from_fields, sqlserver_from_url
from ingest.sources.oracle import oracle_from_fields, oracle_from_url

# SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the runtime ships psycopg2.
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg2", "postgres": "postgresql+psycopg2"}

SQLALCHEMY_BACKEND = {
    SourceType.POSTGRES: "postgresql",
    SourceType.SQLITE: "sqlite",
    SourceType.ORACLE: "oracle",
    SourceType.MSSQL: "mssql",
    SourceType.AZURE_SQL: "mssql",
}
"""The SQLAlchemy dialect a source type's URL must use."""


@dataclass(frozen=True)
class SourceConnection:
    """Everything needed to open a job's source: URL, DBAPI connect arguments and, for Entra
    ID logins, where the access token comes from."""

    name: str
    source_type: SourceType
    url: URL
    connect_args: dict[str, Any] = field(default_factory=dict)
    access_token: AccessTokenAuth | None = None


def resolve_connection(job: JobConfig) -> SourceConnection:
    """The connection of a job, checked against its source_type; every secret in it is
    registered for redaction."""
    raw = read_credentials(job.connection)
    return build_connection(job.connection, job.source_type, raw)


def resolve_connection_url(connection: str, source_type: SourceType = SourceType.POSTGRES) -> URL:
    """The SQLAlchemy URL of a named connection (secrets registered for redaction)."""
    return build_connection(connection, source_type, read_credentials(connection)).url


def build_connection(connection: str, source_type: SourceType, raw: Any) -> SourceConnection:
    """Turn credentials (URL text, a mapping of fields, or a JSON object) into a connection."""
    if isinstance(raw, str) and raw.lstrip().startswith("{"):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ConnectionConfigError(f"connection '{connection}': credentials start with '{{' but are"
                                        " not a JSON object") from None
    if isinstance(raw, Mapping):
        _register_field_secrets(raw)
        source = _from_fields(connection, source_type, raw)
    else:
        _guard_url_password(connection, str(raw))
        url = _parse_url(connection, str(raw))
        _check_dialect(connection, source_type, url)
        source = _from_url(connection, source_type, url)
    _check_dialect(connection, source_type, source.url)
    if source.url.password:
        register_secret(str(source.url.password))
    return source


def _check_dialect(connection: str, source_type: SourceType, url: URL) -> None:
    expected = SQLALCHEMY_BACKEND[source_type]
    if url.get_backend_name() != expected:
        raise ConnectionConfigError(
            f"connection '{connection}': its credentials are a {url.get_backend_name()} URL but the"
            f" job's source_type is {source_type.value} (expected a {expected} URL)")


_URL_ESCAPES = "@ as %40, : as %3A, / as %2F, # as %23, ? as %3F, % as %25"
_USERINFO_BREAKERS = re.compile(r"[@/#?:]")


def _guard_url_password(connection: str, text: str) -> None:
    """Mask the password of a URL as it is written, whatever a parser makes of it, and refuse a
    password holding characters that would change how the URL parses (an unencoded `@`, `:`,
    `/`, `#` or `?`): a parser would take a piece of it for the host or the database, and
    that piece would reach messages. The error says how to encode it and shows none of it."""
    scheme_end = text.find("://")
    if scheme_end < 0:
        return
    rest = text[scheme_end + 3:]
    query = rest.find("?", rest.rfind("@") + 1) if "@" in rest else -1
    authority = rest if query < 0 else rest[:query]
    if "@" not in authority:
        return
    userinfo = authority[:authority.rfind("@")]
    user, _, password = userinfo.partition(":")
    register_secret(userinfo)
    register_secret(password)
    for piece in _USERINFO_BREAKERS.split(password):
        register_secret(piece)  # the parts a wrong parse would show (register_secret skips short ones)
    if _USERINFO_BREAKERS.search(password) or "@" in user or "/" in user:
        raise ConnectionConfigError(
            f"connection '{connection}': the password in its URL holds a character that must be"
            f" percent-encoded ({_URL_ESCAPES}); encode it, e.g. with Python's"
            " urllib.parse.quote(password, safe=''), or give the credentials as fields (README,"
            " Connection strings). Nothing of the password is shown here")


def _parse_url(connection: str, text: str) -> URL:
    try:
        url = make_url(text)
    except Exception:
        raise MissingCredentialsError(
            f"connection '{connection}': credentials are not a database URL"
            " (expected e.g. postgresql://user:password@host:5432/database)"
        ) from None
    if url.password:
        register_secret(str(url.password))
    return url


def _register_field_secrets(values: Mapping[str, Any]) -> None:
    for key in ("password", "client_secret"):
        if values.get(key):
            register_secret(str(values[key]))


def _from_fields(connection: str, source_type: SourceType, values: Mapping[str, Any]) -> SourceConnection:
    fields = Fields(connection, source_type.value, values)
    if source_type is SourceType.ORACLE:
        url, connect_args = oracle_from_fields(fields)
        return SourceConnection(connection, source_type, url, connect_args)
    if source_type in (SourceType.MSSQL, SourceType.AZURE_SQL):
        url, connect_args, token = sqlserver_from_fields(fields, azure=source_type is SourceType.AZURE_SQL)
        return SourceConnection(connection, source_type, url, connect_args, token)
    creds = ConnectionStringCredentials(dict(values))  # postgres, sqlite: dlt's own fields
    return _from_url(connection, source_type, _parse_url(connection, creds.to_native_representation()))


def _from_url(connection: str, source_type: SourceType, url: URL) -> SourceConnection:
    if source_type is SourceType.ORACLE:
        url, connect_args = oracle_from_url(connection, url)
        return SourceConnection(connection, source_type, url, connect_args)
    if source_type in (SourceType.MSSQL, SourceType.AZURE_SQL):
        url, connect_args = sqlserver_from_url(connection, url, azure=source_type is SourceType.AZURE_SQL)
        return SourceConnection(connection, source_type, url, connect_args)
    driver = _DEFAULT_DRIVERS.get(url.drivername)
    if driver:
        url = url.set(drivername=driver)
    return SourceConnection(connection, source_type, url)
