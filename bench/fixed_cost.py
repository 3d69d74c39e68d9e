"""What a trivial run pays outside the rows: the demo (`make run`) timed phase by phase.

    python -m bench.fixed_cost [--repeat 5] [--rerun]

Makes the demo (examples/make_demo.py) in a scratch folder and runs `python -m ingest run` on it
--repeat times in fresh processes, each on a fresh lake (--rerun: the lake of the previous
round, so the INCREMENTAL job finds nothing new). Prints the wall time of the plain command
(median; what `make run` pays after `make demo`) and a phase table from separate instrumented
runs: the runner's own steps and, inside each job process, the job's steps (wrapped with
wall-clock timers from outside the code: no profiler, nothing in ingest/ changes). Then, in one
warm process, the INCREMENTAL demo job run again with nothing new (the issue's "empty
incremental in a warm process"). Not a test; the figures go into issue notes."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
_OUT = "BENCH_FIXED_COST_OUT"
_LAUNCH = "BENCH_FIXED_COST_LAUNCH"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rerun", action="store_true", help="keep the lake between rounds (nothing new to load)")
    parser.add_argument("--inner", metavar="CONFIG", help=argparse.SUPPRESS)
    parser.add_argument("--warm-incremental", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        return _inner(args.inner)
    if args.warm_incremental:
        return _warm_incremental(args.warm_incremental)
    _outer(args.repeat, args.rerun)


def _outer(repeat: int, rerun: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-fixed-cost-"))
    try:
        subprocess.run([sys.executable, "-m", "examples.make_demo", "--out", str(folder / "demo")], cwd=REPO,
                       check=True, stdout=subprocess.DEVNULL)
        (folder / ".dlt").mkdir()  # the demo's connection: sqlite:///demo/demo.db, relative to the run's folder
        shutil.copy(REPO / ".dlt" / "config.toml", folder / ".dlt" / "config.toml")
        config = str(folder / "demo" / "ingestion_config.xlsx")
        plain, phases = [], []
        for _ in range(repeat):
            plain.append(_plain_run(folder, config, rerun))
            phases.append(_instrumented_run(folder, config, rerun))
        warm = _run_json([sys.executable, "-m", "bench.fixed_cost", "--warm-incremental", config], folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _print(plain, phases, warm, repeat, rerun)


def _fresh(folder: Path, rerun: bool) -> None:
    if not rerun:
        for name in ("lake", "audit", "logs", ".ingest"):
            shutil.rmtree(folder / name, ignore_errors=True)


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **(extra or {})}
    env.pop("INGEST_DESTINATION", None)
    return env


def _plain_run(folder: Path, config: str, rerun: bool) -> float:
    _fresh(folder, rerun)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ingest", "run", "--config", config], cwd=folder, env=_env(), check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _instrumented_run(folder: Path, config: str, rerun: bool) -> dict[str, float]:
    _fresh(folder, rerun)
    out = folder / "phases.jsonl"
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench.fixed_cost", "--inner", config], cwd=folder, check=True,
                   env=_env({_OUT: str(out), _LAUNCH: repr(time.time())}), stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    phases: dict[str, float] = {}
    for line in out.read_text().splitlines():
        for name, seconds in json.loads(line).items():
            phases[name] = phases.get(name, 0.0) + seconds
    phases["exit (after main() returned)"] = wall - sum(
        phases.get(name, 0.0) for name in ("interpreter start (to bench's first line)", "import ingest.cli",
                                           "import what `run` imports", "main() total"))
    phases["wall (instrumented)"] = wall
    return phases


def _run_json(command: list[str], folder: Path) -> dict:
    done = subprocess.run(command, cwd=folder, env=_env(), check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print(plain: list[float], phases: list[dict[str, float]], warm: dict, repeat: int, rerun: bool) -> None:
    import subprocess as sp

    load = sp.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"python -m ingest run (demo, {'re-run: nothing new' if rerun else 'fresh lake'}): median"
          f" {statistics.median(plain):.2f} s of {repeat} (min {min(plain):.2f}, max {max(plain):.2f})")
    print(f"{'phase (job rows: summed over the jobs, in their processes)':58s} {'median s':>9s}")
    names = [name for name in phases[0] if not name.startswith("job")]
    for name in names + [name for name in phases[0] if name.startswith("job")]:
        values = [p.get(name, 0.0) for p in phases]
        print(f"{name:58s} {statistics.median(values):9.3f}")
    print(f"empty incremental in a warm process (demo_orders, run_job again): median {warm['median']:.3f} s"
          f" of {len(warm['runs'])} ({', '.join(f'{r:.3f}' for r in warm['runs'])})")
    print(f"load: {load}")
    print(f"reproduce: python -m bench.fixed_cost --repeat {repeat}{' --rerun' if rerun else ''}")


def _record(phases: dict[str, float]) -> None:
    with open(os.environ[_OUT], "a", encoding="utf-8") as out:
        out.write(json.dumps(phases) + "\n")


def _inner(config: str) -> None:
    """One instrumented `python -m ingest run` (this process runs ingest/__main__.py as it is)."""
    import runpy

    launched = float(os.environ[_LAUNCH])
    phases: dict[str, float] = {"interpreter start (to bench's first line)": time.time() - launched}
    started = time.perf_counter()
    import ingest.cli as cli

    phases["import ingest.cli"] = time.perf_counter() - started
    imports_in_main = _hook_parent(cli, phases)
    sys.argv = ["ingest", "run", "--config", config]
    started = time.perf_counter()
    try:
        runpy.run_module("ingest", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    phases["main() total"] = time.perf_counter() - started - (
        phases.get("import what `run` imports", 0.0) if imports_in_main else 0.0)
    phases["main() other (argparse, summary print, ...)"] = phases["main() total"] - sum(
        seconds for name, seconds in phases.items()
        if name in _MAIN_PARTS or name.startswith("execute plan"))
    _record(phases)
    if code:
        raise SystemExit(code)


def _hook_parent(cli: Any, phases: dict[str, float]) -> bool:
    """Time the run's lazy imports (ingest/cli.py's _import_the_run where it exists, else the
    first import of the runner) and install the timers once they are imported. Whether the
    imports happen inside main()."""
    original = getattr(cli, "_import_the_run", None)

    def import_the_run() -> None:
        started = time.perf_counter()
        if original is not None:
            original()
        else:
            import ingest.drivers.local.runner  # noqa: F401
        phases["import what `run` imports"] = time.perf_counter() - started
        _instrument_parent(phases)

    if original is not None:
        cli._import_the_run = import_the_run
        return True
    import_the_run()  # the code before ingest/cli.py had _import_the_run: imported ahead, timed apart
    return False


_MAIN_PARTS = ("setup logging", "telemetry export set-up", "read workbook", "plan",
               "finalize (audit, dashboard, write-back)")


def time_calls(phases: dict[str, float], owner: object, name: str, label: str) -> None:
    """Add each call's wall time of `owner.name` to `phases[label]` (also bench/phases.py);
    nothing when the attribute does not exist in the code measured."""
    import functools

    original = getattr(owner, name, None)
    if original is None:  # not in this version of the code
        return

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            phases[label] = phases.get(label, 0.0) + time.perf_counter() - started

    setattr(owner, name, wrapper)


def _instrument_parent(phases: dict[str, float]) -> None:
    """The runner's steps (their modules are imported by now)."""
    import ingest.alerts.telemetry as telemetry
    import ingest.cli as cli
    import ingest.core.logging_setup as logging_setup
    import ingest.drivers.local.job_processes as job_processes
    import ingest.drivers.local.runner as runner

    time_calls(phases, logging_setup, "setup_logging", "setup logging")
    time_calls(phases, telemetry, "configure_export", "telemetry export set-up")
    time_calls(phases, cli, "_read", "read workbook")
    time_calls(phases, cli, "_plan", "plan")
    time_calls(phases, runner, "prepare_lake", "prepare lake")
    time_calls(phases, job_processes, "warm_up", "warm-up (parent, before forking)")
    time_calls(phases, runner, "finalize_run", "finalize (audit, dashboard, write-back)")
    time_calls(phases, runner, "execute_plan", "execute plan (prepare lake, warm-up, fork, jobs, collect)")
    time_calls(phases, job_processes, "preload", "preload the jobs' modules (parent, before forking)")
    time_calls(phases, job_processes, "_collect_dead", "a dead job process: wait for its end, build its failed result (parent)")
    original_child = job_processes._child
    original_start = job_processes._start

    def start(context, task):
        os.environ["BENCH_FORKED_AT"] = repr(time.time())
        return original_start(context, task)

    def child(*args, **kwargs):
        child_phases = {"job process: fork to child's first line": time.time() - float(os.environ["BENCH_FORKED_AT"])}
        _instrument_child(child_phases)
        started = time.perf_counter()
        try:
            return original_child(*args, **kwargs)
        finally:
            child_phases["job process: whole job (task.call and pipe)"] = time.perf_counter() - started
            _record(child_phases)

    job_processes._start, job_processes._child = start, child


