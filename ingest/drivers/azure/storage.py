"""Blob storage for the Azure app: the workbook (read, and watermark write-back under an ETag
condition) and the audit trail (one CSV and one JSON summary per run).

Credentials: an account key from INGEST_AZURE_STORAGE_CONNECTION_STRING when set (Azurite,
or key-based accounts); otherwise DefaultAzureCredential (managed identity on Azure)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
from azure.core import MatchConditions
from azure.storage.blob import BlobClient, ContainerClient

from ingest.records.audit import audit_csv
from ingest.config.writeback import WatermarkUpdate, WritebackOutcome, apply_watermarks
from ingest.core.errors import SettingError
from ingest.core.redact import redact, register_secret
from ingest.core.result import JobResult
from ingest.core.settings import Settings

log = logging.getLogger("ingest.azure.storage")
WRITEBACK_ATTEMPTS = 5


def blob_credential(settings: Settings) -> Any:
    if settings.azure_storage_connection_string:
        fields = dict(part.split("=", 1) for part in settings.azure_storage_connection_string.split(";") if "=" in part)
        if fields.get("AccountKey"):
            register_secret(fields["AccountKey"])
            return {"account_name": fields.get("AccountName"), "account_key": fields["AccountKey"]}
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def workbook_blob(settings: Settings) -> BlobClient:
    if not settings.config_url:
        raise SettingError("setting INGEST_CONFIG_URL (the workbook's blob URL) is not set")
    return BlobClient.from_blob_url(settings.config_url, credential=blob_credential(settings))


def read_workbook_blob(settings: Settings) -> tuple[bytes, str]:
    """The workbook's bytes and its ETag."""
    downloader = workbook_blob(settings).download_blob()
    return downloader.readall(), downloader.properties.etag


def write_watermarks_blob(settings: Settings, updates: list[WatermarkUpdate]) -> WritebackOutcome:
    """Apply the updates under an If-Match condition; on 412 (someone saved the workbook
    meanwhile) re-read and re-apply, a bounded number of times. Cells a person changed are
    never overwritten (apply_watermarks compares with the value the run started from)."""
    blob = workbook_blob(settings)
    for attempt in range(1, WRITEBACK_ATTEMPTS + 1):
        downloader = blob.download_blob()
        data, etag = downloader.readall(), downloader.properties.etag
        new_data, outcome = apply_watermarks(data, updates)
        if new_data is data:
            return outcome
        try:
            blob.upload_blob(new_data, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified)
            return outcome
        except ResourceModifiedError:
            log.warning("workbook changed while writing watermarks (attempt %d); re-reading", attempt)
    return WritebackOutcome(written=[], conflicts=[f"workbook kept changing; {len(updates)} watermark(s)"
                                                   f" not written after {WRITEBACK_ATTEMPTS} attempts"])


def audit_container(settings: Settings) -> ContainerClient:
    """The audit container (created if missing); it also holds the job locks (leases)."""
    if not settings.audit_url:
        raise SettingError("setting INGEST_AUDIT_URL (the audit container's URL) is not set")
    container = ContainerClient.from_container_url(settings.audit_url, credential=blob_credential(settings))
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    return container


@dataclass
class BlobAuditSink:
    """Audit in a container: `audit_trail/{date}/{run_id}.csv`, `check_results/{date}/{run_id}.csv`
    and `runs/{run_id}.json`.
    One blob per run, overwritten whole, so a repeated finalize never duplicates rows."""

    container: ContainerClient

    @classmethod
    def from_settings(cls, settings: Settings) -> "BlobAuditSink":
        return cls(audit_container(settings))

    def record(self, run_id: str, results: list[JobResult], execution_date: str) -> str:
        name = f"audit_trail/{execution_date}/{run_id}.csv"
        self.container.upload_blob(name, audit_csv(results, execution_date).encode("utf-8"), overwrite=True)
        return f"{self.container.url}/{name}"

    def record_checks(self, run_id: str, results: list[JobResult], execution_date: str) -> str:
        """Check results of the run: `check_results/{date}/{run_id}.csv` (ingest/records/check_results.py)."""
        from ingest.records.check_results import checks_csv

        name = f"check_results/{execution_date}/{run_id}.csv"
        self.container.upload_blob(name, checks_csv(results, execution_date).encode("utf-8"), overwrite=True)
        return f"{self.container.url}/{name}"

    def write_summary(self, run_id: str, summary: dict) -> str:
        name = f"runs/{run_id}.json"
        self.container.upload_blob(name, redact(json.dumps(summary, indent=2, default=str)).encode("utf-8"),
                                   overwrite=True)
        return f"{self.container.url}/{name}"
