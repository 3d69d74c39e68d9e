"""`python -m ingest check` on CDC jobs, against a real PostgreSQL (wal_level=logical): one line
per CDC job under its own, OK or the missing prerequisite with its fix (the check registered by
ingest/sources/postgres_cdc/check_line.py)."""

from __future__ import annotations

import json

import psycopg2

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
    assert '-> fix: run ALTER ROLE "norep_check" WITH REPLICATION (Azure: as the admin user);' in norep
    # and what creating the publication takes (this login has neither: issue 32 case 6)
    assert "GRANT CREATE ON DATABASE" in norep and f'ALTER TABLE "{SCHEMA}"."keyed" OWNER TO "norep_check";' in norep
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


REP_ROLE, REP_PASSWORD = "cdc_rep_only", "Rep-Only-Pw-5521"


def _fresh_replication_role(postgres, schema):
    """A login with REPLICATION and SELECT on `schema`'s tables, nothing more (issue 32 case 6)."""
    sql(postgres, f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{REP_ROLE}') THEN"
                  f" EXECUTE 'DROP OWNED BY {REP_ROLE}'; EXECUTE 'DROP ROLE {REP_ROLE}'; END IF; END $$;"
                  f" DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"
                  f" CREATE TABLE {schema}.orders (id int PRIMARY KEY, v text);"
                  f" INSERT INTO {schema}.orders SELECT g, 'v' || g FROM generate_series(1, 20) g;"
                  f" CREATE ROLE {REP_ROLE} LOGIN REPLICATION PASSWORD '{REP_PASSWORD}';"
                  f" GRANT USAGE ON SCHEMA {schema} TO {REP_ROLE};"
                  f" GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {REP_ROLE}")


def _cdc_check(jobs):
    from ingest.sources.connection_check import check_jobs, unregister_job_check
    from ingest.sources.postgres_cdc.check_line import cdc_prerequisites, register

    register()
    try:
        return check_jobs(jobs)
    finally:
        unregister_job_check(cdc_prerequisites)


def test_check_names_the_create_and_ownership_a_cdc_run_needs_then_run_works(postgres, settings, monkeypatch):
    """Issue 32 case 6: a login with REPLICATION but no CREATE on the database and not the
    table's owner: `check` said OK and `run` failed on the publication. Now `check` fails naming
    both, with the statements to run; after running them, check passes and the run loads."""
    from tests.cdc_helpers import cdc_job, delta_rows, load, source_rows

    schema, connection = "cdcpriv", "pg_rep_only"
    _fresh_replication_role(postgres, schema)
    monkeypatch.setenv(f"SOURCES__{connection.upper()}__CREDENTIALS",
                       postgres.url(password=REP_PASSWORD).replace(f"//{postgres.user}:", f"//{REP_ROLE}:"))
    jobs = [cdc_job("orders_rep", connection, schema, "orders")]
    try:
        report = _cdc_check(jobs)
        statuses = [(line.subject, line.status) for line in report.lines]
        assert statuses == [(f"connection {connection}", "OK"), ("job orders_rep", "OK"), ("job orders_rep", "FAIL")]
        cdc_line = report.lines[2]
        assert f"CREATE on database {postgres.database}" in cdc_line.detail, cdc_line
        assert f"not the owner of {schema}.orders" in cdc_line.detail, cdc_line
        assert f'GRANT CREATE ON DATABASE "{postgres.database}" TO "{REP_ROLE}";' in cdc_line.fix, cdc_line
        assert f'ALTER TABLE "{schema}"."orders" OWNER TO "{REP_ROLE}";' in cdc_line.fix, cdc_line
        assert "CREATE PUBLICATION" in cdc_line.fix  # the other way: the owner creates it
        refused = load(jobs, settings)["orders_rep"]  # what check said: the run cannot go on
        assert not refused.succeeded

        sql(postgres, f'GRANT CREATE ON DATABASE "{postgres.database}" TO "{REP_ROLE}";'
                      f' ALTER TABLE "{schema}"."orders" OWNER TO "{REP_ROLE}"')
        report = _cdc_check(jobs)
        assert report.ok, [str(line) for line in report.lines]
        loaded = load(jobs, settings, 2)["orders_rep"]
        assert loaded.succeeded, loaded.error_message
        names, expected = source_rows(postgres, schema, "orders")
        assert delta_rows(settings, "orders", names) == sorted(expected)
    finally:
        sql(postgres, f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                      f" WHERE slot_name LIKE 'ingest_cdc_{connection}%'")


