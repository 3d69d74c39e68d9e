"""The parameters of one run, as the CLI and `POST /api/runs` give them: which jobs (names,
globs, tags, or the failed jobs of an earlier run), whether schedules apply, force FULL, a
backfill window, dry run, the jobs allowed to shrink their table. JSON-serialisable: it is the
Durable orchestration's input."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from ingest.config.columns import CellError, parse_watermark
from ingest.core.errors import ConfigError

TAG = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")
RUN_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")
PATTERN = re.compile(r"^[a-z0-9_*?\[\]!\-]{1,100}$")
JOB_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class RequestError(ConfigError):
    """A run parameter is malformed; the message names the parameter."""


@dataclass(frozen=True)
class Backfill:
    """A window [start, end) of an INCREMENTAL job's watermark column."""

    start: int | float | str
    end: int | float | str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end}

    @classmethod
    def parse(cls, start: Any, end: Any) -> "Backfill":
        """Numbers, or ISO dates / datetimes (both of one kind), start before end."""
        values = []
        for label, raw in (("start", start), ("end", end)):
            if raw is None or raw == "":
                raise RequestError(f"backfill {label} is missing: give both start and end")
            try:
                values.append(parse_watermark(raw))
            except CellError as exc:
                raise RequestError(f"backfill {label}: {str(exc).replace('last_watermark', 'value')}") from None
        low, high = (_comparable(v) for v in values)
        if type(low) is not type(high):
            raise RequestError(f"backfill start {values[0]!r} and end {values[1]!r} are not of one kind"
                               " (both numbers or both dates)")
        if not low < high:
            raise RequestError(f"backfill start {values[0]!r} must be before end {values[1]!r}")
        return cls(values[0], values[1])


def _comparable(value: int | float | str) -> Decimal | datetime:
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    try:
        return Decimal(value)
    except ArithmeticError:
        pass
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # naive text reads as UTC


@dataclass(frozen=True)
class RunRequest:
    jobs: tuple[str, ...] = ()
    """Job names or globs; empty: every job."""
    tags: tuple[str, ...] = ()
    """Jobs carrying any of these tags; with `jobs` too, a job must match both."""
    rerun_failed: str | None = None
    """Run the jobs that did not succeed in this earlier run (failed, skipped, invalid)."""
    force_full: bool = False
    backfill: Backfill | None = None
    apply_schedules: bool = False
    """Only jobs that are due (the scheduler's runs); manual runs run what they select."""
    dry_run: bool = False
    take_over: tuple[str, ...] = ()
    """Lake tables (or job names) the run may take from the job that owns them (ingest/lake/owners.py)."""
    allow_shrink: tuple[str, ...] = ()
    """Jobs (exact names) whose FULL load may shrink their lake table in this run beyond their
    max_shrink_pct: a consent for this run only, recorded in each such job's audit row."""

    def __post_init__(self) -> None:
        if self.rerun_failed and (self.jobs or self.tags):
            raise RequestError("rerun_failed takes the jobs of the earlier run: do not combine it with"
                               " jobs or tags")
        if self.backfill and self.force_full:
            raise RequestError("force_full and backfill exclude each other: a backfill loads one window"
                               " and keeps the watermark, force_full reloads everything and resets it")
        for pattern in self.jobs:
            if not PATTERN.match(pattern):
                raise RequestError(f"jobs: {pattern!r} is not a job name or glob (lowercase letters,"
                                   " digits, _ and * ? [ ])")
        if self.force_full and (not self.jobs or any(set(p) & set("*?[") for p in self.jobs)):
            raise RequestError("force_full drops each reloaded INCREMENTAL job's watermark state and its"
                               " table's earlier files: name the jobs one by one in jobs (no glob, no tag"
                               " alone, not every job)")
        for name in self.allow_shrink:
            if not JOB_NAME.match(name):
                raise RequestError(f"allow_shrink: {name!r} is not a job name (one by one, no glob: each is a"
                                   " consent to shrink that job's table)")
        for tag in self.tags:
            if not TAG.match(tag):
                raise RequestError(f"tags: {tag!r} is not a tag (lowercase letters, digits, _ or -)")
        for name in self.take_over:
            if not PATTERN.match(name) or set(name) & set("*?[]!"):
                raise RequestError(f"take_over: {name!r} is not a table or job name (lowercase letters, digits, _)")
        if self.rerun_failed is not None and not RUN_ID.match(self.rerun_failed):
            raise RequestError(f"rerun_failed: {self.rerun_failed!r} is not a run id")

    @property
    def is_default(self) -> bool:
        """Every job, no parameter: the scope of the plain scheduled / manual run."""
        return self.scope() == RunRequest().scope()

    def scope(self) -> dict[str, Any]:
        """The parameters that change what a run does (so belong in its singleton instance id).
        `apply_schedules` is left out: the timer's run and a manual run of everything touch
        the same jobs and must not run at the same time."""
        return {"jobs": sorted(self.jobs), "tags": sorted(self.tags), "rerun_failed": self.rerun_failed,
                "force_full": self.force_full, "backfill": self.backfill.to_dict() if self.backfill else None,
                **({"take_over": sorted(self.take_over)} if self.take_over else {})}

    def scope_digest(self) -> str:
        text = json.dumps(self.scope(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["jobs"], data["tags"] = list(self.jobs), list(self.tags)
        if self.take_over:  # absent when not given: a plain request's input is as before
            data["take_over"] = list(self.take_over)
        else:
            del data["take_over"]
        if self.allow_shrink:
            data["allow_shrink"] = list(self.allow_shrink)
        else:
            del data["allow_shrink"]
        data["backfill"] = self.backfill.to_dict() if self.backfill else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "RunRequest":
        """From `to_dict`, from an HTTP body, or from an orchestration input of an older
        version ({"jobs": [...]} only). Unknown keys are refused (a typo must not widen a run)."""
        data = dict(data or {})
        known = {"jobs", "tags", "rerun_failed", "force_full", "backfill", "apply_schedules", "dry_run", "take_over",
                 "allow_shrink"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RequestError(f"unknown parameter(s): {', '.join(unknown)} (accepted: {', '.join(sorted(known))})")
        backfill = data.get("backfill")
        if backfill is not None and not isinstance(backfill, dict):
            raise RequestError('backfill must be an object {"start": ..., "end": ...}')
        if backfill and set(backfill) - {"start", "end"}:
            raise RequestError('backfill takes only "start" and "end"')
        return cls(jobs=_names(data.get("jobs"), "jobs"), tags=_names(data.get("tags"), "tags"),
                   rerun_failed=_text(data.get("rerun_failed"), "rerun_failed"),
                   force_full=_flag(data.get("force_full"), "force_full"),
                   backfill=Backfill.parse(backfill.get("start"), backfill.get("end")) if backfill else None,
                   apply_schedules=_flag(data.get("apply_schedules"), "apply_schedules"),
                   dry_run=_flag(data.get("dry_run"), "dry_run"),
                   take_over=_names(data.get("take_over"), "take_over"),
                   allow_shrink=_names(data.get("allow_shrink"), "allow_shrink"))


def _names(value: Any, label: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RequestError(f"{label} must be a list of strings (or one comma-separated string)")
    return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))


def _text(value: Any, label: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RequestError(f"{label} must be a string")
    return value.strip()


def _flag(value: Any, label: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestError(f"{label} must be true or false")
    return value
