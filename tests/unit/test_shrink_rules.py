"""The shrink guard's parts that need no database (the loads themselves:
tests/integration/test_shrink_guard.py): the share rule, the workbook column, the run option as
the CLI, the HTTP body and the plan take it."""

from __future__ import annotations

import pytest

from ingest.checks.shrink import DEFAULT_MAX_SHRINK_PCT, is_refused, newest_folder
from ingest.cli import _parser, _request
from ingest.config import read_workbook
from ingest.core.errors import ConfigError
from ingest.plan.planner import make_plan, new_run_context
from ingest.plan.request import RequestError, RunRequest
from ingest.core.result import RunContext
from tests.workbooks import job_row, write_workbook


def test_the_default_share_refuses_emptying_and_more_than_half():
    assert DEFAULT_MAX_SHRINK_PCT == 50
    assert is_refused(40, 0, 50) and is_refused(40, 19, 50)
    assert not is_refused(40, 20, 50) and not is_refused(40, 41, 50)
    assert not is_refused(0, 0, 50)  # an empty table may stay empty
    assert not is_refused(40, 0, 100) and is_refused(40, 39, 0)


def test_the_workbook_column_is_read_and_checked(tmp_path):
    good = read_workbook(write_workbook(tmp_path / "g.xlsx", [job_row(max_shrink_pct=100)]))
    assert good.errors == [] and good.jobs[0].max_shrink_pct == 100
    assert read_workbook(write_workbook(tmp_path / "d.xlsx", [job_row()])).jobs[0].max_shrink_pct is None
    bad = read_workbook(write_workbook(tmp_path / "b.xlsx", [job_row(max_shrink_pct=150)]))
    assert bad.jobs == [] and "max_shrink_pct 150 is not between 0 and 100" in str(bad.errors[0])


def test_the_run_option_reaches_the_run_context(tmp_path):
    args = _parser().parse_args(["run", "--config", "w.xlsx", "--jobs", "orders", "--allow-shrink", "orders"])
    request = _request(args)
    assert request.allow_shrink == ("orders",)
    book = write_workbook(tmp_path / "w.xlsx", [job_row()])
    plan = make_plan(read_workbook(book), new_run_context(), request=request)
    assert plan.run.allow_shrink == ("orders",)
    assert RunContext.from_dict(plan.run.to_dict()).allow_shrink == ("orders",)  # as Durable passes it
    assert RunContext.from_dict({"run_id": "r", "started_at": "2024-01-01T00:00:00+00:00"}).allow_shrink == ()


def test_the_http_body_takes_job_names_not_globs_and_not_unknown_jobs(tmp_path):
    assert RunRequest.from_dict({"allow_shrink": ["orders"]}).allow_shrink == ("orders",)
    assert RunRequest.from_dict({"allow_shrink": "orders, x"}).allow_shrink == ("orders", "x")
    with pytest.raises(RequestError, match="not a job name"):
        RunRequest.from_dict({"allow_shrink": ["sales_*"]})
    book = write_workbook(tmp_path / "w.xlsx", [job_row()])
    with pytest.raises(ConfigError, match="allow_shrink: ordrs is not a job of the workbook"):
        make_plan(read_workbook(book), new_run_context(), request=RunRequest(allow_shrink=("ordrs",)))


def test_a_snapshot_is_its_newest_day_folder():
    files = ["ds/t/2024/06/01/1.a.parquet", "ds/t/2024/06/02/2.a.parquet", "ds/t/2024/06/02/2.b.parquet",
             "ds/t/2024/05/30/0.a.parquet"]
    assert newest_folder(files) == ["ds/t/2024/06/02/2.a.parquet", "ds/t/2024/06/02/2.b.parquet"]
    assert newest_folder([]) == []
