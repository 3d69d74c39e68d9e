"""Two ways Airflow can drive ingest runs: through the Azure Function App, or the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from ingest_runs import IngestRunSensor, StartIngestRunOperator, run_local_ingest

with DAG(
    dag_id="ingest_azure_run",
    description="Start an ingest run on the Function App and wait for it",
    start_date=datetime(2026, 1, 1),
    schedule="0 2 * * *",
    catchup=False,
    params={"jobs": []},
    tags=["ingest"],
    render_template_as_native_obj=True,  # params.jobs stays a list
):
    start = StartIngestRunOperator(
        task_id="start_run",
        conn_id="ingest_functions",  # host = https://<app>.azurewebsites.net, password = function key
        jobs="{{ params.jobs }}",
        retries=2,
        retry_delay=timedelta(minutes=1),
    )
    wait = IngestRunSensor(
        task_id="wait_for_run",
        conn_id="ingest_functions",
        status_url="{{ ti.xcom_pull(task_ids='start_run')['status_url'] }}",
        mode="reschedule",
        poke_interval=60,
        timeout=12 * 3600,
    )
    start >> wait

with DAG(
    dag_id="ingest_local_run",
    description="Run the ingest CLI on the worker (no Azure Functions)",
    start_date=datetime(2026, 1, 1),
    schedule="0 2 * * *",
    catchup=False,
    params={"config": "/opt/ingest/ingestion_config.xlsx", "python": "python", "cwd": "/opt/ingest"},
    tags=["ingest"],
):
    PythonOperator(
        task_id="run_ingest",
        python_callable=run_local_ingest,
        op_kwargs={"config": "{{ params.config }}", "python": "{{ params.python }}", "cwd": "{{ params.cwd }}"},
    )
