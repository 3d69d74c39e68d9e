"""Where a REST credential may travel: only to the hosts its connection allows
(`sources.<connection>.allowed_hosts`, beside the secret, never in the workbook).

Two real HTTP servers on two loopback hosts: 127.0.0.1 is the connection's allowed host,
127.0.0.2 a stranger. The allowed host hands out next-page links (dlt's json_link and
header_link paginators) and 301/302/307 redirects pointing at the stranger, for each way a
key is sent (api_key_header, api_key_query, bearer). The stranger's own record of what it
received is the proof: it must get no credential (and, as the app refuses the page before
sending, no request at all). One run loads every case as its own job, so the test also shows
that the refused jobs fail alone and the honest ones load."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.config import read_workbook
from ingest.core.settings import Settings
from ingest.drivers.local.runner import run_local
from ingest.plan.planner import make_plan, new_run_context
from tests.fake_hosts import LoopbackApi, start_loopback_api
from tests.workbooks import api_row, rest_job_row, write_workbook

KEY = "Canary-Partner-Key-8817"
AUTHS = {"api_key_header": "X-Api-Key", "api_key_query": "api_key", "bearer": None}
FOREIGN = ("json_link", "header_link", "r301", "r302", "r307")


def _endpoint(job: str, base_url: str, path: str, auth: str, paginator: str = "none", **extra) -> dict:
    return api_row(job_name=job, base_url=base_url, path=path, params=None, paginator=paginator,
                   data_selector="data", page_size=None, page_size_param=None, page_param=None, start_page=None,
                   auth=auth, auth_param=AUTHS[auth], **extra)


def _foreign_cases(allowed: LoopbackApi, stranger: LoopbackApi) -> list[dict]:
    """One job per (way the page leaves the allowed host, way the key is sent)."""
    endpoints = []
    for kind in FOREIGN:
        for auth in AUTHS:
            path, job = f"/{kind}/{auth}", f"{kind}_{auth}"
            target = f"{stranger.url}/stolen/{kind}/{auth}"
            if kind == "json_link":
                allowed.page(path, [{"id": "a-1"}], next_url=target)
                endpoints.append(_endpoint(job, allowed.url, path[1:], auth, "json_link", cursor_path="next"))
            elif kind == "header_link":
                allowed.page(path, [{"id": "a-1"}], link=target)
                endpoints.append(_endpoint(job, allowed.url, path[1:], auth, "header_link"))
            else:
                allowed.redirect(path, int(kind[1:]), target)
                endpoints.append(_endpoint(job, allowed.url, path[1:], auth))
    return endpoints


def _other_cases(allowed: LoopbackApi, stranger: LoopbackApi) -> list[dict]:
    allowed.page("/own/1", [{"id": "a-1"}], next_url=f"{allowed.url}/own/2")
    allowed.page("/own/2", [{"id": "a-2"}])
    allowed.redirect("/moved", 302, f"{allowed.url}/own/2")
    return [_endpoint("same_host_links", allowed.url, "own/1", "bearer", "json_link", cursor_path="next"),
            _endpoint("same_host_redirect", allowed.url, "moved", "api_key_header"),
            _endpoint("foreign_base_url", stranger.url, "direct", "bearer"),
            _endpoint("no_allowed_hosts", allowed.url, "own/2", "bearer"),
            _endpoint("plain_http", allowed.url, "own/2", "bearer")]


CONNECTION_OF = {"no_allowed_hosts": "nohosts", "plain_http": "plain"}


@pytest.fixture(scope="module")
def hosts_run(tmp_path_factory):
    """Both servers, the workbook of every case and the summary of one run over it."""
    allowed, stranger = start_loopback_api("127.0.0.1"), start_loopback_api("127.0.0.2")
    tmp = tmp_path_factory.mktemp("hosts")
    endpoints = _foreign_cases(allowed, stranger) + _other_cases(allowed, stranger)
    jobs = [rest_job_row(job_name=e["job_name"], primary_key="id",
                         connection=CONNECTION_OF.get(e["job_name"], "partner")) for e in endpoints]
    book = write_workbook(tmp / "w.xlsx", jobs, extra_sheets={"api_endpoints": endpoints})
    settings = Settings(destination=str(tmp / "lake"), audit_dir=tmp / "audit", log_dir=tmp / "logs",
                        pipelines_dir=tmp / "pipelines", max_workers=4, worker_mode="thread")
    with pytest.MonkeyPatch.context() as env:
        for name in ("PARTNER", "NOHOSTS", "PLAIN"):
            env.setenv(f"SOURCES__{name}__API_KEY", KEY)
        env.setenv("SOURCES__PARTNER__ALLOWED_HOSTS", "127.0.0.1")
        env.setenv("SOURCES__PARTNER__ALLOW_HTTP", "true")
        env.setenv("SOURCES__PLAIN__ALLOWED_HOSTS", "127.0.0.1")
        config = read_workbook(book)
        assert config.errors == [], config.errors
        summary = run_local(make_plan(config, new_run_context()), settings, book)
    yield {j["job_name"]: j for j in summary.jobs}, summary, settings, allowed, stranger
    allowed.stop()
    stranger.stop()


def test_the_stranger_host_received_no_credential_and_no_request(hosts_run):
    jobs, _, _, allowed, stranger = hosts_run
    assert not any(r.carries(KEY) for r in stranger.received), [r.path for r in stranger.received]
    assert stranger.received == []  # refused before sending, not merely stripped
    assert any(r.carries(KEY) for r in allowed.received)  # the key does go where it is allowed


@pytest.mark.parametrize("kind", FOREIGN)
@pytest.mark.parametrize("auth", list(AUTHS))
def test_a_link_or_redirect_to_another_host_refuses_the_page_naming_job_and_host(hosts_run, kind, auth):
    jobs = hosts_run[0]
    job = jobs[f"{kind}_{auth}"]
    assert job["status"] == "failed"
    assert job["error_class"] == "HostNotAllowedError", job["error_message"]
    assert f"job '{kind}_{auth}'" in job["error_message"] and "127.0.0.2" in job["error_message"]
    assert "sources.partner.allowed_hosts" in job["error_message"]


def test_a_base_url_on_a_host_not_allowed_is_refused_before_any_request(hosts_run):
    job = hosts_run[0]["foreign_base_url"]
    assert job["error_class"] == "HostNotAllowedError"
    assert "base_url" in job["error_message"] and "127.0.0.2" in job["error_message"]


def test_links_and_redirects_within_the_allowed_host_still_load(hosts_run):
    jobs = hosts_run[0]
    assert jobs["same_host_links"]["status"] == "succeeded", jobs["same_host_links"]["error_message"]
    assert jobs["same_host_links"]["rows_processed"] == 2
    assert jobs["same_host_redirect"]["status"] == "succeeded", jobs["same_host_redirect"]["error_message"]
    assert jobs["same_host_redirect"]["rows_processed"] == 1


def test_an_api_key_without_allowed_hosts_fails_closed_saying_how_to_set_them(hosts_run):
    job = hosts_run[0]["no_allowed_hosts"]
    assert job["status"] == "failed" and job["error_class"] == "ConnectionConfigError"
    assert "SOURCES__NOHOSTS__ALLOWED_HOSTS" in job["error_message"]
    assert "allowed_hosts" in job["error_message"] and ".dlt/secrets.toml" in job["error_message"]


def test_plain_http_is_refused_unless_the_connection_allows_it(hosts_run):
    job = hosts_run[0]["plain_http"]
    assert job["status"] == "failed" and job["error_class"] == "HostNotAllowedError"
    assert "https" in job["error_message"] and "sources.plain.allow_http" in job["error_message"]


def test_the_key_is_in_no_error_summary_audit_or_log(hosts_run):
    _, summary, settings, _, _ = hosts_run
    logs = "".join(p.read_text() for p in Path(settings.log_dir).rglob("*.log"))
    audit = (settings.audit_dir / "audit_trail.csv").read_text()
    assert KEY not in str(summary.to_dict()) + audit + logs
