"""What one Durable run of the Functions app logs through Python's logging (what the Functions
worker forwards to the host and Application Insights, which bills by volume): the libraries'
lines must not outnumber the app's own. The run goes through the Durable SDK's real replay
engine (tests/durable_driver.py) against Azurite and PostgreSQL; no Functions host runs here."""

from __future__ import annotations

import importlib
import logging
import sys
from collections import Counter

from tests.durable_driver import DurableDriver
from tests.integration.conftest import create_orders
from tests.integration.conftest import app_env  # noqa: F401 (fixture)
from tests.integration.test_durable_app import upload
from tests.workbooks import job_row, write_workbook


class CountingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)  # the worker forwards INFO and up
        self.by_logger: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.by_logger[record.name] += 1


def test_one_durable_run_logs_more_of_its_own_lines_than_the_libraries(postgres, pg_schema, app_env, tmp_path):
    create_orders(postgres, pg_schema, 20)
    upload(app_env[1], write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema)]))
    for name in ("azure", "urllib3"):  # as a fresh worker process has them
        logging.getLogger(name).setLevel(logging.NOTSET)
    module = sys.modules.get("function_app")
    app = (importlib.reload(module) if module else importlib.import_module("function_app")).app
    root = logging.getLogger()
    handler, level = CountingHandler(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        outcome = DurableDriver(app).run("ingest_run_orchestrator", {"jobs": None}, "ingest-all")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert outcome.output["succeeded"] == 1
    own = sum(n for name, n in handler.by_logger.items() if name.split(".")[0] == "ingest")
    libraries = {name: n for name, n in handler.by_logger.items() if name.split(".")[0] != "ingest"}
    assert own > 0
    assert sum(libraries.values()) <= own, libraries
    assert not any(name.startswith("azure.core.pipeline.policies.http_logging_policy") for name in libraries)
