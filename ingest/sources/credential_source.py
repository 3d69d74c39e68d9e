"""Where a connection's credentials come from: dlt's config providers asked in one order
(environment, Key Vault when registered, .dlt/secrets.toml, then .dlt/config.toml for a
credential-less URL such as the SQLite demo's), the same for a run (`read_credentials`) and for
`check` and `discover`, which also say where they came from (`find_credentials`). The value is
never shown; the place is (a variable or secret name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dlt

from ingest.core.errors import IngestError, MissingCredentialsError
from ingest.core.keyvault.registration import expected_secret

def credentials_key(connection: str) -> str:
    return f"sources.{connection}.credentials"


def env_var_name(connection: str) -> str:
    return f"SOURCES__{connection.upper()}__CREDENTIALS"


def where_to_set(connection: str) -> str:
    """The places a connection's credentials may be set, as a fix says them."""
    places = [env_var_name(connection)]
    vault = expected_secret(credentials_key(connection))
    if vault:
        places.append(vault)
    return f"set {' or '.join(places)}, or [sources.{connection}] credentials in .dlt/secrets.toml"


_PROVIDER_LABELS = {"Environment Variables": "env", "secrets.toml": "secrets.toml", "config.toml": "config.toml"}


@dataclass(frozen=True)
class FoundCredentials:
    provider: str
    """env, Key Vault, secrets.toml or config.toml."""
    location: str
    """Where in it: the variable's name, the secret's name, the toml key."""
    value: Any

    def __repr__(self) -> str:  # never the value, even in a traceback's locals
        return f"FoundCredentials(provider={self.provider!r}, location={self.location!r})"

    @property
    def served_by(self) -> str:
        return f"{self.provider} ({self.location})"


def label(provider_name: str) -> str:
    return _PROVIDER_LABELS.get(provider_name, "Key Vault" if "vault" in provider_name.lower() else provider_name)


def find_credentials(connection: str) -> FoundCredentials:
    """The first provider holding `sources.<connection>.credentials`; MissingCredentialsError
    naming every place looked in when none does. A provider that fails (Key Vault refusing the
    identity) raises its own error, as it would for a run."""
    *sections, key = credentials_key(connection).split(".")
    looked: list[str] = []
    for accessor in (dlt.secrets, dlt.config):
        for provider in accessor.config_providers:
            if provider.is_empty or (accessor is dlt.config and provider.supports_secrets):
                continue
            try:
                value, where = provider.get_value(key, accessor.default_type, None, *sections)
            except IngestError as exc:  # Key Vault refused or unreachable: keep its class (retry or not)
                raise type(exc)(f"connection '{connection}': {exc}") from None
            except Exception as exc:
                raise MissingCredentialsError(f"connection '{connection}': {label(provider.name)} could not be"
                                              f" read ({type(exc).__name__})") from None
            if value is not None and value != "":
                return FoundCredentials(label(provider.name), where, value)
            looked.append(f"{label(provider.name)} {where}")
    raise MissingCredentialsError(f"connection '{connection}': no credentials found (looked in: {'; '.join(looked)});"
                                  f" {where_to_set(connection)}")


def read_credentials(connection: str) -> Any:
    """The value of a connection's credentials, for a run (`find_credentials`' order and errors)."""
    return find_credentials(connection).value
