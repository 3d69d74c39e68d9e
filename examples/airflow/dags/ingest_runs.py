"""Airflow building blocks that drive ingest runs (this file sits in the DAGs folder so the
DAGs can import it; it defines no DAG itself).

- StartIngestRunOperator: POST /api/runs on the Function App (function key from an Airflow
  connection, never from a DAG file; with the app's Entra ID option on, also a bearer token,
  see IngestApi); returns the instance id and the app's status URL,
  GET /api/runs/{id} (XCom). The app never hands out Durable's management URLs: they carry
  the task hub's system key.
- IngestRunSensor: polls that status URL, with the same function key, in reschedule mode (no
  worker slot is held between pokes); when the run ends it pushes the run summary to XCom
  under `summary`, and fails the task if the run failed or reports failed jobs.
- run_local_ingest: the variant without Azure Functions: `python -m ingest run ... --json` on
  the worker, summary to XCom, failed jobs fail the task.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

import requests
from airflow.sdk import BaseHook, BaseOperator, BaseSensorOperator
from airflow.sdk.exceptions import AirflowException

RUNNING = {"Pending", "Running", "ContinuedAsNew", "Suspended"}


class IngestRunFailed(AirflowException):
    """The run ended Failed/Terminated, or completed with failed jobs."""


TokenProvider = Callable[[str], str]
"""scope -> an Entra ID access token for it."""


def default_token_provider(scope: str) -> str:
    """A token from the worker's own identity: DefaultAzureCredential tries the environment's
    service principal (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET or a certificate),
    workload identity, then the managed identity of the machine Airflow runs on. No secret is
    kept in the DAG or the Airflow connection for it."""
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    return credential.get_token(scope).token


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


@dataclass(frozen=True)
class IngestApi:
    """The Function App's run endpoints; `function_key` goes in the x-functions-key header.

    With the app's Entra ID option on (Bicep `httpAuth=entra`), the connection's extra names the
    API's scope, `{"entra_scope": "api://<client id>/.default"}`, and each call also carries
    `Authorization: Bearer <token>` from `token_provider` (the worker's identity by default).
    Both go only to the connection's own origin: a status URL on any other host, scheme or port
    is refused before a request is sent."""

    base_url: str
    function_key: str | None
    entra_scope: str | None = None
    token_provider: TokenProvider = default_token_provider
    timeout_s: float = 30.0

    @classmethod
    def from_connection(cls, conn_id: str, token_provider: TokenProvider | None = None) -> "IngestApi":
        conn = BaseHook.get_connection(conn_id)
        host = conn.host or ""
        if "://" not in host:
            host = f"{conn.schema or 'https'}://{host}"
        if conn.port:
            host = f"{host}:{conn.port}"
        scope = (conn.extra_dejson or {}).get("entra_scope") or None
        if scope is not None and (not isinstance(scope, str) or not scope.strip()):
            raise AirflowException(f"connection {conn_id!r}: extra entra_scope must be a scope like"
                                   " 'api://<client id>/.default'")
        return cls(base_url=host.rstrip("/"), function_key=conn.password, entra_scope=scope,
                   token_provider=token_provider or default_token_provider)

    def _headers(self, url: str) -> dict[str, str]:
        if _origin(url) != _origin(self.base_url):
            raise AirflowException(f"refusing to send the function key to {urlsplit(url).hostname!r}: the status"
                                   " URL is not on the connection's host")
        headers = {"x-functions-key": self.function_key} if self.function_key else {}
        if self.entra_scope:
            try:
                token = self.token_provider(self.entra_scope)
            except Exception as error:  # azure-identity raises several types; none carries a secret
                raise AirflowException(f"no Entra ID token for {self.entra_scope}: {type(error).__name__}:"
                                       f" {str(error)[:300]}") from None
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def start_run(self, body: dict[str, Any], if_running: str = "wait") -> dict[str, Any]:
        url = f"{self.base_url}/api/runs"
        response = requests.post(url, json=body, headers=self._headers(url), timeout=self.timeout_s,
                                 allow_redirects=False)
        if response.status_code == 202:
            return response.json()
        if response.status_code == 409 and if_running == "wait":
            return response.json()  # the running instance of this scope: wait for it instead
        raise AirflowException(f"starting the ingest run failed: HTTP {response.status_code}: {response.text[:300]}")

    def status(self, status_url: str) -> dict[str, Any]:
        response = requests.get(status_url, headers=self._headers(status_url), timeout=self.timeout_s,
                                allow_redirects=False)
        if 300 <= response.status_code < 400:
            raise AirflowException(f"the ingest run's status answered a redirect (HTTP {response.status_code});"
                                   " the function key and token are not sent on")
        if response.status_code >= 400 and response.status_code != 404:
            response.raise_for_status()
        return response.json()


def run_outcome(status: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """(finished, summary) from GET /api/runs/{id}; raises IngestRunFailed when the run failed
    or reports failed jobs (the summary is the orchestration's output)."""
    state = status.get("runtime_status")
    if state in RUNNING:
        return False, None
    summary = status.get("summary") or {}
    if isinstance(summary, str):
        try:
            summary = json.loads(summary)
        except ValueError:
            summary = {"raw": summary}
    if state != "Completed":
        raise IngestRunFailed(f"ingest run {status.get('instance_id')} ended {state}: {str(summary)[:300]}")
    return True, summary


def failed_jobs(summary: dict[str, Any]) -> list[str]:
    return [j["job_name"] for j in summary.get("jobs", []) if j.get("status") == "failed"]


class StartIngestRunOperator(BaseOperator):
    template_fields: Sequence[str] = ("jobs", "body")

    def __init__(self, *, conn_id: str = "ingest_functions", jobs: list[str] | None = None,
                 body: dict[str, Any] | None = None, if_running: str = "wait", **kwargs: Any):
        super().__init__(**kwargs)
        self.conn_id, self.jobs, self.body, self.if_running = conn_id, jobs, body or {}, if_running

    def execute(self, context: Any) -> dict[str, Any]:
        body = dict(self.body)
        jobs = self.jobs
        if isinstance(jobs, str):  # rendered without native objects: "a,b" or "['a']"
            jobs = [j.strip(" '\"[]") for j in jobs.split(",") if j.strip(" '\"[]")]
        if jobs:
            body["jobs"] = list(jobs)
        started = IngestApi.from_connection(self.conn_id).start_run(body, self.if_running)
        self.log.info("ingest run %s; status at %s", started["instance_id"], started["status_url"])
        return {"instance_id": started["instance_id"], "status_url": started["status_url"]}


class IngestRunSensor(BaseSensorOperator):
    template_fields: Sequence[str] = ("status_url",)

    def __init__(self, *, status_url: str, conn_id: str = "ingest_functions", **kwargs: Any):
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", 60)
        kwargs.setdefault("timeout", 12 * 3600)
        super().__init__(**kwargs)
        self.status_url, self.conn_id = status_url, conn_id

    def poke(self, context: Any) -> bool:
        status = IngestApi.from_connection(self.conn_id).status(self.status_url)
        finished, summary = run_outcome(status)
        if not finished:
            self.log.info("ingest run %s: %s, progress %s", status.get("instance_id"), status.get("runtime_status"),
                          status.get("progress"))
            return False
        context["ti"].xcom_push(key="summary", value=summary)
        failed = failed_jobs(summary)
        if failed or summary.get("failed"):
            raise IngestRunFailed(f"ingest run {summary.get('run_id')}: {summary.get('failed')} job(s) failed:"
                                  f" {', '.join(failed)}")
        self.log.info("ingest run %s: %s job(s) succeeded, %s rows", summary.get("run_id"),
                      summary.get("succeeded"), summary.get("rows_processed"))
        return True


def run_local_ingest(config: str, jobs: list[str] | None = None, python: str = "python",
                     cwd: str | None = None, ti: Any = None, **_: Any) -> dict[str, Any]:
    """The CLI variant: runs on the Airflow worker, credentials from the worker's environment
    or .dlt/secrets.toml (never from the DAG file)."""
    command = [python, "-m", "ingest", "run", "--config", config, "--json"]
    if jobs:
        command += ["--jobs", ",".join(jobs)]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    try:
        summary = json.loads(done.stdout[done.stdout.index("{"):])
    except ValueError:
        raise AirflowException(f"ingest run produced no summary (exit {done.returncode}): {done.stderr[-500:]}") from None
    if ti is not None:
        ti.xcom_push(key="summary", value=summary)
    if done.returncode != 0:
        raise IngestRunFailed(f"ingest run {summary.get('run_id')} exited {done.returncode}:"
                              f" {summary.get('failed')} failed, config errors: {len(summary.get('config_errors', []))}")
    return summary
