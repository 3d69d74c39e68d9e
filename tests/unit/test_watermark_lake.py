"""Which lake a watermark belongs to (ingest/lake/identity.py), and the one decision where a
first INCREMENTAL load starts (ingest/plan/load_modes.py first_load_start): a value a person
typed or one written back from this lake starts it, one from another lake does not."""

from __future__ import annotations

from ingest.config.model import JobConfig, LoadType, SourceType
from ingest.core.settings import Settings
from ingest.lake.identity import lake_identity
from ingest.plan.load_modes import first_load_start, for_lake

ACCOUNT = "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net"


def test_the_lake_is_named_by_url_and_dataset_without_secrets(tmp_path):
    assert lake_identity(Settings(destination=str(tmp_path / "lake"))) == f"{(tmp_path / 'lake').as_uri()}/raw"
    azure = Settings(destination="az://lake/bronze/", dataset="sales", azure_storage_connection_string=ACCOUNT)
    assert lake_identity(azure) == "az://lake/bronze/sales (account acme)"
    assert "c2VjcmV0" not in lake_identity(azure)
    named = Settings(destination="abfss://lake@acme.dfs.core.windows.net/bronze?sv=1&sig=secret")
    assert lake_identity(named) == "abfss://lake@acme.dfs.core.windows.net/bronze/raw"


def _job(**values) -> JobConfig:
    return JobConfig(job_name="orders", enabled=True, source_type=SourceType.POSTGRES, connection="pg",
                     source_table="orders", load_type=LoadType.INCREMENTAL, watermark_column="updated_at", **values)


def test_only_a_typed_value_or_one_from_this_lake_starts_a_first_load():
    typed = _job(last_watermark="2024-01-03")
    assert first_load_start(typed, "file:///b/raw").value == "2024-01-03" and for_lake(typed, "file:///b/raw") is typed
    ours = _job(last_watermark="2024-01-03", watermark_lake="file:///b/raw")
    assert first_load_start(ours, "file:///b/raw").value == "2024-01-03"
    theirs = _job(last_watermark="2024-01-03", watermark_lake="file:///a/raw")
    start = first_load_start(theirs, "file:///b/raw")
    assert start.value is None
    assert start.why == ("the workbook's last_watermark 2024-01-03 was written back from lake file:///a/raw,"
                         " not this one (file:///b/raw)")
    assert for_lake(theirs, "file:///b/raw").last_watermark is None
    assert JobConfig.from_dict(theirs.to_dict()) == theirs  # travels to the Azure activity
