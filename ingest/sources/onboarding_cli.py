"""The `discover` and `check` subcommands of `python -m ingest` (README: Onboarding a database):
their arguments, and what they print. ingest/cli.py adds them; `validate --check-connections`
calls `run_check_for` after validating."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingest.config.model import SourceType, WorkbookConfig
from ingest.core.errors import ConfigError, IngestError
from ingest.core.redact import redact

EXIT_OK, EXIT_FAILED = 0, 1

DISCOVER_HELP = ("propose a job row for each table and view of a SQL connection and add the new ones to the"
                 " workbook (disabled); REST APIs (discover --api) are out of scope")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    discover = sub.add_parser("discover", help=DISCOVER_HELP, description=DISCOVER_HELP + ". Existing rows"
                              " are never changed; running it again adds only tables that are new.")
    discover.add_argument("--connection", required=True,
                          help="connection name: credentials from SOURCES__<NAME>__CREDENTIALS, Key Vault or"
                               " .dlt/secrets.toml, as for a run")
    discover.add_argument("--config", required=True, help="the workbook (created from the template if missing)")
    discover.add_argument("--schema", action="append", help="schema to read (repeat for several; default: the"
                                                            " connection's default schema)")
    discover.add_argument("--include", action="append", default=[], metavar="GLOB",
                          help="only tables matching (e.g. 'sales_*'; repeatable)")
    discover.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                          help="leave out tables matching (repeatable)")
    discover.add_argument("--enable", action="store_true", help="add the rows with enabled = Y (default N)")
    discover.add_argument("--dry-run", action="store_true", help="print what would be added; write nothing")
    discover.add_argument("--source-type", choices=[t.value for t in SourceType if t.is_sql],
                          help="when the credentials do not tell (fields without drivername; azure_sql)")
    check = sub.add_parser("check", help="for each connection the jobs use: credentials present, connects, sees"
                                         " each job's table and columns; exit 1 on any failure")
    check.add_argument("--config", required=True)
    check.add_argument("--jobs", help="comma-separated job names or globs, disabled ones too (default: every"
                                      " enabled job)")


def _register_key_vault() -> None:
    from ingest.core.settings import Settings

    settings = Settings.from_env()
    if settings.key_vault_url:
        from ingest.core.keyvault.registration import register_key_vault

        register_key_vault(settings)


def run_discover(args: argparse.Namespace) -> int:
    from ingest.sources.discovery.discover import DiscoverRequest, discover, format_report

    _register_key_vault()
    request = DiscoverRequest(
        connection=args.connection, config=Path(args.config), schemas=tuple(args.schema or (None,)),
        include=tuple(args.include), exclude=tuple(args.exclude), enable=args.enable, dry_run=args.dry_run,
        source_type=SourceType(args.source_type) if args.source_type else None)
    try:
        report = discover(request)
    except IngestError as exc:
        if isinstance(exc, ConfigError):
            raise  # the CLI's exit 2, as for every configuration error
        print(f"ERROR: {redact(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    print("\n".join(format_report(report)))
    return EXIT_FAILED if report.issues else EXIT_OK


def run_check_for(config: WorkbookConfig, patterns: list[str] | None) -> int:
    from ingest.sources.connection_check import check_jobs, select_jobs
    from ingest.sources.postgres_cdc.check_line import register as register_cdc_check

    _register_key_vault()
    register_cdc_check()  # CDC jobs: the replication prerequisites
    jobs = select_jobs(config, patterns)
    report = check_jobs(jobs)
    for line in report.lines:
        print(line)
    ok = report.ok and not config.errors
    invalid = f"; {len(config.errors)} workbook error(s), rows not checked: run validate" if config.errors else ""
    print(f"check: {len(jobs)} job(s), {'all OK' if ok else 'FAILED'}{invalid}")
    return EXIT_OK if ok else EXIT_FAILED


def run_check(args: argparse.Namespace) -> int:
    from ingest.config.workbook import read_workbook

    config = read_workbook(args.config)
    for issue in config.errors:
        print(f"ERROR: {issue}", file=sys.stderr)
    patterns = [v.strip() for v in args.jobs.split(",") if v.strip()] if args.jobs else None
    return run_check_for(config, patterns)
