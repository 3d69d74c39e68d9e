"""Real driver exceptions, classified: python-oracledb (thin) and pyodbc with FreeTDS connect to
closed ports on 127.0.0.1 or to the fake servers of tests/fake_servers.py (no Oracle or SQL
Server can run here). The drivers, their wire protocol and their exceptions are real; only
the server side is a stand-in. Each connection goes through the engine ingest builds from a
connection's credentials, so the URL forms are proven to reach the wire as intended."""

from __future__ import annotations

import socket

import oracledb
import pyodbc
import pytest
import sqlalchemy as sa

from ingest.core.classify import classify
from ingest.config.model import SourceType
from ingest.core.errors import (DriverNotInstalledError, SourceAuthenticationError, SourceFirewallError,
                           SourceObjectNotFoundError, TransientSourceError)
from ingest.sources.connections import build_connection
from ingest.sources.sql import make_engine
from tests.fake_servers import FakeOracleListener, FakeSqlBrowser, FakeTdsServer, ServerError

CANARY = "Canary-Pw-7f3a;x=1"  # a password that must never show up in a message


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connect_error(source) -> BaseException:
    engine = make_engine(source)
    try:
        with engine.connect():
            pass
    except Exception as exc:  # the real driver error, wrapped by SQLAlchemy
        return exc
    finally:
        engine.dispose()
    raise AssertionError("the connection unexpectedly succeeded")


# --- Oracle, python-oracledb thin ---------------------------------------------------------
def oracle(port: int, **extra) -> object:
    fields = {"host": "127.0.0.1", "port": port, "username": "ingest", "password": CANARY,
              "connect_timeout": 3, **extra}
    if "sid" not in fields:
        fields.setdefault("service_name", "ORCLPDB1")
    return build_connection("hr", SourceType.ORACLE, fields)


def test_oracle_service_name_form_sends_the_service_and_unknown_service_is_transient_with_advice():
    listener = FakeOracleListener("refuse", refuse_code=12514)
    try:
        exc = connect_error(oracle(listener.port, service_name="ORCLPDB1"))
    finally:
        listener.close()
    assert "(SERVICE_NAME=ORCLPDB1)" in listener.descriptors[0]
    assert f"(PORT={listener.port})" in listener.descriptors[0] and "(SID=" not in listener.descriptors[0]
    assert oracledb.is_thin_mode()  # no Instant Client was loaded
    assert isinstance(exc.orig, oracledb.OperationalError)
    error = classify(exc)
    assert type(error) is TransientSourceError and error.retryable
    assert "ORA-12514" in str(error) and "check service_name / sid" in str(error)
    assert CANARY not in str(error)


def test_oracle_sid_form_sends_the_sid():
    listener = FakeOracleListener("refuse", refuse_code=12505)
    try:
        exc = connect_error(oracle(listener.port, sid="ORCL"))
    finally:
        listener.close()
    assert "(SID=ORCL)" in listener.descriptors[0] and "SERVICE_NAME" not in listener.descriptors[0]
    error = classify(exc)
    assert type(error) is TransientSourceError and "ORA-12505" in str(error)


@pytest.mark.parametrize("mode, expected_code", [("closed_port", "Connection refused"),
                                                 ("close", "DPY-4011"), ("garbage", "DPY-4011")])
def test_oracle_network_failures_are_transient(mode, expected_code):
    listener = None if mode == "closed_port" else FakeOracleListener(mode)
    port = closed_port() if listener is None else listener.port
    try:
        error = classify(connect_error(oracle(port)))
    finally:
        if listener:
            listener.close()
    assert type(error) is TransientSourceError, error
    assert "DPY-6005" in str(error) and expected_code in str(error)


@pytest.mark.parametrize("code, message, kind, advice", [
    (1017, "ORA-01017: invalid credential or not authorized; logon denied", SourceAuthenticationError,
     "check username and password"),
    (28000, "ORA-28000: The account is locked.", SourceAuthenticationError, "unlock"),
    (942, "ORA-00942: table or view \"SALES\".\"ORDERS\" does not exist", SourceObjectNotFoundError,
     "GRANT SELECT"),
    (60, "ORA-00060: deadlock detected while waiting for resource", TransientSourceError, None),
    (3113, "ORA-03113: end-of-file on communication channel", TransientSourceError, None),
    (1033, "ORA-01033: ORACLE initialization or shutdown in progress", TransientSourceError, None),
])
def test_oracle_server_errors_as_the_driver_builds_them(code, message, kind, advice):
    """Server-side ORA errors need a logged-in session, which no fake can give: the exception is
    built by python-oracledb's own error factory (oracledb.errors._Error, what the thin driver
    does with the server's error message), not by hand."""
    from oracledb.errors import _Error

    err = _Error(message, code=code)
    exc = err.exc_type(err)
    error = classify(sa.exc.DBAPIError("SELECT 1 FROM dual", None, exc))
    assert type(error) is kind
    assert (advice in str(error)) if advice else ("|" not in str(error))


