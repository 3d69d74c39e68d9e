"""Names from a source's catalog with control characters (issue 33, item 2): the workbook
discover writes still opens, and the terminal, the log and the mail show them escaped
(ingest/core/printable.py)."""

from __future__ import annotations

import io
import logging

import openpyxl

from ingest.config.template import write_template
from ingest.config.workbook_merge import NewRow, append_rows
from ingest.core.printable import PrintableStream, printable
from ingest.core.redact import SecretMaskingFilter

HOSTILE = "ctl\x01\x02"
FAKE_OK = "name\x1b[2J\x1b[HOK all checks passed\r\x07"


def test_a_control_character_in_a_discover_note_or_cell_leaves_a_workbook_that_opens(tmp_path):
    book = write_template(tmp_path / "w.xlsx")
    data, outcome = append_rows(book.read_bytes(), "w.xlsx", [NewRow(
        {"job_name": "t1", "enabled": "N", "source_type": "postgres", "connection": "pg",
         "source_table": "t1", "load_type": "FULL", "primary_key": HOSTILE},
        note=f"columns: id, {HOSTILE}")])
    assert outcome.added
    sheet = openpyxl.load_workbook(io.BytesIO(data))["jobs"]
    (row,) = [r for r in sheet.iter_rows(min_row=2) if r[0].value == "t1"]
    assert "ctl\\x01\\x02" in row[0].comment.text
    assert "ctl\\x01\\x02" in [c.value for c in row]


def test_the_console_stream_escapes_terminal_sequences():
    out = io.StringIO()
    PrintableStream(out).write(f"OK   job a: column {FAKE_OK}\n")
    assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue()
    assert out.getvalue().endswith("\r\\x07\n") and "\\x1b[2J" in out.getvalue()  # \r kept: the progress line
    assert printable("a\tb\nc") == "a\tb\nc"


def test_a_log_record_naming_a_hostile_column_is_escaped():
    record = logging.LogRecord("ingest.check", logging.WARNING, __file__, 1, "column %s", (FAKE_OK,), None)
    SecretMaskingFilter().filter(record)
    assert "\x1b" not in record.getMessage() and "\\x1b[HOK" in record.getMessage()


def test_a_failure_mail_shows_a_hostile_name_escaped():
    from ingest.alerts.render import environment

    text = environment().from_string("{{ name }} / {{ html | safe }}").render(name=FAKE_OK, html="<b>\x1b</b>")
    assert "\x1b" not in text and "\\x1b[2J" in text and "<b>\\x1b</b>" in text
