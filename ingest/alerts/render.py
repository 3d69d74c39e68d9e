"""Mail bodies from Jinja2 templates (ingest/alerts/templates): HTML with autoescaping, and a
plain-text part. Subjects are built here. Every value was redacted when the report was built
(ingest.alerts.model.safe_text); known secrets are masked once more in the finished mail."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import jinja2
import markupsafe

from ingest.alerts.model import CdcLagReport, DailyReport, FailureReport
from ingest.core.printable import printable
from ingest.core.redact import mask_known_secrets

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def _thousands(value: int | float) -> str:
    return f"{value:,}"


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(round(value)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m" if hours else f"{minutes} m {seconds:02d} s"


def _printable(value: object) -> object:
    if isinstance(value, markupsafe.Markup):  # already HTML: escaping a control character keeps it so
        return markupsafe.Markup(printable(str(value)))
    return printable(value) if isinstance(value, str) else value


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly (and is caught by the caller)
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_printable,  # a source's names reach the mail's text with control characters escaped
    )
    env.filters["thousands"] = _thousands
    env.filters["seconds"] = _seconds
    return env


def _prefix(environment_name: str) -> str:
    return f"[ingest {environment_name}]" if environment_name else "[ingest]"


def _render(name: str, **context: object) -> RenderedMail:
    env = environment()
    text = env.get_template(f"{name}.txt").render(**context)
    html = env.get_template(f"{name}.html").render(**context)
    return RenderedMail(subject=mask_known_secrets(context["subject"]), text=mask_known_secrets(text),
                        html=mask_known_secrets(html))


def render_failure(report: FailureReport) -> RenderedMail:
    if report.failed:
        what = f"{report.failed} of {report.total} job{'s' if report.total != 1 else ''} failed"
    else:
        what = "the workbook has errors"
    subject = f"{_prefix(report.environment)} {what}, run {report.run_id}"
    return _render("failure", subject=subject, report=report)


def render_daily(report: DailyReport) -> RenderedMail:
    counts = f"{report.runs} run{'s' if report.runs != 1 else ''}, {report.succeeded} job loads ok, {report.failed} failed"
    if report.finding_count:
        counts += f", {report.finding_count} finding{'s' if report.finding_count != 1 else ''}"
    subject = f"{_prefix(report.environment)} daily summary {report.date}: {counts}"
    return _render("daily_summary", subject=subject, report=report)


def render_cdc_lag(report: CdcLagReport) -> RenderedMail:
    over = report.over
    names = ", ".join(line.slot for line in over[:3]) + (" ..." if len(over) > 3 else "")
    subject = (f"{_prefix(report.environment)} CDC slot{'s' if len(over) != 1 else ''} {names} retain"
               f"{'' if len(over) != 1 else 's'} more than {report.threshold} of WAL, run {report.run_id}")
    return _render("cdc_lag", subject=subject, report=report)
