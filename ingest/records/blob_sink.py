"""The records on Azure: the audit container (created if missing; it also holds the job locks'
leases) and the audit sink that writes one run's audit trail, check results and summary there."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import ContainerClient

from ingest.core.blob_credential import blob_credential
from ingest.core.errors import SettingError
from ingest.core.redact import redact
from ingest.core.result import JobResult
from ingest.core.settings import Settings
from ingest.records.audit import audit_csv


def audit_container(settings: Settings) -> ContainerClient:
    """The audit container (created if missing); it also holds the job locks (leases)."""
    if not settings.audit_url:
        raise SettingError("setting INGEST_AUDIT_URL (the audit container's URL) is not set")
    container = ContainerClient.from_container_url(settings.audit_url, credential=blob_credential(settings))
    return existing_container(container)


def existing_container(container: ContainerClient) -> ContainerClient:
    """Create the container if missing. An identity whose role is scoped to the container
    itself (infra/, issue 21) may not create containers: that 403 means the container is
    infra's, and the calls that follow say clearly if it is missing."""
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    except HttpResponseError as exc:
        if exc.status_code != 403:
            raise
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

    def recorded_load_ids(self, since: datetime) -> set[str]:
        """The load ids of the audit CSVs of the days from `since` (UTC) to today."""
        ids: set[str] = set()
        day, today = since.astimezone(timezone.utc).date(), datetime.now(timezone.utc).date()
        while day <= today:
            for blob in self.container.list_blobs(name_starts_with=f"audit_trail/{day.isoformat()}/"):
                text = self.container.download_blob(blob.name).readall().decode("utf-8")
                ids.update(row["load_id"] for row in csv.DictReader(io.StringIO(text)) if row.get("load_id"))
            day += timedelta(days=1)
        return ids

    def write_summary(self, run_id: str, summary: dict) -> str:
        name = f"runs/{run_id}.json"
        self.container.upload_blob(name, redact(json.dumps(summary, indent=2, default=str)).encode("utf-8"),
                                   overwrite=True)
        return f"{self.container.url}/{name}"
