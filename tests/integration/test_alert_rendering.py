"""The alert mails as a person sees them: sent through a real SMTP server on 127.0.0.1, the
received HTML part rendered by a real headless Chromium to a PNG screenshot, and the pixels
checked for the styles (accent bar, status badges), not only for a file."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest.alerts.send import send_run_alerts
from ingest.alerts.store import FileAlertStore
from ingest.plan.planner import Plan
from ingest.core.result import RunContext
from tests.mailserver import start_mail_server
from tests.services import ServiceError

# Flags that work on this machine; together they keep Chromium off the network.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]
WIDTH, HEIGHT = 1000, 700
RED_ACCENT, AMBER_ACCENT = (0xDC, 0x26, 0x26), (0xD9, 0x77, 0x06)
FAILED_BADGE, SUCCEEDED_BADGE, INVALID_BADGE = (0xFE, 0xE2, 0xE2), (0xD1, 0xFA, 0xE5), (0xFE, 0xF3, 0xC7)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise ServiceError("chromium is not installed: run scripts/install_services.sh (apt-get install -y chromium)")
    return found


def screenshot(html: str, out: Path) -> Path:
    page = out.with_suffix(".html")
    page.write_text(html, encoding="utf-8")
    profile = tempfile.mkdtemp(prefix="ingest-chromium-")
    try:
        done = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                               f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={out}", page.as_uri()],
                              capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0 and out.is_file(), done.stderr[-2000:]
    return out


def png_colours(path: Path) -> tuple[int, int, set[tuple[int, int, int]]]:
    """Width, height and the set of RGB colours of an 8-bit RGB or RGBA PNG (stdlib only:
    chunks, zlib, and the five scanline filters of the PNG spec)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    bpp = 4 if colour_type == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    previous = bytearray(stride)
    colours: set[tuple[int, int, int]] = set()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = previous[i], previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        colours.update(zip(line[0::bpp], line[1::bpp], line[2::bpp]))
        previous = line
    return width, height, colours


def realistic_summary(started: datetime) -> dict:
    jobs = [
        {"job_name": "sales_orders", "status": "succeeded", "rows_processed": 1_284_311, "duration_s": 94.2},
        {"job_name": "sales_customers", "status": "failed", "rows_processed": 0, "duration_s": 2.1,
         "error_class": "SourceAuthenticationError",
         "error_message": 'connection to server at "10.0.4.12", port 5432 failed: FATAL: password authentication'
                          ' failed for user "ingest_reader"'},
        {"job_name": "hr_people", "status": "failed", "rows_processed": 0, "duration_s": 0.4,
         "error_class": "SourceObjectNotFoundError",
         "error_message": "job 'hr_people': table hr.people_v2 does not exist in connection 'hr_db'"},
        {"job_name": "finance_ledger", "status": "succeeded", "rows_processed": 40_118, "duration_s": 12.7},
        {"job_name": "row_9", "status": "invalid", "rows_processed": 0, "duration_s": 0.0, "error_class": "ConfigError",
         "error_message": "jobs!H9: load_type 'DAILY' is not one of FULL, INCREMENTAL, CDC"},
    ]
    for job in jobs:
        job.setdefault("error_class", None)
        job.setdefault("error_message", None)
        job["started_at"] = started.isoformat()
    return {"run_id": f"{started:%Y%m%dT%H%M%SZ}-ingest-all", "started_at": started.isoformat(),
            "finished_at": (started + timedelta(minutes=2)).isoformat(), "jobs": jobs,
            "config_errors": ["jobs!H9: load_type 'DAILY' is not one of FULL, INCREMENTAL, CDC"], "watermark_conflicts": [],
            "findings": [{"kind": "drift", "job_name": "sales_orders", "message": "new column discount_pct numeric(5,2)"},
                         {"kind": "quality", "job_name": "finance_ledger",
                          "message": "amount not null: 3 rows with NULL"}]}


@pytest.fixture
def received_mails(tmp_path, settings):
    """The failure mail and the daily summary of one scheduled run, as the server received them."""
    server = start_mail_server()
    try:
        started = datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc)
        summary = realistic_summary(started)
        mailing = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="none",
                                          alert_from="ingest@example.com", alert_to=("ops@example.com",),
                                          environment="prod")
        plan = Plan(run=RunContext(summary["run_id"], summary["started_at"]))
        outcomes = send_run_alerts(summary, plan, mailing, FileAlertStore(tmp_path / "audit"), scheduled=True)
    finally:
        server.stop()
    assert [o.status for o in outcomes] == ["sent", "sent"]
    failure, daily = server.mailbox.mails
    return failure, daily


def test_the_failure_mail_renders_in_chromium(received_mails, tmp_path):
    failure, _ = received_mails
    png = screenshot(failure.html, tmp_path / "failure_mail.png")
    assert png.stat().st_size > 20_000
    width, height, colours = png_colours(png)
    assert (width, height) == (WIDTH, HEIGHT)
    assert len(colours) > 100  # text, anti-aliasing, badges: not a blank page
    for colour in (RED_ACCENT, FAILED_BADGE, SUCCEEDED_BADGE, INVALID_BADGE):
        assert colour in colours, colour


def test_the_daily_summary_renders_in_chromium(received_mails, tmp_path):
    _, daily = received_mails
    png = screenshot(daily.html, tmp_path / "daily_summary.png")
    assert png.stat().st_size > 20_000
    width, height, colours = png_colours(png)
    assert (width, height) == (WIDTH, HEIGHT) and len(colours) > 100
    assert AMBER_ACCENT in colours and FAILED_BADGE in colours and SUCCEEDED_BADGE in colours