def _instrument_child(phases: dict[str, float]) -> None:
    """A job's steps, inside its process (ours and dlt's pipeline methods)."""
    import dlt
    from dlt.pipeline.pipeline import Pipeline

    import ingest.load as load
    from ingest.checks import post_load

    time_calls(phases, dlt, "pipeline", "job: dlt.pipeline() set-up")
    for name, label in (("open_source", "job: open source"), ("_repair_lake", "job: repair check"),
                        ("_check_rowcount", "job: row count check")):
        time_calls(phases, load, name, label)
    time_calls(phases, post_load, "before_load", "job: drift before")
    time_calls(phases, post_load, "after_load", "job: drift after / quality")
    for name in ("sync_destination", "extract", "normalize", "load"):
        time_calls(phases, Pipeline, name, f"job: dlt {name}")


def _warm_incremental(config: str) -> None:
    """The INCREMENTAL demo job, loaded once and then run again with nothing new, in this process."""
    from ingest.config.workbook import read_workbook
    from ingest.core.settings import Settings
    from ingest.lake.dlt_defaults import apply_dlt_defaults
    from ingest.load import run_job
    from ingest.plan.planner import new_run_context

    apply_dlt_defaults()
    settings = Settings.from_env()
    job = next(j for j in read_workbook(config).jobs if j.is_incremental)
    run_job(job, new_run_context(), settings)
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        result = run_job(job, new_run_context(), settings)
        runs.append(time.perf_counter() - started)
        assert result.rows_processed == 0, result
    print(json.dumps({"median": statistics.median(runs), "runs": runs}))


if __name__ == "__main__":
    main()
