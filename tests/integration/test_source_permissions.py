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