# --- SQL Server through pyodbc and FreeTDS -------------------------------------------------
def sqlserver(port: int | None, source_type=SourceType.MSSQL, **extra):
    fields = {"host": extra.pop("host", "127.0.0.1"), "database": "sales", "username": "ingest", "password": CANARY,
              "driver": "FreeTDS", "encrypt": "no", "login_timeout": 3, **extra}
    if port is not None:
        fields["port"] = port
    return build_connection("erp", source_type, fields)


@pytest.mark.parametrize("number, message, kind, advice", [
    (18456, "Login failed for user 'ingest'.", SourceAuthenticationError, "check username and password"),
    (40615, "Cannot open server 'x' requested by the login. Client with IP address '203.0.113.7' is not"
            " allowed to access the server.", SourceFirewallError, "add a server firewall rule"),
    (40613, "Database 'sales' on server 'x' is not currently available. Please retry the connection"
            " later.", TransientSourceError, "failover"),
    (40501, "The service is currently busy. Retry the request after 10 seconds.", TransientSourceError,
     "throttling"),
    (49918, "Cannot process request. Not enough resources to process request.", TransientSourceError,
     "lacks resources"),
])
def test_sqlserver_login_errors_are_classified_with_what_to_do(number, message, kind, advice):
    server = FakeTdsServer(login_error=ServerError(number, message))
    try:
        exc = connect_error(sqlserver(server.port))
    finally:
        server.close()
    assert isinstance(exc.orig, pyodbc.Error) and f"({number})" in str(exc.orig)
    login = server.logins[0]  # the URL built from fields reached the server intact
    assert (login.user, login.password, login.database) == ("ingest", CANARY, "sales")
    error = classify(exc)
    assert type(error) is kind and advice in str(error)
    assert CANARY not in str(error)


def test_sqlserver_deadlock_on_a_query_is_transient():
    server = FakeTdsServer(batch_errors={"FROM orders": ServerError(
        1205, "Transaction (Process ID 52) was deadlocked on lock resources with another process and has"
              " been chosen as the deadlock victim. Rerun the transaction.", severity=13, state=51)})
    source = sqlserver(server.port)
    try:
        connection = pyodbc.connect(make_engine(source).dialect.create_connect_args(source.url)[0][0],
                                    autocommit=True, timeout=3)
        with pytest.raises(pyodbc.Error) as raised:
            connection.cursor().execute("SELECT id FROM orders")
        connection.close()
    finally:
        server.close()
    assert "SELECT id FROM orders" in server.batches
    error = classify(raised.value)
    assert type(error) is TransientSourceError and "deadlock" in str(error)


def test_sqlserver_closed_port_is_transient():
    error = classify(connect_error(sqlserver(closed_port())))
    assert type(error) is TransientSourceError and "08S01" in str(error)


def test_sqlserver_encrypt_yes_never_sends_the_login_to_a_server_without_tls():
    server = FakeTdsServer()
    try:
        error = classify(connect_error(sqlserver(server.port, encrypt="yes")))
    finally:
        server.close()
    assert server.prelogins == 1 and server.logins == []  # the password never left in clear
    assert type(error) is TransientSourceError


def test_sqlserver_named_instance_is_resolved_through_the_browser():
    browser = FakeSqlBrowser()
    server = FakeTdsServer(host=browser.host, login_error=ServerError(18456, "Login failed for user 'ingest'."))
    browser.add("SQLEXPRESS", server.port)
    try:
        error = classify(connect_error(sqlserver(None, host=browser.host, instance="SQLEXPRESS")))
    finally:
        browser.close()
        server.close()
    assert browser.requests == [b"\x04SQLEXPRESS\x00"]
    assert server.logins[0].database == "sales"
    assert type(error) is SourceAuthenticationError


def test_missing_odbc_driver_names_the_installed_ones():
    error = classify(connect_error(sqlserver(closed_port(), driver="ODBC Driver 18 for SQL Server")))
    assert type(error) is DriverNotInstalledError
    assert "installed: FreeTDS" in str(error) and "Can't open lib" in str(error)
