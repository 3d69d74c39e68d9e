"""Per-job schedules: the `schedule` cell, parsed, and whether a job is due.

A schedule is one of
  `hourly` (minute 0), `hourly at :MM`,
  `daily` (00:00), `daily at HH:MM`,
  a five-field cron expression (`minute hour day-of-month month day-of-week`, e.g. `0 6 * * 1-5`),
each optionally followed by an IANA time zone (`daily at 02:00 Europe/Amsterdam`); without one,
UTC. Slots are computed by croniter in that zone (so daylight saving time is followed).

Due rule: the scheduler fires often (every 15 minutes); at time `now` a job's *current slot* is
the latest slot at or before `now`. The job is due unless it succeeded in a run planned at or
after that slot. A job whose slots were missed (the app was down for three days) finds one
current slot without a success: it runs once, and that success covers every missed slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from ingest.core.errors import ConfigError

_HOURLY = re.compile(r"^hourly(?:\s+at\s+:?(\d{1,2}))?$")
_DAILY = re.compile(r"^daily(?:\s+at\s+(\d{1,2}):(\d{2}))?$")
_CRON_FIELDS = 5


class ScheduleError(ConfigError):
    """A schedule cell cannot be understood; the message says why (the caller adds the place)."""


@dataclass(frozen=True)
class Schedule:
    text: str
    """As written in the workbook (normalised spacing)."""
    cron: str
    """The five-field cron expression the text stands for."""
    zone: str = "UTC"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def previous_slot(self, now: datetime) -> datetime:
        """The latest slot at or before `now` (UTC)."""
        local = _utc(now).astimezone(self.tz)
        # croniter's get_prev is strictly before its start: start just after `now` so that a
        # slot exactly at `now` counts as current
        slot = croniter(self.cron, local + timedelta(microseconds=1)).get_prev(datetime)
        return slot.astimezone(timezone.utc)

    def next_slot(self, now: datetime) -> datetime:
        """The first slot strictly after `now` (UTC)."""
        local = _utc(now).astimezone(self.tz)
        return croniter(self.cron, local).get_next(datetime).astimezone(timezone.utc)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("schedule times must be timezone-aware")
    return moment.astimezone(timezone.utc)


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{name!r} is not a time zone (use an IANA name such as UTC or"
                            " Europe/Amsterdam)") from None
    return name


def parse_schedule(value: str) -> Schedule:
    """Parse a schedule cell; raises ScheduleError saying what is accepted."""
    text = " ".join(str(value).split())
    if not text:
        raise ScheduleError("schedule is empty")
    named = _named(text)
    if named is not None:
        return named
    words = text.split(" ")
    if words[0].lower() in ("hourly", "daily"):
        raise ScheduleError(f"schedule {text!r}: write 'hourly', 'hourly at :30', 'daily' or"
                            " 'daily at 02:00', optionally followed by a time zone")
    if len(words) not in (_CRON_FIELDS, _CRON_FIELDS + 1):
        raise ScheduleError(f"schedule {text!r} is not hourly, daily at HH:MM or a cron expression of five"
                            " fields (minute hour day month weekday), optionally followed by a time zone")
    zone = _zone(words[_CRON_FIELDS]) if len(words) == _CRON_FIELDS + 1 else "UTC"
    cron = " ".join(words[:_CRON_FIELDS])
    if not croniter.is_valid(cron):
        raise ScheduleError(f"schedule {text!r}: {cron!r} is not a valid cron expression"
                            " (minute hour day month weekday, e.g. 0 6 * * 1-5)")
    try:  # a valid expression can still name no real day (0 0 31 2 *)
        croniter(cron, datetime(2000, 1, 1, tzinfo=timezone.utc)).get_next(datetime)
    except (CroniterBadDateError, CroniterError):
        raise ScheduleError(f"schedule {text!r}: {cron!r} never happens") from None
    return Schedule(text, cron, zone)


def _named(text: str) -> Schedule | None:
    """`hourly...` / `daily...`, with or without a trailing time zone; None for anything else."""
    words = text.split(" ")
    candidates = [(text.lower(), None)]
    if len(words) > 1:
        candidates.append((" ".join(words[:-1]).lower(), words[-1]))
    for phrase, zone in candidates:
        for pattern, build in ((_HOURLY, _hourly), (_DAILY, _daily)):
            match = pattern.match(phrase)
            if match:
                return Schedule(text, build(match), _zone(zone) if zone else "UTC")
    return None


def _hourly(match: re.Match[str]) -> str:
    minute = int(match.group(1) or 0)
    if minute > 59:
        raise ScheduleError(f"hourly at :{minute}: the minute must be 0 to 59")
    return f"{minute} * * * *"


def _daily(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1) or 0), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        raise ScheduleError(f"daily at {hour:02d}:{minute:02d} is not a time of day (00:00 to 23:59)")
    return f"{minute} {hour} * * *"


@dataclass(frozen=True)
class DueStatus:
    due: bool
    reason: str
    slot: datetime | None = None
    """The current slot (UTC) for a scheduled job."""


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def due_status(schedule_text: str | None, now: datetime, last_success: datetime | None) -> DueStatus:
    """Is the job due at `now`, given its last successful run (the start of the run that
    loaded it, UTC)? A job without a schedule runs every time."""
    if not schedule_text:
        return DueStatus(True, "no schedule: runs every time")
    schedule = parse_schedule(schedule_text)
    slot = schedule.previous_slot(now)
    if last_success is not None and _utc(last_success) >= slot:
        return DueStatus(False, f"not due: slot {_when(slot)} done by the run of {_when(last_success)};"
                                f" next slot {_when(schedule.next_slot(now))} ({schedule.text})", slot)
    since = f"last success {_when(last_success)}" if last_success else "no successful run yet"
    return DueStatus(True, f"due: slot {_when(slot)} ({schedule.text}), {since}", slot)
