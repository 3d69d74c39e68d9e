"""Secret masking, error classification of plain errors, and job selection."""

from __future__ import annotations

import logging

import pytest

from ingest.core.classify import classify
from ingest.config import read_workbook
from ingest.core.errors import ConfigError, MissingCredentialsError, TransientSourceError, UnexpectedError
from ingest.plan.planner import make_plan, new_run_context
from ingest.core.redact import SecretMaskingFilter, redact, register_secret
from tests.workbooks import job_row, write_workbook


def test_url_credentials_and_registered_secrets_are_masked():
    register_secret("s3cr3t-value-77")
    text = redact("connect postgresql://bob:hunter2@db:5432/x failed; token=abc123; s3cr3t-value-77")
    assert "hunter2" not in text and "abc123" not in text and "s3cr3t-value-77" not in text
    assert "postgresql://bob:***@db:5432/x" in text


def test_logging_filter_masks_messages_and_tracebacks(caplog):
    register_secret("Log-Canary-4242")
    logger = logging.getLogger("test.redact")
    handler_filter = SecretMaskingFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        raise RuntimeError("password is Log-Canary-4242")
    except RuntimeError:
        logger.exception("failed with %s", "Log-Canary-4242")
    assert "Log-Canary-4242" not in caplog.text


def test_classify_keeps_engine_errors_and_wraps_unknown_ones():
    assert isinstance(classify(MissingCredentialsError("x")), MissingCredentialsError)
    assert isinstance(classify(ConnectionResetError("reset")), TransientSourceError)
    try:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as exc:
        error = classify(exc)
    assert isinstance(error, UnexpectedError) and "KeyError" in str(error)


def test_job_filter_names_and_globs(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="sales_a", source_table="a"), job_row(job_name="sales_b", source_table="b"),
        job_row(job_name="hr", source_table="h"), job_row(job_name="off", source_table="o", enabled="N")]))
    plan = make_plan(config, new_run_context(), ["sales_*"])
    assert [j.job_name for j in plan.jobs] == ["sales_a", "sales_b"]
    assert plan.skipped == {"hr": "not selected", "off": "not selected"}
    everything = make_plan(config, new_run_context())
    assert [j.job_name for j in everything.jobs] == ["sales_a", "sales_b", "hr"]
    assert everything.skipped == {"off": "disabled (enabled = N)"}
    with pytest.raises(ConfigError, match="'typo'"):
        make_plan(config, new_run_context(), ["typo"])
