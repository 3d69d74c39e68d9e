"""`python -m ingest dashboard`: write the dashboard page from the local audit folder, or from
the audit container on Azure (`--from-azure`, INGEST_AUDIT_URL)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ingest.core.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("dashboard", help="write the dashboard (HTML) from the audit trail")
    parser.add_argument("--out", help="HTML file to write (default: <audit dir>/dashboard.html, rewritten each time)")
    parser.add_argument("--force", action="store_true", help="replace --out when it exists")
    parser.add_argument("--days", type=int, help="days of history (env INGEST_DASHBOARD_DAYS, default 30)")
    parser.add_argument("--audit-dir", help="local audit folder (env INGEST_AUDIT_DIR, default audit)")
    parser.add_argument("--from-azure", action="store_true",
                        help="read the audit container at INGEST_AUDIT_URL instead of the local folder")


def run(args: argparse.Namespace) -> int:
    from ingest.dashboard.render import dashboard_html
    from ingest.dashboard.sources import BlobAuditReader, LocalAuditReader

    settings = Settings.from_env().with_overrides(audit_dir=Path(args.audit_dir) if args.audit_dir else None,
                                                  dashboard_days=args.days)
    if settings.dashboard_days < 1:
        from ingest.core.errors import SettingError

        raise SettingError(f"--days {settings.dashboard_days} must be at least 1")
    if args.from_azure:
        from ingest.records.blob_sink import audit_container

        reader = BlobAuditReader(audit_container(settings))
    else:
        reader = LocalAuditReader(settings.audit_dir)
    out = Path(args.out) if args.out else settings.audit_dir / "dashboard.html"
    if args.out:  # a file the person named; the default page in the audit folder is the app's own
        from ingest.core.user_files import refuse_existing

        refuse_existing(out, args.force, "--out")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dashboard_html(reader, settings.dashboard_days, settings.environment), encoding="utf-8")
    print(f"dashboard written: {out} ({settings.dashboard_days} days from the {reader.label})")
    return 0
