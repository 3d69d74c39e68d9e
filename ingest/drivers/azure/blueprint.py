"""The Functions blueprint: triggers and bindings only. Orchestrators live in orchestration.py,
activity bodies in activities.py."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import azure.durable_functions as df
import azure.functions as func

from ingest.drivers.azure import activities, http_auth, orchestration
from ingest.core.errors import ConfigError
from ingest.core.redact import redact
from ingest.plan.request import RunRequest
from ingest.core.settings import Settings

bp = df.Blueprint()
log = logging.getLogger("ingest.azure")
ACTIVE = {df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending,
          df.OrchestrationRuntimeStatus.ContinuedAsNew}


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


def scope_instance_id(request: RunRequest) -> str:
    """A fixed instance id per scope, so one scope runs once at a time (singleton). The scope
    is every parameter that changes what the run does (RunRequest.scope): the same jobs with
    force_full are another scope than without. The timer's run and a manual run of every job
    share `ingest-all`."""
    if request.is_default:
        return "ingest-all"
    if request.scope() == RunRequest(jobs=request.jobs).scope():  # only a job filter: the id it always had
        digest = hashlib.sha256(",".join(sorted(request.jobs)).encode()).hexdigest()[:16]
        return f"ingest-jobs-{digest}"
    return f"ingest-run-{request.scope_digest()}"


async def start_singleton(client: df.DurableOrchestrationClient, request: RunRequest,
                          trigger: str) -> tuple[str, bool]:
    """Start the run for this scope unless it is already running; (instance_id, started)."""
    instance_id = scope_instance_id(request)
    status = await client.get_status(instance_id)
    if status is not None and status.runtime_status in ACTIVE:
        return instance_id, False
    await client.start_new(orchestration.RUN_ORCHESTRATOR, instance_id,
                           {"request": request.to_dict(), "trigger": trigger})
    return instance_id, True


def _caller_json(req: func.HttpRequest) -> Any:
    """The request's JSON body ({} when empty), or the answer that refuses it: 401/403 for a
    caller Easy Auth did not vouch for (INGEST_HTTP_AUTH=entra), 400 for a body that is not JSON."""
    refused = http_auth.refusal(req, settings())
    if refused is not None:
        return refused
    try:
        return req.get_json() if req.get_body() else {}
    except ValueError:
        return _json({"error": "the body is not JSON"}, 400)


def _json(body: object, status: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json")


@bp.timer_trigger(arg_name="timer", schedule="%INGEST_SCHEDULE%", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def scheduled_run(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    await handle_timer(timer, client)


@bp.route(route="runs", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await handle_start(req, client)


@bp.route(route="runs/{instance_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def run_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await handle_status(req, client)


async def handle_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """The scheduled run: only the jobs due by their `schedule` (ingest/config/schedule.py)."""
    instance_id, started = await start_singleton(client, RunRequest(apply_schedules=True), "timer")
    if started:
        log.info("scheduled run started: %s", instance_id)
    else:
        log.warning("scheduled run skipped: %s is still running", instance_id)


async def handle_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """POST /api/runs {"jobs": [...], "tags": [...], "force_full": bool, "backfill": {"start", "end"},
    "rerun_failed": run_id, "apply_schedules": bool, "dry_run": bool, "allow_shrink": [...]}: 202 with the instance id
    and this app's own status URL (GET /api/runs/{id}, behind the same function key or Entra
    login), 409 if the same scope is running, 400 on a malformed body. A dry run answers 200
    with the plan and starts nothing. Never Durable's management URLs: they carry the task
    hub's system key, with which a caller could read any instance's history, terminate or
    rewind runs and start an orchestrator with any input (docs/security.md). With
    INGEST_HTTP_AUTH=entra, 401/403 first for a caller Easy Auth did not vouch for (http_auth.py)."""
    body = _caller_json(req)
    if isinstance(body, func.HttpResponse):
        return body
    if not isinstance(body, dict):
        return _json({"error": "the body must be a JSON object"}, 400)
    try:
        request = RunRequest.from_dict(body)
    except ConfigError as exc:
        return _json({"error": redact(str(exc))}, 400)
    if request.dry_run:
        try:
            report = await asyncio.to_thread(activities.dry_run_report, request, settings())
        except ConfigError as exc:  # a pattern or tag matching nothing, an unknown run id
            return _json({"error": redact(str(exc))}, 400)
        return _json(report, 200)
    instance_id, started = await start_singleton(client, request, "http")
    status_url = run_status_url(req.url, instance_id)
    if not started:
        return _json({"error": "a run of this scope is already running", "instance_id": instance_id,
                      "status_url": status_url}, 409)
    response = _json({"instance_id": instance_id, "status_url": status_url}, 202)
    response.headers["Location"] = status_url
    return response


def run_status_url(request_url: str, instance_id: str) -> str:
    """GET /api/runs/{id} on the host the caller used; the request's query string (it may hold
    the caller's `code=` key) is left out."""
    parts = urlsplit(request_url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/{quote(instance_id, safe='')}", "", ""))


async def handle_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """GET /api/runs/{instance_id}: runtime status, progress and, when finished, the summary
    (401/403 first with INGEST_HTTP_AUTH=entra, as for POST)."""
    refused = http_auth.refusal(req, settings())
    if refused is not None:
        return refused
    instance_id = req.route_params.get("instance_id")
    status = await client.get_status(instance_id)
    if status is None or status.runtime_status is None:
        return _json({"error": f"no run {instance_id}"}, 404)
    return _json({"instance_id": instance_id, "runtime_status": status.runtime_status.value,
                  "progress": status.custom_status, "created_time": status.created_time,
                  "last_updated_time": status.last_updated_time, "summary": status.output}, 200)


# dashboard (ingest/dashboard/http.py) ------------------------------------------------------
@bp.route(route="dashboard", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def dashboard(req: func.HttpRequest) -> func.HttpResponse:
    return handle_dashboard_route(req)


def handle_dashboard_route(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/dashboard: 401/403 first with INGEST_HTTP_AUTH=entra, then the page."""
    refused = http_auth.refusal(req, settings())
    if refused is not None:
        return refused
    from ingest.dashboard.http import handle_dashboard

    return handle_dashboard(req, settings())


# check (ingest/sources/connection_check.py) ------------------------------------------------
@bp.route(route="check", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def check_connections(req: func.HttpRequest) -> func.HttpResponse:
    return handle_check(req)


def handle_check(req: func.HttpRequest) -> func.HttpResponse:
    """POST /api/check {"jobs": [names or globs]} (default: every enabled job): `python -m ingest
    check` on the workbook in blob storage, with this app's identity and credentials. 200 with
    {"ok", "lines": [{"subject", "status", "error_class", "fix"}]} (the fix in general terms; each
    line's detail, which names hosts, databases, logins and columns, goes to the app's log); 400 on a malformed body or a
    pattern matching no job; 401/403 first with INGEST_HTTP_AUTH=entra, as for POST /api/runs."""
    body = _caller_json(req)
    if isinstance(body, func.HttpResponse):
        return body
    jobs = body.get("jobs") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not (jobs is None or (isinstance(jobs, list)
                                                           and all(isinstance(j, str) for j in jobs))):
        return _json({"error": 'the body must be a JSON object, with "jobs" a list of names if given'}, 400)
    from ingest.config.workbook import read_workbook
    from ingest.config.workbook_blob import read_workbook_blob
    from ingest.sources.connection_check import check_jobs, select_jobs
    from ingest.sources.postgres_cdc.check_line import register as register_cdc_check

    register_cdc_check()  # CDC jobs: the replication prerequisites
    try:
        data, _etag = read_workbook_blob(settings())
        config = read_workbook(data, label=settings().config_url)
        report = check_jobs(select_jobs(config, jobs or None))
    except ConfigError as exc:
        return _json({"error": redact(str(exc))}, 400)
    for line in report.lines:  # the detail (hosts, databases, logins, columns) for the server's log only
        log.log(logging.WARNING if line.status == "FAIL" else logging.INFO, "check: %s", line)
    return _json({**report.public_dict(), "workbook_errors": len(config.errors)}, 200)


@bp.orchestration_trigger(context_name="context", orchestration=orchestration.RUN_ORCHESTRATOR)
def ingest_run_orchestrator(context: df.DurableOrchestrationContext):
    return (yield from orchestration.run_orchestrator(context))


@bp.orchestration_trigger(context_name="context", orchestration=orchestration.JOB_ORCHESTRATOR)
def ingest_job_orchestrator(context: df.DurableOrchestrationContext):
    return (yield from orchestration.job_orchestrator(context))


@bp.activity_trigger(input_name="payload", activity=orchestration.PLAN_ACTIVITY)
def plan_run(payload: dict) -> dict:
    return activities.plan_activity(payload, settings())


@bp.activity_trigger(input_name="payload", activity=orchestration.LOAD_ACTIVITY)
def load_job(payload: dict) -> dict:
    return activities.load_job_activity(payload, settings())


@bp.activity_trigger(input_name="payload", activity=orchestration.CDC_ACTIVITY)
def load_cdc_connection(payload: dict) -> list:
    return activities.load_cdc_activity(payload, settings())


@bp.activity_trigger(input_name="payload", activity=orchestration.FINALIZE_ACTIVITY)
def finalize_run(payload: dict) -> dict:
    return activities.finalize_activity(payload, settings())


@bp.activity_trigger(input_name="payload", activity=orchestration.SPLIT_ACTIVITY)
def split_chunks(payload: dict) -> dict:
    return activities.split_chunks_activity(payload, settings())


@bp.activity_trigger(input_name="payload", activity=orchestration.CHUNK_ACTIVITY)
def load_chunk(payload: dict) -> dict:
    return activities.load_chunk_activity(payload, settings())


@bp.activity_trigger(input_name="payload", activity=orchestration.COMMIT_ACTIVITY)
def commit_chunks(payload: dict) -> dict:
    return activities.commit_chunks_activity(payload, settings())
