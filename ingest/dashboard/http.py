"""GET /api/dashboard (function key; with INGEST_HTTP_AUTH=entra also an allowed Entra ID caller, checked in the blueprint before this runs): the dashboard page from the audit container
(INGEST_AUDIT_URL), `?days=N` for another period than INGEST_DASHBOARD_DAYS."""

from __future__ import annotations

import logging
import re

import azure.functions as func

from ingest.core.classify import classify
from ingest.dashboard.render import CONTENT_SECURITY_POLICY, dashboard_html
from ingest.dashboard.sources import BlobAuditReader
from ingest.core.errors import ConfigError
from ingest.core.settings import Settings

log = logging.getLogger("ingest.dashboard")
MAX_DAYS = 366
_WHOLE_NUMBER = re.compile(r"[0-9]{1,4}")
"""ASCII digits only: str.isdigit also accepts '²' (which int() refuses) and '٣'."""
HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-store",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _text(message: str, status: int) -> func.HttpResponse:
    return func.HttpResponse(message + "\n", status_code=status, mimetype="text/plain", charset="utf-8",
                             headers=dict(HEADERS))


def handle_dashboard(req: func.HttpRequest, settings: Settings) -> func.HttpResponse:
    raw = (req.params.get("days") or "").strip()
    days = settings.dashboard_days
    if raw:
        if not _WHOLE_NUMBER.fullmatch(raw) or not 1 <= int(raw) <= MAX_DAYS:
            return _text(f"days must be a whole number from 1 to {MAX_DAYS}", 400)
        days = int(raw)
    try:
        from ingest.records.blob_sink import audit_container

        html = dashboard_html(BlobAuditReader(audit_container(settings)), days, settings.environment)
    except ConfigError as exc:
        log.error("dashboard: %s", exc)
        return _text(f"dashboard unavailable: {exc}", 500)
    except Exception as exc:  # the audit container could not be read
        error = classify(exc)
        log.error("dashboard: audit not readable: %s: %s", type(error).__name__, error)
        return _text(f"dashboard unavailable: the audit could not be read ({type(error).__name__})", 503)
    return func.HttpResponse(html, status_code=200, mimetype="text/html", charset="utf-8", headers=dict(HEADERS))
