"""The runner's warm-up before it forks job processes (ingest/drivers/local/warm_up.py): a real dlt load
into a scratch folder, once per process, leaving no thread behind (a fork copies only the
forking thread), and never failing a run."""

from __future__ import annotations

import logging
import threading

from ingest.drivers.local import warm_up


def test_warm_up_loads_once_and_leaves_no_thread_running(monkeypatch, tmp_path):
    monkeypatch.setattr(warm_up, "_warm", False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # take TMPDIR
    calls = []
    real = warm_up._scratch_load
    monkeypatch.setattr(warm_up, "_scratch_load", lambda: (calls.append(1), real()))
    threads = threading.active_count()
    warm_up.warm_up()
    warm_up.warm_up()
    assert calls == [1]
    assert threading.active_count() == threads
    assert list(tmp_path.iterdir()) == []  # the scratch folder is gone; the lake was never touched


def test_a_failing_warm_up_is_logged_and_the_run_goes_on(monkeypatch, caplog):
    monkeypatch.setattr(warm_up, "_warm", False)

    def broken() -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(warm_up, "_scratch_load", broken)
    with caplog.at_level(logging.WARNING, logger="ingest.runner"):
        warm_up.warm_up()
    assert "warm-up load failed, jobs start cold: OSError: No space left on device" in caplog.text


def test_preload_imports_what_the_run_s_source_types_need_and_no_other_dialect():
    """A fresh interpreter: a SQLite run's parent imports dlt's SQL source and SQLite's dialect
    before it forks (each job process would import them again), not PostgreSQL's reader."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    probe = ("import json, sys\n"
             "from ingest.drivers.local.warm_up import preload\n"
             "before = set(sys.modules)\n"
             "preload({'sqlite'})\n"
             "print(json.dumps(sorted(set(sys.modules) - before)))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"})
    imported = set(json.loads(done.stdout))
    assert {"dlt.sources.sql_database", "ingest.sources.sql", "sqlalchemy.dialects.sqlite.pysqlite"} <= imported
    assert not {name for name in imported if name.startswith(("connectorx", "psycopg2"))}
