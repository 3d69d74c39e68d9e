"""The dlt key -> Key Vault secret name mapping, and the Key Vault settings."""

from __future__ import annotations

import itertools
import re

import pytest

from ingest.core.errors import SettingError
from ingest.core.keyvault.names import UnmappableKeyError, dlt_key, secret_name, secret_name_for_key
from ingest.core.settings import Settings

VAULT_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")


@pytest.mark.parametrize("prefix, key, name", [
    ("dev", "sources.sales_db.credentials", "dev--sources--sales-db--credentials"),
    ("prod-eu", "sources.crm_api.api_key", "prod-eu--sources--crm-api--api-key"),
    ("staging", "alerts.smtp_password", "staging--alerts--smtp-password"),
    ("", "destination.filesystem.credentials", "destination--filesystem--credentials"),
])
def test_documented_examples(prefix, key, name):
    assert secret_name_for_key(prefix, key) == name
    assert VAULT_NAME.match(name)
    assert dlt_key(prefix, name) == key


def test_mapping_is_unambiguous_over_its_domain():
    """Every key built from the awkward pieces maps to a distinct valid name that maps back."""
    pieces = ["a", "b", "a_b", "a1", "1", "ab_c_d"]
    keys = {".".join(p) for n in (1, 2, 3) for p in itertools.product(pieces, repeat=n)}
    names = {}
    for key in keys:
        name = secret_name_for_key("dev", key)
        assert VAULT_NAME.match(name), name
        assert name not in names, f"{key} and {names.get(name)} share {name}"
        names[name] = key
        assert dlt_key("dev", name) == key
    assert len(names) == len(keys)


@pytest.mark.parametrize("key", [
    "sources.sales__db.credentials",  # would give sales--db: a separator inside a part
    "sources.sales_.credentials", "sources._sales.credentials",
    "sources.Sales_DB.credentials",   # Key Vault names are case-insensitive
    "sources.sales-db.credentials", "sources..credentials",
    "sources." + "x" * 130 + ".credentials",
])
def test_keys_outside_the_domain_have_no_name(key):
    with pytest.raises(UnmappableKeyError, match="sources"):
        secret_name_for_key("dev", key)


def test_names_of_another_environment_are_not_read_back():
    assert dlt_key("dev", "prod--sources--sales-db--credentials") is None
    assert dlt_key("dev", "dev--sources---x") is None


def test_invalid_prefix_is_refused():
    with pytest.raises(UnmappableKeyError, match="prefix"):
        secret_name("dev--x", ["sources", "a"])
    from ingest.core.keyvault.provider import KeyVaultProvider

    with pytest.raises(ValueError, match="prefix 'Dev_1'"):
        KeyVaultProvider(client=None, prefix="Dev_1")  # type: ignore[arg-type]


def test_key_vault_settings_are_read_and_checked():
    settings = Settings.from_env({"INGEST_KEY_VAULT_URL": "https://my-vault.vault.azure.net/",
                                  "INGEST_KEY_VAULT_PREFIX": "Prod", "INGEST_KEY_VAULT_CACHE_TTL_S": "0"})
    assert settings.key_vault_url == "https://my-vault.vault.azure.net"
    assert settings.key_vault_prefix == "prod" and settings.key_vault_cache_ttl_s == 0
    default = Settings.from_env({})
    assert default.key_vault_url is None and default.key_vault_prefix == "" and default.key_vault_cache_ttl_s == 300
    with pytest.raises(SettingError, match="INGEST_KEY_VAULT_URL='http://my-vault"):
        Settings.from_env({"INGEST_KEY_VAULT_URL": "http://my-vault.vault.azure.net"})
    with pytest.raises(SettingError, match="INGEST_KEY_VAULT_URL"):
        Settings.from_env({"INGEST_KEY_VAULT_URL": "https://my-vault.vault.azure.net/secrets/x"})
    with pytest.raises(SettingError, match="INGEST_KEY_VAULT_PREFIX='dev_1'"):
        Settings.from_env({"INGEST_KEY_VAULT_PREFIX": "dev_1"})
    with pytest.raises(SettingError, match="INGEST_KEY_VAULT_CACHE_TTL_S"):
        Settings.from_env({"INGEST_KEY_VAULT_CACHE_TTL_S": "-1"})
