"""The audit trail in blob storage as a RunHistory (ingest/records/history.py): one CSV per run under
`audit_trail/<YYYY-MM-DD>/<run_id>.csv` in the audit container (written by BlobAuditSink)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from ingest.records.audit import AUDIT_COLUMNS
from ingest.records.history import AuditRecord, run_time
from ingest.core.settings import Settings

PREFIX = "audit_trail/"
HEADER_BYTES = len(",".join(AUDIT_COLUMNS)) + 2
"""Size of a CSV that holds only its header (csv writes \\r\\n): a run that loaded no job."""


@dataclass
class BlobRunHistory:
    container: ContainerClient

    @classmethod
    def from_settings(cls, settings: Settings) -> "BlobRunHistory":
        from ingest.records.blob_sink import audit_container

        return cls(audit_container(settings))

    def _read(self, name: str) -> list[AuditRecord]:
        text = self.container.download_blob(name).readall().decode("utf-8")
        records = (AuditRecord.from_row(row) for row in csv.DictReader(io.StringIO(text)))
        return [r for r in records if r is not None]

    def records_since(self, since: datetime, until: datetime) -> Iterable[AuditRecord]:
        """Lists only the date folders from `since` to `until` (UTC) and downloads only the CSVs
        of runs planned in that time that hold at least one row."""
        return list(self._since(since, until))

    def _since(self, since: datetime, until: datetime) -> Iterator[AuditRecord]:
        day = since.astimezone(timezone.utc).date()
        while day <= until.astimezone(timezone.utc).date():
            for blob in self.container.list_blobs(name_starts_with=f"{PREFIX}{day.isoformat()}/"):
                planned = run_time(blob.name.rsplit("/", 1)[-1][:-len(".csv")])
                if planned is not None and not since <= planned <= until:
                    continue
                if (blob.size or 0) <= HEADER_BYTES:
                    continue
                yield from self._read(blob.name)
            day += timedelta(days=1)

    def run_records(self, run_id: str) -> list[AuditRecord]:
        planned = run_time(run_id)
        if planned is not None:
            try:
                return self._read(f"{PREFIX}{planned:%Y-%m-%d}/{run_id}.csv")
            except ResourceNotFoundError:
                pass
        # a run id without its time, or filed under another date: look for it by name
        suffix = f"/{run_id}.csv"
        for blob in self.container.list_blobs(name_starts_with=PREFIX):
            if blob.name.endswith(suffix):
                return self._read(blob.name)
        return []
