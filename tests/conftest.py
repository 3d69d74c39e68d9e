"""Session fixtures: real PostgreSQL and Azurite, started once. A service that cannot start
fails every test that needs it (no silent skips)."""

from __future__ import annotations

import os

import pytest

from tests.services import start_azurite, start_postgres

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


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
    from ingest.settings import Settings

    return Settings(destination=str(tmp_path / "lake"), audit_dir=tmp_path / "audit",
                    log_dir=tmp_path / "logs", pipelines_dir=tmp_path / "pipelines", max_workers=4)
