"""The Azure load activities run in a child process of the worker (ingest/drivers/azure/isolation.py).

Played here: no Functions host can run, so the activities are called by the Durable SDK's real
replay engine (tests/durable_driver.py plays the extension) or directly, in this process as
the worker, against real PostgreSQL and Azurite. The children are real processes; the faults
are put into them by tests/activity_fault_child.py (a SIGKILL, a panic's lines then abort(),
a Python error); the OOM kill is the kernel's, in a memory cgroup made here (as root, cgroup v1
or v2, named per session) around a fresh process that plays the worker
(tests/activity_isolation_driver.py). Each dead child's job fails with its real cause in the
summary, the audit, the log and the alert mail; the activity returns (the worker lives on) and
the other job of the run loads.
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import azure.functions as func
import pytest

from ingest.core.settings import Settings
from ingest.dashboard.http import handle_dashboard
from ingest.drivers.azure import activities, blueprint, isolation, warm_child
from tests.activity_fault_child import CANARY, URL_PASSWORD
from tests.durable_driver import DurableDriver
from tests.integration.conftest import create_orders, sql
from tests.integration.test_durable_alerts import mail_settings
from tests.integration.test_durable_app import app_env, upload  # noqa: F401  (app_env is a fixture)
from tests.integration.test_job_processes import _memory_cgroup, _remove_cgroup
from tests.mailserver import start_mail_server
from tests.workbooks import job_row, write_workbook

FAULT_CHILD = Path(__file__).resolve().parents[1] / "activity_fault_child.py"
DRIVER = Path(__file__).resolve().parents[1] / "activity_isolation_driver.py"
PANIC = "Rust panic: not implemented: _uuid (at typesystem.rs:134:22)"


def with_fault(monkeypatch, fault: str, job: str = "doomed") -> None:
    """The fault in a fresh child (process), or in the warm server its children fork from (warm)."""
    command = lambda: [sys.executable, str(FAULT_CHILD), fault, job]  # noqa: E731
    monkeypatch.setattr(isolation, "child_command", command)
    monkeypatch.setattr(warm_child, "server_command", command)


@pytest.fixture(params=["process", "warm"])
def mode(request, monkeypatch):
    """INGEST_ACTIVITY_ISOLATION: a fresh child per activity, or one forked by the warm server."""
    monkeypatch.setenv("INGEST_ACTIVITY_ISOLATION", request.param)
    blueprint.settings.cache_clear()
    return request.param


def two_jobs(postgres, pg_schema, config_container, tmp_path, doomed_type: str = "FULL") -> None:
    create_orders(postgres, pg_schema, 30, table="fine")
    create_orders(postgres, pg_schema, 10, table="doomed")
    doomed = {"load_type": "INCREMENTAL", "watermark_column": "updated_at"} if doomed_type == "INCREMENTAL" else {}
    upload(config_container, write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="doomed", source_schema=pg_schema, source_table="doomed", **doomed),
        job_row(job_name="fine", source_schema=pg_schema, source_table="fine")]))


def audit_rows(service, suffix: str) -> list[dict]:
    audit = service.get_container_client(f"audit{suffix}")
    names = [b.name for b in audit.list_blobs(name_starts_with="audit_trail/")]
    return [row for name in names
            for row in csv.DictReader(io.StringIO(audit.download_blob(name).readall().decode()))]


def run_app(fault: str | None = None, monkeypatch=None) -> dict:
    if fault is not None:
        with_fault(monkeypatch, fault)
    from function_app import app

    started = datetime.now(timezone.utc) - timedelta(hours=1)  # inside the dashboard's period
    outcome = DurableDriver(app, start=started).run("ingest_run_orchestrator", {}, "ingest-all")
    return {job["job_name"]: job for job in outcome.output["jobs"]}


def test_a_killed_child_fails_its_job_alone(postgres, pg_schema, app_env, mode, tmp_path, monkeypatch):
    service, config_container, suffix = app_env
    two_jobs(postgres, pg_schema, config_container, tmp_path)
    jobs = run_app("kill", monkeypatch)

    message = jobs["doomed"]["error_message"]
    assert jobs["doomed"]["status"] == "failed" and jobs["doomed"]["error_class"] == "WorkerProcessError", message
    assert "its worker process ended without a result (killed by SIGKILL" in message
    assert "not by the OOM killer" in message or "most often the OOM killer" in message
    assert message.endswith("the next run loads the whole table again")  # a FULL job
    assert (jobs["fine"]["status"], jobs["fine"]["rows_processed"]) == ("succeeded", 30)
    assert {r["job_name"]: r["error_class"] for r in audit_rows(service, suffix)}["doomed"] == "WorkerProcessError"
    if mode == "warm":  # the children were the warm server's, and it outlived the killed one
        server = warm_child.WarmServer._current
        assert server is not None and server.process.poll() is None and server.in_flight == 0


def test_a_child_stopped_by_sigterm_records_its_job_interrupted(postgres, pg_schema, app_env, mode, tmp_path,
                                                                monkeypatch):
    """SIGTERM to an activity's child as its load starts: the load stops before its commit and the
    job is recorded `interrupted` (not a dead worker), nothing of it in the lake; the other job loads."""
    service, config_container, suffix = app_env
    two_jobs(postgres, pg_schema, config_container, tmp_path)
    jobs = run_app("term", monkeypatch)

    assert (jobs["doomed"]["status"], jobs["doomed"]["error_class"]) == ("interrupted", "JobInterruptedError"), \
        jobs["doomed"]
    assert "SIGTERM" in jobs["doomed"]["error_message"] and jobs["doomed"]["rows_processed"] == 0
    assert (jobs["fine"]["status"], jobs["fine"]["rows_processed"]) == ("succeeded", 30)
    assert {r["job_name"]: r["status"] for r in audit_rows(service, suffix)}["doomed"] == "interrupted"
    lake = service.get_container_client(f"lake{suffix}")
    assert not [b.name for b in lake.list_blobs() if "/doomed/" in b.name and b.name.endswith(".parquet")]


def test_an_aborted_child_leaves_its_last_words_in_every_record(postgres, pg_schema, app_env, mode, tmp_path,
                                                                monkeypatch, caplog):
    """Summary, audit, log, dashboard and the failure mail (a real SMTP server on 127.0.0.1)
    carry the panic's message and what the next run does for an INCREMENTAL job."""
    service, config_container, suffix = app_env
    two_jobs(postgres, pg_schema, config_container, tmp_path, doomed_type="INCREMENTAL")
    server = start_mail_server()
    mail_settings(monkeypatch, server.port)
    try:
        with caplog.at_level(logging.INFO):
            jobs = run_app("abort", monkeypatch)
    finally:
        server.stop()

    message = jobs["doomed"]["error_message"]
    assert jobs["doomed"]["error_class"] == "WorkerProcessError", message
    assert f"killed by SIGABRT); it said: {PANIC}" in message
    assert "continues from the watermark committed with the last finished load" in message
    assert jobs["fine"]["status"] == "succeeded"
    assert PANIC in {r["job_name"]: r["error_message"] for r in audit_rows(service, suffix)}["doomed"]
    assert f"job doomed failed: WorkerProcessError: job 'doomed'" in caplog.text and PANIC in caplog.text
    from_children = [r.getMessage() for r in caplog.records if r.process != os.getpid()]
    # a child's records reach the worker's log: the line tests/activity_fault_child.py logs in
    # the child (the Azure SDK's request lines this looked for are quiet in the app now)
    assert any(m.endswith("loads job fine") for m in from_children), from_children
    (mail,) = server.mailbox.mails
    assert PANIC in mail.text and "doomed" in mail.subject + mail.text
    page = handle_dashboard(func.HttpRequest("GET", "http://localhost/api/dashboard", body=b"", params={"days": "7"}),
                            blueprint.settings())
    assert page.status_code == 200 and PANIC in html.unescape(page.get_body().decode())


