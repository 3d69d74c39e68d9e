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

from fake_functions import start_fake_functions, start_fake_managed_identity
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


@pytest.fixture
def entra(functions, monkeypatch):
    """The app's Entra ID option on: the connection names the API's scope, and the worker's
    identity is App Service's managed identity, played on loopback (no Entra ID here), which
    azure-identity's DefaultAzureCredential really asks for the token."""
    identity = start_fake_managed_identity()
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", identity.endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", identity.header_secret)
    monkeypatch.setenv("AIRFLOW_CONN_INGEST_FUNCTIONS", json.dumps(
        {"conn_type": "http", "host": functions.url, "password": functions.function_key,
         "extra": {"entra_scope": "api://11111111-2222-3333-4444-555555555555/.default"}}))
    functions.bearer = identity.token
    yield identity
    identity.stop()


def test_with_entra_on_every_call_carries_the_workers_token(functions, entra):
    functions.summary = SUMMARY_OK
    _, pokes, ti = start_and_wait(functions)
    assert pokes == [False, False, True] and ti.pushed["summary"] == SUMMARY_OK
    assert functions.authorizations == [f"Bearer {entra.token}"] * 4  # the POST and three polls
    assert set(entra.resources) == {"api://11111111-2222-3333-4444-555555555555"}


def test_without_the_token_the_app_refuses_and_the_task_says_why(functions, entra):
    entra.fail = True
    with pytest.raises(AirflowException, match="no Entra ID token for api://11111111") as raised:
        StartIngestRunOperator(task_id="s").execute({})
    assert functions.function_key not in str(raised.value) and functions.posts == []
    monkeypatch_free = json.loads(os.environ["AIRFLOW_CONN_INGEST_FUNCTIONS"])
    del monkeypatch_free["extra"]  # Entra on at the app, the scope forgotten in the connection
    os.environ["AIRFLOW_CONN_INGEST_FUNCTIONS"] = json.dumps(monkeypatch_free)
    with pytest.raises(AirflowException, match="HTTP 401"):
        StartIngestRunOperator(task_id="s").execute({})
    assert functions.authorizations[-1] is None


def test_without_entra_no_authorization_header_is_sent(functions):
    functions.summary = SUMMARY_OK
    start_and_wait(functions)
    assert functions.authorizations and set(functions.authorizations) == {None}


def test_the_key_and_token_never_go_to_a_status_url_on_another_host(functions, entra):
    """127.0.0.2 is another host: a status URL there (a tampered XCom, a hostile answer) is
    refused before any request, and a redirect there is not followed."""
    other = start_fake_functions(host="127.0.0.2")
    try:
        sensor = IngestRunSensor(task_id="wait", status_url=f"{other.url}/api/runs/ingest-all")
        with pytest.raises(AirflowException, match="refusing to send the function key to '127.0.0.2'"):
            sensor.poke({"ti": TaskInstance()})
        functions.redirect_status_to = f"{other.url}/api/runs/ingest-all"
        sensor = IngestRunSensor(task_id="wait", status_url=f"{functions.url}/api/runs/ingest-all")
        with pytest.raises(AirflowException, match="redirect"):
            sensor.poke({"ti": TaskInstance()})
        assert other.authorizations == [] and other.polls == 0
    finally:
        other.stop()


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
