"""`python -m ingest run` shows progress of real loads from PostgreSQL: rows so far per job from
dlt's extract step (5 arrow batches of 1,000 rows) and jobs done. Through a pipe: plain lines.
On a terminal (a pseudo-terminal, as a person's shell gives): one status line redrawn in place."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time

from tests.integration.conftest import create_orders
from tests.integration.test_cli import REPO, ingest
from tests.workbooks import job_row, write_workbook

STAMP = r"\[\d\d:\d\d:\d\d\]"


def progress_env(postgres, tmp_path) -> dict[str, str]:
    return {"SOURCES__PG__CREDENTIALS": postgres.url(), "INGEST_DESTINATION": str(tmp_path / "lake"),
            "INGEST_CHUNK_SIZE": "1000", "INGEST_SQL_BACKEND": "pyarrow", "INGEST_PROGRESS_INTERVAL_S": "0",
            "COLUMNS": "160"}


def test_plain_progress_lines_when_stdout_is_not_a_terminal(postgres, pg_schema, tmp_path):
    create_orders(postgres, pg_schema, 5000)
    create_orders(postgres, pg_schema, 300, table="customers")
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema),
        job_row(job_name="customers", source_schema=pg_schema, source_table="customers")])
    result = ingest(["run", "--config", str(book)], cwd=tmp_path, env=progress_env(postgres, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("] 2 job(s) to load") and re.match(STAMP, lines[0])
    counts = [int(m.group(1).replace(",", "")) for m in
              (re.fullmatch(STAMP + r" orders: ([\d,]+) rows", line) for line in lines) if m]
    assert counts == [1000, 2000, 3000, 4000, 5000]  # one line per batch at interval 0
    assert any(re.fullmatch(STAMP + r" orders: succeeded, 5,000 rows in [\d.]+ s \([12]/2 jobs done\)", l) for l in lines)
    assert any(re.fullmatch(STAMP + r" customers: succeeded, 300 rows in [\d.]+ s \([12]/2 jobs done\)", l)
               for l in lines)
    assert "\r" not in result.stdout and "\x1b" not in result.stdout
    assert "Total: 2  Successful: 2  Failed: 0  Rows: 5300" in result.stdout

    quiet = ingest(["run", "--config", str(book), "--no-progress"], cwd=tmp_path, env=progress_env(postgres, tmp_path))
    assert quiet.returncode == 0 and "job(s) to load" not in quiet.stdout
    as_json = ingest(["run", "--config", str(book), "--json"], cwd=tmp_path, env=progress_env(postgres, tmp_path))
    assert as_json.returncode == 0 and as_json.stdout.lstrip().startswith("{")  # progress went to stderr
    assert "orders: succeeded" in as_json.stderr


def run_on_a_terminal(args: list[str], cwd, env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    """Run the command with stdout and stderr on a pseudo-terminal; everything it wrote, raw."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "ingest", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                               stdout=slave, stderr=slave, env={**os.environ, "PYTHONPATH": str(REPO), **env})
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_one_updating_status_line_on_a_terminal(postgres, pg_schema, tmp_path):
    create_orders(postgres, pg_schema, 5000)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema)])
    code, screen = run_on_a_terminal(["run", "--config", str(book)], tmp_path, progress_env(postgres, tmp_path))
    assert code == 0, screen
    # the status line is drawn with a carriage return and cleared to the end of the line
    status = re.findall(r"\r(" + STAMP + r" 0/1 jobs done, ([\d,]+) rows \| loading orders ([\d,]+))\x1b\[K", screen)
    assert status, repr(screen[:2000])
    assert status[0][1] == status[0][2] == "1,000"  # the first batch drawn at once
    assert re.search(r"\r\x1b\[K" + STAMP + r" orders: succeeded, 5,000 rows in [\d.]+ s \(1/1 jobs done\)\r?\n", screen)
    assert re.search(r"\r" + STAMP + r" 1/1 jobs done, 5,000 rows\x1b\[K\r\x1b\[K", screen)  # final state, then cleared
    assert "Total: 1  Successful: 1  Failed: 0  Rows: 5000" in screen