def test_secrets_a_child_learned_never_reach_a_record(postgres, pg_schema, app_env, mode, tmp_path, monkeypatch,
                                                     caplog, capfd):
    """A secret the child learned (as from Key Vault) and a URL password, both in its last words:
    masked in the summary, the audit, the log and the worker's stderr."""
    service, config_container, suffix = app_env
    two_jobs(postgres, pg_schema, config_container, tmp_path)
    with caplog.at_level(logging.DEBUG):
        jobs = run_app("canary", monkeypatch)
    err = capfd.readouterr().err

    message = jobs["doomed"]["error_message"]
    assert "Rust panic: not implemented: _uuid ***" in message and "reader:***@db.example.com" in message
    assert "not implemented: _uuid" in err  # the child's stderr reached the worker's, masked
    for place, text in {"summary": json.dumps(jobs), "audit": json.dumps(audit_rows(service, suffix)),
                        "log": caplog.text, "stderr": err}.items():
        assert CANARY not in text and URL_PASSWORD not in text, place


def test_a_python_error_in_the_child_is_raised_for_durable_to_retry(postgres, pg_schema, app_env, mode, tmp_path,
                                                                     monkeypatch):
    """Not a death: the activity raises in the worker as it would inline (Durable retries it);
    after every attempt the job is an ActivityFailedError naming the error, secret masked."""
    _service, config_container, _suffix = app_env
    two_jobs(postgres, pg_schema, config_container, tmp_path)
    monkeypatch.setenv("INGEST_JOB_RETRY_ATTEMPTS", "2")
    blueprint.settings.cache_clear()
    jobs = run_app("raise", monkeypatch)

    message = jobs["doomed"]["error_message"]
    assert jobs["doomed"]["error_class"] == "ActivityFailedError", message
    assert "after 2 attempt(s)" in message and "ConnectionResetError: blob read reset" in message
    assert CANARY not in message
    assert jobs["fine"]["status"] == "succeeded"


