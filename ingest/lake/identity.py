"""Which lake a run writes: its destination URL and dataset, in words a person can read and
compare (README "Watermarks"). No secret: a query (a SAS token) or user info is never part of
it; an Azure lake whose URL names no account gets the account of the connection string."""

from __future__ import annotations

from urllib.parse import urlparse

from ingest.core.settings import Settings
from ingest.lake.destination import bucket_url, is_azure, lake_account


def lake_identity(settings: Settings) -> str:
    """`file:///abs/lake/raw`, `az://lake/bronze/raw (account devstoreaccount1)` or
    `abfss://lake@acct.dfs.core.windows.net/bronze/raw`: the lake a watermark belongs to."""
    url = urlparse(bucket_url(settings.destination))
    host = url.netloc.rsplit("@", 1)[-1] if url.scheme == "file" else _azure_netloc(url.netloc)
    path = url.path.rstrip("/")
    identity = f"{url.scheme}://{host}{path}/{settings.dataset}"
    if is_azure(settings.destination) and "@" not in url.netloc:
        account = lake_account(settings)
        if account:
            identity += f" (account {account})"
    return identity


def _azure_netloc(netloc: str) -> str:
    """`container@account.host` as it is (the account is no secret); nothing else before the @."""
    parts = netloc.split("@")
    return "@".join(parts[-2:]) if len(parts) > 2 else netloc
