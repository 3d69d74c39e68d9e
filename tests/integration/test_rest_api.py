"""REST API jobs on dlt's rest_api source against a real HTTP server on 127.0.0.1
(tests/fake_api.py): pagination to the end, 429 with Retry-After and 503 retried and logged,
an API key kept out of every log, incremental runs, and a malformed page that fails one job
cleanly and loads exactly once after a re-run."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.config import read_workbook
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from tests.fake_api import start_fake_api
from tests.workbooks import FAKE_API_HOSTS, api_row, incremental_cursor_book, job_row, rest_job_row, write_workbook


@pytest.fixture
def api(monkeypatch):
    """The fake API on 127.0.0.1, allowed (over http) for connection fake_api."""
    for name, value in FAKE_API_HOSTS.items():
        monkeypatch.setenv(name, value)
    server = start_fake_api(2500)
    yield server
    server.stop()


@pytest.fixture
def fast_http(settings):
    return settings.with_overrides(http_backoff_s=0.1, http_max_delay_s=2.0, retry_initial_s=0.2, retry_jitter_s=0.0)


def run(book, settings, jobs=None):
    config = read_workbook(book)
    assert config.errors == [], config.errors
    return run_local(make_plan(config, new_run_context(), jobs), settings, book)


def lake(settings, table: str) -> pa.Table:
    files = sorted(Path(settings.destination, "raw", table).rglob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]) if files else pa.table({})


def test_pages_to_the_end_through_429_and_503_with_the_key_kept_secret(api, fast_http, tmp_path, monkeypatch, caplog):
    """The key travels in the query string (the worst case for logs): dlt's own client logs
    every URL at INFO, and our handlers must mask it (caplog itself sees raw records)."""
    from ingest.core.logging_setup import setup_logging

    setup_logging(fast_http.log_dir, verbose=True)
    key = "Canary-Api-Key-5521"
    monkeypatch.setenv("SOURCES__COINGECKO__API_KEY", key)
    monkeypatch.setenv("SOURCES__COINGECKO__ALLOWED_HOSTS", "127.0.0.1")  # beside the key, not in the workbook
    monkeypatch.setenv("SOURCES__COINGECKO__ALLOW_HTTP", "true")
    api.inject("markets", 5, 429, {"Retry-After": "1"})
    api.inject("markets", 7, 503)
    book = write_workbook(tmp_path / "w.xlsx", [rest_job_row(connection="coingecko")], extra_sheets={
        "api_endpoints": [api_row(base_url=f"{api.url}/api/v3", auth="api_key_query", auth_param="x_cg_demo_api_key")]})
    summary = run(book, fast_http)
    job = summary.jobs[0]
    assert job["status"] == "succeeded", job["error_message"]
    assert job["rows_processed"] == 2500 and job["rowcount"]["status"] == "ok"
    table = lake(fast_http, "coins")
    assert table.num_rows == 2500 and len(set(table.column("id").to_pylist())) == 2500
    assert table.column("name").to_pylist()[0] == "Coin 1 ✓"
    pages = [int(r["query"]["page"]) for r in api.requests if r["path"] == "/api/v3/coins/markets"]
    assert pages.count(5) == 2 and pages.count(7) == 2 and max(pages) == 26  # page 26 was empty: the end
    assert all(r["query"]["x_cg_demo_api_key"] == key for r in api.requests)
    assert "HTTP 429 (Retry-After: 1)" in caplog.text and "HTTP 503" in caplog.text
    assert "x_cg_demo_api_key=%2A%2A%2A" in caplog.text or "x_cg_demo_api_key=***" in caplog.text
    import logging

    # dlt's client logs each URL (at INFO) through dlt's own non-propagating stderr handler;
    # the filter sits on dlt's logger, so any handler of it (here a captured one) gets it masked
    import io

    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    dlt_logger = logging.getLogger("dlt")
    dlt_logger.addHandler(handler)
    try:
        dlt_logger.warning("Making GET request to %s/api/v3/coins/markets?x_cg_demo_api_key=%s", api.url, key)
    finally:
        dlt_logger.removeHandler(handler)
    stderr = captured.getvalue()
    assert "Making GET request" in stderr and "x_cg_demo_api_key=***" in stderr and key not in stderr
    log_file = (fast_http.log_dir / "ingest.log").read_text()
    assert "x_cg_demo_api_key=***" in log_file
    everything = log_file + str(summary.to_dict()) + (fast_http.audit_dir / "audit_trail.csv").read_text()
    assert key not in everything


def test_cursor_pagination_and_incremental_loads_only_new_records(api, fast_http, tmp_path):
    book = incremental_cursor_book(tmp_path / "w.xlsx", api.url)
    first = run(book, fast_http).jobs[0]
    assert first["rows_processed"] == 2500, first["error_message"]
    api.add_coins(30)
    api.requests.clear()
    second = run(book, fast_http).jobs[0]
    assert second["rows_processed"] == 30
    assert api.requests[0]["query"]["updated_since"] == first["watermark_after"]
    assert second["watermark_after"] > first["watermark_after"]
    ids = lake(fast_http, "coins").column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 2530


def test_a_malformed_page_fails_that_job_alone_and_a_rerun_loads_exactly_once(api, fast_http, tmp_path, postgres,
                                                                              pg_schema):
    from tests.integration.conftest import create_orders

    create_orders(postgres, pg_schema, 10)
    api.inject("markets", 13, 200, body=b'[{"id": "coin-01201", "symbol": ')  # cut off mid-page
    book = write_workbook(tmp_path / "w.xlsx", [rest_job_row(), job_row(job_name="orders", source_schema=pg_schema)],
                          extra_sheets={"api_endpoints": [api_row(base_url=f"{api.url}/api/v3")]})
    first = {j["job_name"]: j for j in run(book, fast_http).jobs}
    assert first["orders"]["status"] == "succeeded"
    assert first["coins"]["status"] == "failed"
    assert first["coins"]["error_class"] == "MalformedResponseError"
    assert "page=13" in first["coins"]["error_message"]
    assert lake(fast_http, "coins").num_rows == 0  # nothing half-loaded
    second = run(book, fast_http, ["coins"]).jobs[0]
    assert second["status"] == "succeeded" and second["rows_processed"] == 2500
    ids = lake(fast_http, "coins").column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 2500


def test_api_sheet_errors_name_their_cells(tmp_path):
    book = write_workbook(tmp_path / "w.xlsx", [rest_job_row(), rest_job_row(job_name="orphan")], extra_sheets={
        "api_endpoints": [api_row(base_url="ftp://x", paginator="cursor"),
                          api_row(job_name="ghost"),
                          api_row(job_name="orphan", auth="bearer", params="a=1&&b")]})
    config = read_workbook(book)
    messages = sorted(str(e) for e in config.errors)
    assert "api_endpoints!B2: base_url 'ftp://x' is not an http(s) URL" in messages
    assert any(m.startswith("api_endpoints!K2: cursor_path is required for paginator cursor") for m in messages)
    assert "api_endpoints!A3: no rest_api job named 'ghost' in the jobs sheet" in messages
    assert any(m.startswith("api_endpoints!D4: params 'a=1&&b' is not name=value pairs") for m in messages)
    assert config.jobs == [] and set(config.invalid_rows.values()) == {"coins", "orphan"}


def test_rest_job_through_the_durable_path(api, app_env, tmp_path):
    """The same REST job, run by the Durable orchestrator (tests/durable_driver.py) into
    Azurite, loads every page and then only new records."""
    from function_app import app
    from tests.durable_driver import DurableDriver
    from tests.integration.test_durable_app import lake_rows, upload

    service, config_container, suffix = app_env
    api.inject("markets", 3, 429, {"Retry-After": "0"})
    upload(config_container, write_workbook(tmp_path / "w.xlsx", [
        rest_job_row(load_type="INCREMENTAL", watermark_column="last_updated")],
        extra_sheets={"api_endpoints": [api_row(base_url=f"{api.url}/api/v3")]}))
    driver = DurableDriver(app)
    first = driver.run("ingest_run_orchestrator", {}, "ingest-all").output
    assert first["jobs"][0]["rows_processed"] == 2500, first["jobs"][0]["error_message"]
    api.add_coins(12)
    second = driver.run("ingest_run_orchestrator", {}, "ingest-all").output
    assert second["jobs"][0]["rows_processed"] == 12
    assert lake_rows(service, f"lake{suffix}", "coins") == 2512
