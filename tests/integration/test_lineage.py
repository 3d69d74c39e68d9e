"""OpenLineage events from real runs (issue 25): a PostgreSQL job, a REST job against the
loopback fake API and a failing job, through the file transport; every event is checked with
the client's own classes (tests/lineage_schema.py says how: the client ships no JSON schema
files); canary secrets (the connection's password, the API's key, the lineage endpoint's key)
never appear in an event; an http endpoint answering 500 costs the run nothing but a count;
the Durable path (the replay driver, Azurite) sends events of the same shape."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg2
import pytest

from ingest.config import read_workbook
from ingest.drivers.local.runner import run_local
from ingest.plan.planner import make_plan, new_run_context
from ingest.records.lineage.naming import job_run_id, parent_run_id
from tests.fake_api import start_fake_api
from tests.integration.conftest import create_orders, sql
from tests.lineage_schema import read_events
from tests.workbooks import FAKE_API_HOSTS, api_row, job_row, rest_job_row, write_workbook

PG_CANARY = "Canary-Pg-Pw-7431"
API_CANARY = "Canary-Api-Key-9902"
LINEAGE_CANARY = "Canary-Lineage-Key-3317"


@pytest.fixture
def canary_role(postgres, pg_schema, monkeypatch):
    """Connection `pg` logs in as a role whose password is a canary."""
    role = f"lin_{uuid.uuid4().hex[:8]}"
    sql(postgres, f"CREATE ROLE {role} LOGIN PASSWORD '{PG_CANARY}'")
    sql(postgres, f"GRANT USAGE ON SCHEMA {pg_schema} TO {role};"
                  f" ALTER DEFAULT PRIVILEGES IN SCHEMA {pg_schema} GRANT SELECT ON TABLES TO {role}")
    url = f"postgresql://{role}:{PG_CANARY}@127.0.0.1:{postgres.port}/{postgres.database}"
    monkeypatch.setenv("SOURCES__PG__CREDENTIALS", url)
    yield role
    con = psycopg2.connect(postgres.url())
    con.autocommit = True
    con.cursor().execute(f"DROP OWNED BY {role}; DROP ROLE {role}")
    con.close()


@pytest.fixture
def api(monkeypatch):
    for name, value in FAKE_API_HOSTS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SOURCES__FAKE_API__API_KEY", API_CANARY)
    server = start_fake_api(250)
    yield server
    server.stop()


def three_jobs_book(path: Path, schema: str, api_url: str) -> Path:
    jobs = [job_row(source_schema=schema, load_type="INCREMENTAL", watermark_column="updated_at"),
            rest_job_row(),
            job_row(job_name="broken", source_schema=schema, source_table="no_such_table")]
    return write_workbook(path, jobs, rules=[{"job_name": "orders", "column": "name", "rule": "not_null"}],
                          extra_sheets={"api_endpoints": [api_row(base_url=f"{api_url}/api/v3",
                                                                  auth="api_key_header", auth_param="x-api-key")]})


def run(book: Path, settings):
    config = read_workbook(book)
    assert config.errors == [], config.errors
    return run_local(make_plan(config, new_run_context()), settings, book)


def by_job(events: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for event in events:
        grouped.setdefault(event["job"]["name"], []).append(event)
    return grouped


def test_a_run_sends_start_and_end_per_job_and_for_the_run(postgres, pg_schema, canary_role, api, settings, tmp_path):
    create_orders(postgres, pg_schema, 40)
    lineage = settings.with_overrides(lineage_transport="file", lineage_namespace="ingest-test",
                                      lineage_file=tmp_path / "audit" / "lineage.jsonl")
    summary = run(three_jobs_book(tmp_path / "w.xlsx", pg_schema, api.url), lineage)
    assert [(j["job_name"], j["status"]) for j in summary.jobs] == [
        ("orders", "succeeded"), ("coins", "succeeded"), ("broken", "failed")]
    assert summary.lineage_failures == 0 and all(j["lineage_failures"] == 0 for j in summary.jobs)

    text = lineage.lineage_file.read_text()
    for canary in (PG_CANARY, API_CANARY):
        assert canary not in text
    events = read_events(lineage.lineage_file)  # each one rebuilt through the client's classes
    jobs = by_job(events)
    assert sorted(jobs) == ["broken", "coins", "ingest_run", "orders"]
    assert all(e["job"]["namespace"] == "ingest-test" for e in events)
    ends = {"orders": "COMPLETE", "coins": "COMPLETE", "broken": "FAIL", "ingest_run": "FAIL"}
    for name, pair in jobs.items():
        assert [e["eventType"] for e in pair] == ["START", ends[name]], name
        run_ids = {e["run"]["runId"] for e in pair}
        expected = parent_run_id(summary.run_id) if name == "ingest_run" else job_run_id(summary.run_id, name)
        assert run_ids == {expected}, name
        if name != "ingest_run":
            assert {e["run"]["facets"]["parent"]["run"]["runId"] for e in pair} == {parent_run_id(summary.run_id)}
            assert pair[0]["run"]["facets"]["parent"]["job"] == {"namespace": "ingest-test", "name": "ingest_run",
                                                                 "facets": {}}
    assert jobs["ingest_run"][0]["eventTime"] == summary.started_at
    # the run's START goes out when the run begins, before any job's event (it went at fan-in)
    assert (events[0]["job"]["name"], events[0]["eventType"]) == ("ingest_run", "START")
    assert (events[-1]["job"]["name"], events[-1]["eventType"]) == ("ingest_run", "FAIL")

    # orders: PostgreSQL table in, lake folder out, with what landed and how it was checked
    end = jobs["orders"][1]
    assert end["inputs"][0]["namespace"] == f"postgres://127.0.0.1:{postgres.port}"
    assert end["inputs"][0]["name"] == f"{postgres.database}.{pg_schema}.orders"
    out = end["outputs"][0]
    assert out["namespace"] == "file" and out["name"] == str(Path(lineage.destination).resolve() / "raw" / "orders")
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == 40
    fields = {f["name"]: f["type"] for f in out["facets"]["schema"]["fields"]}
    assert fields["id"].startswith("bigint") and fields["amount"] == "decimal(12,2)" and "name" in fields
    assertions = {a["assertion"]: a for a in out["facets"]["dataQualityAssertions"]["assertions"]}
    assert assertions["not_null"]["success"] is True and assertions["not_null"]["column"] == "name"
    assert assertions["row_count"]["success"] is True and assertions["row_count"]["actual"] == "40"
    watermark = end["run"]["facets"]["ingestWatermark"]
    assert watermark["loadType"] == "INCREMENTAL" and watermark["watermarkColumn"] == "updated_at"
    assert watermark["after"] == summary.jobs[0]["watermark_after"]

    # coins: the API endpoint, without its query or key
    coins = jobs["coins"][1]
    assert (coins["inputs"][0]["namespace"], coins["inputs"][0]["name"]) == (api.url, "/api/v3/coins/markets")
    assert coins["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 250

    # broken: FAIL with the audit's error, redacted
    failed = jobs["broken"][1]
    message = failed["run"]["facets"]["errorMessage"]["message"]
    assert message.startswith(summary.jobs[2]["error_class"]) and "no_such_table" in message
    assert "outputStatistics" not in failed["outputs"][0]["outputFacets"]
    assert jobs["ingest_run"][1]["run"]["facets"]["errorMessage"]["message"] == "1 of 3 job(s) failed"


class FailingLineageServer:
    """An OpenLineage endpoint on 127.0.0.1 that answers every POST with 500 and keeps what
    it was sent (headers and bodies)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests.append({"path": self.path, "headers": dict(self.headers), "body": body.decode()})
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_endpoint_answering_500_fails_no_load_and_is_counted(postgres, pg_schema, canary_role, settings,
                                                                tmp_path, monkeypatch, caplog):
    create_orders(postgres, pg_schema, 10)
    monkeypatch.setenv("LINEAGE__API_KEY", LINEAGE_CANARY)
    endpoint = FailingLineageServer()
    try:
        lineage = settings.with_overrides(lineage_transport="http", lineage_url=endpoint.url, lineage_timeout_s=2.0)
        summary = run(write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema)]), lineage)
    finally:
        endpoint.stop()
    assert summary.exit_code == 0 and summary.jobs[0]["status"] == "succeeded"
    assert summary.jobs[0]["lineage_failures"] == 2  # the job's START and COMPLETE
    assert summary.lineage_failures == 4  # and the run's pair
    saved = json.loads((Path(summary.audit_path).parent / "runs" / f"{summary.run_id}.json").read_text())
    assert saved["lineage_failures"] == 4
    # sent with the key in the header, retried on 500, until 3 failures in a row stopped the process
    assert endpoint.requests and all(r["path"] == "/api/v1/lineage" for r in endpoint.requests)
    assert all(r["headers"]["Authorization"] == f"Bearer {LINEAGE_CANARY}" for r in endpoint.requests)
    assert len(endpoint.requests) == 3 * 3  # three events tried, three attempts each; the 4th not tried
    assert not any(LINEAGE_CANARY in r["body"] or PG_CANARY in r["body"] for r in endpoint.requests)
    assert "not sent" in caplog.text and LINEAGE_CANARY not in caplog.text


