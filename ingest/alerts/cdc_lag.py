"""The CDC lag mail: when a run's replication slot retains more WAL than
INGEST_CDC_LAG_ALERT_BYTES (the run summary's `cdc_slots`, ingest/records/cdc_slots.py), one
mail per run to the environment's recipients (INGEST_ALERT_TO) listing the run's slots, over
the threshold first, with what to do. A re-delivered finalize step does not send it again (a
marker per run); a mail that could not be sent releases the marker."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from ingest.alerts.model import AlertOutcome, CdcLagReport
from ingest.alerts.render import RenderedMail, render_cdc_lag
from ingest.alerts.smtp import Mailer
from ingest.alerts.store import AlertStore
from ingest.core.settings import Settings

CDC_LAG = "cdc_lag"
Sender = Callable[[str, list[str], RenderedMail, Settings, Mailer], AlertOutcome]


def cdc_lag_key(run_id: str) -> str:
    return f"cdc_lag/{run_id}"


def needs_cdc_lag_mail(summary: dict[str, Any]) -> bool:
    return any(slot.get("status") == "over_threshold" for slot in summary.get("cdc_slots") or [])


def cdc_lag_mails(summary: dict[str, Any], settings: Settings, store: AlertStore, mailer: Mailer,
                  send: Sender) -> list[AlertOutcome]:
    """The run's CDC lag mail if a slot is over the threshold; `send` is ingest.alerts.send's."""
    if not needs_cdc_lag_mail(summary):
        return []
    mailer.prepare()
    run_id = str(summary["run_id"])
    key = cdc_lag_key(run_id)
    if not store.claim(key, {"run_id": run_id, "claimed_at": datetime.now(timezone.utc).isoformat()}):
        return [AlertOutcome(CDC_LAG, "skipped", detail="already sent for this run")]
    try:
        report = CdcLagReport.from_summary(summary, settings.environment, settings.cdc_lag_alert_bytes)
        outcome = send(CDC_LAG, list(settings.alert_to), render_cdc_lag(report), settings, mailer)
    except BaseException:
        store.release(key)
        raise
    if outcome.status == "failed":
        store.release(key)  # a re-delivered finalize may retry
    return [outcome]
