"""Credentials from Azure Key Vault through dlt, with the real `azure-keyvault-secrets`
SecretClient against the HTTPS fake in tests/fake_keyvault.py (TLS on 127.0.0.1 with a
self-signed certificate, the bearer challenge, Key Vault REST paths and error bodies). The
token comes from FakeTokenCredential: Entra ID cannot run here. Jobs load from the session's
real PostgreSQL server."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime
from pathlib import Path

import dlt
import pytest

from ingest.config import read_workbook
from ingest.core.errors import KeyVaultAccessError, KeyVaultUnavailableError, MissingCredentialsError, SettingError
from ingest.core.keyvault.audit import AUDIT_LOGGER, job_scope
from ingest.core.keyvault.provider import PROVIDER_NAME, KeyVaultProvider
from ingest.core.keyvault.registration import (install, make_secret_client, refresh_rotated_credentials,
                                          register_key_vault, registered, uninstall)
from ingest.core.logging_setup import setup_logging
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from ingest.core.settings import Settings
from ingest.sources.connections import resolve_connection_url
from tests.fake_keyvault import FakeKeyVault, FakeTokenCredential
from tests.integration.conftest import create_orders, sql
from tests.services import free_port
from tests.workbooks import job_row, write_workbook

PREFIX = "dev"


def client_options(vault: FakeKeyVault) -> dict:
    """Trust the fake's certificate; its challenge names vault.azure.net, not 127.0.0.1."""
    return {"verify_challenge_resource": False, "connection_verify": str(vault.cert_path),
            "retry_backoff_factor": 0.01}


@pytest.fixture
def vault():
    fake = FakeKeyVault().start()
    yield fake
    fake.stop()


@pytest.fixture
def credential():
    return FakeTokenCredential()


@pytest.fixture
def kv(vault, credential):
    """The provider, registered in dlt's lookup order, talking to the fake; removed afterwards."""
    provider = register_key_vault(Settings(key_vault_url=vault.url, key_vault_prefix=PREFIX),
                                  credential, **client_options(vault))
    yield provider
    uninstall()


@pytest.fixture
def audit_log(caplog):
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    return caplog


