"""The dashboard as a person sees it: written by `python -m ingest dashboard` from an audit trail,
opened in a real headless Chromium. The page must load without a console error or a failed
request, Chart.js must have drawn every chart (its instances, their data, pixels on each
canvas), the numbers must be the audit's, no secret may be in the page, and a screenshot is
kept in test-artifacts/ (INGEST_TEST_ARTIFACTS)."""

from __future__ import annotations

import csv
import http.server
import json
import re
import threading
from datetime import datetime, timedelta, timezone

import azure.functions as func
import pytest
from playwright.sync_api import sync_playwright

from ingest.drivers.azure import blueprint
from ingest.dashboard.http import handle_dashboard
from ingest.core.settings import Settings
from tests.durable_driver import DurableDriver
from tests.integration.test_durable_app import app_env, upload  # noqa: F401 (fixture)

from tests.audit_history import SECRET, write_history
from tests.browser import artifacts_dir, launch, open_page
from tests.integration.conftest import create_orders
from tests.integration.test_alert_rendering import png_colours
from tests.integration.test_cli import ingest
from tests.workbooks import job_row, write_workbook

CHART_IDS = ["chart-runs", "chart-rows", "chart-duration", "chart-failures", "chart-findings"]
GREEN, RED = (0x16, 0xA3, 0x4A), (0xDC, 0x26, 0x26)

CHARTS_JS = """() => Object.values(Chart.instances).map(c => {
  const {width, height} = c.canvas;
  const px = c.canvas.getContext('2d').getImageData(0, 0, width, height).data;
  let drawn = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) drawn++;
  return {id: c.canvas.id, type: c.config.type, labels: c.data.labels.length, width, height,
          drawn: drawn / (width * height),
          sums: Object.fromEntries(c.data.datasets.map(d => [d.label, d.data.reduce((a, v) => a + (v || 0), 0)]))};
})"""


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def charts_of(page, log) -> dict[str, dict]:
    try:
        page.wait_for_selector("body[data-charts-rendered]", state="attached", timeout=30_000)
    except Exception:
        raise AssertionError(f"the charts were not drawn: {log.problems} {page.content()[:300]!r}") from None
    return {chart["id"]: chart for chart in page.evaluate(CHARTS_JS)}


def table_rows(page, table_id: str) -> list[list[str]]:
    return page.eval_on_selector_all(f"#{table_id} tbody tr",
                                     "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))")


def test_dashboard_of_two_weeks_renders_in_chromium(tmp_path, browser):
    audit = tmp_path / "audit"
    run_ids = write_history(audit, days=14)
    out = tmp_path / "dashboard.html"
    done = ingest(["dashboard", "--audit-dir", str(audit), "--days", "30", "--out", str(out)], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    html = out.read_text()
    assert SECRET not in html and "postgresql://ingest:***@" in html  # masked, not dropped
    assert "cdn" not in html.lower() and "https://" not in html.split("<script>")[0]  # self-contained

    page, log = open_page(browser, out.as_uri())
    try:
        charts = charts_of(page, log)
        assert page.evaluate("Chart.version") == "4.6.1"
        assert page.get_attribute("body", "data-charts-rendered") == "5"
        assert sorted(charts) == sorted(CHART_IDS)
        for chart in charts.values():
            assert chart["width"] > 300 and chart["height"] > 200, chart
            assert chart["drawn"] > 0.02, chart  # bars and lines on the canvas, not only axes

        rows = list(csv.DictReader(open(audit / "audit_trail.csv")))
        runs = charts["chart-runs"]
        assert runs["labels"] == len(run_ids)
        assert sum(runs["sums"].values()) == len(rows)
        assert runs["sums"]["failed"] == sum(1 for r in rows if r["status"] == "failed") == 8
        assert runs["sums"]["invalid"] == 1
        landed = sum(int(r["rows_processed"]) for r in rows if r["status"] == "succeeded")
        assert sum(charts["chart-rows"]["sums"].values()) == landed
        assert set(charts["chart-rows"]["sums"]) == {r["job_name"] for r in rows if r["status"] == "succeeded"}
        assert charts["chart-failures"]["sums"] == {"ConfigError": 1, "SourceAuthenticationError": 4,
                                                    "SourceObjectNotFoundError": 2, "TransientSourceError": 2}
        assert charts["chart-findings"]["sums"] == {"drift": 1, "quality": 4, "row count": 2, "workbook": 1}
        durations = charts["chart-duration"]["sums"]
        assert durations["sales_orders"] > durations["hr_people"] > 0

        failures = table_rows(page, "table-failures")
        assert len(failures) == 9 and failures[0][1] == "crm_accounts"  # newest first
        findings = {tuple(r[1:3]) for r in table_rows(page, "table-findings")}
        assert {("drift", "sales_orders"), ("quality", "finance_ledger"), ("row count", "finance_ledger")} <= findings
        assert page.inner_text("#tile-runs") == str(len(run_ids))

        shot = artifacts_dir() / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()
    assert log.problems == [], log.problems
    _, height, colours = png_colours(shot)
    assert height > 1500 and GREEN in colours and RED in colours  # succeeded and failed bars drawn


def test_dashboard_after_real_loads_on_postgres(postgres, pg_schema, tmp_path, browser):
    """Audit made by real runs of the command line: a FULL load twice, a job whose password is
    wrong twice; the dashboard shows exactly that, and the wrong password is nowhere."""
    create_orders(postgres, pg_schema, 40)
    canary = "Canary-Dash-8817"
    env = {"SOURCES__PG__CREDENTIALS": postgres.url(), "SOURCES__PGBAD__CREDENTIALS": postgres.url(password=canary),
           "INGEST_DESTINATION": str(tmp_path / "lake"), "INGEST_RETRY_ATTEMPTS": "0"}
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema),
        job_row(job_name="bad_login", connection="pgbad", source_schema=pg_schema, target_table="o2")])
    for _ in range(2):
        result = ingest(["run", "--config", str(book)], cwd=tmp_path, env=env)
        assert result.returncode == 1, result.stdout + result.stderr
    done = ingest(["dashboard"], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "audit" / "dashboard.html"
    assert canary not in out.read_text()
    log_text = (tmp_path / "logs" / "ingest.log").read_text()
    assert canary not in log_text
    # the telemetry records of both runs, with their dimensions in the message (ingest/alerts/telemetry.py)
    assert len(re.findall(r"ingest\.job run_id=\S+ job_name=orders status=succeeded rows=40 ", log_text)) == 2
    assert len(re.findall(r"ingest\.job run_id=\S+ job_name=bad_login status=failed rows=0 .*"
                          r"error_class=SourceAuthenticationError", log_text)) == 2
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "audit" / "runs").glob("*.json")]
    assert len(summaries) == 2

    page, log = open_page(browser, out.as_uri())
    try:
        charts = charts_of(page, log)
        assert charts["chart-runs"]["sums"] == {"succeeded": 2, "failed": 2, "invalid": 0}
        assert charts["chart-rows"]["sums"] == {"orders": 80}
        assert charts["chart-failures"]["sums"] == {"SourceAuthenticationError": 2}
        latest = {r[0]: r for r in table_rows(page, "table-latest")}
        assert latest["orders"][1:3] == ["succeeded", "40"] and latest["orders"][6] == "ok"
        assert latest["bad_login"][1] == "failed" and "SourceAuthenticationError" in latest["bad_login"][7]
        page.screenshot(path=str(artifacts_dir() / "dashboard_postgres.png"), full_page=True)
    finally:
        page.close()
    assert log.problems == [], log.problems


