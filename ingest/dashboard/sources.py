"""Where the dashboard reads the audit trail: the local audit folder (`audit_trail.csv` and
`runs/*.json`, the local runner) or the audit container on Azure (`audit_trail/<date>/<run_id>.csv`
and `runs/<run_id>.json`, written by ingest.records.blob_sink.BlobAuditSink). Only the days asked
for are read: run ids and CSV folders start with the run's UTC date."""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from ingest.alerts.store import run_id_prefixes
from ingest.records.audit import AUDIT_FILE

log = logging.getLogger("ingest.dashboard")


class AuditReader(Protocol):
    label: str

    def summaries(self, since: datetime, until: datetime) -> list[dict[str, Any]]: ...

    def audit_rows(self, since: datetime, until: datetime) -> list[dict[str, Any]]: ...


def _loads(text: str | bytes, name: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        log.warning("run summary %s is not JSON; left out of the dashboard", name)
        return None
    return value if isinstance(value, dict) else None


@dataclass
class LocalAuditReader:
    audit_dir: Path

    @property
    def label(self) -> str:
        return f"local audit folder {self.audit_dir}"

    def summaries(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        found = []
        for prefix in run_id_prefixes(since, until):
            for path in sorted((self.audit_dir / "runs").glob(f"{prefix}*.json")):
                summary = _loads(path.read_text(encoding="utf-8"), path.name)
                if summary is not None:
                    found.append(summary)
        return found

    def audit_rows(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """The current audit file (an older one, set aside when the columns changed, is not read)."""
        path = self.audit_dir / AUDIT_FILE
        if not path.exists():
            return []
        first, last = f"{since:%Y-%m-%d}", f"{until:%Y-%m-%d}"
        with open(path, newline="", encoding="utf-8") as handle:
            return [row for row in csv.DictReader(handle) if first <= (row.get("execution_date") or "") <= last]


@dataclass
class BlobAuditReader:
    container: Any  # azure.storage.blob.ContainerClient

    @property
    def label(self) -> str:
        return f"audit container {self.container.container_name}"

    def summaries(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        found = []
        for prefix in run_id_prefixes(since, until):
            for blob in self.container.list_blobs(name_starts_with=f"runs/{prefix}"):
                summary = _loads(self.container.download_blob(blob.name).readall(), blob.name)
                if summary is not None:
                    found.append(summary)
        return found

    def audit_rows(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        day = since.date()
        while day <= until.date():
            for blob in self.container.list_blobs(name_starts_with=f"audit_trail/{day:%Y-%m-%d}/"):
                text = self.container.download_blob(blob.name).readall().decode("utf-8")
                rows.extend(csv.DictReader(io.StringIO(text)))
            day += timedelta(days=1)
        return rows


def read_period(reader: AuditReader, days: int, now: datetime | None = None) -> tuple[list, list, datetime]:
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(days=days)
    return reader.summaries(since, now), reader.audit_rows(since, now), now