def test_a_publication_the_owner_created_is_enough(postgres, settings, monkeypatch):
    """The other way the fix offers: the table's owner creates the app's publication for the
    table; the login needs neither CREATE on the database nor the table, and the run uses the
    publication as it is (no ALTER PUBLICATION, which only its owner may run)."""
    from ingest.sources.postgres_cdc.names import publication_name
    from tests.cdc_helpers import cdc_job, delta_rows, load, source_rows

    schema, connection = "cdcpub", "pg_rep_pub"
    _fresh_replication_role(postgres, schema)
    publication = publication_name(connection)
    sql(postgres, f"DROP PUBLICATION IF EXISTS {publication}; CREATE PUBLICATION {publication} FOR TABLE {schema}.orders")
    monkeypatch.setenv(f"SOURCES__{connection.upper()}__CREDENTIALS",
                       postgres.url(password=REP_PASSWORD).replace(f"//{postgres.user}:", f"//{REP_ROLE}:"))
    jobs = [cdc_job("orders_pub", connection, schema, "orders")]
    try:
        loaded = load(jobs, settings)["orders_pub"]
        assert loaded.succeeded, loaded.error_message
        report = _cdc_check(jobs)
        assert report.ok, [str(line) for line in report.lines]
        assert f"publication {publication} covers {schema}.orders" in report.lines[2].detail
        sql(postgres, f"INSERT INTO {schema}.orders VALUES (100, 'new')")
        again = load(jobs, settings, 2)["orders_pub"]
        assert again.succeeded and again.cdc["inserts"] == 1, again.error_message
        names, expected = source_rows(postgres, schema, "orders")
        assert delta_rows(settings, "orders", names) == sorted(expected)
    finally:
        sql(postgres, f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                      f" WHERE slot_name LIKE 'ingest_cdc_{connection}%'; DROP PUBLICATION IF EXISTS {publication}")


def test_check_says_when_no_replication_slot_is_free(postgres, cdc):
    """Slot headroom: the run creates the connection's slot, so every slot in use
    (max_replication_slots) fails check naming the setting; the connection's own slot, once
    it exists, needs no free one."""
    from tests.cdc_helpers import cdc_job

    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY)")
    con = psycopg2.connect(postgres.url())
    con.autocommit = True
    cur = con.cursor()
    cur.execute("SELECT current_setting('max_replication_slots')::int - count(*) FROM pg_replication_slots")
    fillers = [f"filler_{schema}_{n}" for n in range(cur.fetchone()[0])]
    try:
        for name in fillers:
            cur.execute("SELECT pg_create_physical_replication_slot(%s)", (name,))
        report = _cdc_check([cdc_job("t", connection, schema, "t")])
        (line,) = [line for line in report.lines if line.status == "FAIL"]
        assert "no free replication slot" in line.detail and "max_replication_slots" in line.fix, line
        cur.execute("SELECT pg_drop_replication_slot(%s)", (fillers.pop(),))
        cur.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (f"ingest_cdc_{connection}",))
        fillers.append(f"ingest_cdc_{connection}")
        assert _cdc_check([cdc_job("t", connection, schema, "t")]).ok  # all full, but its own slot is there
    finally:
        for name in fillers:
            cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
                        (name,))
        con.close()


def test_a_publication_of_another_owner_without_the_table_names_its_owner(postgres, monkeypatch):
    """The app's publication exists, made by another role for another table: the run would
    alter it, which only its owner may; check says so and gives the owner's statement."""
    from ingest.sources.postgres_cdc.names import publication_name
    from tests.cdc_helpers import cdc_job

    schema, connection = "cdcpubother", "pg_rep_other"
    _fresh_replication_role(postgres, schema)
    publication = publication_name(connection)
    sql(postgres, f"CREATE TABLE {schema}.other (id int PRIMARY KEY); DROP PUBLICATION IF EXISTS {publication};"
                  f" CREATE PUBLICATION {publication} FOR TABLE {schema}.other")
    monkeypatch.setenv(f"SOURCES__{connection.upper()}__CREDENTIALS",
                       postgres.url(password=REP_PASSWORD).replace(f"//{postgres.user}:", f"//{REP_ROLE}:"))
    try:
        report = _cdc_check([cdc_job("orders_other", connection, schema, "orders")])
        (line,) = [line for line in report.lines if line.status == "FAIL"]
        assert f"publication {publication} (owner {postgres.user}) does not cover {schema}.orders" in line.detail
        assert line.fix == (f'as {postgres.user}, run ALTER PUBLICATION "{publication}" ADD TABLE'
                            f' "{schema}"."orders";'), line
    finally:
        sql(postgres, f"DROP PUBLICATION IF EXISTS {publication}")
