"""Drivers: the two ways a plan is run, and what both call. local/ runs the jobs of a plan as
processes on this machine (the CLI); azure/ is the Durable Functions app (timer, HTTP, ADF);
finalize.py is their shared fan-in (checks report, records, write-back, alerts, telemetry);
dry_run.py says what each job would do without loading.

May import: core, config, lake, checks, records, plan, sources, load, alerts, dashboard."""