def test_a_dead_chunk_child_and_a_dead_cdc_child_answer_in_their_activity_shape(monkeypatch, tmp_path):
    """load_chunk and load_cdc_connection called directly with a child that dies before it reads
    its request (a command that is killed at once): a failed chunk outcome naming the chunk, and
    one failed result per CDC job, each with what its next run does."""
    monkeypatch.setattr(isolation, "child_command",
                        lambda: [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    settings = Settings(pipelines_dir=tmp_path, activity_isolation="process")
    run = {"run_id": "r1", "started_at": "2026-01-05T06:00:00+00:00"}
    from ingest.config.model import ChunkSize, JobConfig, LoadType, SourceType

    job = JobConfig(job_name="big", enabled=True, source_type=SourceType.POSTGRES, connection="db",
                    source_schema="s", source_table="big", load_type=LoadType.FULL,
                    chunk_size=ChunkSize(4, "chunks"), row=2)
    chunk = activities.load_chunk_activity({"run": run, "job": job.to_dict(), "chunk": "c001"}, settings)
    assert (chunk["status"], chunk["chunk"], chunk["error_class"]) == ("failed", "c001", "WorkerProcessError")
    assert "killed by SIGKILL" in chunk["error_message"] and "reuses the chunks staged" in chunk["error_message"]

    cdc = [JobConfig(job_name=name, enabled=True, source_type=SourceType.POSTGRES, connection="db", source_schema="s",
                     source_table=name, load_type=LoadType.CDC, primary_key=("id",), row=2) for name in ("a", "b")]
    results = activities.load_cdc_activity({"run": run, "jobs": [j.to_dict() for j in cdc]}, settings)
    assert [(r["job_name"], r["error_class"]) for r in results] == [("a", "WorkerProcessError"),
                                                                    ("b", "WorkerProcessError")]
    assert all("the slot never moves past what the lake committed" in r["error_message"] for r in results)


def test_an_oom_killed_child_says_so(postgres, pg_schema, app_env, mode, tmp_path):
    """A real OOM kill: a fresh process plays the worker (tests/activity_isolation_driver.py runs
    the app through the replay driver) inside a memory cgroup of 700 MB; the doomed job reads
    rows of 64 MB each and the kernel kills its child. The message names the OOM killer from
    the cgroup's own counter; the worker process finishes the run and the other job loads.
    Fails loudly where no memory cgroup can be made (CI runs as root on this kind of machine)."""
    _service, config_container, _suffix = app_env
    create_orders(postgres, pg_schema, 5, table="fine")
    sql(postgres, f"CREATE TABLE {pg_schema}.doomed (id integer PRIMARY KEY, v text);"
                  f" INSERT INTO {pg_schema}.doomed SELECT g, repeat(md5(g::text), 2000000) FROM generate_series(1, 12) g")
    upload(config_container, write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="doomed", source_schema=pg_schema, source_table="doomed"),
        job_row(job_name="fine", source_schema=pg_schema, source_table="fine")]))
    cgroup = _memory_cgroup(f"activity-{os.getpid()}-{tmp_path.name}", 700 * 1024 * 1024)
    try:
        done = subprocess.run([sys.executable, str(DRIVER)], capture_output=True, text=True, timeout=600,
                              preexec_fn=lambda: (cgroup / "cgroup.procs").write_text(str(os.getpid())))
    finally:
        _remove_cgroup(cgroup)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = {job["job_name"]: job for job in json.loads(done.stdout)["jobs"]}
    message = jobs["doomed"]["error_message"]
    assert jobs["doomed"]["error_class"] == "WorkerProcessError", (message, done.stderr[-2000:])
    assert "killed by SIGKILL: the OOM killer" in message, (message, done.stderr[-2000:])
    assert (jobs["fine"]["status"], jobs["fine"]["rows_processed"]) == ("succeeded", 5)


