"""The "Against Azurite" block of docs/azurite.md, run as written in bash from the repository: `make
azurite` starts a real Azurite (its own folder and ports here, through AZURITE_DIR and a free
BLOB_PORT, so a developer's running one is left alone), the printed settings point the CLI at
it, the workbook is pushed and the demo loads into az://lake/bronze."""

from __future__ import annotations

import os
import re
import subprocess

from tests.docs_pages import docs_page
from tests.integration.test_cli import REPO
from tests.services import free_port


def docs_block(page: str, heading: str) -> str:
    text = docs_page(page)
    section = text[text.index(heading):]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_the_docs_azurite_commands_run_as_written(tmp_path):
    block = docs_block("azurite", "# Against Azurite")
    assert "make azurite\n" in block.replace("  ", "") or "make azurite " in block
    demo = subprocess.run(["make", "-s", "demo"], cwd=REPO, capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr
    for pulled in (REPO / "demo").glob("*.blob.json"):  # a push to another Azurite, earlier on this machine
        pulled.unlink()
    port = free_port()
    env = {**os.environ, "AZURITE_DIR": str(tmp_path / "azurite"), "BLOB_PORT": str(port),
           "SOURCES__DEMO__CREDENTIALS": f"sqlite:///{REPO / 'demo' / 'demo.db'}"}
    env.pop("INGEST_AZURE_STORAGE_CONNECTION_STRING", None)
    script = "set -e\n" + block.replace("make azurite-stop", "true") + "\necho RUN-DONE\n"
    try:
        result = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                                timeout=420)
    finally:
        stopped = subprocess.run(["make", "-s", "azurite-stop"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"blob 127.0.0.1:{port}" in result.stdout and "containers config, audit, lake" in result.stdout
    assert "pushed demo/ingestion_config.xlsx" in result.stdout
    assert re.search(r"demo_customers\s+succeeded\s+500", result.stdout), result.stdout[-2000:]
    assert "azurite stopped" in stopped.stdout
    assert not (tmp_path / "azurite" / "azurite.pid").exists()
