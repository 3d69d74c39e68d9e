"""Interrupts are recorded (issue 32, case 5): SIGINT / SIGTERM on a real `python -m ingest run`
(tests/interrupt_driver.py marks the phase a load is in) and a SIGKILL between the commit and the
audit; the audit trail accounts for every row in the lake."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.integration.conftest import app_env, create_orders, sql  # noqa: F401  (app_env: a fixture)
from tests.workbooks import job_row, write_workbook

DRIVER = Path(__file__).resolve().parents[1] / "interrupt_driver.py"


def environment(tmp_path: Path, mode: str = "process") -> dict[str, str]:
    return {**os.environ, "INGEST_DESTINATION": str(tmp_path / "lake"), "INGEST_AUDIT_DIR": str(tmp_path / "audit"),
            "INGEST_LOG_DIR": str(tmp_path / "logs"), "INGEST_PIPELINES_DIR": str(tmp_path / "pipelines"),
            "INGEST_WORKER_MODE": mode, "INGEST_MAX_WORKERS": "1", "INGEST_CHUNK_SIZE": "1000",
            "INTERRUPT_MARKER": str(tmp_path / "marker")}


def workbook(tmp_path: Path, pg_schema: str, names: list[str]) -> Path:
    rows = [job_row(job_name=n, source_schema=pg_schema, source_table=n, target_table=n, load_type="INCREMENTAL",
                    watermark_column="updated_at") for n in names]
    return write_workbook(tmp_path / "w.xlsx", rows)


def start(tmp_path: Path, book: Path, fault: str, mode: str = "process") -> subprocess.Popen:
    (tmp_path / "marker").unlink(missing_ok=True)
    return subprocess.Popen([sys.executable, str(DRIVER), str(book), fault], env=environment(tmp_path, mode),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def interrupt_at_marker(tmp_path: Path, process: subprocess.Popen, signum: int, group: bool) -> tuple[str, str]:
    """Once the driver marks the phase, the signal: to the whole process group as a terminal's
    Ctrl-C sends it (the job processes too), or to the runner alone as a container stop does."""
    deadline = time.monotonic() + 120
    while not (tmp_path / "marker").exists():
        assert process.poll() is None and time.monotonic() < deadline, "the load never reached the phase"
        time.sleep(0.02)
    os.killpg(process.pid, signum) if group else os.kill(process.pid, signum)
    return process.communicate(timeout=120)


def audit_rows(tmp_path: Path) -> list[dict[str, str]]:
    with open(tmp_path / "audit" / "audit_trail.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def lake_rows(tmp_path: Path, table: str) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in (tmp_path / "lake" / "raw" / table).rglob("*.parquet"))


def test_sigint_during_the_commit_lets_it_finish_and_records_every_job(postgres, pg_schema, tmp_path):
    """Ctrl-C while the first job's commit runs: it finishes (succeeded, with its rows), the
    second job never starts (interrupted), the summary prints, exit 130, no traceback."""
    for name in ("first", "second"):
        create_orders(postgres, pg_schema, 5_000, table=name)
    process = start(tmp_path, workbook(tmp_path, pg_schema, ["first", "second"]), "load")
    out, err = interrupt_at_marker(tmp_path, process, signal.SIGINT, group=True)

    assert process.returncode == 130, out + err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    rows = {r["job_name"]: r for r in audit_rows(tmp_path)}
    assert set(rows) == {"first", "second"}
    run_ids = {r["run_id"] for r in rows.values()}
    assert len(run_ids) == 1 and run_ids.pop() in out  # the summary, with the run id, was printed
    assert (rows["first"]["status"], int(rows["first"]["rows_processed"])) == ("succeeded", 5_000)
    assert lake_rows(tmp_path, "first") == 5_000
    assert rows["second"]["status"] == "interrupted" and lake_rows(tmp_path, "second") == 0
    assert "interrupted by SIGINT" in out


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_sigterm_during_extract_stops_before_the_commit(postgres, pg_schema, tmp_path, mode):
    """A container stop: SIGTERM to the runner only. The job reading rows stops before dlt's load
    step: nothing lands, its audit row says interrupted, exit 143."""
    create_orders(postgres, pg_schema, 100_000, table="big")
    process = start(tmp_path, workbook(tmp_path, pg_schema, ["big"]), "extract", mode)
    out, err = interrupt_at_marker(tmp_path, process, signal.SIGTERM, group=False)

    assert process.returncode == 143, out + err
    assert "Traceback" not in err, err
    [row] = audit_rows(tmp_path)
    assert (row["job_name"], row["status"], row["rows_processed"]) == ("big", "interrupted", "0")
    assert row["run_id"] and "SIGTERM" in row["error_message"]
    assert lake_rows(tmp_path, "big") == 0


def test_an_interrupted_job_is_run_again_by_rerun_failed(postgres, pg_schema, tmp_path):
    create_orders(postgres, pg_schema, 100_000, table="big")
    book = workbook(tmp_path, pg_schema, ["big"])
    process = start(tmp_path, book, "extract")
    interrupt_at_marker(tmp_path, process, signal.SIGINT, group=True)
    [row] = audit_rows(tmp_path)
    assert row["status"] == "interrupted", row

    again = subprocess.run([sys.executable, "-m", "ingest", "plan", "--config", str(book), "--rerun-failed",
                            row["run_id"], "--json"], env=environment(tmp_path), capture_output=True, text=True,
                           timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert again.returncode == 0, again.stderr
    assert '"big"' in again.stdout, again.stdout


def test_a_load_committed_but_never_recorded_is_recovered_by_the_next_run(postgres, pg_schema, tmp_path):
    create_orders(postgres, pg_schema, 3_000, table="lost")
    book = workbook(tmp_path, pg_schema, ["lost"])
    killed = start(tmp_path, book, "kill-before-record")
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert lake_rows(tmp_path, "lost") == 3_000 and not (tmp_path / "audit" / "audit_trail.csv").exists()

    process = start(tmp_path, book, "none")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, out + err
    [recovered] = [r for r in audit_rows(tmp_path) if r["status"] == "recovered"]
    assert (recovered["job_name"], int(recovered["rows_processed"])) == ("lost", 3_000)
    assert "recovered" in recovered["run_id"] and recovered["load_id"]
    assert recovered["load_id"] in {p.name.split(".")[0] + "." + p.name.split(".")[1]
                                    for p in (tmp_path / "lake" / "raw" / "lost").rglob("*.parquet")}
    assert "recovered" in out

    again = start(tmp_path, book, "none")  # found once: the next run does not record it again
    again.communicate(timeout=120)
    assert [r["status"] for r in audit_rows(tmp_path)].count("recovered") == 1


def test_the_audit_trail_accounts_for_every_row_in_the_lake(postgres, pg_schema, tmp_path):
    """An interrupted run, a run killed between its commit and its audit, new rows each time, and
    one more run: the rows the audit trail records (succeeded + interrupted + recovered) are
    the rows in the lake."""
    create_orders(postgres, pg_schema, 20_000, table="orders")
    book = workbook(tmp_path, pg_schema, ["orders"])
    next_id = 20_001

    def new_rows(count: int) -> None:
        nonlocal next_id
        sql(postgres, f"""INSERT INTO {pg_schema}.orders SELECT g, 1, 1.00, 'late', NULL, now(),
            '2024-06-01'::timestamp + g * interval '1 second' FROM generate_series({next_id}, {next_id + count - 1}) g""")
        next_id += count

    interrupted = start(tmp_path, book, "load")
    interrupt_at_marker(tmp_path, interrupted, signal.SIGINT, group=True)
    assert interrupted.returncode == 130
    new_rows(1_000)
    killed = start(tmp_path, book, "kill-before-record")
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    new_rows(1_000)
    last = start(tmp_path, book, "none")
    out, err = last.communicate(timeout=120)
    assert last.returncode == 0, out + err

    in_lake = lake_rows(tmp_path, "orders")
    assert in_lake == 22_000
    counted = [r for r in audit_rows(tmp_path) if r["status"] in ("succeeded", "interrupted", "recovered")]
    assert sum(int(r["rows_processed"]) for r in counted) == in_lake, counted


def test_on_azure_a_load_whose_fan_in_died_is_recovered_by_the_next_run(postgres, pg_schema, app_env, tmp_path,
                                                                         monkeypatch):
    """The Functions app (tests/durable_driver.py plays the extension), lake and audit in Azurite: the
    fan-in of a run dies after its load committed (the worker killed), so the audit container has
    no row for it; the next run records that load, with its rows, as recovered."""
    import io

    from ingest.drivers.azure import activities
    from tests.durable_driver import DurableDriver
    from tests.integration.test_durable_app import lake_rows as blob_lake_rows, upload

    service, config_container, suffix = app_env
    create_orders(postgres, pg_schema, 400)
    upload(config_container, write_workbook(tmp_path / "w.xlsx", [job_row(
        source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at")]))
    from function_app import app

    real = activities.finalize_run

    def killed(*args, **kwargs):
        raise SystemError("the worker died in the fan-in")

    monkeypatch.setattr(activities, "finalize_run", killed)
    with pytest.raises(Exception, match="the worker died in the fan-in"):  # the orchestration failed
        DurableDriver(app, start=datetime.now(timezone.utc)).run("ingest_run_orchestrator", {}, "ingest-killed")
    assert blob_lake_rows(service, f"lake{suffix}", "orders") == 400
    monkeypatch.setattr(activities, "finalize_run", real)

    later = datetime.now(timezone.utc)  # runs start at the driver's clock: the real one, after the load
    summary = DurableDriver(app, start=later).run("ingest_run_orchestrator", {}, "ingest-next").output
    assert [(r["job_name"], r["rows_processed"], r["status"]) for r in summary["recovered"]] == \
        [("orders", 400, "recovered")]
    audit = service.get_container_client(f"audit{suffix}")
    rows = [row for blob in audit.list_blobs(name_starts_with="audit_trail/")
            for row in csv.DictReader(io.StringIO(audit.download_blob(blob.name).readall().decode()))]
    assert sorted((r["status"], r["rows_processed"]) for r in rows) == [("recovered", "400"), ("succeeded", "0")]
