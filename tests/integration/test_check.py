"""`python -m ingest check` and `validate --check-connections`, run as a user runs them, against
a real PostgreSQL: a good job, a wrong password, a missing secret, a closed port, a missing
table, a missing watermark, key and filter column. One line per connection and per job, each
failure naming the job (or connection) and its fix; the password never printed."""

from __future__ import annotations

import pytest

from ingest.config import read_workbook
from ingest.sources.connection_check import (FAIL, OK, CheckLine, check_jobs, register_job_check, select_jobs,
                                             unregister_job_check)
from tests.integration.conftest import create_orders
from tests.integration.test_cli import ingest
from tests.services import free_port
from tests.workbooks import job_row, write_workbook

WRONG_PASSWORD = "wrong-pw-31337"


def workbook(tmp_path, schema):
    rows = [
        job_row(source_schema=schema, load_type="INCREMENTAL", watermark_column="updated_at"),
        job_row(job_name="missing_table", source_schema=schema, source_table="no_such_table"),
        job_row(job_name="missing_watermark", source_schema=schema, load_type="INCREMENTAL",
                watermark_column="changed_on"),
        job_row(job_name="missing_key", source_schema=schema, primary_key="id, line_no"),
        job_row(job_name="missing_filter", source_schema=schema),
        job_row(job_name="wrong_pw", connection="pg_wrong", source_schema=schema),
        job_row(job_name="no_secret", connection="pg_nosecret", source_schema=schema),
        job_row(job_name="closed_port", connection="pg_closed", source_schema=schema),
        job_row(job_name="disabled_one", enabled="N", source_schema=schema, source_table="also_missing")]
    for row in rows:
        row["target_table"] = row["job_name"]
    return write_workbook(tmp_path / "w.xlsx", rows, extra_sheets={"filters": [{"job_name": "missing_filter", "column": "region", "operator": "eq",
                                  "value": "US"},
                                 {"job_name": "orders", "column": "qty", "operator": ">", "value": 0}]})


@pytest.fixture
def env(postgres, pg_schema):
    create_orders(postgres, pg_schema, 20)
    closed = free_port()  # nothing listens there
    return {"SOURCES__PG__CREDENTIALS": postgres.url(),
            "SOURCES__PG_WRONG__CREDENTIALS": postgres.url(password=WRONG_PASSWORD),
            "SOURCES__PG_CLOSED__CREDENTIALS": f"postgresql://ingest:{WRONG_PASSWORD}@127.0.0.1:{closed}/source"}


def line_of(output: str, subject: str) -> str:
    (line,) = [line for line in output.splitlines() if f" {subject}: " in line]
    return line


