"""How every alert mail goes out (the failure mail and daily summary of send.py, the CDC lag mail
of cdc_lag.py): a mail sent and its outcome recorded, never raised; and the once-only sequence
around it: claim the marker (someone holding it: skipped), send, and release the marker when
nothing went out, so a re-delivered finalize step or a later run tries again."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from ingest.alerts.model import AlertOutcome, safe_text
from ingest.alerts.store import AlertStore
from ingest.core.classify import classify
from ingest.core.errors import IngestError
from ingest.core.settings import Settings

if TYPE_CHECKING:  # the mail stack (jinja2, smtplib, email) is imported only when a mail may go out
    from ingest.alerts.render import RenderedMail
    from ingest.alerts.smtp import Mailer


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def failed(kind: str, recipients: list[str], exc: BaseException) -> AlertOutcome:
    error = exc if isinstance(exc, IngestError) else classify(exc)
    return AlertOutcome(kind, "failed", list(recipients), error_class=type(error).__name__,
                        error_message=safe_text(error), attempts=getattr(exc, "attempts", 0))


def send_mail(kind: str, recipients: list[str], mail: RenderedMail, settings: Settings,
              mailer: Mailer) -> AlertOutcome:
    from ingest.alerts.smtp import build_message

    try:
        attempts = mailer.send(build_message(settings, recipients, mail))
    except Exception as exc:  # recorded, never raised
        return failed(kind, recipients, exc)
    return AlertOutcome(kind, "sent", list(recipients), detail=mail.subject, attempts=attempts)


def send_once(store: AlertStore, key: str, run_id: str, kind: str, already: str,
              send: Callable[[], list[AlertOutcome]]) -> list[AlertOutcome]:
    """`send`'s mails unless marker `key` is claimed already (then one `skipped` outcome with
    `already` as detail). The marker is released when `send` raises or none of its mails went out."""
    if not store.claim(key, {"run_id": run_id, "claimed_at": now()}):
        return [AlertOutcome(kind, "skipped", detail=already)]
    try:
        outcomes = send()
    except BaseException:
        store.release(key)
        raise
    if all(o.status == "failed" for o in outcomes):
        store.release(key)
    return outcomes
