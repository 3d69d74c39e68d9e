"""Exceptions of the Oracle and SQL Server drivers mapped to the engine's error classes
(ingest/core/errors.py), with advice on what to do. `ingest.core.classify` calls `classify_driver_error`
for every exception in a failure's chain.

- python-oracledb: codes from the message (`ORA-01017`, and thin mode's `DPY-6005` wrapping
  `DPY-6001 ... (Similar to ORA-12514)`) and the driver's own `isrecoverable` flag.
- pyodbc (Microsoft's driver, FreeTDS): SQL Server error numbers from each diagnostic record
  (`... Login failed for user 'x'. (18456) (SQLDriverConnect)`), then the SQLSTATE.
  FreeTDS reports a failed login as 42000, not 28000: the number decides.
Transient numbers follow Microsoft's retry guidance for Azure SQL (the lists SqlClient and EF
Core retry on).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.core import errors


@dataclass(frozen=True)
class DriverErrorClass:
    kind: type[errors.IngestError]
    advice: str | None = None

    def error(self, message: str) -> errors.IngestError:
        return self.kind(f"{self.advice} | driver: {message}" if self.advice else message)


def classify_driver_error(exc: BaseException) -> DriverErrorClass | None:
    module = type(exc).__module__ or ""
    if module.startswith("oracledb"):
        return classify_oracle(exc)
    if module == "pyodbc" or module.startswith("pyodbc."):
        return classify_pyodbc(exc)
    return None


# --- Oracle ---------------------------------------------------------------------------------
_ORA_AUTH = {
    1017: "Oracle rejected the login (ORA-01017): check username and password in the connection's"
          " credentials",
    28000: "the Oracle account is locked (ORA-28000): ask the DBA to unlock it",
    28001: "the Oracle password has expired (ORA-28001): set a new one and update the credentials",
    1045: "the Oracle user may not log in (ORA-01045): the DBA grants CREATE SESSION",
    1005: "no password was given (ORA-01005): add password to the connection's credentials",
}
_ORA_NOT_FOUND = {942, 904, 4043, 1918, 980}
_ORA_PRIVILEGE = {1031, 1039}
_ORA_LISTENER = {12514, 12505}
_ORA_TRANSIENT = {
    18, 20, 54, 60, 376, 1033, 1034, 1089, 1090, 1092, 1115, 1555, 3113, 3114, 3135, 8177, 12153,
    12170, 12516, 12518, 12519, 12520, 12528, 12537, 12541, 12543, 12545, 12547, 12570, 12571,
    12757, 25408,
}
_CODE = re.compile(r"\b(ORA|DPY|DPI)-(\d{4,5})\b")


def classify_oracle(exc: BaseException) -> DriverErrorClass:
    error = exc.args[0] if exc.args else None
    text = str(exc)
    codes = {(prefix, int(number)) for prefix, number in _CODE.findall(text)}
    ora = {n for p, n in codes if p == "ORA"}
    dpy = {n for p, n in codes if p == "DPY"}
    for number, advice in _ORA_AUTH.items():
        if number in ora:
            return DriverErrorClass(errors.SourceAuthenticationError, advice)
    if 3015 in dpy:
        return DriverErrorClass(errors.SourceAuthenticationError,
                                "the user's password verifier is too old for thin mode (DPY-3015): the"
                                " DBA resets the password so it gets a 12C verifier")
    if ora & _ORA_NOT_FOUND:
        return DriverErrorClass(errors.SourceObjectNotFoundError,
                                "Oracle does not know the table or column, or the user may not see it:"
                                " check the job's names and GRANT SELECT to the user")
    if ora & _ORA_PRIVILEGE:
        return DriverErrorClass(errors.PermanentSourceError,
                                "the Oracle user lacks a privilege: GRANT SELECT on the table")
    if ora & _ORA_LISTENER or dpy & {6001, 6003}:
        return DriverErrorClass(errors.TransientSourceError,
                                "the listener does not know the service or SID (the database may be"
                                " starting): if it persists, check service_name / sid and port")
    if 1047 in {n for p, n in codes if p == "DPI"}:
        return DriverErrorClass(errors.DriverNotInstalledError,
                                "thick mode needs Oracle Instant Client; ingest reads Oracle in thin mode")
    if ora & _ORA_TRANSIENT or dpy & {4011, 6000, 6005} or getattr(error, "isrecoverable", False):
        return DriverErrorClass(errors.TransientSourceError)
    return DriverErrorClass(errors.PermanentSourceError)


# --- SQL Server (pyodbc) ------------------------------------------------------------------
_FIREWALL = {40615, 40914}
_MSSQL_TRANSIENT = {
    20, 64, 121, 233, 1205, 1222, 4060, 4221, 10053, 10054, 10060, 10928, 10929, 10936, 20009,
    40143, 40197, 40501, 40540, 40613, 41301, 41302, 41305, 41325, 41839, 42108, 42109, 49918,
    49919, 49920,
}
_MSSQL_TRANSIENT_ADVICE = {
    1205: "deadlock victim (1205): retried",
    40613: "the Azure SQL database is not available right now (40613, failover or reconfiguration):"
           " retried",
    40501: "Azure SQL is throttling (40501, service busy): retried with backoff",
    49918: "Azure SQL lacks resources for the request (49918): retried",
    4060: "the login cannot open the database (4060): Azure SQL reports this during failovers; if it"
          " persists, check the database name and that the login has a user in it",
}
_MSSQL_AUTH = {18456, 18452, 18470, 18486, 18487, 18488}
_MSSQL_NOT_FOUND = {207, 208, 2812}
_MSSQL_PRIVILEGE = {229, 230, 262, 300}
_NUMBER = re.compile(r"\((\d{1,6})\)(?=\s*(?:\(SQL\w+\)|;|$))")
_SQLSTATE = re.compile(r"\[([0-9A-Z]{5})\]")


def classify_pyodbc(exc: BaseException) -> DriverErrorClass:
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    states = set(_SQLSTATE.findall(text))
    if exc.args and isinstance(exc.args[0], str):
        states.add(exc.args[0])
    numbers = {int(n) for n in _NUMBER.findall(text)}
    if numbers & _FIREWALL:
        return DriverErrorClass(errors.SourceFirewallError,
                                "Azure SQL's firewall rejects this client's IP address (40615): add a"
                                " server firewall rule for the app's outbound IP addresses (portal:"
                                " SQL server > Networking, or sp_set_firewall_rule), or connect through"
                                " a private endpoint; retrying cannot help")
    transient = numbers & _MSSQL_TRANSIENT
    if transient:
        advice = next((_MSSQL_TRANSIENT_ADVICE[n] for n in sorted(transient) if n in _MSSQL_TRANSIENT_ADVICE),
                      None)
        return DriverErrorClass(errors.TransientSourceError, advice)
    if numbers & _MSSQL_AUTH or "28000" in states:
        return DriverErrorClass(errors.SourceAuthenticationError,
                                "SQL Server rejected the login (18456): check username and password in"
                                " the connection's credentials; with Entra ID, create the identity's user"
                                " in the database (CREATE USER [app-name] FROM EXTERNAL PROVIDER)")
    if numbers & _MSSQL_NOT_FOUND or states & {"42S02", "42S22"}:
        return DriverErrorClass(errors.SourceObjectNotFoundError,
                                "SQL Server does not know the table or column: check the job's names"
                                " and schema")
    if numbers & _MSSQL_PRIVILEGE:
        return DriverErrorClass(errors.PermanentSourceError,
                                "the login lacks a permission: GRANT SELECT on the table or schema")
    if "IM002" in states or "can't open lib" in text.lower():
        return DriverErrorClass(errors.DriverNotInstalledError, _missing_driver_advice())
    if any(s.startswith("08") for s in states) or states & {"HYT00", "HYT01", "40001"}:
        return DriverErrorClass(errors.TransientSourceError)
    return DriverErrorClass(errors.PermanentSourceError)


def _missing_driver_advice() -> str:
    try:
        import pyodbc

        installed = ", ".join(pyodbc.drivers()) or "none"
    except Exception:  # pragma: no cover - pyodbc itself raised the error being classified
        installed = "unknown"
    return ("the ODBC driver named by the connection is not installed here (installed: "
            f"{installed}): install Microsoft's ODBC Driver 18 for SQL Server, or set the"
            " connection's driver field to an installed one")
