"""The write-back on the Azure blob path applies the reader's size cap before downloading
(issue 32 case 8): a blob over the cap is refused from its properties, never read into memory."""

from __future__ import annotations

import os
import uuid

import pytest

from ingest.config.workbook import MAX_FILE_BYTES
from ingest.config.workbook_blob import write_watermarks_blob
from ingest.config.writeback import WatermarkUpdate
from ingest.core.errors import WorkbookError
from ingest.core.settings import Settings


def test_a_blob_over_the_cap_is_refused_before_download(azurite, monkeypatch):
    from azure.storage.blob import BlobClient, BlobServiceClient

    name = f"config{uuid.uuid4().hex[:8]}"
    container = BlobServiceClient.from_connection_string(azurite.connection_string).create_container(name)
    container.upload_blob("ingestion_config.xlsx", os.urandom(MAX_FILE_BYTES + 1))
    downloads = []
    real_download = BlobClient.download_blob
    monkeypatch.setattr(BlobClient, "download_blob", lambda self, *a, **k: downloads.append(1) or
                        real_download(self, *a, **k))  # counts downloads; the blob and Azurite are real
    settings = Settings.from_env({"INGEST_AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
                                  "INGEST_CONFIG_URL": f"http://127.0.0.1:{azurite.port}/devstoreaccount1/{name}"
                                                       "/ingestion_config.xlsx"})
    with pytest.raises(WorkbookError, match="not downloaded"):
        write_watermarks_blob(settings, [WatermarkUpdate("orders", None, "2024-05-01")])
    assert downloads == []
