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
