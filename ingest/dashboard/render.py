"""The dashboard as one self-contained HTML file: the data embedded as JSON, Chart.js and the
page's script inlined, so it opens from a file, a mail attachment or the HTTP function with no
network and no other request."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from pathlib import Path

import jinja2

from ingest.dashboard.model import DashboardData, build
from ingest.dashboard.sources import AuditReader, read_period
from ingest.core.redact import mask_known_secrets

HERE = Path(__file__).parent
CHART_JS_VERSION = "4.6.1"
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                           "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
"""For the HTTP function: the page needs nothing but its own inline scripts and styles."""


@functools.lru_cache(maxsize=None)
def _asset(name: str) -> str:
    text = (HERE / "static" / name).read_text(encoding="utf-8")
    # the source map is not shipped: a browser would ask for it and log a failed request
    text = "\n".join(line for line in text.splitlines() if not line.startswith("//# sourceMappingURL="))
    if "</script" in text.lower():
        raise ValueError(f"{name} contains '</script' and cannot be inlined")
    return text


@functools.lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)
    return env.get_template("dashboard.html")


def embed_json(value: object) -> str:
    """JSON that can sit inside <script type="application/json">: no '<', '>' or '&' that could
    close the element or start markup, whatever the audit holds."""
    text = json.dumps(value, default=str, separators=(",", ":"))
    text = mask_known_secrets(text)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def render_html(data: DashboardData, environment: str = "") -> str:
    page = data.to_page()
    return _template().render(page=page, data_json=embed_json(page), environment=environment,
                              chart_js=_asset("chart.umd.min.js"), dashboard_js=_asset("dashboard.js"))


def dashboard_html(reader: AuditReader, days: int, environment: str = "", now: datetime | None = None) -> str:
    summaries, rows, now = read_period(reader, days, now)
    return render_html(build(summaries, rows, days=days, source=reader.label, now=now), environment)
