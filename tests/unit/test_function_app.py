"""The Functions app's registration and its HTTP and timer starters.

The Durable client is a fake (no Functions host or Durable extension can run here): it
records start_new calls and answers get_status from a dict, as the real client's HTTP calls
to the extension would."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import azure.durable_functions as df
import azure.functions as func
import pytest

from ingest.drivers.azure import blueprint
from ingest.plan.request import RunRequest
from tests.durable_driver import registered_functions


class FakeDurableClient:
    def __init__(self, running: set[str] | None = None):
        self.running = running or set()
        self.started: list[tuple[str, str, dict]] = []

    async def get_status(self, instance_id):
        if instance_id in self.running:
            return SimpleNamespace(runtime_status=df.OrchestrationRuntimeStatus.Running,
                                   custom_status={"jobs_done": 1, "jobs_total": 3}, output=None,
                                   created_time="t0", last_updated_time="t1")
        return SimpleNamespace(runtime_status=None)

    async def start_new(self, name, instance_id, client_input):
        self.started.append((name, instance_id, client_input))
        return instance_id

    def create_http_management_payload(self, instance_id):
        base = f"http://localhost/runtime/webhooks/durabletask/instances/{instance_id}"
        return {"id": instance_id, "statusQueryGetUri": f"{base}?code=SYSTEM-KEY-CANARY",
                "terminatePostUri": f"{base}/terminate?code=SYSTEM-KEY-CANARY"}


HANDLERS = {"start_run": blueprint.handle_start, "run_status": blueprint.handle_status,
            "scheduled_run": blueprint.handle_timer}


def call(function_name: str, *args):
    """The handler behind a registered trigger (the registered wrapper itself expects the
    extension's JSON client description, which needs a running host)."""
    return asyncio.run(HANDLERS[function_name](*args))


def post(body: bytes) -> func.HttpRequest:
    return func.HttpRequest("POST", "http://localhost/api/runs?code=FUNCTION-KEY-CANARY", body=body, headers={})


def test_every_function_is_registered_with_its_trigger():
    from function_app import app

    bindings = {name: sorted(b.type for b in f.get_bindings()) for name, f in registered_functions(app).items()}
    assert bindings == {
        "scheduled_run": ["durableClient", "timerTrigger"],
        "start_run": ["durableClient", "http", "httpTrigger"],
        "run_status": ["durableClient", "http", "httpTrigger"],
        "dashboard": ["http", "httpTrigger"],
        "check_connections": ["http", "httpTrigger"],
        "ingest_run_orchestrator": ["orchestrationTrigger"],
        "ingest_job_orchestrator": ["orchestrationTrigger"],
        "plan_run": ["activityTrigger"],
        "load_job": ["activityTrigger"],
        "load_cdc_connection": ["activityTrigger"],
        "finalize_run": ["activityTrigger"],
        # a chunked load's steps (ingest/drivers/chunks/)
        "split_chunks": ["activityTrigger"],
        "load_chunk": ["activityTrigger"],
        "commit_chunks": ["activityTrigger"],
    }
    timer = next(b for b in registered_functions(app)["scheduled_run"].get_bindings() if b.type == "timerTrigger")
    assert timer.schedule == "%INGEST_SCHEDULE%"
    http = next(b for b in registered_functions(app)["start_run"].get_bindings() if b.type == "httpTrigger")
    assert http.route == "runs" and [m.value if hasattr(m, "value") else m for m in http.methods] == ["POST"]
    assert str(getattr(http.auth_level, "value", http.auth_level)).lower() == "function"
    page = next(b for b in registered_functions(app)["dashboard"].get_bindings() if b.type == "httpTrigger")
    assert page.route == "dashboard" and [m.value if hasattr(m, "value") else m for m in page.methods] == ["GET"]
    assert str(getattr(page.auth_level, "value", page.auth_level)).lower() == "function"
    check = next(b for b in registered_functions(app)["check_connections"].get_bindings() if b.type == "httpTrigger")
    assert check.route == "check" and [m.value if hasattr(m, "value") else m for m in check.methods] == ["POST"]
    assert str(getattr(check.auth_level, "value", check.auth_level)).lower() == "function"


def test_post_starts_a_run_with_the_filter_and_answers_202():
    client = FakeDurableClient()
    response = call("start_run", post(json.dumps({"jobs": ["sales_*", "hr"]}).encode()), client)
    assert response.status_code == 202
    body = json.loads(response.get_body())
    (name, instance_id, client_input), = client.started
    assert name == "ingest_run_orchestrator" and client_input["request"]["jobs"] == ["sales_*", "hr"]
    assert body["instance_id"] == instance_id == blueprint.scope_instance_id(RunRequest(jobs=("hr", "sales_*")))
    assert instance_id.startswith("ingest-jobs-")
    assert body == {"instance_id": instance_id, "status_url": f"http://localhost/api/runs/{instance_id}"}
    assert response.headers["Location"] == body["status_url"]


def test_a_run_is_answered_without_the_task_hubs_system_key():
    """Durable's management URLs carry the task hub's system key: a function-key caller could
    then read any history, terminate or rewind runs, and start an orchestrator with any input.
    Neither they nor the caller's own key (its query string) come back (issue 21, finding 3)."""
    for running in (set(), {"ingest-all"}):
        response = call("start_run", post(b""), FakeDurableClient(running=running))
        text = response.get_body().decode() + json.dumps(dict(response.headers))
        assert response.status_code in (202, 409)
        assert "SYSTEM-KEY-CANARY" not in text and "webhooks/durabletask" not in text
        assert "FUNCTION-KEY-CANARY" not in text and "code=" not in text


def test_post_on_a_running_scope_answers_409_and_starts_nothing():
    client = FakeDurableClient(running={"ingest-all"})
    response = call("start_run", post(b""), client)
    assert response.status_code == 409 and client.started == []
    assert json.loads(response.get_body()) == {"error": "a run of this scope is already running",
                                               "instance_id": "ingest-all",
                                               "status_url": "http://localhost/api/runs/ingest-all"}


@pytest.mark.parametrize("body", [b"{not json", json.dumps({"jobs": [1, 2]}).encode()])
def test_post_with_a_bad_body_answers_400(body):
    client = FakeDurableClient()
    assert call("start_run", post(body), client).status_code == 400 and client.started == []


def test_status_endpoint_reports_progress_and_404():
    client = FakeDurableClient(running={"ingest-all"})
    request = func.HttpRequest("GET", "http://localhost/api/runs/ingest-all", body=b"",
                               route_params={"instance_id": "ingest-all"})
    body = json.loads(call("run_status", request, client).get_body())
    assert body["runtime_status"] == "Running" and body["progress"] == {"jobs_done": 1, "jobs_total": 3}
    missing = func.HttpRequest("GET", "http://localhost/api/runs/x", body=b"", route_params={"instance_id": "x"})
    assert call("run_status", missing, client).status_code == 404


def test_timer_starts_the_singleton_or_skips_when_running(caplog):
    client = FakeDurableClient()
    call("scheduled_run", SimpleNamespace(past_due=False), client)
    assert [s[1] for s in client.started] == ["ingest-all"]
    busy = FakeDurableClient(running={"ingest-all"})
    call("scheduled_run", SimpleNamespace(past_due=False), busy)
    assert busy.started == [] and "still running" in caplog.text
