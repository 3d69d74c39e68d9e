"""POST /api/check: the handler behind the registered route, called with real func.HttpRequest
objects as tests/integration/test_durable_app.py calls the other routes, against Azurite (the
workbook blob) and a real PostgreSQL. No Functions host or Easy Auth runs here: the Entra
headers are written by the test as Easy Auth documents them (tests/unit/test_http_entra.py)."""

from __future__ import annotations

import json
import logging

import azure.functions as func

from ingest.drivers.azure import blueprint
from tests.integration.conftest import create_orders
from tests.integration.conftest import app_env  # noqa: F401 (fixture)
from tests.integration.test_durable_app import upload
from tests.unit.test_http_entra import ADF, STRANGER, principal_headers
from tests.workbooks import job_row, write_workbook


def post(body: bytes, headers: dict[str, str] | None = None) -> func.HttpRequest:
    return func.HttpRequest("POST", "http://localhost/api/check", body=body, headers=headers or {})


def test_post_check_answers_the_lines_of_the_workbook_in_blob_storage(postgres, pg_schema, app_env, tmp_path,
                                                                      monkeypatch, caplog):
    create_orders(postgres, pg_schema, 5)
    monkeypatch.setenv("SOURCES__PG_WRONG__CREDENTIALS", postgres.url(password="http-wrong-pw-99"))
    upload(app_env[1], write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at"),
        job_row(job_name="bad_column", source_schema=pg_schema, target_table="bad_column", primary_key="nope"),
        job_row(job_name="wrong_pw", connection="pg_wrong", source_schema=pg_schema, target_table="wrong_pw")]))

    with caplog.at_level(logging.INFO, logger="ingest.azure"):
        answer = blueprint.handle_check(post(b""))
    assert answer.status_code == 200
    body = json.loads(answer.get_body())
    assert body["ok"] is False and body["workbook_errors"] == 0
    lines = {line["subject"]: line for line in body["lines"]}
    assert lines["connection pg"]["status"] == "OK" and lines["job orders"]["status"] == "OK"
    assert lines["job bad_column"]["error_class"] == "ColumnNotFound"
    assert lines["connection pg_wrong"]["status"] == "FAIL"
    assert lines["connection pg_wrong"]["error_class"] == "SourceAuthenticationError"
    assert "correct the connection's user or password" in lines["connection pg_wrong"]["fix"]
    text = answer.get_body().decode()
    # a function-key holder learns no host, port, database, login or column list (issue 33, item 4)
    for detail in ("http-wrong-pw-99", "127.0.0.1", str(postgres.port), f'user "{postgres.user}"',
                   f"/{postgres.database}", "updated_at", "SOURCES__PG_WRONG__CREDENTIALS", '"detail"'):
        assert detail not in text, detail
    # ...which the server's log keeps
    assert "has no column nope (primary_key)" in caplog.text and f"127.0.0.1:{postgres.port}" in caplog.text
    assert "http-wrong-pw-99" not in caplog.text

    only = json.loads(blueprint.handle_check(post(json.dumps({"jobs": ["ord*"]}).encode())).get_body())
    assert only["ok"] is True and [line["subject"] for line in only["lines"]] == ["connection pg", "job orders"]
    unknown = blueprint.handle_check(post(json.dumps({"jobs": ["nope"]}).encode()))
    assert unknown.status_code == 400 and "matches 'nope'" in json.loads(unknown.get_body())["error"]
    for bad in (b"not json", b"[1]", json.dumps({"jobs": "orders"}).encode()):
        assert blueprint.handle_check(post(bad)).status_code == 400

    # with Entra on: 401 without Easy Auth's headers, 403 for a caller not allowed, 200 for ADF
    monkeypatch.setenv("INGEST_HTTP_AUTH", "entra")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")  # App Service sets it with Easy Auth on
    monkeypatch.setenv("INGEST_HTTP_ALLOWED_PRINCIPALS", ADF)
    blueprint.settings.cache_clear()
    assert blueprint.handle_check(post(b"")).status_code == 401
    assert blueprint.handle_check(post(b"", principal_headers(STRANGER))).status_code == 403
    assert blueprint.handle_check(post(b'{"jobs": ["orders"]}', principal_headers(ADF))).status_code == 200
