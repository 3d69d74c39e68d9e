"""`python -m ingest workbook pull | push` against Azurite, run as a person runs it (a fresh
process): the ETag recorded at pull guards the push, so a copy made stale by the app's
watermark write-back (or anyone's save) is refused instead of overwriting it; an invalid
workbook is never uploaded; no output carries the account key or the connection string."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ingest.config import read_workbook
from ingest.config.workbook_blob import write_watermarks_blob
from ingest.config.writeback import WatermarkUpdate
from ingest.core.settings import Settings
from tests.services import AZURITE_KEY
from tests.workbooks import job_row, write_workbook

REPO = Path(__file__).resolve().parents[2]
BLOB = "ingestion_config.xlsx"


@pytest.fixture
def blob_env(azurite):
    """A fresh `config` container on Azurite; (settings env, container client)."""
    from azure.storage.blob import BlobServiceClient

    name = f"config{uuid.uuid4().hex[:8]}"
    container = BlobServiceClient.from_connection_string(azurite.connection_string).create_container(name)
    env = {"INGEST_AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
           "INGEST_CONFIG_URL": f"http://127.0.0.1:{azurite.port}/devstoreaccount1/{name}/{BLOB}"}
    return env, container, azurite.connection_string


def workbook(env: dict, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
    done = subprocess.run([sys.executable, "-m", "ingest", "workbook", *args], cwd=cwd,
                          env={**full, "PYTHONPATH": str(REPO), **env}, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert AZURITE_KEY not in output and "AccountKey" not in output, output
    return done


def rows(**orders) -> list[dict]:
    return [job_row(**{"load_type": "INCREMENTAL", "watermark_column": "updated_at", **orders}),
            job_row(job_name="customers", source_table="customers")]


def sidecar(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".blob.json").read_text())


def test_pull_then_push_round_trips_and_records_each_version(blob_env, tmp_path):
    env, container, connection_string = blob_env
    original = write_workbook(tmp_path / "original.xlsx", rows())
    container.upload_blob(BLOB, original.read_bytes())
    local = tmp_path / "mine.xlsx"

    pulled = workbook(env, ["pull", "--to", str(local)], tmp_path)
    assert pulled.returncode == 0, pulled.stderr
    blob = container.get_blob_client(BLOB)
    assert local.read_bytes() == original.read_bytes()
    record = sidecar(local)
    assert record["etag"] == blob.get_blob_properties().etag
    assert record["url"] == env["INGEST_CONFIG_URL"] and connection_string not in json.dumps(record)

    write_workbook(local, rows(enabled="N"))  # the person's edit
    pushed = workbook(env, ["push", str(local)], tmp_path)
    assert pushed.returncode == 0, pushed.stderr
    assert f"pushed {local} to {env['INGEST_CONFIG_URL']}" in pushed.stdout
    properties = blob.get_blob_properties()
    assert blob.download_blob().readall() == local.read_bytes()
    assert properties.metadata["ingest_written_by"].startswith("workbook push by ")
    assert sidecar(local)["etag"] == properties.etag != record["etag"]

    again = workbook(env, ["push", str(local)], tmp_path)  # the recorded version moved with the push
    assert again.returncode == 0, again.stderr


def test_a_copy_made_stale_by_the_watermark_write_back_is_refused_then_recovered(blob_env, tmp_path, monkeypatch):
    env, container, _ = blob_env
    container.upload_blob(BLOB, write_workbook(tmp_path / "original.xlsx", rows()).read_bytes())
    local = tmp_path / "mine.xlsx"
    assert workbook(env, ["pull", "--to", str(local)], tmp_path).returncode == 0

    # the app finishes a run meanwhile: its write-back changes the blob (If-Match, as on Azure)
    outcome = write_watermarks_blob(Settings.from_env(env), [WatermarkUpdate("orders", None, "2024-05-01")])
    assert outcome.written and not outcome.conflicts
    blob = container.get_blob_client(BLOB)
    after_writeback = blob.get_blob_properties()

    write_workbook(local, rows(enabled="N"))  # the person's edit, on the copy without the watermark
    refused = workbook(env, ["push", str(local)], tmp_path)
    assert refused.returncode == 2
    message = refused.stderr
    assert f"ERROR: {env['INGEST_CONFIG_URL']} changed since {local} was pulled" in message
    stamp = after_writeback.last_modified.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"last modified {stamp} by the app's watermark write-back" in message
    assert "python -m ingest workbook pull --to <new file>" in message and f"push {local} --force" in message
    assert blob.get_blob_properties().etag == after_writeback.etag  # nothing uploaded
    assert read_workbook(blob.download_blob().readall()).job("orders").last_watermark is not None

    # the way out the message gives: pull again, re-apply the edit, push: both changes kept
    fresh = tmp_path / "fresh.xlsx"
    assert workbook(env, ["pull", "--to", str(fresh)], tmp_path).returncode == 0
    kept = read_workbook(fresh).job("orders").last_watermark
    assert kept is not None
    write_workbook(fresh, rows(enabled="N", last_watermark=kept))
    assert workbook(env, ["push", str(fresh)], tmp_path).returncode == 0
    final = read_workbook(blob.download_blob().readall())
    assert final.job("orders").enabled is False and final.job("orders").last_watermark == kept


def test_force_overwrites_a_newer_blob_on_purpose(blob_env, tmp_path):
    env, container, _ = blob_env
    container.upload_blob(BLOB, write_workbook(tmp_path / "original.xlsx", rows()).read_bytes())
    local = tmp_path / "mine.xlsx"
    assert workbook(env, ["pull", "--to", str(local)], tmp_path).returncode == 0
    # someone saves through the portal or az storage: no ingest metadata
    container.upload_blob(BLOB, write_workbook(tmp_path / "theirs.xlsx", rows(primary_key="id, region")).read_bytes(),
                          overwrite=True)
    write_workbook(local, rows(enabled="N"))
    refused = workbook(env, ["push", str(local)], tmp_path)
    assert refused.returncode == 2 and "by someone outside ingest" in refused.stderr
    forced = workbook(env, ["push", str(local), "--force"], tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert container.get_blob_client(BLOB).download_blob().readall() == local.read_bytes()


def test_an_invalid_workbook_is_never_uploaded_and_its_errors_name_their_cells(blob_env, tmp_path):
    env, container, _ = blob_env
    container.upload_blob(BLOB, write_workbook(tmp_path / "original.xlsx", rows()).read_bytes())
    local = tmp_path / "mine.xlsx"
    assert workbook(env, ["pull", "--to", str(local)], tmp_path).returncode == 0
    before = container.get_blob_client(BLOB).get_blob_properties().etag
    write_workbook(local, rows(load_type="SOMETIMES"))
    refused = workbook(env, ["push", str(local), "--force"], tmp_path)  # not even with --force
    assert refused.returncode == 2
    assert f"ERROR: {local}: 1 error(s); nothing uploaded:" in refused.stderr
    assert "jobs!H2: " in refused.stderr and "SOMETIMES" in refused.stderr
    assert container.get_blob_client(BLOB).get_blob_properties().etag == before

    local.write_bytes(b"not a workbook")
    broken = workbook(env, ["push", str(local)], tmp_path)
    assert broken.returncode == 2 and "not an .xlsx workbook" in broken.stderr
    assert container.get_blob_client(BLOB).get_blob_properties().etag == before


def test_a_first_push_creates_the_blob_but_never_replaces_one_it_did_not_pull(blob_env, tmp_path):
    env, container, _ = blob_env
    local = write_workbook(tmp_path / "new.xlsx", rows())
    created = workbook(env, ["push", str(local)], tmp_path)  # no blob yet: If-None-Match: *
    assert created.returncode == 0, created.stderr
    other = write_workbook(tmp_path / "other.xlsx", rows(enabled="N"))
    refused = workbook(env, ["push", str(other)], tmp_path)
    assert refused.returncode == 2
    assert "already exists and" in refused.stderr and "other.xlsx.blob.json" in refused.stderr
    assert "workbook push by " in refused.stderr  # who wrote it: the first push
    assert container.get_blob_client(BLOB).download_blob().readall() == local.read_bytes()


def test_pull_keeps_a_local_file_with_edits_not_pushed(blob_env, tmp_path):
    env, container, _ = blob_env
    container.upload_blob(BLOB, write_workbook(tmp_path / "original.xlsx", rows()).read_bytes())
    local = tmp_path / "mine.xlsx"
    assert workbook(env, ["pull", "--to", str(local)], tmp_path).returncode == 0
    assert workbook(env, ["pull", "--to", str(local)], tmp_path).returncode == 0  # unchanged: replaced
    write_workbook(local, rows(enabled="N"))
    edited = local.read_bytes()
    kept = workbook(env, ["pull", "--to", str(local)], tmp_path)
    assert kept.returncode == 2 and "has edits that were not pushed" in kept.stderr
    assert local.read_bytes() == edited
    unknown = write_workbook(tmp_path / "made_here.xlsx", rows())
    refused = workbook(env, ["pull", "--to", str(unknown)], tmp_path)
    assert refused.returncode == 2 and "exists and was not pulled" in refused.stderr


def test_a_copy_pulled_from_another_blob_is_not_pushed_here(blob_env, tmp_path):
    env, container, _ = blob_env
    container.upload_blob(BLOB, write_workbook(tmp_path / "original.xlsx", rows()).read_bytes())
    container.upload_blob("staging.xlsx", write_workbook(tmp_path / "staging.xlsx", rows()).read_bytes())
    local = tmp_path / "mine.xlsx"
    staging_url = env["INGEST_CONFIG_URL"].replace(BLOB, "staging.xlsx")
    assert workbook(env, ["pull", "--to", str(local), "--url", staging_url], tmp_path).returncode == 0
    refused = workbook(env, ["push", str(local)], tmp_path)
    assert refused.returncode == 2 and f"was pulled from {staging_url}, not {env['INGEST_CONFIG_URL']}" in refused.stderr


def test_no_access_is_a_short_error_without_the_key(blob_env, tmp_path):
    env, _, connection_string = blob_env
    wrong = {**env, "INGEST_AZURE_STORAGE_CONNECTION_STRING": connection_string.replace(AZURITE_KEY[:20], "A" * 20)}
    done = workbook(wrong, ["pull", "--to", str(tmp_path / "x.xlsx")], tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("ERROR: workbook pull: HttpResponseError: ") and "failed to authenticate" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "x.xlsx").exists()


def test_a_missing_container_is_named_with_how_to_create_it(blob_env, tmp_path):
    env, _, _ = blob_env
    gone = {**env, "INGEST_CONFIG_URL": env["INGEST_CONFIG_URL"].replace("/config", "/nosuchcontainer")}
    book = write_workbook(tmp_path / "w.xlsx", rows())
    for args in (["push", str(book)], ["pull", "--to", str(tmp_path / "x.xlsx")]):
        done = workbook(gone, args, tmp_path)
        assert done.returncode == 2, done.stderr
        assert "the container 'nosuchcontainer" in done.stderr and "does not exist" in done.stderr
        assert "make azurite" in done.stderr and "az storage container create --name nosuchcontainer" in done.stderr
        assert "Traceback" not in done.stderr


def test_pull_keeps_a_copy_of_another_workbook_unless_forced(blob_env, tmp_path):
    """A local copy pulled from one blob (staging) is not replaced by a pull of another blob
    (production) without --force, even unedited: it is the person's copy of the other workbook."""
    env, container, _ = blob_env
    container.upload_blob(BLOB, write_workbook(tmp_path / "original.xlsx", rows()).read_bytes())
    container.upload_blob("staging.xlsx", write_workbook(tmp_path / "staging.xlsx", rows(enabled="N")).read_bytes())
    local = tmp_path / "mine.xlsx"
    staging_url = env["INGEST_CONFIG_URL"].replace(BLOB, "staging.xlsx")
    assert workbook(env, ["pull", "--to", str(local), "--url", staging_url], tmp_path).returncode == 0
    staging_copy = local.read_bytes()
    refused = workbook(env, ["pull", "--to", str(local)], tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert str(local) in refused.stderr and staging_url in refused.stderr and "--force" in refused.stderr
    assert local.read_bytes() == staging_copy and sidecar(local)["url"] == staging_url
    forced = workbook(env, ["pull", "--to", str(local), "--force"], tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert read_workbook(local).job("orders").enabled is True and sidecar(local)["url"] == env["INGEST_CONFIG_URL"]


def test_pull_help_says_what_its_force_replaces():
    done = subprocess.run([sys.executable, "-m", "ingest", "workbook", "pull", "--help"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert "pulled from another workbook" in " ".join(done.stdout.split())
