"""checkov scans infra/ clean: every finding is fixed or skipped inline with its reason, no
Bicep file fails to parse, no secret is written in a file. A canary proves the scan bites."""

from __future__ import annotations

import re

import pytest

from tests.bicep import INFRA, bicep_files
from tests.checkov_scan import failures, scan

SKIP = re.compile(r"checkov:skip=(CKV2?_[A-Z]+_\d+)(?::(.*))?")


@pytest.fixture(scope="module")
def infra_scan() -> dict[str, dict]:
    return scan(INFRA)


def test_checkov_finds_nothing_unjustified_in_infra(infra_scan):
    bicep = infra_scan["bicep"]
    assert bicep["summary"]["parsing_errors"] == 0, bicep["results"].get("parsing_errors")
    assert bicep["summary"]["resource_count"] >= 20 and bicep["summary"]["passed"] >= 30
    assert failures(bicep) == []
    secrets = infra_scan.get("secrets")  # checkov leaves the report out when it found nothing
    assert secrets is None or failures(secrets) == []


def test_every_skip_says_why(infra_scan):
    skipped = infra_scan["bicep"]["results"]["skipped_checks"]
    assert skipped, "expected the justified skips"
    for check in skipped:
        reason = check["check_result"].get("suppress_comment") or ""
        assert len(reason) >= 40, f"{check['check_id']} in {check['file_path']}: skipped without a reason"


def test_every_skip_comment_is_one_checkov_applied(infra_scan):
    """A skip comment that checkov did not apply (a typo, a check that no longer fires) would
    be a silent, stale justification."""
    written = {(m.group(1), path.name) for path in bicep_files() for m in SKIP.finditer(path.read_text())}
    applied = {(c["check_id"], c["file_path"].rsplit("/", 1)[-1])
               for c in infra_scan["bicep"]["results"]["skipped_checks"]}
    assert written and written == applied


def test_the_scan_reports_an_insecure_resource_and_a_file_that_does_not_parse(tmp_path):
    (tmp_path / "insecure.bicep").write_text(
        "resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n"
        "  name: 'canary'\n  location: 'westeurope'\n  kind: 'StorageV2'\n  sku: { name: 'Standard_LRS' }\n"
        "  properties: { supportsHttpsTrafficOnly: false, minimumTlsVersion: 'TLS1_0' }\n}\n")
    (tmp_path / "broken.bicep").write_text("resource x 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: \n")
    bicep = scan(tmp_path)["bicep"]
    failed = {c["check_id"] for c in bicep["results"]["failed_checks"]}
    assert {"CKV_AZURE_3", "CKV_AZURE_44"} <= failed  # https only, TLS 1.2
    assert bicep["summary"]["parsing_errors"] == 1
