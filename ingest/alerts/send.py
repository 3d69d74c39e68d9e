"""The alert hook of the fan-in step (ingest.drivers.finalize), the same for both drivers: which mails
a finished run sends, sending them, and what became of each.

- Failure mail: when a job failed or was rejected, or the workbook has errors. One mail per
  run to the environment's recipients (INGEST_ALERT_TO) with every job of the run; each
  address from a failed job's `alert_recipients` cell gets one mail per run too, showing only
  its jobs. A re-delivered finalize step does not send it again (a marker per run).
- Daily summary: only on the scheduled path (the timer on Azure, `run --scheduled` locally),
  once per UTC date, from INGEST_ALERT_SUMMARY_HOUR on. It covers the runs started in the 24
  hours before this one. If it cannot be sent, the marker is released and the next scheduled
  run of the day tries again.
- CDC lag mail: when a replication slot of the run retains more WAL than
  INGEST_CDC_LAG_ALERT_BYTES (ingest.alerts.cdc_lag), once per run.

Never raises: a mail that cannot be sent is logged and returned as a failed AlertOutcome,
which finalize records in the run summary (the audit)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ingest.alerts.delivery import failed, send_mail, send_once
from ingest.alerts.model import AlertOutcome, FailureReport, daily_report, needs_failure_mail
from ingest.alerts.store import AlertStore, daily_summary_key, failure_key, parse_utc
from ingest.plan.planner import Plan
from ingest.core.settings import Settings

if TYPE_CHECKING:  # the mail stack (jinja2, smtplib, email) is imported only when a mail may go out
    from ingest.alerts.smtp import Mailer

log = logging.getLogger("ingest.alerts")
FAILURE, DAILY = "failure", "daily_summary"


def job_recipients(summary: dict[str, Any], plan: Plan, team: list[str]) -> list[tuple[list[str], set[str]]]:
    """(recipients, failed jobs they are listed for) for every address of a failed job's
    `alert_recipients` that is not on the team list; addresses with the same jobs share a mail."""
    listed = {job.job_name: job.alert_recipients for job in plan.jobs}
    on_team = {a.lower() for a in team}
    jobs_of: dict[str, set[str]] = {}
    spelled: dict[str, str] = {}
    for job in summary.get("jobs", []):
        if job.get("status") == "succeeded":
            continue
        for address in listed.get(job.get("job_name"), ()):
            if address.lower() not in on_team:
                jobs_of.setdefault(address.lower(), set()).add(job["job_name"])
                spelled.setdefault(address.lower(), address)
    groups: dict[frozenset[str], list[str]] = {}
    for address, jobs in sorted(jobs_of.items()):
        groups.setdefault(frozenset(jobs), []).append(spelled[address])
    return [(recipients, set(jobs)) for jobs, recipients in groups.items()]


def failure_mails(summary: dict[str, Any], plan: Plan, settings: Settings, store: AlertStore,
                  mailer: Mailer) -> list[AlertOutcome]:
    if not needs_failure_mail(summary):
        return []
    from ingest.alerts.render import render_failure

    mailer.prepare()  # before rendering: the SMTP password is then masked in the mail too
    run_id = str(summary["run_id"])
    team = list(settings.alert_to)

    def send() -> list[AlertOutcome]:
        outcomes = [send_mail(FAILURE, team, render_failure(FailureReport.from_summary(summary, settings.environment)),
                          settings, mailer)]
        for recipients, jobs in job_recipients(summary, plan, team):
            report = FailureReport.from_summary(summary, settings.environment, only_jobs=jobs)
            outcomes.append(send_mail(FAILURE, recipients, render_failure(report), settings, mailer))
        return outcomes

    # nothing went out: a re-delivered finalize may retry
    return send_once(store, failure_key(run_id), run_id, FAILURE, "already sent for this run", send)


def daily_summary(summary: dict[str, Any], settings: Settings, store: AlertStore,
                  mailer: Mailer) -> list[AlertOutcome]:
    from ingest.alerts.render import render_daily

    started = parse_utc(str(summary["started_at"]))
    date = f"{started:%Y-%m-%d}"
    if started.hour < settings.alert_summary_hour:
        return [AlertOutcome(DAILY, "skipped", detail=f"not due before {settings.alert_summary_hour:02d}:00 UTC")]
    mailer.prepare()

    def send() -> list[AlertOutcome]:
        since = started - timedelta(hours=24)
        runs = {str(s.get("run_id")): s for s in store.run_summaries(since, started)}
        runs[str(summary["run_id"])] = summary
        report = daily_report(list(runs.values()), settings.environment, date, since, started)
        return [send_mail(DAILY, list(settings.alert_to), render_daily(report), settings, mailer)]

    # not sent: the next scheduled run of the day tries again
    return send_once(store, daily_summary_key(date), summary["run_id"], DAILY, f"already sent for {date}", send)


def _log(outcome: AlertOutcome) -> None:
    if outcome.status == "failed":
        log.error("%s mail to %s not sent: %s: %s", outcome.kind, ", ".join(outcome.recipients) or "-",
                  outcome.error_class, outcome.error_message)
    elif outcome.status == "sent":
        log.info("%s mail sent to %s (%d attempt(s))", outcome.kind, ", ".join(outcome.recipients), outcome.attempts)
    else:
        log.info("%s mail skipped: %s", outcome.kind, outcome.detail)


def send_run_alerts(summary: dict[str, Any], plan: Plan, settings: Settings, store: AlertStore,
                    scheduled: bool = False, mailer: Mailer | None = None) -> list[AlertOutcome]:
    """Send what this run owes (see the module docstring); never raises. No INGEST_SMTP_HOST:
    nothing is sent and nothing recorded."""
    if not settings.smtp_host:
        return []
    from ingest.alerts.cdc_lag import CDC_LAG, cdc_lag_mails
    from ingest.alerts.smtp import SmtpMailer

    mailer = mailer or SmtpMailer(settings)
    outcomes: list[AlertOutcome] = []
    try:
        outcomes.extend(failure_mails(summary, plan, settings, store, mailer))
    except Exception as exc:  # the store or a template failed: still never fail the run
        outcomes.append(failed(FAILURE, list(settings.alert_to), exc))
    try:
        outcomes.extend(cdc_lag_mails(summary, settings, store, mailer))
    except Exception as exc:
        outcomes.append(failed(CDC_LAG, list(settings.alert_to), exc))
    if scheduled:
        try:
            outcomes.extend(daily_summary(summary, settings, store, mailer))
        except Exception as exc:
            outcomes.append(failed(DAILY, list(settings.alert_to), exc))
    for outcome in outcomes:
        _log(outcome)
    return outcomes
