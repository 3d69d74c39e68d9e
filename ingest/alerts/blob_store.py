"""The alert store in the audit container (the Durable app): markers as blobs under
`alerts/`, created with If-None-Match: * so only one finalize step claims each."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from ingest.alerts.store import in_period, run_id_prefixes

log = logging.getLogger("ingest.alerts.store")


@dataclass
class BlobAlertStore:
    container: ContainerClient

    def claim(self, key: str, note: dict[str, Any]) -> bool:
        try:
            self.container.upload_blob(f"alerts/{key}.json", json.dumps(note).encode("utf-8"), overwrite=False)
        except ResourceExistsError:
            return False
        return True

    def release(self, key: str) -> None:
        try:
            self.container.delete_blob(f"alerts/{key}.json")
        except ResourceNotFoundError:
            pass

    def run_summaries(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        found = []
        for prefix in run_id_prefixes(since, until):
            for blob in self.container.list_blobs(name_starts_with=f"runs/{prefix}"):
                try:
                    summary = json.loads(self.container.download_blob(blob.name).readall())
                except (ResourceNotFoundError, ValueError) as exc:
                    log.warning("run summary %s not readable: %s", blob.name, type(exc).__name__)
                    continue
                if in_period(summary, since, until):
                    found.append(summary)
        return found
