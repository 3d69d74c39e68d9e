"""Build the SecretClient (DefaultAzureCredential: managed identity on Azure, developer
credentials locally) and put the provider into dlt's lookup order:

    1. environment variables (on Azure including app settings that are Key Vault references)
    2. Azure Key Vault (this provider)
    3. .dlt/secrets.toml, then .dlt/config.toml (local runs)

`dlt.secrets.register_provider` appends after the toml files; the provider is then moved to
sit right after the environment, so a stray secrets.toml cannot shadow the vault.
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common.configuration.container import Container
from dlt.common.configuration.providers import ConfigProvider, EnvironProvider
from dlt.common.configuration.specs import PluggableRunContext

from ingest.core.errors import ConfigError, IngestError
from ingest.core.keyvault.names import UnmappableKeyError
from ingest.core.keyvault.provider import PROVIDER_NAME, KeyVaultProvider

if TYPE_CHECKING:
    import requests
    from azure.core.credentials import TokenCredential
    from azure.keyvault.secrets import SecretClient

    from ingest.core.settings import Settings

log = logging.getLogger("ingest.keyvault")


CONNECTION_KWARGS = ("connection_verify", "connection_cert", "connection_timeout", "read_timeout")
"""azure-core reads these when it builds the transport; with our own transport they go to it."""
_sessions: "weakref.WeakSet[requests.Session]" = weakref.WeakSet()


def make_secret_client(vault_url: str, credential: "TokenCredential | None" = None,
                       **client_kwargs: Any) -> "SecretClient":
    """A SecretClient for `vault_url`; DefaultAzureCredential unless a credential is given.
    Its HTTP session is ours, so its pooled connections can be dropped before a fork."""
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from azure.keyvault.secrets import SecretClient

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    if "transport" not in client_kwargs:
        session = requests.Session()
        _sessions.add(session)
        connection = {k: client_kwargs.pop(k) for k in CONNECTION_KWARGS if k in client_kwargs}
        client_kwargs["transport"] = RequestsTransport(session=session, session_owner=False, **connection)
    return SecretClient(vault_url, credential, **client_kwargs)


def _drop_pooled_connections() -> None:
    """Runs in the parent before each fork (ingest/drivers/local/job_processes.py forks one process per job):
    a TLS connection kept open in the pool would be inherited by every child, and two children
    writing on one TLS session break it ('bad record mac'). The session stays usable and
    opens new connections when asked."""
    for session in list(_sessions):
        session.close()


os.register_at_fork(before=_drop_pooled_connections)


def register_key_vault(settings: "Settings", credential: "TokenCredential | None" = None,
                       **client_kwargs: Any) -> KeyVaultProvider | None:
    """Register the provider when `INGEST_KEY_VAULT_URL` is set (replacing an earlier one);
    None when it is not set. `client_kwargs` go to SecretClient (tests pass the certificate)."""
    if not settings.key_vault_url:
        return None
    client = make_secret_client(settings.key_vault_url, credential, **client_kwargs)
    provider = KeyVaultProvider(client, prefix=settings.key_vault_prefix, ttl_s=settings.key_vault_cache_ttl_s)
    install(provider)
    log.info("Key Vault %s registered as a dlt config provider (prefix %r, cache %ss)",
             settings.key_vault_url, settings.key_vault_prefix, settings.key_vault_cache_ttl_s)
    return provider


def register_from_environment() -> KeyVaultProvider | None:
    """At the Function App's start: register from the app settings. A bad setting is logged,
    not raised, so the app still loads; every function then reports it (blueprint.settings)."""
    from ingest.core.settings import Settings

    try:
        return register_key_vault(Settings.from_env())
    except ConfigError as exc:
        log.error("Key Vault provider not registered: %s", exc)
        return None


def _providers() -> list[ConfigProvider]:
    return Container()[PluggableRunContext].providers.providers


def install(provider: KeyVaultProvider) -> None:
    """Register `provider` with dlt and place it right after the environment provider."""
    uninstall()
    dlt.secrets.register_provider(provider)
    providers = _providers()
    providers.remove(provider)
    after_env = next((i + 1 for i, p in enumerate(providers) if isinstance(p, EnvironProvider)), 0)
    providers.insert(after_env, provider)


def uninstall() -> None:
    providers = _providers()
    providers[:] = [p for p in providers if p.name != PROVIDER_NAME]


def registered() -> KeyVaultProvider | None:
    return next((p for p in _providers() if isinstance(p, KeyVaultProvider)), None)


def expected_secret(key: str) -> str | None:
    """How to put the dlt `key` into the registered vault, for error messages; None when no
    vault is registered."""
    provider = registered()
    if provider is None:
        return None
    try:
        return f"Key Vault secret '{provider.secret_name(key)}' in {provider.client.vault_url}"
    except UnmappableKeyError as exc:
        return f"no Key Vault secret ({exc})"


def refresh_rotated_credentials(key: str) -> bool:
    """True when the credentials at `key` came from the vault, were fetched again, and changed:
    worth one more try. A vault that fails now leaves the job's first error standing."""
    provider = registered()
    if provider is None:
        return False
    try:
        return provider.refresh_if_rotated(key)
    except IngestError as exc:
        log.warning("could not fetch %s again after it was rejected: %s", key, exc)
        return False
