"""Where alerts keep their state: once-only markers (the failure mail of a run, the daily
summary of a date) and the recent run summaries the daily summary reads.

A marker is claimed by creating it only if it does not exist (atomic in both stores), so two
finalize steps racing (a re-delivered Durable activity, two scheduled runs) send one mail."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("ingest.alerts.store")


def failure_key(run_id: str) -> str:
    return f"failure/{run_id}"


def daily_summary_key(date: str) -> str:
    return f"daily_summary/{date}"


def run_id_prefixes(since: datetime, until: datetime) -> list[str]:
    """Run ids start with the run's UTC start, `YYYYMMDDTHHMMSSZ` (ingest.plan.planner.new_run_context,
    ingest.drivers.azure.activities.run_id_for): the day prefixes that cover [since, until]."""
    days, day = [], since.date()
    while day <= until.date():
        days.append(f"{day:%Y%m%d}")
        day += timedelta(days=1)
    return days


def parse_utc(text: str) -> datetime:
    """An ISO timestamp as an aware UTC datetime (a naive one is taken as UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def in_period(summary: dict[str, Any], since: datetime, until: datetime) -> bool:
    try:
        started = parse_utc(str(summary.get("started_at")))
    except ValueError:
        return False
    return since < started <= until


class AlertStore(Protocol):
    def claim(self, key: str, note: dict[str, Any]) -> bool:
        """Create the marker `key`; False if it already exists (someone sent it)."""

    def release(self, key: str) -> None:
        """Delete the marker (the mail could not be sent: a later run may try again)."""

    def run_summaries(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """The run summaries of runs started in (since, until]."""


@dataclass
class FileAlertStore:
    """Markers under `<audit_dir>/alerts/`, summaries from `<audit_dir>/runs/` (the local runner)."""

    audit_dir: Path

    def _marker(self, key: str) -> Path:
        return self.audit_dir / "alerts" / f"{key}.json"

    def claim(self, key: str, note: dict[str, Any]) -> bool:
        path = self._marker(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(note, handle)
        return True

    def release(self, key: str) -> None:
        self._marker(key).unlink(missing_ok=True)

    def run_summaries(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        found = []
        for prefix in run_id_prefixes(since, until):
            for path in sorted((self.audit_dir / "runs").glob(f"{prefix}*.json")):
                try:
                    summary = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    log.warning("run summary %s not readable: %s", path, type(exc).__name__)
                    continue
                if in_period(summary, since, until):
                    found.append(summary)
        return found
