"""python -m ingest run | validate | plan | template | dashboard | workbook | discover | check | cdc"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ingest.config.model import WorkbookConfig
from ingest.lake.dlt_defaults import apply_dlt_defaults
from ingest.core.errors import ConfigError
from ingest.core.settings import Settings

EXIT_OK, EXIT_JOB_FAILED, EXIT_INVALID = 0, 1, 2
EXIT_SIGINT, EXIT_SIGTERM = 130, 143
"""A run stopped by Ctrl-C / a container stop (README "Interrupting a run")."""


def _jobs(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _parser() -> argparse.ArgumentParser:
    from ingest import __version__

    parser = argparse.ArgumentParser(prog="ingest", description="Metadata-driven ingestion into the lake.")
    parser.add_argument("--version", action="version", version=f"ingest {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="load every enabled job of the workbook")
    run.add_argument("--config", required=True, help="path of ingestion_config.xlsx")
    run.add_argument("--destination", help="lake folder or az://container/path (env INGEST_DESTINATION)")
    run.add_argument("--max-workers", type=int, help="jobs loading at once (env INGEST_MAX_WORKERS, default 5)")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON")
    _run_parameters(run)
    run.add_argument("--dry-run", action="store_true", help="print the plan (as the plan command) and load nothing")
    run.add_argument("--no-progress", action="store_true",
                     help="no progress lines (default: a status line on a terminal, plain lines otherwise)")
    run.add_argument("-v", "--verbose", action="store_true")

    validate = sub.add_parser("validate", help="check the workbook; print every error with its cell")
    validate.add_argument("--config", required=True)
    validate.add_argument("--check-connections", action="store_true",
                          help="then run `check` on the enabled jobs (credentials, connection, tables, columns)")
    validate.add_argument("--destination", help="also refuse jobs whose lake tables another job owns in this lake")

    plan = sub.add_parser("plan", help="dry run: what a run would load, in which wave, from which watermark")
    plan.add_argument("--config", required=True)
    plan.add_argument("--destination", help="lake to read the watermarks from (env INGEST_DESTINATION)")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    _run_parameters(plan)

    template = sub.add_parser("template", help="write an empty workbook with descriptions and dropdowns")
    template.add_argument("--out", required=True)
    template.add_argument("--force", action="store_true", help="replace --out when it exists (a workbook's jobs are lost)")

    workbook = sub.add_parser("workbook", help="pull or push the workbook blob (INGEST_CONFIG_URL) with its ETag check")
    action = workbook.add_subparsers(dest="action", required=True)
    pull = action.add_parser("pull", help="download the workbook; its version is kept in FILE.blob.json")
    pull.add_argument("--to", required=True, metavar="FILE")
    push = action.add_parser("push", help="validate FILE, then upload it if the blob is still the version pulled")
    push.add_argument("file", metavar="FILE")
    pull.add_argument("--force", action="store_true", help="replace FILE when it exists: edited, never pulled,"
                      " or pulled from another workbook (an unedited copy of this blob is replaced anyway)")
    push.add_argument("--force", action="store_true", help="overwrite the blob whatever changed it since the pull")
    for each in (pull, push):
        each.add_argument("--url", help="the workbook blob's URL (env INGEST_CONFIG_URL)")
    cdc = sub.add_parser("cdc", help="load_type CDC: a connection's replication slot (lag, drop)")
    cdc.add_argument("action", choices=("lag", "drop"), help="lag: WAL the slot holds; drop: remove slot and publication")
    cdc.add_argument("--connection", required=True, help="the connection whose slot it is")
    cdc.add_argument("--json", action="store_true")

    # dashboard (ingest/dashboard/cli.py) --------------------------------------------------
    from ingest.dashboard.cli import add_parser as add_dashboard_parser

    add_dashboard_parser(sub)

    # discover, check (ingest/sources/onboarding_cli.py) ------------------------------------
    from ingest.sources.onboarding_cli import add_parsers as add_onboarding_parsers

    add_onboarding_parsers(sub)
    return parser


def _run_parameters(parser: argparse.ArgumentParser) -> None:
    """Selection and run parameters shared by `run` and `plan` (README: Schedules,
    dependencies and re-runs)."""
    parser.add_argument("--jobs", help="comma-separated job names or globs (default: all enabled)")
    parser.add_argument("--tags", help="comma-separated tags: jobs carrying any of them (with --jobs: both)")
    parser.add_argument("--rerun-failed", metavar="RUN_ID",
                        help="the jobs that failed, were skipped or rejected in that run (from the audit trail)")
    parser.add_argument("--force-full", action="store_true",
                        help="reload INCREMENTAL jobs in full: table dropped, watermark state reset")
    parser.add_argument("--allow-shrink", metavar="JOBS", help="comma-separated job names whose FULL load may"
                        " shrink or empty their lake table in this run, beyond max_shrink_pct (recorded in the audit)")
    parser.add_argument("--backfill-start", metavar="VALUE", help="backfill window start (inclusive): a date,"
                        " datetime or number of the watermark column; with --backfill-end")
    parser.add_argument("--backfill-end", metavar="VALUE", help="backfill window end (exclusive)")
    parser.add_argument("--scheduled", action="store_true",
                        help="the scheduler's run (cron): only jobs due by their schedule; run also sends"
                             " the daily summary mail, once a day")
    parser.add_argument("--take-over", metavar="TABLES",
                        help="comma-separated lake tables (or job names) to take from the job that owns them;"
                             " recorded in the audit trail (README: What the app will not do without asking)")


def _request(args: argparse.Namespace):  # -> ingest.plan.request.RunRequest
    from ingest.plan.request import Backfill, RunRequest

    backfill = None
    if args.backfill_start is not None or args.backfill_end is not None:
        backfill = Backfill.parse(args.backfill_start, args.backfill_end)
    return RunRequest(jobs=tuple(_jobs(args.jobs) or ()), tags=tuple(_jobs(args.tags) or ()),
                      rerun_failed=args.rerun_failed, force_full=args.force_full, backfill=backfill,
                      apply_schedules=args.scheduled, dry_run=args.command == "plan" or args.dry_run,
                      take_over=tuple(_jobs(args.take_over) or ()),
                      allow_shrink=tuple(_jobs(args.allow_shrink) or ()))


def _plan(args: argparse.Namespace, config: WorkbookConfig, settings: Settings):  # -> ingest.plan.planner.Plan
    from ingest.records.history import FileRunHistory
    from ingest.plan.planner import make_plan, new_run_context

    return make_plan(config, new_run_context(), request=_request(args), history=FileRunHistory(settings.audit_dir))


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
    owned = _owned_tables(config, args.destination) if args.destination else 0
    if args.check_connections:
        from ingest.sources.onboarding_cli import run_check_for

        checked = run_check_for(config, None)
        return EXIT_INVALID if config.errors or owned else checked
    return EXIT_INVALID if config.errors or owned else EXIT_OK


def _owned_tables(config: WorkbookConfig, destination: str) -> int:
    """`validate --destination`: each enabled job whose lake tables another job owns there
    (ingest/lake/owners.py), printed as an error; how many."""
    from ingest.lake.owners import owner_notes

    settings = Settings.from_env().with_overrides(destination=destination)
    notes = owner_notes([j for j in config.jobs if j.enabled], settings)
    for job_name, note in notes.items():
        print(f"ERROR: job {job_name}: {note.removeprefix('REFUSED: ')}", file=sys.stderr)
    return len(notes)


def cmd_plan(args: argparse.Namespace) -> int:
    from ingest.drivers.dry_run import describe_plan, format_plan

    settings = Settings.from_env().with_overrides(destination=args.destination)
    if settings.key_vault_url:  # the lake's credentials may come from the vault
        from ingest.core.keyvault.registration import register_key_vault

        register_key_vault(settings)
    config = _read(args.config)
    _print_issues(config)
    report = describe_plan(_plan(args, config, settings), settings)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(format_plan(report))
    return EXIT_INVALID if config.errors else EXIT_OK


def _import_the_run() -> None:
    """Import the run's modules (the local runner, ingest/load.py: dlt, sqlalchemy, pyarrow) with
    the cyclic GC off: the ~1,200 modules allocate objects that are not garbage, and the
    collections their allocations trigger only walk them (~0.1-0.15 s of CPU). Frozen after,
    they stay out of later collections and job processes share their pages."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        import ingest.drivers.local.runner  # noqa: F401
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def cmd_run(args: argparse.Namespace) -> int:
    from ingest.core.interrupts import install_runner

    install_runner()  # from here a stop signal is noted, never a traceback: ingest/core/interrupts.py
    _import_the_run()
    from ingest.drivers.finalize import format_summary
    from ingest.core.logging_setup import setup_logging

    settings = Settings.from_env().with_overrides(destination=args.destination, max_workers=args.max_workers)
    log_path = setup_logging(settings.log_dir, verbose=args.verbose)
    from ingest.alerts.telemetry import configure_export  # App Insights export, optional (ingest/alerts/telemetry.py)

    configure_export(settings.appinsights_connection_string)
    if settings.key_vault_url:
        from ingest.core.keyvault.registration import register_key_vault

        register_key_vault(settings)
    if args.dry_run:
        return cmd_plan(args)
    config = _read(args.config)
    _print_issues(config)
    plan = _plan(args, config, settings)
    summary = _run_with_progress(args, settings, plan)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        print(format_summary(summary))
        print(f"Log: {Path(log_path).resolve()}")
    return summary.exit_code


