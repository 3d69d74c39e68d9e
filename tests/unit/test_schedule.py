"""Schedules: parsing the cell, current slot and due selection at boundary times with a fixed
clock, a missed slot caught up once, time zones."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ingest.config.schedule import ScheduleError, due_status, parse_schedule

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("text, cron, zone", [
    ("hourly", "0 * * * *", "UTC"),
    ("hourly at :30", "30 * * * *", "UTC"),
    ("Daily", "0 0 * * *", "UTC"),
    ("daily at 2:05", "5 2 * * *", "UTC"),
    ("daily  at 02:00   Europe/Amsterdam", "0 2 * * *", "Europe/Amsterdam"),
    ("0 6 * * 1-5", "0 6 * * 1-5", "UTC"),
    ("*/20 8-18 * * MON-FRI America/New_York", "*/20 8-18 * * MON-FRI", "America/New_York"),
])
def test_schedule_forms(text, cron, zone):
    schedule = parse_schedule(text)
    assert (schedule.cron, schedule.zone) == (cron, zone)


@pytest.mark.parametrize("text, message", [
    ("weekly", "is not hourly, daily at HH:MM or a cron expression"),
    ("daily at 24:00", "not a time of day"),
    ("hourly at :60", "minute must be 0 to 59"),
    ("daily at 02:00 Mars/Olympus", "'Mars/Olympus' is not a time zone"),
    ("61 * * * *", "is not a valid cron expression"),
    ("0 0 31 2 *", "never happens"),
    ("0 0 2 * * *", "'*' is not a time zone"),  # six-field (seconds) NCRONTAB is not a job schedule
])
def test_bad_schedules_say_why(text, message):
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(text)


DAILY = "daily at 02:00"


def test_a_slot_is_due_from_its_exact_minute_not_a_second_before():
    yesterday_run = at("2026-01-04T02:00:00")
    assert not due_status(DAILY, at("2026-01-05T01:59:59"), yesterday_run).due
    assert due_status(DAILY, at("2026-01-05T02:00:00"), yesterday_run).due
    assert due_status(DAILY, at("2026-01-05T02:00:00.000001"), yesterday_run).due


def test_a_run_planned_at_the_slot_covers_it_and_one_planned_before_does_not():
    assert not due_status(DAILY, at("2026-01-05T02:15:00"), at("2026-01-05T02:00:00")).due
    late = due_status(DAILY, at("2026-01-05T02:15:00"), at("2026-01-05T01:59:59"))
    assert late.due and late.slot == at("2026-01-05T02:00:00")
    assert "last success 2026-01-05T01:59Z" in late.reason


def test_missed_slots_are_caught_up_once():
    three_days_ago = at("2026-01-02T02:00:00")
    now = at("2026-01-05T09:00:00")
    status = due_status(DAILY, now, three_days_ago)
    assert status.due and status.slot == at("2026-01-05T02:00:00")
    # the catch-up run at 09:00 covers every missed slot: not due at the next ticks of the day
    for minutes in (15, 30, 60 * 16 + 59):
        assert not due_status(DAILY, now + timedelta(minutes=minutes), now).due
    assert due_status(DAILY, at("2026-01-06T02:00:00"), now).due


def test_never_run_is_due_and_no_schedule_always_runs():
    assert due_status("hourly", at("2026-01-05T10:07:00"), None).reason.endswith("no successful run yet")
    status = due_status(None, at("2026-01-05T10:07:00"), at("2026-01-05T10:06:00"))
    assert status.due and status.reason == "no schedule: runs every time"


def test_not_due_reason_names_the_next_slot():
    status = due_status("hourly at :30", at("2026-01-05T10:45:00"), at("2026-01-05T10:30:00"))
    assert not status.due
    assert "next slot 2026-01-05T11:30Z" in status.reason


def test_time_zone_follows_daylight_saving():
    schedule = parse_schedule("daily at 02:00 Europe/Amsterdam")
    assert schedule.previous_slot(at("2026-01-15T12:00:00")) == at("2026-01-15T01:00:00")  # CET, UTC+1
    assert schedule.previous_slot(at("2026-07-15T12:00:00")) == at("2026-07-15T00:00:00")  # CEST, UTC+2
    # due at 01:00 UTC in winter, not at 00:59
    assert not due_status(schedule.text, at("2026-01-15T00:59:00"), at("2026-01-14T01:00:00")).due
    assert due_status(schedule.text, at("2026-01-15T01:00:00"), at("2026-01-14T01:00:00")).due


def test_weekday_cron_skips_the_weekend():
    schedule = "0 6 * * 1-5"
    friday_run = at("2026-01-09T06:00:00")  # a Friday
    assert not due_status(schedule, at("2026-01-11T23:59:00"), friday_run).due  # Sunday night
    assert due_status(schedule, at("2026-01-12T06:00:00"), friday_run).due  # Monday 06:00
