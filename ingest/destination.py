"""The lake: dlt's filesystem destination with our layout, local or on Azure storage."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from dlt.destinations import filesystem

from ingest.settings import Settings

AZURE_SCHEMES = ("az", "abfs", "abfss", "azure")


def is_azure(url: str) -> bool:
    return urlparse(url).scheme in AZURE_SCHEMES


def bucket_url(destination: str) -> str:
    """A URL dlt understands; a plain local path becomes an absolute file:// URL."""
    if "://" in destination:
        return destination
    return Path(destination).resolve().as_uri()


def azure_container(url: str) -> str:
    """The container of an az:// or abfss:// URL (abfss://container@account.dfs...)."""
    parsed = urlparse(url)
    return parsed.netloc.split("@", 1)[0]


def ensure_container(settings: Settings) -> None:
    """Create the lake's container if it does not exist (Azure destinations only)."""
    if not is_azure(settings.destination) or not settings.azure_storage_connection_string:
        return
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(settings.azure_storage_connection_string)
    try:
        service.create_container(azure_container(settings.destination))
    except ResourceExistsError:
        pass


def make_destination(settings: Settings, current_datetime=None):  # -> dlt Destination
    """dlt's filesystem destination for the lake in `settings`."""
    url = bucket_url(settings.destination)
    kwargs = {}
    credentials = None
    if is_azure(url) and settings.azure_storage_connection_string:
        # adlfs takes the connection string directly; it carries the Azurite endpoint too.
        kwargs["connection_string"] = settings.azure_storage_connection_string
        account = _connection_string_field(settings.azure_storage_connection_string, "AccountName")
        credentials = {"azure_storage_account_name": account} if account else None
    elif is_azure(url) and "@" in urlparse(url).netloc:
        # abfss://container@account.dfs.core.windows.net: identity-based (DefaultAzureCredential)
        account = urlparse(url).netloc.split("@", 1)[1].split(".", 1)[0]
        credentials = {"azure_storage_account_name": account}
    return filesystem(
        bucket_url=url,
        layout=settings.layout,
        credentials=credentials,
        kwargs=kwargs or None,
        current_datetime=current_datetime,
    )


def _connection_string_field(connection_string: str, name: str) -> str | None:
    for part in connection_string.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None
