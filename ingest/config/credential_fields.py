"""The fields of a connection's credentials (`sources.<connection>.credentials` as a table of
fields instead of a URL), per source type: what each field means (the workbook template shows
it) and how it is read, with errors that name the connection and the field.

The values never come from the workbook: they are secrets, resolved by dlt's config providers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ingest.core.errors import ConnectionConfigError

SECRET_FIELDS = frozenset({"password"})
"""Fields whose value is never shown in a message."""


@dataclass(frozen=True)
class CredentialField:
    name: str
    required: str
    """"yes", "no", or the rule that makes it required."""
    description: str
    example: str = ""


_HOST = CredentialField("host", "yes", "Host name or IP address of the database server.", "db.example.com")
_USERNAME = CredentialField("username", "for SQL logins", "Login name.", "ingest_reader")
_PASSWORD = CredentialField("password", "for SQL logins", "Password of the login (a secret: Key Vault,"
                            " .dlt/secrets.toml or the environment, never the workbook).", "")
_DRIVERNAME = CredentialField("drivername", "no", "SQLAlchemy driver; may be left out (it follows"
                              " source_type).", "")

ORACLE_FIELDS: tuple[CredentialField, ...] = (
    _HOST,
    CredentialField("port", "no", "Listener port; default 1521.", "1521"),
    CredentialField("service_name", "service_name or sid", "Service name of the database (a PDB's"
                    " service), as in host:port/service_name. No tnsnames.ora is read.", "ORCLPDB1"),
    CredentialField("sid", "service_name or sid", "SID of a database without a service name"
                    " (older, non-multitenant).", "ORCL"),
    CredentialField("username", "yes", "Database user.", "INGEST_READER"),
    _PASSWORD,
    CredentialField("connect_timeout", "no", "Seconds to wait for the listener; default 15.", "15"),
    _DRIVERNAME,
)

_SQLSERVER_COMMON: tuple[CredentialField, ...] = (
    CredentialField("database", "yes", "Database to read from.", "sales"),
    _USERNAME,
    _PASSWORD,
    CredentialField("authentication", "no", "sql (default: username and password), managed_identity"
                    " (the app's Entra ID managed identity) or default_credential (azure-identity's"
                    " DefaultAzureCredential: environment, workload identity, managed identity, az"
                    " login). Entra ID needs Microsoft's ODBC driver 17 or 18.", "managed_identity"),
    CredentialField("client_id", "no", "Client id of a user-assigned managed identity (with"
                    " authentication = managed_identity).", ""),
    CredentialField("login_timeout", "no", "Seconds to wait for the login; default 30.", "30"),
    _DRIVERNAME,
)

MSSQL_FIELDS: tuple[CredentialField, ...] = (
    _HOST,
    CredentialField("port", "no", "TCP port; default 1433. Not together with instance.", "1433"),
    CredentialField("instance", "no", "Named instance (resolved by the SQL Server Browser, UDP"
                    " 1434), as in host\\instance. Not together with port.", "SQLEXPRESS"),
    CredentialField("driver", "no", "ODBC driver name as listed by `odbcinst -q -d`: ODBC Driver 18"
                    " for SQL Server (default), ODBC Driver 17 for SQL Server, or FreeTDS.",
                    "ODBC Driver 18 for SQL Server"),
    CredentialField("encrypt", "no", "yes (default; also true), no (also false), or strict (TDS 8,"
                    " driver 18).", "yes"),
    CredentialField("trust_server_certificate", "no", "true to accept a self-signed certificate (a"
                    " local Docker instance); default false.", "false"),
) + _SQLSERVER_COMMON

AZURE_SQL_FIELDS: tuple[CredentialField, ...] = (
    CredentialField("host", "yes", "Server name.", "myserver.database.windows.net"),
    CredentialField("port", "no", "TCP port; default 1433.", "1433"),
    CredentialField("driver", "no", "ODBC Driver 18 for SQL Server (default) or ODBC Driver 17 for"
                    " SQL Server (FreeTDS can neither check the certificate nor send Entra ID"
                    " tokens).", "ODBC Driver 18 for SQL Server"),
    CredentialField("encrypt", "no", "yes (default) or strict; Azure SQL refuses unencrypted"
                    " connections. The server certificate is always checked.", "yes"),
) + _SQLSERVER_COMMON

FIELDS_BY_SOURCE_TYPE: dict[str, tuple[CredentialField, ...]] = {
    "oracle": ORACLE_FIELDS,
    "mssql": MSSQL_FIELDS,
    "azure_sql": AZURE_SQL_FIELDS,
}

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


@dataclass(frozen=True)
class Fields:
    """The credential fields of one connection, read with errors that say where."""

    connection: str
    source_type: str
    values: Mapping[str, Any]

    def error(self, name: str, problem: str) -> ConnectionConfigError:
        return ConnectionConfigError(f"connection '{self.connection}' (sources.{self.connection}"
                                     f".credentials, {self.source_type}): field '{name}' {problem}")

    def check_known(self) -> None:
        known = {f.name for f in FIELDS_BY_SOURCE_TYPE[self.source_type]}
        for name in self.values:
            if name not in known:
                raise self.error(name, f"is not known for {self.source_type} (expected: "
                                 f"{', '.join(sorted(known))})")

    def _raw(self, name: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            value = value.strip()
        return None if value == "" else value

    def text(self, name: str, required: bool = False, default: str | None = None) -> str | None:
        value = self._raw(name)
        if value is None:
            if required:
                raise self.error(name, "is required")
            return default
        if isinstance(value, (dict, list, bool)):
            raise self.error(name, "must be text")
        return str(value)

    def integer(self, name: str, default: int | None, low: int, high: int) -> int | None:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(str(value))
        except ValueError:
            number = None
        if number is None or isinstance(value, bool) or not low <= number <= high:
            shown = "a value" if name in SECRET_FIELDS else repr(value)
            raise self.error(name, f"is {shown}; expected a whole number from {low} to {high}")
        return number

    def flag(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise self.error(name, f"is {value!r}; expected true or false")

    def choice(self, name: str, allowed: tuple[str, ...], default: str,
               aliases: Mapping[str, str] | None = None) -> str:
        raw = self._raw(name)
        if isinstance(raw, bool):  # TOML / JSON true and false
            raw = str(raw).lower()
        value = self.text(name) if not isinstance(raw, str) else raw
        if value is None:
            return default
        chosen = (aliases or {}).get(value.lower(), value.lower())
        if chosen not in allowed:
            raise self.error(name, f"is {value!r}; expected one of {', '.join(allowed)}")
        return chosen
