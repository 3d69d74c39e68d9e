"""Oracle and SQL Server jobs run through the command line against the fake servers of
tests/fake_servers.py (no real Oracle or SQL Server can run here): each failure becomes a
classified job result with advice, the other jobs run, and no password shows up in the
output, the log, the audit trail or the run summary."""

from __future__ import annotations

import json

from tests.fake_servers import FakeOracleListener, FakeTdsServer, ServerError
from tests.integration.test_cli import ingest
from tests.workbooks import job_row, write_workbook

CANARY = "Canary-Dialect-Pw-3391"


def test_oracle_and_sqlserver_failures_are_job_results_without_secrets(tmp_path):
    listener = FakeOracleListener("refuse", refuse_code=12514)
    firewall = FakeTdsServer(login_error=ServerError(
        40615, "Cannot open server 'erp' requested by the login. Client with IP address '203.0.113.7' is"
               " not allowed to access the server."))
    login = FakeTdsServer(login_error=ServerError(18456, "Login failed for user 'ingest'."))
    sqlserver = {"host": "127.0.0.1", "database": "erp", "username": "ingest", "password": CANARY,
                 "driver": "FreeTDS", "encrypt": "no", "login_timeout": 5}
    env = {
        "SOURCES__HR__CREDENTIALS": json.dumps({"host": "127.0.0.1", "port": listener.port,
                                                "service_name": "HRPDB", "username": "ingest",
                                                "password": CANARY, "connect_timeout": 5}),
        "SOURCES__ERP__CREDENTIALS": json.dumps({**sqlserver, "port": firewall.port}),
        "SOURCES__ERP2__CREDENTIALS": json.dumps({**sqlserver, "port": login.port}),
        "SOURCES__BAD__CREDENTIALS": json.dumps({**sqlserver, "port": "x"}),
        "INGEST_DESTINATION": str(tmp_path / "lake"),
    }
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="hr_people", source_type="oracle", connection="hr", source_schema="HR",
                source_table="PEOPLE", primary_key="PERSON_ID"),
        job_row(job_name="erp_orders", source_type="mssql", connection="erp", source_schema="dbo",
                source_table="Orders", target_table="erp_orders", primary_key="OrderID"),
        job_row(job_name="erp_items", source_type="mssql", connection="erp2", source_schema="dbo",
                source_table="Items", target_table="erp_items", primary_key="ItemID"),
        job_row(job_name="bad_port", source_type="mssql", connection="bad", source_schema="dbo",
                source_table="X", target_table="x", primary_key="id"),
    ])
    try:
        result = ingest(["run", "--config", str(book), "--json"], cwd=tmp_path, env=env)
    finally:
        for server in (listener, firewall, login):
            server.close()
    assert result.returncode == 1, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    jobs = {j["job_name"]: j for j in summary["jobs"]}
    assert jobs["hr_people"]["error_class"] == "TransientSourceError"
    assert "check service_name / sid" in jobs["hr_people"]["error_message"]
    assert jobs["erp_orders"]["error_class"] == "SourceFirewallError"
    assert "add a server firewall rule" in jobs["erp_orders"]["error_message"]
    assert jobs["erp_items"]["error_class"] == "SourceAuthenticationError"
    assert jobs["bad_port"]["error_class"] == "ConnectionConfigError"
    assert "connection 'bad' (sources.bad.credentials, mssql): field 'port' is 'x'" in \
        jobs["bad_port"]["error_message"]
    assert "(SERVICE_NAME=HRPDB)" in listener.descriptors[0]
    assert firewall.logins[0].password == CANARY  # it did reach the (fake) server
    everything = result.stdout + result.stderr
    everything += "".join(p.read_text() for p in (tmp_path / "logs").glob("*"))
    everything += (tmp_path / "audit" / "audit_trail.csv").read_text()
    everything += "".join(p.read_text() for p in (tmp_path / "audit" / "runs").glob("*.json"))
    assert "SourceFirewallError" in everything and CANARY not in everything
