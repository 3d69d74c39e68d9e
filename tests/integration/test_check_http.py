"""POST /api/check: the handler behind the registered route, called with real func.HttpRequest
objects as tests/integration/test_durable_app.py calls the other routes, against Azurite (the
workbook blob) and a real PostgreSQL. No Functions host or Easy Auth runs here: the Entra
headers are written by the test as Easy Auth documents them (tests/unit/test_http_entra.py)."""

from __future__ import annotations

import json

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
                                                                      monkeypatch):
    create_orders(postgres, pg_schema, 5)
    monkeypatch.setenv("SOURCES__PG_WRONG__CREDENTIALS", postgres.url(password="http-wrong-pw-99"))
    upload(app_env[1], write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at"),
        job_row(job_name="bad_column", source_schema=pg_schema, target_table="bad_column", primary_key="nope"),
        job_row(job_name="wrong_pw", connection="pg_wrong", source_schema=pg_schema, target_table="wrong_pw")]))

    answer = blueprint.handle_check(post(b""))
    assert answer.status_code == 200
    body = json.loads(answer.get_body())
    assert body["ok"] is False and body["workbook_errors"] == 0
    lines = {line["subject"]: line for line in body["lines"]}
    assert lines["connection pg"]["status"] == "OK" and lines["job orders"]["status"] == "OK"
    assert "has no column nope (primary_key)" in lines["job bad_column"]["detail"]
    assert lines["connection pg_wrong"]["status"] == "FAIL"
    assert "correct the user or password in env (SOURCES__PG_WRONG__CREDENTIALS)" in lines["connection pg_wrong"]["fix"]
    assert "http-wrong-pw-99" not in answer.get_body().decode()

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
