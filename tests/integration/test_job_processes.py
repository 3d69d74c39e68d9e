"""The local runner's forked job processes (ingest/job_processes.py), with real loads from
PostgreSQL: a job whose process dies fails alone, the others load; the children's log records
reach the parent's handlers, masked; INGEST_WORKER_MODE picks threads instead."""

from __future__ import annotations

import logging
import os
import signal

import pytest

import ingest.load
from ingest.config import read_workbook
from ingest.plan import make_plan, new_run_context
from ingest.runner import execute_plan
from ingest.settings import Settings
from tests.integration.conftest import create_orders
from tests.workbooks import job_row, write_workbook


def plan_for(tmp_path, pg_schema, names):
    rows = [job_row(job_name=n, source_schema=pg_schema, source_table=n, target_table=n) for n in names]
    return make_plan(read_workbook(write_workbook(tmp_path / "w.xlsx", rows)), new_run_context())


def test_a_job_whose_process_is_killed_fails_alone(postgres, pg_schema, settings, tmp_path, monkeypatch):
    names = ["doomed", "fine_a", "fine_b"]
    for name in names:
        create_orders(postgres, pg_schema, 50, table=name)
    real_run_job = ingest.load.run_job

    def run_job(job, run, settings):  # what the OOM killer does to a job mid-load
        if job.job_name == "doomed":
            os.kill(os.getpid(), signal.SIGKILL)
        return real_run_job(job, run, settings)

    monkeypatch.setattr(ingest.load, "run_job", run_job)  # the children are forked: they see it
    results = {r.job_name: r for r in execute_plan(plan_for(tmp_path, pg_schema, names), settings)}

    assert results["doomed"].status.value == "failed"
    assert results["doomed"].error_class == "WorkerProcessError"
    assert "killed by SIGKILL" in results["doomed"].error_message and "OOM" in results["doomed"].error_message
    assert [(results[n].status.value, results[n].rows_processed) for n in ("fine_a", "fine_b")] == \
        [("succeeded", 50), ("succeeded", 50)]


def test_children_log_through_the_parent_masked(postgres, pg_schema, settings, tmp_path, monkeypatch, caplog):
    from ingest.redact import register_secret

    create_orders(postgres, pg_schema, 10, table="t1")
    real_run_job = ingest.load.run_job

    def run_job(job, run, settings):
        register_secret("child-only-s3cret")  # learned in the child, e.g. from Key Vault
        logging.getLogger("ingest.load").warning("job %s sees child-only-s3cret", job.job_name)
        return real_run_job(job, run, settings)

    monkeypatch.setattr(ingest.load, "run_job", run_job)
    caplog.set_level(logging.INFO)
    results = execute_plan(plan_for(tmp_path, pg_schema, ["t1"]), settings)

    assert results[0].status.value == "succeeded"
    forwarded = [r for r in caplog.records if r.name == "ingest.load" and "sees" in r.getMessage()]
    assert len(forwarded) == 1 and forwarded[0].process != os.getpid()  # logged in the job's process
    assert forwarded[0].getMessage() == "job t1 sees ***"
    assert "child-only-s3cret" not in caplog.text
    from ingest.redact import redact

    assert redact("later: child-only-s3cret") == "later: ***"  # the parent learned it with the result


@pytest.mark.parametrize("raw, expected", [(None, "process"), ("thread", "thread"), ("PROCESS", "process")])
def test_worker_mode_setting(raw, expected):
    env = {} if raw is None else {"INGEST_WORKER_MODE": raw}
    assert Settings.from_env(env).worker_mode == expected


def test_a_wrong_worker_mode_names_the_setting():
    from ingest.errors import SettingError

    with pytest.raises(SettingError, match="INGEST_WORKER_MODE"):
        Settings.from_env({"INGEST_WORKER_MODE": "fibers"})
