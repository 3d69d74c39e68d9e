"""The job's filesystem destination resolves its dlt configuration once per dataset
(ingest/lake/destination.py _JobFilesystem): dlt asked 12 times per incremental job, ~1.2 ms each."""

from __future__ import annotations

from dlt.common.destination import reference
from dlt.dataset.utils import get_destination_client_initial_config

from ingest.lake.destination import make_destination
from ingest.core.settings import Settings


def test_configuration_is_resolved_once_per_dataset(tmp_path, monkeypatch):
    resolved = []
    real = reference.resolve_configuration
    monkeypatch.setattr(reference, "resolve_configuration",
                        lambda *args, **kwargs: resolved.append(1) or real(*args, **kwargs))
    destination = make_destination(Settings(destination=str(tmp_path / "lake")))

    def config(dataset: str):
        return destination.configuration(get_destination_client_initial_config(destination, dataset_name=dataset))

    first, again, other = config("raw"), config("raw"), config("staging")
    assert len(resolved) == 2  # raw once, staging once
    assert again is not first and again.bucket_url == first.bucket_url and again.dataset_name == "raw"
    again.dataset_name = "changed by a caller"
    assert config("raw").dataset_name == "raw"  # each caller gets its own copy
    assert other.dataset_name == "staging"
