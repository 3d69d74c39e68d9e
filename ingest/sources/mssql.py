"""SQL Server and Azure SQL through pyodbc: connection URLs for every form (port, named
instance, ODBC driver name, Encrypt / TrustServerCertificate, login timeout, SQL login or an
Entra ID token) and the column types dlt cannot map on its own.

The URL's query becomes ODBC connection-string keywords (SQLAlchemy's pyodbc connector builds
the string and quotes values); keywords differ between Microsoft's driver and FreeTDS.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.engine import URL

from ingest.core.errors import ConnectionConfigError
from ingest.sources.entra import AccessTokenAuth, make_credential
from ingest.config.credential_fields import Fields

DRIVERNAME = "mssql+pyodbc"
DEFAULT_DRIVER = "ODBC Driver 18 for SQL Server"
MICROSOFT_DRIVERS = ("ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server")
DEFAULT_LOGIN_TIMEOUT_S = 30
APPLICATION_NAME = "ingest"
AUTHENTICATIONS = ("sql", "managed_identity", "default_credential")
_ACCEPTED_DRIVERNAMES = ("mssql", DRIVERNAME)


def is_freetds(driver: str) -> bool:
    return "freetds" in driver.lower() or driver.endswith("libtdsodbc.so")


def sqlserver_from_fields(fields: Fields, azure: bool) -> tuple[URL, dict[str, Any], AccessTokenAuth | None]:
    """URL, connect arguments and (for Entra ID) the token source of a SQL Server or Azure SQL
    connection given as fields."""
    fields.check_known()
    drivername = fields.text("drivername", default=DRIVERNAME)
    if drivername not in _ACCEPTED_DRIVERNAMES:
        raise fields.error("drivername", f"is {drivername!r}; SQL Server is read with {DRIVERNAME}")
    driver = fields.text("driver", default=DEFAULT_DRIVER)
    freetds = is_freetds(driver)
    host = fields.text("host", required=True)
    port = fields.integer("port", None, 1, 65535)
    instance = None if azure else fields.text("instance")
    if port and instance:
        raise fields.error("instance", "and 'port' are both set: a named instance's port comes from the"
                           " SQL Server Browser; give one of them")
    encrypt = fields.choice("encrypt", ("yes", "strict") if azure else ("yes", "no", "strict"), "yes",
                            aliases={"true": "yes", "mandatory": "yes", "false": "no", "optional": "no"})
    trust = False if azure else fields.flag("trust_server_certificate", False)
    authentication = fields.choice("authentication", AUTHENTICATIONS, "sql")
    if azure and freetds:
        raise fields.error("driver", f"is {driver!r}; Azure SQL needs Microsoft's driver ({' or '.join(MICROSOFT_DRIVERS)}):"
                           " FreeTDS cannot check the server certificate nor send Entra ID tokens")
    if freetds and encrypt == "strict":
        raise fields.error("encrypt", "is 'strict' (TDS 8), which FreeTDS does not speak; use yes")
    if authentication != "sql" and freetds:
        raise fields.error("authentication", f"is {authentication!r}: Entra ID tokens need Microsoft's ODBC"
                           " driver, not FreeTDS")
    token: AccessTokenAuth | None = None
    username = password = None
    if authentication == "sql":
        username = fields.text("username", required=True)
        password = fields.text("password", required=True)
        if freetds and "}" in password:
            raise fields.error("password", "contains '}', which FreeTDS cannot read from a connection"
                               " string; change the password or use Microsoft's driver")
    else:
        for name in ("username", "password"):
            if fields.text(name):
                raise fields.error(name, f"must be empty with authentication = {authentication}"
                                   " (the Entra ID token is the login)")
        credential = make_credential(authentication, fields.text("client_id"))
        token = AccessTokenAuth(fields.connection, authentication, credential)
    query = {"driver": driver, **_odbc_security(freetds, encrypt, trust)}
    url = URL.create(DRIVERNAME, username=username, password=password,
                     host=f"{host}\\{instance}" if instance else host, port=port,
                     database=fields.text("database", required=True), query=query)
    timeout = fields.integer("login_timeout", DEFAULT_LOGIN_TIMEOUT_S, 1, 600)
    return url, {"timeout": timeout}, token


def _odbc_security(freetds: bool, encrypt: str, trust: bool) -> dict[str, str]:
    """ODBC keywords for encryption and the application name, per driver family."""
    if freetds:  # FreeTDS: Encryption=require|request; it checks no certificate by default
        return {"Encryption": "require" if encrypt != "no" else "request", "TDS_Version": "7.4",
                "ClientCharset": "UTF-8", "APP": APPLICATION_NAME}
    return {"Encrypt": encrypt, "TrustServerCertificate": "yes" if trust else "no", "APP": APPLICATION_NAME}


def sqlserver_from_url(connection: str, url: URL, azure: bool) -> tuple[URL, dict[str, Any]]:
    """Check a SQL Server URL; for Azure SQL, encryption with a checked certificate is added
    when missing and refused when turned off."""
    if url.drivername not in _ACCEPTED_DRIVERNAMES:
        raise ConnectionConfigError(
            f"connection '{connection}': driver '{url.drivername}' is not used for SQL Server; write"
            f" {DRIVERNAME}://user:password@host:1433/database?driver=ODBC+Driver+18+for+SQL+Server")
    query = dict(url.query)
    keys = {k.lower(): k for k in query}
    if not url.database and "odbc_connect" not in keys:
        raise ConnectionConfigError(f"connection '{connection}': the SQL Server URL names no database"
                                    " (…/database after host:port)")
    if "driver" not in keys and "odbc_connect" not in keys:
        query["driver"] = DEFAULT_DRIVER
    if azure and "odbc_connect" not in keys:
        driver = str(query.get(keys.get("driver", "driver"), DEFAULT_DRIVER))
        if is_freetds(driver):
            raise ConnectionConfigError(f"connection '{connection}': Azure SQL needs Microsoft's ODBC"
                                        f" driver, not {driver!r}")
        encrypt = str(query.get(keys.get("encrypt", ""), "yes")).lower()
        trust = str(query.get(keys.get("trustservercertificate", ""), "no")).lower()
        if encrypt not in ("yes", "true", "mandatory", "strict"):
            raise ConnectionConfigError(f"connection '{connection}': Encrypt={encrypt} in the URL; Azure"
                                        " SQL connections are encrypted (Encrypt=yes)")
        if trust not in ("no", "false"):
            raise ConnectionConfigError(f"connection '{connection}': TrustServerCertificate={trust} in"
                                        " the URL; the Azure SQL certificate must be checked (no)")
        if not url.username and "authentication" not in keys:
            raise ConnectionConfigError(f"connection '{connection}': the Azure SQL URL has no login: add"
                                        " user:password, or give the credentials as fields with"
                                        " authentication = managed_identity")
        query.setdefault(keys.get("encrypt", "Encrypt"), "yes")
        query.setdefault(keys.get("trustservercertificate", "TrustServerCertificate"), "no")
    host = url.host
    if host and "%5c" in host.lower():  # a URL-encoded named instance: host%5CINSTANCE
        host = re.sub("%5c", lambda _: "\\", host, flags=re.IGNORECASE)
    return url.set(drivername=DRIVERNAME, host=host, query=query), {"timeout": DEFAULT_LOGIN_TIMEOUT_S}


def adapt_sqlserver_types(table: sa.Table) -> None:
    """MONEY and SMALLMONEY as the exact decimals they are (dlt knows neither type)."""
    for column in table.columns:
        if isinstance(column.type, mssql.SMALLMONEY):
            column.type = sa.Numeric(10, 4)
        elif isinstance(column.type, mssql.MONEY):
            column.type = sa.Numeric(19, 4)