def test_check_prints_one_line_per_connection_and_job_with_the_fix(pg_schema, env, tmp_path):
    book = workbook(tmp_path, pg_schema)
    result = ingest(["check", "--config", str(book)], cwd=tmp_path, env=env)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert WRONG_PASSWORD not in out + result.stderr and "ingest-test-pw" not in out + result.stderr
    assert line_of(out, "connection pg").startswith("OK   connection pg: postgres at 127.0.0.1:")
    assert "credentials from env (SOURCES__PG__CREDENTIALS); connected in" in line_of(out, "connection pg")
    assert line_of(out, "job orders") == (f"OK   job orders: {pg_schema}.orders readable; watermark updated_at;"
                                          " key id; 1 filter(s)")
    table = line_of(out, "job missing_table")
    assert table.startswith("FAIL") and "no_such_table does not exist" in table
    assert "fix: correct source_schema / source_table in jobs row 3" in table
    watermark = line_of(out, "job missing_watermark")
    assert f"{pg_schema}.orders has no column changed_on (watermark_column)" in watermark
    assert "fix: correct watermark_column in jobs row 4, or add the column to the source" in watermark
    assert "has no column line_no (primary_key)" in line_of(out, "job missing_key")
    filtered = line_of(out, "job missing_filter")
    assert "has no column region (filters)" in filtered and "the filters sheet's rows for missing_filter" in filtered
    wrong = line_of(out, "connection pg_wrong")
    assert wrong.startswith("FAIL") and "password authentication failed" in wrong
    assert "fix: the login was refused: correct the user or password in env (SOURCES__PG_WRONG__CREDENTIALS)" in wrong
    missing = line_of(out, "connection pg_nosecret")
    assert "no credentials found" in missing and "fix: set SOURCES__PG_NOSECRET__CREDENTIALS" in missing
    closed = line_of(out, "connection pg_closed")
    assert closed.startswith("FAIL") and "TransientSourceError" in closed
    assert "nothing answered at 127.0.0.1:" in closed and "check the host and port" in closed
    for job in ("wrong_pw", "no_secret", "closed_port"):
        assert "not checked: connection" in line_of(out, f"job {job}")
    assert "disabled_one" not in out  # enabled jobs only, unless named
    assert out.strip().splitlines()[-1] == "check: 8 job(s), FAILED"

    good = ingest(["check", "--config", str(book), "--jobs", "orders"], cwd=tmp_path, env=env)
    assert good.returncode == 0 and good.stdout.strip().splitlines()[-1] == "check: 1 job(s), all OK"
    disabled = ingest(["check", "--config", str(book), "--jobs", "disabled_*"], cwd=tmp_path, env=env)
    assert disabled.returncode == 1 and "also_missing does not exist" in disabled.stdout
    unknown = ingest(["check", "--config", str(book), "--jobs", "nope"], cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "no valid job in the workbook matches 'nope'" in unknown.stderr


def test_validate_check_connections_runs_both(pg_schema, env, tmp_path):
    book = workbook(tmp_path, pg_schema)
    result = ingest(["validate", "--config", str(book), "--check-connections"], cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "9 valid job(s), 0 error(s)" in result.stdout and "FAIL connection pg_wrong" in result.stdout
    plain = ingest(["validate", "--config", str(book)], cwd=tmp_path, env=env)
    assert plain.returncode == 0 and "FAIL" not in plain.stdout and "check:" not in plain.stdout


def test_a_registered_job_check_adds_its_line(pg_schema, env, tmp_path, monkeypatch):
    """The hook CDC's prerequisites use: called with the job and the open engine."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = read_workbook(workbook(tmp_path, pg_schema))
    seen = []

    def replication_slot(job, engine):
        seen.append((job.job_name, engine.dialect.name))
        return CheckLine(f"job {job.job_name}", FAIL, "wal_level is replica", "set wal_level = logical")

    register_job_check(replication_slot)
    try:
        report = check_jobs(select_jobs(config, ["orders"]))
    finally:
        unregister_job_check(replication_slot)
    assert seen == [("orders", "postgresql")]
    assert [line.status for line in report.lines] == [OK, OK, FAIL] and not report.ok
    assert report.to_dict()["lines"][2]["fix"] == "set wal_level = logical"


def test_check_names_key_vault_and_secrets_toml_as_the_provider(postgres, pg_schema, env, tmp_path):
    """Key Vault: the real SecretClient against tests/fake_keyvault.py (no vault or Entra ID runs
    here; FakeTokenCredential stands in). secrets.toml: the CLI in a folder holding .dlt/."""
    from ingest.core.keyvault.registration import register_key_vault, uninstall
    from ingest.core.settings import Settings
    from tests.fake_keyvault import FakeKeyVault, FakeTokenCredential
    from tests.integration.test_keyvault import PREFIX, client_options

    rows = [job_row(job_name="from_vault", connection="pg_vault", source_schema=pg_schema, target_table="a"),
            job_row(job_name="not_in_vault", connection="pg_absent", source_schema=pg_schema, target_table="b")]
    config = read_workbook(write_workbook(tmp_path / "kv.xlsx", rows))
    vault = FakeKeyVault().start()
    try:
        register_key_vault(Settings(key_vault_url=vault.url, key_vault_prefix=PREFIX), FakeTokenCredential(),
                           **client_options(vault))
        vault.set_secret("dev--sources--pg-vault--credentials", postgres.url())
        report = check_jobs(config.jobs)
    finally:
        uninstall()
        vault.stop()
    lines = {line.subject: str(line) for line in report.lines}
    assert "credentials from Key Vault (dev--sources--pg-vault--credentials); connected" in lines["connection pg_vault"]
    assert lines["job from_vault"].startswith("OK")
    absent = lines["connection pg_absent"]
    assert absent.startswith("FAIL") and "Key Vault secret 'dev--sources--pg-absent--credentials'" in absent
    assert postgres.password not in "\n".join(lines.values())

    folder = tmp_path / "project"
    (folder / ".dlt").mkdir(parents=True)
    (folder / ".dlt" / "secrets.toml").write_text(f'[sources.pg_toml]\ncredentials = "{postgres.url()}"\n')
    book = write_workbook(folder / "w.xlsx", [job_row(connection="pg_toml", source_schema=pg_schema)])
    result = ingest(["check", "--config", str(book)], cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "credentials from secrets.toml (sources.pg_toml.credentials)" in result.stdout
