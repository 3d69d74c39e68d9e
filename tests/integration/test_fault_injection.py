"""kill -9 of a running load at several points, then re-runs: the lake ends with exactly the
source's rows, no duplicate key, and the committed watermark is never ahead of the data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dlt
import pyarrow as pa
import pyarrow.parquet as pq

from tests.integration.conftest import create_orders, live_process, sql
from tests.workbooks import job_row, write_workbook

REPO = Path(__file__).resolve().parents[2]
KILL_AT_FRACTION = [0.15, 0.35, 0.55, 0.75, 0.95, 1.15]
NEW_ROWS_PER_ROUND = 100_000


def lake_table(lake: Path) -> pa.Table:
    files = sorted((lake / "raw" / "orders").rglob("*.parquet"))
    if not files:
        return pa.table({"id": pa.array([], pa.int64()), "updated_at": pa.array([], pa.timestamp("us"))})
    return pa.concat_tables([pq.read_table(f, columns=["id", "updated_at"]) for f in files])


def committed_watermark(lake: Path):
    """The watermark as a fresh machine would restore it from the lake."""
    with tempfile.TemporaryDirectory() as pipelines:
        pipeline = dlt.pipeline(pipeline_name="ingest_orders", pipelines_dir=pipelines,
                                destination=dlt.destinations.filesystem(lake.resolve().as_uri()), dataset_name="raw")
        pipeline.sync_destination()
        for source in pipeline.state.get("sources", {}).values():
            cursor = source.get("resources", {}).get("orders", {}).get("incremental", {}).get("updated_at")
            if cursor:
                return cursor["last_value"]
    return None


def wait_until_gone(session: int, timeout: float = 5) -> None:
    """Until no process of the session `session` (the runner's pid) is left, so the lake is
    read as the next run finds it. A job process dies with its runner (tested on its own, with
    a job that would run on: tests/integration/test_job_processes.py)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid.name for pid in Path("/proc").glob("[0-9]*")
                 if (fields := live_process(int(pid.name))) and int(fields[3]) == session]
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of the killed run still alive after {timeout} s: {alive}")


def test_kill_nine_at_several_points_then_rerun(postgres, pg_schema, tmp_path):
    create_orders(postgres, pg_schema, 300_000)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema, load_type="INCREMENTAL",
                                                        watermark_column="updated_at")])
    lake = tmp_path / "lake"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SOURCES__PG__CREDENTIALS": postgres.url(),
           "INGEST_DESTINATION": str(lake), "INGEST_CHUNK_SIZE": "20000"}
    command = [sys.executable, "-m", "ingest", "run", "--config", str(book)]
    # how long one whole run takes here, measured on a scratch lake: the kills are placed at
    # fractions of it, so they land in startup, extract, normalize and load on any machine
    scratch_book = write_workbook(tmp_path / "scratch.xlsx", [job_row(
        source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at")])
    started = time.monotonic()
    reference = subprocess.run(command[:-1] + [str(scratch_book)], cwd=tmp_path, env={**env, "INGEST_DESTINATION": str(tmp_path / "scratch"),
                                                           "INGEST_PIPELINES_DIR": str(tmp_path / "scratch_pipes")},
                               capture_output=True, text=True, timeout=300)
    assert reference.returncode == 0, reference.stdout + reference.stderr
    whole_run_s = time.monotonic() - started
    killed_while_running = 0
    next_id = 300_001
    for fraction in KILL_AT_FRACTION:
        delay = fraction * whole_run_s
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)  # the runner only: its job process dies with it
            killed_while_running += 1
        process.wait()
        wait_until_gone(process.pid)  # the whole run, job processes included, before the lake is read
        table = lake_table(lake)
        watermark = committed_watermark(lake)
        if watermark is not None:  # never ahead of what the lake holds
            assert table.num_rows and watermark <= max(table.column("updated_at").to_pylist())
        # new rows arrive between attempts
        sql(postgres, f"""INSERT INTO {pg_schema}.orders SELECT g, 1, 1.00, 'late', NULL,
            now(), '2024-06-01'::timestamp + g * interval '1 second'
            FROM generate_series({next_id}, {next_id + NEW_ROWS_PER_ROUND - 1}) g""")
        next_id += NEW_ROWS_PER_ROUND
    print(f"kill -9 hit a running load {killed_while_running} of {len(KILL_AT_FRACTION)} times")
    assert killed_while_running >= 3  # most kills hit a running load, at different phases

    for _ in range(2):  # finish, then once more: nothing new, nothing duplicated
        finished = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert finished.returncode == 0, finished.stdout + finished.stderr
    ids = lake_table(lake).column("id").to_pylist()
    assert len(ids) == len(set(ids)) == next_id - 1
    assert sorted(ids) == list(range(1, next_id))
    assert committed_watermark(lake) == max(lake_table(lake).column("updated_at").to_pylist())


def test_half_written_state_file_is_rolled_back_on_a_fresh_machine(postgres, pg_schema, settings, tmp_path):
    """The lake as a kill -9 inside dlt's complete_load leaves it (state file truncated, no
    _dlt_loads marker) and the machine lost: the next run repairs and loads exactly once."""
    import shutil

    from ingest.config import read_workbook
    from ingest.plan.planner import make_plan, new_run_context
    from ingest.drivers.local.runner import run_local

    create_orders(postgres, pg_schema, 100)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema, load_type="INCREMENTAL",
                                                        watermark_column="updated_at")])

    def run():
        config = read_workbook(book)
        return run_local(make_plan(config, new_run_context()), settings, book)

    run()
    sql(postgres, f"""INSERT INTO {pg_schema}.orders SELECT g, 1, 1.00, 'late', NULL, now(),
        '2024-06-01'::timestamp + g * interval '1 second' FROM generate_series(101, 150) g""")
    second = run().jobs[0]
    assert second["rows_processed"] == 50
    dataset = Path(settings.destination, "raw")
    load_id = second["load_id"]
    (state_file,) = (dataset / "_dlt_pipeline_state").glob(f"ingest_orders__{load_id}__*")
    state_file.write_bytes(b"")  # killed while writing
    (dataset / "_dlt_loads" / f"ingest_orders__{load_id}.jsonl").unlink()  # never reached
    version_file = max((dataset / "_dlt_version").glob("ingest_orders__*"), key=lambda p: p.name.split("__")[1])
    version_file.write_text('{"truncated')  # the newest schema version, half written
    shutil.rmtree(settings.pipelines_dir)  # a fresh machine

    third = run().jobs[0]
    assert third["status"] == "succeeded", third["error_message"]
    assert third["rows_processed"] == 50  # the rolled-back rows, loaded again
    ids = lake_table(Path(settings.destination)).column("id").to_pylist()
    assert sorted(ids) == list(range(1, 151))
    assert not list((dataset / "orders").rglob(f"{load_id}.*"))
