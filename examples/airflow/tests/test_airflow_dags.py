"""The Airflow DAGs in a real Airflow installation: they import cleanly, and their
start-and-wait logic runs against a real HTTP server playing the Function App
(tests/fake_functions.py). Operators are executed directly with a minimal task context (no
scheduler or metadata database runs here): the context object only records XCom pushes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowException

from fake_functions import start_fake_functions
from ingest_runs import IngestRunFailed, IngestRunSensor, StartIngestRunOperator, run_local_ingest

DAGS = Path(__file__).resolve().parents[1] / "dags"
REPO = Path(__file__).resolve().parents[3]
SUMMARY_OK = {"run_id": "r1", "total": 2, "succeeded": 2, "failed": 0, "rows_processed": 10,
              "jobs": [{"job_name": "a", "status": "succeeded"}, {"job_name": "b", "status": "succeeded"}]}
SUMMARY_FAILED = {**SUMMARY_OK, "succeeded": 1, "failed": 1,
                  "jobs": [{"job_name": "a", "status": "succeeded"}, {"job_name": "b", "status": "failed"}]}


class TaskInstance:
    def __init__(self):
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


@pytest.fixture
def functions(monkeypatch):
    fake = start_fake_functions()
    monkeypatch.setenv("AIRFLOW_CONN_INGEST_FUNCTIONS",
                       json.dumps({"conn_type": "http", "host": fake.url, "password": fake.function_key}))
    yield fake
    fake.stop()


def start_and_wait(functions, jobs=None):
    started = StartIngestRunOperator(task_id="start_run", jobs=jobs).execute({})
    sensor = IngestRunSensor(task_id="wait", status_url=started["status_url"])
    ti = TaskInstance()
    pokes = []
    while True:
        done = sensor.poke({"ti": ti})
        pokes.append(done)
        if done:
            return started, pokes, ti


def test_dags_import_cleanly_in_a_real_dagbag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))  # examples off: AIRFLOW__CORE__LOAD_EXAMPLES (conftest)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"ingest_azure_run", "ingest_local_run"}
    azure = bag.dags["ingest_azure_run"]  # parsed DAG (get_dag would ask the metadata database)
    assert [t.task_id for t in azure.topological_sort()] == ["start_run", "wait_for_run"]
    assert azure.get_task("wait_for_run").mode == "reschedule"
    assert "fn-key" not in (DAGS / "ingest_dags.py").read_text()  # the key is in the connection


def test_start_then_running_then_completed_pushes_the_summary(functions):
    functions.summary = SUMMARY_OK
    started, pokes, ti = start_and_wait(functions, jobs=["sales_*"])
    assert functions.posts == [{"jobs": ["sales_*"]}]
    assert started == {"instance_id": "ingest-all", "status_url": f"{functions.url}/api/runs/ingest-all"}
    assert pokes == [False, False, True] and ti.pushed["summary"] == SUMMARY_OK


def test_failed_jobs_fail_the_task_after_pushing_the_summary(functions):
    functions.summary = SUMMARY_FAILED
    with pytest.raises(IngestRunFailed, match="1 job\\(s\\) failed: b"):
        start_and_wait(functions)


def test_a_failed_orchestration_fails_the_task(functions):
    functions.final_state = "Failed"
    with pytest.raises(IngestRunFailed, match="ended Failed"):
        start_and_wait(functions)


def test_a_running_scope_is_waited_for_or_refused(functions):
    functions.conflict = True
    functions.summary = SUMMARY_OK
    started, _, ti = start_and_wait(functions)
    assert started["instance_id"] == "ingest-all" and ti.pushed["summary"] == SUMMARY_OK
    with pytest.raises(AirflowException, match="HTTP 409"):
        StartIngestRunOperator(task_id="s", if_running="fail").execute({})


def test_a_wrong_function_key_is_refused(functions, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_INGEST_FUNCTIONS",
                       json.dumps({"conn_type": "http", "host": functions.url, "password": "wrong"}))
    with pytest.raises(AirflowException, match="HTTP 401"):
        StartIngestRunOperator(task_id="s").execute({})


def test_local_variant_runs_the_cli_and_pushes_the_summary(tmp_path):
    """Runs the real CLI with the project's own interpreter (INGEST_PYTHON, else .venv)."""
    python = os.environ.get("INGEST_PYTHON") or str(REPO / ".venv" / "bin" / "python")
    demo = subprocess.run([python, "-m", "examples.make_demo", "--out", str(tmp_path / "demo")], cwd=REPO,
                          capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr
    os.environ["SOURCES__DEMO__CREDENTIALS"] = f"sqlite:///{tmp_path / 'demo' / 'demo.db'}"
    os.environ["INGEST_DESTINATION"] = str(tmp_path / "lake")
    os.environ["PYTHONPATH"] = str(REPO)
    ti = TaskInstance()
    summary = run_local_ingest(str(tmp_path / "demo" / "ingestion_config.xlsx"), python=python, cwd=str(tmp_path),
                               ti=ti)
    assert summary["succeeded"] == 2 and summary["failed"] == 0 and ti.pushed["summary"] == summary
    # the source database is gone: both jobs fail, the task fails, the summary is still pushed
    os.environ["SOURCES__DEMO__CREDENTIALS"] = f"sqlite:///{tmp_path / 'empty.db'}"
    ti = TaskInstance()
    with pytest.raises(IngestRunFailed, match="exited 1"):
        run_local_ingest(str(tmp_path / "demo" / "ingestion_config.xlsx"), python=python, cwd=str(tmp_path), ti=ti)
    summary = ti.pushed["summary"]  # customers failed; orders depends on it and is skipped
    assert summary["failed"] == 1 and summary["dependency_skipped"] == 1
