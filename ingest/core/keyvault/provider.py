"""Azure Key Vault as a dlt config provider, with a TTL cache and a refresh for rotations.

dlt has no Key Vault provider (dlt #4076). dlt's own vault providers (`VaultDocProvider`:
Google, AWS) merge every secret into one document cached for the life of the process; here a
secret must expire after a TTL, be refetched alone when a source rejects it, and be audited per
access, so this provider keeps one cache entry per secret instead. It answers only what it is
meant for: secret-typed keys (dlt's `is_secret_hint`) under the sections it serves (by default
`sources`, `destination`, `alerts`), not scoped to a pipeline name, and mappable to a secret
name (`ingest.core.keyvault.names`). Everything else is "not here", so dlt moves on.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, Sequence, Tuple, Type

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from dlt.common.configuration.providers import ConfigProvider
from dlt.common.configuration.specs.base_configuration import is_secret_hint

from ingest.core.errors import KeyVaultAccessError, KeyVaultUnavailableError
from ingest.core.keyvault import audit
from ingest.core.keyvault.names import PREFIX, UnmappableKeyError, secret_name
from ingest.core.redact import redact, register_secret, register_url_password

log = logging.getLogger("ingest.keyvault")

PROVIDER_NAME = "Azure Key Vault"
DEFAULT_SECTIONS = ("sources", "destination", "alerts", "lineage")
"""Top-level dlt sections looked up in the vault: connections and API keys, lake keys, SMTP,
the OpenLineage endpoint's API key."""
DEFAULT_TTL_S = 300
SETTING_SUFFIXES = ("--allowed-hosts", "--allow-http")
"""Vault entries that are settings kept beside a secret, not secrets: a REST connection's
`allowed_hosts` and `allow_http` (ingest/sources/hosts.py). Their values are not registered
for masking: a host must stay readable in errors, and masking `false` everywhere would break
every JSON document and log line that holds the word."""


class SecretReader(Protocol):
    """What the provider needs of `azure.keyvault.secrets.SecretClient`."""

    vault_url: str

    def get_secret(self, name: str, version: Optional[str] = None, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class CachedSecret:
    value: str | None
    """None: the vault said the secret does not exist (cached too, for the same TTL)."""
    version: str | None
    fetched_at: float


class KeyVaultProvider(ConfigProvider):
    def __init__(self, client: SecretReader, prefix: str = "", ttl_s: float = DEFAULT_TTL_S,
                 sections: Sequence[str] = DEFAULT_SECTIONS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if prefix and not PREFIX.match(prefix):
            raise ValueError(f"Key Vault prefix {prefix!r} is not lowercase letters and digits with single dashes")
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.sections = tuple(sections)
        self._clock = clock
        self._entries: dict[str, CachedSecret] = {}
        self._fetch_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # -- dlt's ConfigProvider interface ---------------------------------------------------------
    @property
    def name(self) -> str:
        return PROVIDER_NAME

    @property
    def supports_secrets(self) -> bool:
        return True

    @property
    def supports_sections(self) -> bool:
        return True

    @property
    def is_empty(self) -> bool:
        return False

    @property
    def locations(self) -> Sequence[str]:
        return [self.client.vault_url]

    def get_value(self, key: str, hint: Type[Any], pipeline_name: Optional[str],
                  *sections: str) -> Tuple[Optional[Any], str]:
        parts = (*sections, key)
        dotted = ".".join(parts)
        if pipeline_name or not sections or sections[0] not in self.sections or not is_secret_hint(hint):
            return None, dotted
        try:
            name = secret_name(self.prefix, parts)
        except UnmappableKeyError as exc:
            log.debug("not looked up in Key Vault: %s", exc)
            return None, dotted
        return self.read(name).value, name

    # -- cache ----------------------------------------------------------------------------------
    def secret_name(self, key: str) -> str:
        """The secret name of a dotted dlt key; raises UnmappableKeyError."""
        return secret_name(self.prefix, key.split("."))

    def read(self, name: str) -> CachedSecret:
        """The secret from the cache while fresh, else from the vault (one fetch per name at once)."""
        entry = self._fresh(name)
        if entry is None:
            with self._lock_for(name):
                entry = self._fresh(name)
                if entry is None:
                    return self._fetch(name)
        if entry.value is not None:
            audit.record(name, entry.version, audit.FROM_CACHE)
        return entry

    def refresh_if_rotated(self, key: str) -> bool:
        """After a source rejected the credentials at `key`: fetch the secret again (once) unless
        another job already did, and say whether the vault now holds another version than the
        one the current job was given. False when the job's credentials did not come from here."""
        try:
            name = self.secret_name(key)
        except UnmappableKeyError:
            return False
        used = audit.version_served(name)
        if used is None:
            return False
        with self._lock_for(name):
            entry = self._entries.get(name)
            if entry is None or entry.version == used:
                self.invalidate(name)
                entry = self._fetch(name)
        rotated = entry.value is not None and entry.version != used
        log.warning("secret %s was rejected by the source; the vault holds %s", name,
                    f"a new version {entry.version}" if rotated else "no newer version")
        return rotated

    def invalidate(self, name: str) -> None:
        with self._guard:
            self._entries.pop(name, None)

    def _fresh(self, name: str) -> CachedSecret | None:
        with self._guard:
            entry = self._entries.get(name)
        if entry is not None and self._clock() - entry.fetched_at < self.ttl_s:
            return entry
        return None

    def _lock_for(self, name: str) -> threading.Lock:
        with self._guard:
            return self._fetch_locks.setdefault(name, threading.Lock())

    def _fetch(self, name: str) -> CachedSecret:
        """One GET to the vault; caches the answer (found or not found) and audits it."""
        try:
            secret = self.client.get_secret(name)
        except ResourceNotFoundError:
            entry = CachedSecret(None, None, self._clock())
            audit.record(name, None, audit.NOT_FOUND)
        except ClientAuthenticationError as exc:  # no token for the identity, or token refused
            audit.record(name, None, audit.DENIED)
            raise KeyVaultAccessError(self._message(name, "could not authenticate", exc)) from None
        except HttpResponseError as exc:
            status = exc.status_code or 0
            if status == 429 or status >= 500:
                audit.record(name, None, audit.UNREACHABLE)
                raise KeyVaultUnavailableError(self._message(name, f"answered {status}", exc)) from None
            audit.record(name, None, audit.DENIED)
            raise KeyVaultAccessError(self._message(name, f"refused ({status})", exc)) from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            audit.record(name, None, audit.UNREACHABLE)
            raise KeyVaultUnavailableError(self._message(name, "could not be reached", exc)) from None
        else:
            value = secret.value
            if not name.endswith(SETTING_SUFFIXES):
                register_secret(value)
                register_url_password(value or "")
            entry = CachedSecret(value, secret.properties.version, self._clock())
            audit.record(name, entry.version, audit.FROM_VAULT)
        with self._guard:
            self._entries[name] = entry
        return entry

    def _message(self, name: str, what: str, exc: BaseException) -> str:
        text = str(getattr(exc, "message", None) or exc).strip()
        detail = " ".join(text.splitlines()[0].split()) if text else type(exc).__name__
        detail = redact(detail)[:300]
        return f"Key Vault {self.client.vault_url} {what} reading secret '{name}': {detail}"
