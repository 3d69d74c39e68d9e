"""Start real services for tests and benchmarks: a throwaway PostgreSQL cluster and Azurite.

Both bind to 127.0.0.1 on a free port. Failing to start raises ServiceError: callers let it
fail the run (nothing is skipped when a service is missing)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's published development key (not a secret).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class ServiceError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ServiceError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if candidates:
        return candidates[-1]
    raise ServiceError(f"PostgreSQL's {name} is not installed: run scripts/install_services.sh"
                       " (apt-get install -y postgresql)")


@dataclass
class Postgres:
    port: int
    data_dir: Path
    user: str = "ingest"
    password: str = "ingest-test-pw"
    database: str = "source"
    _as_user: list[str] = field(default_factory=list)

    def url(self, database: str | None = None, password: str | None = None) -> str:
        return (f"postgresql://{self.user}:{password or self.password}@127.0.0.1:{self.port}/"
                f"{database or self.database}")

    _opts: str = ""

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data (for restart tests)."""
        subprocess.run(self._as_user + [_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"],
                       capture_output=True, check=True)

    def start_server(self) -> None:
        subprocess.run(self._as_user + [_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-o", self._opts,
                                        "-l", str(self.data_dir.parent / "log"), "-w", "start"],
                       capture_output=True, check=True)

    def stop(self) -> None:
        subprocess.run(self._as_user + [_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                                        "stop"], capture_output=True)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_postgres(timeout: float = 60) -> Postgres:
    """initdb + pg_ctl on 127.0.0.1; as root, the cluster runs as the `postgres` user."""
    base = Path(tempfile.mkdtemp(prefix="ingest-pg-"))
    data = base / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise ServiceError("running as root and there is no 'postgres' user to run the server")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    pwfile = base / "pw"
    pg = Postgres(port=port, data_dir=base, _as_user=as_user)
    pwfile.write_text(pg.password)
    if as_user:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    init = subprocess.run(as_user + [_pg_bin("initdb"), "-D", str(data), "-U", pg.user, "-A", "scram-sha-256",
                                     f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8"],
                          capture_output=True, text=True)
    if init.returncode != 0:
        raise ServiceError(f"initdb failed: {init.stderr[-2000:]}")
    opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            # logical replication (CDC tests: ingest/sources/postgres_cdc/)
            " -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20")
    start = subprocess.run(as_user + [_pg_bin("pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"),
                                      "-w", "-t", str(int(timeout)), "start"], capture_output=True, text=True)
    if start.returncode != 0:
        log = (base / "log").read_text() if (base / "log").exists() else ""
        raise ServiceError(f"pg_ctl start failed: {start.stderr[-1000:]} {log[-2000:]}")
    pg.data_dir = data
    pg._opts = opts
    _wait_for_port(port, timeout)
    import psycopg2

    con = psycopg2.connect(pg.url("postgres"))
    try:
        con.autocommit = True
        con.cursor().execute(f"CREATE DATABASE {pg.database}")
    finally:
        con.close()
    return pg


@dataclass
class Azurite:
    port: int
    process: subprocess.Popen
    workdir: Path
    persistent: bool = False

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                f"BlobEndpoint=http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT};")

    def stop_server(self) -> None:
        """Stop the process (data survives only for a persistent instance)."""
        self.process.terminate()
        self.process.wait(10)

    def start_server(self, timeout: float = 60) -> None:
        self.process = _spawn_azurite(self.port, self.workdir, self.persistent)
        _wait_for_port(self.port, timeout, self.process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def azurite_binary() -> str:
    local = REPO / ".tools" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    found = shutil.which("azurite-blob")
    if found:
        return found
    raise ServiceError("azurite-blob is not installed: run scripts/install_services.sh"
                       " (npm install azurite into .tools/)")


def _spawn_azurite(port: int, workdir: Path, persistent: bool) -> subprocess.Popen:
    storage = ["--location", str(workdir / "data")] if persistent else ["--inMemoryPersistence"]
    return subprocess.Popen(
        [azurite_binary(), "--blobHost", "127.0.0.1", "--blobPort", str(port), *storage,
         "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent"],
        stdout=subprocess.DEVNULL, stderr=open(workdir / "stderr.log", "ab"), cwd=workdir,
    )


def start_azurite(timeout: float = 60, persistent: bool = False) -> Azurite:
    """Azurite's blob service on a free port; in memory unless `persistent` (restart tests)."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="ingest-azurite-"))  # debug log and cwd
    process = _spawn_azurite(port, workdir, persistent)
    try:
        _wait_for_port(port, timeout, process)
    except ServiceError as exc:
        process.kill()
        stderr = (workdir / "stderr.log").read_text(errors="replace")[-2000:]
        raise ServiceError(f"azurite did not start: {exc}: {stderr}") from None
    return Azurite(port=port, process=process, workdir=workdir, persistent=persistent)