@pytest.fixture
def product_log(tmp_path):
    """The app's own log file (masking filter included), at DEBUG; root handlers restored after."""
    root = logging.getLogger()
    level = root.level
    path = setup_logging(tmp_path / "applog", verbose=True)
    yield path
    for handler in [h for h in root.handlers if getattr(h, "_ingest", False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


def accesses(caplog, name: str | None = None) -> list[dict]:
    found = [r.secret_access for r in caplog.records if hasattr(r, "secret_access")]
    return [a for a in found if name is None or a["name"] == name]


def run(workbook: Path, settings):
    plan = make_plan(read_workbook(workbook), new_run_context())
    return run_local(plan, settings, workbook)


# -- resolution through dlt ------------------------------------------------------------------
def test_dlt_resolves_connection_credentials_from_the_vault(vault, kv, credential, audit_log):
    canary = "Canary-Kv-70215"
    url = f"postgresql://app:{canary}@db.internal:5432/sales"
    name = "dev--sources--sales-db--credentials"
    version = vault.set_secret(name, url)

    assert dlt.secrets.get("sources.sales_db.credentials") == url
    assert resolve_connection_url("sales_db").password == canary

    # the real client met the challenge, asked the credential for a vault token, then sent it
    assert [(r.status, r.authorized) for r in vault.requests[:2]] == [(401, False), (200, True)]
    assert credential.scopes == [("https://vault.azure.net/.default",)]
    assert vault.gets(name) == 1
    first, second = accesses(audit_log, name)
    assert (first["version"], first["outcome"], second["outcome"]) == (version, "vault", "cache")
    assert datetime.fromisoformat(first["at"]).tzinfo is not None
    assert canary not in audit_log.text and url not in audit_log.text


def test_a_rest_connections_allowed_hosts_come_from_the_vault_beside_its_key(vault, kv):
    """The hosts an API key may go to live beside the key (ingest/sources/hosts.py), so an
    operator sets both in the vault; the workbook names neither."""
    from ingest.core.redact import redact
    from ingest.sources.hosts import HostPolicy, host_policy

    vault.set_secret("dev--sources--partner--api-key", "Canary-Kv-Key-3131")
    vault.set_secret("dev--sources--partner--allowed-hosts", "api.partner.example, *.cdn.partner.example")
    vault.set_secret("dev--sources--partner--allow-http", "false")
    assert host_policy("j", "partner", sends_credential=True) == HostPolicy(
        "j", "partner", ("api.partner.example", "*.cdn.partner.example"), allow_http=False)
    assert vault.gets("dev--sources--partner--allowed-hosts") == 1
    # settings, not secrets: not masked (a masked `false` broke the next run summary's JSON)
    assert redact("allow_http false, host api.partner.example") == "allow_http false, host api.partner.example"
    assert "Canary-Kv-Key-3131" not in redact(dlt.secrets.get("sources.partner.api_key"))


def test_environment_prefix_selects_the_environment(vault, credential):
    vault.set_secret("dev--sources--crm--api-key", "dev-key-1111")
    vault.set_secret("prod--sources--crm--api-key", "prod-key-2222")
    vault.set_secret("sources--crm--api-key", "unprefixed-3333")
    try:
        for prefix, expected in (("prod", "prod-key-2222"), ("dev", "dev-key-1111"), ("", "unprefixed-3333")):
            register_key_vault(Settings(key_vault_url=vault.url, key_vault_prefix=prefix), credential,
                               **client_options(vault))
            assert dlt.secrets.get("sources.crm.api_key") == expected, prefix
    finally:
        uninstall()


def test_lookup_order_is_env_then_vault_then_secrets_toml(vault, kv, monkeypatch):
    names = [p.name for p in dlt.secrets.config_providers]
    assert names.index("Environment Variables") + 1 == names.index(PROVIDER_NAME)
    assert names.index(PROVIDER_NAME) < names.index("secrets.toml")
    key = "sources.ordered.credentials"
    vault.set_secret("dev--sources--ordered--credentials", "from-vault")
    with dlt.secrets.values({key: "from-toml"}):
        assert dlt.secrets.get(key) == "from-vault"
        monkeypatch.setenv("SOURCES__ORDERED__CREDENTIALS", "from-env")
        assert dlt.secrets.get(key) == "from-env"
        monkeypatch.delenv("SOURCES__ORDERED__CREDENTIALS")
        uninstall()
        assert dlt.secrets.get(key) == "from-toml"


def test_only_secret_keys_of_served_sections_reach_the_vault(vault, kv):
    """Plain config values, pipeline-scoped keys and other sections are not looked up."""
    vault.set_secret("dev--sources--x--credentials", "secret-x")
    assert dlt.config.get("sources.x.credentials") is None  # a config (non-secret) lookup
    assert dlt.secrets.get("runtime.slack_incoming_hook") is None
    assert dlt.secrets.get("sources.Bad__Name.credentials") is None  # no valid secret name
    assert [r.name for r in vault.requests] == []
    assert dlt.secrets.get("sources.x.credentials") == "secret-x"



def test_the_lineage_endpoint_key_is_served_from_the_vault(vault, kv):
    """INGEST_LINEAGE_TRANSPORT=http reads its API key as `lineage.api_key` (ingest/records/lineage/emitter.py)."""
    vault.set_secret("dev--lineage--api-key", "lineage-key-from-vault")
    assert dlt.secrets.get("lineage.api_key") == "lineage-key-from-vault"
    assert {r.name for r in vault.requests} == {"dev--lineage--api-key"}


# -- cache ---------------------------------------------------------------------------------------
def test_cache_serves_repeat_reads_until_the_ttl_expires(vault, credential, audit_log):
    now = [1000.0]
    client = make_secret_client(vault.url, credential, **client_options(vault))
    install(KeyVaultProvider(client, prefix=PREFIX, ttl_s=60, clock=lambda: now[0]))
    name, key = "dev--sources--cached--credentials", "sources.cached.credentials"
    try:
        v1 = vault.set_secret(name, "first-value-1")
        assert [dlt.secrets.get(key) for _ in range(3)] == ["first-value-1"] * 3
        now[0] += 59
        assert dlt.secrets.get(key) == "first-value-1"
        assert vault.gets(name) == 1
        v2 = vault.set_secret(name, "second-value-2")
        now[0] += 2  # 61 s after the fetch: expired
        assert dlt.secrets.get(key) == "second-value-2"
        assert vault.gets(name) == 2
        assert [(a["version"], a["outcome"]) for a in accesses(audit_log, name)] == [
            (v1, "vault"), (v1, "cache"), (v1, "cache"), (v1, "cache"), (v2, "vault")]

        # a missing secret is remembered too, for the same TTL
        assert dlt.secrets.get("sources.absent.credentials") is None
        assert dlt.secrets.get("sources.absent.credentials") is None
        assert vault.gets("dev--sources--absent--credentials") == 1
    finally:
        uninstall()


def test_concurrent_jobs_fetch_a_secret_once(vault, kv):
    vault.set_secret("dev--sources--shared--credentials", "shared-value-9")
    barrier = threading.Barrier(8)
    values: list[str] = []

    def read() -> None:
        barrier.wait()
        values.append(dlt.secrets.get("sources.shared.credentials"))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert values == ["shared-value-9"] * 8
    assert vault.gets("dev--sources--shared--credentials") == 1


# -- failures of the vault ---------------------------------------------------------------------
def test_vault_unreachable_is_a_transient_error_naming_vault_and_secret(credential):
    url = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    register_key_vault(Settings(key_vault_url=url, key_vault_prefix=PREFIX), credential,
                       verify_challenge_resource=False, retry_backoff_factor=0.01)
    try:
        with pytest.raises(KeyVaultUnavailableError) as caught:
            resolve_connection_url("kv_down")
        message = str(caught.value)
        assert "connection 'kv_down'" in message and url in message
        assert "could not be reached" in message and "'dev--sources--kv-down--credentials'" in message
    finally:
        uninstall()


def test_untrusted_certificate_is_refused(vault, credential):
    """Without the fake's certificate in the trust store the client must not talk to it."""
    vault.set_secret("dev--sources--tls--credentials", "never-served-1")
    client = make_secret_client(vault.url, credential, verify_challenge_resource=False, retry_total=0)
    provider = KeyVaultProvider(client, prefix=PREFIX)
    with pytest.raises(KeyVaultUnavailableError, match="(?i)certificate"):
        provider.read("dev--sources--tls--credentials")
    assert vault.gets("dev--sources--tls--credentials") == 0


def test_refused_and_failing_vault_answers_are_not_cached(vault, kv):
    name, key = "dev--sources--guarded--credentials", "sources.guarded.credentials"
    vault.set_secret(name, "guarded-value-5")
    vault.denied.add(name)
    with pytest.raises(KeyVaultAccessError, match=f"refused \\(403\\) reading secret '{name}'"):
        dlt.secrets.get(key)
    vault.denied.clear()
    vault.fail_status = 503
    with pytest.raises(KeyVaultUnavailableError, match=f"answered 503 reading secret '{name}'"):
        dlt.secrets.get(key)
    vault.fail_status = None
    assert dlt.secrets.get(key) == "guarded-value-5"


def test_a_token_the_vault_rejects_is_an_access_error(vault):
    register_key_vault(Settings(key_vault_url=vault.url, key_vault_prefix=PREFIX),
                       FakeTokenCredential("not-the-vaults-token"), **client_options(vault))
    try:
        with pytest.raises(KeyVaultAccessError, match="could not authenticate reading secret"):
            dlt.secrets.get("sources.any.credentials")
    finally:
        uninstall()


# -- jobs ------------------------------------------------------------------------------------------
def test_postgres_job_loads_with_credentials_only_from_the_vault(
        postgres, pg_schema, vault, kv, settings, tmp_path, audit_log, monkeypatch):
    """Done criterion of the issue: the connection's URL exists only in the fake vault. A second
    job whose secret is missing fails alone, naming its connection and the secret expected."""
    monkeypatch.delenv("SOURCES__KV_PG__CREDENTIALS", raising=False)
    create_orders(postgres, pg_schema, 300)
    name = "dev--sources--kv-pg--credentials"
    version = vault.set_secret(name, postgres.url())
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="kv_orders", connection="kv_pg", source_schema=pg_schema),
        job_row(job_name="kv_nosecret", connection="kv_missing", source_schema=pg_schema, target_table="o2")])

    summary = run(book, settings)

    by_name = {j["job_name"]: j for j in summary.jobs}
    assert by_name["kv_orders"]["status"] == "succeeded", by_name["kv_orders"]
    assert by_name["kv_orders"]["rows_processed"] == 300
    assert list(Path(settings.destination, settings.dataset, "orders").rglob("*.parquet"))
    missing = by_name["kv_nosecret"]
    assert missing["error_class"] == "MissingCredentialsError"
    assert "connection 'kv_missing'" in missing["error_message"]
    assert "Key Vault secret 'dev--sources--kv-missing--credentials'" in missing["error_message"]
    served = accesses(audit_log, name)
    assert served and all(a["job"] == "kv_orders" and a["version"] == version for a in served)
    assert [a["job"] for a in accesses(audit_log, "dev--sources--kv-missing--credentials")] == ["kv_nosecret"]
    # what a load asks the vault for (each once: then the cache answers): the connections, and
    # the lake's credentials keys dlt looks up while resolving the destination
    asked = sorted(r.name for r in vault.requests if r.authorized)
    assert len(asked) == len(set(asked))
    assert [n for n in asked if n.startswith("dev--sources--")] == sorted(["dev--sources--kv-missing--credentials", name])
    assert {n for n in asked if not n.startswith("dev--sources--")} <= {
        "dev--destination--credentials", "dev--destination--filesystem--credentials"}

    uninstall()  # without the vault the same connection has no credentials at all
    with pytest.raises(MissingCredentialsError, match="SOURCES__KV_PG__CREDENTIALS"):
        resolve_connection_url("kv_pg")


