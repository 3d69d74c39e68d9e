"""What the value check costs, with the database beside the loader and on cores of its own.

    python -m bench.value_check [--rows 5000000] [--repeat 3]

The value check (ingest/checks/values.py) asks the source for each column's count, min and max
in one scan that runs beside a FULL load. In `make bench` PostgreSQL shares this machine's two
cores with the loader, so that scan takes CPU from the load itself; against a database server
of its own (every deployment: Azure SQL, a PostgreSQL server, Oracle) it runs on that server's
cores. This script measures both placements in one run, each side by side with the streaming
reference (bench/measure.py `reference`): "shared" (as `make bench`), and "db on CPU 0" (the
postmaster and every backend pinned to CPU 0 with taskset, each measured process to CPU 1). Fresh
process per measurement, medians of --repeat, alternating reference / check on / check off.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.run import create_table  # noqa: E402
from tests.services import start_postgres  # noqa: E402

SCENARIOS = {
    "reference": lambda url, table, work: ["reference", "--url", url, "--tables", table, "--workdir", work],
    "check on": lambda url, table, work: ["ingest", "--tables", table, "--workdir", work],
    "check off": lambda url, table, work: ["ingest", "--tables", table, "--workdir", work],
}


def pin_server(data_dir: Path, cpu: str) -> None:
    """The postmaster and every process it has forked (new backends inherit the mask)."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
    for pid in [str(postmaster), *children]:
        subprocess.run(["taskset", "-a", "-p", "-c", cpu, pid], check=True, capture_output=True)


def measure(args: list[str], env: dict[str, str], cpu: str | None) -> float:
    command = [sys.executable, "-m", "bench.measure", *args]
    if cpu is not None:
        command = ["taskset", "-c", cpu, *command]
    out = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"measurement {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["wall"]


def placement(url: str, table: str, env: dict[str, str], repeat: int, cpu: str | None) -> dict[str, float]:
    walls: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    for _ in range(repeat):
        for name, make_args in SCENARIOS.items():
            scenario_env = {**env, "INGEST_VALUE_CHECK": "off" if name == "check off" else "fail"}
            with tempfile.TemporaryDirectory() as work:
                walls[name].append(measure(make_args(url, table, work), scenario_env, cpu))
    return {name: statistics.median(values) for name, values in walls.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs two CPUs: one for the database, one for the loader")
    pg = start_postgres()
    try:
        url, table = pg.url(), f"bench_{args.rows}"
        create_table(url, table, args.rows)
        env = {**os.environ, "SOURCES__BENCH__CREDENTIALS": url}
        shared = placement(url, table, env, args.repeat, None)
        pin_server(pg.data_dir, "0")
        pinned = placement(url, table, env, args.repeat, "1")
    finally:
        pg.stop()
    print(f"\n`python -m bench.value_check --rows {args.rows} --repeat {args.repeat}`"
          f" (FULL {args.rows:,} rows, medians of {args.repeat}, fresh process each)\n")
    print("| placement | reference | ingest, check on | ingest, check off | check on vs reference | check off vs reference | the check costs |")
    print("|---|---|---|---|---|---|---|")
    for label, walls in (("shared: database and loader on both cores", shared),
                         ("database on CPU 0, loader on CPU 1", pinned)):
        ref, on, off = walls["reference"], walls["check on"], walls["check off"]
        print(f"| {label} | {ref:.2f} s | {on:.2f} s | {off:.2f} s | {ref / on:.2f}x | {ref / off:.2f}x |"
              f" {on - off:+.2f} s |")


if __name__ == "__main__":
    main()
