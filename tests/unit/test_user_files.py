"""Commands that write a file a person names refuse an existing file unless --force (README
"What the app will not do without asking"): `template --out` and `dashboard --out`, run as a
person runs them (a fresh process; no service is needed). `workbook pull --to` is tested
against Azurite in tests/integration/test_workbook_transfer.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl

from tests.workbooks import job_row, write_workbook

REPO = Path(__file__).resolve().parents[2]


def ingest(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
    return subprocess.run([sys.executable, "-m", "ingest", *args], cwd=cwd, capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(REPO), "INGEST_AUDIT_DIR": str(cwd / "audit")}, timeout=120)


def jobs_in(path: Path) -> int:
    sheet = openpyxl.load_workbook(path, read_only=True)["jobs"]
    return sum(1 for row in sheet.iter_rows(min_row=2, values_only=True) if any(row))


def seven_jobs(path: Path) -> Path:
    return write_workbook(path, [job_row(job_name=f"job_{n}", source_table=f"t{n}") for n in range(7)])


def test_template_refuses_to_replace_an_existing_workbook(tmp_path):
    book = seven_jobs(tmp_path / "existing.xlsx")
    before = book.read_bytes()
    done = ingest(["template", "--out", str(book)], tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert str(book) in done.stderr and "--force" in done.stderr
    assert "Traceback" not in done.stderr
    assert book.read_bytes() == before and jobs_in(book) == 7


def test_template_with_force_replaces_and_a_new_file_needs_no_force(tmp_path):
    book = seven_jobs(tmp_path / "existing.xlsx")
    forced = ingest(["template", "--out", str(book), "--force"], tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert jobs_in(book) == 0
    fresh = ingest(["template", "--out", str(tmp_path / "new.xlsx")], tmp_path)
    assert fresh.returncode == 0, fresh.stderr and (tmp_path / "new.xlsx").exists()


def test_dashboard_refuses_to_replace_a_file_named_by_out(tmp_path):
    out = tmp_path / "report.html"
    out.write_text("my own notes")
    done = ingest(["dashboard", "--audit-dir", str(tmp_path / "audit"), "--out", str(out)], tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert str(out) in done.stderr and "--force" in done.stderr and "Traceback" not in done.stderr
    assert out.read_text() == "my own notes"
    forced = ingest(["dashboard", "--audit-dir", str(tmp_path / "audit"), "--out", str(out), "--force"], tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "<html" in out.read_text().lower()


def test_dashboard_default_page_in_the_audit_folder_is_rewritten(tmp_path):
    """The default page (<audit dir>/dashboard.html) is the app's own file: rewritten each time."""
    audit = tmp_path / "audit"
    for _ in range(2):
        done = ingest(["dashboard", "--audit-dir", str(audit)], tmp_path)
        assert done.returncode == 0, done.stderr
    assert (audit / "dashboard.html").exists()