class RotatingRole:
    """A login role of this test's own on the shared server: only its password is changed."""

    def __init__(self, postgres, schema: str) -> None:
        self.postgres = postgres
        self.name = f"kv_rot_{uuid.uuid4().hex[:8]}"
        self.password = f"Old-{uuid.uuid4().hex[:12]}"
        sql(postgres, f"CREATE ROLE {self.name} LOGIN PASSWORD '{self.password}';"
                      f" GRANT USAGE ON SCHEMA {schema} TO {self.name};"
                      f" GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {self.name}")

    def url(self, password: str | None = None) -> str:
        return (f"postgresql://{self.name}:{password or self.password}@127.0.0.1:{self.postgres.port}/"
                f"{self.postgres.database}")

    def change_password(self) -> str:
        self.password = f"New-{uuid.uuid4().hex[:12]}"
        sql(self.postgres, f"ALTER ROLE {self.name} PASSWORD '{self.password}'")
        return self.password

    def drop(self) -> None:
        sql(self.postgres, f"DROP OWNED BY {self.name}; DROP ROLE {self.name}")


@pytest.fixture
def rotating_role(postgres, pg_schema):
    create_orders(postgres, pg_schema, 120)
    role = RotatingRole(postgres, pg_schema)
    yield role
    role.drop()


