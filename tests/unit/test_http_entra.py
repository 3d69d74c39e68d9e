"""Entra ID on the HTTP routes (INGEST_HTTP_AUTH=entra, ingest/drivers/azure/http_auth.py): the
handlers behind POST /api/runs, GET /api/runs/{id} and GET /api/dashboard, called with real
func.HttpRequest objects carrying the headers App Service Authentication injects.

No Functions host, no Easy Auth and no Entra ID can run here: the headers are written by the
test as Easy Auth documents them, and the settings are read from the environment by the real
Settings.from_env. The one mock is test_function_app.py's FakeDurableClient (the Durable
extension's client), which records the runs that would start."""

from __future__ import annotations

import asyncio
import base64
import json

import azure.functions as func
import pytest

from ingest.core.errors import SettingError
from ingest.core.settings import Settings
from ingest.drivers.azure import blueprint
from tests.unit.test_function_app import FakeDurableClient

ADF = "0b5c2f1e-3c1a-4c55-9d7e-7a3b2e1f0a01"  # ADF's managed identity (object id)
AIRFLOW_APP = "6f1d9e2a-8b3c-4d5e-9f60-1a2b3c4d5e6f"  # Airflow's application (client id)
AIRFLOW_SP = "2c4e6a8b-0d1f-4a3b-8c5d-7e9f1a2b3c4d"  # Airflow's service principal (object id)
STRANGER = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"


@pytest.fixture
def entra(monkeypatch):
    """The app as deployed with httpAuth=entra: the two settings, and Easy Auth on (App Service
    sets WEBSITE_AUTH_ENABLED), read afresh."""
    monkeypatch.setenv("INGEST_HTTP_AUTH", "entra")
    monkeypatch.setenv("INGEST_HTTP_ALLOWED_PRINCIPALS", f"{ADF},{AIRFLOW_SP.upper()}")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    blueprint.settings.cache_clear()
    yield
    blueprint.settings.cache_clear()


@pytest.fixture
def function_key_only(monkeypatch):
    monkeypatch.delenv("INGEST_HTTP_AUTH", raising=False)
    monkeypatch.setenv("INGEST_HTTP_ALLOWED_PRINCIPALS", ADF)
    blueprint.settings.cache_clear()
    yield
    blueprint.settings.cache_clear()


def principal_headers(object_id: str, app_id: str | None = None, idp: str = "aad",
                      claimed_oid: str | None = None) -> dict[str, str]:
    claims = [{"typ": OID_CLAIM, "val": claimed_oid or object_id}]
    if app_id:
        claims.append({"typ": "appid", "val": app_id})
    encoded = base64.b64encode(json.dumps({"auth_typ": idp, "claims": claims}).encode()).decode()
    return {"X-MS-CLIENT-PRINCIPAL-ID": object_id, "X-MS-CLIENT-PRINCIPAL-IDP": idp,
            "X-MS-CLIENT-PRINCIPAL": encoded}


