"""A login that may connect but not read the table: the job fails as SourcePermissionError
naming the object (it was UnexpectedError / PermanentSourceError), the other jobs still load.
Real PostgreSQL, a real role without the grant."""

from __future__ import annotations

import uuid

from ingest.config import read_workbook
from ingest.drivers.local.runner import run_local
from ingest.plan.planner import make_plan, new_run_context
from tests.integration.conftest import create_orders, sql
from tests.workbooks import job_row, write_workbook


def test_a_missing_select_grant_is_a_permission_error_naming_the_table(postgres, pg_schema, settings, tmp_path,
                                                                         monkeypatch):
    role, password = f"reader_{uuid.uuid4().hex[:8]}", "reader-pw-Canary-19"
    create_orders(postgres, pg_schema, 5)
    create_orders(postgres, pg_schema, 5, table="granted")
    sql(postgres, f"CREATE ROLE {role} LOGIN PASSWORD '{password}'; GRANT USAGE ON SCHEMA {pg_schema} TO {role};"
                  f" GRANT SELECT ON {pg_schema}.granted TO {role}")
    try:
        monkeypatch.setenv("SOURCES__PG__CREDENTIALS", postgres.url().replace(
            f"{postgres.user}:{postgres.password}", f"{role}:{password}"))
        book = write_workbook(tmp_path / "w.xlsx", [
            job_row(source_schema=pg_schema), job_row(job_name="granted", source_schema=pg_schema,
                                                      source_table="granted")])
        summary = run_local(make_plan(read_workbook(book), new_run_context()), settings, book)
    finally:
        sql(postgres, f"DROP OWNED BY {role}; DROP ROLE {role}")
    jobs = {job["job_name"]: job for job in summary.jobs}
    assert jobs["granted"]["status"] == "succeeded"
    assert jobs["orders"]["error_class"] == "SourcePermissionError", jobs["orders"]
    assert jobs["orders"]["error_message"].startswith("permission denied for table orders"), jobs["orders"]
    assert password not in str(summary.jobs)


def test_a_password_with_url_characters_is_refused_with_advice_and_never_shown(postgres, pg_schema, settings,
                                                                                 tmp_path, monkeypatch, capfd):
    """A password holding an unencoded @, :, / or #: the URL would parse with a piece of it as
    the host or the database, and that piece reached the console, log and audit. Now the job
    fails saying how to encode it; no piece of it appears anywhere. Then, encoded, it loads."""
    from urllib.parse import quote

    role = f"odd_{uuid.uuid4().hex[:8]}"
    password = "Kx93Canary@Zq71Pw:Lm55/Vb28#Tt64"
    pieces = ["Kx93Canary", "Zq71Pw", "Lm55", "Vb28", "Tt64"]
    create_orders(postgres, pg_schema, 5)
    sql(postgres, f"CREATE ROLE {role} LOGIN PASSWORD '{password}'; GRANT USAGE ON SCHEMA {pg_schema} TO {role};"
                  f" GRANT SELECT ON {pg_schema}.orders TO {role}")
    base = f"postgresql://{role}:{{}}@127.0.0.1:{postgres.port}/{postgres.database}"
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema)])
    try:
        monkeypatch.setenv("SOURCES__PG__CREDENTIALS", base.format(password))
        failed = run_local(make_plan(read_workbook(book), new_run_context()), settings, book)
        monkeypatch.setenv("SOURCES__PG__CREDENTIALS", base.format(quote(password, safe="")))
        loaded = run_local(make_plan(read_workbook(book), new_run_context()), settings, book)
    finally:
        sql(postgres, f"DROP OWNED BY {role}; DROP ROLE {role}")
    job = failed.jobs[0]
    assert job["error_class"] == "ConnectionConfigError" and "percent-encoded" in job["error_message"], job
    assert loaded.jobs[0]["status"] == "succeeded", loaded.jobs[0]["error_message"]
    outputs = [str(failed.jobs), str(loaded.jobs), capfd.readouterr().err,
               *(p.read_text() for p in settings.audit_dir.rglob("*") if p.is_file()),
               *(p.read_text() for p in settings.log_dir.rglob("*") if p.is_file())]
    leaked = [piece for piece in pieces for text in outputs if piece in text]
    assert leaked == []


def test_a_driver_error_does_not_quote_the_bound_values(postgres, pg_schema):
    """SQLAlchemy appends a failing statement's parameters to its message unless the engine
    hides them; those values (filter cells, watermarks, keys) then reached every record."""
    import sqlalchemy as sa

    from ingest.config.model import SourceType
    from ingest.core.classify import classify
    from ingest.sources.connections import build_connection
    from ingest.sources.sql import make_engine

    engine = make_engine(build_connection("pg", SourceType.POSTGRES, postgres.url()))
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f"SELECT * FROM {pg_schema}.missing WHERE id = :v"), {"v": "Canary-Param-82"})
    except sa.exc.DBAPIError as exc:
        error = exc
    finally:
        engine.dispose()
    assert "missing" in str(error) and "Canary-Param-82" not in str(error)
    assert "Canary-Param-82" not in str(classify(error))