def test_rotated_password_is_fetched_again_once_and_the_job_succeeds(
        pg_schema, rotating_role, vault, kv, settings, tmp_path, audit_log, product_log):
    """Done criterion of the issue. The vault serves the old password and the first run loads;
    then the role's password changes (ALTER ROLE) and the vault gets a new version. The next
    run is served the cached old password, is rejected, fetches the secret again once and runs
    the job once more with the new one.

    Jobs in threads: the vault cache lives in the process that runs the jobs, as in a warm
    Functions worker (the Azure path). The local runner's forked job processes start from the
    parent's cache, so each of their runs reads the vault afresh."""
    settings = settings.with_overrides(worker_mode="thread")
    name = "dev--sources--kv-rot--credentials"
    old_password = rotating_role.password
    v1 = vault.set_secret(name, rotating_role.url())
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="kv_rot", connection="kv_rot",
                                                        source_schema=pg_schema)])
    first = run(book, settings)
    assert first.jobs[0]["status"] == "succeeded", first.jobs[0]

    new_password = rotating_role.change_password()
    v2 = vault.set_secret(name, rotating_role.url())
    second = run(book, settings)

    job = second.jobs[0]
    assert job["status"] == "succeeded", job
    assert job["rows_processed"] == 120
    assert vault.gets(name) == 2  # the first fetch, and exactly one after the rejection
    assert [(a["version"], a["outcome"], a["job"]) for a in accesses(audit_log, name)] == [
        (v1, "vault", "kv_rot"),                            # first run
        (v1, "cache", "kv_rot"),                            # second run: stale, rejected
        (v2, "vault", "kv_rot"), (v2, "cache", "kv_rot")]  # fetched again, job run once more
    log_text = product_log.read_text()
    assert "credentials rejected, Key Vault has a new version: running once more" in log_text
    assert f"version={v2}" in log_text
    everything = (log_text + (settings.audit_dir / "audit_trail.csv").read_text()
                  + json.dumps(first.to_dict(), default=str) + json.dumps(second.to_dict(), default=str))
    for password in (old_password, new_password):
        assert password not in everything