def _run_with_progress(args: argparse.Namespace, settings: Settings, plan):
    """The run, with console progress (ingest/core/progress.py) unless --no-progress: on stdout, or on
    stderr with --json so that stdout stays one JSON document."""
    from ingest.core.progress import Progress, activate
    from ingest.drivers.local.runner import run_local

    if args.no_progress:
        return run_local(plan, settings, Path(args.config), scheduled=args.scheduled)
    stream = sys.stderr if args.json else sys.stdout
    with activate(Progress(stream, interval_s=settings.progress_interval_s)):
        return run_local(plan, settings, Path(args.config), scheduled=args.scheduled)


def cmd_template(args: argparse.Namespace) -> int:
    from ingest.config.template import write_template
    from ingest.core.user_files import refuse_existing

    refuse_existing(Path(args.out), args.force, "--out")
    print(f"template written: {write_template(args.out)}")
    return EXIT_OK


def cmd_workbook(args: argparse.Namespace) -> int:
    """ingest/config/workbook_transfer.py; a refused push is a WorkbookChangedError (exit 2)."""
    from azure.core.exceptions import AzureError

    from ingest.config.workbook_transfer import pull_workbook, push_workbook
    from ingest.core.redact import redact

    settings = Settings.from_env().with_overrides(config_url=args.url)
    try:
        if args.action == "pull":
            done = pull_workbook(settings, Path(args.to), force=args.force)
            print(f"pulled {done.url} ({done.size} bytes, last modified {done.last_modified}) to {done.path}")
            return EXIT_OK
        done = push_workbook(settings, Path(args.file), force=args.force)
    except AzureError as exc:  # no access, firewall, no such container: the SDK's message without secrets
        print(f"ERROR: workbook {args.action}: {type(exc).__name__}: {redact(str(exc).splitlines()[0])}",
              file=sys.stderr)
        return EXIT_JOB_FAILED
    for warning in done.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    print(f"pushed {done.path} to {done.url} ({done.size} bytes, last modified {done.last_modified})")
    return EXIT_OK