class _OneResponse(http.server.BaseHTTPRequestHandler):
    """Serves the HTTP function's response as it is, headers included (its Content-Security-Policy
    applies in the browser: an inline script it blocked would be a console error)."""

    response = None

    def do_GET(self):  # noqa: N802 (http.server's name)
        response = type(self).response
        self.send_response(response.status_code)
        # the Functions host sends the response's mimetype and charset as Content-Type
        self.send_header("Content-Type", f"{response.mimetype}; charset={response.charset}")
        for name, value in response.headers.items():
            self.send_header(name, value)
        body = response.get_body()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(response) -> tuple[http.server.HTTPServer, str]:
    handler = type("Handler", (_OneResponse,), {"response": response})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/api/dashboard"


def test_the_http_function_serves_the_dashboard_from_the_audit_container(postgres, pg_schema, app_env, tmp_path,
                                                                        browser):
    """A Durable run (the replay driver, real activities on PostgreSQL and Azurite) writes the
    audit to the container; GET /api/dashboard reads it back and the page works in Chromium
    under the function's Content-Security-Policy."""
    service, config_container, suffix = app_env
    create_orders(postgres, pg_schema, 30)
    upload(config_container, write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema),
        job_row(job_name="missing", source_schema=pg_schema, source_table="nope", target_table="nope")]))
    from function_app import app

    started = datetime.now(timezone.utc) - timedelta(hours=1)  # inside the dashboard's period
    outcome = DurableDriver(app, start=started).run("ingest_run_orchestrator", {"jobs": None}, "ingest-all")
    assert (outcome.output["succeeded"], outcome.output["failed"]) == (1, 1)

    request = lambda query: func.HttpRequest("GET", "http://localhost/api/dashboard", body=b"", params=query)
    bad = handle_dashboard(request({"days": "zero"}), blueprint.settings())
    assert bad.status_code == 400
    response = handle_dashboard(request({"days": "7"}), blueprint.settings())
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "script-src 'unsafe-inline'" in response.headers["Content-Security-Policy"]
    assert f"audit container audit{suffix}" in response.get_body().decode()

    server, url = serve(response)
    page, log = open_page(browser, url)
    try:
        charts = charts_of(page, log)
        assert charts["chart-runs"]["sums"] == {"succeeded": 1, "failed": 1, "invalid": 0}
        assert charts["chart-rows"]["sums"] == {"orders": 30}
        assert charts["chart-failures"]["sums"] == {"SourceObjectNotFoundError": 1}
        page.screenshot(path=str(artifacts_dir() / "dashboard_azure.png"), full_page=True)
    finally:
        page.close()
        server.shutdown()
    assert log.problems == [], log.problems


def test_the_http_function_says_why_without_an_audit_container(monkeypatch):
    monkeypatch.delenv("INGEST_AUDIT_URL", raising=False)
    response = handle_dashboard(func.HttpRequest("GET", "http://localhost/api/dashboard", body=b""),
                                Settings.from_env({}))
    assert response.status_code == 500 and b"INGEST_AUDIT_URL" in response.get_body()
