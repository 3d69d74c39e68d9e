"""The credential for the app's blob containers (the workbook's and the audit's): an account
key from INGEST_AZURE_STORAGE_CONNECTION_STRING when set (Azurite, or key-based accounts),
registered as a secret so no log line shows it; otherwise DefaultAzureCredential (managed
identity on Azure)."""

from __future__ import annotations

from typing import Any

from ingest.core.redact import register_secret
from ingest.core.settings import Settings


def blob_credential(settings: Settings) -> Any:
    if settings.azure_storage_connection_string:
        fields = dict(part.split("=", 1) for part in settings.azure_storage_connection_string.split(";") if "=" in part)
        if fields.get("AccountKey"):
            register_secret(fields["AccountKey"])
            return {"account_name": fields.get("AccountName"), "account_key": fields["AccountKey"]}
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
