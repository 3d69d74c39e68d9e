"""OpenLineage pieces without a run: settings fail closed, dataset names carry no credential,
the error facet is redacted, an event holding a known secret is never sent, the file transport
keeps lines whole across processes, and lineage off loads no client."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys

import pytest

from ingest.core.errors import SettingError
from ingest.core.redact import register_secret
from ingest.core.result import JobResult, JobStatus
from ingest.core.settings import Settings
from ingest.records.lineage.naming import api_dataset, job_run_id, lake_dataset, parent_run_id, sql_dataset

CANARY = "Canary-Unit-Secret-4471"


@pytest.mark.parametrize("url, why", [
    (f"https://user:{CANARY}@marquez.example.com", "must not hold a user"),
    (f"https://marquez.example.com/?code={CANARY}", "must not hold a user"),
    ("http://marquez.example.com", "must be https"),
    ("http://127.evil.example:5000", "must be https"),  # a name, not a loopback address
    ("ftp://marquez.example.com", r"is not an http\(s\) URL"),
])
def test_a_lineage_url_that_could_leak_a_key_or_send_it_in_clear_is_refused(url, why):
    with pytest.raises(SettingError, match=why) as caught:
        Settings.from_env({"INGEST_LINEAGE_TRANSPORT": "http", "INGEST_LINEAGE_URL": url})
    assert CANARY not in str(caught.value)


def test_lineage_settings_defaults_and_per_environment_namespace():
    assert Settings.from_env({}).lineage_transport == "none"
    assert Settings.from_env({"INGEST_ENVIRONMENT": "prod"}).lineage_namespace == "ingest-prod"
    assert Settings.from_env({"INGEST_LINEAGE_NAMESPACE": "team-a"}).lineage_namespace == "team-a"
    local = Settings.from_env({"INGEST_LINEAGE_TRANSPORT": "http", "INGEST_LINEAGE_URL": "http://127.0.0.1:5000/"})
    assert local.lineage_url == "http://127.0.0.1:5000"
    with pytest.raises(SettingError, match="needs INGEST_LINEAGE_URL"):
        Settings.from_env({"INGEST_LINEAGE_TRANSPORT": "http"})
    with pytest.raises(SettingError, match="is not one of"):
        Settings.from_env({"INGEST_LINEAGE_TRANSPORT": "kafka"})
    with pytest.raises(SettingError, match="INGEST_LINEAGE_NAMESPACE"):
        Settings.from_env({"INGEST_LINEAGE_NAMESPACE": "bad name"})


def test_dataset_names_hold_no_credential():
    connection = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={CANARY};"
                  "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")
    azurite = lake_dataset(Settings(destination="az://lake/base", azure_storage_connection_string=connection), "orders")
    assert (azurite.namespace, azurite.name) == ("abfss://lake@devstoreaccount1.dfs.core.windows.net", "base/raw/orders")
    adls = lake_dataset(Settings(destination="abfss://lake@stlake.dfs.core.windows.net"), "orders")
    assert (adls.namespace, adls.name) == ("abfss://lake@stlake.dfs.core.windows.net", "raw/orders")
    api = api_dataset(f"https://user:{CANARY}@API.example.com:8443/v3?key={CANARY}", "coins/markets")
    assert (api.namespace, api.name) == ("https://api.example.com:8443", "/v3/coins/markets")
    table = sql_dataset("postgres", "DB.example.com", 5432, "sales", "public", "orders")
    assert (table.namespace, table.name) == ("postgres://db.example.com:5432", "sales.public.orders")
    assert parent_run_id("r1") == parent_run_id("r1") != parent_run_id("r2")
    assert job_run_id("r1", "a") != job_run_id("r1", "b")


def test_the_input_dataset_comes_from_the_parsed_connection(monkeypatch):
    from ingest.config.model import JobConfig, LoadType, SourceType
    from ingest.sources.lineage_names import source_dataset

    monkeypatch.setenv("SOURCES__SALES__CREDENTIALS", f"postgresql://reader:{CANARY}@db.example.com:6543/sales")
    job = JobConfig(job_name="orders", enabled=True, source_type=SourceType.POSTGRES, connection="sales",
                    source_table="orders", load_type=LoadType.FULL)
    name = source_dataset(job)
    assert (name.namespace, name.name) == ("postgres://db.example.com:6543", "sales.public.orders")
    assert CANARY not in repr(name)


def test_the_error_facet_is_redacted():
    from ingest.records.lineage.facets import error_facet

    register_secret(CANARY)
    result = JobResult(job_name="a", status=JobStatus.FAILED, run_id="r", error_class="SourceError",
                       error_message=f"could not connect to postgresql://u:pw-in-url@h/db with {CANARY}")
    message = error_facet(result).message
    assert message.startswith("SourceError: could not connect") and CANARY not in message
    assert "pw-in-url" not in message


def test_an_event_holding_a_known_secret_is_not_sent_and_is_counted(tmp_path):
    from ingest.records.lineage import events
    from ingest.records.lineage.emitter import Emitter
    from ingest.records.lineage.naming import DatasetName

    register_secret(CANARY)
    settings = Settings(lineage_transport="file", lineage_file=tmp_path / "l.jsonl")
    parts = events.JobEventParts(namespace="ingest", job_name="a", run_id=job_run_id("r", "a"),
                                 parent_run_id=parent_run_id("r"), source=DatasetName("postgres://h:1", f"db.{CANARY}.t"),
                                 output=DatasetName("file", "/lake/raw/t"))
    emitter = Emitter(settings)
    assert emitter.emit(events.job_event(events.RunState.START, parts)) is False
    assert emitter.failures == 1 and not settings.lineage_file.exists()
    clean = events.JobEventParts(**{**parts.__dict__, "source": DatasetName("postgres://h:1", "db.s.t")})
    assert emitter.emit(events.job_event(events.RunState.START, clean)) is True
    assert json.loads(settings.lineage_file.read_text())["job"]["name"] == "a"


def _append_many(path: str, tag: str) -> None:
    from ingest.records.lineage import events
    from ingest.records.lineage.emitter import JsonLinesTransport
    from ingest.records.lineage.naming import DatasetName

    transport = JsonLinesTransport(__import__("pathlib").Path(path))
    parts = events.JobEventParts(namespace="ingest", job_name=tag * 20000, run_id=job_run_id("r", tag),
                                 parent_run_id=parent_run_id("r"), source=None, output=DatasetName("file", "/x"))
    event = events.job_event(events.RunState.START, parts)  # ~20 KB a line: more than a write buffer (8 KB)
    for _ in range(100):
        transport.emit(event)


def test_the_file_transport_keeps_lines_whole_across_processes(tmp_path):
    path = str(tmp_path / "l.jsonl")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(path, tag)) for tag in "abcd"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    lines = (tmp_path / "l.jsonl").read_text().splitlines()
    assert len(lines) == 400 and all(json.loads(line)["eventType"] == "START" for line in lines)


def test_with_lineage_off_the_client_is_never_imported():
    code = ("import sys, ingest.cli, ingest.load, ingest.drivers.finalize;"
            " print([m for m in sys.modules if m.startswith('openlineage')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_redirect_from_the_lineage_endpoint_is_not_followed_with_the_key(tmp_path, monkeypatch):
    """The endpoint (127.0.0.1) answers 302 to another host (127.0.0.2): the event fails and is
    counted, and the other host never sees a request, so the key header never travels there.
    (requests drops only `Authorization` on such a redirect, not a header like x-functions-key.)"""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from ingest.records.lineage import events
    from ingest.records.lineage.emitter import Emitter
    from ingest.records.lineage.naming import DatasetName

    seen: list[str] = []

    class Other(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            seen.append(self.headers.get("x-functions-key") or "")
            self.send_response(200)
            self.end_headers()

    other = ThreadingHTTPServer(("127.0.0.2", 0), Other)

    class Redirecting(Other):
        def do_POST(self) -> None:  # noqa: N802
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.2:{other.server_port}/api/v1/lineage")
            self.send_header("Content-Length", "0")
            self.end_headers()

    endpoint = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    for server in (other, endpoint):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("LINEAGE__API_KEY", CANARY)
    try:
        settings = Settings(lineage_transport="http", lineage_url=f"http://127.0.0.1:{endpoint.server_port}",
                            lineage_api_key_header="x-functions-key")
        parts = events.JobEventParts(namespace="ingest", job_name="a", run_id=job_run_id("r", "a"),
                                     parent_run_id=parent_run_id("r"), source=DatasetName("postgres://h:1", "db.s.t"),
                                     output=DatasetName("file", "/lake/raw/t"))
        emitter = Emitter(settings)
        assert emitter.emit(events.job_event(events.RunState.START, parts)) is False
        assert emitter.failures == 1 and seen == []
    finally:
        for server in (other, endpoint):
            server.shutdown()
            server.server_close()