def test_rejected_credentials_without_a_new_version_fail_after_one_fetch(
        pg_schema, rotating_role, vault, kv, settings, tmp_path, audit_log, product_log):
    name = "dev--sources--kv-stale--credentials"
    vault.set_secret(name, rotating_role.url())
    new_password = rotating_role.change_password()  # the vault was not updated
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="kv_stale", connection="kv_stale",
                                                        source_schema=pg_schema)])
    summary = run(book, settings)

    job = summary.jobs[0]
    assert job["status"] == "failed" and job["error_class"] == "SourceAuthenticationError"
    assert vault.gets(name) == 2  # fetched again once, same version: the job is not re-run
    log_text = product_log.read_text()
    assert "running once more" not in log_text
    assert f"secret {name} was rejected by the source; the vault holds no newer version" in log_text
    assert new_password not in log_text + json.dumps(summary.to_dict(), default=str)


def test_credentials_from_the_environment_are_not_refreshed_from_the_vault(vault, kv, monkeypatch):
    monkeypatch.setenv("SOURCES__ENVONLY__CREDENTIALS", "postgresql://u:env-pw-1234@h/db")
    vault.set_secret("dev--sources--envonly--credentials", "postgresql://u:vault-pw-5678@h/db")
    with job_scope("envonly_job"):
        assert resolve_connection_url("envonly").password == "env-pw-1234"
        assert refresh_rotated_credentials("sources.envonly.credentials") is False
    assert vault.gets("dev--sources--envonly--credentials") == 0


# -- start-up ----------------------------------------------------------------------------------
def test_cli_run_registers_the_vault_from_settings(tmp_path, monkeypatch):
    """`python -m ingest run` registers the provider (with DefaultAzureCredential) when
    INGEST_KEY_VAULT_URL is set. No job is enabled, so no token is ever asked for."""
    from azure.identity import DefaultAzureCredential

    from ingest.cli import main

    for key, value in {"INGEST_KEY_VAULT_URL": "https://ingest-test.vault.azure.net",
                       "INGEST_KEY_VAULT_PREFIX": "staging", "INGEST_KEY_VAULT_CACHE_TTL_S": "42",
                       "INGEST_LOG_DIR": str(tmp_path / "logs"), "INGEST_AUDIT_DIR": str(tmp_path / "audit"),
                       "INGEST_DESTINATION": str(tmp_path / "lake")}.items():
        monkeypatch.setenv(key, value)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(enabled="N")])
    root_handlers = list(logging.getLogger().handlers)
    try:
        assert main(["run", "--config", str(book)]) == 0
        provider = registered()
        assert provider is not None and provider.client.vault_url == "https://ingest-test.vault.azure.net"
        assert (provider.prefix, provider.ttl_s) == ("staging", 42)
        policy = provider.client._client._config.authentication_policy
        assert isinstance(policy._credential, DefaultAzureCredential)
    finally:
        uninstall()
        logging.getLogger().handlers[:] = root_handlers


def test_function_app_registers_the_vault_at_startup(monkeypatch):
    import importlib

    import function_app
    from ingest.drivers.azure import blueprint

    monkeypatch.setenv("INGEST_KEY_VAULT_URL", "https://ingest-app.vault.azure.net")
    monkeypatch.setenv("INGEST_KEY_VAULT_PREFIX", "prod")
    try:
        importlib.reload(function_app)
        provider = registered()
        assert provider is not None and provider.client.vault_url == "https://ingest-app.vault.azure.net"
        assert provider.prefix == "prod"
        # a bad setting does not stop the app from loading; every function reports it instead
        uninstall()
        monkeypatch.setenv("INGEST_KEY_VAULT_URL", "http://ingest-app.vault.azure.net")
        importlib.reload(function_app)
        assert registered() is None
        blueprint.settings.cache_clear()
        with pytest.raises(SettingError, match="INGEST_KEY_VAULT_URL='http://ingest-app"):
            blueprint.settings()
    finally:
        uninstall()
        monkeypatch.delenv("INGEST_KEY_VAULT_URL")
        blueprint.settings.cache_clear()
        importlib.reload(function_app)
    assert registered() is None
