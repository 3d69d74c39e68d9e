"""Oracle through python-oracledb in thin mode: no Instant Client, no tnsnames.ora.

A connection is host, port and a service name or SID; SQLAlchemy's oracledb dialect turns
`oracle+oracledb://user:pw@host:port/?service_name=X` (or `.../SID`) into a connect descriptor
and never initialises thick mode. Reflected NUMBERs are bound as Decimals; what each column
lands as is oracle_types.py's.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import oracle
from sqlalchemy.engine import URL

from ingest.core.errors import ConnectionConfigError
from ingest.config.credential_fields import Fields

DRIVERNAME = "oracle+oracledb"
DEFAULT_PORT = 1521
DEFAULT_CONNECT_TIMEOUT_S = 15
_ACCEPTED_DRIVERNAMES = ("oracle", DRIVERNAME)
ARRAYSIZE = 10_000
"""Rows per fetch round trip. python-oracledb's default (100) suits OLTP; its tuning guide
advises a larger value for bulk reads (not measured here: no Oracle server)."""


def oracle_from_fields(fields: Fields) -> tuple[URL, dict[str, Any]]:
    """The URL and connect arguments of an Oracle connection given as fields."""
    fields.check_known()
    drivername = fields.text("drivername", default=DRIVERNAME)
    if drivername not in _ACCEPTED_DRIVERNAMES:
        raise fields.error("drivername", f"is {drivername!r}; Oracle is read with {DRIVERNAME} (thin mode)")
    service_name = fields.text("service_name")
    sid = fields.text("sid")
    if bool(service_name) == bool(sid):
        raise fields.error("service_name", "or 'sid' is required (exactly one of them: host:port/"
                           "service_name or the SID of an older database)")
    url = URL.create(
        DRIVERNAME,
        username=fields.text("username", required=True),
        password=fields.text("password", required=True),
        host=fields.text("host", required=True),
        port=fields.integer("port", DEFAULT_PORT, 1, 65535),
        database=sid,
        query={"service_name": service_name} if service_name else {},
    )
    timeout = fields.integer("connect_timeout", DEFAULT_CONNECT_TIMEOUT_S, 1, 600)
    return url, {"tcp_connect_timeout": float(timeout)}


def oracle_from_url(connection: str, url: URL) -> tuple[URL, dict[str, Any]]:
    """Check an Oracle URL: thin-mode driver, a service name or SID (no tnsnames alias)."""
    if url.drivername not in _ACCEPTED_DRIVERNAMES:
        raise ConnectionConfigError(
            f"connection '{connection}': driver '{url.drivername}' is not used for Oracle; write"
            f" {DRIVERNAME}://user:password@host:1521/?service_name=NAME (thin mode, no Oracle client)")
    if not (url.database or url.query.get("service_name")):
        raise ConnectionConfigError(
            f"connection '{connection}': the Oracle URL names no service: add ?service_name=NAME or"
            f" /SID after host:port (tnsnames.ora aliases are not read)")
    connect_args: dict[str, Any] = {}
    if "tcp_connect_timeout" not in url.query:
        connect_args["tcp_connect_timeout"] = float(DEFAULT_CONNECT_TIMEOUT_S)
    return url.set(drivername=DRIVERNAME), connect_args


def adapt_oracle_types(table: sa.Table) -> None:
    """Reflected Oracle NUMBERs as exact decimals (dlt issue 3133: NUMBER must not become a
    double). SQLAlchemy reflects NUMBER without precision but scale 0 (INTEGER, NUMBER(*,0)) as
    INTEGER, which dlt would read as a 64-bit integer; it holds 38 digits."""
    for column in table.columns:
        kind = column.type
        if isinstance(kind, oracle.NUMBER):
            column.type = oracle.NUMBER(kind.precision, kind.scale, asdecimal=True)
        elif isinstance(kind, sa.Integer) and not isinstance(kind, sa.Numeric):
            column.type = oracle.NUMBER(38, 0, asdecimal=True)
