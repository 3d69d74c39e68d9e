"""The local runner's forked job processes (ingest/drivers/local/job_processes.py), with real loads from
PostgreSQL, through `python -m ingest run` in a fresh process (tests/job_process_driver.py): a
job whose process dies fails alone, the others load; the children's log records reach the
parent's run log, masked; INGEST_WORKER_MODE picks threads instead."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.core.settings import Settings
from tests.integration.conftest import create_orders, live_process
from tests.workbooks import job_row, write_workbook


DRIVER = Path(__file__).resolve().parents[1] / "job_process_driver.py"


def run_cli(tmp_path, pg_schema, names, fault, cgroup: Path | None = None):
    rows = [job_row(job_name=n, source_schema=pg_schema, source_table=n, target_table=n) for n in names]
    book = write_workbook(tmp_path / "w.xlsx", rows)
    env = {**os.environ, "INGEST_DESTINATION": str(tmp_path / "lake"), "INGEST_AUDIT_DIR": str(tmp_path / "audit"),
           "INGEST_LOG_DIR": str(tmp_path / "logs"), "INGEST_PIPELINES_DIR": str(tmp_path / "pipelines"),
           "INGEST_WORKER_MODE": "process"}

    def enter_cgroup() -> None:  # in the runner's process, before it starts: its job processes inherit it
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    done = subprocess.run([sys.executable, str(DRIVER), str(book), fault], env=env, capture_output=True,
                          text=True, timeout=300, preexec_fn=enter_cgroup)
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    return {j["job_name"]: j for j in summary["jobs"]}, (tmp_path / "logs").glob("*.log"), done


def test_a_job_whose_process_is_killed_fails_alone(postgres, pg_schema, tmp_path):
    names = ["doomed", "fine_a", "fine_b"]
    for name in names:
        create_orders(postgres, pg_schema, 50, table=name)
    jobs, _, done = run_cli(tmp_path, pg_schema, names, "kill")

    assert done.returncode == 1, done.stderr[-2000:]
    assert jobs["doomed"]["status"] == "failed" and jobs["doomed"]["error_class"] == "WorkerProcessError"
    message = jobs["doomed"]["error_message"]
    assert "killed by SIGKILL" in message and "OOM" in message, message
    assert "the next run loads the whole table again" in message  # a FULL job: not "continues from the state"
    assert [(jobs[n]["status"], jobs[n]["rows_processed"]) for n in ("fine_a", "fine_b")] == \
        [("succeeded", 50), ("succeeded", 50)]


def test_a_job_process_that_aborts_leaves_its_last_words_in_every_record(postgres, pg_schema, tmp_path):
    """A native panic then abort(): the audit, the summary and the log carry the panic's message,
    not only 'ended without a result' (the cause used to be lost on stderr)."""
    names = ["doomed", "fine_a"]
    for name in names:
        create_orders(postgres, pg_schema, 20, table=name)
    jobs, logs, done = run_cli(tmp_path, pg_schema, names, "abort")

    message = jobs["doomed"]["error_message"]
    assert jobs["doomed"]["error_class"] == "WorkerProcessError", message
    assert "killed by SIGABRT" in message and "Rust panic: not implemented: _uuid (at typesystem.rs:134:22)" in message
    assert jobs["fine_a"]["status"] == "succeeded"
    audit = (tmp_path / "audit" / "audit_trail.csv").read_text()
    assert "Rust panic: not implemented: _uuid" in audit
    assert "Rust panic: not implemented: _uuid" in "".join(path.read_text() for path in logs)
    assert "stack backtrace" in done.stderr  # the whole stderr still reaches the console


def test_an_oom_killed_job_says_so(postgres, pg_schema, tmp_path):
    """A real OOM kill: the runner runs in a memory cgroup of 600 MB (cgroup v1 or v2, created
    here as root) and one job reads rows of 60 MB each; the kernel kills its process. The
    message names the OOM killer from the cgroup's own counter. Fails loudly where no memory
    cgroup can be made (CI runs as root on the same kind of machine)."""
    from ingest.drivers.local.worker_exit import memory_cgroup_oom_kills

    cgroup = _memory_cgroup(f"{os.getpid()}-{tmp_path.name}", 600 * 1024 * 1024)  # unique per session
    try:
        create_orders(postgres, pg_schema, 5, table="fine_a")
        from tests.integration.conftest import sql
        sql(postgres, f"CREATE TABLE {pg_schema}.doomed (id integer PRIMARY KEY, v text);"
                      f" INSERT INTO {pg_schema}.doomed SELECT g, repeat(md5(g::text), 2000000) FROM generate_series(1, 12) g")
        jobs, _, done = run_cli(tmp_path, pg_schema, ["doomed", "fine_a"], "none", cgroup=cgroup)
    finally:
        _remove_cgroup(cgroup)
    message = jobs["doomed"]["error_message"]
    assert "killed by SIGKILL: the OOM killer" in message, (message, done.stderr[-1500:])
    assert jobs["fine_a"]["status"] == "succeeded"
    assert memory_cgroup_oom_kills() is not None  # this machine's own cgroup can be read too


def _memory_cgroup(name: str, limit: int) -> Path:
    v1 = Path("/sys/fs/cgroup/memory")
    if v1.is_dir():
        path = v1 / f"ingest-test-{name}"
        path.mkdir()
        (path / "memory.limit_in_bytes").write_text(str(limit))
        return path
    path = Path("/sys/fs/cgroup") / f"ingest-test-{name}"
    path.mkdir()
    (path / "memory.max").write_text(str(limit))
    (path / "memory.swap.max").write_text("0")
    return path


def _remove_cgroup(path: Path) -> None:
    for _ in range(50):
        try:
            path.rmdir()
            return
        except OSError:
            import time
            time.sleep(0.1)


def test_children_log_through_the_parent_masked(postgres, pg_schema, tmp_path):
    create_orders(postgres, pg_schema, 10, table="t1")
    jobs, logs, done = run_cli(tmp_path, pg_schema, ["t1"], "secret")

    assert jobs["t1"]["status"] == "succeeded", done.stderr[-2000:]
    text = "".join(path.read_text() for path in logs)  # the parent's run log: one stream
    child = re.search(r"job t1 pid (\d+) sees \*\*\*", text)
    parent = re.search(r"parent pid (\d+) after the run: \*\*\*", text)  # it learned the secret
    assert child and parent and child.group(1) != parent.group(1), text[-3000:]
    assert "child-only-s3cret" not in text + done.stdout + done.stderr


@pytest.mark.parametrize("raw, expected", [(None, "process"), ("thread", "thread"), ("PROCESS", "process")])
def test_worker_mode_setting(raw, expected):
    env = {} if raw is None else {"INGEST_WORKER_MODE": raw}
    assert Settings.from_env(env).worker_mode == expected


def test_a_wrong_worker_mode_names_the_setting():
    from ingest.core.errors import SettingError

    with pytest.raises(SettingError, match="INGEST_WORKER_MODE"):
        Settings.from_env({"INGEST_WORKER_MODE": "fibers"})


def test_a_process_that_ran_a_job_itself_runs_the_next_ones_in_threads(monkeypatch, caplog):
    """After a job ran in this process its source drivers may hold native threads a forked
    child would lack: the runner keeps to threads (ingest/core/fork_safety.py)."""
    import logging

    from ingest.core import fork_safety
    from ingest.drivers.local.job_processes import worker_mode

    monkeypatch.setattr(fork_safety, "_job_ran_here", False)
    assert worker_mode(Settings(worker_mode="process")) == "process"
    assert worker_mode(Settings(worker_mode="thread")) == "thread"
    fork_safety.note_job_ran_here()
    with caplog.at_level(logging.INFO, logger="ingest.runner"):
        assert worker_mode(Settings(worker_mode="process")) == "thread"
    assert "has run a job itself" in caplog.text


def test_killing_the_runner_kills_its_job_processes(postgres, pg_schema, tmp_path):
    """kill -9 of `python -m ingest run` must not leave a job loading on as an orphan: it would
    race the next run on the same pipeline (ingest/core/child_process.py die_with_parent)."""
    import signal
    import time

    create_orders(postgres, pg_schema, 10, table="slow")
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="slow", source_schema=pg_schema,
                                                        source_table="slow", target_table="slow")])
    pid_file = tmp_path / "child.pid"
    env = {**os.environ, "INGEST_DESTINATION": str(tmp_path / "lake"), "INGEST_AUDIT_DIR": str(tmp_path / "audit"),
           "INGEST_LOG_DIR": str(tmp_path / "logs"), "INGEST_PIPELINES_DIR": str(tmp_path / "pipelines"),
           "INGEST_WORKER_MODE": "process", "HANG_PID_FILE": str(pid_file)}
    runner = subprocess.Popen([sys.executable, str(DRIVER), str(book), "hang"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    child = None
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert child != runner.pid and Path(f"/proc/{child}").exists()
        runner.send_signal(signal.SIGKILL)
        runner.wait()
        deadline = time.monotonic() + 10
        while live_process(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not live_process(child), "the job process outlived its runner"
    finally:
        runner.kill()
        if child and live_process(child):  # do not leave the orphan behind when the assertion fails
            os.kill(child, signal.SIGKILL)
