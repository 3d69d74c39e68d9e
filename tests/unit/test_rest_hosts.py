"""The host policy of a REST connection (ingest/sources/hosts.py): which URLs a job's session
may request. Address literals and `localhost` only: nothing here resolves a public name.
The same policy against real servers on two loopback hosts: tests/integration/test_rest_hosts.py."""

from __future__ import annotations

import pytest

from ingest.core.errors import ConnectionConfigError, HostNotAllowedError
from ingest.sources.hosts import HostPolicy, host_policy, parse_allowed_hosts

PUBLIC = "https://93.184.216.34/v1"  # a public address literal: no lookup, no connection


@pytest.mark.parametrize("url", ["https://169.254.169.254/metadata", "https://10.1.2.3/", "https://192.168.0.1/",
                                 "https://172.16.5.4/", "https://100.64.0.1/", "https://127.0.0.1/",
                                 "https://[::1]/", "https://[fe80::1]/", "https://[::ffff:10.0.0.1]/",
                                 "https://0.0.0.0/", "https://localhost/"])
def test_a_private_loopback_or_link_local_host_is_refused_unless_listed(url):
    with pytest.raises(HostNotAllowedError, match="is not a public address"):
        HostPolicy("j").check(url, "base_url")
    with pytest.raises(HostNotAllowedError):  # a wildcard is not an explicit listing
        HostPolicy("j", "c", ("*.internal",), allow_http=True).check(url, "base_url")


@pytest.mark.parametrize("url", ["https://[::7f00:1]/", "https://[::127.0.0.1]/", "https://[64:ff9b::7f00:1]/",
                                 "https://[2002:7f00:1::]/", "https://[64:ff9b::a9fe:a9fe]/",
                                 "https://[2002:a00:1::1]/"])
def test_an_ipv6_form_that_embeds_a_private_ipv4_address_is_refused(url):
    """IPv4-compatible, NAT64 and 6to4 forms reach the embedded IPv4 host where they are routed."""
    with pytest.raises(HostNotAllowedError, match="is not a public address"):
        HostPolicy("j").check(url, "base_url")


def test_an_ipv6_form_that_embeds_a_public_ipv4_address_passes():
    HostPolicy("j").check("https://[64:ff9b::5db8:d822]/v1", "base_url")  # NAT64 of PUBLIC


def test_a_host_listed_exactly_is_allowed_even_when_private():
    HostPolicy("j", "c", ("127.0.0.1", "localhost"), allow_http=True).check("http://127.0.0.1:8080/x", "base_url")
    HostPolicy("j", "c", ("localhost",)).check("https://localhost/x", "base_url")


def test_without_an_allow_list_any_public_https_host_passes_for_a_job_without_credential():
    HostPolicy("j").check(PUBLIC, "base_url")


def test_wildcards_match_subdomains_only():
    policy = HostPolicy("j", "c", ("*.example.com",))
    with pytest.raises(HostNotAllowedError, match="not in sources.c.allowed_hosts"):
        policy.check("https://example.com/", "page request")
    with pytest.raises(HostNotAllowedError, match="'evilexample.com'"):
        policy.check("https://evilexample.com/", "page request")
    with pytest.raises(HostNotAllowedError, match="'example.com.evil.org'"):
        policy.check("https://example.com.evil.org/", "page request")


def test_the_refusal_names_job_host_and_setting_and_never_the_query():
    policy = HostPolicy("orders_api", "crm", ("api.crm.example",))
    with pytest.raises(HostNotAllowedError) as refused:
        policy.check("https://collector.example/next?api_key=Canary-Query-Key-1", "page request")
    message = str(refused.value)
    assert message.startswith("job 'orders_api': page request to host 'collector.example' refused before sending")
    assert "sources.crm.allowed_hosts (api.crm.example)" in message and "Canary-Query-Key-1" not in message


def test_plain_http_needs_allow_http():
    with pytest.raises(HostNotAllowedError, match=r"http is not https; .*sources.c.allow_http = true"):
        HostPolicy("j", "c", ("93.184.216.34",)).check("http://93.184.216.34/", "base_url")
    HostPolicy("j", "c", ("93.184.216.34",), allow_http=True).check("http://93.184.216.34/", "base_url")
    with pytest.raises(HostNotAllowedError, match="ftp is not https"):
        HostPolicy("j", "c", ("93.184.216.34",), allow_http=True).check("ftp://93.184.216.34/", "base_url")


@pytest.mark.parametrize("raw, hosts", [("api.example.com", ("api.example.com",)),
                                        ("API.example.com., *.cdn.example.com", ("api.example.com", "*.cdn.example.com")),
                                        ('["a.example", "10.0.0.5"]', ("a.example", "10.0.0.5")),
                                        (["a.example", "[::1]"], ("a.example", "::1")), ("", ()), (None, ())])
def test_allowed_hosts_are_read_from_text_json_or_a_list(raw, hosts):
    assert parse_allowed_hosts("c", raw) == hosts


@pytest.mark.parametrize("entry", ["https://api.example.com", "api.example.com:443", "api.example.com/v1",
                                   "user@api.example.com", "*", "*.*.example.com", "bad-.example.com"])
def test_an_allowed_hosts_entry_that_is_not_a_host_is_a_config_error(entry):
    with pytest.raises(ConnectionConfigError, match="connection 'c': allowed_hosts entry"):
        parse_allowed_hosts("c", entry)


def test_a_credential_without_allowed_hosts_fails_closed(monkeypatch):
    monkeypatch.delenv("SOURCES__LONELY__ALLOWED_HOSTS", raising=False)
    with pytest.raises(ConnectionConfigError, match="SOURCES__LONELY__ALLOWED_HOSTS"):
        host_policy("j", "lonely", sends_credential=True)
    assert host_policy("j", "lonely", sends_credential=False) == HostPolicy("j", "lonely")


def test_the_settings_come_from_dlt_providers_beside_the_secret(monkeypatch):
    monkeypatch.setenv("SOURCES__CRM__ALLOWED_HOSTS", "api.crm.example,*.cdn.crm.example")
    monkeypatch.setenv("SOURCES__CRM__ALLOW_HTTP", "false")
    policy = host_policy("j", "crm", sends_credential=True)
    assert policy == HostPolicy("j", "crm", ("api.crm.example", "*.cdn.crm.example"), allow_http=False)
    monkeypatch.setenv("SOURCES__CRM__ALLOW_HTTP", "maybe")
    with pytest.raises(ConnectionConfigError, match="allow_http must be true or false"):
        host_policy("j", "crm", sends_credential=True)
