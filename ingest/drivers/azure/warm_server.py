"""`python -m ingest.drivers.azure.warm_server <fd>`: the fork server of warm activity children
(INGEST_ACTIVITY_ISOLATION=warm; ingest/drivers/azure/warm_child.py has the why and the worker's
side). It imports the load modules and runs the local runner's warm-up once, then, for each
request on its control socket (the child's stdin, stdout and stderr, and a status socket, as
SCM_RIGHTS), forks a child that runs ingest/drivers/azure/activity_child.py's main on them; the
status socket gets the child's pid, then its exit code. Single-threaded: nothing runs beside
the fork. When the worker's end of the control socket closes, it kills its children and ends.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys

from ingest.drivers.azure.warm_child import PID_BYTES


def serve(control: socket.socket) -> None:
    """Warm up, then fork a child per request until the worker closes the control socket."""
    _warm_up()
    children: dict[int, socket.socket] = {}
    try:
        while True:
            ready, _, _ = select.select([control], [], [], 0.05)
            _reap(children)
            if not ready:
                continue
            try:
                message, fds, _flags, _address = socket.recv_fds(control, 16, 4)
            except OSError:
                message, fds = b"", []
            if not message or len(fds) != 4:
                for fd in fds:
                    os.close(fd)
                if not message:
                    return  # the worker is gone: its children go too (finally)
                continue
            _fork_child(fds, control, children)
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        for pid in children:
            os.waitpid(pid, 0)


def _fork_child(fds: list[int], control: socket.socket, children: dict[int, socket.socket]) -> None:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            control.close()
            for status in children.values():
                status.close()
            for target, fd in enumerate(fds[:3]):
                os.dup2(fd, target)
            for fd in fds:
                os.close(fd)
            from ingest.drivers.azure.activity_child import main

            code = main()
        except BaseException:  # its last words go to its stderr, which the worker reads
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)
    for fd in fds[:3]:
        os.close(fd)
    status = socket.socket(fileno=fds[3])
    status.sendall(pid.to_bytes(PID_BYTES, "big", signed=True))
    children[pid] = status


def _reap(children: dict[int, socket.socket]) -> None:
    for pid in list(children):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            sock = children.pop(pid)
            try:
                sock.sendall(os.waitstatus_to_exitcode(status).to_bytes(PID_BYTES, "big", signed=True))
            except OSError:
                pass
            sock.close()


def _warm_up() -> None:
    """What every child would import and fill on its first load, done once here."""
    from ingest.lake.dlt_defaults import apply_dlt_defaults

    apply_dlt_defaults()
    import ingest.drivers.azure.activities  # noqa: F401  (the load modules, dlt, the Azure SDK)
    import ingest.drivers.azure.activity_child  # noqa: F401
    import ingest.drivers.chunks.tasks  # noqa: F401
    from ingest.drivers.local.warm_up import warm_up

    warm_up()


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