def cmd_cdc(args: argparse.Namespace) -> int:
    """`cdc lag` / `cdc drop` (ingest/sources/postgres_cdc/admin.py)."""
    import json

    from ingest.sources.postgres_cdc import admin

    report = admin.drop(args.connection) if args.action == "drop" else admin.slot_lag(args.connection)
    if args.json:
        print(json.dumps(report))
    else:
        print("\n".join(f"{key}: {value}" for key, value in report.items()))
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    from ingest.dashboard.cli import run

    return run(args)


def cmd_discover(args: argparse.Namespace) -> int:
    from ingest.sources.onboarding_cli import run_discover

    return run_discover(args)


def _printable_console() -> None:
    """Whatever a command prints (names and errors from sources included) reaches the terminal
    with control characters escaped: ingest/core/printable.py."""
    from ingest.core.printable import PrintableStream

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, PrintableStream):
            setattr(sys, name, PrintableStream(stream))


def cmd_check(args: argparse.Namespace) -> int:
    from ingest.sources.onboarding_cli import run_check

    return run_check(args)


def main(argv: list[str] | None = None) -> int:
    apply_dlt_defaults()
    _printable_console()
    args = _parser().parse_args(argv)
    handlers = {"run": cmd_run, "validate": cmd_validate, "plan": cmd_plan, "template": cmd_template,
                "dashboard": cmd_dashboard, "workbook": cmd_workbook, "discover": cmd_discover, "check": cmd_check,
                "cdc": cmd_cdc}
    try:
        return handlers[args.command](args)
    except ConfigError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:  # Ctrl-C in a command other than `run` (which records its jobs first)
        print("interrupted", file=sys.stderr)
        return EXIT_SIGINT
