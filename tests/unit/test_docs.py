"""The docs keep up with the code: every error class of ingest/core/errors.py (found by introspecting
the module, so a new class fails this test until it is documented) and every error class name a
driver records has a section in docs/troubleshooting.md with a cause and a fix; the runbook has
each failure scenario; connection-strings.md has each source type."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from ingest.core import errors
from ingest.config.model import SourceType
from tests.docs_pages import docs_page

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def error_classes() -> set[str]:
    return {name for name, value in vars(errors).items()
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == errors.__name__}


def recorded_class_names() -> set[str]:
    """error_class values written as literals (e.g. the orchestrator's ActivityFailedError)."""
    found = set()
    for path in (REPO / "ingest").rglob("*.py"):
        found |= set(re.findall(r'error_class="([A-Za-z]+)"', path.read_text()))
    return found


def sections(path: Path) -> dict[str, str]:
    """`### `Name`` heading -> the text up to the next heading."""
    parts = re.split(r"^###? (.+)$", path.read_text(), flags=re.M)
    return {title.strip().strip("`"): body for title, body in zip(parts[1::2], parts[2::2])}


def test_every_error_class_has_a_cause_and_a_fix():
    classes = error_classes() | recorded_class_names()
    assert len(classes) >= 20 and "ActivityFailedError" in classes and "SourceFirewallError" in classes
    documented = sections(DOCS / "troubleshooting.md")
    missing = sorted(classes - set(documented))
    assert missing == [], f"add a section '### `<class>`' to docs/troubleshooting.md for {missing}"
    for name in classes:
        body = documented[name]
        cause = re.search(r"\*\*Cause:\*\*(.+?)(?=\n- \*\*|\Z)", body, flags=re.S)
        fix = re.search(r"\*\*Fix:\*\*(.+?)(?=\n- \*\*|\n##|\Z)", body, flags=re.S)
        assert cause and len(cause.group(1).split()) >= 5, name
        assert fix and len(fix.group(1).split()) >= 3, name


def test_troubleshooting_names_no_class_that_does_not_exist():
    documented = set(re.findall(r"^### `([A-Za-z]+)`$", (DOCS / "troubleshooting.md").read_text(), flags=re.M))
    assert len(documented) >= 20
    assert documented - (error_classes() | recorded_class_names()) == set()


def test_the_runbook_covers_each_failure_scenario():
    titles = set(sections(DOCS / "runbook.md"))
    for scenario in ("Source down", "Wrong password", "Key Vault unreachable", "Lake unreachable",
                     "A run is stuck or was killed", "Duplicate-looking rows on parquet",
                     "A watermark to move by hand", "A table's schema changed"):
        assert scenario in titles, scenario


def test_connection_strings_cover_every_source_type():
    text = (DOCS / "connection-strings.md").read_text()
    for source_type in SourceType:
        assert f"(`{source_type.value}`" in text, source_type.value


def test_the_workbook_pages_jobs_table_lists_every_column_as_the_reader_requires_it():
    from ingest.config.columns import JOB_COLUMNS

    table = docs_page("workbook").split("Sheet `jobs`", 1)[1].split("\n\n", 2)[1]
    rows = {m.group(1): m.group(2).strip() for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \|", table, flags=re.M)}
    assert set(rows) == {c.name for c in JOB_COLUMNS}
    for column in JOB_COLUMNS:
        assert (rows[column.name] == "yes") == column.required, (column.name, rows[column.name])