def test_inline_runs_in_the_worker_and_the_setting_is_checked(monkeypatch):
    monkeypatch.setattr(isolation, "run_isolated", lambda *a: pytest.fail("inline must not start a child"))
    seen = {}
    monkeypatch.setitem(activities.INLINE, "load_job", lambda payload, settings: seen.setdefault("ran", payload))
    assert activities.load_job_activity({"x": 1}, Settings(activity_isolation="inline")) == {"x": 1}
    assert Settings.from_env({}).activity_isolation == "warm"
    assert Settings.from_env({"INGEST_ACTIVITY_ISOLATION": "inline"}).activity_isolation == "inline"
    from ingest.core.errors import SettingError

    with pytest.raises(SettingError, match="INGEST_ACTIVITY_ISOLATION"):
        Settings.from_env({"INGEST_ACTIVITY_ISOLATION": "thread"})


def test_settings_travel_to_the_child_whole():
    settings = Settings.from_env({"INGEST_ALERT_TO": "a@example.com,b@example.com", "INGEST_AUDIT_DIR": "/tmp/a",
                                  "INGEST_AZURE_STORAGE_CONNECTION_STRING": "AccountKey=abc123=="})
    assert Settings.from_json(json.loads(json.dumps(settings.to_json()))) == settings
    assert "abc123" not in repr(settings)
    with pytest.raises(Exception, match="unknown field"):
        Settings.from_json({"no_such_setting": 1})


@pytest.mark.parametrize("isolation_mode", ["process", "warm"])
def test_killing_the_worker_kills_its_activity_children(tmp_path, isolation_mode):
    """A fresh process plays the worker and runs load_job, whose child (hung in its load) has
    written its pid; the worker is SIGKILLed; the child ends too (process: PR_SET_PDEATHSIG;
    warm: the server sees the worker's socket close and kills its children, then each child's
    PR_SET_PDEATHSIG on the server), so no load goes on unseen beside the attempt Durable
    delivers again."""
    pid_file = tmp_path / "child.pid"
    worker = subprocess.Popen([sys.executable, "-c", (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from ingest.core.settings import Settings\n"
        "from ingest.drivers.azure import activities, isolation, warm_child\n"
        "isolation.child_command = lambda: [sys.executable, sys.argv[2], 'hang', 'x']\n"
        "warm_child.server_command = isolation.child_command\n"
        "activities.load_job_activity({}, Settings(activity_isolation=sys.argv[3]))\n"),
        str(FAULT_CHILD.parents[1]), str(FAULT_CHILD), isolation_mode], env={**os.environ, "HANG_PID_FILE": str(pid_file)})
    try:
        for _ in range(300):
            if pid_file.exists() and pid_file.read_text():
                break
            time.sleep(0.1)
        child = int(pid_file.read_text())
        assert Path(f"/proc/{child}").exists()
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        for _ in range(100):
            if not Path(f"/proc/{child}").exists() or "Z" in _state(child):
                break
            time.sleep(0.1)
        assert not Path(f"/proc/{child}").exists() or "Z" in _state(child), "the child outlived its worker"
    finally:
        if worker.poll() is None:
            worker.kill()
        if pid_file.exists() and pid_file.read_text() and _state(int(pid_file.read_text())) not in ("gone", "Z"):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)  # a failed run leaves no load behind


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_a_child_offers_itself_to_the_oom_killer_before_the_worker():
    from ingest.drivers.azure.activity_child import OOM_SCORE_ADJ

    done = subprocess.run([sys.executable, "-c", "from ingest.drivers.azure.activity_child import "
                           "prefer_to_be_oom_killed as p; p(); print(open('/proc/self/oom_score_adj').read())"],
                          capture_output=True, text=True, check=True, cwd=FAULT_CHILD.parents[1])
    assert int(done.stdout) >= OOM_SCORE_ADJ > int(Path("/proc/self/oom_score_adj").read_text())


def test_the_warm_server_serves_concurrent_activities_and_a_new_environment(monkeypatch):
    """Activities run in threads of one worker, as the Functions host runs them: each gets its
    own child and answer (here the child's KeyError for an unknown activity, raised again as
    ActivityChildError). A changed environment retires the server for a new one."""
    from concurrent.futures import ThreadPoolExecutor

    from ingest.core.errors import ActivityChildError

    def one(_: int) -> str:
        with pytest.raises(ActivityChildError, match="KeyError"):
            isolation.run_isolated("no_such_activity", {}, Settings(activity_isolation="warm"), pytest.fail)
        return "raised"

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(one, range(8))) == ["raised"] * 8
    first = warm_child.WarmServer._current
    assert first is not None and first.in_flight == 0 and first.process.poll() is None
    monkeypatch.setenv("INGEST_TEST_ENVIRONMENT_CHANGED", "1")
    one(0)
    second = warm_child.WarmServer._current
    assert second is not first and first.retired and first.process.wait(10) == 0  # the old one ended
