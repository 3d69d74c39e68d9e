"""The local driver: a plan's jobs in parallel, one forked process per job (job_processes.py),
in dependency waves (runner.py), after warming up what a fork may inherit (warm_up.py)."""
