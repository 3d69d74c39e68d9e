"""python -m ingest run | validate | plan | template | dashboard"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ingest.config.model import WorkbookConfig
from ingest.errors import ConfigError
from ingest.settings import Settings

EXIT_OK, EXIT_JOB_FAILED, EXIT_INVALID = 0, 1, 2


def _jobs(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ingest", description="Metadata-driven ingestion into the lake.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="load every enabled job of the workbook")
    run.add_argument("--config", required=True, help="path of ingestion_config.xlsx")
    run.add_argument("--jobs", help="comma-separated job names or globs to run (default: all enabled)")
    run.add_argument("--destination", help="lake folder or az://container/path (env INGEST_DESTINATION)")
    run.add_argument("--max-workers", type=int, help="jobs loading at once (env INGEST_MAX_WORKERS, default 5)")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON")
    run.add_argument("--scheduled", action="store_true",
                     help="the scheduler's run (cron): also send the daily summary mail, once a day")
    run.add_argument("--no-progress", action="store_true",
                     help="no progress lines (default: a status line on a terminal, plain lines otherwise)")
    run.add_argument("-v", "--verbose", action="store_true")

    validate = sub.add_parser("validate", help="check the workbook; print every error with its cell")
    validate.add_argument("--config", required=True)

    plan = sub.add_parser("plan", help="show what a run would load, without loading")
    plan.add_argument("--config", required=True)
    plan.add_argument("--jobs")

    template = sub.add_parser("template", help="write an empty workbook with descriptions and dropdowns")
    template.add_argument("--out", required=True)

    # dashboard (ingest/dashboard/cli.py) --------------------------------------------------
    from ingest.dashboard.cli import add_parser as add_dashboard_parser

    add_dashboard_parser(sub)
    return parser


def _read(config_path: str) -> WorkbookConfig:
    from ingest.config.workbook import read_workbook

    return read_workbook(config_path)


def _print_issues(config: WorkbookConfig) -> None:
    for issue in config.issues:
        print(f"{issue.severity.upper()}: {issue}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    config = _read(args.config)
    _print_issues(config)
    print(f"{args.config}: {len(config.jobs)} valid job(s), {len(config.errors)} error(s),"
          f" {len(config.warnings)} warning(s)")
    return EXIT_INVALID if config.errors else EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from ingest.plan import make_plan, new_run_context

    config = _read(args.config)
    _print_issues(config)
    plan = make_plan(config, new_run_context(), _jobs(args.jobs))
    for job in plan.jobs:
        start = f" from {job.last_watermark}" if job.is_incremental else ""
        if job.api is not None:
            source = f"rest_api GET {job.api.base_url}/{job.api.path.lstrip('/')} ({job.api.paginator.value})"
        else:
            source = (f"{job.source_type.value} {job.connection}"
                      f" {job.source_schema + '.' if job.source_schema else ''}{job.source_table}")
        print(f"run   {job.job_name}: {source} -> {job.table_name} ({job.load_type.value}{start})")
    for name, reason in plan.skipped.items():
        print(f"skip  {name}: {reason}")
    return EXIT_INVALID if config.errors else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from ingest.finalize import format_summary
    from ingest.logging_setup import setup_logging
    from ingest.plan import make_plan, new_run_context
    from ingest.runner import run_local

    settings = Settings.from_env().with_overrides(destination=args.destination, max_workers=args.max_workers)
    log_path = setup_logging(settings.log_dir, verbose=args.verbose)
    from ingest.telemetry import configure_export  # App Insights export, optional (ingest/telemetry.py)

    configure_export(settings.appinsights_connection_string)
    if settings.key_vault_url:
        from ingest.keyvault.registration import register_key_vault

        register_key_vault(settings)
    config = _read(args.config)
    _print_issues(config)
    job_filter = _jobs(args.jobs)
    plan = make_plan(config, new_run_context(), job_filter)
    summary = _run_with_progress(args, settings, plan)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        print(format_summary(summary))
        print(f"Log: {log_path}")
    return summary.exit_code


def _run_with_progress(args: argparse.Namespace, settings: Settings, plan):
    """The run, with console progress (ingest/progress.py) unless --no-progress: on stdout, or on
    stderr with --json so that stdout stays one JSON document."""
    from ingest.progress import Progress, activate
    from ingest.runner import run_local

    if args.no_progress:
        return run_local(plan, settings, Path(args.config), scheduled=args.scheduled)
    stream = sys.stderr if args.json else sys.stdout
    with activate(Progress(stream, interval_s=settings.progress_interval_s)):
        return run_local(plan, settings, Path(args.config), scheduled=args.scheduled)


def cmd_template(args: argparse.Namespace) -> int:
    from ingest.config.template import write_template

    print(f"template written: {write_template(args.out)}")
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    from ingest.dashboard.cli import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    args = _parser().parse_args(argv)
    handlers = {"run": cmd_run, "validate": cmd_validate, "plan": cmd_plan, "template": cmd_template,
                "dashboard": cmd_dashboard}
    try:
        return handlers[args.command](args)
    except ConfigError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_INVALID
