"""Local Azure storage in one command: `make azurite` (or `python scripts/azurite.py start`).

Installs Azurite from the npm registry into .tools/ when missing, starts its blob, queue and
table services on 127.0.0.1 (the default ports 10000-10002 when free, else free ones, or
--blob-port and the two after it) with telemetry off and its data in .azurite/, creates the
containers the app uses (config, audit, lake), and prints the environment and the
local.settings.json values that point at it. `python scripts/azurite.py stop` stops it.
Azurite's account and key are its published development ones (not secrets)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("AZURITE_DIR") or REPO / ".azurite")
"""Its data, log, pid and settings (AZURITE_DIR: another folder, e.g. for a test)."""
TOOLS = REPO / ".tools"
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONTAINERS = ("config", "audit", "lake")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _three_free_ports(first: int | None) -> tuple[int, int, int]:
    candidates = [first] if first else [10000] + list(range(20000, 20300, 3))
    for base in candidates:
        if all(_free(base + i) for i in range(3)):
            return base, base + 1, base + 2
    raise SystemExit(f"no three free ports from {candidates[0]}: pass --blob-port with another")


def _binary() -> Path:
    binary = TOOLS / "node_modules" / ".bin" / "azurite"
    if not binary.exists():
        print("installing azurite into .tools/ (npm)", file=sys.stderr)
        TOOLS.mkdir(exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund", "--silent", "azurite@3"],
                       check=True, stdout=subprocess.DEVNULL)
    return binary


def _wait(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"azurite exited with {process.returncode}: see {STATE / 'azurite.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"azurite did not listen on 127.0.0.1:{port} in {timeout:.0f} s: see {STATE / 'azurite.log'}")


def connection_string(blob_port: int) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint=http://127.0.0.1:{blob_port}/{ACCOUNT};")


def _create_containers(blob_port: int) -> None:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string(blob_port))
    for name in CONTAINERS:
        try:
            service.create_container(name)
        except ResourceExistsError:
            pass


def settings_for(blob: int, queue: int, table: int) -> dict[str, str]:
    """The values that point the app at this Azurite (environment and local.settings.json)."""
    base = f"http://127.0.0.1:{blob}/{ACCOUNT}"
    return {
        "INGEST_AZURE_STORAGE_CONNECTION_STRING": connection_string(blob),
        "INGEST_CONFIG_URL": f"{base}/config/ingestion_config.xlsx",
        "INGEST_AUDIT_URL": f"{base}/audit",
        "INGEST_DESTINATION": "az://lake",
        "AzureWebJobsStorage": (f"{connection_string(blob)}QueueEndpoint=http://127.0.0.1:{queue}/{ACCOUNT};"
                                f"TableEndpoint=http://127.0.0.1:{table}/{ACCOUNT};"),
    }


def start(blob_port: int | None) -> dict[str, str]:
    stop(quiet=True)
    blob, queue, table = _three_free_ports(blob_port)
    STATE.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [str(_binary()), "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
         "--blobPort", str(blob), "--queuePort", str(queue), "--tablePort", str(table),
         "--location", str(STATE / "data"), "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
        stdout=open(STATE / "azurite.log", "ab"), stderr=subprocess.STDOUT, cwd=STATE, start_new_session=True)
    _wait(blob, process)
    (STATE / "azurite.pid").write_text(str(process.pid))
    _create_containers(blob)
    values = settings_for(blob, queue, table)
    (STATE / "settings.json").write_text(json.dumps(values, indent=2))
    return values


def stop(quiet: bool = False) -> None:
    pid_file = STATE / "azurite.pid"
    if not pid_file.exists():
        if not quiet:
            print("azurite is not running (no .azurite/azurite.pid)")
        return
    try:
        os.killpg(int(pid_file.read_text()), signal.SIGTERM)
    except (ProcessLookupError, ValueError):
        pass
    pid_file.unlink()
    if not quiet:
        print("azurite stopped; its data stays in .azurite/data (delete the folder to start empty)")


def _exports(values: dict[str, str]) -> str:
    return "\n".join(f"export {name}='{value}'" for name, value in values.items() if name != "AzureWebJobsStorage")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop", "env"), nargs="?", default="start",
                        help="env: print the export lines of the running one (eval \"$(make -s azurite-env)\")")
    parser.add_argument("--blob-port", type=int, help="blob port (queue and table: the two after it);"
                        " default 10000 when free, else free ports")
    args = parser.parse_args()
    if args.action == "stop":
        stop()
        return 0
    if args.action == "env":
        if not (STATE / "azurite.pid").exists():
            print("echo 'azurite is not running: make azurite' >&2; false")
            return 1
        print(_exports(json.loads((STATE / "settings.json").read_text())))
        return 0
    values = start(args.blob_port)
    blob = values["INGEST_CONFIG_URL"].split(":")[2].split("/")[0]
    print(f"azurite: blob 127.0.0.1:{blob}, containers {', '.join(CONTAINERS)}; data in {STATE / 'data'}; "
          "stop: make azurite-stop\n")
    print("# for the command line (eval \"$(make -s azurite-env)\" sets them):")
    print(_exports(values))
    print("\n# for `func start`: these values in local.settings.json (copy of local.settings.json.example):")
    print(json.dumps(values, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
