"""`python -m ingest` and the installed `ingest` command ([project.scripts] in pyproject.toml)."""

import gc
import sys
from typing import NoReturn


def main() -> NoReturn:
    from ingest.cli import main as cli_main

    code = cli_main()
    # The interpreter's last collection at exit would walk every object of every imported module
    # (dlt, sqlalchemy, sqlglot, pyarrow: ~0.4 s of CPU) only to free memory the OS takes back
    # anyway. Frozen, it skips them; atexit handlers (log and telemetry flush) still run.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    main()
