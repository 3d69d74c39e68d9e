"""What a Python child process of the app needs to import the same code as its parent."""

from __future__ import annotations

import os
import sys


def python_environment() -> dict[str, str]:
    """This process's environment with PYTHONPATH set to its import path, so a child started as
    `python -m ingest...` imports the same ingest and packages (the Functions host sets the path
    in-process, not in the environment)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
