"""Session fixtures: real PostgreSQL and Azurite, started once. A service that cannot start
fails every test that needs it (no silent skips)."""

from __future__ import annotations

import pytest

from ingest.lake.dlt_defaults import apply_dlt_defaults
from tests.services import start_azurite, start_postgres

apply_dlt_defaults()  # what the CLI and the Functions app run with


@pytest.fixture(scope="session")
def postgres():
    pg = start_postgres()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def azurite():
    az = start_azurite()
    yield az
    az.stop()


@pytest.fixture
def settings(tmp_path):
    """Jobs in threads: this pytest process runs jobs in-process, after which forking it is not
    safe (ingest/core/fork_safety.py; the runner would fall back to threads anyway). The forked job
    processes are tested through the CLI in fresh processes (test_job_processes.py, test_cli.py,
    test_progress_cli.py), which is how the runner uses them."""
    from ingest.core.settings import Settings

    return Settings(destination=str(tmp_path / "lake"), audit_dir=tmp_path / "audit",
                    log_dir=tmp_path / "logs", pipelines_dir=tmp_path / "pipelines", max_workers=4,
                    worker_mode="thread")