def post(headers: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest("POST", "http://localhost/api/runs", body=json.dumps({"jobs": ["hr"]}).encode(),
                            headers=headers)


def status(headers: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest("GET", "http://localhost/api/runs/ingest-all", body=b"", headers=headers,
                            route_params={"instance_id": "ingest-all"})


def start(request: func.HttpRequest) -> tuple[func.HttpResponse, FakeDurableClient]:
    client = FakeDurableClient()
    return asyncio.run(blueprint.handle_start(request, client)), client


def test_without_the_principal_headers_every_route_answers_401(entra):
    response, client = start(post({}))
    assert response.status_code == 401 and client.started == []
    assert response.headers["WWW-Authenticate"] == "Bearer"
    running = FakeDurableClient(running={"ingest-all"})
    assert asyncio.run(blueprint.handle_status(status({}), running)).status_code == 401
    page = func.HttpRequest("GET", "http://localhost/api/dashboard", body=b"", headers={})
    assert blueprint.handle_dashboard_route(page).status_code == 401


@pytest.mark.parametrize("drop", ["X-MS-CLIENT-PRINCIPAL-ID", "X-MS-CLIENT-PRINCIPAL-IDP", "X-MS-CLIENT-PRINCIPAL"])
def test_each_missing_header_is_a_401(entra, drop):
    headers = principal_headers(ADF)
    del headers[drop]
    response, client = start(post(headers))
    assert response.status_code == 401 and client.started == []


@pytest.mark.parametrize("headers", [
    principal_headers(ADF, idp="github"),                        # not an Entra ID login
    principal_headers(ADF, claimed_oid=STRANGER),                # the id header and the claims disagree
    {**principal_headers(ADF), "X-MS-CLIENT-PRINCIPAL": "not base64 json!"},
    {**principal_headers(ADF), "X-MS-CLIENT-PRINCIPAL": base64.b64encode(b'["claims"]').decode()},
    principal_headers("not-a-guid"),
])
def test_principal_headers_that_easy_auth_would_not_write_are_a_401(entra, headers):
    response, client = start(post(headers))
    assert response.status_code == 401 and client.started == []
    assert "not-a-guid" not in response.get_body().decode()  # caller-sent values are not echoed


def test_a_caller_not_in_the_allowed_list_gets_403(entra, caplog):
    response, client = start(post(principal_headers(STRANGER, app_id=STRANGER)))
    assert response.status_code == 403 and client.started == []
    assert json.loads(response.get_body()) == {"error": "this caller is not allowed"}
    assert STRANGER in caplog.text  # the refused object id is logged (not a secret)
    running = FakeDurableClient(running={"ingest-all"})
    assert asyncio.run(blueprint.handle_status(status(principal_headers(STRANGER)), running)).status_code == 403


def test_allowed_callers_by_object_id_start_and_poll_runs(entra):
    response, client = start(post(principal_headers(ADF)))  # ADF's managed identity, by object id
    assert response.status_code == 202 and len(client.started) == 1
    airflow = principal_headers(AIRFLOW_SP, app_id=AIRFLOW_APP)  # Airflow's service principal, by object id
    response, client = start(post(airflow))
    assert response.status_code == 202 and len(client.started) == 1
    running = FakeDurableClient(running={"ingest-all"})
    answer = asyncio.run(blueprint.handle_status(status(principal_headers(ADF)), running))
    assert answer.status_code == 200 and json.loads(answer.get_body())["runtime_status"] == "Running"


def test_the_dashboard_lets_an_allowed_caller_through_to_the_page(entra, monkeypatch):
    monkeypatch.delenv("INGEST_AUDIT_URL", raising=False)
    page = func.HttpRequest("GET", "http://localhost/api/dashboard", body=b"", headers=principal_headers(ADF))
    response = blueprint.handle_dashboard_route(page)
    # past the gate: the page itself answers (here: no audit container is configured)
    assert response.status_code == 500 and b"INGEST_AUDIT_URL" in response.get_body()


def test_an_application_id_in_the_claims_admits_no_other_object_id(entra):
    """Easy Auth admits by object id (allowedPrincipals.identities): a client id in `appid` or
    `azp` of another principal's token must not let it in behind Easy Auth's back."""
    for claim in ("appid", "azp"):
        headers = principal_headers(STRANGER, app_id=ADF)
        if claim == "azp":
            headers = principal_headers(STRANGER)
            document = json.loads(base64.b64decode(headers["X-MS-CLIENT-PRINCIPAL"]))
            document["claims"].append({"typ": "azp", "val": AIRFLOW_SP})
            headers["X-MS-CLIENT-PRINCIPAL"] = base64.b64encode(json.dumps(document).encode()).decode()
        response, client = start(post(headers))
        assert response.status_code == 403 and client.started == [], claim


@pytest.mark.parametrize("flag", [None, "False", "", "0"])
def test_with_entra_and_easy_auth_off_headers_the_caller_sent_admit_no_one(entra, monkeypatch, caplog, flag):
    """INGEST_HTTP_AUTH=entra on an app without Easy Auth in front (off, half-deployed, run
    elsewhere): the principal headers can be the caller's own, so every call is refused."""
    if flag is None:
        monkeypatch.delenv("WEBSITE_AUTH_ENABLED")
    else:
        monkeypatch.setenv("WEBSITE_AUTH_ENABLED", flag)
    blueprint.settings.cache_clear()
    response, client = start(post(principal_headers(ADF)))  # an allowed object id, spoofed
    assert response.status_code == 403 and client.started == []
    assert "App Service Authentication is not on" in json.loads(response.get_body())["error"]
    assert "WEBSITE_AUTH_ENABLED" in caplog.text
    running = FakeDurableClient(running={"ingest-all"})
    assert asyncio.run(blueprint.handle_status(status(principal_headers(ADF)), running)).status_code == 403
    page = func.HttpRequest("GET", "http://localhost/api/dashboard", body=b"", headers=principal_headers(ADF))
    assert blueprint.handle_dashboard_route(page).status_code == 403


def test_with_entra_and_no_allowed_caller_everyone_is_refused(monkeypatch):
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    monkeypatch.setenv("INGEST_HTTP_AUTH", "entra")
    monkeypatch.setenv("INGEST_HTTP_ALLOWED_PRINCIPALS", "")
    blueprint.settings.cache_clear()
    try:
        response, client = start(post(principal_headers(ADF)))
    finally:
        blueprint.settings.cache_clear()
    assert response.status_code == 403 and client.started == []


def test_with_the_function_key_only_the_headers_are_never_trusted(function_key_only, monkeypatch):
    """Without Easy Auth in front, anyone can send the headers: they neither let a caller in nor
    keep one out; the function key (checked by the host) is the gate."""
    response, client = start(post(principal_headers(STRANGER, idp="github")))
    assert response.status_code == 202 and len(client.started) == 1
    response, client = start(post({}))
    assert response.status_code == 202

    def fail(*args):
        raise AssertionError("the principal headers were read with INGEST_HTTP_AUTH unset")

    monkeypatch.setattr(blueprint.http_auth, "caller_of", fail)
    response, _ = start(post(principal_headers(ADF)))
    assert response.status_code == 202


def test_the_settings_read_the_mode_and_the_allowed_ids():
    settings = Settings.from_env({"INGEST_HTTP_AUTH": "Entra",
                                  "INGEST_HTTP_ALLOWED_PRINCIPALS": f" {ADF.upper()} ,,{AIRFLOW_SP}"})
    assert settings.http_auth == "entra" and settings.http_allowed_principals == tuple(sorted((ADF, AIRFLOW_SP)))
    assert not settings.http_easy_auth
    assert Settings.from_env({"WEBSITE_AUTH_ENABLED": "True"}).http_easy_auth
    assert Settings.from_env({}).http_auth == "functionkey"
    assert Settings.from_env({"INGEST_HTTP_AUTH": "functionKey"}).http_auth == "functionkey"
    with pytest.raises(SettingError, match="INGEST_HTTP_AUTH"):
        Settings.from_env({"INGEST_HTTP_AUTH": "basic"})
    with pytest.raises(SettingError, match="INGEST_HTTP_ALLOWED_PRINCIPALS"):
        Settings.from_env({"INGEST_HTTP_ALLOWED_PRINCIPALS": "airflow"})
