"""The workbook as a blob (the Azure app's): read with its ETag, and the watermark write-back
under an If-Match condition, so a person's save in between is never overwritten."""

from __future__ import annotations

import logging

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError
from azure.storage.blob import BlobClient, BlobProperties

from ingest.config.writeback import WatermarkUpdate, WritebackOutcome, apply_watermarks
from ingest.core.blob_credential import blob_credential
from ingest.config.workbook import MAX_FILE_BYTES
from ingest.core.errors import SettingError, WorkbookError
from ingest.core.settings import Settings

log = logging.getLogger("ingest.azure.storage")
WRITEBACK_ATTEMPTS = 5
WRITTEN_BY = "ingest_written_by"
"""Blob metadata naming who uploaded the workbook through ingest: `workbook push` (a person)
or the app's watermark write-back. A refused push reads it to say who changed the blob."""
WRITEBACK_WRITER = "the app's watermark write-back"


def workbook_blob(settings: Settings) -> BlobClient:
    if not settings.config_url:
        raise SettingError("setting INGEST_CONFIG_URL (the workbook's blob URL) is not set")
    return BlobClient.from_blob_url(settings.config_url, credential=blob_credential(settings))


def download_workbook(settings: Settings, blob: BlobClient | None = None) -> tuple[bytes, BlobProperties]:
    """The workbook's bytes and the properties of exactly that version (ETag, last modified,
    metadata); a blob over the size cap is refused before it is downloaded (it was read whole
    into memory first)."""
    blob = blob or workbook_blob(settings)
    properties = blob.get_blob_properties()
    if properties.size > MAX_FILE_BYTES:
        raise WorkbookError(f"{display_url(settings.config_url or '')}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"
                            f" ({properties.size} bytes); not downloaded")
    downloader = blob.download_blob(etag=properties.etag, match_condition=MatchConditions.IfNotModified)
    return downloader.readall(), downloader.properties


def read_workbook_blob(settings: Settings) -> tuple[bytes, str]:
    """The workbook's bytes and its ETag."""
    data, properties = download_workbook(settings)
    return data, properties.etag


def display_url(url: str) -> str:
    """The blob URL for messages: without a query (a SAS token) or fragment."""
    return url.split("?", 1)[0].split("#", 1)[0]


def write_watermarks_blob(settings: Settings, updates: list[WatermarkUpdate]) -> WritebackOutcome:
    """Apply the updates under an If-Match condition; on 412 (someone saved the workbook
    meanwhile) re-read and re-apply, a bounded number of times. Cells a person changed are
    never overwritten (apply_watermarks compares with the value the run started from). The
    reader's size cap is checked on the blob's properties before it is downloaded."""
    blob = workbook_blob(settings)
    for attempt in range(1, WRITEBACK_ATTEMPTS + 1):
        try:
            data, properties = download_workbook(settings, blob)
            new_data, outcome = apply_watermarks(data, updates)
            if new_data is data:
                return outcome
            blob.upload_blob(new_data, overwrite=True, etag=properties.etag,
                             match_condition=MatchConditions.IfNotModified,
                             metadata={WRITTEN_BY: WRITEBACK_WRITER})
            return outcome
        except ResourceModifiedError:
            log.warning("workbook changed while writing watermarks (attempt %d); re-reading", attempt)
    return WritebackOutcome(written=[], conflicts=[f"workbook kept changing; {len(updates)} watermark(s)"
                                                   f" not written after {WRITEBACK_ATTEMPTS} attempts"])