def shape(events: list[dict]) -> list[tuple]:
    """What an event says, without its times, ids and the lake's place: job, type, facet keys,
    input datasets."""
    return sorted((e["job"]["name"], e["eventType"], tuple(sorted(e["run"]["facets"])), tuple(sorted(e["job"]["facets"])),
                   tuple((d["namespace"], d["name"], tuple(sorted(d["facets"]))) for d in e["inputs"]),
                   tuple((tuple(sorted(d["facets"])), tuple(sorted(d["outputFacets"]))) for d in e["outputs"]))
                  for e in events)


def test_the_durable_path_sends_the_events_of_the_local_run(postgres, pg_schema, app_env, settings, tmp_path,
                                                            monkeypatch):
    """The orchestrator through the SDK's replay engine (tests/durable_driver.py plays the
    Functions host, which cannot run here), the workbook, lake and audit in Azurite."""
    from ingest.drivers.azure import blueprint
    from tests.durable_driver import DurableDriver

    service, config_container, suffix = app_env
    create_orders(postgres, pg_schema, 12)
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema), job_row(job_name="broken", source_schema=pg_schema, source_table="nope")])
    config_container.upload_blob("ingestion_config.xlsx", book.read_bytes(), overwrite=True)
    durable_file = tmp_path / "durable.jsonl"
    monkeypatch.setenv("INGEST_LINEAGE_TRANSPORT", "file")
    monkeypatch.setenv("INGEST_LINEAGE_FILE", str(durable_file))
    blueprint.settings.cache_clear()
    from function_app import app

    output = DurableDriver(app).run("ingest_run_orchestrator", {}, "ingest-all").output
    assert sorted((j["job_name"], j["status"]) for j in output["jobs"]) == [("broken", "failed"), ("orders", "succeeded")]
    assert output["lineage_failures"] == 0
    durable = read_events(durable_file)

    local_settings = settings.with_overrides(lineage_transport="file", lineage_file=tmp_path / "local.jsonl")
    run(book, local_settings)
    local = read_events(local_settings.lineage_file)
    assert shape(durable) == shape(local) and len(durable) == 6
    assert (durable[0]["job"]["name"], durable[0]["eventType"]) == ("ingest_run", "START")  # from the plan activity
    orders = [e for e in durable if e["job"]["name"] == "orders" and e["eventType"] == "COMPLETE"][0]
    assert orders["outputs"][0]["namespace"] == f"abfss://lake{suffix}@devstoreaccount1.dfs.core.windows.net"
    assert orders["outputs"][0]["name"] == "raw/orders"
    assert orders["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 12
    assert {e["run"]["runId"] for e in durable if e["job"]["name"] == "orders"} == {job_run_id(output["run_id"], "orders")}
