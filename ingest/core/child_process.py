"""What a Python child process of the app needs: to import the same code as its parent, and
to end with it."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def python_environment() -> dict[str, str]:
    """This process's environment with PYTHONPATH set to its import path, so a child started as
    `python -m ingest...` imports the same ingest and packages (the Functions host sets the path
    in-process, not in the environment)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}


def die_with_parent(parent_pid: int) -> None:
    """In a child: the kernel kills it when the process (the runner) or thread (a Functions
    worker's, which waits for it) that started it ends. An orphan would load on unseen, racing
    the next run or attempt on the same pipeline: the lake could get a state committed after the
    next run's check, or the same rows twice. A kill mid-load is what dlt's load packages recover
    from. Linux only (elsewhere nothing is done)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)
