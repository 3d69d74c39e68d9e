"""`python -m ingest check` on CDC jobs, against a real PostgreSQL (wal_level=logical): one line
per CDC job under its own, OK or the missing prerequisite with its fix (the check registered by
ingest/sources/postgres_cdc/check_line.py)."""

from __future__ import annotations

import json

from tests.cdc_helpers import sql
from tests.integration.test_cli import ingest
from tests.workbooks import job_row, write_workbook

SCHEMA = "cdccheck"


def test_check_prints_the_cdc_prerequisites_of_each_cdc_job(postgres, tmp_path):
    password = "Norep-Canary-Pw-8812"
    sql(postgres, f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; DROP ROLE IF EXISTS norep_check;"
                  f" CREATE SCHEMA {SCHEMA}; CREATE TABLE {SCHEMA}.keyed (id int PRIMARY KEY, v text);"
                  f" CREATE TABLE {SCHEMA}.nokey (a int, b int); CREATE TABLE {SCHEMA}.full_identity (a int);"
                  f" ALTER TABLE {SCHEMA}.full_identity REPLICA IDENTITY FULL;"
                  f" CREATE ROLE norep_check LOGIN PASSWORD '{password}'; GRANT USAGE ON SCHEMA {SCHEMA} TO norep_check;"
                  f" GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO norep_check")
    book = write_workbook(tmp_path / "cdc.xlsx", [
        job_row(job_name="keyed", connection="pg_cdc", source_schema=SCHEMA, source_table="keyed", load_type="CDC"),
        job_row(job_name="nokey", connection="pg_cdc", source_schema=SCHEMA, source_table="nokey", load_type="CDC",
                primary_key=None),
        job_row(job_name="full_identity", connection="pg_cdc", source_schema=SCHEMA, source_table="full_identity",
                load_type="CDC", primary_key=None),
        job_row(job_name="norep", connection="pg_norep", source_schema=SCHEMA, source_table="keyed",
                target_table="keyed_norep", load_type="CDC"),
        job_row(job_name="plain", connection="pg_cdc", source_schema=SCHEMA, source_table="nokey",
                target_table="plain", primary_key=None)])
    env = {"SOURCES__PG_CDC__CREDENTIALS": postgres.url(),
           "SOURCES__PG_NOREP__CREDENTIALS":
               f"postgresql://norep_check:{password}@127.0.0.1:{postgres.port}/{postgres.database}"}
    result = ingest(["check", "--config", str(book)], cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()

    def lines_of(job):
        return [line for line in lines if line.split(":")[0].split(None, 1)[-1] == f"job {job}"]

    assert [line.split()[0] for line in lines_of("keyed")] == ["OK", "OK"]
    assert f"CDC: wal_level logical, the login may replicate, {SCHEMA}.keyed's updates" in lines_of("keyed")[1]
    assert [line.split()[0] for line in lines_of("full_identity")] == ["OK", "OK"]
    ok, nokey = lines_of("nokey")
    assert ok.startswith("OK") and nokey.startswith("FAIL job nokey: CDC: table cdccheck.nokey has no primary key")
    assert nokey.endswith(f"-> fix: add a primary key or run ALTER TABLE {SCHEMA}.nokey REPLICA IDENTITY FULL")
    ok, norep = lines_of("norep")
    assert ok.startswith("OK") and norep.startswith("FAIL job norep: CDC: CDC jobs norep: the login 'norep_check'"
                                                    " of connection 'pg_norep' lacks the REPLICATION attribute")
    assert norep.endswith('-> fix: run ALTER ROLE "norep_check" WITH REPLICATION (Azure: as the admin user)')
    assert [line.split()[0] for line in lines_of("plain")] == ["OK"]  # not CDC: no CDC line
    assert password not in result.stdout + result.stderr
    assert "check: 5 job(s), FAILED" in result.stdout


def test_post_api_check_carries_the_cdc_lines(postgres, tmp_path, monkeypatch):
    """The same hook behind POST /api/check: the registered check, called as the route calls it."""
    from ingest.config import read_workbook
    from ingest.sources.connection_check import check_jobs, select_jobs, unregister_job_check
    from ingest.sources.postgres_cdc.check_line import cdc_prerequisites, register

    sql(postgres, f"DROP SCHEMA IF EXISTS {SCHEMA}api CASCADE; CREATE SCHEMA {SCHEMA}api;"
                  f" CREATE TABLE {SCHEMA}api.nokey (a int)")
    monkeypatch.setenv("SOURCES__PG_CDC__CREDENTIALS", postgres.url())
    book = write_workbook(tmp_path / "cdc.xlsx", [
        job_row(job_name="nokey", connection="pg_cdc", source_schema=f"{SCHEMA}api", source_table="nokey",
                load_type="CDC", primary_key=None)])
    register()
    register()  # idempotent: one line, not two
    try:
        report = check_jobs(select_jobs(read_workbook(book), None)).to_dict()
    finally:
        unregister_job_check(cdc_prerequisites)
    assert [(line["subject"], line["status"]) for line in report["lines"]] == [
        ("connection pg_cdc", "OK"), ("job nokey", "OK"), ("job nokey", "FAIL")]
    assert report["lines"][2]["fix"] == f"add a primary key or run ALTER TABLE {SCHEMA}api.nokey REPLICA IDENTITY FULL"
    assert json.dumps(report) and report["ok"] is False
