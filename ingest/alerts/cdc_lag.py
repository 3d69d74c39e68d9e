"""The CDC lag mail: when a run's replication slot retains more WAL than
INGEST_CDC_LAG_ALERT_BYTES (the run summary's `cdc_slots`, ingest/records/cdc_slots.py), one
mail per run to the environment's recipients (INGEST_ALERT_TO) listing the run's slots, over
the threshold first, with what to do. A re-delivered finalize step does not send it again (a
marker per run); a mail that could not be sent releases the marker."""

from __future__ import annotations

from typing import Any

from ingest.alerts.delivery import send_mail, send_once
from ingest.alerts.model import AlertOutcome, CdcLagReport
from ingest.alerts.render import render_cdc_lag
from ingest.alerts.smtp import Mailer
from ingest.alerts.store import AlertStore
from ingest.core.settings import Settings

CDC_LAG = "cdc_lag"


def cdc_lag_key(run_id: str) -> str:
    return f"cdc_lag/{run_id}"


def needs_cdc_lag_mail(summary: dict[str, Any]) -> bool:
    return any(slot.get("status") == "over_threshold" for slot in summary.get("cdc_slots") or [])


def cdc_lag_mails(summary: dict[str, Any], settings: Settings, store: AlertStore, mailer: Mailer) -> list[AlertOutcome]:
    """The run's CDC lag mail if a slot is over the threshold (ingest/alerts/delivery.py's once-only send)."""
    if not needs_cdc_lag_mail(summary):
        return []
    mailer.prepare()
    run_id = str(summary["run_id"])

    def send() -> list[AlertOutcome]:
        report = CdcLagReport.from_summary(summary, settings.environment, settings.cdc_lag_alert_bytes)
        return [send_mail(CDC_LAG, list(settings.alert_to), render_cdc_lag(report), settings, mailer)]

    return send_once(store, cdc_lag_key(run_id), run_id, CDC_LAG, "already sent for this run", send)
