"""Warm activity children (INGEST_ACTIVITY_ISOLATION=warm): the worker's side of a fork server
started once per worker (the server itself: ingest/drivers/azure/warm_server.py).

A fresh child (ingest/drivers/azure/isolation.py) pays ~1.7 s of CPU importing dlt, pyarrow,
the SQL drivers and the Azure SDK before its load starts. Here one server process, started like
a fresh child (fork + exec of warm_server.py: never a fork of the worker), imports them and runs
the local runner's warm-up (ingest/drivers/local/warm_up.py) once; each activity's child is
then forked from it, single-threaded, in a few milliseconds, already warm: the local runner's
own pattern. The worker hands the server the child's stdin, stdout and stderr (file descriptors
over a Unix socket, SCM_RIGHTS) and a socket on which the server answers the child's pid and,
when it ends, its exit code (negative: the signal); the rest is isolation.py's protocol.

The server lives as long as the worker: when the worker's end of the control socket closes (the
worker died), it kills its children and exits; each child dies with the server
(PR_SET_PDEATHSIG, ingest/core/child_process.die_with_parent). A server started under other environment
variables (the import path is one of them: PYTHONPATH) or another command is retired (it ends
when its last child has) and a new one started: its children would load with stale settings
(tests change them; a Function App restarts its worker when they change).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
from typing import BinaryIO

SERVER_MODULE = "ingest.drivers.azure.warm_server"
PID_BYTES = 4  # bytes of a pid or an exit code on a child's status socket


class WarmChild:
    """A child forked by the server, with the part of subprocess.Popen that isolation.py uses."""

    def __init__(self, server: "WarmServer", pid: int, status: socket.socket, stdin: BinaryIO,
                 stdout: BinaryIO) -> None:
        self.server, self.pid, self.status = server, pid, status
        self.stdin, self.stdout = stdin, stdout
        self.returncode: int | None = None
        self._ended = False

    def wait(self) -> int | None:
        """Its exit code from the server; None when the server died first (the child with it)."""
        if not self._ended:
            answer = _receive(self.status, PID_BYTES)
            self.returncode = None if answer is None else int.from_bytes(answer, "big", signed=True)
            self._ended = True
            self.status.close()
            self.stdout.close()
            self.server.child_ended()
        return self.returncode

    def poll(self) -> int | None:
        return self.returncode if self._ended else None

    def kill(self) -> None:
        if not self._ended and self.pid > 0:  # never os.kill(-1): that is every process we may signal
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class WarmServer:
    """The worker's handle on one server process."""

    _lock = threading.Lock()
    _current: "WarmServer | None" = None

    def __init__(self, environment: dict[str, str]) -> None:
        self.key = _key(environment)
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen([*server_command(), str(theirs.fileno())],
                                        pass_fds=[theirs.fileno()], env=environment, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL)
        theirs.close()
        self.in_flight, self.retired = 0, False

    @classmethod
    def for_environment(cls, environment: dict[str, str], fresh: bool = False) -> "WarmServer":
        """The running server when it was started under `environment` and lives; else (or when
        `fresh`) a new one."""
        with cls._lock:
            current = cls._current
            if (fresh or current is None or current.key != _key(environment)
                    or current.process.poll() is not None):
                if current is not None:
                    current.retire()
                cls._current = current = cls(environment)
            current.in_flight += 1
            return current

    def fork(self, stderr_fd: int) -> WarmChild:
        """A child of the server, with a fresh stdin and stdout pipe and `stderr_fd` as its stderr."""
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(self.control, [b"fork"], [stdin_read, stdout_write, stderr_fd, theirs.fileno()])
        except OSError:
            for fd in (stdin_write, stdout_read):
                os.close(fd)
            ours.close()
            self.child_ended()
            raise
        finally:
            for fd in (stdin_read, stdout_write):
                os.close(fd)
            theirs.close()
        pid = _receive(ours, PID_BYTES)
        if pid is None:  # the server ended before it forked: no child (isolation.py starts a new server)
            for fd in (stdin_write, stdout_read):
                os.close(fd)
            ours.close()
            self.child_ended()
            raise OSError("the warm server answered no child pid")
        return WarmChild(self, int.from_bytes(pid, "big", signed=True), ours,
                         os.fdopen(stdin_write, "wb"), os.fdopen(stdout_read, "rb"))

    def child_ended(self) -> None:
        with self._lock:
            self.in_flight -= 1
            if self.retired and self.in_flight <= 0:
                self.control.close()

    def retire(self) -> None:
        """No new children; the server ends (closed control) once its last child has."""
        self.retired = True
        if self.in_flight <= 0:
            self.control.close()


def server_command() -> list[str]:
    """The server's command line, its control socket's fd appended (a test puts a
    fault-injecting script in its place)."""
    return [sys.executable, "-m", SERVER_MODULE]


def _key(environment: dict[str, str]) -> str:
    text = repr((sorted(environment.items()), server_command()))
    return hashlib.sha256(text.encode()).hexdigest()


def _receive(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            part = sock.recv(size - len(data))
        except OSError:
            return None
        if not part:
            return None
        data += part
    return data
